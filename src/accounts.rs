//! Accounts: the credential store and the OAuth dance (being written on branch `client`).
