//! The virtual tree in one place: the kinds of node a path can resolve to,
//! and the rules for names the kernel hands us.
//!
//! ```text
//! /                                   Node::Root
//! /.flickrfs/                         Node::ControlDir
//! /.flickrfs/{sync,status,...}        Node::Control(ControlFile)
//! /<account>/                         Node::Account            (entries of its root collection)
//! /<account>/Pools/                   Node::Pools
//! /<account>/<set>/                   Node::Folder(set)
//! /<account>/Pools/<group>/           Node::Folder(pool)
//! <folder>/<title>.<ext>              Node::Entry(collection, photo)
//! ```
//!
//! Which children a directory has is answered by `ops::FsCore::children`
//! and `ops::FsCore::resolve`, which match on these kinds and nothing else;
//! what each name means is the catalog's business.

use std::ffi::OsStr;

use super::FsError;
use crate::catalog::{AccountId, CollectionId, PhotoKey};

/// The name of the control directory at the root of the mount.
pub const CONTROL_DIR: &str = ".flickrfs";
/// The name of the folder of group pools inside an account folder.
pub const POOLS_DIR: &str = "Pools";
/// Longest file name accepted (bytes), as on ext4.
pub const NAME_MAX: usize = 255;

/// Every kind of node in the mount. Inode numbers are assigned per `Node`
/// (see `inodes.rs`), so a node keeps its number for the life of the mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Node {
    Root,
    ControlDir,
    Control(ControlFile),
    Account(AccountId),
    Pools(AccountId),
    /// A set or pool folder.
    Folder(CollectionId),
    /// A photo as a member of one collection (the account root included).
    Entry(CollectionId, PhotoKey),
    /// The answer to `symlink(2)` only: the kernel insists the new inode is
    /// a symlink, so `ln -s` gets this short-lived stub (zero timeouts); the
    /// next lookup of the name finds the entry, a plain file.
    LinkStub(CollectionId, PhotoKey),
}

impl Node {
    pub fn is_dir(self) -> bool {
        matches!(
            self,
            Node::Root | Node::ControlDir | Node::Account(_) | Node::Pools(_) | Node::Folder(_)
        )
    }
}

/// The files in `/.flickrfs/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ControlFile {
    Sync,
    Status,
    StatusJson,
    Plan,
}

impl ControlFile {
    pub const ALL: [ControlFile; 4] = [
        ControlFile::Sync,
        ControlFile::Status,
        ControlFile::StatusJson,
        ControlFile::Plan,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ControlFile::Sync => "sync",
            ControlFile::Status => "status",
            ControlFile::StatusJson => "status.json",
            ControlFile::Plan => "plan",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn writable(self) -> bool {
        matches!(self, ControlFile::Sync)
    }
}

/// A name looked up in a directory: valid UTF-8 of at most `NAME_MAX` bytes.
/// Lookups of names that cannot exist answer ENOENT; creating them answers
/// with the specific errno (see `new_name`).
pub fn lookup_name(name: &OsStr) -> Result<&str, FsError> {
    if name.len() > NAME_MAX {
        return Err(FsError::name_too_long(name));
    }
    name.to_str()
        .ok_or_else(|| FsError::not_found("non-UTF-8 name"))
}

/// A name for something new (create, mkdir, rename target, link):
/// ENAMETOOLONG over 255 bytes, EILSEQ when not UTF-8 (Flickr titles are
/// Unicode text), EINVAL for `.`/`..` or a name with NUL or `/`.
pub fn new_name(name: &OsStr) -> Result<&str, FsError> {
    if name.len() > NAME_MAX {
        return Err(FsError::name_too_long(name));
    }
    let s = name.to_str().ok_or_else(|| {
        FsError::new(
            libc::EILSEQ,
            format!(
                "name {:?} is not valid UTF-8; Flickr titles must be text",
                name.to_string_lossy()
            ),
        )
        .with_status()
    })?;
    if s.is_empty() || s == "." || s == ".." || s.contains('/') || s.contains('\0') {
        return Err(FsError::new(libc::EINVAL, format!("invalid name {s:?}")));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;

    #[test]
    fn bad_names_get_specific_errnos() {
        let long = "a".repeat(256);
        assert_eq!(
            new_name(OsStr::new(&long)).unwrap_err().errno,
            libc::ENAMETOOLONG
        );
        assert_eq!(
            new_name(OsStr::from_bytes(b"caf\xe9.jpg"))
                .unwrap_err()
                .errno,
            libc::EILSEQ
        );
        assert_eq!(new_name(OsStr::new("..")).unwrap_err().errno, libc::EINVAL);
        assert_eq!(new_name(OsStr::new("ok.jpg")).unwrap(), "ok.jpg");
        assert_eq!(
            lookup_name(OsStr::from_bytes(b"caf\xe9.jpg"))
                .unwrap_err()
                .errno,
            libc::ENOENT
        );
    }
}
