//! What each file operation of the mount means, as catalog operations:
//! add/create/finish a file, link, rename/move, unlink, mkdir/rmdir/rename of
//! a set folder, ignore/unignore, missing/found backing files.
//!
//! Every operation runs in one short `IMMEDIATE` transaction, keeps the root
//! invariant, bumps the generation, and never deletes a file.

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};

use crate::media::{is_junk_name, FileFacts};
use crate::model::PhotoId;

use super::error::{CatalogError, Result};
use super::handle::Catalog;
use super::names::{self, EntryName};
use super::store::*;
use super::types::*;

/// What [`Catalog::finish_write`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The photo's own facts (size, checksum, kind, EXIF) were updated.
    Updated { photo: PhotoKey },
    /// The written content was already a photo of the account: the entries
    /// of `from` now refer to `into` and `from` left the catalog. `remove`
    /// is the copy this write made ([`Written::NewFile`], an own file),
    /// which nothing refers to now that `into` kept its own backing file:
    /// the mount deletes it. A file changed in place stays. `dropped` lists
    /// account-folder names that were not kept because `into` is in
    /// photosets.
    Merged {
        from: PhotoKey,
        into: PhotoKey,
        remove: Option<PathBuf>,
        dropped: Vec<EntryName>,
    },
}

/// How the bytes [`Catalog::finish_write`] finishes were written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    /// Into a new file the mount made for this write (a `create`, or the
    /// copy a first change of someone else's file made).
    NewFile,
    /// Into the photo's existing file, in place.
    InPlace,
}

impl Catalog {
    /// A complete file appears in a folder: bytes the mount already wrote to
    /// `path` in the default folder, or the target of `ln -s`. `facts` are
    /// computed when `None`. Same content as a photo of the account → a new
    /// membership of that photo ([`AddOutcome::SamePhoto`]); otherwise a new
    /// local photo titled after the name. Junk names are never uploaded;
    /// non-media files are listed as not uploadable. `Exists` if the name is
    /// taken. Allowed in pools. In the account folder, content that belongs
    /// to a photo in sets or pools gives [`AddOutcome::AlreadyInSets`] (no
    /// entry is kept).
    pub fn add_file(
        &self,
        collection: CollectionId,
        name: &EntryName,
        path: &Path,
        facts: Option<FileFacts>,
    ) -> Result<AddOutcome> {
        let path = absolute(path)?;
        let facts = match facts {
            Some(f) => f,
            None => FileFacts::scan(&path)?,
        };
        self.write("adding a file", |tx| {
            let coll = load_listed_collection(tx, collection)?;
            ensure_free(tx, &coll, name)?;
            let junk = is_junk_name(name.as_str());
            if let Some(target) = dedup_candidate(tx, coll.account, &facts, junk, None)? {
                return attach_same(tx, &coll, name, target, &path, &facts);
            }
            let key = insert_local_photo(tx, coll.account, name, &path, &facts, junk, false)?;
            insert_membership(tx, coll.id, name, key)?;
            fix_root(tx, key, None)?;
            note_uploadability(tx, key)?;
            Ok(AddOutcome::NewPhoto(require_entry(tx, &coll, name)?))
        })
    }

    /// `create`: registers an entry whose bytes are being written to `path`,
    /// a new file the mount made (an own file, see [`Catalog::is_own_file`]):
    /// a zero-byte, in-progress photo ([`LocalFile::writing`]). Call
    /// [`Catalog::finish_write`] on `release`/`fsync`, and again after any
    /// later rewrite. `Exists` if the name is taken.
    pub fn create_entry(
        &self,
        collection: CollectionId,
        name: &EntryName,
        path: &Path,
    ) -> Result<Entry> {
        let path = absolute(path)?;
        self.write("creating a file", |tx| {
            let coll = load_listed_collection(tx, collection)?;
            ensure_free(tx, &coll, name)?;
            let junk = is_junk_name(name.as_str());
            let facts = FileFacts {
                size: 0,
                mtime_ns: now_ns(),
                checksum: crate::media::Checksum(crate::media::Checksum::EMPTY.to_string()),
                kind: crate::media::MediaKind::Unknown,
                exif: Default::default(),
            };
            let key = insert_local_photo(tx, coll.account, name, &path, &facts, junk, true)?;
            tx.exec("UPDATE photos SET checksum = NULL WHERE id = ?1", [key.0])
                .ctx("creating a file")?;
            own_file(tx, &path)?;
            insert_membership(tx, coll.id, name, key)?;
            fix_root(tx, key, None)?;
            require_entry(tx, &coll, name)
        })
    }

    /// The bytes of `photo`'s backing file are complete (release/fsync after
    /// writes, or a truncate): records size, mtime, checksum, kind and EXIF
    /// (`facts`, computed when `None`). A local-only photo whose content
    /// already exists in the account is merged into that photo; the copy
    /// this write made then goes ([`WriteOutcome::Merged`]'s `remove`).
    pub fn finish_write(
        &self,
        photo: PhotoKey,
        facts: Option<FileFacts>,
        written: Written,
    ) -> Result<WriteOutcome> {
        let p = self.photo(photo)?;
        let Some(local) = p.local else {
            return Err(CatalogError::NotPermitted(format!(
                "photo '{}' has no local file to finish",
                p.meta.title
            )));
        };
        let facts = match facts {
            Some(f) => f,
            None => FileFacts::scan(&local.path)?,
        };
        self.write("finishing a written file", |tx| {
            let p = load_photo(tx, photo)?;
            set_local_cols(tx, photo, &local.path, &facts, false)?;
            clear_problem(tx, photo, ProblemKind::MissingFile)?;
            clear_problem(tx, photo, ProblemKind::Incomplete)?;
            if p.remote.is_none() {
                if let Some(into) = dedup_candidate(tx, p.account, &facts, p.junk, Some(photo))? {
                    let (redundant, dropped) = merge_into(tx, photo, into)?;
                    let remove = match redundant {
                        Some(r) if written == Written::NewFile && r == local.path => {
                            release_own_file(tx, &r)?
                        }
                        _ => None,
                    };
                    return Ok(WriteOutcome::Merged {
                        from: photo,
                        into,
                        remove,
                        dropped,
                    });
                }
            }
            note_uploadability(tx, photo)?;
            tx.touch_photo(photo)?;
            Ok(WriteOutcome::Updated { photo })
        })
    }

