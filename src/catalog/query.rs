//! Reads: accounts, collections, entries (folder listings, lookups), photos.
//! Also account registration.

use std::path::Path;

use crate::media::Checksum;
use crate::model::{Nsid, PhotoId, SetId};

use super::error::Result;
use super::names::EntryName;
use super::types::*;
use super::Catalog;

impl Catalog {
    /// Registers an account, or updates the username, folder name and default
    /// folder of the account with this nsid. Creates its root collection.
    pub fn add_account(
        &self,
        nsid: &Nsid,
        username: &str,
        collection_name: &str,
        default_folder: &Path,
    ) -> Result<Account> {
        let _ = (nsid, username, collection_name, default_folder);
        todo!()
    }

    /// All accounts, by collection name.
    pub fn accounts(&self) -> Result<Vec<Account>> {
        todo!()
    }

    /// One account (`NotFound` if absent).
    pub fn account(&self, id: AccountId) -> Result<Account> {
        let _ = id;
        todo!()
    }

    pub fn account_by_nsid(&self, nsid: &Nsid) -> Result<Option<Account>> {
        let _ = nsid;
        todo!()
    }

    /// The account whose folder in the mount is called `name`.
    pub fn account_by_name(&self, name: &EntryName) -> Result<Option<Account>> {
        let _ = name;
        todo!()
    }

    /// Stores Flickr's `lastupdate` high-water mark for incremental fetches.
    pub fn set_sync_cursor(&self, account: AccountId, cursor: Option<i64>) -> Result<()> {
        let _ = (account, cursor);
        todo!()
    }

    /// One collection (`NotFound` if absent).
    pub fn collection(&self, id: CollectionId) -> Result<Collection> {
        let _ = id;
        todo!()
    }

    /// The photosets listed in the mount (not those pending deletion), by name.
    pub fn sets(&self, account: AccountId) -> Result<Vec<Collection>> {
        let _ = account;
        todo!()
    }

    /// The group pools of the account, by name.
    pub fn pools(&self, account: AccountId) -> Result<Vec<Collection>> {
        let _ = account;
        todo!()
    }

    /// Every collection of the account, including sets pending deletion.
    pub fn collections(&self, account: AccountId) -> Result<Vec<Collection>> {
        let _ = account;
        todo!()
    }

    /// The listed photoset whose folder is called `name`.
    pub fn lookup_set(&self, account: AccountId, name: &EntryName) -> Result<Option<Collection>> {
        let _ = (account, name);
        todo!()
    }

    /// The pool whose folder (under `Pools/`) is called `name`.
    pub fn lookup_pool(&self, account: AccountId, name: &EntryName) -> Result<Option<Collection>> {
        let _ = (account, name);
        todo!()
    }

    /// The photoset with this Flickr id (even if pending deletion).
    pub fn set_by_remote_id(&self, account: AccountId, id: &SetId) -> Result<Option<Collection>> {
        let _ = (account, id);
        todo!()
    }

    /// A folder's entries, by name: one indexed query.
    pub fn list(&self, collection: CollectionId) -> Result<Vec<Entry>> {
        let _ = collection;
        todo!()
    }

    /// Number of entries listed in a folder.
    pub fn count_entries(&self, collection: CollectionId) -> Result<u64> {
        let _ = collection;
        todo!()
    }

    /// The entry called `name` in a folder.
    pub fn lookup(&self, collection: CollectionId, name: &EntryName) -> Result<Option<Entry>> {
        let _ = (collection, name);
        todo!()
    }

    /// Every name of a photo in every folder.
    pub fn entries_of(&self, photo: PhotoKey) -> Result<Vec<Entry>> {
        let _ = photo;
        todo!()
    }

    /// The collections a photo is a member of (root included when listed there).
    pub fn memberships(&self, photo: PhotoKey) -> Result<Vec<CollectionId>> {
        let _ = photo;
        todo!()
    }

    /// One photo (`NotFound` if absent).
    pub fn photo(&self, key: PhotoKey) -> Result<Photo> {
        let _ = key;
        todo!()
    }

    /// Every photo of an account (ignored ones included), by key.
    pub fn photos(&self, account: AccountId) -> Result<Vec<Photo>> {
        let _ = account;
        todo!()
    }

    pub fn photo_by_remote_id(&self, account: AccountId, id: &PhotoId) -> Result<Option<Photo>> {
        let _ = (account, id);
        todo!()
    }

    /// Photos of the account whose local file has this checksum.
    pub fn photos_by_checksum(
        &self,
        account: AccountId,
        checksum: &Checksum,
    ) -> Result<Vec<PhotoKey>> {
        let _ = (account, checksum);
        todo!()
    }

    /// Photos whose backing file is marked missing.
    pub fn missing_photos(&self, account: AccountId) -> Result<Vec<Photo>> {
        let _ = account;
        todo!()
    }

    /// Ignored photos (restorable with [`Catalog::unignore`]).
    pub fn ignored(&self, account: AccountId) -> Result<Vec<Photo>> {
        let _ = account;
        todo!()
    }
}
