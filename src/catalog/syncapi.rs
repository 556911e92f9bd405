//! What the sync needs beyond the file operations: batch upserts of Flickr's
//! state (photos, sets, pools, memberships), recording uploads and
//! downloads, the merge base of the last sync, the journal, and the status
//! problems. Batches run in one transaction each.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use rusqlite::{params, OptionalExtension};

use crate::media::FileFacts;
use crate::model::{GroupId, PhotoId, Privacy, SetId};

use super::error::{CatalogError, Result};
use super::handle::Catalog;
use super::names;
use super::ops::{merge_photos_in, note_uploadability, set_local_cols};
use super::store::*;
use super::types::*;

impl Catalog {
    /// Inserts or updates Flickr photos by id, in one transaction. Existing
    /// photos get their remote side updated (their local meta is left to the
    /// sync's merge). A Flickr photo carrying the checksum machine tag of a
    /// local-only photo is that photo (an upload whose reply was lost): it
    /// is attached, not duplicated. Others become remote-only photos whose
    /// local meta is the remote values, listed in the root until put in
    /// sets. Returns the keys in input order.
    pub fn upsert_remote_photos<R: std::borrow::Borrow<RemotePhoto>>(
        &self,
        account: AccountId,
        photos: impl IntoIterator<Item = R>,
    ) -> Result<Vec<PhotoKey>> {
        let photos = photos.into_iter();
        self.write("recording Flickr photos", |tx| {
            load_account(tx, account)?;
            let mut keys = Vec::with_capacity(photos.size_hint().0);
            for r in photos {
                let r: &RemotePhoto = r.borrow();
                let existing: Option<i64> = tx
                    .prepare_cached("SELECT id FROM photos WHERE account_id = ?1 AND remote_id = ?2")
                    .ctx("recording Flickr photos")?
                    .query_row(params![account.0, r.id.as_str()], |row| row.get(0))
                    .optional()
                    .ctx("recording Flickr photos")?;
                let existing = match existing {
                    Some(k) => Some(k),
                    None => match &r.checksum_tag {
                        Some(sum) => tx
                            .prepare_cached(
                                "SELECT id FROM photos WHERE account_id = ?1 AND remote_id IS NULL \
                                 AND checksum = ?2 AND junk = 0 ORDER BY id LIMIT 1",
                            )
                            .ctx("recording Flickr photos")?
                            .query_row(params![account.0, sum.as_str()], |row| row.get(0))
                            .optional()
                            .ctx("recording Flickr photos")?,
                        None => None,
                    },
                };
                let key = match existing {
                    Some(k) => {
                        let key = PhotoKey(k);
                        set_remote_cols(tx, key, r)?;
                        note_uploadability(tx, key)?;
                        tx.touch_photo(key)?;
                        key
                    }
                    None => {
                        tx.prepare_cached(
                            "INSERT INTO photos (account_id, remote_id, title, description, tags, privacy) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        )
                        .ctx("recording Flickr photos")?
                        .execute(params![
                            account.0,
                            r.id.as_str(),
                            r.title,
                            r.description,
                            tags_json(&r.tags),
                            Privacy::from_flags(r.visibility).as_str(),
                        ])
                        .ctx("recording Flickr photos")?;
                        let key = PhotoKey(tx.last_insert_rowid());
                        set_remote_cols(tx, key, r)?;
                        fix_root(tx, key, None)?;
                        key
                    }
                };
                keys.push(key);
            }
            Ok(keys)
        })
    }

    /// Inserts or updates Flickr photosets by id (description, primary; a
    /// new set also gets its title and a folder name). Titles of known sets
    /// are left to the sync's merge ([`Catalog::set_collection_title`]).
    /// Returns keys in order.
    pub fn upsert_remote_sets(
        &self,
        account: AccountId,
        sets: &[RemoteSet],
    ) -> Result<Vec<CollectionId>> {
        self.write("recording Flickr photosets", |tx| {
            let root = root_of(tx, account)?;
            let mut out = Vec::with_capacity(sets.len());
            for set in sets {
                let primary = match &set.primary {
                    Some(pid) => remote_key(tx, account, pid)?,
                    None => None,
                };
                let existing: Option<i64> = tx
                    .cached_row(
                        "SELECT id FROM collections WHERE account_id = ?1 AND kind = 'set' AND remote_id = ?2",
                        params![account.0, set.id.as_str()],
                        |r| r.get(0),
                    )
                    .optional()
                    .ctx("recording Flickr photosets")?;
                let id = match existing {
                    Some(id) => {
                        tx.exec(
                            "UPDATE collections SET description = ?2, primary_photo = ?3 WHERE id = ?1",
                            params![id, set.description, primary.map(|k| k.0)],
                        )
                        .ctx("recording Flickr photosets")?;
                        CollectionId(id)
                    }
                    None => {
                        let name = unique_set_name(tx, account, root, &set.title, set.id.as_str(), None)?;
                        tx.exec(
                            "INSERT INTO collections (account_id, kind, remote_id, name, title, description, \
                             primary_photo, synced_title) VALUES (?1, 'set', ?2, ?3, ?4, ?5, ?6, ?4)",
                            params![
                                account.0,
                                set.id.as_str(),
                                name.as_str(),
                                set.title,
                                set.description,
                                primary.map(|k| k.0)
                            ],
                        )
                        .ctx("recording Flickr photosets")?;
                        tx.touch(root);
                        tx.touch_account(account);
                        CollectionId(tx.last_insert_rowid())
                    }
                };
                tx.touch(id);
                out.push(id);
            }
            Ok(out)
        })
    }

    /// Inserts or updates the account's group pools by id.
    pub fn upsert_pools(
        &self,
        account: AccountId,
        pools: &[RemotePool],
    ) -> Result<Vec<CollectionId>> {
        self.write("recording group pools", |tx| {
            load_account(tx, account)?;
            let mut out = Vec::with_capacity(pools.len());
            for pool in pools {
                let existing: Option<(i64, String)> = tx
                    .cached_row(
                        "SELECT id, title FROM collections WHERE account_id = ?1 AND kind = 'pool' AND remote_id = ?2",
                        params![account.0, pool.id.as_str()],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .ctx("recording group pools")?;
                let id = match existing {
                    Some((id, title)) => {
                        if title != pool.name {
                            let name = unique_pool_name(tx, account, &pool.name, pool.id.as_str(), Some(id))?;
                            tx.exec(
                                "UPDATE collections SET title = ?2, name = ?3 WHERE id = ?1",
                                params![id, pool.name, name.as_str()],
                            )
                            .ctx("recording group pools")?;
                            tx.touch_account(account);
                        }
                        CollectionId(id)
                    }
                    None => {
                        let name = unique_pool_name(tx, account, &pool.name, pool.id.as_str(), None)?;
                        tx.exec(
                            "INSERT INTO collections (account_id, kind, remote_id, name, title, synced_title) \
                             VALUES (?1, 'pool', ?2, ?3, ?4, ?4)",
                            params![account.0, pool.id.as_str(), name.as_str(), pool.name],
                        )
                        .ctx("recording group pools")?;
                        tx.touch_account(account);
                        CollectionId(tx.last_insert_rowid())
                    }
                };
                tx.touch(id);
                out.push(id);
            }
            Ok(out)
        })
    }

    /// A set's or pool's title as the sync's merge decided it: renames the
    /// folder to the sanitised title (made unique).
    pub fn set_collection_title(
        &self,
        collection: CollectionId,
        title: &str,
    ) -> Result<Collection> {
        self.write("retitling a folder", |tx| {
            let c = load_collection(tx, collection)?;
            if c.title == title {
                return Ok(c);
            }
            let fallback = match &c.kind {
                CollectionKind::Photoset(Some(id)) => id.as_str().to_string(),
                CollectionKind::Pool(g) => g.as_str().to_string(),
                _ => c.id.to_string(),
            };
            let name = match c.kind {
                CollectionKind::Root => {
                    return Err(CatalogError::NotPermitted(
                        "the account folder's name comes from the account's preferences".into(),
                    ))
                }
                CollectionKind::Photoset(_) => {
                    let root = root_of(tx, c.account)?;
                    unique_set_name(tx, c.account, root, title, &fallback, Some(c.id))?
                }
                CollectionKind::Pool(_) => {
                    unique_pool_name(tx, c.account, title, &fallback, Some(c.id.0))?
                }
            };
            tx.exec(
                "UPDATE collections SET title = ?2, name = ?3 WHERE id = ?1",
                params![c.id.0, title, name.as_str()],
            )
            .ctx("retitling a folder")?;
            let root = root_of(tx, c.account)?;
            tx.touch(c.id);
            tx.touch(root);
            tx.touch_account(c.account);
            load_collection(tx, c.id)
        })
    }

    /// Makes `photos` the exact member list of a set or pool (e.g. Flickr's
    /// state after a merge), naming new entries after their titles and
    /// keeping the root invariant. One transaction.
    pub fn replace_members(&self, collection: CollectionId, photos: &[PhotoKey]) -> Result<()> {
        self.write("replacing a folder's members", |tx| {
            let c = load_collection(tx, collection)?;
            if c.is_root() {
                return Err(CatalogError::NotPermitted(
                    "the account folder's members follow from the sets and pools".into(),
                ));
            }
            let current: BTreeSet<i64> = {
                let mut st = tx
                    .prepare_cached(
                        "SELECT DISTINCT photo_id FROM memberships WHERE collection_id = ?1",
                    )
                    .ctx("reading members")?;
                let rows = st
                    .query_map([c.id.0], |r| r.get(0))
                    .ctx("reading members")?;
                rows.collect::<rusqlite::Result<_>>()
                    .ctx("reading members")?
            };
            let wanted: BTreeSet<i64> = photos.iter().map(|p| p.0).collect();
            for &p in current.difference(&wanted) {
                remove_member(tx, &c, PhotoKey(p))?;
            }
            for &p in wanted.difference(&current) {
                add_member(tx, &c, PhotoKey(p))?;
            }
            Ok(())
        })
    }

    /// Applies membership additions/removals in one transaction, keeping the
    /// root invariant. Adding an existing membership or removing an absent
    /// one is a no-op. The account root is not a valid target (`NotPermitted`).
    pub fn apply_memberships(&self, changes: &[MembershipChange]) -> Result<()> {
        self.write("changing memberships", |tx| {
            for ch in changes {
                let (photo, collection, add) = match ch {
                    MembershipChange::Add { photo, collection } => (*photo, *collection, true),
                    MembershipChange::Remove { photo, collection } => (*photo, *collection, false),
                };
                let c = load_collection(tx, collection)?;
                if c.is_root() {
                    return Err(CatalogError::NotPermitted(
                        "the account folder's members follow from the sets and pools".into(),
                    ));
                }
                let member: bool = tx
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM memberships WHERE collection_id = ?1 AND photo_id = ?2)",
                    )
                    .ctx("changing memberships")?
                    .query_row(params![c.id.0, photo.0], |r| r.get(0))
                    .ctx("changing memberships")?;
                match (add, member) {
                    (true, false) => add_member(tx, &c, photo)?,
                    (false, true) => remove_member(tx, &c, photo)?,
                    _ => {}
                }
            }
            Ok(())
        })
    }

