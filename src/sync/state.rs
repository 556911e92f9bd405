//! The sync's own memory of Flickr between runs, so that the next sync can
//! fetch only what changed: every listed photo (the fields a listing gives),
//! every photoset with its `date_update` and member list, every pool's
//! members, the `lastupdate` cursor and when the last full reconciliation ran;
//! and the account's type once learned (Pro or free, people.getInfo and
//! people.getLimits), so that every later sync can say so before acting.
//!
//! It lives in tables of its own (`sync_*`) inside the catalog's SQLite file,
//! through a connection of its own, so that the catalog's schema is left to
//! the catalog. Losing it is harmless: the next sync is then a full one.
//! It is written only after the catalog recorded what was fetched, so a
//! crash in between makes the next sync fetch the same delta again.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::catalog::AccountId;
use crate::flickr::{AccountKind, Group, Media, PhotoSummary, Photoset};
use crate::model::{Granularity, GroupId, PhotoId, SetId, TakenAt, Visibility};

/// Why the sync's state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("sync state in {path}: {what}: {source}")]
    Db {
        path: String,
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The catalog file could not be opened safely.
    #[error(transparent)]
    Open(#[from] crate::catalog::CatalogError),
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sync_account (
    account_id INTEGER PRIMARY KEY,
    syncs      INTEGER NOT NULL DEFAULT 0,
    since_full INTEGER NOT NULL DEFAULT 0,
    last_full  INTEGER,
    cursor     INTEGER
);
CREATE TABLE IF NOT EXISTS sync_photos (
    account_id INTEGER NOT NULL,
    photo_id   TEXT NOT NULL,
    data       TEXT NOT NULL,
    PRIMARY KEY (account_id, photo_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_sets (
    account_id  INTEGER NOT NULL,
    set_id      TEXT NOT NULL,
    position    INTEGER NOT NULL,
    data        TEXT NOT NULL,
    members     TEXT NOT NULL,
    PRIMARY KEY (account_id, set_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_pools (
    account_id INTEGER NOT NULL,
    group_id   TEXT NOT NULL,
    name       TEXT NOT NULL,
    members    TEXT NOT NULL,
    PRIMARY KEY (account_id, group_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sync_photo_count (
    account_id INTEGER PRIMARY KEY,
    photos     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_plan (
    account_id  INTEGER PRIMARY KEY,
    fingerprint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sync_account_kind (
    account_id     INTEGER PRIMARY KEY,
    pro            INTEGER NOT NULL,
    photos         INTEGER NOT NULL,
    max_display_px INTEGER,
    learned_at     INTEGER NOT NULL
);
"#;

/// The fields of a listed photo that sync keeps (a [`PhotoSummary`] minus
/// the thumbnail URLs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedPhoto {
    #[serde(rename = "s")]
    pub secret: String,
    #[serde(rename = "v")]
    pub server: String,
    #[serde(rename = "t")]
    pub title: String,
    #[serde(rename = "d", default)]
    pub description: Option<String>,
    #[serde(rename = "p")]
    pub visibility: (bool, bool, bool),
    #[serde(rename = "u", default)]
    pub date_upload: Option<i64>,
    #[serde(rename = "k", default)]
    pub date_taken: Option<String>,
    #[serde(rename = "g", default)]
    pub granularity: Option<i64>,
    #[serde(rename = "n", default)]
    pub taken_unknown: bool,
    #[serde(rename = "l", default)]
    pub last_update: Option<i64>,
    #[serde(rename = "os", default)]
    pub original_secret: Option<String>,
    #[serde(rename = "of", default)]
    pub original_format: Option<String>,
    #[serde(rename = "w", default)]
    pub width: Option<u64>,
    #[serde(rename = "h", default)]
    pub height: Option<u64>,
    #[serde(rename = "tg", default)]
    pub tags: Vec<String>,
    #[serde(rename = "mt", default)]
    pub machine_tags: Vec<String>,
    #[serde(rename = "m", default)]
    pub media: Option<String>,
    #[serde(rename = "o", default)]
    pub url_o: Option<String>,
}

impl CachedPhoto {
    pub fn from_summary(s: &PhotoSummary) -> CachedPhoto {
        CachedPhoto {
            secret: s.secret.clone(),
            server: s.server.clone(),
            title: s.title.clone(),
            description: s.description.clone(),
            visibility: (
                s.visibility.is_public,
                s.visibility.is_friend,
                s.visibility.is_family,
            ),
            date_upload: s.date_upload,
            date_taken: s.date_taken.as_ref().map(|t| t.0.clone()),
            granularity: s.taken_granularity.map(Granularity::code),
            taken_unknown: s.taken_unknown,
            last_update: s.last_update,
            original_secret: s.original_secret.clone(),
            original_format: s.original_format.clone(),
            width: s.original_width,
            height: s.original_height,
            tags: s.tags.clone(),
            machine_tags: s.machine_tags.clone(),
            media: s.media.as_ref().map(|m| match m {
                Media::Photo => "photo".to_owned(),
                Media::Video => "video".to_owned(),
                Media::Other(o) => o.clone(),
            }),
            url_o: s.url_o.clone(),
        }
    }

    pub fn to_summary(&self, id: &PhotoId) -> PhotoSummary {
        self.clone().into_summary(id.clone())
    }

    /// [`CachedPhoto::to_summary`] without copying the strings.
    pub fn into_summary(self, id: PhotoId) -> PhotoSummary {
        PhotoSummary {
            id,
            owner: None,
            secret: self.secret,
            server: self.server,
            farm: 0,
            title: self.title,
            visibility: Visibility {
                is_public: self.visibility.0,
                is_friend: self.visibility.1,
                is_family: self.visibility.2,
            },
            description: self.description,
            date_upload: self.date_upload,
            date_taken: self.date_taken.map(TakenAt),
            taken_granularity: self.granularity.map(Granularity::from_code),
            taken_unknown: self.taken_unknown,
            last_update: self.last_update,
            original_secret: self.original_secret,
            original_format: self.original_format,
            original_width: self.width,
            original_height: self.height,
            tags: self.tags,
            machine_tags: self.machine_tags,
            media: self.media.as_deref().map(|m| match m {
                "photo" => Media::Photo,
                "video" => Media::Video,
                o => Media::Other(o.to_owned()),
            }),
            url_o: self.url_o,
            url_t: None,
            url_q: None,
            url_m: None,
            is_primary: None,
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CachedSet {
    title: String,
    description: String,
    primary: Option<String>,
    photos: u64,
    videos: u64,
    date_create: Option<i64>,
    date_update: Option<i64>,
}

/// Per-account bookkeeping of incremental fetching.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountState {
    /// Syncs (fetches) recorded so far.
    pub syncs: u64,
    /// Incremental fetches since the last full reconciliation.
    pub since_full: u64,
    /// Unix seconds of the last full reconciliation; `None`: never.
    pub last_full: Option<i64>,
    /// `min_date` for the next photos.recentlyUpdated.
    pub cursor: Option<i64>,
}

impl AccountState {
    /// Whether the next fetch should be a full reconciliation, and why.
    pub fn full_due(&self, now: i64, every: u64, max_age: Duration) -> Option<String> {
        let Some(last) = self.last_full else {
            return Some("first sync of this account".into());
        };
        if self.cursor.is_none() {
            return Some("no incremental cursor recorded".into());
        }
        if every > 0 && self.since_full + 1 >= every {
            return Some(format!(
                "{} incremental syncs since the last full one",
                self.since_full
            ));
        }
        let age = now.saturating_sub(last);
        if age >= max_age.as_secs() as i64 {
            return Some(format!(
                "the last full reconciliation is {} days old",
                age / 86_400
            ));
        }
        None
    }
}

/// What the cache holds for one account.
#[derive(Clone, Debug, Default)]
pub struct Cached {
    pub photos: BTreeMap<PhotoId, CachedPhoto>,
    /// Sets in Flickr's order, with their members.
    pub sets: Vec<(Photoset, Vec<PhotoId>)>,
    pub pools: Vec<(Group, Vec<PhotoId>)>,
}

/// A connection to the sync's tables.
pub struct SyncStore {
    conn: Connection,
    _live: crate::catalog::LiveToken,
    path: String,
}

impl SyncStore {
    /// Opens (and creates if needed) the sync's tables in the catalog file.
    pub fn open(catalog_path: &Path) -> Result<SyncStore, StateError> {
        let path = catalog_path.display().to_string();
        let err = |what: &'static str| {
            let path = path.clone();
            move |source| StateError::Db { path, what, source }
        };
        // Through the catalog's one way in, never a descriptor of its own.
        let crate::catalog::CatalogConnection { conn, _live } =
            crate::catalog::CatalogConnection::open(catalog_path)?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(err("setting the busy timeout"))?;
        conn.execute_batch(SCHEMA)
            .map_err(err("creating the sync tables"))?;
        Ok(SyncStore { conn, _live, path })
    }

    fn err(&self, what: &'static str) -> impl FnOnce(rusqlite::Error) -> StateError + '_ {
        move |source| StateError::Db {
            path: self.path.clone(),
            what,
            source,
        }
    }

    /// The bookkeeping of one account (default when never synced).
    pub fn account(&self, account: AccountId) -> Result<AccountState, StateError> {
        self.conn
            .query_row(
                "SELECT syncs, since_full, last_full, cursor FROM sync_account WHERE account_id = ?1",
                [account.0],
                |r| {
                    Ok(AccountState {
                        syncs: r.get::<_, i64>(0)? as u64,
                        since_full: r.get::<_, i64>(1)? as u64,
                        last_full: r.get(2)?,
                        cursor: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(self.err("reading the account's sync state"))
            .map(Option::unwrap_or_default)
    }

    /// The account's type as last learned from Flickr (`None`: never asked).
    pub fn account_kind(&self, account: AccountId) -> Result<Option<AccountKind>, StateError> {
        self.conn
            .query_row(
                "SELECT pro, photos, max_display_px FROM sync_account_kind WHERE account_id = ?1",
                [account.0],
                |r| {
                    Ok(AccountKind {
                        pro: r.get(0)?,
                        photos: r.get::<_, i64>(1)?.max(0) as u64,
                        max_display_px: r
                            .get::<_, Option<i64>>(2)?
                            .and_then(|m| u32::try_from(m).ok())
                            .filter(|m| *m > 0),
                    })
                },
            )
            .optional()
            .map_err(self.err("reading the account's type"))
    }

    /// Records the account's type as Flickr just told it.
    pub fn save_account_kind(
        &self,
        account: AccountId,
        kind: &AccountKind,
    ) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO sync_account_kind \
                 (account_id, pro, photos, max_display_px, learned_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    account.0,
                    kind.pro,
                    i64::try_from(kind.photos).unwrap_or(i64::MAX),
                    kind.max_display_px,
                    now_secs()
                ],
            )
            .map(drop)
            .map_err(self.err("recording the account's type"))
    }

    /// One cached photo of `account` (None when the sync does not know it
    /// or its row is unreadable).
    pub fn photo(
        &self,
        account: AccountId,
        id: &PhotoId,
    ) -> Result<Option<CachedPhoto>, StateError> {
        let mut st = self
            .conn
            .prepare_cached("SELECT data FROM sync_photos WHERE account_id = ?1 AND photo_id = ?2")
            .map_err(self.err("reading a cached photo"))?;
        let data: Option<String> = st
            .query_row(rusqlite::params![account.0, id.as_str()], |r| r.get(0))
            .optional()
            .map_err(self.err("reading a cached photo"))?;
        Ok(data.and_then(|d| serde_json::from_str(&d).ok()))
    }

    /// Everything cached for one account.
    pub fn load(&self, account: AccountId) -> Result<Cached, StateError> {
        let mut out = self.load_sets_and_pools(account)?;
        out.photos = self.load_photos(account)?;
        Ok(out)
    }

    /// How many photos the cache holds for `account` (kept by [`SyncStore::save`];
    /// counted once for a cache written before that).
    pub fn photo_count(&self, account: AccountId) -> Result<usize, StateError> {
        let kept: Option<i64> = self
            .conn
            .query_row(
                "SELECT photos FROM sync_photo_count WHERE account_id = ?1",
                [account.0],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("reading the cached photo count"))?;
        let n = match kept {
            Some(n) => n,
            None => self
                .conn
                .query_row(
                    "SELECT COUNT(*) FROM sync_photos WHERE account_id = ?1",
                    [account.0],
                    |r| r.get(0),
                )
                .map_err(self.err("counting cached photos"))?,
        };
        Ok(n.max(0) as usize)
    }

    /// The digest of what the last plan's clean photos were planned with
    /// (see `sync::restrict::fingerprint`).
    pub fn plan_fingerprint(&self, account: AccountId) -> Result<Option<String>, StateError> {
        self.conn
            .query_row(
                "SELECT fingerprint FROM sync_plan WHERE account_id = ?1",
                [account.0],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("reading the plan's fingerprint"))
    }

    /// Records (or, with `None`, forgets) that digest.
    pub fn save_plan_fingerprint(
        &self,
        account: AccountId,
        fingerprint: Option<&str>,
    ) -> Result<(), StateError> {
        match fingerprint {
            Some(f) => self.conn.execute(
                "INSERT OR REPLACE INTO sync_plan (account_id, fingerprint) VALUES (?1, ?2)",
                params![account.0, f],
            ),
            None => self
                .conn
                .execute("DELETE FROM sync_plan WHERE account_id = ?1", [account.0]),
        }
        .map(drop)
        .map_err(self.err("recording the plan's fingerprint"))
    }

    /// Every cached photo of one account.
    pub fn load_photos(
        &self,
        account: AccountId,
    ) -> Result<BTreeMap<PhotoId, CachedPhoto>, StateError> {
        let mut out = BTreeMap::new();
        let mut st = self
            .conn
            .prepare("SELECT photo_id, data FROM sync_photos WHERE account_id = ?1")
            .map_err(self.err("reading cached photos"))?;
        let rows = st
            .query_map([account.0], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(self.err("reading cached photos"))?;
        for row in rows {
            let (id, data) = row.map_err(self.err("reading cached photos"))?;
            // An unreadable row is dropped: the photo is listed again later.
            if let Ok(p) = serde_json::from_str::<CachedPhoto>(&data) {
                out.insert(PhotoId(id), p);
            }
        }
        Ok(out)
    }

    /// The cached sets and pools of one account, with their members (no photos).
    pub fn load_sets_and_pools(&self, account: AccountId) -> Result<Cached, StateError> {
        let mut out = Cached::default();
        let mut st = self
            .conn
            .prepare(
                "SELECT set_id, data, members FROM sync_sets WHERE account_id = ?1 ORDER BY position",
            )
            .map_err(self.err("reading cached sets"))?;
        let rows = st
            .query_map([account.0], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(self.err("reading cached sets"))?;
        for row in rows {
            let (id, data, members) = row.map_err(self.err("reading cached sets"))?;
            let (Ok(s), Ok(m)) = (
                serde_json::from_str::<CachedSet>(&data),
                serde_json::from_str::<Vec<String>>(&members),
            ) else {
                continue;
            };
            out.sets.push((
                Photoset {
                    id: SetId(id),
                    title: s.title,
                    description: s.description,
                    primary: s.primary.map(PhotoId),
                    photos: s.photos,
                    videos: s.videos,
                    date_create: s.date_create,
                    date_update: s.date_update,
                },
                m.into_iter().map(PhotoId).collect(),
            ));
        }
        let mut st = self
            .conn
            .prepare("SELECT group_id, name, members FROM sync_pools WHERE account_id = ?1")
            .map_err(self.err("reading cached pools"))?;
        let rows = st
            .query_map([account.0], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .map_err(self.err("reading cached pools"))?;
        for row in rows {
            let (id, name, members) = row.map_err(self.err("reading cached pools"))?;
            let Ok(m) = serde_json::from_str::<Vec<String>>(&members) else {
                continue;
            };
            out.pools.push((
                Group {
                    id: GroupId(id),
                    name,
                    is_admin: false,
                },
                m.into_iter().map(PhotoId).collect(),
            ));
        }
        Ok(out)
    }

    /// Records what a fetch learnt, in one transaction: `changed` photos are
    /// written (all of them after a full fetch, which first forgets the
    /// rest), `gone` ones removed; sets and pools are replaced.
    #[allow(clippy::too_many_arguments)]
    pub fn save<'a>(
        &mut self,
        account: AccountId,
        full: bool,
        changed: impl IntoIterator<Item = (&'a PhotoId, CachedPhoto)>,
        gone: &[PhotoId],
        (sets, kept): (&[(Photoset, Vec<PhotoId>)], &BTreeSet<SetId>),
        pools: &[(Group, Vec<PhotoId>)],
        state: &AccountState,
    ) -> Result<(), StateError> {
        let path = self.path.clone();
        let e = |what: &'static str| {
            let path = path.clone();
            move |source| StateError::Db { path, what, source }
        };
        let tx = self
            .conn
            .transaction()
            .map_err(e("starting a transaction"))?;
        let mut count: i64 = if full {
            tx.execute("DELETE FROM sync_photos WHERE account_id = ?1", [account.0])
                .map_err(e("clearing cached photos"))?;
            0
        } else {
            let kept: Option<i64> = tx
                .query_row(
                    "SELECT photos FROM sync_photo_count WHERE account_id = ?1",
                    [account.0],
                    |r| r.get(0),
                )
                .optional()
                .map_err(e("reading the cached photo count"))?;
            match kept {
                Some(n) => n,
                None => tx
                    .query_row(
                        "SELECT COUNT(*) FROM sync_photos WHERE account_id = ?1",
                        [account.0],
                        |r| r.get(0),
                    )
                    .map_err(e("counting cached photos"))?,
            }
        };
        {
            let mut known = tx
                .prepare_cached("SELECT 1 FROM sync_photos WHERE account_id = ?1 AND photo_id = ?2")
                .map_err(e("caching photos"))?;
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO sync_photos (account_id, photo_id, data) VALUES (?1, ?2, ?3)",
                )
                .map_err(e("caching photos"))?;
            for (id, p) in changed {
                let data = serde_json::to_string(&p).unwrap_or_default();
                let new = full
                    || known
                        .query_row(params![account.0, id.as_str()], |_| Ok(()))
                        .optional()
                        .map_err(e("caching photos"))?
                        .is_none();
                put.execute(params![account.0, id.as_str(), data])
                    .map_err(e("caching photos"))?;
                count += i64::from(new);
            }
            let mut del = tx
                .prepare_cached("DELETE FROM sync_photos WHERE account_id = ?1 AND photo_id = ?2")
                .map_err(e("caching photos"))?;
            for id in gone {
                count -= del
                    .execute(params![account.0, id.as_str()])
                    .map_err(e("caching photos"))? as i64;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO sync_photo_count (account_id, photos) VALUES (?1, ?2)",
            params![account.0, count.max(0)],
        )
        .map_err(e("counting cached photos"))?;
        // The sets no longer listed go; a kept one (same listing, same
        // members) only takes its new place: its members are not written
        // again.
        let listed: Vec<&str> = sets.iter().map(|(s, _)| s.id.as_str()).collect();
        tx.execute(
            "DELETE FROM sync_sets WHERE account_id = ?1 \
             AND set_id NOT IN (SELECT value FROM json_each(?2))",
            params![
                account.0,
                serde_json::to_string(&listed).unwrap_or_default()
            ],
        )
        .map_err(e("caching sets"))?;
        for (i, (s, members)) in sets.iter().enumerate() {
            if kept.contains(&s.id) {
                let moved = tx
                    .execute(
                        "UPDATE sync_sets SET position = ?3 WHERE account_id = ?1 AND set_id = ?2",
                        params![account.0, s.id.as_str(), i as i64],
                    )
                    .map_err(e("caching sets"))?;
                if moved == 1 {
                    continue;
                }
            }
            let data = serde_json::to_string(&CachedSet {
                title: s.title.clone(),
                description: s.description.clone(),
                primary: s.primary.as_ref().map(|p| p.0.clone()),
                photos: s.photos,
                videos: s.videos,
                date_create: s.date_create,
                date_update: s.date_update,
            })
            .unwrap_or_default();
            let m: Vec<&str> = members.iter().map(|p| p.as_str()).collect();
            tx.execute(
                "INSERT OR REPLACE INTO sync_sets (account_id, set_id, position, data, members) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    account.0,
                    s.id.as_str(),
                    i as i64,
                    data,
                    serde_json::to_string(&m).unwrap_or_default()
                ],
            )
            .map_err(e("caching sets"))?;
        }
        tx.execute("DELETE FROM sync_pools WHERE account_id = ?1", [account.0])
            .map_err(e("caching pools"))?;
        for (g, members) in pools {
            let m: Vec<&str> = members.iter().map(|p| p.as_str()).collect();
            tx.execute(
                "INSERT INTO sync_pools (account_id, group_id, name, members) VALUES (?1, ?2, ?3, ?4)",
                params![
                    account.0,
                    g.id.as_str(),
                    g.name,
                    serde_json::to_string(&m).unwrap_or_default()
                ],
            )
            .map_err(e("caching pools"))?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO sync_account (account_id, syncs, since_full, last_full, cursor) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                account.0,
                state.syncs as i64,
                state.since_full as i64,
                state.last_full,
                state.cursor
            ],
        )
        .map_err(e("saving the cursor"))?;
        tx.commit().map_err(e("committing"))
    }

    /// Replaces the cached members of pools (after the executor added or
    /// removed photos: pools have no `date_update` to notice it by).
    pub fn save_pool_members(
        &mut self,
        account: AccountId,
        pools: &BTreeMap<GroupId, Vec<PhotoId>>,
    ) -> Result<(), StateError> {
        let path = self.path.clone();
        let e = |what: &'static str| {
            let path = path.clone();
            move |source| StateError::Db { path, what, source }
        };
        let tx = self
            .conn
            .transaction()
            .map_err(e("starting a transaction"))?;
        for (g, members) in pools {
            let m: Vec<&str> = members.iter().map(|p| p.as_str()).collect();
            tx.execute(
                "UPDATE sync_pools SET members = ?3 WHERE account_id = ?1 AND group_id = ?2",
                params![
                    account.0,
                    g.as_str(),
                    serde_json::to_string(&m).unwrap_or_default()
                ],
            )
            .map_err(e("caching pools"))?;
        }
        tx.commit().map_err(e("committing"))
    }
}

/// Seconds since the Unix epoch, now.
pub(super) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_reconciliation_is_due_first_then_every_nth_and_when_old() {
        let week = Duration::from_secs(7 * 86_400);
        let mut s = AccountState::default();
        assert!(s.full_due(1000, 10, week).is_some());
        s.last_full = Some(1000);
        s.cursor = Some(990);
        assert_eq!(s.full_due(2000, 10, week), None);
        s.since_full = 9;
        assert!(s.full_due(2000, 10, week).is_some());
        s.since_full = 0;
        assert!(s.full_due(1000 + 8 * 86_400, 10, week).is_some());
    }

    #[test]
    fn the_cache_round_trips() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = SyncStore::open(&dir.path().join("c.db")).expect("open");
        let a = AccountId(1);
        assert_eq!(store.account(a).expect("state"), AccountState::default());
        let mut photos = BTreeMap::new();
        let p = CachedPhoto {
            secret: "s".into(),
            server: "1".into(),
            title: "T".into(),
            description: Some("D".into()),
            visibility: (true, false, true),
            date_upload: Some(5),
            date_taken: Some("2023-01-02 03:04:05".into()),
            granularity: Some(0),
            taken_unknown: false,
            last_update: Some(9),
            original_secret: Some("o".into()),
            original_format: Some("jpg".into()),
            width: Some(10),
            height: Some(20),
            tags: vec!["a".into()],
            machine_tags: vec!["flickrfs:sha1=x".into()],
            media: Some("video".into()),
            url_o: Some("http://x".into()),
        };
        let id = PhotoId("42".into());
        assert_eq!(
            CachedPhoto::from_summary(&p.to_summary(&id)),
            p,
            "summary round trip"
        );
        photos.insert(id.clone(), p);
        let set = Photoset {
            id: SetId("72".into()),
            title: "S".into(),
            description: String::new(),
            primary: Some(id.clone()),
            photos: 1,
            videos: 0,
            date_create: Some(1),
            date_update: Some(2),
        };
        let state = AccountState {
            syncs: 1,
            since_full: 0,
            last_full: Some(3),
            cursor: Some(4),
        };
        store
            .save(
                a,
                true,
                photos.iter().map(|(k, v)| (k, v.clone())),
                &[],
                (&[(set.clone(), vec![id.clone()])], &BTreeSet::new()),
                &[],
                &state,
            )
            .expect("save");
        let back = store.load(a).expect("load");
        assert_eq!(back.photos, photos);
        assert_eq!(back.sets, vec![(set, vec![id.clone()])]);
        assert_eq!(store.account(a).expect("state"), state);
        store
            .save(a, false, [], &[id], (&[], &BTreeSet::new()), &[], &state)
            .expect("save");
        assert!(store.load(a).expect("load").photos.is_empty());
    }
}
