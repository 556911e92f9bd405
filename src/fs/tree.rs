//! The virtual tree in one place: the kinds of node a path can resolve to,
//! the rules for names the kernel hands us, and [`Layout`], the one
//! resolver: what a name in a folder is, what a folder lists, which
//! collection a folder shows, and whether a catalog change touches a
//! folder's listing. The core (`ops.rs`), the change watcher
//! (`invalidate.rs`) and listing ahead (`prefetch.rs`) all ask it; what
//! each name *means* is the catalog's business.
//!
//! ```text
//! /                                   Node::Root
//! /.flickrfs/                         Node::ControlDir
//! /.flickrfs/{sync,status,...}        Node::Control(ControlFile)
//! /.Trash-$UID/                       Node::Trash(PerUser)        (freedesktop.org trash)
//! /.Trash/                            Node::SharedTrash           (sticky; holds $UID/)
//! /.Trash/$UID/                       Node::Trash(Shared)
//! <trash>/files/, <trash>/info/       Node::TrashFiles, Node::TrashInfo
//! <trash>/expunged/                   Node::TrashExpunged         (GVfs empties through it)
//! <trash>/files/<name>                Node::TrashFile             (catalog::Trashed)
//! <trash>/info/<name>.trashinfo       Node::InfoFile              (a real file, fs/trash.rs)
//! /<account>/                         Node::Account            (entries of its root collection)
//! /<account>/Pools/                   Node::Pools
//! /<account>/<set>/                   Node::Folder(set)
//! /<account>/Pools/<group>/           Node::Folder(pool)
//! <folder>/<title>.<ext>              Node::Entry(collection, photo)
//! ```

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::sync::Mutex;

use super::error::FsError;
pub use super::trash::TrashDir;
use super::trash::{InfoDirs, InfoId};
use crate::catalog::{
    Account, AccountId, Catalog, CatalogError, Changes, CollectionId, Entry, EntryName, PhotoKey,
    TrashId,
};

pub use crate::catalog::POOLS_DIR;

/// The name of the control directory at the root of the mount.
pub const CONTROL_DIR: &str = ".flickrfs";
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
    /// `/.Trash`, the shared trash folder (sticky), holding the user's.
    SharedTrash,
    /// A trash folder, holding `files/` and `info/`.
    Trash(TrashDir),
    TrashFiles(TrashDir),
    TrashInfo(TrashDir),
    /// `expunged/`, where GVfs moves what it empties from `files/` (then
    /// deletes it there): always empty, a move into it empties the entry.
    TrashExpunged(TrashDir),
    /// An entry moved to the trash.
    TrashFile(TrashDir, TrashId),
    /// A `.trashinfo` file.
    InfoFile(TrashDir, InfoId),
}

impl Node {
    /// Nodes whose names and attributes the kernel must not keep: the
    /// trash, which changes by operations on other folders and is rarely
    /// listed.
    pub fn uncached(self) -> bool {
        matches!(
            self,
            Node::SharedTrash
                | Node::Trash(_)
                | Node::TrashFiles(_)
                | Node::TrashInfo(_)
                | Node::TrashExpunged(_)
                | Node::TrashFile(..)
                | Node::InfoFile(..)
        )
    }
}

