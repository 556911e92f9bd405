//! Internal plumbing shared by the catalog's operations: the write
//! transaction (which bumps the generation and logs what changed), row
//! mapping, path encoding, the naming rule inside a folder, and the root
//! invariant.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};

use crate::media::{Checksum, ExifInfo, MediaKind};
use crate::model::{Granularity, GroupId, Nsid, PhotoId, Privacy, SetId, TakenAt, Visibility};

use super::error::{CatalogError, Result};
use super::names::{self, EntryName};
use super::types::*;

/// The folder name reserved in an account folder for the pools.
/// The name of the folder of group pools inside an account folder: no set,
/// entry or pool may take it there.
pub const POOLS_DIR: &str = "Pools";
/// How many generations of change rows are kept.
const CHANGES_KEPT: i64 = 20_000;

/// `query_row` through the connection's statement cache: the mount's
/// lookups run thousands of times a second and must not parse SQL each time.
pub(crate) trait CachedRow {
    fn cached_row<T, P: rusqlite::Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T>;

    /// Every row, each made by `f`, through the statement cache.
    fn cached_rows<T, P: rusqlite::Params, F: FnMut(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<Vec<T>>;

    /// `execute` through the statement cache (the write path of every file
    /// copied into the mount runs the same few statements).
    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl CachedRow for Connection {
    fn cached_row<T, P: rusqlite::Params, F: FnOnce(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn cached_rows<T, P: rusqlite::Params, F: FnMut(&Row<'_>) -> rusqlite::Result<T>>(
        &self,
        sql: &str,
        params: P,
        f: F,
    ) -> rusqlite::Result<Vec<T>> {
        let mut st = self.prepare_cached(sql)?;
        let rows = st.query_map(params, f)?;
        rows.collect()
    }

    fn exec<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

/// Whether any photo's backing file is `path`.
pub(crate) fn path_in_use(c: &Connection, path: &Path) -> Result<bool> {
    c.cached_row(
        "SELECT EXISTS (SELECT 1 FROM photos WHERE path = ?1)",
        [path_blob(path)],
        |r| r.get(0),
    )
    .ctx("looking up a file")
}

/// Whether the mount wrote `path` (see `FileAction`).
pub(crate) fn is_own_file(c: &Connection, path: &Path) -> Result<bool> {
    c.cached_row(
        "SELECT EXISTS (SELECT 1 FROM own_files WHERE path = ?1)",
        [path_blob(path)],
        |r| r.get(0),
    )
    .ctx("looking up a file")
}

/// Adds context to rusqlite errors.
pub(crate) trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T>;
}

impl<T> Ctx<T> for rusqlite::Result<T> {
    fn ctx(self, what: &str) -> Result<T> {
        self.map_err(|source| CatalogError::Db {
            context: what.to_string(),
            source,
        })
    }
}

pub(crate) fn path_blob(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

pub(crate) fn blob_path(b: Vec<u8>) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(&b))
}

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn json_tags(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// A write transaction (`BEGIN IMMEDIATE`) that remembers which collections,
/// entries and accounts it touched; `Catalog::write` logs them under a new
/// generation.
pub(crate) struct Tx<'c> {
    pub tx: Transaction<'c>,
    /// folders changed in ways not told photo by photo (renamed, deleted)
    collections: RefCell<BTreeSet<i64>>,
    /// (folder, photo): that photo's names or attributes in that folder
    entries: RefCell<BTreeSet<(i64, i64)>>,
    accounts: RefCell<BTreeSet<i64>>,
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.tx
    }
}

impl Tx<'_> {
    /// The folder changed as a whole (renamed, emptied, deleted): every
    /// name in it is looked at again.
    pub fn touch(&self, c: CollectionId) {
        self.collections.borrow_mut().insert(c.0);
    }
    /// `photo`'s names in `c` (added, removed) or its attributes changed;
    /// nothing else in `c` did.
    pub fn touch_entry(&self, c: CollectionId, photo: PhotoKey) {
        self.entries.borrow_mut().insert((c.0, photo.0));
    }
    pub fn touch_account(&self, a: AccountId) {
        self.accounts.borrow_mut().insert(a.0);
    }
    /// `photo`'s entries in every folder listing it.
    pub fn touch_photo(&self, photo: PhotoKey) -> Result<()> {
        for c in photo_collections(self, photo)? {
            self.touch_entry(c, photo);
        }
        Ok(())
    }
}

