//! Reads: accounts, collections, entries (folder listings, lookups), photos.
//! Also account registration.

use std::path::Path;

use rusqlite::{params, OptionalExtension};

use crate::media::Checksum;
use crate::model::{Nsid, PhotoId, SetId};

use super::error::{CatalogError, Result};
use super::handle::Catalog;
use super::names::EntryName;
use super::store::*;
use super::types::*;

impl Catalog {
    /// Registers an account, or updates the username, folder name and default
    /// folder of the account with this nsid. Creates its root collection.
    /// `InvalidName` for a folder name that is not a valid entry name or is
    /// `.flickrfs`; `Exists` if another account uses that folder name.
    pub fn add_account(
        &self,
        nsid: &Nsid,
        username: &str,
        collection_name: &str,
        default_folder: &Path,
    ) -> Result<Account> {
        let name = EntryName::new(collection_name)?;
        if name.as_str() == ".flickrfs" {
            return Err(CatalogError::InvalidName {
                name: collection_name.to_string(),
                reason: "reserved for the control folder".into(),
            });
        }
        let id = self.write("registering an account", |tx| {
            let other: Option<String> = tx
                .cached_row(
                    "SELECT nsid FROM accounts WHERE collection_name = ?1",
                    [name.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .ctx("registering an account")?;
            if other.as_deref().is_some_and(|o| o != nsid.as_str()) {
                return Err(CatalogError::Exists(format!(
                    "another account already uses the folder name '{name}'"
                )));
            }
            let existing: Option<i64> = tx
                .cached_row("SELECT id FROM accounts WHERE nsid = ?1", [nsid.as_str()], |r| r.get(0))
                .optional()
                .ctx("registering an account")?;
            let id = match existing {
                Some(id) => {
                    tx.exec(
                        "UPDATE accounts SET username = ?2, collection_name = ?3, default_folder = ?4 WHERE id = ?1",
                        params![id, username, name.as_str(), path_blob(default_folder)],
                    )
                    .ctx("updating an account")?;
                    tx.exec(
                        "UPDATE collections SET name = ?2, title = ?3 WHERE account_id = ?1 AND kind = 'root'",
                        params![id, name.as_str(), username],
                    )
                    .ctx("updating an account")?;
                    id
                }
                None => {
                    tx.exec(
                        "INSERT INTO accounts (nsid, username, collection_name, default_folder) VALUES (?1, ?2, ?3, ?4)",
                        params![nsid.as_str(), username, name.as_str(), path_blob(default_folder)],
                    )
                    .ctx("registering an account")?;
                    let id = tx.last_insert_rowid();
                    tx.exec(
                        "INSERT INTO collections (account_id, kind, name, title) VALUES (?1, 'root', ?2, ?3)",
                        params![id, name.as_str(), username],
                    )
                    .ctx("creating the account folder")?;
                    id
                }
            };
            tx.touch_account(AccountId(id));
            Ok(AccountId(id))
        })?;
        self.account(id)
    }

    /// All accounts, by collection name.
    pub fn accounts(&self) -> Result<Vec<Account>> {
        self.conn
            .cached_rows(
                &format!("SELECT {ACCOUNT_COLS} FROM {ACCOUNT_FROM} ORDER BY a.collection_name"),
                [],
                account_from_row,
            )
            .ctx("listing accounts")
    }

    /// One account (`NotFound` if absent).
    pub fn account(&self, id: AccountId) -> Result<Account> {
        load_account(&self.conn, id)
    }

    pub fn account_by_nsid(&self, nsid: &Nsid) -> Result<Option<Account>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS} FROM {ACCOUNT_FROM} WHERE a.nsid = ?1"
            ))
            .ctx("finding an account")?
            .query_row([nsid.as_str()], account_from_row)
            .optional()
            .ctx("finding an account")
    }

    /// The account whose folder in the mount is called `name`.
    pub fn account_by_name(&self, name: &EntryName) -> Result<Option<Account>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS} FROM {ACCOUNT_FROM} WHERE a.collection_name = ?1"
            ))
            .ctx("finding an account")?
            .query_row([name.as_str()], account_from_row)
            .optional()
            .ctx("finding an account")
    }

    /// Stores Flickr's `lastupdate` high-water mark for incremental fetches.
    pub fn set_sync_cursor(&self, account: AccountId, cursor: Option<i64>) -> Result<()> {
        self.write("saving the sync cursor", |tx| {
            let n = tx
                .execute(
                    "UPDATE accounts SET sync_cursor = ?2 WHERE id = ?1",
                    params![account.0, cursor],
                )
                .ctx("saving the sync cursor")?;
            if n == 0 {
                return Err(CatalogError::NotFound(format!("account #{account}")));
            }
            Ok(())
        })
    }

    /// One collection (`NotFound` if absent).
    pub fn collection(&self, id: CollectionId) -> Result<Collection> {
        load_collection(&self.conn, id)
    }

    fn collections_where(&self, account: AccountId, filter: &str) -> Result<Vec<Collection>> {
        self.conn
            .cached_rows(&format!(
                "SELECT {COLL_COLS} FROM collections WHERE account_id = ?1 AND {filter} ORDER BY name, id"
            ), [account.0], collection_from_row)
            .ctx("listing folders")
    }

    /// The photosets listed in the mount (not those pending deletion), by name.
    pub fn sets(&self, account: AccountId) -> Result<Vec<Collection>> {
        self.collections_where(account, "kind = 'set' AND state = 'normal'")
    }

    /// Every (photo, collection) membership of the account, in one query
    /// (the sync's snapshot of a large library).
    pub fn account_memberships(&self, account: AccountId) -> Result<Vec<(PhotoKey, CollectionId)>> {
        self.conn
            .cached_rows(
                "SELECT m.photo_id, m.collection_id FROM memberships m \
                 JOIN collections c ON c.id = m.collection_id WHERE c.account_id = ?1",
                [account.0],
                |r| Ok((PhotoKey(r.get(0)?), CollectionId(r.get(1)?))),
            )
            .ctx("listing memberships")
    }

    /// The group pools of the account, by name.
    pub fn pools(&self, account: AccountId) -> Result<Vec<Collection>> {
        self.collections_where(account, "kind = 'pool'")
    }

    /// Every collection of the account, including sets pending deletion.
    pub fn collections(&self, account: AccountId) -> Result<Vec<Collection>> {
        self.collections_where(account, "1")
    }

    /// The listed photoset whose folder is called `name`.
    pub fn lookup_set(&self, account: AccountId, name: &EntryName) -> Result<Option<Collection>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLL_COLS} FROM collections WHERE account_id = ?1 AND kind = 'set' \
                 AND state = 'normal' AND name = ?2"
            ))
            .ctx("finding a set")?
            .query_row(params![account.0, name.as_str()], collection_from_row)
            .optional()
            .ctx("finding a set")
    }

    /// The pool whose folder (under `Pools/`) is called `name`.
    pub fn lookup_pool(&self, account: AccountId, name: &EntryName) -> Result<Option<Collection>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLL_COLS} FROM collections WHERE account_id = ?1 AND kind = 'pool' AND name = ?2"
            ))
            .ctx("finding a pool")?
            .query_row(params![account.0, name.as_str()], collection_from_row)
            .optional()
            .ctx("finding a pool")
    }

    /// The photoset with this Flickr id (even if pending deletion).
    pub fn set_by_remote_id(&self, account: AccountId, id: &SetId) -> Result<Option<Collection>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLL_COLS} FROM collections WHERE account_id = ?1 AND kind = 'set' AND remote_id = ?2"
            ))
            .ctx("finding a set")?
            .query_row(params![account.0, id.as_str()], collection_from_row)
            .optional()
            .ctx("finding a set")
    }

    /// A folder's entries, by name: one indexed query.
    pub fn list(&self, collection: CollectionId) -> Result<Vec<Entry>> {
        self.conn
            .cached_rows(
                &format!(
                    "{ENTRY_SELECT} WHERE m.collection_id = ?1 AND p.ignored = 0 ORDER BY m.name"
                ),
                [collection.0],
                entry_from_row,
            )
            .ctx("listing a folder")
    }

    /// The names `photo` has in a folder (none when it is not listed there).
    pub fn names_in(&self, collection: CollectionId, photo: PhotoKey) -> Result<Vec<Entry>> {
        self.conn
            .cached_rows(
                &format!(
                "{ENTRY_SELECT} WHERE m.photo_id = ?2 AND m.collection_id = ?1 AND p.ignored = 0"
            ),
                params![collection.0, photo.0],
                entry_from_row,
            )
            .ctx("listing a photo's names")
    }

    /// Number of entries listed in a folder.
    pub fn count_entries(&self, collection: CollectionId) -> Result<u64> {
        self.conn
            .prepare_cached(
                "SELECT COUNT(*) FROM memberships m JOIN photos p ON p.id = m.photo_id \
                 WHERE m.collection_id = ?1 AND p.ignored = 0",
            )
            .ctx("counting entries")?
            .query_row([collection.0], |r| r.get::<_, i64>(0))
            .ctx("counting entries")
            .map(|n| n.max(0) as u64)
    }

    /// The entry called `name` in a folder.
    pub fn lookup(&self, collection: CollectionId, name: &EntryName) -> Result<Option<Entry>> {
        lookup_entry(&self.conn, collection, name)
    }

    /// Every name of a photo in every folder.
    pub fn entries_of(&self, photo: PhotoKey) -> Result<Vec<Entry>> {
        self.conn
            .cached_rows(
                &format!("{ENTRY_SELECT} WHERE m.photo_id = ?1 ORDER BY m.collection_id, m.name"),
                [photo.0],
                entry_from_row,
            )
            .ctx("listing a photo's names")
    }

    /// Every name a photo that is not ignored has, in every folder (the
    /// names the mount lists for it).
    pub fn listed_names_of(&self, photo: PhotoKey) -> Result<Vec<Entry>> {
        self.conn
            .cached_rows(
                &format!("{ENTRY_SELECT} WHERE m.photo_id = ?1 AND p.ignored = 0"),
                [photo.0],
                entry_from_row,
            )
            .ctx("listing a photo's names")
    }

    /// The collections a photo is a member of (root included when listed there).
    pub fn memberships(&self, photo: PhotoKey) -> Result<Vec<CollectionId>> {
        let mut v = photo_collections(&self.conn, photo)?;
        v.sort();
        Ok(v)
    }

    /// One photo (`NotFound` if absent).
    pub fn photo(&self, key: PhotoKey) -> Result<Photo> {
        load_photo(&self.conn, key)
    }

    fn photos_where(&self, account: AccountId, filter: &str) -> Result<Vec<Photo>> {
        self.conn
            .cached_rows(
                &format!(
                "SELECT {PHOTO_COLS} FROM photos WHERE account_id = ?1 AND {filter} ORDER BY id"
            ),
                [account.0],
                photo_from_row,
            )
            .ctx("listing photos")
    }

    /// Calls `f` with every photo of an account (ignored ones included), by
    /// key, one row at a time (a large library is never held twice).
    pub fn for_each_photo(
        &self,
        account: AccountId,
        mut f: impl FnMut(Photo) -> Result<()>,
    ) -> Result<()> {
        let mut st = self
            .conn
            .prepare_cached(&format!(
                "SELECT {PHOTO_COLS} FROM photos WHERE account_id = ?1 ORDER BY id"
            ))
            .ctx("listing photos")?;
        let rows = st
            .query_map([account.0], photo_from_row)
            .ctx("listing photos")?;
        for r in rows {
            f(r.ctx("listing photos")?)?;
        }
        Ok(())
    }

    /// Every photo of an account (ignored ones included), by key.
    pub fn photos(&self, account: AccountId) -> Result<Vec<Photo>> {
        self.photos_where(account, "1")
    }

    pub fn photo_by_remote_id(&self, account: AccountId, id: &PhotoId) -> Result<Option<Photo>> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {PHOTO_COLS} FROM photos WHERE account_id = ?1 AND remote_id = ?2"
            ))
            .ctx("finding a photo")?
            .query_row(params![account.0, id.as_str()], photo_from_row)
            .optional()
            .ctx("finding a photo")
    }

    /// Photos of the account whose local file has this checksum.
    pub fn photos_by_checksum(
        &self,
        account: AccountId,
        checksum: &Checksum,
    ) -> Result<Vec<PhotoKey>> {
        self.conn
            .cached_rows(
                "SELECT id FROM photos WHERE account_id = ?1 AND checksum = ?2 ORDER BY id",
                params![account.0, checksum.as_str()],
                |r| Ok(PhotoKey(r.get(0)?)),
            )
            .ctx("finding photos by checksum")
    }

    /// Photos with a backing file the catalog believes is there (finished,
    /// not marked missing).
    pub fn photos_with_files(&self, account: AccountId) -> Result<Vec<Photo>> {
        self.photos_where(account, "path IS NOT NULL AND missing = 0 AND writing = 0")
    }

    /// The photos on Flickr with no file on disk whose original's size is
    /// not known yet (see [`Catalog::set_announced_sizes`]), with their
    /// original's URL.
    pub fn originals_without_size(&self, account: AccountId) -> Result<Vec<(PhotoKey, String)>> {
        self.conn
            .cached_rows(
                "SELECT id, r_url FROM photos WHERE account_id = ?1 AND path IS NULL \
                 AND size IS NULL AND r_url IS NOT NULL AND ignored = 0 ORDER BY id",
                [account.0],
                |r| Ok((PhotoKey(r.get(0)?), r.get(1)?)),
            )
            .ctx("listing originals")
    }

    /// Photos whose backing file is marked missing.
    pub fn missing_photos(&self, account: AccountId) -> Result<Vec<Photo>> {
        self.photos_where(account, "missing = 1")
    }

    /// Photos the user chose to ignore (restorable with
    /// [`Catalog::unignore`]); not the ones deleted on Flickr.
    pub fn ignored(&self, account: AccountId) -> Result<Vec<Photo>> {
        self.photos_where(account, "ignored = 1 AND gone_id IS NULL")
    }

    /// Photos deleted on Flickr whose files were kept (restorable with
    /// [`Catalog::unignore`], which queues them for upload).
    pub fn deleted_on_flickr(&self, account: AccountId) -> Result<Vec<Photo>> {
        self.photos_where(account, "ignored = 1 AND gone_id IS NOT NULL")
    }
}