    /// The bytes written are durable at `path`, the copy a first change of
    /// someone else's file made in the default folder (an own file from
    /// now on), and their `facts` are recorded; the photo stays
    /// [`LocalFile::writing`] (never uploaded) until
    /// [`Catalog::finish_write`].
    pub fn record_written(&self, photo: PhotoKey, path: &Path, facts: &FileFacts) -> Result<()> {
        let path = absolute(path)?;
        self.write("recording written bytes", |tx| {
            load_photo(tx, photo)?;
            own_file(tx, &path)?;
            set_local_cols(tx, photo, &path, facts, true)?;
            clear_problem(tx, photo, ProblemKind::MissingFile)?;
            tx.touch_photo(photo)
        })
    }

    /// Whether `photo` is a finished copy the mount wrote that may become a
    /// reference to a library file (SEMANTICS.md, "Copies and
    /// references"): a local-only media photo, not junk, not being
    /// written, whose file is one of the mount's own. Its account and file
    /// when it is; the caller looks for the original and then calls
    /// [`Catalog::adopt_original`].
    pub fn reference_candidate(&self, photo: PhotoKey) -> Result<Option<(AccountId, LocalFile)>> {
        let p = self.photo(photo)?;
        let Some(local) = p.local else {
            return Ok(None);
        };
        if p.remote.is_some()
            || p.junk
            || local.writing
            || local.checksum.is_none()
            || !local.kind.is_media()
            || !self.is_own_file(&local.path)?
        {
            return Ok(None);
        }
        Ok(Some((p.account, local)))
    }

    /// The bytes of `photo`'s file `copy` (a file the mount wrote) are
    /// those of `original`, a user's file under a library folder: the photo
    /// refers to the original from now on, as after `ln -s`, and the copy
    /// is returned to be deleted (`None`, and nothing changes, when the
    /// photo's file is no longer `copy`). `original_mtime_ns`: its mtime,
    /// read by the caller.
    pub fn adopt_original(
        &self,
        photo: PhotoKey,
        copy: &Path,
        original: &Path,
        original_mtime_ns: i64,
    ) -> Result<Option<PathBuf>> {
        let original = absolute(original)?;
        self.write("referring to the original", |tx| {
            let n = tx
                .execute(
                    "UPDATE photos SET path = ?3, mtime_ns = ?4 \
                     WHERE id = ?1 AND path = ?2 AND writing = 0",
                    params![
                        photo.0,
                        path_blob(copy),
                        path_blob(&original),
                        original_mtime_ns
                    ],
                )
                .ctx("referring to the original")?;
            if n == 0 {
                return Ok(None);
            }
            tx.touch_photo(photo)?;
            release_own_file(tx, copy)
        })
    }

    /// A write through the mount failed (e.g. `ENOSPC`): the photo stays
    /// [`LocalFile::writing`], so it is never uploaded, and the status says
    /// so. What reached the disk (`facts`, when known) is recorded; the
    /// bytes stay where they are.
    pub fn mark_incomplete(
        &self,
        photo: PhotoKey,
        facts: Option<&FileFacts>,
        why: &str,
    ) -> Result<()> {
        self.write("marking a file incomplete", |tx| {
            let p = load_photo(tx, photo)?;
            let Some(local) = &p.local else {
                return Ok(());
            };
            match facts {
                Some(f) => set_local_cols(tx, photo, &local.path, f, true)?,
                None => {
                    tx.exec("UPDATE photos SET writing = 1 WHERE id = ?1", [photo.0])
                        .ctx("marking a file incomplete")?;
                }
            }
            put_problem(
                tx,
                p.account,
                Some(photo),
                ProblemKind::Incomplete,
                &format!(
                    "'{}' was not written completely ({why}): it is not uploaded; the {} bytes written \
                     stay in {} (write it again, or delete it)",
                    p.meta.title,
                    facts.map(|f| f.size).unwrap_or(local.size),
                    local.path.display()
                ),
            )?;
            tx.touch_photo(photo)
        })
    }