    /// After an upload: `photo` is now on Flickr as `remote`. `Exists` if
    /// another photo of the account already has that id.
    pub fn record_upload(&self, photo: PhotoKey, remote: &RemotePhoto) -> Result<()> {
        self.write("recording an upload", |tx| {
            let p = load_photo(tx, photo)?;
            if let Some(other) = remote_key(tx, p.account, &remote.id)? {
                if other != photo {
                    return Err(CatalogError::Exists(format!(
                        "Flickr photo {} is already photo #{other} of the catalog",
                        remote.id
                    )));
                }
            }
            set_remote_cols(tx, photo, remote)?;
            note_uploadability(tx, photo)?;
            tx.touch_photo(photo)
        })
    }

    /// Updates only the remote side of a photo (after a metadata push or a fetch).
    pub fn set_remote(&self, photo: PhotoKey, remote: &RemotePhoto) -> Result<()> {
        self.record_upload(photo, remote)
    }

    /// Replaces a photo's local meta (the sync's merge result).
    /// Names do not change (as after `setfattr user.flickr.title`).
    pub fn set_meta(&self, photo: PhotoKey, meta: &LocalMeta) -> Result<()> {
        self.write("recording metadata", |tx| write_meta(tx, photo, meta))
    }

    /// The local side takes Flickr's values (the sync's merge result for a
    /// change made on Flickr): the meta, and when the title changed, the
    /// photo's names in every folder it is in (account folder, sets,
    /// pools), as a rename would: the new title made safe and unique with
    /// the usual suffixes. A name already made from the new title stays, so
    /// do junk names, and no other photo's name moves. No file is renamed.
    /// Returns the names that changed: (folder, old, new).
    pub fn take_flickr_meta(
        &self,
        photo: PhotoKey,
        meta: &LocalMeta,
    ) -> Result<Vec<(CollectionId, names::EntryName, names::EntryName)>> {
        self.write("recording Flickr's metadata", |tx| {
            let before = load_photo(tx, photo)?;
            write_meta(tx, photo, meta)?;
            if before.meta.title == meta.title {
                return Ok(Vec::new());
            }
            names_follow_title(tx, photo)
        })
    }

