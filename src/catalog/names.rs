//! Entry names: turning photo titles into safe file names, validating names
//! that come from the kernel (`OsStr`), and the collision rule (` (PHOTOID)` or
//! ` (N)` before the extension).
//!
//! A name is never identity: it is stored in the membership row and only
//! changes when the user renames.

use std::ffi::OsStr;

use serde::{Deserialize, Serialize};

use super::error::{CatalogError, Result};

/// The longest file name the kernel accepts, in bytes.
pub const NAME_MAX: usize = 255;

/// A validated file name of one entry (or folder): valid UTF-8, 1..=255
/// bytes, not `.`/`..`, no `/`, NUL, control or bidi-override characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryName(String);

impl EntryName {
    /// Validates a name given by a user or the kernel.
    pub fn new(name: &str) -> Result<EntryName> {
        let _ = name;
        todo!()
    }

    /// Validates a name from FUSE; non-UTF-8 names are refused with
    /// `InvalidName` (EINVAL) saying so.
    pub fn from_os(name: &OsStr) -> Result<EntryName> {
        let _ = name;
        todo!()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the last `.` (the whole name when there is none, or
    /// when the only dot is the first character).
    pub fn stem(&self) -> &str {
        todo!()
    }

    /// The extension without the dot, if any.
    pub fn extension(&self) -> Option<&str> {
        todo!()
    }

    /// Wraps a string already known to be valid (rows read from the catalog).
    pub(crate) fn from_trusted(s: String) -> EntryName {
        EntryName(s)
    }
}

impl std::fmt::Display for EntryName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<OsStr> for EntryName {
    fn as_ref(&self) -> &OsStr {
        OsStr::new(&self.0)
    }
}

/// Makes a title safe as a file-name stem: drops control, bidi-override and
/// NUL characters, replaces `/` with `∕`-free `_`, trims, avoids `.`/`..`.
/// Returns `None` when nothing usable is left.
pub fn sanitize_title(title: &str) -> Option<String> {
    let _ = title;
    todo!()
}

/// The name for a photo: its sanitised title (or `fallback`, e.g. the photo
/// id, or `untitled`) plus `.ext`, cut to 255 bytes keeping the extension.
pub fn name_for_title(title: &str, ext: Option<&str>, fallback: &str) -> EntryName {
    let _ = (title, ext, fallback);
    todo!()
}

/// `base` with ` (tag)` inserted before the extension, still at most 255
/// bytes (the stem is shortened when needed).
pub fn with_suffix(base: &EntryName, tag: &str) -> EntryName {
    let _ = (base, tag);
    todo!()
}

/// The title a name stands for: the stem (rename within a folder = new title).
pub fn title_from_name(name: &EntryName) -> String {
    let _ = name;
    todo!()
}
