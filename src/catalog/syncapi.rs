//! What the sync needs beyond the file operations: batch upserts of Flickr's
//! state (photos, sets, pools, memberships), recording uploads and
//! downloads, the merge base of the last sync, the journal, and the status
//! problems. Batches run in one transaction each.

use std::collections::HashMap;
use std::path::Path;

use crate::media::FileFacts;
use crate::model::SetId;

use super::error::Result;
use super::types::*;
use super::Catalog;

impl Catalog {
    /// Inserts or updates Flickr photos by id, in one transaction. Existing
    /// photos get their remote side updated (their local meta is left to the
    /// sync's merge); new ones become remote-only photos whose local meta is
    /// the remote values, listed in the root until put in sets. Returns the
    /// keys in input order.
    pub fn upsert_remote_photos(
        &self,
        account: AccountId,
        photos: &[RemotePhoto],
    ) -> Result<Vec<PhotoKey>> {
        let _ = (account, photos);
        todo!()
    }

    /// Inserts or updates Flickr photosets by id (title, description,
    /// primary); a set created locally and recorded with
    /// [`Catalog::record_set_created`] matches by id. Returns keys in order.
    pub fn upsert_remote_sets(
        &self,
        account: AccountId,
        sets: &[RemoteSet],
    ) -> Result<Vec<CollectionId>> {
        let _ = (account, sets);
        todo!()
    }

    /// Inserts or updates the account's group pools by id.
    pub fn upsert_pools(
        &self,
        account: AccountId,
        pools: &[RemotePool],
    ) -> Result<Vec<CollectionId>> {
        let _ = (account, pools);
        todo!()
    }

    /// Makes `photos` the exact member list of a set or pool (e.g. Flickr's
    /// state after a merge), naming new entries after their titles and
    /// keeping the root invariant. One transaction.
    pub fn replace_members(&self, collection: CollectionId, photos: &[PhotoKey]) -> Result<()> {
        let _ = (collection, photos);
        todo!()
    }

    /// Applies membership additions/removals in one transaction, keeping the
    /// root invariant. Adding an existing membership or removing an absent
    /// one is a no-op.
    pub fn apply_memberships(&self, changes: &[MembershipChange]) -> Result<()> {
        let _ = changes;
        todo!()
    }

    /// After an upload: `photo` is now on Flickr as `remote`. `Exists` if
    /// another photo of the account already has that id.
    pub fn record_upload(&self, photo: PhotoKey, remote: &RemotePhoto) -> Result<()> {
        let _ = (photo, remote);
        todo!()
    }

    /// Updates only the remote side of a photo (after a metadata push or a fetch).
    pub fn set_remote(&self, photo: PhotoKey, remote: &RemotePhoto) -> Result<()> {
        let _ = (photo, remote);
        todo!()
    }

    /// Replaces a photo's local meta (the sync's merge result).
    pub fn set_meta(&self, photo: PhotoKey, meta: &LocalMeta) -> Result<()> {
        let _ = (photo, meta);
        todo!()
    }

    /// After a download or identification: `path` is `photo`'s backing file.
    pub fn set_local_file(&self, photo: PhotoKey, path: &Path, facts: &FileFacts) -> Result<()> {
        let _ = (photo, path, facts);
        todo!()
    }

    /// Identification of a local-only photo as a remote one: `keep` takes
    /// `absorb`'s local file (if it has none) and memberships; `absorb`
    /// leaves the catalog. Root invariant kept.
    pub fn merge_photos(&self, keep: PhotoKey, absorb: PhotoKey) -> Result<()> {
        let _ = (keep, absorb);
        todo!()
    }

    /// A pending set was created online with id `id`.
    pub fn record_set_created(&self, collection: CollectionId, id: &SetId) -> Result<()> {
        let _ = (collection, id);
        todo!()
    }

    /// Sets pending deletion online.
    pub fn pending_set_deletions(&self, account: AccountId) -> Result<Vec<Collection>> {
        let _ = account;
        todo!()
    }

    /// Removes a collection row for good (a set deleted online, a pool the
    /// account left). Its memberships go; the root invariant is kept.
    pub fn forget_collection(&self, collection: CollectionId) -> Result<()> {
        let _ = collection;
        todo!()
    }

    /// The title both sides agreed for a set at the last sync.
    pub fn set_synced_title(&self, collection: CollectionId, title: Option<&str>) -> Result<()> {
        let _ = (collection, title);
        todo!()
    }

    /// The merge base of one photo (`None` if never synced).
    pub fn synced_base(&self, photo: PhotoKey) -> Result<Option<SyncedBase>> {
        let _ = photo;
        todo!()
    }

    /// The merge bases of every photo of the account.
    pub fn synced_bases(&self, account: AccountId) -> Result<HashMap<PhotoKey, SyncedBase>> {
        let _ = account;
        todo!()
    }

    /// Records merge bases in one transaction.
    pub fn set_synced_bases(&self, bases: &[(PhotoKey, SyncedBase)]) -> Result<()> {
        let _ = bases;
        todo!()
    }

    /// Journals an intent before acting; returns its id.
    pub fn journal_begin(&self, account: AccountId, intent: &Intent) -> Result<JournalId> {
        let _ = (account, intent);
        todo!()
    }

    /// Closes an intent after the action succeeded.
    pub fn journal_finish(&self, id: JournalId) -> Result<()> {
        let _ = id;
        todo!()
    }

    /// Intents begun and never finished (to resume after a crash), oldest first.
    pub fn journal_open(&self, account: AccountId) -> Result<Vec<JournalEntry>> {
        let _ = account;
        todo!()
    }

    /// The last `limit` journal rows, newest first.
    pub fn journal_recent(&self, account: AccountId, limit: u32) -> Result<Vec<JournalEntry>> {
        let _ = (account, limit);
        todo!()
    }

    /// Deletes finished journal rows older than `before` (Unix seconds).
    pub fn journal_prune(&self, before: i64) -> Result<u64> {
        let _ = before;
        todo!()
    }

    /// Records a problem for the status. One row per (photo, kind): a new
    /// message replaces the old one.
    pub fn add_problem(
        &self,
        account: AccountId,
        photo: Option<PhotoKey>,
        kind: ProblemKind,
        message: &str,
    ) -> Result<ProblemId> {
        let _ = (account, photo, kind, message);
        todo!()
    }

    /// Clears problems of an account, optionally only one photo's and/or one kind.
    pub fn clear_problems(
        &self,
        account: AccountId,
        photo: Option<PhotoKey>,
        kind: Option<ProblemKind>,
    ) -> Result<u64> {
        let _ = (account, photo, kind);
        todo!()
    }

    /// Problems of one account or all, newest first.
    pub fn problems(&self, account: Option<AccountId>) -> Result<Vec<Problem>> {
        let _ = account;
        todo!()
    }
}