    /// The photo was deleted on Flickr: it leaves the collection (no longer
    /// listed in any folder), and its file stays where it is. A photo with
    /// a file keeps its row, unlinked from Flickr but remembering the id it
    /// had there, with a status line that says where the file is and how
    /// to upload it again ([`Catalog::unignore`]); one never downloaded
    /// leaves the catalog. Returns the file, if any.
    pub fn forget_deleted_on_flickr(&self, photo: PhotoKey) -> Result<Option<std::path::PathBuf>> {
        self.write("forgetting a photo deleted on Flickr", |tx| {
            let p = load_photo(tx, photo)?;
            let id = p
                .remote_id()
                .or(p.deleted_on_flickr.as_ref())
                .cloned()
                .ok_or_else(|| {
                    CatalogError::NotPermitted(format!("photo #{photo} was never on Flickr"))
                })?;
            let Some(file) = &p.local else {
                delete_photo_row(tx, photo)?;
                return Ok(None);
            };
            tx.touch_photo(photo)?;
            tx.exec(
                "UPDATE photos SET gone_id = ?2, ignored = 1, remote_id = NULL, r_title = NULL, \
                 r_description = NULL, r_tags = NULL, r_public = NULL, r_friend = NULL, \
                 r_family = NULL, r_date_taken = NULL, r_granularity = NULL, r_format = NULL, \
                 r_orig_secret = NULL, r_secret = NULL, r_server = NULL, r_url = NULL, \
                 r_lastupdate = NULL, r_video = NULL, r_checksum = NULL WHERE id = ?1",
                params![photo.0, id.as_str()],
            )
            .ctx("forgetting a photo deleted on Flickr")?;
            for table in ["synced", "refused_edits"] {
                tx.exec(&format!("DELETE FROM {table} WHERE photo_id = ?1"), [photo.0])
                    .ctx("forgetting a photo deleted on Flickr")?;
            }
            fix_root(tx, photo, None)?;
            put_problem(
                tx,
                p.account,
                Some(photo),
                ProblemKind::DeletedOnFlickr,
                &format!(
                    "photo {id} '{}' was deleted on Flickr: it left the collection; its file stays at {} \
                     (`flickrfs restore {id}` uploads it again)",
                    p.meta.title,
                    file.path.display()
                ),
            )?;
            Ok(Some(file.path.clone()))
        })
    }