impl Node {
    pub fn is_dir(self) -> bool {
        matches!(
            self,
            Node::Root
                | Node::ControlDir
                | Node::Account(_)
                | Node::Pools(_)
                | Node::Folder(_)
                | Node::SharedTrash
                | Node::Trash(_)
                | Node::TrashFiles(_)
                | Node::TrashInfo(_)
                | Node::TrashExpunged(_)
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

/// The accounts, cached: every lookup at the root and in an account
/// folder needs them. The change watcher forgets them when the catalog
/// changes.
#[derive(Debug, Default)]
pub struct Accounts {
    cache: Mutex<Option<Vec<Account>>>,
}

impl Accounts {
    pub fn get(&self, cat: &Catalog) -> Result<Vec<Account>, CatalogError> {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = cache.as_ref() {
            return Ok(a.clone());
        }
        let list = cat.accounts()?;
        *cache = Some(list.clone());
        Ok(list)
    }

    pub fn forget(&self) {
        *self.cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// A child of a directory: its name, its node, and the catalog entry
/// behind it (for photos).
pub type Child = (String, Node, Option<Entry>);

/// The virtual layout over one catalog connection and the accounts.
pub struct Layout<'a> {
    pub cat: &'a Catalog,
    pub accounts: &'a [Account],
    /// The user whose trash `.Trash-$UID` is.
    pub uid: u32,
    pub info: &'a InfoDirs,
}

/// `.Trash-` and the user id.
pub fn per_user_trash_name(uid: u32) -> String {
    format!(".Trash-{uid}")
}

/// `.Trash`.
pub const SHARED_TRASH: &str = ".Trash";

impl Layout<'_> {
    fn account(&self, id: AccountId) -> Result<&Account, FsError> {
        self.accounts
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(|| FsError::not_found("account"))
    }

    /// The collection whose entries a directory node lists: EPERM for the
    /// folders that hold no photos, ENOTDIR for files.
    pub fn folder_of(&self, node: Node) -> Result<CollectionId, FsError> {
        match node {
            Node::Account(a) => Ok(self.account(a)?.root),
            Node::Folder(c) => Ok(c),
            Node::Root
            | Node::ControlDir
            | Node::Pools(_)
            | Node::SharedTrash
            | Node::Trash(_)
            | Node::TrashFiles(_)
            | Node::TrashInfo(_)
            | Node::TrashExpunged(_) => Err(FsError::new(
                libc::EPERM,
                "only account, set and pool folders hold photos",
            )),
            Node::Control(_)
            | Node::Entry(..)
            | Node::LinkStub(..)
            | Node::TrashFile(..)
            | Node::InfoFile(..) => Err(FsError::quiet(libc::ENOTDIR)),
        }
    }

    /// What `name` is inside directory `parent`.
    pub fn resolve(&self, parent: Node, name: &str) -> Result<(Node, Option<Entry>), FsError> {
        let nf = || FsError::quiet(libc::ENOENT);
        match parent {
            Node::Root => {
                if name == CONTROL_DIR {
                    return Ok((Node::ControlDir, None));
                }
                if name == per_user_trash_name(self.uid) {
                    return Ok((Node::Trash(TrashDir::PerUser), None));
                }
                if name == SHARED_TRASH {
                    return Ok((Node::SharedTrash, None));
                }
                self.accounts
                    .iter()
                    .find(|a| a.collection_name.as_str() == name)
                    .map(|a| (Node::Account(a.id), None))
                    .ok_or_else(nf)
            }
            Node::ControlDir => ControlFile::from_name(name)
                .map(|c| (Node::Control(c), None))
                .ok_or_else(nf),
            Node::Account(a) => {
                if name == POOLS_DIR {
                    return Ok((Node::Pools(a), None));
                }
                let n = EntryName::new(name).map_err(|_| nf())?;
                if let Some(set) = self.cat.lookup_set(a, &n)? {
                    return Ok((Node::Folder(set.id), None));
                }
                let root = self.account(a)?.root;
                self.cat
                    .lookup(root, &n)?
                    .map(|e| (Node::Entry(root, e.photo), Some(e)))
                    .ok_or_else(nf)
            }
            Node::Pools(a) => {
                let n = EntryName::new(name).map_err(|_| nf())?;
                self.cat
                    .lookup_pool(a, &n)?
                    .map(|p| (Node::Folder(p.id), None))
                    .ok_or_else(nf)
            }
            Node::Folder(c) => {
                let n = EntryName::new(name).map_err(|_| nf())?;
                self.cat
                    .lookup(c, &n)?
                    .map(|e| (Node::Entry(c, e.photo), Some(e)))
                    .ok_or_else(nf)
            }
            Node::SharedTrash if name == self.uid.to_string() => {
                Ok((Node::Trash(TrashDir::Shared), None))
            }
            Node::SharedTrash => Err(nf()),
            Node::Trash(d) => match name {
                "files" => Ok((Node::TrashFiles(d), None)),
                "info" => Ok((Node::TrashInfo(d), None)),
                "expunged" => Ok((Node::TrashExpunged(d), None)),
                _ => Err(nf()),
            },
            Node::TrashExpunged(_) => Err(nf()),
            Node::TrashFiles(d) => self
                .cat
                .trashed_named(name)?
                .filter(|_| self.info.shows(d, name))
                .map(|t| (Node::TrashFile(d, t.id), None))
                .ok_or_else(nf),
            Node::TrashInfo(d) => {
                if self.info.of(d).path(name).is_file() {
                    Ok((Node::InfoFile(d, self.info.of(d).id(name)), None))
                } else {
                    Err(nf())
                }
            }
            Node::Control(_)
            | Node::Entry(..)
            | Node::LinkStub(..)
            | Node::TrashFile(..)
            | Node::InfoFile(..) => Err(FsError::quiet(libc::ENOTDIR)),
        }
    }

    /// Every child of a directory node.
    pub fn children(&self, dir: Node) -> Result<Vec<Child>, FsError> {
        let mut out = Vec::new();
        match dir {
            Node::Root => {
                out.push((CONTROL_DIR.to_owned(), Node::ControlDir, None));
                out.push((
                    per_user_trash_name(self.uid),
                    Node::Trash(TrashDir::PerUser),
                    None,
                ));
                out.push((SHARED_TRASH.to_owned(), Node::SharedTrash, None));
                for a in self.accounts {
                    out.push((
                        a.collection_name.as_str().to_owned(),
                        Node::Account(a.id),
                        None,
                    ));
                }
            }
            Node::ControlDir => {
                for c in ControlFile::ALL {
                    out.push((c.name().to_owned(), Node::Control(c), None));
                }
            }
            Node::Account(a) => {
                let root = self.account(a)?.root;
                out.push((POOLS_DIR.to_owned(), Node::Pools(a), None));
                for s in self.cat.sets(a)? {
                    if s.name.as_str() != POOLS_DIR {
                        out.push((s.name.as_str().to_owned(), Node::Folder(s.id), None));
                    }
                }
                out.extend(entries_of(root, self.cat.list(root)?));
            }
            Node::Pools(a) => {
                for p in self.cat.pools(a)? {
                    out.push((p.name.as_str().to_owned(), Node::Folder(p.id), None));
                }
            }
            Node::Folder(c) => out.extend(entries_of(c, self.cat.list(c)?)),
            Node::SharedTrash => {
                out.push((self.uid.to_string(), Node::Trash(TrashDir::Shared), None));
            }
            Node::Trash(d) => {
                out.push(("files".to_owned(), Node::TrashFiles(d), None));
                out.push(("info".to_owned(), Node::TrashInfo(d), None));
                out.push(("expunged".to_owned(), Node::TrashExpunged(d), None));
            }
            Node::TrashExpunged(_) => {}
            Node::TrashFiles(d) => {
                for t in self.cat.trashed()? {
                    if !self.info.shows(d, &t.name) {
                        continue;
                    }
                    out.push((t.name.clone(), Node::TrashFile(d, t.id), None));
                }
            }
            Node::TrashInfo(d) => {
                let names =
                    self.info.of(d).list().map_err(|e| {
                        FsError::from_io(e, "listing the trash's info folder".into())
                    })?;
                for n in names {
                    let id = self.info.of(d).id(&n);
                    out.push((n, Node::InfoFile(d, id), None));
                }
            }
            Node::Control(_)
            | Node::Entry(..)
            | Node::LinkStub(..)
            | Node::TrashFile(..)
            | Node::InfoFile(..) => return Err(FsError::quiet(libc::ENOTDIR)),
        }
        Ok(out)
    }
}

/// The children of a folder listing collection `coll`, from its entries.
pub fn entries_of(coll: CollectionId, entries: Vec<Entry>) -> impl Iterator<Item = Child> {
    entries.into_iter().map(move |e| {
        (
            e.name.as_str().to_owned(),
            Node::Entry(coll, e.photo),
            Some(e),
        )
    })
}

/// Each account's root collection (what its folder lists).
pub type Roots = HashMap<AccountId, CollectionId>;

/// The collection a directory node lists, if any (an account folder lists
/// its root collection).
pub fn listed_collection(node: Node, roots: &Roots) -> Option<CollectionId> {
    match node {
        Node::Account(a) => roots.get(&a).copied(),
        Node::Folder(c) => Some(c),
        _ => None,
    }
}

/// What a catalog change touched, ready for many questions.
#[derive(Debug, Default)]
pub struct Touched {
    pub everything: bool,
    pub collections: HashSet<CollectionId>,
    /// Collections changed as a whole: every name in them needs a look.
    pub whole: HashSet<CollectionId>,
    /// Elsewhere, only these photos' names changed.
    pub entries: Vec<(CollectionId, PhotoKey)>,
    pub accounts: HashSet<AccountId>,
}

impl From<&Changes> for Touched {
    fn from(c: &Changes) -> Self {
        Touched {
            everything: c.everything,
            collections: c.collections.iter().copied().collect(),
            whole: c.whole.iter().copied().collect(),
            entries: c.entries.clone(),
            accounts: c.accounts.iter().copied().collect(),
        }
    }
}

impl Touched {
    /// Whether the listing of directory `node` may have changed.
    pub fn listing(&self, node: Node, roots: &Roots) -> bool {
        match node {
            Node::Root => self.everything || !self.accounts.is_empty(),
            Node::Account(a) => {
                self.everything
                    || self.accounts.contains(&a)
                    || roots.get(&a).is_some_and(|r| self.collections.contains(r))
            }
            Node::Pools(a) => self.everything || self.accounts.contains(&a),
            Node::Folder(c) => self.everything || self.collections.contains(&c),
            _ => false,
        }
    }

    /// Whether the entries of collection `c` may have changed.
    pub fn collection(&self, c: CollectionId) -> bool {
        self.everything || self.collections.contains(&c)
    }

    /// Whether any name in collection `c` may have changed (not only the
    /// names of the photos in [`Touched::entries`]).
    pub fn whole_collection(&self, c: CollectionId) -> bool {
        self.everything || self.whole.contains(&c)
    }

    /// Whether the change is told photo by photo only: then the folders and
    /// names to look at are found by node, with no walk of every inode.
    pub fn precise(&self) -> bool {
        !self.everything && self.whole.is_empty() && self.accounts.is_empty()
    }

    /// The directories whose listing may have changed, among those a
    /// precise change can touch (see [`Touched::precise`]).
    pub fn listed_dirs(&self, roots: &Roots) -> Vec<Node> {
        let mut nodes: Vec<Node> = self.collections.iter().map(|c| Node::Folder(*c)).collect();
        nodes.push(Node::Root);
        for a in roots.keys() {
            nodes.push(Node::Account(*a));
            nodes.push(Node::Pools(*a));
        }
        nodes.retain(|n| self.listing(*n, roots));
        nodes
    }

    /// Whether account `a`'s folder list (sets, pools, its name) may have
    /// changed.
    pub fn account(&self, a: AccountId) -> bool {
        self.everything || self.accounts.contains(&a)
    }
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
