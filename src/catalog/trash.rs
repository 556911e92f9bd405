//! The trash of the mount (freedesktop.org Trash specification): a file
//! manager's Delete key moves an entry into `MOUNT/.Trash-$UID/files/`.
//! That means what `rm` of the entry means (out of that set; in the account
//! folder, the photo is no longer listed nor uploaded), and the trash keeps
//! a record of it, so that moving it back restores it, memberships
//! included, and emptying the trash finishes what `rm` would have done.
//! Nothing here deletes a byte of any file, nor anything on Flickr.

use rusqlite::{params, OptionalExtension};

use super::error::{CatalogError, Result};
use super::handle::Catalog;
use super::names::EntryName;
use super::store::*;
use super::types::*;

/// One entry in the trash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trashed {
    pub id: TrashId,
    pub account: AccountId,
    pub photo: PhotoKey,
    /// Its name in the trash's `files/` folder.
    pub name: String,
    /// Where it was: the folder (gone if that set was deleted since) and
    /// its name there.
    pub origin: Option<CollectionId>,
    pub origin_name: EntryName,
    /// Trashed in the account folder: the photo is held (neither listed
    /// nor uploaded) until the trash is emptied or it is restored.
    pub held: bool,
    /// The photo's backing file, size and mtime, for the listing.
    pub path: Option<std::path::PathBuf>,
    pub size: u64,
    pub mtime_ns: i64,
}

/// A row of the trash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrashId(pub i64);

const SELECT: &str =
    "SELECT t.id, t.account_id, t.photo_id, t.name, t.collection_id, t.origin_name, \
     t.held, p.path, COALESCE(p.size, 0), COALESCE(p.mtime_ns, 0) \
     FROM trash t JOIN photos p ON p.id = t.photo_id";

fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Trashed> {
    Ok(Trashed {
        id: TrashId(r.get(0)?),
        account: AccountId(r.get(1)?),
        photo: PhotoKey(r.get(2)?),
        name: r.get(3)?,
        origin: r.get::<_, Option<i64>>(4)?.map(CollectionId),
        origin_name: EntryName::from_trusted(r.get(5)?),
        held: r.get(6)?,
        path: r.get::<_, Option<Vec<u8>>>(7)?.map(blob_path),
        size: r.get::<_, i64>(8)?.max(0) as u64,
        mtime_ns: r.get(9)?,
    })
}

fn trashed_named(c: &rusqlite::Connection, name: &str) -> Result<Option<Trashed>> {
    c.prepare_cached(&format!("{SELECT} WHERE t.name = ?1"))
        .ctx("reading the trash")?
        .query_row([name], from_row)
        .optional()
        .ctx("reading the trash")
}

impl Catalog {
    /// Everything in the trash, oldest first.
    pub fn trashed(&self) -> Result<Vec<Trashed>> {
        self.conn
            .cached_rows(&format!("{SELECT} ORDER BY t.id"), [], from_row)
            .ctx("reading the trash")
    }

    /// The trash entry `id`.
    pub fn trashed_by_id(&self, id: TrashId) -> Result<Option<Trashed>> {
        self.conn
            .prepare_cached(&format!("{SELECT} WHERE t.id = ?1"))
            .ctx("reading the trash")?
            .query_row([id.0], from_row)
            .optional()
            .ctx("reading the trash")
    }

    /// The entry called `name` in the trash.
    pub fn trashed_named(&self, name: &str) -> Result<Option<Trashed>> {
        trashed_named(&self.conn, name)
    }

