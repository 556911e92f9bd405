//! The `Catalog` handle: one connection to the catalog file; opening it (WAL,
//! foreign keys, busy timeout, migrations), the change generation, and the
//! write transaction every operation runs in.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::error::Result;
use super::file::{CatalogConnection, LiveToken};
use super::schema;
use super::store::{CachedRow, Ctx, Tx};
use super::types::{AccountId, Changes, CollectionId, Generation, PhotoKey};

/// How long a connection waits for another one's write lock.
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// One connection to the catalog file. Not `Sync`: open one per thread.
pub struct Catalog {
    pub(super) conn: Connection,
    _live: LiveToken,
    pub(super) path: PathBuf,
    /// Where photo pages live, for `user.flickr.url` (see
    /// [`Catalog::set_photo_pages`]).
    pub(super) photo_pages: String,
}

/// Flickr's photo pages: `https://www.flickr.com/photos/{nsid}/{id}/`.
pub const FLICKR_PHOTO_PAGES: &str = "https://www.flickr.com";

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").field("path", &self.path).finish()
    }
}

impl Catalog {
    /// Opens (creating it with mode 0600 if needed) the catalog at `path`,
    /// sets WAL, foreign keys and the busy timeout, and migrates the schema.
    /// The file is only ever opened through SQLite ([`CatalogConnection`]).
    pub fn open(path: &Path) -> Result<Catalog> {
        let CatalogConnection { mut conn, _live } = CatalogConnection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .ctx("setting the busy timeout")?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .ctx("switching to WAL")?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "catalog is not in WAL mode");
        }
        conn.pragma_update(None, "foreign_keys", true)
            .ctx("enabling foreign keys")?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .ctx("setting synchronous")?;
        schema::migrate(&mut conn, path)?;
        Ok(Catalog {
            conn,
            _live,
            path: path.to_path_buf(),
            photo_pages: FLICKR_PHOTO_PAGES.to_owned(),
        })
    }

    /// The site whose photo pages `user.flickr.url` names (no trailing
    /// slash): Flickr's by default, the emulator's when the client talks
    /// to one (`config::Endpoint::photo_pages`).
    pub fn set_photo_pages(&mut self, base: &str) {
        self.photo_pages = base.trim_end_matches('/').to_owned();
    }

    /// The page of photo `id` of the account `nsid` on that site.
    pub fn photo_page(&self, nsid: &str, id: &str) -> String {
        format!("{}/photos/{nsid}/{id}/", self.photo_pages)
    }

    /// The catalog file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current change counter (cheap: one indexed read). The mount polls
    /// it and calls [`Catalog::changes_since`] when it moved.
    pub fn generation(&self) -> Result<Generation> {
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = 'generation'")
            .ctx("reading the generation")?
            .query_row([], |r| Ok(Generation(r.get(0)?)))
            .ctx("reading the generation")
    }

    /// Which collections and accounts changed after generation `since`.
    pub fn changes_since(&self, since: Generation) -> Result<Changes> {
        let tx = self.conn.unchecked_transaction().ctx("reading changes")?;
        let generation: i64 = tx
            .cached_row("SELECT value FROM meta WHERE key = 'generation'", [], |r| {
                r.get(0)
            })
            .ctx("reading the generation")?;
        let floor: i64 = tx
            .cached_row(
                "SELECT value FROM meta WHERE key = 'changes_floor'",
                [],
                |r| r.get(0),
            )
            .ctx("reading the change log")?;
        let mut out = Changes {
            generation: Generation(generation),
            ..Changes::default()
        };
        if since.0 >= generation {
            return Ok(out);
        }
        if since.0 < floor {
            out.everything = true;
            return Ok(out);
        }
        let mut st = tx
            .prepare(
                "SELECT DISTINCT collection_id, account_id, photo_id FROM changes \
                 WHERE generation > ?1",
            )
            .ctx("reading the change log")?;
        let rows = st
            .query_map([since.0], |r| {
                Ok((
                    r.get::<_, Option<i64>>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                ))
            })
            .ctx("reading the change log")?;
        let mut colls = std::collections::BTreeSet::new();
        let mut whole = std::collections::BTreeSet::new();
        let mut entries = std::collections::BTreeSet::new();
        let mut accts = std::collections::BTreeSet::new();
        for row in rows {
            let (c, a, p) = row.ctx("reading the change log")?;
            if let Some(c) = c {
                colls.insert(c);
                match p {
                    Some(p) => entries.insert((c, p)),
                    None => whole.insert(c),
                };
            }
            if let Some(a) = a {
                accts.insert(a);
            }
        }
        out.entries = entries
            .into_iter()
            .filter(|(c, _)| !whole.contains(c))
            .map(|(c, p)| (CollectionId(c), PhotoKey(p)))
            .collect();
        out.whole = whole.into_iter().map(CollectionId).collect();
        out.collections = colls.into_iter().map(CollectionId).collect();
        out.accounts = accts.into_iter().map(AccountId).collect();
        Ok(out)
    }

    /// Runs `f` in one `IMMEDIATE` transaction, then bumps the generation
    /// and logs the touched collections/accounts, and commits.
    pub(crate) fn write<T>(&self, what: &str, f: impl FnOnce(&Tx) -> Result<T>) -> Result<T> {
        let tx = Tx::begin(&self.conn, what)?;
        let out = f(&tx)?;
        tx.commit_logged(what)?;
        Ok(out)
    }
}
