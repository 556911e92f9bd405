//! The catalog's error type. Each variant maps to the errno the mount answers
//! the kernel with ([`CatalogError::errno`]) and carries a message for people.

use std::path::PathBuf;

use crate::media::MediaError;

/// What went wrong in a catalog operation.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No such account, folder, entry or photo.
    #[error("not found: {0}")]
    NotFound(String),
    /// The name is already taken in that folder (or the account exists).
    #[error("already exists: {0}")]
    Exists(String),
    /// `rmdir` of a set that still lists photos.
    #[error("folder not empty: {0}")]
    NotEmpty(String),
    /// A name the kernel or a user gave is not acceptable (not UTF-8, `/`, NUL,
    /// control or bidi-override characters, `.`/`..`, empty).
    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    /// Longer than 255 bytes.
    #[error("name too long ({len} bytes, at most 255): {name:?}")]
    NameTooLong { name: String, len: usize },
    /// A value (xattr, setting) that cannot be parsed.
    #[error("invalid value for {what}: {message}")]
    InvalidValue { what: String, message: String },
    /// The operation has no meaning here (write a read-only fact, mkdir in a
    /// set, link into the account folder...).
    #[error("not permitted: {0}")]
    NotPermitted(String),
    /// Move or link between two accounts.
    #[error("cannot move between accounts: {0}")]
    CrossAccount(String),
    /// Unknown extended attribute.
    #[error("no such attribute: {0}")]
    NoAttribute(String),
    /// The backing file is gone or unreadable.
    #[error("backing file missing for {what}: {path}")]
    Missing { what: String, path: PathBuf },
    /// Reading a backing file (checksum, EXIF) failed.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// The database refused (busy past the timeout, disk full, corrupt).
    #[error("catalog database {context}: {source}")]
    Db {
        context: String,
        #[source]
        source: rusqlite::Error,
    },
    /// The catalog file is newer than this program.
    #[error("catalog {path} has schema version {found}, this flickrfs knows at most {known}")]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    /// The catalog file is somewhere SQLite cannot keep it safe (a network
    /// filesystem, several hard links).
    #[error("refusing to open the catalog {path}: {reason}")]
    UnsafeLocation { path: PathBuf, reason: String },
    /// Opening or creating the catalog file itself failed.
    #[error("opening catalog {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CatalogError {
    /// The errno value the FUSE layer replies with.
    pub fn errno(&self) -> i32 {
        match self {
            CatalogError::NotFound(_) => libc::ENOENT,
            CatalogError::Exists(_) => libc::EEXIST,
            CatalogError::NotEmpty(_) => libc::ENOTEMPTY,
            CatalogError::InvalidName { .. } | CatalogError::InvalidValue { .. } => libc::EINVAL,
            CatalogError::NameTooLong { .. } => libc::ENAMETOOLONG,
            CatalogError::NotPermitted(_) => libc::EPERM,
            CatalogError::CrossAccount(_) => libc::EXDEV,
            CatalogError::NoAttribute(_) => libc::ENODATA,
            CatalogError::Missing { .. } | CatalogError::Media(_) => libc::EIO,
            CatalogError::Db { source, .. } => match source {
                rusqlite::Error::SqliteFailure(e, _)
                    if matches!(
                        e.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) =>
                {
                    libc::EAGAIN
                }
                rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::DiskFull => {
                    libc::ENOSPC
                }
                _ => libc::EIO,
            },
            CatalogError::TooNew { .. }
            | CatalogError::Open { .. }
            | CatalogError::UnsafeLocation { .. } => libc::EIO,
        }
    }

    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> CatalogError {
        let context = context.into();
        move |source| CatalogError::Db { context, source }
    }
}

/// The catalog's result type.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
