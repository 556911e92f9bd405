//! The SQLite schema and its versioned migrations (`PRAGMA user_version`).
//!
//! Paths are stored as BLOBs of their bytes (Linux paths need not be UTF-8);
//! tags and the merge base's set and pool lists as JSON text.

use rusqlite::Connection;

use super::error::{CatalogError, Result};

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = 7;

const V1: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('generation', 0), ('changes_floor', 0);

CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    nsid            TEXT NOT NULL UNIQUE,
    username        TEXT NOT NULL,
    collection_name TEXT NOT NULL UNIQUE,
    default_folder  BLOB NOT NULL,
    sync_cursor     INTEGER
);

CREATE TABLE photos (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- local side
    path          BLOB,
    size          INTEGER,
    mtime_ns      INTEGER,
    checksum      TEXT,
    kind          TEXT NOT NULL DEFAULT 'unknown',
    taken_at      TEXT,
    width         INTEGER,
    height        INTEGER,
    missing       INTEGER NOT NULL DEFAULT 0,
    writing       INTEGER NOT NULL DEFAULT 0,
    -- remote side
    remote_id     TEXT,
    r_title       TEXT,
    r_description TEXT,
    r_tags        TEXT,
    r_public      INTEGER,
    r_friend      INTEGER,
    r_family      INTEGER,
    r_date_taken  TEXT,
    r_granularity INTEGER,
    r_format      TEXT,
    r_orig_secret TEXT,
    r_secret      TEXT,
    r_server      TEXT,
    r_url         TEXT,
    r_lastupdate  INTEGER,
    r_video       INTEGER,
    r_checksum    TEXT,
    -- local meta and upload settings
    title         TEXT NOT NULL,
    description   TEXT,
    tags          TEXT,
    privacy       TEXT,
    resize        TEXT,
    skip          INTEGER NOT NULL DEFAULT 0,
    junk          INTEGER NOT NULL DEFAULT 0,
    ignored       INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX photos_remote ON photos(account_id, remote_id) WHERE remote_id IS NOT NULL;
CREATE INDEX photos_checksum ON photos(account_id, checksum) WHERE checksum IS NOT NULL;
CREATE INDEX photos_r_checksum ON photos(account_id, r_checksum) WHERE r_checksum IS NOT NULL;
CREATE INDEX photos_missing ON photos(account_id) WHERE missing = 1;
CREATE INDEX photos_ignored ON photos(account_id) WHERE ignored = 1;

CREATE TABLE collections (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('root', 'set', 'pool')),
    remote_id     TEXT,
    name          TEXT NOT NULL,
    title         TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    primary_photo INTEGER REFERENCES photos(id) ON DELETE SET NULL,
    state         TEXT NOT NULL DEFAULT 'normal' CHECK (state IN ('normal', 'delete-pending')),
    synced_title  TEXT
);
CREATE UNIQUE INDEX collections_root ON collections(account_id) WHERE kind = 'root';
CREATE UNIQUE INDEX collections_remote ON collections(account_id, kind, remote_id) WHERE remote_id IS NOT NULL;
CREATE INDEX collections_name ON collections(account_id, kind, name);

CREATE TABLE memberships (
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    photo_id      INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    PRIMARY KEY (collection_id, name)
) WITHOUT ROWID;
CREATE INDEX memberships_photo ON memberships(photo_id, collection_id);