impl<'c> Tx<'c> {
    /// Starts an `IMMEDIATE` transaction on `conn` that has touched nothing yet.
    pub(crate) fn begin(conn: &'c Connection, what: &str) -> Result<Tx<'c>> {
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
            .ctx(&format!("{what}: starting a transaction"))?;
        Ok(Tx {
            tx,
            collections: RefCell::new(BTreeSet::new()),
            entries: RefCell::new(BTreeSet::new()),
            accounts: RefCell::new(BTreeSet::new()),
        })
    }

    /// Bumps the generation and logs the touched collections/accounts (when
    /// anything was touched), then commits.
    pub(crate) fn commit_logged(self, what: &str) -> Result<()> {
        let tx = self;
        let colls = std::mem::take(&mut *tx.collections.borrow_mut());
        let entries = std::mem::take(&mut *tx.entries.borrow_mut());
        let accts = std::mem::take(&mut *tx.accounts.borrow_mut());
        if !colls.is_empty() || !entries.is_empty() || !accts.is_empty() {
            let gen: i64 = tx
                .cached_row(
                    "UPDATE meta SET value = value + 1 WHERE key = 'generation' RETURNING value",
                    [],
                    |r| r.get(0),
                )
                .ctx(&format!("{what}: bumping the generation"))?;
            {
                let mut ins = tx
                    .prepare_cached("INSERT INTO changes (generation, collection_id, account_id, photo_id) VALUES (?1, ?2, ?3, ?4)")
                    .ctx("logging changes")?;
                let none = Option::<i64>::None;
                for (c, p) in entries.into_iter().filter(|(c, _)| !colls.contains(c)) {
                    ins.execute(params![gen, c, none, p])
                        .ctx("logging changes")?;
                }
                for c in colls {
                    ins.execute(params![gen, c, none, none])
                        .ctx("logging changes")?;
                }
                for a in accts {
                    ins.execute(params![gen, none, a, none])
                        .ctx("logging changes")?;
                }
            }
            if gen % 1000 == 0 {
                let floor = gen - CHANGES_KEPT;
                if floor > 0 {
                    tx.exec("DELETE FROM changes WHERE generation <= ?1", [floor])
                        .ctx("pruning the change log")?;
                    tx.exec(
                        "UPDATE meta SET value = MAX(value, ?1) WHERE key = 'changes_floor'",
                        [floor],
                    )
                    .ctx("pruning the change log")?;
                }
            }
        }
        tx.tx.commit().ctx(&format!("{what}: committing"))?;
        Ok(())
    }
}

// ---------------------------------------------------------------- rows

pub(crate) const ACCOUNT_COLS: &str =
    "a.id, a.nsid, a.username, a.collection_name, a.default_folder, a.sync_cursor, c.id";
pub(crate) const ACCOUNT_FROM: &str =
    "accounts a JOIN collections c ON c.account_id = a.id AND c.kind = 'root'";

pub(crate) fn account_from_row(r: &Row) -> rusqlite::Result<Account> {
    Ok(Account {
        id: AccountId(r.get(0)?),
        nsid: Nsid(r.get(1)?),
        username: r.get(2)?,
        collection_name: EntryName::from_trusted(r.get(3)?),
        default_folder: blob_path(r.get(4)?),
        sync_cursor: r.get(5)?,
        root: CollectionId(r.get(6)?),
    })
}

pub(crate) const COLL_COLS: &str =
    "id, account_id, kind, remote_id, name, title, description, primary_photo, state, synced_title";

pub(crate) fn collection_from_row(r: &Row) -> rusqlite::Result<Collection> {
    let kind: String = r.get(2)?;
    let remote: Option<String> = r.get(3)?;
    let kind = match kind.as_str() {
        "root" => CollectionKind::Root,
        "pool" => CollectionKind::Pool(GroupId(remote.unwrap_or_default())),
        _ => CollectionKind::Photoset(remote.map(SetId)),
    };
    let state: String = r.get(8)?;
    Ok(Collection {
        id: CollectionId(r.get(0)?),
        account: AccountId(r.get(1)?),
        kind,
        name: EntryName::from_trusted(r.get(4)?),
        title: r.get(5)?,
        description: r.get(6)?,
        primary: r.get::<_, Option<i64>>(7)?.map(PhotoKey),
        state: if state == "delete-pending" {
            CollectionState::DeletePending
        } else {
            CollectionState::Normal
        },
        synced_title: r.get(9)?,
    })
}

pub(crate) const PHOTO_COLS: &str = "id, account_id, path, size, mtime_ns, checksum, kind, taken_at, width, height, \
     missing, writing, remote_id, r_title, r_description, r_tags, r_public, r_friend, r_family, r_date_taken, \
     r_granularity, r_format, r_orig_secret, r_secret, r_server, r_url, r_lastupdate, r_video, r_checksum, \
     title, description, tags, privacy, resize, skip, junk, ignored, gone_id";

pub(crate) fn photo_from_row(r: &Row) -> rusqlite::Result<Photo> {
    let path: Option<Vec<u8>> = r.get(2)?;
    let local = match path {
        Some(p) => Some(LocalFile {
            path: blob_path(p),
            size: r.get::<_, Option<i64>>(3)?.unwrap_or(0).max(0) as u64,
            mtime_ns: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
            checksum: r.get::<_, Option<String>>(5)?.map(Checksum),
            kind: MediaKind::from_str_lossy(&r.get::<_, String>(6)?),
            exif: ExifInfo {
                taken_at: r.get::<_, Option<String>>(7)?.map(TakenAt),
                width: r.get::<_, Option<i64>>(8)?.map(|v| v as u32),
                height: r.get::<_, Option<i64>>(9)?.map(|v| v as u32),
            },
            missing: r.get(10)?,
            writing: r.get(11)?,
        }),
        None => None,
    };
    let remote = match r.get::<_, Option<String>>(12)? {
        Some(id) => Some(RemotePhoto {
            id: PhotoId(id),
            title: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
            description: r.get::<_, Option<String>>(14)?.unwrap_or_default(),
            tags: json_tags(&r.get::<_, Option<String>>(15)?.unwrap_or_default()),
            visibility: Visibility {
                is_public: r.get::<_, Option<bool>>(16)?.unwrap_or(false),
                is_friend: r.get::<_, Option<bool>>(17)?.unwrap_or(false),
                is_family: r.get::<_, Option<bool>>(18)?.unwrap_or(false),
            },
            date_taken: r.get::<_, Option<String>>(19)?.map(TakenAt),
            granularity: Granularity::from_code(r.get::<_, Option<i64>>(20)?.unwrap_or(0)),
            original_format: r.get(21)?,
            original_secret: r.get(22)?,
            secret: r.get(23)?,
            server: r.get(24)?,
            url_original: r.get(25)?,
            lastupdate: r.get::<_, Option<i64>>(26)?.unwrap_or(0),
            media_video: r.get::<_, Option<bool>>(27)?.unwrap_or(false),
            checksum_tag: r.get::<_, Option<String>>(28)?.map(Checksum),
        }),
        None => None,
    };
    Ok(Photo {
        key: PhotoKey(r.get(0)?),
        account: AccountId(r.get(1)?),
        local,
        remote,
        meta: LocalMeta {
            title: r.get(29)?,
            description: r.get(30)?,
            tags: r.get::<_, Option<String>>(31)?.map(|t| json_tags(&t)),
            privacy: r
                .get::<_, Option<String>>(32)?
                .and_then(|p| p.parse::<Privacy>().ok()),
            resize: r
                .get::<_, Option<String>>(33)?
                .and_then(|s| Resize::parse(&s).ok()),
            skip: r.get(34)?,
        },
        junk: r.get(35)?,
        ignored: r.get(36)?,
        deleted_on_flickr: r.get::<_, Option<String>>(37)?.map(PhotoId),
    })
}

/// An entry's columns. A photo not on disk yet shows its date taken (else
/// its last update on Flickr) as its time, not 1970.
pub(crate) const ENTRY_SELECT: &str =
    "SELECT m.collection_id, m.name, m.photo_id, p.path, COALESCE(p.size, 0), \
     CASE WHEN p.path IS NULL \
          THEN COALESCE(unixepoch(p.r_date_taken), p.r_lastupdate, 0) * 1000000000 \
          ELSE COALESCE(p.mtime_ns, 0) END, \
     p.missing, p.writing, p.remote_id \
     FROM memberships m JOIN photos p ON p.id = m.photo_id";

pub(crate) fn entry_from_row(r: &Row) -> rusqlite::Result<Entry> {
    Ok(Entry {
        collection: CollectionId(r.get(0)?),
        name: EntryName::from_trusted(r.get(1)?),
        photo: PhotoKey(r.get(2)?),
        path: r.get::<_, Option<Vec<u8>>>(3)?.map(blob_path),
        size: r.get::<_, i64>(4)?.max(0) as u64,
        mtime_ns: r.get(5)?,
        missing: r.get(6)?,
        writing: r.get(7)?,
        remote_id: r.get::<_, Option<String>>(8)?.map(PhotoId),
    })
}

// ---------------------------------------------------------------- loads

pub(crate) fn load_account(c: &Connection, id: AccountId) -> Result<Account> {
    c.cached_row(
        &format!("SELECT {ACCOUNT_COLS} FROM {ACCOUNT_FROM} WHERE a.id = ?1"),
        [id.0],
        account_from_row,
    )
    .optional()
    .ctx("reading an account")?
    .ok_or_else(|| CatalogError::NotFound(format!("account #{id}")))
}

pub(crate) fn load_collection(c: &Connection, id: CollectionId) -> Result<Collection> {
    c.cached_row(
        &format!("SELECT {COLL_COLS} FROM collections WHERE id = ?1"),
        [id.0],
        collection_from_row,
    )
    .optional()
    .ctx("reading a collection")?
    .ok_or_else(|| CatalogError::NotFound(format!("folder #{id}")))
}

/// A collection that is listed in the mount (not pending deletion).
pub(crate) fn load_listed_collection(c: &Connection, id: CollectionId) -> Result<Collection> {
    let coll = load_collection(c, id)?;
    if coll.state == CollectionState::DeletePending {
        return Err(CatalogError::NotFound(format!(
            "folder '{}' (removed, deleted online at the next sync)",
            coll.name
        )));
    }
    Ok(coll)
}

pub(crate) fn load_photo(c: &Connection, key: PhotoKey) -> Result<Photo> {
    find_photo(c, key)?.ok_or_else(|| CatalogError::NotFound(format!("photo #{key}")))
}

/// One record, if it exists.
pub(crate) fn find_photo(c: &Connection, key: PhotoKey) -> Result<Option<Photo>> {
    c.cached_row(
        &format!("SELECT {PHOTO_COLS} FROM photos WHERE id = ?1"),
        [key.0],
        photo_from_row,
    )
    .optional()
    .ctx("reading a photo")
}

pub(crate) fn lookup_entry(
    c: &Connection,
    coll: CollectionId,
    name: &EntryName,
) -> Result<Option<Entry>> {
    c.prepare_cached(&format!(
        "{ENTRY_SELECT} WHERE m.collection_id = ?1 AND m.name = ?2 AND p.ignored = 0"
    ))
    .ctx("looking up an entry")?
    .query_row(params![coll.0, name.as_str()], entry_from_row)
    .optional()
    .ctx("looking up an entry")
}

pub(crate) fn require_entry(c: &Connection, coll: &Collection, name: &EntryName) -> Result<Entry> {
    lookup_entry(c, coll.id, name)?
        .ok_or_else(|| CatalogError::NotFound(format!("'{name}' in folder '{}'", coll.name)))
}

pub(crate) fn photo_collections(c: &Connection, photo: PhotoKey) -> Result<Vec<CollectionId>> {
    c.cached_rows(
        "SELECT DISTINCT collection_id FROM memberships WHERE photo_id = ?1",
        [photo.0],
        |r| Ok(CollectionId(r.get(0)?)),
    )
    .ctx("reading memberships")
}

/// How many photosets list `photo`.
/// How many names `photo` has, in any folder.
pub(crate) fn count_names(tx: &Connection, photo: PhotoKey) -> Result<i64> {
    tx.cached_row(
        "SELECT COUNT(*) FROM memberships WHERE photo_id = ?1",
        [photo.0],
        |r| r.get(0),
    )
    .ctx("counting names")
}

/// How many sets and pools list `photo`: the account folder lists the
/// photos in none (SEMANTICS.md, "root invariant").
pub(crate) fn folder_count(c: &Connection, photo: PhotoKey) -> Result<i64> {
    c.prepare_cached(
        "SELECT COUNT(DISTINCT m.collection_id) FROM memberships m \
         JOIN collections c ON c.id = m.collection_id WHERE m.photo_id = ?1 \
         AND c.kind IN ('set', 'pool')",
    )
    .ctx("counting sets and pools")?
    .query_row([photo.0], |r| r.get(0))
    .ctx("counting sets and pools")
}

pub(crate) fn root_of(c: &Connection, account: AccountId) -> Result<CollectionId> {
    c.prepare_cached("SELECT id FROM collections WHERE account_id = ?1 AND kind = 'root'")
        .ctx("finding the account folder")?
        .query_row([account.0], |r| Ok(CollectionId(r.get(0)?)))
        .optional()
        .ctx("finding the account folder")?
        .ok_or_else(|| CatalogError::NotFound(format!("account #{account}")))
}

/// Names of `photo` in the account root.
pub(crate) fn root_names(
    c: &Connection,
    root: CollectionId,
    photo: PhotoKey,
) -> Result<Vec<EntryName>> {
    c.cached_rows(
        "SELECT name FROM memberships WHERE collection_id = ?1 AND photo_id = ?2 ORDER BY name",
        params![root.0, photo.0],
        |r| Ok(EntryName::from_trusted(r.get(0)?)),
    )
    .ctx("reading root names")
}

// ---------------------------------------------------------------- names

/// Is `name` taken in the account folder's namespace: a root entry, a listed
/// set folder, or `Pools`?
pub(crate) fn taken_in_account(
    c: &Connection,
    account: AccountId,
    root: CollectionId,
    name: &str,
) -> Result<bool> {
    if name == POOLS_DIR {
        return Ok(true);
    }
    let entry: bool = c
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM memberships WHERE collection_id = ?1 AND name = ?2)",
        )
        .ctx("checking a name")?
        .query_row(params![root.0, name], |r| r.get(0))
        .ctx("checking a name")?;
    if entry {
        return Ok(true);
    }
    c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM collections WHERE account_id = ?1 AND kind = 'set' \
         AND state = 'normal' AND name = ?2)",
    )
    .ctx("checking a name")?
    .query_row(params![account.0, name], |r| r.get(0))
    .ctx("checking a name")
}

