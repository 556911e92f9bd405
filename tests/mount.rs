//! Real FUSE mounts, driven with the tools people use (cp, mv, ln, rm,
//! mkdir, rsync, python's shutil, setfattr/getfattr, find, cmp), checking
//! the catalog and the disk after each rule of SEMANTICS.md.
//!
//! One module per operation under `tests/mount/` (lookup, readdir, read,
//! write, rename, unlink, link, symlink, mkdir, xattr, control), plus the
//! mount's lifecycle and the whole-mount invariants; one test binary, so
//! the link is paid once.

#[path = "common/mount.rs"]
mod harness;

#[path = "mount/control.rs"]
mod control;
#[path = "mount/invariants.rs"]
mod invariants;
#[path = "mount/lifecycle.rs"]
mod lifecycle;
#[path = "mount/link.rs"]
mod link;
#[path = "mount/lookup.rs"]
mod lookup;
#[path = "mount/mkdir.rs"]
mod mkdir;
#[path = "mount/read.rs"]
mod read;
#[path = "mount/readdir.rs"]
mod readdir;
#[path = "mount/rename.rs"]
mod rename;
#[path = "mount/symlink.rs"]
mod symlink;
#[path = "mount/unlink.rs"]
mod unlink;
#[path = "mount/write.rs"]
mod write;
#[path = "mount/xattr.rs"]
mod xattr;

use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use flickrfs::catalog::{EntryName, PhotoState};
use flickrfs::fs::{MountOptions, SyncRequest};
use harness::*;

const MB: usize = 1024 * 1024;

fn photo_of(
    w: &World,
    coll: flickrfs::catalog::CollectionId,
    name: &str,
) -> flickrfs::catalog::Entry {
    w.catalog()
        .lookup(coll, &EntryName::new(name).unwrap())
        .unwrap()
        .unwrap_or_else(|| panic!("{name} not in the catalog; listed: {:?}", w.names(coll)))
}
