//! The emulator's persistent state: one SQLite database (WAL) in the state
//! directory, plus the original photo files next to it.
//!
//! Everything Flickr would know lives here: API keys, users, OAuth tokens,
//! photos with their tags and machine tags, sets, groups and pools, upload
//! tickets. Queries are plain functions over a `&Connection` so that the
//! REST layer can run several of them in one transaction. Not here: HTTP,
//! wire formats, signatures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rand::Rng as _;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row, Transaction};

/// Errors of the state layer.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("emulator database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("emulator state {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} not found: {1}")]
    NotFound(&'static str, String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("emulator state lock poisoned")]
    Poisoned,
}

pub type Result<T, E = StateError> = std::result::Result<T, E>;

/// First photo id handed out (photo ids are ~11 decimal digits on Flickr).
pub const PHOTO_ID_BASE: i64 = 53_000_000_000;
/// First set id handed out (set ids look like `72157...`).
pub const SET_ID_BASE: i64 = 72_177_720_000_000_000;
/// The `server` every photo lives on.
pub const SERVER: &str = "65535";
/// The `farm` every photo lives on.
pub const FARM: i64 = 66;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys(key TEXT PRIMARY KEY, secret TEXT NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users(nsid TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, fullname TEXT NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tokens(token TEXT PRIMARY KEY, secret TEXT NOT NULL, api_key TEXT NOT NULL, nsid TEXT NOT NULL, perms TEXT NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS request_tokens(token TEXT PRIMARY KEY, secret TEXT NOT NULL, api_key TEXT NOT NULL, callback TEXT NOT NULL,
  verifier TEXT, nsid TEXT, perms TEXT, created INTEGER NOT NULL, used INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS photos(
  id INTEGER PRIMARY KEY, owner TEXT NOT NULL, secret TEXT NOT NULL, originalsecret TEXT NOT NULL, server TEXT NOT NULL, farm INTEGER NOT NULL,
  title TEXT NOT NULL, description TEXT NOT NULL, is_public INTEGER NOT NULL, is_friend INTEGER NOT NULL, is_family INTEGER NOT NULL,
  safety_level INTEGER NOT NULL, content_type INTEGER NOT NULL, hidden INTEGER NOT NULL,
  date_upload INTEGER NOT NULL, date_taken TEXT NOT NULL, taken_granularity INTEGER NOT NULL, taken_unknown INTEGER NOT NULL,
  lastupdate INTEGER NOT NULL, original_format TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL,
  sha1 TEXT, size INTEGER NOT NULL, synthetic INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS photos_owner_upload ON photos(owner, date_upload);
CREATE INDEX IF NOT EXISTS photos_owner_lastupdate ON photos(owner, lastupdate);
CREATE INDEX IF NOT EXISTS photos_owner_sha1 ON photos(owner, sha1);
CREATE TABLE IF NOT EXISTS tags(id INTEGER PRIMARY KEY, photo_id INTEGER NOT NULL, author TEXT NOT NULL, raw TEXT NOT NULL,
  norm TEXT NOT NULL, machine INTEGER NOT NULL, ns TEXT, pred TEXT, value TEXT);
CREATE INDEX IF NOT EXISTS tags_photo ON tags(photo_id);
CREATE INDEX IF NOT EXISTS tags_norm ON tags(norm);
CREATE INDEX IF NOT EXISTS tags_machine ON tags(ns, pred, value);
CREATE TABLE IF NOT EXISTS sets(id INTEGER PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL, description TEXT NOT NULL,
  primary_photo INTEGER NOT NULL, secret TEXT NOT NULL, server TEXT NOT NULL, farm INTEGER NOT NULL,
  date_create INTEGER NOT NULL, date_update INTEGER NOT NULL, position INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS sets_owner ON sets(owner, position);
CREATE TABLE IF NOT EXISTS set_photos(set_id INTEGER NOT NULL, photo_id INTEGER NOT NULL, position INTEGER NOT NULL,
  PRIMARY KEY(set_id, photo_id));
CREATE INDEX IF NOT EXISTS set_photos_photo ON set_photos(photo_id);
CREATE INDEX IF NOT EXISTS set_photos_order ON set_photos(set_id, position);
CREATE TABLE IF NOT EXISTS groups(nsid TEXT PRIMARY KEY, name TEXT NOT NULL, description TEXT NOT NULL, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS group_members(group_id TEXT NOT NULL, nsid TEXT NOT NULL, PRIMARY KEY(group_id, nsid));
CREATE TABLE IF NOT EXISTS pool_photos(group_id TEXT NOT NULL, photo_id INTEGER NOT NULL, date_added INTEGER NOT NULL,
  PRIMARY KEY(group_id, photo_id));
CREATE INDEX IF NOT EXISTS pool_photos_photo ON pool_photos(photo_id);
CREATE TABLE IF NOT EXISTS tickets(id INTEGER PRIMARY KEY, owner TEXT NOT NULL, photo_id INTEGER, complete INTEGER NOT NULL,
  polled INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);
"#;

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A random lower-case hex string.
pub fn random_hex(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from_digit(rng.random_range(0..16u32), 16).unwrap_or('0'))
        .collect()
}

/// The database plus the folder of original files.
pub struct Store {
    conn: Mutex<Connection>,
    dir: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the state in `dir`.
    pub fn open(dir: &Path) -> Result<Store> {
        let io = |source| StateError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir.join("originals")).map_err(io)?;
        std::fs::create_dir_all(dir.join("cache")).map_err(io)?;
        let conn = Connection::open(dir.join("emulator.sqlite3"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
            dir: dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the original bytes of photo `id` are kept.
    pub fn original_path(&self, id: i64, format: &str) -> PathBuf {
        self.dir.join("originals").join(format!("{id}.{format}"))
    }

    /// Where a generated smaller size is cached.
    pub fn cache_path(&self, id: i64, suffix: &str, secret: &str) -> PathBuf {
        self.dir
            .join("cache")
            .join(format!("{id}_{secret}_{suffix}.jpg"))
    }

    /// Runs `f` with the connection, outside any explicit transaction.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let c = self.lock()?;
        f(&c)
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>> {
        self.conn.lock().map_err(|_| StateError::Poisoned)
    }

    /// Runs `f` inside one transaction, committed when it returns Ok.
    pub fn tx<T, E>(
        &self,
        f: impl FnOnce(&Transaction) -> std::result::Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StateError>,
    {
        let mut conn = self.lock()?;
        let tx = conn.transaction().map_err(StateError::from)?;
        let out = f(&tx)?;
        tx.commit().map_err(StateError::from)?;
        Ok(out)
    }
}

// ---------------------------------------------------------------- counters

fn meta_get(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(
        c.query_row("SELECT value FROM meta WHERE key=?1", [key], |r| r.get(0))
            .optional()?,
    )
}

pub fn meta_set(c: &Connection, key: &str, value: &str) -> Result<()> {
    c.execute(
        "INSERT INTO meta(key,value) VALUES(?1,?2) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
        [key, value],
    )?;
    Ok(())
}

pub fn meta(c: &Connection, key: &str) -> Result<Option<String>> {
    meta_get(c, key)
}

/// How many photos a free account may hold, and the longest edge of the
/// sizes Flickr serves of a free account's photos (since 2025, originals
/// included).
pub const FREE_MAX_PHOTOS: i64 = 1000;
pub const FREE_MAX_DISPLAY_PX: u32 = 1024;

/// Whether `nsid` is a free account (not Pro).
pub fn is_free(c: &Connection, nsid: &str) -> Result<bool> {
    Ok(meta_get(c, &format!("free_account:{nsid}"))?.as_deref() == Some("1"))
}

pub fn set_free(c: &Connection, nsid: &str, free: bool) -> Result<()> {
    meta_set(
        c,
        &format!("free_account:{nsid}"),
        if free { "1" } else { "0" },
    )
}

/// Revokes every access token `nsid` granted (what a user does on
/// Flickr's "Apps you're using" page); returns how many.
pub fn revoke_tokens(c: &Connection, nsid: &str) -> Result<usize> {
    Ok(c.execute("DELETE FROM tokens WHERE nsid = ?1", [nsid])?)
}

/// How many photos `nsid` holds.
pub fn photo_count(c: &Connection, nsid: &str) -> Result<i64> {
    Ok(
        c.query_row("SELECT COUNT(*) FROM photos WHERE owner=?1", [nsid], |r| {
            r.get(0)
        })?,
    )
}

/// Reserves `n` consecutive ids of one kind, returning the first.
pub fn reserve_ids(c: &Connection, kind: &str, base: i64, n: i64) -> Result<i64> {
    let key = format!("next_{kind}");
    let next = meta_get(c, &key)?
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(base);
    meta_set(c, &key, &(next + n).to_string())?;
    Ok(next)
}

// ---------------------------------------------------------------- keys, users, tokens

/// Token permission levels, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Perms {
    Read,
    Write,
    Delete,
}

impl Perms {
    pub fn parse(s: &str) -> Option<Perms> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read" => Some(Perms::Read),
            "write" => Some(Perms::Write),
            "delete" => Some(Perms::Delete),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Perms::Read => "read",
            Perms::Write => "write",
            Perms::Delete => "delete",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRow {
    pub nsid: String,
    pub username: String,
    pub fullname: String,
}

#[derive(Clone, Debug)]
pub struct TokenRow {
    pub token: String,
    pub secret: String,
    pub api_key: String,
    pub nsid: String,
    pub perms: Perms,
}

#[derive(Clone, Debug)]
pub struct RequestTokenRow {
    pub token: String,
    pub secret: String,
    pub api_key: String,
    pub callback: String,
    pub verifier: Option<String>,
    pub nsid: Option<String>,
    pub perms: Option<Perms>,
    pub created: i64,
    pub used: bool,
}

pub fn create_api_key(c: &Connection) -> Result<(String, String)> {
    let key = random_hex(32);
    let secret = random_hex(16);
    c.execute(
        "INSERT INTO api_keys(key, secret, created) VALUES(?1,?2,?3)",
        params![key, secret, now()],
    )?;
    Ok((key, secret))
}

pub fn api_key_secret(c: &Connection, key: &str) -> Result<Option<String>> {
    Ok(
        c.query_row("SELECT secret FROM api_keys WHERE key=?1", [key], |r| {
            r.get(0)
        })
        .optional()?,
    )
}

pub fn create_user(c: &Connection, username: &str, fullname: &str) -> Result<UserRow> {
    if username.trim().is_empty() {
        return Err(StateError::Invalid("empty user name".into()));
    }
    if let Some(u) = user_by_name(c, username)? {
        return Err(StateError::Invalid(format!(
            "user {} already exists ({})",
            username, u.nsid
        )));
    }
    let n = reserve_ids(c, "user", 60_000_001, 1)?;
    let nsid = format!("{n}@N00");
    c.execute(
        "INSERT INTO users(nsid, username, fullname, created) VALUES(?1,?2,?3,?4)",
        params![nsid, username, fullname, now()],
    )?;
    Ok(UserRow {
        nsid,
        username: username.to_owned(),
        fullname: fullname.to_owned(),
    })
}

fn user_from_row(r: &Row) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        nsid: r.get(0)?,
        username: r.get(1)?,
        fullname: r.get(2)?,
    })
}

pub fn user(c: &Connection, nsid: &str) -> Result<Option<UserRow>> {
    Ok(c.query_row(
        "SELECT nsid, username, fullname FROM users WHERE nsid=?1",
        [nsid],
        user_from_row,
    )
    .optional()?)
}

pub fn user_by_name(c: &Connection, username: &str) -> Result<Option<UserRow>> {
    Ok(c.query_row(
        "SELECT nsid, username, fullname FROM users WHERE username=?1",
        [username],
        user_from_row,
    )
    .optional()?)
}

/// Every row `sql` gives for `params`, each made by `f`.
fn all_rows<T>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnMut(&rusqlite::Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut st = c.prepare_cached(sql)?;
    let rows = st.query_map(params, f)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn users(c: &Connection) -> Result<Vec<UserRow>> {
    all_rows(
        c,
        "SELECT nsid, username, fullname FROM users ORDER BY created, nsid",
        [],
        user_from_row,
    )
}

pub fn issue_token(c: &Connection, api_key: &str, nsid: &str, perms: Perms) -> Result<TokenRow> {
    if api_key_secret(c, api_key)?.is_none() {
        return Err(StateError::NotFound("API key", api_key.to_owned()));
    }
    if user(c, nsid)?.is_none() {
        return Err(StateError::NotFound("user", nsid.to_owned()));
    }
    let row = TokenRow {
        token: format!(
            "{}-{}",
            72157000000000000i64 + rand::rng().random_range(0..1_000_000_000i64),
            random_hex(16)
        ),
        secret: random_hex(16),
        api_key: api_key.to_owned(),
        nsid: nsid.to_owned(),
        perms,
    };
    c.execute(
        "INSERT INTO tokens(token, secret, api_key, nsid, perms, created) VALUES(?1,?2,?3,?4,?5,?6)",
        params![row.token, row.secret, row.api_key, row.nsid, perms.as_str(), now()],
    )?;
    Ok(row)
}

pub fn token(c: &Connection, token: &str) -> Result<Option<TokenRow>> {
    Ok(c.query_row(
        "SELECT token, secret, api_key, nsid, perms FROM tokens WHERE token=?1",
        [token],
        |r| {
            let perms: String = r.get(4)?;
            Ok(TokenRow {
                token: r.get(0)?,
                secret: r.get(1)?,
                api_key: r.get(2)?,
                nsid: r.get(3)?,
                perms: Perms::parse(&perms).unwrap_or(Perms::Read),
            })
        },
    )
    .optional()?)
}

pub fn create_request_token(
    c: &Connection,
    api_key: &str,
    callback: &str,
) -> Result<RequestTokenRow> {
    let row = RequestTokenRow {
        token: format!(
            "{}-{}",
            72157000000000000i64 + rand::rng().random_range(0..1_000_000_000i64),
            random_hex(16)
        ),
        secret: random_hex(16),
        api_key: api_key.to_owned(),
        callback: callback.to_owned(),
        verifier: None,
        nsid: None,
        perms: None,
        created: now(),
        used: false,
    };
    c.execute(
        "INSERT INTO request_tokens(token, secret, api_key, callback, created) VALUES(?1,?2,?3,?4,?5)",
        params![row.token, row.secret, row.api_key, row.callback, row.created],
    )?;
    Ok(row)
}

pub fn request_token(c: &Connection, token: &str) -> Result<Option<RequestTokenRow>> {
    Ok(c.query_row(
        "SELECT token, secret, api_key, callback, verifier, nsid, perms, created, used FROM request_tokens WHERE token=?1",
        [token],
        |r| {
            let perms: Option<String> = r.get(6)?;
            Ok(RequestTokenRow {
                token: r.get(0)?,
                secret: r.get(1)?,
                api_key: r.get(2)?,
                callback: r.get(3)?,
                verifier: r.get(4)?,
                nsid: r.get(5)?,
                perms: perms.as_deref().and_then(Perms::parse),
                created: r.get(7)?,
                used: r.get::<_, i64>(8)? != 0,
            })
        },
    )
    .optional()?)
}

pub fn approve_request_token(
    c: &Connection,
    token: &str,
    nsid: &str,
    perms: Perms,
    verifier: &str,
) -> Result<()> {
    c.execute(
        "UPDATE request_tokens SET nsid=?2, perms=?3, verifier=?4 WHERE token=?1",
        params![token, nsid, perms.as_str(), verifier],
    )?;
    Ok(())
}

pub fn mark_request_token_used(c: &Connection, token: &str) -> Result<()> {
    c.execute("UPDATE request_tokens SET used=1 WHERE token=?1", [token])?;
    Ok(())
}

// ---------------------------------------------------------------- photos

/// One photo as stored.
#[derive(Clone, Debug)]
pub struct PhotoRow {
    pub id: i64,
    pub owner: String,
    pub secret: String,
    pub originalsecret: String,
    pub server: String,
    pub farm: i64,
    pub title: String,
    pub description: String,
    pub is_public: bool,
    pub is_friend: bool,
    pub is_family: bool,
    pub safety_level: i64,
    pub content_type: i64,
    pub hidden: i64,
    pub date_upload: i64,
    pub date_taken: String,
    pub taken_granularity: i64,
    pub taken_unknown: bool,
    pub lastupdate: i64,
    pub original_format: String,
    pub width: u32,
    pub height: u32,
    pub sha1: Option<String>,
    pub size: i64,
    pub synthetic: bool,
}

const PHOTO_COLS: &str = "p.id, p.owner, p.secret, p.originalsecret, p.server, p.farm, p.title, p.description, \
 p.is_public, p.is_friend, p.is_family, p.safety_level, p.content_type, p.hidden, p.date_upload, p.date_taken, \
 p.taken_granularity, p.taken_unknown, p.lastupdate, p.original_format, p.width, p.height, p.sha1, p.size, p.synthetic";

fn photo_from_row(r: &Row) -> rusqlite::Result<PhotoRow> {
    Ok(PhotoRow {
        id: r.get(0)?,
        owner: r.get(1)?,
        secret: r.get(2)?,
        originalsecret: r.get(3)?,
        server: r.get(4)?,
        farm: r.get(5)?,
        title: r.get(6)?,
        description: r.get(7)?,
        is_public: r.get::<_, i64>(8)? != 0,
        is_friend: r.get::<_, i64>(9)? != 0,
        is_family: r.get::<_, i64>(10)? != 0,
        safety_level: r.get(11)?,
        content_type: r.get(12)?,
        hidden: r.get(13)?,
        date_upload: r.get(14)?,
        date_taken: r.get(15)?,
        taken_granularity: r.get(16)?,
        taken_unknown: r.get::<_, i64>(17)? != 0,
        lastupdate: r.get(18)?,
        original_format: r.get(19)?,
        width: r.get(20)?,
        height: r.get(21)?,
        sha1: r.get(22)?,
        size: r.get(23)?,
        synthetic: r.get::<_, i64>(24)? != 0,
    })
}

/// Insert a photo row as given (the id must be reserved by the caller).
pub fn insert_photo(c: &Connection, p: &PhotoRow) -> Result<()> {
    c.prepare_cached(
        "INSERT INTO photos(id, owner, secret, originalsecret, server, farm, title, description, is_public, is_friend, is_family,
          safety_level, content_type, hidden, date_upload, date_taken, taken_granularity, taken_unknown, lastupdate,
          original_format, width, height, sha1, size, synthetic)
         VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25)",
    )?
    .execute(params![
        p.id,
        p.owner,
        p.secret,
        p.originalsecret,
        p.server,
        p.farm,
        p.title,
        p.description,
        p.is_public as i64,
        p.is_friend as i64,
        p.is_family as i64,
        p.safety_level,
        p.content_type,
        p.hidden,
        p.date_upload,
        p.date_taken,
        p.taken_granularity,
        p.taken_unknown as i64,
        p.lastupdate,
        p.original_format,
        p.width,
        p.height,
        p.sha1,
        p.size,
        p.synthetic as i64
    ])?;
    Ok(())
}

pub fn photo(c: &Connection, id: i64) -> Result<Option<PhotoRow>> {
    let sql = format!("SELECT {PHOTO_COLS} FROM photos p WHERE p.id=?1");
    Ok(c.query_row(&sql, [id], photo_from_row).optional()?)
}

pub fn photo_by_sha1(c: &Connection, owner: &str, sha1: &str) -> Result<Option<i64>> {
    Ok(c.query_row(
        "SELECT id FROM photos WHERE owner=?1 AND sha1=?2 ORDER BY id LIMIT 1",
        [owner, sha1],
        |r| r.get(0),
    )
    .optional()?)
}

pub fn delete_photo(c: &Connection, id: i64) -> Result<()> {
    let sets: Vec<i64> = {
        let mut st = c.prepare("SELECT set_id FROM set_photos WHERE photo_id=?1")?;
        let rows = st.query_map([id], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for s in sets {
        remove_from_set(c, s, id, EmptySetRule::DeleteSet)?;
    }
    c.execute("DELETE FROM tags WHERE photo_id=?1", [id])?;
    c.execute("DELETE FROM pool_photos WHERE photo_id=?1", [id])?;
    c.execute("DELETE FROM photos WHERE id=?1", [id])?;
    Ok(())
}

/// Marks a photo changed: `lastupdate` strictly increases on every change.
pub fn touch_photo(c: &Connection, id: i64) -> Result<()> {
    c.execute(
        "UPDATE photos SET lastupdate = MAX(?2, lastupdate + 1) WHERE id=?1",
        params![id, now()],
    )?;
    Ok(())
}

/// Updates one text/number column of a photo and bumps `lastupdate`.
pub fn update_photo_field(c: &Connection, id: i64, column: &str, value: Value) -> Result<()> {
    const ALLOWED: [&str; 11] = [
        "title",
        "description",
        "is_public",
        "is_friend",
        "is_family",
        "date_upload",
        "date_taken",
        "taken_granularity",
        "taken_unknown",
        "safety_level",
        "content_type",
    ];
    if !ALLOWED.contains(&column) {
        return Err(StateError::Invalid(format!("column {column}")));
    }
    c.execute(
        &format!("UPDATE photos SET {column}=?2 WHERE id=?1"),
        params![id, value],
    )?;
    touch_photo(c, id)
}

/// Replaces the file-derived facts of a photo (the replace endpoint).
#[allow(clippy::too_many_arguments)]
pub fn replace_photo_file(
    c: &Connection,
    id: i64,
    format: &str,
    width: u32,
    height: u32,
    sha1: &str,
    size: i64,
    secret: &str,
    originalsecret: &str,
) -> Result<()> {
    c.execute(
        "UPDATE photos SET original_format=?2, width=?3, height=?4, sha1=?5, size=?6, secret=?7, originalsecret=?8, synthetic=0 WHERE id=?1",
        params![id, format, width, height, sha1, size, secret, originalsecret],
    )?;
    touch_photo(c, id)
}

// ---------------------------------------------------------------- tags

/// One tag of a photo.
#[derive(Clone, Debug)]
pub struct TagRow {
    pub id: i64,
    pub photo_id: i64,
    pub author: String,
    pub raw: String,
    pub norm: String,
    pub machine: bool,
}

/// A parsed machine tag: `namespace:predicate=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineTag {
    pub ns: String,
    pub pred: String,
    pub value: String,
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses `ns:pred=value` (the value may be quoted); None for a plain tag.
pub fn parse_machine_tag(raw: &str) -> Option<MachineTag> {
    let (ns, rest) = raw.split_once(':')?;
    let (pred, value) = rest.split_once('=')?;
    if !is_ident(ns) || !is_ident(pred) {
        return None;
    }
    let value = value.trim_matches('"');
    if value.is_empty() {
        return None;
    }
    Some(MachineTag {
        ns: ns.to_ascii_lowercase(),
        pred: pred.to_ascii_lowercase(),
        value: value.to_lowercase(),
    })
}

/// Flickr's normalised form of a tag: machine tags keep their syntax in
/// lower case, plain tags lose case, spaces and punctuation.
pub fn normalize_tag(raw: &str) -> String {
    match parse_machine_tag(raw) {
        Some(m) => format!("{}:{}={}", m.ns, m.pred, m.value),
        None => raw
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect(),
    }
}

/// Splits a Flickr tag list: space separated, `"quoted tags"` may hold spaces.
pub fn split_tag_list(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in s.chars() {
        match ch {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_owned());
                }
                cur.clear();
            }
            c => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

/// Adds tags to a photo (skipping ones it already has); does not bump lastupdate.
pub fn add_tags(c: &Connection, photo_id: i64, author: &str, raws: &[String]) -> Result<()> {
    let existing: Vec<String> = {
        let mut st = c.prepare_cached("SELECT norm FROM tags WHERE photo_id=?1")?;
        let rows = st.query_map([photo_id], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut seen: Vec<String> = existing;
    let mut ins = c.prepare_cached(
        "INSERT INTO tags(photo_id, author, raw, norm, machine, ns, pred, value) VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    )?;
    for raw in raws {
        let norm = normalize_tag(raw);
        if norm.is_empty() || seen.contains(&norm) {
            continue;
        }
        let m = parse_machine_tag(raw);
        ins.execute(params![
            photo_id,
            author,
            raw,
            norm,
            m.is_some() as i64,
            m.as_ref().map(|m| m.ns.clone()),
            m.as_ref().map(|m| m.pred.clone()),
            m.as_ref().map(|m| m.value.clone()),
        ])?;
        seen.push(norm);
    }
    Ok(())
}

pub fn clear_tags(c: &Connection, photo_id: i64) -> Result<()> {
    c.execute("DELETE FROM tags WHERE photo_id=?1", [photo_id])?;
    Ok(())
}

pub fn remove_tag(c: &Connection, tag_id: i64) -> Result<Option<i64>> {
    let photo: Option<i64> = c
        .query_row("SELECT photo_id FROM tags WHERE id=?1", [tag_id], |r| {
            r.get(0)
        })
        .optional()?;
    c.execute("DELETE FROM tags WHERE id=?1", [tag_id])?;
    Ok(photo)
}

pub fn tag_owner(c: &Connection, tag_id: i64) -> Result<Option<i64>> {
    Ok(
        c.query_row("SELECT photo_id FROM tags WHERE id=?1", [tag_id], |r| {
            r.get(0)
        })
        .optional()?,
    )
}

/// Tags of many photos at once, in insertion order.
pub fn tags_for(c: &Connection, ids: &[i64]) -> Result<HashMap<i64, Vec<TagRow>>> {
    let mut out: HashMap<i64, Vec<TagRow>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let qs = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT id, photo_id, author, raw, norm, machine FROM tags WHERE photo_id IN ({qs}) ORDER BY id"
        );
        let mut st = c.prepare(&sql)?;
        let rows = st.query_map(params_from_iter(chunk.iter()), |r| {
            Ok(TagRow {
                id: r.get(0)?,
                photo_id: r.get(1)?,
                author: r.get(2)?,
                raw: r.get(3)?,
                norm: r.get(4)?,
                machine: r.get::<_, i64>(5)? != 0,
            })
        })?;
        for t in rows {
            let t = t?;
            out.entry(t.photo_id).or_default().push(t);
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- photo queries

/// A machine-tag search pattern; `None` parts match anything.
#[derive(Clone, Debug, Default)]
pub struct MachinePattern {
    pub ns: Option<String>,
    pub pred: Option<String>,
    pub value: Option<String>,
}

impl MachinePattern {
    /// Parses `ns:pred=value`, `ns:`, `ns:pred=`, `ns:pred`, `*:pred=value`, `ns:*=value`.
    pub fn parse(s: &str) -> Option<MachinePattern> {
        let s = s.trim().trim_matches('"');
        let (ns, rest) = s.split_once(':')?;
        let (pred, value) = match rest.split_once('=') {
            Some((p, v)) => (p, v),
            None => (rest, ""),
        };
        let part = |x: &str| {
            let x = x.trim().trim_matches('"');
            (!x.is_empty() && x != "*").then(|| x.to_lowercase())
        };
        // Namespace and predicate: a letter, then letters, digits or `_`.
        let name_ok = |x: &Option<String>| {
            x.as_deref().is_none_or(|n| {
                n.starts_with(|c: char| c.is_ascii_alphabetic())
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        };
        let pat = MachinePattern {
            ns: part(ns),
            pred: part(pred),
            value: part(value),
        };
        if !name_ok(&pat.ns) || !name_ok(&pat.pred) {
            return None;
        }
        (pat.ns.is_some() || pat.pred.is_some() || pat.value.is_some()).then_some(pat)
    }
}

/// Sort orders Flickr offers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    PostedDesc,
    PostedAsc,
    TakenDesc,
    TakenAsc,
    UpdatedDesc,
}

impl Order {
    pub fn parse(s: &str) -> Option<Order> {
        match s {
            "date-posted-desc" => Some(Order::PostedDesc),
            "date-posted-asc" => Some(Order::PostedAsc),
            "date-taken-desc" => Some(Order::TakenDesc),
            "date-taken-asc" => Some(Order::TakenAsc),
            _ => None,
        }
    }
    fn sql(self) -> &'static str {
        match self {
            Order::PostedDesc => "p.date_upload DESC, p.id DESC",
            Order::PostedAsc => "p.date_upload ASC, p.id ASC",
            Order::TakenDesc => "p.date_taken DESC, p.id DESC",
            Order::TakenAsc => "p.date_taken ASC, p.id ASC",
            Order::UpdatedDesc => "p.lastupdate DESC, p.id DESC",
        }
    }
}

/// Which photos a listing wants.
#[derive(Clone, Debug, Default)]
pub struct PhotoQuery {
    pub owner: Option<String>,
    /// Only public photos (the caller is not the owner).
    pub only_public: bool,
    /// With `only_public`: this user's own photos are visible too.
    pub viewer: Option<String>,
    pub min_upload: Option<i64>,
    pub max_upload: Option<i64>,
    pub min_taken: Option<String>,
    pub max_taken: Option<String>,
    pub min_lastupdate: Option<i64>,
    pub not_in_set: bool,
    /// 1 public, 2 friends, 3 family, 4 friends & family, 5 private.
    pub privacy: Option<i64>,
    pub tags: Vec<String>,
    pub tags_all: bool,
    pub machine: Vec<MachinePattern>,
    pub machine_all: bool,
    pub text: Option<String>,
    pub in_set: Option<i64>,
    pub in_pool: Option<String>,
    /// `media=videos`: the emulator holds photos only, so nothing matches.
    pub videos_only: bool,
    pub order: Order,
    pub page: i64,
    pub per_page: i64,
}

fn privacy_sql(p: i64) -> Option<&'static str> {
    Some(match p {
        1 => "p.is_public=1",
        2 => "p.is_public=0 AND p.is_friend=1 AND p.is_family=0",
        3 => "p.is_public=0 AND p.is_friend=0 AND p.is_family=1",
        4 => "p.is_public=0 AND p.is_friend=1 AND p.is_family=1",
        5 => "p.is_public=0 AND p.is_friend=0 AND p.is_family=0",
        _ => return None,
    })
}

/// Runs a listing: (total matching, the requested page).
pub fn query_photos(c: &Connection, q: &PhotoQuery) -> Result<(i64, Vec<PhotoRow>)> {
    let mut wh: Vec<String> = vec![if q.videos_only { "0=1" } else { "1=1" }.into()];
    let mut args: Vec<Value> = Vec::new();
    let mut from = "photos p".to_owned();
    let mut order = q.order.sql().to_owned();
    if let Some(set) = q.in_set {
        from = "set_photos sp JOIN photos p ON p.id = sp.photo_id".into();
        wh.push("sp.set_id=?".into());
        args.push(Value::Integer(set));
        order = "sp.position ASC".into();
    }
    if let Some(group) = &q.in_pool {
        from = "pool_photos pp JOIN photos p ON p.id = pp.photo_id".into();
        wh.push("pp.group_id=?".into());
        args.push(Value::Text(group.clone()));
        order = "pp.date_added DESC, p.id DESC".into();
    }
    if let Some(o) = &q.owner {
        wh.push("p.owner=?".into());
        args.push(Value::Text(o.clone()));
    }
    if q.only_public {
        match &q.viewer {
            Some(v) => {
                wh.push("(p.is_public=1 OR p.owner=?)".into());
                args.push(Value::Text(v.clone()));
            }
            None => wh.push("p.is_public=1".into()),
        }
    }
    if let Some(v) = q.min_upload {
        wh.push("p.date_upload>=?".into());
        args.push(Value::Integer(v));
    }
    if let Some(v) = q.max_upload {
        wh.push("p.date_upload<=?".into());
        args.push(Value::Integer(v));
    }
    if let Some(v) = &q.min_taken {
        wh.push("p.date_taken>=?".into());
        args.push(Value::Text(v.clone()));
    }
    if let Some(v) = &q.max_taken {
        wh.push("p.date_taken<=?".into());
        args.push(Value::Text(v.clone()));
    }
    if let Some(v) = q.min_lastupdate {
        wh.push("p.lastupdate>=?".into());
        args.push(Value::Integer(v));
    }
    if q.not_in_set {
        wh.push("NOT EXISTS (SELECT 1 FROM set_photos x WHERE x.photo_id=p.id)".into());
    }
    if let Some(s) = q.privacy.and_then(privacy_sql) {
        wh.push(s.into());
    }
    if !q.tags.is_empty() {
        if q.tags_all {
            for t in &q.tags {
                wh.push("EXISTS (SELECT 1 FROM tags t WHERE t.photo_id=p.id AND t.norm=?)".into());
                args.push(Value::Text(t.clone()));
            }
        } else {
            let qs = vec!["?"; q.tags.len()].join(",");
            wh.push(format!(
                "EXISTS (SELECT 1 FROM tags t WHERE t.photo_id=p.id AND t.norm IN ({qs}))"
            ));
            args.extend(q.tags.iter().map(|t| Value::Text(t.clone())));
        }
    }
    if !q.machine.is_empty() {
        let mut parts = Vec::new();
        for m in &q.machine {
            let mut cond = "t.photo_id=p.id AND t.machine=1".to_owned();
            for (col, v) in [("ns", &m.ns), ("pred", &m.pred), ("value", &m.value)] {
                if let Some(v) = v {
                    cond.push_str(&format!(" AND t.{col}=?"));
                    args.push(Value::Text(v.clone()));
                }
            }
            parts.push(format!("EXISTS (SELECT 1 FROM tags t WHERE {cond})"));
        }
        let joiner = if q.machine_all { " AND " } else { " OR " };
        wh.push(format!("({})", parts.join(joiner)));
    }
    if let Some(text) = &q.text {
        let like = format!("%{}%", text.replace(['%', '_'], ""));
        wh.push("(p.title LIKE ? OR p.description LIKE ? OR EXISTS (SELECT 1 FROM tags t WHERE t.photo_id=p.id AND t.norm LIKE ?))".into());
        args.push(Value::Text(like.clone()));
        args.push(Value::Text(like.clone()));
        args.push(Value::Text(like));
    }
    let where_sql = wh.join(" AND ");
    let total: i64 = c.query_row(
        &format!("SELECT COUNT(*) FROM {from} WHERE {where_sql}"),
        params_from_iter(args.iter()),
        |r| r.get(0),
    )?;
    let per_page = q.per_page.max(1);
    let offset = (q.page.max(1) - 1).saturating_mul(per_page);
    let sql = format!(
        "SELECT {PHOTO_COLS} FROM {from} WHERE {where_sql} ORDER BY {order} LIMIT {per_page} OFFSET {offset}"
    );
    let mut st = c.prepare(&sql)?;
    let rows = st.query_map(params_from_iter(args.iter()), photo_from_row)?;
    Ok((total, rows.collect::<rusqlite::Result<_>>()?))
}

/// All photos of a user, oldest first (for test assertions).
pub fn photos_of(c: &Connection, owner: &str) -> Result<Vec<PhotoRow>> {
    let sql = format!("SELECT {PHOTO_COLS} FROM photos p WHERE p.owner=?1 ORDER BY p.id");
    all_rows(c, &sql, [owner], photo_from_row)
}

// ---------------------------------------------------------------- sets

/// One photoset as stored.
#[derive(Clone, Debug)]
pub struct SetRow {
    pub id: i64,
    pub owner: String,
    pub title: String,
    pub description: String,
    pub primary: i64,
    pub secret: String,
    pub server: String,
    pub farm: i64,
    pub date_create: i64,
    pub date_update: i64,
    pub count: i64,
}

const SET_COLS: &str = "s.id, s.owner, s.title, s.description, s.primary_photo, s.secret, s.server, s.farm, s.date_create, s.date_update, \
 (SELECT COUNT(*) FROM set_photos x WHERE x.set_id=s.id)";

fn set_from_row(r: &Row) -> rusqlite::Result<SetRow> {
    Ok(SetRow {
        id: r.get(0)?,
        owner: r.get(1)?,
        title: r.get(2)?,
        description: r.get(3)?,
        primary: r.get(4)?,
        secret: r.get(5)?,
        server: r.get(6)?,
        farm: r.get(7)?,
        date_create: r.get(8)?,
        date_update: r.get(9)?,
        count: r.get(10)?,
    })
}

/// What happens when the last photo leaves a set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EmptySetRule {
    /// The set disappears (what Flickr does).
    #[default]
    DeleteSet,
    /// The removal is refused.
    Reject,
}

pub fn set(c: &Connection, id: i64) -> Result<Option<SetRow>> {
    let sql = format!("SELECT {SET_COLS} FROM sets s WHERE s.id=?1");
    Ok(c.query_row(&sql, [id], set_from_row).optional()?)
}

pub fn sets_of(c: &Connection, owner: &str) -> Result<Vec<SetRow>> {
    let sql = format!(
        "SELECT {SET_COLS} FROM sets s WHERE s.owner=?1 ORDER BY s.position DESC, s.id DESC"
    );
    all_rows(c, &sql, [owner], set_from_row)
}

pub fn sets_of_photo(c: &Connection, photo: i64) -> Result<Vec<SetRow>> {
    let sql = format!(
        "SELECT {SET_COLS} FROM sets s JOIN set_photos sp ON sp.set_id=s.id WHERE sp.photo_id=?1 ORDER BY s.id"
    );
    all_rows(c, &sql, [photo], set_from_row)
}

pub fn set_photo_ids(c: &Connection, set_id: i64) -> Result<Vec<i64>> {
    let mut st =
        c.prepare_cached("SELECT photo_id FROM set_photos WHERE set_id=?1 ORDER BY position")?;
    let rows = st.query_map([set_id], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn touch_set(c: &Connection, id: i64) -> Result<()> {
    c.execute(
        "UPDATE sets SET date_update = MAX(?2, date_update + 1) WHERE id=?1",
        params![id, now()],
    )?;
    Ok(())
}

/// Creates a set with `primary` as its first photo; returns the new id.
pub fn create_set(
    c: &Connection,
    owner: &str,
    title: &str,
    description: &str,
    primary: &PhotoRow,
    created: i64,
) -> Result<i64> {
    let id = reserve_ids(c, "set", SET_ID_BASE, 1)?;
    let position: i64 = c.query_row(
        "SELECT COALESCE(MAX(position), 0) + 1 FROM sets WHERE owner=?1",
        [owner],
        |r| r.get(0),
    )?;
    c.execute(
        "INSERT INTO sets(id, owner, title, description, primary_photo, secret, server, farm, date_create, date_update, position)
         VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?9,?10)",
        params![id, owner, title, description, primary.id, primary.secret, primary.server, primary.farm, created, position],
    )?;
    c.execute(
        "INSERT INTO set_photos(set_id, photo_id, position) VALUES(?1,?2,1)",
        params![id, primary.id],
    )?;
    Ok(id)
}

/// Appends a photo to a set; false when it was already there.
pub fn add_to_set(c: &Connection, set_id: i64, photo_id: i64) -> Result<bool> {
    let pos: i64 = c.query_row(
        "SELECT COALESCE(MAX(position), 0) + 1 FROM set_photos WHERE set_id=?1",
        [set_id],
        |r| r.get(0),
    )?;
    let n = c.execute(
        "INSERT OR IGNORE INTO set_photos(set_id, photo_id, position) VALUES(?1,?2,?3)",
        params![set_id, photo_id, pos],
    )?;
    if n > 0 {
        touch_set(c, set_id)?;
    }
    Ok(n > 0)
}

/// What a removal from a set did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removal {
    Removed,
    NotInSet,
    SetDeleted,
    RefusedLast,
}

/// Removes a photo from a set, moving the primary if needed.
pub fn remove_from_set(
    c: &Connection,
    set_id: i64,
    photo_id: i64,
    rule: EmptySetRule,
) -> Result<Removal> {
    let ids = set_photo_ids(c, set_id)?;
    if !ids.contains(&photo_id) {
        return Ok(Removal::NotInSet);
    }
    if ids.len() == 1 {
        return match rule {
            EmptySetRule::Reject => Ok(Removal::RefusedLast),
            EmptySetRule::DeleteSet => {
                delete_set(c, set_id)?;
                Ok(Removal::SetDeleted)
            }
        };
    }
    c.execute(
        "DELETE FROM set_photos WHERE set_id=?1 AND photo_id=?2",
        params![set_id, photo_id],
    )?;
    let primary: i64 = c.query_row(
        "SELECT primary_photo FROM sets WHERE id=?1",
        [set_id],
        |r| r.get(0),
    )?;
    if primary == photo_id {
        if let Some(first) = set_photo_ids(c, set_id)?.first() {
            set_primary(c, set_id, *first)?;
        }
    }
    touch_set(c, set_id)?;
    Ok(Removal::Removed)
}

pub fn set_primary(c: &Connection, set_id: i64, photo_id: i64) -> Result<()> {
    c.execute(
        "UPDATE sets SET primary_photo=?2, secret=(SELECT secret FROM photos WHERE id=?2), server=(SELECT server FROM photos WHERE id=?2) WHERE id=?1",
        params![set_id, photo_id],
    )?;
    Ok(())
}

/// Replaces the whole photo list of a set (order kept as given).
pub fn replace_set_photos(c: &Connection, set_id: i64, primary: i64, ids: &[i64]) -> Result<()> {
    c.execute("DELETE FROM set_photos WHERE set_id=?1", [set_id])?;
    let mut ins = c.prepare_cached(
        "INSERT OR IGNORE INTO set_photos(set_id, photo_id, position) VALUES(?1,?2,?3)",
    )?;
    for (i, id) in ids.iter().enumerate() {
        ins.execute(params![set_id, id, i as i64 + 1])?;
    }
    set_primary(c, set_id, primary)?;
    touch_set(c, set_id)
}

pub fn edit_set_meta(
    c: &Connection,
    set_id: i64,
    title: &str,
    description: Option<&str>,
) -> Result<()> {
    c.execute(
        "UPDATE sets SET title=?2 WHERE id=?1",
        params![set_id, title],
    )?;
    if let Some(d) = description {
        c.execute(
            "UPDATE sets SET description=?2 WHERE id=?1",
            params![set_id, d],
        )?;
    }
    touch_set(c, set_id)
}

pub fn delete_set(c: &Connection, set_id: i64) -> Result<()> {
    c.execute("DELETE FROM set_photos WHERE set_id=?1", [set_id])?;
    c.execute("DELETE FROM sets WHERE id=?1", [set_id])?;
    Ok(())
}

// ---------------------------------------------------------------- groups

#[derive(Clone, Debug)]
pub struct GroupRow {
    pub nsid: String,
    pub name: String,
    pub description: String,
    pub members: i64,
    pub pool_count: i64,
}

const GROUP_COLS: &str = "g.nsid, g.name, g.description, \
 (SELECT COUNT(*) FROM group_members m WHERE m.group_id=g.nsid), \
 (SELECT COUNT(*) FROM pool_photos pp WHERE pp.group_id=g.nsid)";

fn group_from_row(r: &Row) -> rusqlite::Result<GroupRow> {
    Ok(GroupRow {
        nsid: r.get(0)?,
        name: r.get(1)?,
        description: r.get(2)?,
        members: r.get(3)?,
        pool_count: r.get(4)?,
    })
}

pub fn create_group(c: &Connection, name: &str, description: &str) -> Result<GroupRow> {
    let n = reserve_ids(c, "group", 1_000_001, 1)?;
    let nsid = format!("{n}@N20");
    c.execute(
        "INSERT INTO groups(nsid, name, description, created) VALUES(?1,?2,?3,?4)",
        params![nsid, name, description, now()],
    )?;
    Ok(GroupRow {
        nsid,
        name: name.to_owned(),
        description: description.to_owned(),
        members: 0,
        pool_count: 0,
    })
}

pub fn group(c: &Connection, nsid: &str) -> Result<Option<GroupRow>> {
    let sql = format!("SELECT {GROUP_COLS} FROM groups g WHERE g.nsid=?1");
    Ok(c.query_row(&sql, [nsid], group_from_row).optional()?)
}

pub fn join_group(c: &Connection, group_id: &str, nsid: &str) -> Result<()> {
    c.execute(
        "INSERT OR IGNORE INTO group_members(group_id, nsid) VALUES(?1,?2)",
        [group_id, nsid],
    )?;
    Ok(())
}

pub fn is_member(c: &Connection, group_id: &str, nsid: &str) -> Result<bool> {
    Ok(c.query_row(
        "SELECT 1 FROM group_members WHERE group_id=?1 AND nsid=?2",
        [group_id, nsid],
        |_| Ok(()),
    )
    .optional()?
    .is_some())
}

pub fn groups_of(c: &Connection, nsid: &str) -> Result<Vec<GroupRow>> {
    let sql = format!(
        "SELECT {GROUP_COLS} FROM groups g JOIN group_members m ON m.group_id=g.nsid WHERE m.nsid=?1 ORDER BY g.name, g.nsid"
    );
    all_rows(c, &sql, [nsid], group_from_row)
}

pub fn pools_of_photo(c: &Connection, photo: i64) -> Result<Vec<GroupRow>> {
    let sql = format!(
        "SELECT {GROUP_COLS} FROM groups g JOIN pool_photos pp ON pp.group_id=g.nsid WHERE pp.photo_id=?1 ORDER BY g.nsid"
    );
    all_rows(c, &sql, [photo], group_from_row)
}

/// Adds a photo to a pool; false when it was already there.
pub fn add_to_pool(c: &Connection, group_id: &str, photo: i64) -> Result<bool> {
    let n = c.execute(
        "INSERT OR IGNORE INTO pool_photos(group_id, photo_id, date_added) VALUES(?1,?2,?3)",
        params![group_id, photo, now()],
    )?;
    Ok(n > 0)
}

/// Removes a photo from a pool; false when it was not there.
pub fn remove_from_pool(c: &Connection, group_id: &str, photo: i64) -> Result<bool> {
    let n = c.execute(
        "DELETE FROM pool_photos WHERE group_id=?1 AND photo_id=?2",
        params![group_id, photo],
    )?;
    Ok(n > 0)
}

// ---------------------------------------------------------------- upload tickets

pub fn create_ticket(c: &Connection, owner: &str, photo: Option<i64>) -> Result<i64> {
    let id = reserve_ids(c, "ticket", 1_000_000, 1)?;
    c.execute(
        "INSERT INTO tickets(id, owner, photo_id, complete, created) VALUES(?1,?2,?3,?4,?5)",
        params![id, owner, photo, if photo.is_some() { 1 } else { 2 }, now()],
    )?;
    Ok(id)
}

/// A ticket's state for checkTickets: (complete, photo id). The first poll of
/// a finished ticket still answers "pending" so clients exercise polling.
pub fn poll_ticket(c: &Connection, id: i64, owner: &str) -> Result<Option<(i64, Option<i64>)>> {
    let row: Option<(i64, Option<i64>, i64)> = c
        .query_row(
            "SELECT complete, photo_id, polled FROM tickets WHERE id=?1 AND owner=?2",
            params![id, owner],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((complete, photo, polled)) = row else {
        return Ok(None);
    };
    c.execute("UPDATE tickets SET polled=polled+1 WHERE id=?1", [id])?;
    if polled == 0 && complete == 1 {
        return Ok(Some((0, None)));
    }
    Ok(Some((complete, photo)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_lists_split_on_spaces_and_keep_quoted_words() {
        assert_eq!(
            split_tag_list(r#"sea "New York" flickrfs:sha1=ab12  x"#),
            vec!["sea", "New York", "flickrfs:sha1=ab12", "x"]
        );
    }

    #[test]
    fn tags_normalise_like_flickr() {
        assert_eq!(normalize_tag("New York"), "newyork");
        assert_eq!(normalize_tag("Ça-va!"), "çava");
        assert_eq!(normalize_tag("FlickrFS:SHA1=AB12"), "flickrfs:sha1=ab12");
        assert_eq!(
            parse_machine_tag(r#"geo:place="New York""#),
            Some(MachineTag {
                ns: "geo".into(),
                pred: "place".into(),
                value: "new york".into()
            })
        );
        assert!(parse_machine_tag("1geo:x=1").is_none());
        assert!(parse_machine_tag("plain").is_none());
    }

    #[test]
    fn machine_patterns_accept_wildcards() {
        let p = MachinePattern::parse("flickrfs:").unwrap();
        assert_eq!(p.ns.as_deref(), Some("flickrfs"));
        assert!(p.pred.is_none() && p.value.is_none());
        let p = MachinePattern::parse("flickrfs:sha1=").unwrap();
        assert_eq!(p.pred.as_deref(), Some("sha1"));
        assert!(p.value.is_none());
        let p = MachinePattern::parse("*:sha1=AB").unwrap();
        assert!(p.ns.is_none());
        assert_eq!(p.value.as_deref(), Some("ab"));
    }
}

// ---------------------------------------------------------------- dates

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) for Unix seconds.
pub fn format_datetime(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60
    )
}

/// Parses `YYYY-MM-DD[ HH:MM:SS]` (or EXIF's colons) as UTC Unix seconds.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    if b.len() < 10 {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let (hh, mm, ss) = if b.len() >= 19 {
        (num(11..13)?, num(14..16)?, num(17..19)?)
    } else {
        (0, 0, 0)
    };
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

#[cfg(test)]
mod date_tests {
    use super::*;

    #[test]
    fn datetimes_round_trip() {
        assert_eq!(format_datetime(0), "1970-01-01 00:00:00");
        assert_eq!(format_datetime(1_191_242_096), "2007-10-01 12:34:56");
        for ts in [0, 951_782_400, 1_700_000_000, 4_102_444_799] {
            assert_eq!(parse_datetime(&format_datetime(ts)), Some(ts));
        }
        assert_eq!(
            parse_datetime("2021:07:04 18:30:01"),
            parse_datetime("2021-07-04 18:30:01")
        );
        assert!(parse_datetime("garbage").is_none());
    }
}