/// Is `name` taken in folder `coll`?
pub(crate) fn taken_in(c: &Connection, coll: &Collection, name: &str) -> Result<bool> {
    match coll.kind {
        CollectionKind::Root => taken_in_account(c, coll.account, coll.id, name),
        _ => c
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM memberships WHERE collection_id = ?1 AND name = ?2)",
            )
            .ctx("checking a name")?
            .query_row(params![coll.id.0, name], |r| r.get(0))
            .ctx("checking a name"),
    }
}

/// `base` if free in `coll`, else `base (PHOTOID)`, else `base (2)`, `(3)`...
pub(crate) fn unique_name(
    c: &Connection,
    coll: &Collection,
    base: &EntryName,
    remote_id: Option<&PhotoId>,
) -> Result<EntryName> {
    names::first_free(base.clone(), remote_id.map(PhotoId::as_str), |n| {
        Ok(!taken_in(c, coll, n.as_str())?)
    })
}

/// A set folder name for `title`, unique in the account folder.
pub(crate) fn unique_set_name(
    c: &Connection,
    account: AccountId,
    root: CollectionId,
    title: &str,
    fallback: &str,
    except: Option<CollectionId>,
) -> Result<EntryName> {
    let base = names::name_for_title(title, None, fallback);
    let free = |n: &EntryName| -> Result<bool> {
        if let Some(me) = except {
            let mine: bool = c
                .cached_row(
                    "SELECT EXISTS (SELECT 1 FROM collections WHERE id = ?1 AND name = ?2)",
                    params![me.0, n.as_str()],
                    |r| r.get(0),
                )
                .ctx("checking a name")?;
            if mine {
                return Ok(true);
            }
        }
        Ok(!taken_in_account(c, account, root, n.as_str())?)
    };
    names::first_free(base, (!fallback.is_empty()).then_some(fallback), free)
}