    /// At mount start: photos still [`LocalFile::writing`] were open for
    /// writing when the previous mount stopped (killed), or failed. A
    /// local-only one leaves the catalog, so it is neither shown as a
    /// photo nor uploaded; its file stays on disk and the status lists it
    /// (an account problem). One already on Flickr keeps its record: its
    /// file's facts are read again and its state is listed. Returns the
    /// paths concerned.
    pub fn settle_unfinished(&self) -> Result<Vec<PathBuf>> {
        let keys: Vec<PhotoKey> = {
            self.conn
                .cached_rows("SELECT id FROM photos WHERE writing = 1", [], |r| {
                    Ok(PhotoKey(r.get(0)?))
                })
                .ctx("listing unfinished files")?
        };
        let mut out = Vec::new();
        for key in keys {
            let p = self.photo(key)?;
            let Some(local) = p.local.clone() else {
                continue;
            };
            let facts = FileFacts::scan(&local.path).ok();
            self.write("settling an unfinished file", |tx| {
                let p = load_photo(tx, key)?;
                let size = facts.as_ref().map(|f| f.size).unwrap_or(0);
                let msg = format!(
                    "'{}' was still being written when the mount stopped: it is not uploaded; \
                     the {size} bytes written stay in {} (copy the file into the mount again)",
                    p.meta.title,
                    local.path.display()
                );
                match (&p.remote, &facts) {
                    (None, _) => {
                        delete_photo_row(tx, key)?;
                        put_problem(tx, p.account, None, ProblemKind::Incomplete, &msg)?;
                    }
                    (Some(_), Some(f)) => {
                        set_local_cols(tx, key, &local.path, f, false)?;
                        put_problem(tx, p.account, Some(key), ProblemKind::Incomplete, &msg)?;
                    }
                    (Some(_), None) => {
                        tx.exec(
                            "UPDATE photos SET writing = 0, missing = 1 WHERE id = ?1",
                            [key.0],
                        )
                        .ctx("settling an unfinished file")?;
                        tx.touch_photo(key)?;
                    }
                }
                Ok(())
            })?;
            out.push(local.path);
        }
        Ok(out)
    }

    /// Hard link (or a copy of an entry into another folder): the same photo
    /// in one more folder. Into the account folder: `NotPermitted` when the
    /// photo is in a set or a pool (the root lists photos in neither), another name
    /// otherwise. `Exists` if `dst_name` is taken.
    pub fn link(
        &self,
        src: CollectionId,
        src_name: &EntryName,
        dst: CollectionId,
        dst_name: &EntryName,
    ) -> Result<Entry> {
        self.write("linking", |tx| {
            let s = load_listed_collection(tx, src)?;
            let d = load_listed_collection(tx, dst)?;
            same_account(&s, &d, src_name)?;
            let e = require_entry(tx, &s, src_name)?;
            ensure_free(tx, &d, dst_name)?;
            if d.is_root() && folder_count(tx, e.photo)? > 0 {
                return Err(CatalogError::NotPermitted(format!(
                    "'{src_name}' is in a photoset or a pool; the account folder '{}' lists only photos in no set and no pool \
                     (move it there to take it out of its sets and pools)",
                    d.name
                )));
            }
            insert_membership(tx, d.id, dst_name, e.photo)?;
            fix_root(tx, e.photo, None)?;
            require_entry(tx, &d, dst_name)
        })
    }

    /// Rename/move an entry. Within a folder: a new name and title. Set →
    /// set: reassign (no re-upload). To the account folder: removed from all
    /// sets and pools. Into a pool: added to the pool (removed from the source set or
    /// pool, and out of the root). Between accounts:
    /// `CrossAccount` (EXDEV). An existing destination is replaced as
    /// `rename(2)` does: a fresh local-only source (an editor's temp file)
    /// gives its content to the destination photo, which keeps its identity;
    /// otherwise the destination is unlinked first (with
    /// [`Catalog::unlink`]'s meaning). Returns the destination entry.
    pub fn rename(
        &self,
        src: CollectionId,
        src_name: &EntryName,
        dst: CollectionId,
        dst_name: &EntryName,
    ) -> Result<Renamed> {
        self.write("renaming", |tx| {
            let s = load_listed_collection(tx, src)?;
            let d = load_listed_collection(tx, dst)?;
            same_account(&s, &d, src_name)?;
            let e = require_entry(tx, &s, src_name)?;
            let unchanged = |entry| {
                Ok(Renamed {
                    entry,
                    files: Vec::new(),
                })
            };
            if s.id == d.id && src_name == dst_name {
                return unchanged(e);
            }
            let mut files = Vec::new();
            if let Some(t) = lookup_entry(tx, d.id, dst_name)? {
                if t.photo == e.photo {
                    // rename(2) between two links of one file does nothing.
                    return unchanged(t);
                }
                let p = load_photo(tx, e.photo)?;
                let fresh = p.remote.is_none()
                    && p.local.is_some()
                    && photo_collections(tx, e.photo)?.len() == 1
                    && count_names(tx, e.photo)? == 1;
                if fresh {
                    // An editor's save: the destination takes the new bytes;
                    // the mount's file of the version replaced goes.
                    adopt_content(tx, e.photo, t.photo)?;
                    if let Some(old) = t
                        .path
                        .filter(|old| Some(old) != p.local.as_ref().map(|l| &l.path))
                    {
                        files.extend(release_own_file(tx, &old)?.map(FileAction::Remove));
                    }
                    let entry = require_entry(tx, &d, dst_name)?;
                    files.extend(file_follows_name(tx, &entry)?);
                    return Ok(Renamed { entry, files });
                }
                unlink_in(tx, &d, dst_name)?;
            } else if taken_in(tx, &d, dst_name.as_str())? {
                return Err(CatalogError::Exists(format!(
                    "'{dst_name}' is a folder in '{}'",
                    d.name
                )));
            }
            move_entry(tx, &s, &e, &d, dst_name)?;
            retitle(tx, e.photo, src_name, dst_name)?;
            let entry = require_entry(tx, &d, dst_name)?;
            files.extend(file_follows_name(tx, &entry)?);
            Ok(Renamed { entry, files })
        })
    }

