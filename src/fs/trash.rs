//! The `info/` half of the mount's trash folders: the `.trashinfo` files a
//! file manager writes (the original path and the deletion date) are real
//! files in private folders of flickrfs beside the catalog, one per trash
//! folder (`trash-info/` for `.Trash-$UID`, `trash-info-shared/` for
//! `.Trash/$UID`). The other half, `files/`, is the catalog's
//! (`catalog::Trashed`).
//!
//! The two trash folders show one trash, but an entry is listed in
//! `files/` only where its `.trashinfo` is ([`InfoDirs::shows`]): GVfs
//! lists every trash folder of a mount, and would otherwise show each
//! trashed photo twice. An entry with no `.trashinfo` (moved there with
//! `mv`) is listed in both.
//!
//! File managers write them with their usual tools (an exclusive create,
//! then a temporary file renamed over it), so they are plain files here:
//! every operation goes to the real folder. A name gets a stable number
//! for its inode.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Mutex;

use super::locks::lock;

/// The two trash folders a mount's top may hold, by the freedesktop.org
/// Trash specification: `.Trash-$UID`, and `$UID` inside the shared
/// `.Trash` (the one GIO picks, since it exists).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TrashDir {
    PerUser,
    Shared,
}

impl TrashDir {
    pub fn other(self) -> TrashDir {
        match self {
            TrashDir::PerUser => TrashDir::Shared,
            TrashDir::Shared => TrashDir::PerUser,
        }
    }
}

/// The `info/` folders of both trash folders.
#[derive(Debug)]
pub struct InfoDirs {
    per_user: InfoDir,
    shared: InfoDir,
}

impl InfoDirs {
    /// `per_user` holds `.Trash-$UID/info`; `.Trash/$UID/info` is its
    /// sibling with `-shared` appended.
    pub fn new(per_user: PathBuf) -> InfoDirs {
        let mut shared = per_user.clone().into_os_string();
        shared.push("-shared");
        InfoDirs {
            per_user: InfoDir::new(per_user),
            shared: InfoDir::new(shared.into()),
        }
    }

    pub fn of(&self, d: TrashDir) -> &InfoDir {
        match d {
            TrashDir::PerUser => &self.per_user,
            TrashDir::Shared => &self.shared,
        }
    }

    /// Whether trash folder `d` lists the trashed entry `name` in its
    /// `files/`: where its `.trashinfo` is, or in both when it has none.
    pub fn shows(&self, d: TrashDir, name: &str) -> bool {
        let info = format!("{name}.trashinfo");
        self.of(d).path(&info).is_file() || !self.of(d.other()).path(&info).is_file()
    }
}

/// A file of the `info/` folder, by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoId(pub u64);

/// The real folder behind `info/`, and the numbers of its names.
#[derive(Debug)]
pub struct InfoDir {
    path: PathBuf,
    names: Mutex<Names>,
}

#[derive(Debug, Default)]
struct Names {
    by_name: HashMap<String, InfoId>,
    by_id: Vec<String>,
}

impl InfoDir {
    pub fn new(path: PathBuf) -> InfoDir {
        InfoDir {
            path,
            names: Mutex::default(),
        }
    }

    /// The number of `name` (the same for the life of the mount).
    pub fn id(&self, name: &str) -> InfoId {
        let mut n = lock(&self.names);
        if let Some(id) = n.by_name.get(name) {
            return *id;
        }
        let id = InfoId(n.by_id.len() as u64);
        n.by_id.push(name.to_owned());
        n.by_name.insert(name.to_owned(), id);
        id
    }

    pub fn name(&self, id: InfoId) -> Option<String> {
        lock(&self.names).by_id.get(id.0 as usize).cloned()
    }

    /// The real file of `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn ensure(&self) -> io::Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.path)
    }

    /// The names in the folder (none while it does not exist).
    pub fn list(&self) -> io::Result<Vec<String>> {
        let rd = match std::fs::read_dir(&self.path) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for e in rd {
            if let Some(n) = e?.file_name().to_str() {
                out.push(n.to_owned());
            }
        }
        out.sort();
        Ok(out)
    }

    /// A new file `name` (never replacing one).
    pub fn create(&self, name: &str) -> io::Result<File> {
        self.ensure()?;
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(self.path(name))
    }

    /// Opens `name` with these `open(2)` flags.
    pub fn open(&self, name: &str, flags: i32) -> io::Result<File> {
        let acc = flags & libc::O_ACCMODE;
        OpenOptions::new()
            .read(acc != libc::O_WRONLY)
            .write(acc != libc::O_RDONLY)
            .append(flags & libc::O_APPEND != 0)
            .truncate(flags & libc::O_TRUNC != 0)
            .open(self.path(name))
    }

    pub fn remove(&self, name: &str) -> io::Result<()> {
        std::fs::remove_file(self.path(name))
    }

    pub fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        std::fs::rename(self.path(from), self.path(to))
    }
}