CREATE TABLE synced (
    photo_id    INTEGER PRIMARY KEY REFERENCES photos(id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    description TEXT NOT NULL,
    tags        TEXT NOT NULL,
    privacy     TEXT NOT NULL,
    sets        TEXT NOT NULL,
    checksum    TEXT
);

CREATE TABLE journal (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    intent      TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX journal_open ON journal(account_id) WHERE finished_at IS NULL;

CREATE TABLE problems (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    photo_id   INTEGER REFERENCES photos(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    message    TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX problems_photo ON problems(photo_id, kind);
CREATE INDEX problems_account ON problems(account_id);

CREATE TABLE changes (
    generation    INTEGER NOT NULL,
    collection_id INTEGER,
    account_id    INTEGER
);
CREATE INDEX changes_generation ON changes(generation);
"#;

/// Values of a photo's fields that Flickr refused (by a digest of the
/// value): not sent again until the value changes.
const V2: &str = r#"
CREATE TABLE refused_edits (
    photo_id INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    field    TEXT NOT NULL,
    digest   TEXT NOT NULL,
    PRIMARY KEY (photo_id, field)
) WITHOUT ROWID;
CREATE INDEX photos_path ON photos(path) WHERE path IS NOT NULL;
-- Backing files the mount itself wrote (a copy into the mount, the copy a
-- first change of someone else's file made): the only files flickrfs ever
-- changes in place, renames or deletes.
CREATE TABLE own_files (
    path BLOB PRIMARY KEY
) WITHOUT ROWID;
-- The mount's trash: what was moved to MOUNT/.Trash-$UID/files/, under
-- which name, from where (catalog/trash.rs).
CREATE TABLE trash (
    id            INTEGER PRIMARY KEY,
    account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    photo_id      INTEGER NOT NULL REFERENCES photos(id) ON DELETE CASCADE,
    name          TEXT NOT NULL UNIQUE,
    collection_id INTEGER REFERENCES collections(id) ON DELETE SET NULL,
    origin_name   TEXT NOT NULL,
    held          INTEGER NOT NULL,
    at            INTEGER NOT NULL
);
"#;

/// A photo deleted on Flickr leaves the collection but keeps its row (and
/// its file): hidden (`ignored = 1`), no longer linked to Flickr, with the
/// id it had there, so that `flickrfs restore ID` can queue it for upload.
const V3: &str = r#"
ALTER TABLE photos ADD COLUMN gone_id TEXT;
"#;

/// The change log names the photo whose entries changed, so that the
/// mount's invalidation looks at that photo's names, not the whole folder.
const V4: &str = r#"
ALTER TABLE changes ADD COLUMN photo_id INTEGER;
"#;

/// The merge base keeps a photo's pool memberships (group ids, JSON), as it
/// keeps its sets: a pool left in the mount is then a removal to send to
/// Flickr, not a membership the next sync brings back. A base written
/// before this has none (`[]`): its first sync merges pools as a union,
/// as before, and records them.
///
/// And the account folder lists the photos in no set and no pool: a photo
/// in a pool loses the names it had there.
const V5: &str = r#"
ALTER TABLE synced ADD COLUMN pools TEXT NOT NULL DEFAULT '[]';
DELETE FROM memberships
 WHERE collection_id IN (SELECT id FROM collections WHERE kind = 'root')
   AND photo_id IN (SELECT m.photo_id FROM memberships m
                    JOIN collections c ON c.id = m.collection_id WHERE c.kind = 'pool');
"#;

/// Indexes for the statements that scanned a table growing with the
/// library (found by `EXPLAIN QUERY PLAN` in the catalog's tests): the
/// mount's start looking for files left being written, and the foreign
/// keys of the trash, which deleting a set folder (`collection_id`) or a
/// photo (`photo_id`) follows.
const V6: &str = r#"
CREATE INDEX photos_writing ON photos(writing) WHERE writing = 1;
CREATE INDEX trash_collection ON trash(collection_id);
CREATE INDEX trash_photo ON trash(photo_id);
"#;

/// The sync's dirty set (`sync/restrict.rs`): the photos whose planner
/// inputs changed since the last plan, noted by triggers so that no write
/// path can forget (the change log above misses edits of fields alone). An
/// item is `#KEY` for a record, or a Flickr id (a record's link that went,
/// or a Flickr-side change the sync notes itself). `seq` only grows
/// (AUTOINCREMENT, bumped by every new mark): a sync clears the marks it
/// read, never one made while it planned.
const V7: &str = r#"
CREATE TABLE sync_dirty (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    item       TEXT NOT NULL,
    UNIQUE (account_id, item)
);
CREATE TRIGGER sync_dirty_photo_insert AFTER INSERT ON photos BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item) VALUES (NEW.account_id, '#' || NEW.id);
END;
CREATE TRIGGER sync_dirty_photo_update AFTER UPDATE ON photos BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item) VALUES (NEW.account_id, '#' || NEW.id);
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT OLD.account_id, OLD.remote_id
        WHERE OLD.remote_id IS NOT NULL AND OLD.remote_id IS NOT NEW.remote_id;
END;
CREATE TRIGGER sync_dirty_photo_delete AFTER DELETE ON photos BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item) VALUES (OLD.account_id, '#' || OLD.id);
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT OLD.account_id, OLD.remote_id WHERE OLD.remote_id IS NOT NULL;
END;
CREATE TRIGGER sync_dirty_member_insert AFTER INSERT ON memberships BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT account_id, '#' || id FROM photos WHERE id = NEW.photo_id;
END;
CREATE TRIGGER sync_dirty_member_update AFTER UPDATE ON memberships BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT account_id, '#' || id FROM photos WHERE id IN (OLD.photo_id, NEW.photo_id);
END;
CREATE TRIGGER sync_dirty_member_delete AFTER DELETE ON memberships BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT account_id, '#' || id FROM photos WHERE id = OLD.photo_id;
END;
CREATE TRIGGER sync_dirty_synced_insert AFTER INSERT ON synced BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT account_id, '#' || id FROM photos WHERE id = NEW.photo_id;
END;
CREATE TRIGGER sync_dirty_synced_update AFTER UPDATE ON synced BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT account_id, '#' || id FROM photos WHERE id IN (OLD.photo_id, NEW.photo_id);
END;
CREATE TRIGGER sync_dirty_synced_delete AFTER DELETE ON synced BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT account_id, '#' || id FROM photos WHERE id = OLD.photo_id;
END;
CREATE TRIGGER sync_dirty_problem_insert AFTER INSERT ON problems BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT account_id, '#' || id FROM photos WHERE id = NEW.photo_id;
END;
CREATE TRIGGER sync_dirty_problem_update AFTER UPDATE ON problems BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT account_id, '#' || id FROM photos WHERE id IN (OLD.photo_id, NEW.photo_id);
END;
CREATE TRIGGER sync_dirty_problem_delete AFTER DELETE ON problems BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT account_id, '#' || id FROM photos WHERE id = OLD.photo_id;
END;
CREATE TRIGGER sync_dirty_refused_insert AFTER INSERT ON refused_edits BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT account_id, '#' || id FROM photos WHERE id = NEW.photo_id;
END;
CREATE TRIGGER sync_dirty_refused_update AFTER UPDATE ON refused_edits BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT account_id, '#' || id FROM photos WHERE id IN (OLD.photo_id, NEW.photo_id);
END;
CREATE TRIGGER sync_dirty_refused_delete AFTER DELETE ON refused_edits BEGIN
    INSERT OR REPLACE INTO sync_dirty (account_id, item)
        SELECT account_id, '#' || id FROM photos WHERE id = OLD.photo_id;
END;
CREATE TRIGGER sync_dirty_account_delete AFTER DELETE ON accounts BEGIN
    DELETE FROM sync_dirty WHERE account_id = OLD.id;
END;
"#;

/// The migrations, index `i` bringing version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7];

/// Brings the schema to [`SCHEMA_VERSION`], one migration per version, each
/// in its own transaction.
pub(crate) fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<()> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(CatalogError::db("reading the schema version"))?;
    if version > SCHEMA_VERSION {
        return Err(CatalogError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known: SCHEMA_VERSION,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let to = i as i64 + 1;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(CatalogError::db("starting a migration"))?;
        // Another connection may have migrated while we waited for the lock.
        let now: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(CatalogError::db("reading the schema version"))?;
        if now >= to {
            continue;
        }
        tx.execute_batch(sql).map_err(CatalogError::db(format!(
            "migrating the schema to version {to}"
        )))?;
        tx.pragma_update(None, "user_version", to)
            .map_err(CatalogError::db("writing the schema version"))?;
        tx.commit()
            .map_err(CatalogError::db(format!("committing schema version {to}")))?;
    }
    Ok(())
}