    /// Whether `path` is a file the mount wrote itself (see
    /// [`FileAction`]): the only kind it changes in place.
    pub fn is_own_file(&self, path: &Path) -> Result<bool> {
        is_own_file(&self.conn, path)
    }

    /// Delete an entry. In a set or pool: removed from it only (listed in the
    /// root if no set and no pool is left). In the account folder: a local-only photo
    /// leaves the catalog (the file stays), a photo on Flickr becomes ignored.
    /// A junk or half-written local-only photo that loses its last name
    /// leaves the catalog wherever it was.
    pub fn unlink(&self, collection: CollectionId, name: &EntryName) -> Result<UnlinkOutcome> {
        self.write("deleting", |tx| {
            let c = load_listed_collection(tx, collection)?;
            unlink_in(tx, &c, name)
        })
    }

    /// `mkdir` under an account: a new photoset, pending until the next sync
    /// creates it online with its first photo as primary. `Exists` if a set,
    /// entry or `Pools` has that name.
    pub fn mkdir(&self, account: AccountId, name: &EntryName) -> Result<Collection> {
        self.write("creating a set", |tx| {
            let root = root_of(tx, account)?;
            if taken_in_account(tx, account, root, name.as_str())? {
                return Err(CatalogError::Exists(format!("'{name}' in the account folder")));
            }
            tx.exec(
                "INSERT INTO collections (account_id, kind, name, title) VALUES (?1, 'set', ?2, ?2)",
                params![account.0, name.as_str()],
            )
            .ctx("creating a set")?;
            let id = CollectionId(tx.last_insert_rowid());
            tx.touch(id);
            tx.touch(root);
            tx.touch_account(account);
            load_collection(tx, id)
        })
    }

    /// `rmdir` of a photoset: `NotEmpty` if it lists photos; a pending set is
    /// dropped, a set on Flickr is deleted online at the next sync. Root and
    /// pools: `NotPermitted`.
    pub fn rmdir(&self, collection: CollectionId) -> Result<RmdirOutcome> {
        self.write("removing a set", |tx| {
            let c = load_listed_collection(tx, collection)?;
            if !c.is_set() {
                return Err(CatalogError::NotPermitted(format!(
                    "'{}' is not a photoset folder",
                    c.name
                )));
            }
            let listed: i64 = tx
                .cached_row(
                    "SELECT COUNT(*) FROM memberships m JOIN photos p ON p.id = m.photo_id \
                     WHERE m.collection_id = ?1 AND p.ignored = 0",
                    [c.id.0],
                    |r| r.get(0),
                )
                .ctx("removing a set")?;
            if listed > 0 {
                return Err(CatalogError::NotEmpty(format!(
                    "set '{}' lists {listed} photo(s)",
                    c.name
                )));
            }
            tx.exec("DELETE FROM memberships WHERE collection_id = ?1", [c.id.0])
                .ctx("removing a set")?;
            let root = root_of(tx, c.account)?;
            tx.touch(c.id);
            tx.touch(root);
            tx.touch_account(c.account);
            match c.set_id() {
                None => {
                    tx.exec("DELETE FROM collections WHERE id = ?1", [c.id.0])
                        .ctx("removing a set")?;
                    Ok(RmdirOutcome::Dropped)
                }
                Some(id) => {
                    tx.exec(
                        "UPDATE collections SET state = 'delete-pending' WHERE id = ?1",
                        [c.id.0],
                    )
                    .ctx("removing a set")?;
                    Ok(RmdirOutcome::DeletePending(id.clone()))
                }
            }
        })
    }

    /// Rename a set folder: the set's new title (pushed at the next sync).
    ///
    /// `into` is the account whose folder the set is moved into (`None`:
    /// any other folder): a set folder lives directly under its own
    /// account's folder, so another account's folder is `CrossAccount`
    /// (EXDEV, as between filesystems) and anywhere else `NotPermitted`.
    pub fn rename_set(
        &self,
        collection: CollectionId,
        into: Option<AccountId>,
        new_name: &EntryName,
    ) -> Result<Collection> {
        self.write("renaming a set", |tx| {
            let c = load_listed_collection(tx, collection)?;
            if !c.is_set() {
                return Err(CatalogError::NotPermitted(format!(
                    "'{}' is not a photoset folder",
                    c.name
                )));
            }
            match into {
                Some(a) if a == c.account => {}
                Some(_) => return Err(CatalogError::CrossAccount(format!("set '{}'", c.name))),
                None => {
                    return Err(CatalogError::NotPermitted(format!(
                        "'{}': a set folder can only be renamed within its account folder",
                        c.name
                    )))
                }
            }
            if &c.name == new_name {
                return Ok(c);
            }
            let root = root_of(tx, c.account)?;
            if taken_in_account(tx, c.account, root, new_name.as_str())? {
                return Err(CatalogError::Exists(format!(
                    "'{new_name}' in the account folder"
                )));
            }
            tx.exec(
                "UPDATE collections SET name = ?2, title = ?2 WHERE id = ?1",
                params![c.id.0, new_name.as_str()],
            )
            .ctx("renaming a set")?;
            tx.touch(c.id);
            tx.touch(root);
            tx.touch_account(c.account);
            load_collection(tx, c.id)
        })
    }

    /// Mark a photo ignored (never downloaded again, not listed).
    pub fn ignore(&self, photo: PhotoKey) -> Result<()> {
        self.write("ignoring a photo", |tx| {
            let p = load_photo(tx, photo)?;
            tx.touch_photo(photo)?;
            tx.exec("UPDATE photos SET ignored = 1 WHERE id = ?1", [photo.0])
                .ctx("ignoring a photo")?;
            let root = root_of(tx, p.account)?;
            delete_photo_from(tx, root, photo)?;
            Ok(())
        })
    }

