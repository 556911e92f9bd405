//! The error of a filesystem operation: the errno the kernel gets, and a
//! message logged once at the edge (and shown in `/.flickrfs/status` when
//! the user should see it).

use std::ffi::OsStr;

use crate::catalog::CatalogError;

/// An operation's failure: the errno for the kernel and a message logged
/// once (and put in the status when `status`).
#[derive(Debug, Clone)]
pub struct FsError {
    pub errno: i32,
    pub message: String,
    pub status: bool,
}

pub type FsResult<T> = Result<T, FsError>;

impl FsError {
    pub fn new(errno: i32, message: impl Into<String>) -> Self {
        FsError {
            errno,
            message: message.into(),
            status: false,
        }
    }
    /// An expected answer (ENOENT on lookup...): logged at debug level only.
    pub fn quiet(errno: i32) -> Self {
        FsError::new(errno, "")
    }
    pub fn not_found(what: &str) -> Self {
        FsError::new(libc::ENOENT, what.to_owned())
    }
    pub fn name_too_long(name: &OsStr) -> Self {
        FsError::new(
            libc::ENAMETOOLONG,
            format!(
                "name of {} bytes is longer than 255: {:?}...",
                name.len(),
                name.to_string_lossy().chars().take(40).collect::<String>()
            ),
        )
        .with_status()
    }
    /// Also show this in `/.flickrfs/status`.
    pub fn with_status(mut self) -> Self {
        self.status = true;
        self
    }
    pub fn from_io(e: std::io::Error, context: String) -> Self {
        FsError::new(
            e.raw_os_error().unwrap_or(libc::EIO),
            format!("{context}: {e}"),
        )
    }
}

impl From<CatalogError> for FsError {
    fn from(e: CatalogError) -> Self {
        FsError::new(e.errno(), e.to_string())
    }
}