    /// Flickr's new date taken for `photo` (`user.flickr.date_taken`). A
    /// fetch records the date only where none is known yet: a change comes
    /// through the sync's plan, so that it is counted.
    pub fn set_date_taken(
        &self,
        photo: PhotoKey,
        at: &crate::model::TakenAt,
        granularity: crate::model::Granularity,
    ) -> Result<()> {
        self.write("recording a date taken", |tx| {
            load_photo(tx, photo)?;
            tx.exec(
                "UPDATE photos SET r_date_taken = ?2, r_granularity = ?3 WHERE id = ?1",
                params![photo.0, at.as_str(), granularity.code()],
            )
            .ctx("recording a date taken")?;
            // an entry not on disk yet shows it as its time
            tx.touch_photo(photo)
        })
    }

    /// The size Flickr announces for the original of `photo`, which has no
    /// file on disk yet: the mount lists it (a file manager that trusts
    /// `st_size`, as KIO does, copies that many bytes). A file recorded
    /// since is left alone.
    pub fn set_announced_sizes(&self, sizes: &[(PhotoKey, u64)]) -> Result<()> {
        self.write("recording originals' sizes", |tx| {
            for (photo, size) in sizes {
                let n = tx
                    .exec(
                        "UPDATE photos SET size = ?2 WHERE id = ?1 AND path IS NULL",
                        params![photo.0, *size as i64],
                    )
                    .ctx("recording an original's size")?;
                if n > 0 {
                    tx.touch_photo(*photo)?;
                }
            }
            Ok(())
        })
    }

    /// After a download or identification: `path` is `photo`'s backing file.
    pub fn set_local_file(&self, photo: PhotoKey, path: &Path, facts: &FileFacts) -> Result<()> {
        let path = std::path::absolute(path).map_err(|e| crate::media::MediaError::io(path, e))?;
        self.write("recording a local file", |tx| {
            load_photo(tx, photo)?;
            set_local_cols(tx, photo, &path, facts, false)?;
            clear_problem(tx, photo, ProblemKind::MissingFile)?;
            note_uploadability(tx, photo)
        })
    }

    /// Identification of a local-only photo as a remote one: `keep` takes
    /// `absorb`'s local file (if it has none) and memberships; `absorb`
    /// leaves the catalog (its file stays). Root invariant kept.
    pub fn merge_photos(&self, keep: PhotoKey, absorb: PhotoKey) -> Result<()> {
        if keep == absorb {
            return Ok(());
        }
        self.write("merging photos", |tx| {
            let k = load_photo(tx, keep)?;
            let a = load_photo(tx, absorb)?;
            if k.account != a.account {
                return Err(CatalogError::CrossAccount(format!(
                    "photos #{keep} and #{absorb} belong to different accounts"
                )));
            }
            if a.remote.is_some() {
                return Err(CatalogError::NotPermitted(format!(
                    "photo #{absorb} is on Flickr; only a local-only photo can be merged into another"
                )));
            }
            merge_photos_in(tx, keep, absorb)
        })
    }

    /// A pending set was created online with id `id`.
    pub fn record_set_created(&self, collection: CollectionId, id: &SetId) -> Result<()> {
        self.write("recording a created set", |tx| {
            let c = load_collection(tx, collection)?;
            if !c.is_set() {
                return Err(CatalogError::NotPermitted(format!(
                    "'{}' is not a photoset",
                    c.name
                )));
            }
            tx.exec(
                "UPDATE collections SET remote_id = ?2, synced_title = title WHERE id = ?1",
                params![c.id.0, id.as_str()],
            )
            .ctx("recording a created set")?;
            tx.touch(c.id);
            Ok(())
        })
    }

    /// Sets pending deletion online.
    pub fn pending_set_deletions(&self, account: AccountId) -> Result<Vec<Collection>> {
        Ok(self
            .collections(account)?
            .into_iter()
            .filter(|c| c.state == CollectionState::DeletePending)
            .collect())
    }

