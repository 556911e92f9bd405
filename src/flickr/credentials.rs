//! The key pairs OAuth needs: the application's API key and secret, the
//! temporary request token of the authorisation dance, and an account's
//! access token.
//!
//! Their `Debug` and `Display` never show a secret or a token, so they can be
//! logged or printed by mistake without leaking anything.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The application's consumer key pair (Flickr calls the key `api_key`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCredentials {
    pub key: String,
    pub secret: String,
}

/// The name the coordination contract uses for [`ApiCredentials`].
pub type Credentials = ApiCredentials;

impl ApiCredentials {
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            secret: secret.into(),
        }
    }
}

impl fmt::Debug for ApiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiCredentials")
            .field("key", &self.key)
            .field("secret", &Redacted)
            .finish()
    }
}

impl fmt::Display for ApiCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "API key {} (secret redacted)", self.key)
    }
}

/// An account's OAuth access token: what signs every call made for it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessToken {
    pub token: String,
    pub secret: String,
}

impl AccessToken {
    pub fn new(token: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            secret: secret.into(),
        }
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &Redacted)
            .field("secret", &Redacted)
            .finish()
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("access token (redacted)")
    }
}

/// The temporary token of the first OAuth step, exchanged for an
/// [`AccessToken`] once the user has approved it.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestToken {
    pub token: String,
    pub secret: String,
    /// `oauth_callback_confirmed=true` in Flickr's reply.
    pub callback_confirmed: bool,
}

impl fmt::Debug for RequestToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestToken")
            .field("token", &Redacted)
            .field("secret", &Redacted)
            .field("callback_confirmed", &self.callback_confirmed)
            .finish()
    }
}

/// Stands for a secret in `Debug` output.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_secrets() {
        let api = ApiCredentials::new("the-key", "api-secret-xyz");
        let tok = AccessToken::new("tok-123456", "tok-secret-abc");
        let req = RequestToken {
            token: "req-tok-999".into(),
            secret: "req-secret-777".into(),
            callback_confirmed: true,
        };
        let shown = format!("{api:?} {api} {tok:?} {tok} {req:?} {:#?}", (&api, &tok));
        for secret in [
            "api-secret-xyz",
            "tok-123456",
            "tok-secret-abc",
            "req-tok-999",
            "req-secret-777",
        ] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
        assert!(shown.contains("the-key"));
        assert!(shown.contains("<redacted>"));
    }
}