impl Catalog {
    /// How many of `account`'s photos with a file on disk refer to the
    /// user's own files and how many to copies the mount wrote, with their
    /// bytes. Originals downloaded into the default folder count as
    /// neither.
    pub fn file_origins(&self, account: AccountId) -> Result<FileOrigins> {
        let a = self.account(account)?;
        let mut prefix = path_blob(&a.default_folder).to_vec();
        prefix.push(b'/');
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT (o.path IS NOT NULL), COUNT(*), COALESCE(SUM(p.size), 0) \
                 FROM photos p LEFT JOIN own_files o ON o.path = p.path \
                 WHERE p.account_id = ?1 AND p.path IS NOT NULL AND p.missing = 0 \
                 AND p.writing = 0 AND p.junk = 0 \
                 AND NOT (o.path IS NULL AND p.remote_id IS NOT NULL \
                          AND substr(p.path, 1, ?3) = ?2) \
                 GROUP BY 1",
            )
            .ctx("counting copies and references")?;
        let rows = st
            .query_map(params![account.0, prefix, prefix.len() as i64], |r| {
                Ok((
                    r.get::<_, bool>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .ctx("counting copies and references")?;
        let mut out = FileOrigins::default();
        for row in rows {
            let (own, n, bytes) = row.ctx("counting copies and references")?;
            if own {
                out.copies = n as u64;
                out.copy_bytes = bytes as u64;
            } else {
                out.references = n as u64;
                out.reference_bytes = bytes as u64;
            }
        }
        Ok(out)
    }
}