    /// Removes a collection row for good (a set deleted online, a pool the
    /// account left). Its memberships go; the root invariant is kept.
    pub fn forget_collection(&self, collection: CollectionId) -> Result<()> {
        self.write("forgetting a folder", |tx| {
            let c = load_collection(tx, collection)?;
            if c.is_root() {
                return Err(CatalogError::NotPermitted(
                    "the account folder cannot be removed".into(),
                ));
            }
            let members: Vec<i64> = {
                let mut st = tx
                    .prepare_cached(
                        "SELECT DISTINCT photo_id FROM memberships WHERE collection_id = ?1",
                    )
                    .ctx("forgetting a folder")?;
                let rows = st
                    .query_map([c.id.0], |r| r.get(0))
                    .ctx("forgetting a folder")?;
                rows.collect::<rusqlite::Result<_>>()
                    .ctx("forgetting a folder")?
            };
            tx.exec("DELETE FROM collections WHERE id = ?1", [c.id.0])
                .ctx("forgetting a folder")?;
            for p in members {
                fix_root(tx, PhotoKey(p), None)?;
            }
            let root = root_of(tx, c.account)?;
            tx.touch(c.id);
            tx.touch(root);
            tx.touch_account(c.account);
            Ok(())
        })
    }

    /// The title both sides agreed for a set at the last sync.
    pub fn set_synced_title(&self, collection: CollectionId, title: Option<&str>) -> Result<()> {
        self.write("recording a synced title", |tx| {
            tx.exec(
                "UPDATE collections SET synced_title = ?2 WHERE id = ?1",
                params![collection.0, title],
            )
            .ctx("recording a synced title")?;
            Ok(())
        })
    }

    /// The merge base of one photo (`None` if never synced).
    pub fn synced_base(&self, photo: PhotoKey) -> Result<Option<SyncedBase>> {
        self.conn
            .prepare_cached(
                "SELECT title, description, tags, privacy, sets, checksum, pools FROM synced WHERE photo_id = ?1",
            )
            .ctx("reading the merge base")?
            .query_row([photo.0], base_from_row)
            .optional()
            .ctx("reading the merge base")
    }