    /// The entry `name` of `collection` goes to the trash as `trash_name`.
    /// It means what [`Catalog::unlink`] means, except that a photo leaving
    /// the account folder is held rather than forgotten or ignored, so that
    /// [`Catalog::restore_trashed`] can bring it back. `Exists` when the
    /// trash already holds `trash_name`.
    pub fn trash(
        &self,
        collection: CollectionId,
        name: &EntryName,
        trash_name: &str,
    ) -> Result<Trashed> {
        self.write("moving to the trash", |tx| {
            if trashed_named(tx, trash_name)?.is_some() {
                return Err(CatalogError::Exists(format!("'{trash_name}' in the trash")));
            }
            let c = load_listed_collection(tx, collection)?;
            let e = require_entry(tx, &c, name)?;
            let p = load_photo(tx, e.photo)?;
            // a junk or half-written file that loses its last name would
            // leave the catalog (`unlink`): held instead, until emptied
            let disposable =
                p.remote.is_none() && (p.junk || p.local.as_ref().is_some_and(|l| l.writing));
            delete_membership(tx, c.id, name)?;
            let held = count_names(tx, e.photo)? == 0 && (c.is_root() || disposable);
            if held {
                tx.exec("UPDATE photos SET ignored = 1 WHERE id = ?1", [e.photo.0])
                    .ctx("moving to the trash")?;
                tx.touch_photo(e.photo)?;
            } else {
                fix_root(tx, e.photo, Some(name))?;
            }
            tx.exec(
                "INSERT INTO trash (account_id, photo_id, name, collection_id, origin_name, held, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    c.account.0,
                    e.photo.0,
                    trash_name,
                    c.id.0,
                    name.as_str(),
                    held,
                    now_secs()
                ],
            )
            .ctx("moving to the trash")?;
            tx.touch_account(c.account);
            trashed_named(tx, trash_name)?
                .ok_or_else(|| CatalogError::NotFound(format!("'{trash_name}' in the trash")))
        })
    }

    /// Moves `trash_name` out of the trash to `name` in `collection` (its
    /// own folder and name, to undo; or anywhere in its account): the photo
    /// is listed and uploaded again as before it was trashed.
    pub fn restore_trashed(
        &self,
        trash_name: &str,
        collection: CollectionId,
        name: &EntryName,
    ) -> Result<Entry> {
        self.write("restoring from the trash", |tx| {
            let t = trashed_named(tx, trash_name)?
                .ok_or_else(|| CatalogError::NotFound(format!("'{trash_name}' in the trash")))?;
            let c = load_listed_collection(tx, collection)?;
            if c.account != t.account {
                return Err(CatalogError::CrossAccount(format!(
                    "'{trash_name}' came from another account"
                )));
            }
            if taken_in(tx, &c, name.as_str())? {
                return Err(CatalogError::Exists(format!("'{name}' in folder '{}'", c.name)));
            }
            if t.held {
                tx.exec("UPDATE photos SET ignored = 0 WHERE id = ?1", [t.photo.0])
                    .ctx("restoring from the trash")?;
                tx.touch_photo(t.photo)?;
            }
            if c.is_root() && folder_count(tx, t.photo)? > 0 {
                return Err(CatalogError::NotPermitted(format!(
                    "'{name}': the photo is in sets or pools, and the account folder lists only photos in no set and no pool"
                )));
            }
            insert_membership(tx, c.id, name, t.photo)?;
            fix_root(tx, t.photo, None)?;
            tx.exec("DELETE FROM trash WHERE id = ?1", [t.id.0])
                .ctx("restoring from the trash")?;
            tx.touch_account(t.account);
            require_entry(tx, &c, name)
        })
    }

    /// Empties `trash_name` from the trash: what `rm` of the entry would
    /// have done is finished (a photo held from the account folder leaves
    /// the catalog when it is only local, or stays ignored when it is on
    /// Flickr). No file is deleted, nothing changes on Flickr.
    pub fn empty_trashed(&self, trash_name: &str) -> Result<Trashed> {
        self.write("emptying the trash", |tx| {
            let t = trashed_named(tx, trash_name)?
                .ok_or_else(|| CatalogError::NotFound(format!("'{trash_name}' in the trash")))?;
            tx.exec("DELETE FROM trash WHERE id = ?1", [t.id.0])
                .ctx("emptying the trash")?;
            if t.held {
                let p = load_photo(tx, t.photo)?;
                let still_held = p.ignored && count_names(tx, t.photo)? == 0;
                if still_held && p.remote.is_none() {
                    delete_photo_row(tx, t.photo)?;
                }
            }
            tx.touch_account(t.account);
            Ok(t)
        })
    }

    /// Renames an entry inside the trash.
    pub fn rename_trashed(&self, from: &str, to: &str) -> Result<()> {
        self.write("renaming in the trash", |tx| {
            if from == to {
                return Ok(());
            }
            if trashed_named(tx, to)?.is_some() {
                return Err(CatalogError::Exists(format!("'{to}' in the trash")));
            }
            let t = trashed_named(tx, from)?
                .ok_or_else(|| CatalogError::NotFound(format!("'{from}' in the trash")))?;
            tx.exec(
                "UPDATE trash SET name = ?2 WHERE id = ?1",
                params![t.id.0, to],
            )
            .ctx("renaming in the trash")?;
            tx.touch_account(t.account);
            Ok(())
        })
    }
}
