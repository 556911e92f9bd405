//! What each file operation of the mount means, as catalog operations:
//! add/create/finish a file, link, rename/move, unlink, mkdir/rmdir/rename of
//! a set folder, ignore/unignore, missing/found backing files.
//!
//! Every operation runs in one short `IMMEDIATE` transaction, keeps the root
//! invariant, bumps the generation, and never deletes a file.

use std::path::{Path, PathBuf};

use crate::media::FileFacts;
use crate::model::PhotoId;

use super::error::Result;
use super::names::EntryName;
use super::types::*;
use super::Catalog;

/// What [`Catalog::finish_write`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The photo's own facts (size, checksum, kind, EXIF) were updated.
    Updated { photo: PhotoKey },
    /// The written content was already a photo of the account: the entries
    /// of `from` now refer to `into` and `from` left the catalog. `redundant`
    /// is the file the caller wrote when `into` kept its own backing file
    /// (the catalog never deletes it). `dropped` lists account-folder names
    /// that were not kept because `into` is in photosets.
    Merged {
        from: PhotoKey,
        into: PhotoKey,
        redundant: Option<PathBuf>,
        dropped: Vec<EntryName>,
    },
}

impl Catalog {
    /// A complete file appears in a folder: bytes the mount already wrote to
    /// `path` in the default folder, or the target of `ln -s`. `facts` are
    /// computed when `None`. Same content as a photo of the account → a new
    /// membership of that photo ([`AddOutcome::SamePhoto`]); otherwise a new
    /// local photo titled after the name. Junk names are never uploaded;
    /// non-media files are listed as not uploadable. `Exists` if the name is
    /// taken. Allowed in pools (the photo also shows in the root while it is
    /// in no set). In the account folder, content that belongs to a photo in
    /// sets gives [`AddOutcome::AlreadyInSets`] (no entry is kept).
    pub fn add_file(
        &self,
        collection: CollectionId,
        name: &EntryName,
        path: &Path,
        facts: Option<FileFacts>,
    ) -> Result<AddOutcome> {
        let _ = (collection, name, path, facts);
        todo!()
    }

    /// `create`: registers an entry whose bytes are being written to `path`
    /// (a zero-byte, in-progress photo, [`LocalFile::writing`]). Call
    /// [`Catalog::finish_write`] on `release`/`fsync`, and again after any
    /// later rewrite.
    pub fn create_entry(
        &self,
        collection: CollectionId,
        name: &EntryName,
        path: &Path,
    ) -> Result<Entry> {
        let _ = (collection, name, path);
        todo!()
    }

    /// The bytes of `photo`'s backing file are complete (release/fsync after
    /// writes, or a truncate): records size, mtime, checksum, kind and EXIF
    /// (`facts`, computed when `None`). A new local-only photo whose content
    /// already exists in the account is merged into that photo.
    pub fn finish_write(&self, photo: PhotoKey, facts: Option<FileFacts>) -> Result<WriteOutcome> {
        let _ = (photo, facts);
        todo!()
    }

    /// Hard link (or a copy of an entry into another folder): the same photo
    /// in one more folder. Into the account folder: `NotPermitted` when the
    /// photo is in a set (the root lists photos in no set), another name
    /// otherwise. `Exists` if `dst_name` is taken.
    pub fn link(
        &self,
        src: CollectionId,
        src_name: &EntryName,
        dst: CollectionId,
        dst_name: &EntryName,
    ) -> Result<Entry> {
        let _ = (src, src_name, dst, dst_name);
        todo!()
    }

    /// Rename/move an entry. Within a folder: a new name and title. Set →
    /// set: reassign (no re-upload). To the account folder: removed from all
    /// sets. Into a pool: added to the pool. Between accounts:
    /// `CrossAccount` (EXDEV). An existing destination is replaced as
    /// `rename(2)` does: a fresh local-only source (an editor's temp file)
    /// gives its content to the destination photo; otherwise the destination
    /// is unlinked first (with [`Catalog::unlink`]'s meaning). Returns the
    /// destination entry (in the root for a move into a pool of a photo in no
    /// set, the entry stays listed in the root too).
    pub fn rename(
        &self,
        src: CollectionId,
        src_name: &EntryName,
        dst: CollectionId,
        dst_name: &EntryName,
    ) -> Result<Entry> {
        let _ = (src, src_name, dst, dst_name);
        todo!()
    }

    /// Delete an entry. In a set or pool: removed from it only (listed in the
    /// root if no set is left). In the account folder: a local-only photo
    /// leaves the catalog (the file stays), a photo on Flickr becomes ignored.
    pub fn unlink(&self, collection: CollectionId, name: &EntryName) -> Result<UnlinkOutcome> {
        let _ = (collection, name);
        todo!()
    }

    /// `mkdir` under an account: a new photoset, pending until the next sync
    /// creates it online with its first photo as primary. `Exists` if a set,
    /// entry or `Pools` has that name.
    pub fn mkdir(&self, account: AccountId, name: &EntryName) -> Result<Collection> {
        let _ = (account, name);
        todo!()
    }

    /// `rmdir` of a photoset: `NotEmpty` if it lists photos; a pending set is
    /// dropped, a set on Flickr is deleted online at the next sync. Root and
    /// pools: `NotPermitted`.
    pub fn rmdir(&self, collection: CollectionId) -> Result<RmdirOutcome> {
        let _ = collection;
        todo!()
    }

    /// Rename a set folder: the set's new title (pushed at the next sync).
    pub fn rename_set(&self, collection: CollectionId, new_name: &EntryName) -> Result<Collection> {
        let _ = (collection, new_name);
        todo!()
    }

    /// Mark a photo ignored (never downloaded again, not listed).
    pub fn ignore(&self, photo: PhotoKey) -> Result<()> {
        let _ = photo;
        todo!()
    }

    /// Restore an ignored photo: listed again (in the root when in no set).
    pub fn unignore(&self, account: AccountId, id: &PhotoId) -> Result<Photo> {
        let _ = (account, id);
        todo!()
    }

    /// The backing file of `photo` is gone: flagged missing, with a status
    /// problem. Reads give EIO; nothing else changes.
    pub fn mark_missing(&self, photo: PhotoKey) -> Result<()> {
        let _ = photo;
        todo!()
    }

    /// The backing file of `photo` is (again) at `path`: clears the missing
    /// flag and its problem, records the facts.
    pub fn mark_found(&self, photo: PhotoKey, path: &Path, facts: Option<FileFacts>) -> Result<()> {
        let _ = (photo, path, facts);
        todo!()
    }

    /// Relocate by checksum: if a photo of the account has this file's
    /// content and its own file is missing (or it has none), `path` becomes
    /// its backing file. Returns the photo found.
    pub fn relocate(
        &self,
        account: AccountId,
        path: &Path,
        facts: Option<FileFacts>,
    ) -> Result<Option<PhotoKey>> {
        let _ = (account, path, facts);
        todo!()
    }

    /// Stats `photo`'s backing file: marks it missing or found, and re-scans
    /// it when its size or mtime changed outside the mount. Returns the
    /// photo's state afterwards.
    pub fn refresh_local(&self, photo: PhotoKey) -> Result<PhotoState> {
        let _ = photo;
        todo!()
    }
}