/// The extension a photo's default name gets.
pub(crate) fn photo_ext(p: &Photo) -> Option<String> {
    if let Some(l) = &p.local {
        if let Some(e) = l.path.extension().and_then(|e| e.to_str()) {
            return Some(e.to_string());
        }
        if let Some(e) = l.kind.extension() {
            return Some(e.to_string());
        }
    }
    if let Some(r) = &p.remote {
        if let Some(f) = &r.original_format {
            return Some(f.clone());
        }
        if r.media_video {
            return Some("mp4".into());
        }
        return Some("jpg".into());
    }
    None
}

/// The default name of a photo: title + extension, falling back to its id.
pub(crate) fn default_name(p: &Photo) -> EntryName {
    let fallback = p
        .remote_id()
        .map(|i| i.as_str().to_string())
        .unwrap_or_default();
    names::name_for_title(&p.meta.title, photo_ext(p).as_deref(), &fallback)
}

// ---------------------------------------------------------------- memberships

pub(crate) fn insert_membership(
    tx: &Tx,
    coll: CollectionId,
    name: &EntryName,
    photo: PhotoKey,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO memberships (collection_id, name, photo_id) VALUES (?1, ?2, ?3)",
    )
    .ctx("adding an entry")?
    .execute(params![coll.0, name.as_str(), photo.0])
    .ctx("adding an entry")?;
    tx.touch_entry(coll, photo);
    Ok(())
}

