//! The SQLite schema and its versioned migrations (`PRAGMA user_version`).

use rusqlite::Connection;

use super::error::Result;

/// The schema version this code writes.
pub const SCHEMA_VERSION: i64 = 1;

/// Brings the schema to [`SCHEMA_VERSION`], one migration per version, each
/// in its own transaction.
pub(crate) fn migrate(conn: &mut Connection, path: &std::path::Path) -> Result<()> {
    let _ = (conn, path);
    todo!()
}