    /// Restore an ignored photo: listed again (in the root when in no set and no pool).
    /// A photo deleted on Flickr (found by the id it had there) is listed
    /// again as a local-only photo, in the sets it was in: the next sync
    /// uploads it (`flickrfs restore ID`).
    pub fn unignore(&self, account: AccountId, id: &PhotoId) -> Result<Photo> {
        self.write("restoring an ignored photo", |tx| {
            let key: i64 = tx
                .cached_row(
                    "SELECT id FROM photos WHERE account_id = ?1 AND (remote_id = ?2 OR gone_id = ?2) \
                     ORDER BY remote_id IS NULL LIMIT 1",
                    params![account.0, id.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .ctx("restoring an ignored photo")?
                .ok_or_else(|| CatalogError::NotFound(format!("photo {id}")))?;
            let key = PhotoKey(key);
            unhide(tx, key)?;
            fix_root(tx, key, None)?;
            tx.touch_photo(key)?;
            load_photo(tx, key)
        })
    }

    /// The backing file of `photo` is gone: flagged missing, with a status
    /// problem. Reads give EIO; nothing else changes.
    pub fn mark_missing(&self, photo: PhotoKey) -> Result<()> {
        self.write("marking a file missing", |tx| {
            let p = load_photo(tx, photo)?;
            let Some(local) = &p.local else {
                return Err(CatalogError::NotPermitted(format!(
                    "photo '{}' has no local file",
                    p.meta.title
                )));
            };
            tx.exec("UPDATE photos SET missing = 1 WHERE id = ?1", [photo.0])
                .ctx("marking a file missing")?;
            put_problem(
                tx,
                p.account,
                Some(photo),
                ProblemKind::MissingFile,
                &format!(
                    "the file of '{}' is missing: {} (moved or deleted outside the mount; \
                     `flickrfs relocate` finds it again by content)",
                    p.meta.title,
                    local.path.display()
                ),
            )?;
            tx.touch_photo(photo)
        })
    }

    /// The backing file of `photo` is (again) at `path`: clears the missing
    /// flag and its problem, records the facts.
    pub fn mark_found(&self, photo: PhotoKey, path: &Path, facts: Option<FileFacts>) -> Result<()> {
        let path = absolute(path)?;
        let facts = match facts {
            Some(f) => f,
            None => FileFacts::scan(&path)?,
        };
        self.write("recording a found file", |tx| {
            load_photo(tx, photo)?;
            set_local_cols(tx, photo, &path, &facts, false)?;
            clear_problem(tx, photo, ProblemKind::MissingFile)?;
            note_uploadability(tx, photo)?;
            tx.touch_photo(photo)
        })
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
        let path = absolute(path)?;
        let facts = match facts {
            Some(f) => f,
            None => FileFacts::scan(&path)?,
        };
        if facts.size == 0 {
            return Ok(None);
        }
        self.write("relocating a file", |tx| {
            let found: Option<i64> = tx
                .cached_row(
                    "SELECT id FROM photos WHERE account_id = ?1 AND \
                     ((checksum = ?2 AND (missing = 1 OR path IS NULL)) OR (path IS NULL AND r_checksum = ?2)) \
                     ORDER BY id LIMIT 1",
                    params![account.0, facts.checksum.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .ctx("relocating a file")?;
            let Some(key) = found.map(PhotoKey) else {
                return Ok(None);
            };
            set_local_cols(tx, key, &path, &facts, false)?;
            clear_problem(tx, key, ProblemKind::MissingFile)?;
            tx.touch_photo(key)?;
            Ok(Some(key))
        })
    }

    /// `photo`'s backing file was renamed on disk from `from` to `to` (the
    /// mount renamed its own file after the entry): the record follows.
    /// Nothing else about the file changed.
    pub fn moved_backing_file(&self, photo: PhotoKey, from: &Path, to: &Path) -> Result<()> {
        let to = absolute(to)?;
        self.write("recording a renamed file", |tx| {
            let n = tx
                .execute(
                    "UPDATE photos SET path = ?3 WHERE id = ?1 AND path = ?2",
                    params![photo.0, path_blob(from), path_blob(&to)],
                )
                .ctx("recording a renamed file")?;
            if n == 0 {
                return Err(CatalogError::NotFound(format!(
                    "photo #{photo} with the file {}",
                    from.display()
                )));
            }
            tx.exec(
                "UPDATE own_files SET path = ?2 WHERE path = ?1",
                params![path_blob(from), path_blob(&to)],
            )
            .ctx("recording a renamed file")?;
            tx.touch_photo(photo)
        })
    }

    /// Stats `photo`'s backing file: marks it missing or found, and re-scans
    /// it when its size or mtime changed outside the mount. Returns the
    /// photo's state afterwards.
    pub fn refresh_local(&self, photo: PhotoKey) -> Result<PhotoState> {
        let p = self.photo(photo)?;
        let Some(local) = &p.local else {
            return Ok(p.state());
        };
        if local.writing {
            return Ok(p.state());
        }
        match std::fs::metadata(&local.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !local.missing {
                    self.mark_missing(photo)?;
                }
            }
            Err(e) => {
                return Err(CatalogError::Media(crate::media::MediaError::Io {
                    path: local.path.clone(),
                    source: e,
                }))
            }
            Ok(meta) => {
                let changed =
                    meta.len() != local.size || crate::media::mtime_ns(&meta) != local.mtime_ns;
                if local.missing || changed {
                    self.mark_found(photo, &local.path, None)?;
                }
            }
        }
        Ok(self.photo(photo)?.state())
    }
}

// ---------------------------------------------------------------- helpers

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path)
        .map_err(|e| CatalogError::Media(crate::media::MediaError::io(path, e)))
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn ensure_free(tx: &Tx, coll: &Collection, name: &EntryName) -> Result<()> {
    if taken_in(tx, coll, name.as_str())? {
        return Err(CatalogError::Exists(format!(
            "'{name}' in folder '{}'",
            coll.name
        )));
    }
    Ok(())
}

fn same_account(s: &Collection, d: &Collection, name: &EntryName) -> Result<()> {
    if s.account != d.account {
        return Err(CatalogError::CrossAccount(format!(
            "'{name}' from '{}' to '{}'",
            s.name, d.name
        )));
    }
    Ok(())
}

/// A photo of the account with the same content, if the content identifies
/// a photo at all (media, not empty, not junk). Photos on Flickr first.
fn dedup_candidate(
    tx: &Tx,
    account: AccountId,
    facts: &FileFacts,
    junk: bool,
    except: Option<PhotoKey>,
) -> Result<Option<PhotoKey>> {
    if junk || !facts.kind.is_media() || facts.size == 0 || facts.checksum.is_empty_content() {
        return Ok(None);
    }
    tx.prepare_cached(
        "SELECT id FROM photos WHERE account_id = ?1 AND junk = 0 AND id != ?3 AND \
         (checksum = ?2 OR (path IS NULL AND r_checksum = ?2)) \
         ORDER BY (remote_id IS NULL), id LIMIT 1",
    )
    .ctx("looking for the same content")?
    .query_row(
        params![
            account.0,
            facts.checksum.as_str(),
            except.map_or(-1, |k| k.0)
        ],
        |r| Ok(PhotoKey(r.get(0)?)),
    )
    .optional()
    .ctx("looking for the same content")
}

fn insert_local_photo(
    tx: &Tx,
    account: AccountId,
    name: &EntryName,
    path: &Path,
    facts: &FileFacts,
    junk: bool,
    writing: bool,
) -> Result<PhotoKey> {
    tx.prepare_cached(
        "INSERT INTO photos (account_id, path, size, mtime_ns, checksum, kind, taken_at, width, height, \
         writing, title, junk) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )
    .ctx("adding a photo")?
    .execute(params![
        account.0,
        path_blob(path),
        facts.size as i64,
        facts.mtime_ns,
        facts.checksum.as_str(),
        facts.kind.as_str(),
        facts.exif.taken_at.as_ref().map(|t| t.as_str().to_string()),
        facts.exif.width,
        facts.exif.height,
        writing,
        names::title_from_name(name),
        junk,
    ])
    .ctx("adding a photo")?;
    Ok(PhotoKey(tx.last_insert_rowid()))
}

pub(crate) fn set_local_cols(
    tx: &Tx,
    photo: PhotoKey,
    path: &Path,
    facts: &FileFacts,
    writing: bool,
) -> Result<()> {
    // Flickr's refusal holds for the content it saw: new content may be
    // tried again.
    let before: Option<String> = tx
        .prepare_cached("SELECT checksum FROM photos WHERE id = ?1")
        .ctx("recording a file")?
        .query_row([photo.0], |r| r.get(0))
        .optional()
        .ctx("recording a file")?
        .flatten();
    if before.as_deref() != Some(facts.checksum.as_str()) {
        clear_problem(tx, photo, ProblemKind::Refused)?;
    }
    tx.prepare_cached(
        "UPDATE photos SET path = ?2, size = ?3, mtime_ns = ?4, checksum = ?5, kind = ?6, taken_at = ?7, \
         width = ?8, height = ?9, missing = 0, writing = ?10 WHERE id = ?1",
    )
    .ctx("recording a file")?
    .execute(params![
        photo.0,
        path_blob(path),
        facts.size as i64,
        facts.mtime_ns,
        facts.checksum.as_str(),
        facts.kind.as_str(),
        facts.exif.taken_at.as_ref().map(|t| t.as_str().to_string()),
        facts.exif.width,
        facts.exif.height,
        writing,
    ])
    .ctx("recording a file")?;
    tx.touch_photo(photo)
}

/// Lists a non-media local-only photo in the status (and clears that
/// problem otherwise).
pub(crate) fn note_uploadability(tx: &Tx, photo: PhotoKey) -> Result<()> {
    let p = load_photo(tx, photo)?;
    match &p.local {
        Some(l) if p.remote.is_none() && !l.writing && !p.junk && !l.kind.is_media() => {
            put_problem(
                tx,
                p.account,
                Some(photo),
                ProblemKind::NotUploadable,
                &format!(
                    "'{}' ({}) is not a photo or video Flickr accepts: it stays in the folder but is not uploaded",
                    p.meta.title,
                    l.path.display()
                ),
            )?;
        }
        _ => clear_problem(tx, photo, ProblemKind::NotUploadable)?,
    }
    Ok(())
}

/// Content already known as `target`: one more membership (or
/// `AlreadyInSets` in the account folder); `target` adopts `path` when it
/// has no usable file.
fn attach_same(
    tx: &Tx,
    coll: &Collection,
    name: &EntryName,
    target: PhotoKey,
    path: &Path,
    facts: &FileFacts,
) -> Result<AddOutcome> {
    let t = load_photo(tx, target)?;
    let adopt = t.local.as_ref().is_none_or(|l| l.missing);
    if adopt {
        set_local_cols(tx, target, path, facts, false)?;
        clear_problem(tx, target, ProblemKind::MissingFile)?;
    }
    if t.ignored {
        unhide(tx, target)?;
    }
    if coll.is_root() && folder_count(tx, target)? > 0 {
        tx.touch_photo(target)?;
        return Ok(AddOutcome::AlreadyInSets {
            photo: target,
            redundant: (!adopt).then(|| path.to_path_buf()),
        });
    }
    insert_membership(tx, coll.id, name, target)?;
    fix_root(tx, target, None)?;
    Ok(AddOutcome::SamePhoto(require_entry(tx, coll, name)?))
}

/// Moves `from`'s names to `into` and removes `from` (not its file).
/// Returns the file no longer referenced, and the root names dropped because
/// `into` is in sets or pools.
fn merge_into(
    tx: &Tx,
    from: PhotoKey,
    into: PhotoKey,
) -> Result<(Option<PathBuf>, Vec<EntryName>)> {
    let f = load_photo(tx, from)?;
    let t = load_photo(tx, into)?;
    let mut redundant = None;
    if let Some(fl) = &f.local {
        if t.local.as_ref().is_none_or(|l| l.missing) {
            copy_local(tx, into, fl)?;
            clear_problem(tx, into, ProblemKind::MissingFile)?;
        } else {
            redundant = Some(fl.path.clone());
        }
    }
    if t.ignored {
        unhide(tx, into)?;
    }
    let into_in_sets = folder_count(tx, into)? > 0;
    let mut dropped = Vec::new();
    for e in entries_of_photo(tx, from)? {
        let coll = load_collection(tx, e.collection)?;
        if coll.is_root() && into_in_sets {
            dropped.push(e.name.clone());
            delete_membership(tx, coll.id, &e.name)?;
        } else {
            tx.exec(
                "UPDATE memberships SET photo_id = ?3 WHERE collection_id = ?1 AND name = ?2",
                params![coll.id.0, e.name.as_str(), into.0],
            )
            .ctx("merging photos")?;
            tx.touch_entry(coll.id, from);
            tx.touch_entry(coll.id, into);
        }
    }
    delete_photo_row(tx, from)?;
    fix_root(tx, into, None)?;
    note_uploadability(tx, into)?;
    tx.touch_photo(into)?;
    Ok((redundant, dropped))
}

pub(crate) fn merge_photos_in(tx: &Tx, keep: PhotoKey, absorb: PhotoKey) -> Result<()> {
    merge_into(tx, absorb, keep).map(|_| ())
}

fn entries_of_photo(tx: &Tx, photo: PhotoKey) -> Result<Vec<Entry>> {
    tx.cached_rows(
        &format!("{ENTRY_SELECT} WHERE m.photo_id = ?1"),
        [photo.0],
        entry_from_row,
    )
    .ctx("reading a photo's names")
}

fn copy_local(tx: &Tx, photo: PhotoKey, l: &LocalFile) -> Result<()> {
    tx.prepare_cached(
        "UPDATE photos SET path = ?2, size = ?3, mtime_ns = ?4, checksum = ?5, kind = ?6, taken_at = ?7, \
         width = ?8, height = ?9, missing = ?10, writing = ?11 WHERE id = ?1",
    )
    .ctx("recording a file")?
    .execute(params![
        photo.0,
        path_blob(&l.path),
        l.size as i64,
        l.mtime_ns,
        l.checksum.as_ref().map(|c| c.as_str().to_string()),
        l.kind.as_str(),
        l.exif.taken_at.as_ref().map(|t| t.as_str().to_string()),
        l.exif.width,
        l.exif.height,
        l.missing,
        l.writing,
    ])
    .ctx("recording a file")?;
    tx.touch_photo(photo)
}

/// `path` is a file the mount wrote.
fn own_file(tx: &Tx, path: &Path) -> Result<()> {
    tx.exec(
        "INSERT OR IGNORE INTO own_files (path) VALUES (?1)",
        [path_blob(path)],
    )
    .ctx("recording a file the mount wrote")?;
    Ok(())
}

/// `path` is no longer any photo's file: if the mount wrote it, it is
/// forgotten and returned, to be deleted (a user's file never is).
fn release_own_file(tx: &Tx, path: &Path) -> Result<Option<PathBuf>> {
    if path_in_use(tx, path)? {
        return Ok(None);
    }
    let n = tx
        .execute("DELETE FROM own_files WHERE path = ?1", [path_blob(path)])
        .ctx("forgetting a file the mount wrote")?;
    Ok((n > 0).then(|| path.to_path_buf()))
}

/// After a rename: an own backing file named otherwise than its entry
/// (say `.mine.jpg.tmp` for `mine.jpg`) takes the entry's name, so no
/// photo's bytes stay under a temporary name a user would clean up. Not
/// for a junk entry name, nor a user's file.
fn file_follows_name(tx: &Tx, e: &Entry) -> Result<Option<FileAction>> {
    let Some(path) = &e.path else { return Ok(None) };
    let current = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if names::is_file_name_for(current, e.name.as_str()) || is_junk_name(e.name.as_str()) {
        return Ok(None);
    }
    Ok(is_own_file(tx, path)?.then(|| FileAction::Rename {
        photo: e.photo,
        from: path.clone(),
        name: e.name.as_str().to_owned(),
    }))
}

/// `rename(2)` of a fresh local-only file over an entry: the entry's photo
/// takes the new content (editors save this way); the source photo goes.
fn adopt_content(tx: &Tx, src: PhotoKey, target: PhotoKey) -> Result<()> {
    let s = load_photo(tx, src)?;
    if let Some(l) = &s.local {
        copy_local(tx, target, l)?;
    }
    delete_photo_row(tx, src)?;
    clear_problem(tx, target, ProblemKind::MissingFile)?;
    note_uploadability(tx, target)?;
    tx.touch_photo(target)
}

/// Moves entry `e` from `s` to `d` under `dst_name` (free in `d`).
fn move_entry(
    tx: &Tx,
    s: &Collection,
    e: &Entry,
    d: &Collection,
    dst_name: &EntryName,
) -> Result<()> {
    if s.id == d.id {
        tx.exec(
            "UPDATE memberships SET name = ?3 WHERE collection_id = ?1 AND name = ?2",
            params![s.id.0, e.name.as_str(), dst_name.as_str()],
        )
        .ctx("renaming")?;
        tx.touch(s.id);
        return Ok(());
    }
    match d.kind {
        CollectionKind::Root => {
            // Out of every set and every pool: the root holds the
            // unassigned photos.
            let sets: Vec<i64> = {
                tx.cached_rows(
                    "SELECT DISTINCT m.collection_id FROM memberships m JOIN collections c \
                         ON c.id = m.collection_id WHERE m.photo_id = ?1 \
                         AND c.kind IN ('set', 'pool')",
                    [e.photo.0],
                    |r| r.get(0),
                )
                .ctx("moving to the account folder")?
            };
            for c in sets {
                delete_photo_from(tx, CollectionId(c), e.photo)?;
            }
            delete_membership(tx, s.id, &e.name)?;
            insert_membership(tx, d.id, dst_name, e.photo)?;
            fix_root(tx, e.photo, None)?;
        }
        // Into a set or a pool: the photo leaves the source folder (the
        // account folder too, with all its names there: it lists photos in
        // no set and no pool).
        CollectionKind::Photoset(_) | CollectionKind::Pool(_) => {
            delete_membership(tx, s.id, &e.name)?;
            insert_membership(tx, d.id, dst_name, e.photo)?;
            fix_root(tx, e.photo, None)?;
        }
    }
    Ok(())
}

/// A rename gives a new title (unless the new name is junk); a local-only
/// photo's junk flag follows its name.
fn retitle(tx: &Tx, photo: PhotoKey, old: &EntryName, new: &EntryName) -> Result<()> {
    let p = load_photo(tx, photo)?;
    let new_junk = is_junk_name(new.as_str());
    if p.remote.is_none() && p.junk != new_junk {
        tx.exec(
            "UPDATE photos SET junk = ?2 WHERE id = ?1",
            params![photo.0, new_junk],
        )
        .ctx("renaming")?;
    }
    if !new_junk && (old.stem() != new.stem() || p.junk) {
        tx.exec(
            "UPDATE photos SET title = ?2 WHERE id = ?1",
            params![photo.0, names::title_from_name(new)],
        )
        .ctx("renaming")?;
    }
    note_uploadability(tx, photo)
}

/// Lists a hidden photo again: an ignored one as it was; one deleted on
/// Flickr as a local-only photo (its old id forgotten), to be uploaded.
fn unhide(tx: &Tx, photo: PhotoKey) -> Result<()> {
    tx.exec(
        "UPDATE photos SET ignored = 0, gone_id = NULL WHERE id = ?1",
        [photo.0],
    )
    .ctx("restoring an ignored photo")?;
    clear_problem(tx, photo, ProblemKind::DeletedOnFlickr)?;
    note_uploadability(tx, photo)
}

/// [`Catalog::unlink`] inside a transaction.
fn unlink_in(tx: &Tx, c: &Collection, name: &EntryName) -> Result<UnlinkOutcome> {
    let e = require_entry(tx, c, name)?;
    let p = load_photo(tx, e.photo)?;
    let disposable = p.remote.is_none() && (p.junk || p.local.as_ref().is_some_and(|l| l.writing));
    let path = p.local.as_ref().map(|l| l.path.clone());
    match c.kind {
        CollectionKind::Photoset(_) | CollectionKind::Pool(_) => {
            delete_membership(tx, c.id, name)?;
            if disposable && count_names(tx, e.photo)? == 0 {
                delete_photo_row(tx, e.photo)?;
                return Ok(UnlinkOutcome::Forgotten {
                    photo: e.photo,
                    path,
                });
            }
            match fix_root(tx, e.photo, Some(name))? {
                Some(n) => Ok(UnlinkOutcome::MovedToRoot {
                    photo: e.photo,
                    name: n,
                }),
                None => Ok(UnlinkOutcome::RemovedFromCollection { photo: e.photo }),
            }
        }
        CollectionKind::Root => {
            if root_names(tx, c.id, e.photo)?.len() > 1 {
                delete_membership(tx, c.id, name)?;
                return Ok(UnlinkOutcome::RemovedFromCollection { photo: e.photo });
            }
            match &p.remote {
                Some(r) => {
                    tx.touch_photo(e.photo)?;
                    tx.exec("UPDATE photos SET ignored = 1 WHERE id = ?1", [e.photo.0])
                        .ctx("ignoring a photo")?;
                    delete_photo_from(tx, c.id, e.photo)?;
                    Ok(UnlinkOutcome::Ignored {
                        photo: e.photo,
                        id: r.id.clone(),
                    })
                }
                None => {
                    delete_photo_row(tx, e.photo)?;
                    Ok(UnlinkOutcome::Forgotten {
                        photo: e.photo,
                        path,
                    })
                }
            }
        }
    }
}