pub(crate) fn delete_membership(tx: &Tx, coll: CollectionId, name: &EntryName) -> Result<()> {
    let photo: Option<i64> = tx
        .prepare_cached(
            "DELETE FROM memberships WHERE collection_id = ?1 AND name = ?2 RETURNING photo_id",
        )
        .ctx("removing an entry")?
        .query_row(params![coll.0, name.as_str()], |r| r.get(0))
        .optional()
        .ctx("removing an entry")?;
    if let Some(p) = photo {
        tx.touch_entry(coll, PhotoKey(p));
    }
    Ok(())
}

/// Removes every name of `photo` in `coll`.
pub(crate) fn delete_photo_from(tx: &Tx, coll: CollectionId, photo: PhotoKey) -> Result<usize> {
    let n = tx
        .prepare_cached("DELETE FROM memberships WHERE collection_id = ?1 AND photo_id = ?2")
        .ctx("removing from a folder")?
        .execute(params![coll.0, photo.0])
        .ctx("removing from a folder")?;
    if n > 0 {
        tx.touch_entry(coll, photo);
    }
    Ok(n)
}

/// Keeps the root invariant for `photo`: in at least one set or pool → no
/// root names; in no set, no pool and not ignored → at least one root name (`preferred`
/// if free, else the default name made unique). Returns the root name
/// created, if any.
pub(crate) fn fix_root(
    tx: &Tx,
    photo: PhotoKey,
    preferred: Option<&EntryName>,
) -> Result<Option<EntryName>> {
    let p = load_photo(tx, photo)?;
    let root = root_of(tx, p.account)?;
    if p.ignored || folder_count(tx, photo)? > 0 {
        delete_photo_from(tx, root, photo)?;
        return Ok(None);
    }
    if !root_names(tx, root, photo)?.is_empty() {
        return Ok(None);
    }
    let coll = load_collection(tx, root)?;
    let base = match preferred {
        Some(n) => n.clone(),
        None => default_name(&p),
    };
    let name = unique_name(tx, &coll, &base, p.remote_id())?;
    insert_membership(tx, root, &name, photo)?;
    Ok(Some(name))
}