    /// The merge bases of every photo of the account.
    pub fn synced_bases(&self, account: AccountId) -> Result<HashMap<PhotoKey, SyncedBase>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT s.title, s.description, s.tags, s.privacy, s.sets, s.checksum, s.pools, s.photo_id \
                 FROM synced s JOIN photos p ON p.id = s.photo_id WHERE p.account_id = ?1",
            )
            .ctx("reading merge bases")?;
        let rows = st
            .query_map([account.0], |r| {
                Ok((PhotoKey(r.get(7)?), base_from_row(r)?))
            })
            .ctx("reading merge bases")?;
        rows.collect::<rusqlite::Result<HashMap<_, _>>>()
            .ctx("reading merge bases")
    }

    /// Local changes to the fields of photos on Flickr that the next sync
    /// sends (a rename, `setfattr`), against the values both sides agreed
    /// on at the last sync: what `.flickrfs/plan` shows without asking
    /// Flickr. A change made on Flickr meanwhile may still make one a
    /// conflict.
    pub fn pending_edits(&self, account: AccountId) -> Result<Vec<PendingEdit>> {
        let bases = self.synced_bases(account)?;
        let mut out = Vec::new();
        for p in self.photos(account)? {
            let (Some(id), Some(b)) = (p.remote_id(), bases.get(&p.key)) else {
                continue;
            };
            if p.ignored {
                continue;
            }
            let mut changes = Vec::new();
            if p.meta.title != b.title {
                changes.push((MetaField::Title, b.title.clone(), p.meta.title.clone()));
            }
            let description = p.meta.description.clone().unwrap_or_default();
            if description != b.description {
                changes.push((MetaField::Description, b.description.clone(), description));
            }
            let norm = |tags: &[String]| -> BTreeSet<String> {
                tags.iter()
                    .map(|t| crate::model::normalize_tag(t))
                    .filter(|t| !t.is_empty())
                    .collect()
            };
            let tags = p.meta.tags.clone().unwrap_or_default();
            if norm(&tags) != norm(&b.tags) {
                changes.push((
                    MetaField::Tags,
                    super::xattr::format_tags(&b.tags),
                    super::xattr::format_tags(&tags),
                ));
            }
            if let Some(privacy) = p.meta.privacy.filter(|v| *v != b.privacy) {
                changes.push((
                    MetaField::Privacy,
                    b.privacy.as_str().to_owned(),
                    privacy.as_str().to_owned(),
                ));
            }
            if !changes.is_empty() {
                out.push(PendingEdit {
                    photo: p.key,
                    id: id.clone(),
                    changes,
                });
            }
        }
        Ok(out)
    }

    /// Records merge bases in one transaction.
    pub fn set_synced_bases(&self, bases: &[(PhotoKey, SyncedBase)]) -> Result<()> {
        self.set_synced_bases_settling(bases, &[], None)
    }

    /// [`Catalog::set_synced_bases`], and in the same transaction the
    /// dirty marks of `settle` (dirty-set items of photos whose base is
    /// written and which planned nothing) are cleared, unless a change
    /// the plan did not account for (`settled`) marked them since.
    pub fn set_synced_bases_settling(
        &self,
        bases: &[(PhotoKey, SyncedBase)],
        settle: &[String],
        settled: Option<(AccountId, super::dirty::Settled)>,
    ) -> Result<()> {
        self.write("recording merge bases", |tx| {
            let settle = match settled {
                Some((a, s)) => (a, super::dirty::accounted_for(tx, a, settle, s)?),
                None => (AccountId(0), Vec::new()),
            };
            let mut st = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO synced (photo_id, title, description, tags, privacy, sets, checksum, pools) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .ctx("recording merge bases")?;
            for (photo, b) in bases {
                let mut sets: Vec<&str> = b.sets.iter().map(|s| s.as_str()).collect();
                sets.sort_unstable();
                sets.dedup();
                let mut pools: Vec<&str> = b.pools.iter().map(|g| g.as_str()).collect();
                pools.sort_unstable();
                pools.dedup();
                st.execute(params![
                    photo.0,
                    b.title,
                    b.description,
                    tags_json(&b.tags),
                    b.privacy.as_str(),
                    serde_json::to_string(&sets).unwrap_or_else(|_| "[]".into()),
                    b.checksum.as_ref().map(|c| c.as_str().to_string()),
                    serde_json::to_string(&pools).unwrap_or_else(|_| "[]".into()),
                ])
                .ctx("recording merge bases")?;
            }
            super::dirty::clear(tx, settle.0, &settle.1)
        })
    }

    /// Journals an intent before acting; returns its id.
    pub fn journal_begin(&self, account: AccountId, intent: &Intent) -> Result<JournalId> {
        let json = serde_json::to_string(intent).map_err(|e| CatalogError::InvalidValue {
            what: "journal intent".into(),
            message: e.to_string(),
        })?;
        self.write("journaling", |tx| {
            tx.exec(
                "INSERT INTO journal (account_id, intent, started_at) VALUES (?1, ?2, ?3)",
                params![account.0, json, now_secs()],
            )
            .ctx("journaling")?;
            Ok(JournalId(tx.last_insert_rowid()))
        })
    }

    /// Closes an intent after the action succeeded.
    pub fn journal_finish(&self, id: JournalId) -> Result<()> {
        self.write("journaling", |tx| {
            let n = tx
                .execute(
                    "UPDATE journal SET finished_at = ?2 WHERE id = ?1",
                    params![id.0, now_secs()],
                )
                .ctx("journaling")?;
            if n == 0 {
                return Err(CatalogError::NotFound(format!("journal entry #{id}")));
            }
            Ok(())
        })
    }

    fn journal_query(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<JournalEntry>> {
        self.conn
            .cached_rows(sql, params, |r| {
                let intent: String = r.get(2)?;
                Ok(JournalEntry {
                    id: JournalId(r.get(0)?),
                    account: AccountId(r.get(1)?),
                    intent: serde_json::from_str(&intent).unwrap_or(Intent::Other { what: intent }),
                    started_at: r.get(3)?,
                    finished_at: r.get(4)?,
                })
            })
            .ctx("reading the journal")
    }

    /// Intents begun and never finished (to resume after a crash), oldest first.
    pub fn journal_open(&self, account: AccountId) -> Result<Vec<JournalEntry>> {
        self.journal_query(
            "SELECT id, account_id, intent, started_at, finished_at FROM journal \
             WHERE account_id = ?1 AND finished_at IS NULL ORDER BY id",
            [account.0],
        )
    }

    /// The last `limit` journal rows, newest first.
    pub fn journal_recent(&self, account: AccountId, limit: u32) -> Result<Vec<JournalEntry>> {
        self.journal_query(
            "SELECT id, account_id, intent, started_at, finished_at FROM journal \
             WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2",
            params![account.0, limit],
        )
    }

    /// Deletes finished journal rows older than `before` (Unix seconds).
    pub fn journal_prune(&self, before: i64) -> Result<u64> {
        self.write("pruning the journal", |tx| {
            tx.exec(
                "DELETE FROM journal WHERE finished_at IS NOT NULL AND finished_at < ?1",
                [before],
            )
            .ctx("pruning the journal")
            .map(|n| n as u64)
        })
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
        self.write("recording a problem", |tx| {
            put_problem(tx, account, photo, kind, message)
        })
    }

    /// Flickr refused these values of `photo`'s fields (`refused`: field and
    /// a digest of the value): they are reported once, with `message`, and
    /// not sent again until the value changes ([`Catalog::refused_edits`]).
    pub fn record_refused_edit(
        &self,
        account: AccountId,
        photo: PhotoKey,
        refused: &RefusedEdits,
        message: &str,
    ) -> Result<()> {
        self.write("recording a refused edit", |tx| {
            for (field, digest) in refused {
                tx.exec(
                    "INSERT INTO refused_edits (photo_id, field, digest) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (photo_id, field) DO UPDATE SET digest = excluded.digest",
                    params![photo.0, field.as_str(), digest],
                )
                .ctx("recording a refused edit")?;
            }
            put_problem(tx, account, Some(photo), ProblemKind::Refused, message)?;
            Ok(())
        })
    }

    /// The refused values of every photo of `account`.
    pub fn refused_edits(&self, account: AccountId) -> Result<HashMap<PhotoKey, RefusedEdits>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT r.photo_id, r.field, r.digest FROM refused_edits r \
                 JOIN photos p ON p.id = r.photo_id WHERE p.account_id = ?1",
            )
            .ctx("reading refused edits")?;
        let rows = st
            .query_map([account.0], |r| {
                Ok((
                    PhotoKey(r.get(0)?),
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .ctx("reading refused edits")?;
        let mut out: HashMap<PhotoKey, RefusedEdits> = HashMap::new();
        for row in rows {
            let (photo, field, digest) = row.ctx("reading refused edits")?;
            if let Some(field) = meta_field(&field) {
                out.entry(photo).or_default().insert(field, digest);
            }
        }
        Ok(out)
    }

    /// Clears problems of an account, optionally only one photo's and/or one kind.
    pub fn clear_problems(
        &self,
        account: AccountId,
        photo: Option<PhotoKey>,
        kind: Option<ProblemKind>,
    ) -> Result<u64> {
        self.write("clearing problems", |tx| {
            tx.exec(
                "DELETE FROM problems WHERE account_id = ?1 AND (?2 IS NULL OR photo_id = ?2) \
                 AND (?3 IS NULL OR kind = ?3)",
                params![account.0, photo.map(|p| p.0), kind.map(|k| k.as_str())],
            )
            .ctx("clearing problems")
            .map(|n| n as u64)
        })
    }

    /// Problems of one account or all, newest first.
    pub fn problems(&self, account: Option<AccountId>) -> Result<Vec<Problem>> {
        self.conn
            .cached_rows(
                "SELECT id, account_id, photo_id, kind, message, at FROM problems \
                 WHERE (?1 IS NULL OR account_id = ?1) ORDER BY id DESC",
                [account.map(|a| a.0)],
                |r| {
                    let kind: String = r.get(3)?;
                    Ok(Problem {
                        id: ProblemId(r.get(0)?),
                        account: AccountId(r.get(1)?),
                        photo: r.get::<_, Option<i64>>(2)?.map(PhotoKey),
                        kind: ProblemKind::ALL
                            .into_iter()
                            .find(|k| k.as_str() == kind)
                            .unwrap_or(ProblemKind::Other),
                        message: r.get(4)?,
                        at: r.get(5)?,
                    })
                },
            )
            .ctx("reading problems")
    }
}

fn write_meta(tx: &Tx, photo: PhotoKey, meta: &LocalMeta) -> Result<()> {
    let n = tx
        .execute(
            "UPDATE photos SET title = ?2, description = ?3, tags = ?4, privacy = ?5, resize = ?6, skip = ?7 \
             WHERE id = ?1",
            params![
                photo.0,
                meta.title,
                meta.description,
                meta.tags.as_ref().map(|t| tags_json(t)),
                meta.privacy.map(|p| p.as_str()),
                meta.resize.map(|r| r.to_string()),
                meta.skip
            ],
        )
        .ctx("recording metadata")?;
    if n == 0 {
        return Err(CatalogError::NotFound(format!("photo #{photo}")));
    }
    Ok(())
}

/// See [`Catalog::take_flickr_meta`]: each name of `photo` not yet made
/// from its (new) title is renamed to it, unique in its folder.
fn names_follow_title(
    tx: &Tx,
    photo: PhotoKey,
) -> Result<Vec<(CollectionId, names::EntryName, names::EntryName)>> {
    let p = load_photo(tx, photo)?;
    let base = default_name(&p);
    let id = p.remote_id().map(|i| i.as_str().to_owned());
    let current: Vec<(i64, String)> = {
        let mut st = tx
            .prepare_cached(
                "SELECT collection_id, name FROM memberships WHERE photo_id = ?1 \
                 ORDER BY collection_id, name",
            )
            .ctx("renaming after a new title")?;
        let rows = st
            .query_map([photo.0], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx("renaming after a new title")?;
        rows.collect::<rusqlite::Result<_>>()
            .ctx("renaming after a new title")?
    };
    let mut renamed = Vec::new();
    for (coll, name) in current {
        let old = names::EntryName::from_trusted(name);
        if crate::media::is_junk_name(old.as_str()) || names::is_form_of(&old, &base, id.as_deref())
        {
            continue;
        }
        let c = load_collection(tx, CollectionId(coll))?;
        let new = unique_name(tx, &c, &base, p.remote_id())?;
        tx.prepare_cached(
            "UPDATE memberships SET name = ?3 WHERE collection_id = ?1 AND name = ?2",
        )
        .ctx("renaming after a new title")?
        .execute(params![coll, old.as_str(), new.as_str()])
        .ctx("renaming after a new title")?;
        tx.touch_entry(c.id, photo);
        renamed.push((c.id, old, new));
    }
    Ok(renamed)
}

fn base_from_row(r: &rusqlite::Row) -> rusqlite::Result<SyncedBase> {
    let sets: Vec<String> = serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default();
    let pools: Vec<String> = serde_json::from_str(&r.get::<_, String>(6)?).unwrap_or_default();
    Ok(SyncedBase {
        title: r.get(0)?,
        description: r.get(1)?,
        tags: json_tags(&r.get::<_, String>(2)?),
        privacy: r.get::<_, String>(3)?.parse().unwrap_or_default(),
        sets: sets.into_iter().map(SetId).collect(),
        pools: pools.into_iter().map(GroupId).collect(),
        checksum: r.get::<_, Option<String>>(5)?.map(crate::media::Checksum),
    })
}

fn remote_key(tx: &Tx, account: AccountId, id: &PhotoId) -> Result<Option<PhotoKey>> {
    tx.prepare_cached("SELECT id FROM photos WHERE account_id = ?1 AND remote_id = ?2")
        .ctx("finding a photo")?
        .query_row(params![account.0, id.as_str()], |r| Ok(PhotoKey(r.get(0)?)))
        .optional()
        .ctx("finding a photo")
}

/// Records the Flickr side of `photo`. The date taken is set only where none
/// is known (see [`Catalog::set_date_taken`]).
fn set_remote_cols(tx: &Tx, photo: PhotoKey, r: &RemotePhoto) -> Result<()> {
    tx.prepare_cached(
        "UPDATE photos SET remote_id = ?2, r_title = ?3, r_description = ?4, r_tags = ?5, r_public = ?6, \
         r_friend = ?7, r_family = ?8, \
         r_date_taken = COALESCE(r_date_taken, ?9), \
         r_granularity = CASE WHEN r_date_taken IS NULL THEN ?10 ELSE r_granularity END, \
         r_format = ?11, \
         r_orig_secret = ?12, r_secret = ?13, r_server = ?14, r_url = ?15, r_lastupdate = ?16, r_video = ?17, \
         r_checksum = ?18, junk = 0 WHERE id = ?1",
    )
    .ctx("recording a Flickr photo")?
    .execute(params![
        photo.0,
        r.id.as_str(),
        r.title,
        r.description,
        tags_json(&r.tags),
        r.visibility.is_public,
        r.visibility.is_friend,
        r.visibility.is_family,
        r.date_taken.as_ref().map(|t| t.as_str().to_string()),
        r.granularity.code(),
        r.original_format,
        r.original_secret,
        r.secret,
        r.server,
        r.url_original,
        r.lastupdate,
        r.media_video,
        r.checksum_tag.as_ref().map(|c| c.as_str().to_string()),
    ])
    .ctx("recording a Flickr photo")?;
    Ok(())
}

fn add_member(tx: &Tx, c: &Collection, photo: PhotoKey) -> Result<()> {
    let p = load_photo(tx, photo)?;
    if p.account != c.account {
        return Err(CatalogError::CrossAccount(format!(
            "photo #{photo} into folder '{}'",
            c.name
        )));
    }
    let name = unique_name(tx, c, &default_name(&p), p.remote_id())?;
    insert_membership(tx, c.id, &name, photo)?;
    fix_root(tx, photo, None)?;
    Ok(())
}

fn remove_member(tx: &Tx, c: &Collection, photo: PhotoKey) -> Result<()> {
    let name: Option<String> = tx
        .cached_row(
            "SELECT name FROM memberships WHERE collection_id = ?1 AND photo_id = ?2 ORDER BY name LIMIT 1",
            params![c.id.0, photo.0],
            |r| r.get(0),
        )
        .optional()
        .ctx("removing a member")?;
    delete_photo_from(tx, c.id, photo)?;
    let preferred = name.map(names::EntryName::from_trusted);
    fix_root(tx, photo, preferred.as_ref())?;
    Ok(())
}

fn unique_pool_name(
    tx: &Tx,
    account: AccountId,
    title: &str,
    fallback: &str,
    except: Option<i64>,
) -> Result<names::EntryName> {
    let base = names::name_for_title(title, None, fallback);
    let taken = |n: &names::EntryName| -> Result<bool> {
        tx.cached_row(
            "SELECT EXISTS (SELECT 1 FROM collections WHERE account_id = ?1 AND kind = 'pool' \
             AND name = ?2 AND id != ?3)",
            params![account.0, n.as_str(), except.unwrap_or(-1)],
            |r| r.get(0),
        )
        .ctx("naming a pool")
    };
    names::first_free(base, Some(fallback), |n| Ok(!taken(n)?))
}