/// Deletes a photo row (its memberships, base and problems go with it).
/// Never touches its file.
pub(crate) fn delete_photo_row(tx: &Tx, photo: PhotoKey) -> Result<()> {
    tx.touch_photo(photo)?;
    tx.exec("DELETE FROM photos WHERE id = ?1", [photo.0])
        .ctx("removing a photo from the catalog")?;
    Ok(())
}

/// Records a problem, replacing the same photo's problem of the same kind.
pub(crate) fn put_problem(
    c: &Connection,
    account: AccountId,
    photo: Option<PhotoKey>,
    kind: ProblemKind,
    message: &str,
) -> Result<ProblemId> {
    if let Some(p) = photo {
        c.exec(
            "DELETE FROM problems WHERE photo_id = ?1 AND kind = ?2",
            params![p.0, kind.as_str()],
        )
        .ctx("recording a problem")?;
    }
    c.exec(
        "INSERT INTO problems (account_id, photo_id, kind, message, at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![account.0, photo.map(|p| p.0), kind.as_str(), message, now_secs()],
    )
    .ctx("recording a problem")?;
    Ok(ProblemId(c.last_insert_rowid()))
}

pub(crate) fn clear_problem(c: &Connection, photo: PhotoKey, kind: ProblemKind) -> Result<()> {
    c.exec(
        "DELETE FROM problems WHERE photo_id = ?1 AND kind = ?2",
        params![photo.0, kind.as_str()],
    )
    .ctx("clearing a problem")?;
    Ok(())
}
