//! The filesystem core: every kernel request, already decoded by the
//! adapter, becomes one method here returning `Result<_, FsError>`.
//! It resolves inodes and names to [`Node`]s, asks the catalog what an
//! operation means, and does the file I/O on backing files. It knows
//! nothing of reply objects (see `adapter.rs`).

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{BackingId, FileAttr, FileType, FopenFlags, INodeNo, OpenFlags, TimeOrNow};

use crate::catalog::{
    Account, AccountId, AddOutcome, Catalog, CollectionId, Entry, EntryName, FileAction, PhotoKey,
    UnlinkOutcome, WriteOutcome, Written, Xattr,
};

use super::control::{parse_sync_requests, FetchHook, StatusBoard, SyncHook};
use super::error::{FsError, FsResult};
use super::fetching::{FetchError, Fetching};
use super::inodes::InodeTable;
use super::invalidate::{Kicker, Shared};
use super::io::{self, BackingCache, Handle, WriteHandle, WriteState};
use super::locks::lock;
use super::prefetch::{FolderRef, Prefetcher};
use super::trash::InfoDirs;
use super::tree::{self, ControlFile, Layout, Node, POOLS_DIR};
use super::xattr;
use crate::library::{Copied, Library};

/// The block size folders report; see `dir_attr`.
const DIR_BLKSIZE: u32 = 1024 * 1024;

/// Settings of the core, fixed at mount time.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub mountpoint: PathBuf,
    pub uid: u32,
    pub gid: u32,
    /// Use kernel passthrough for reads when the kernel and privileges allow.
    pub want_passthrough: bool,
    pub ttl: Duration,
    /// The real folder behind the trash's `info/` (`fs/trash.rs`).
    pub trash_info: PathBuf,
}

/// A directory listing snapshot, taken at `opendir`.
#[derive(Debug)]
pub struct DirEntry {
    pub name: Vec<u8>,
    pub ino: u64,
    pub attr: FileAttr,
}

/// An open directory: its listing is taken at the first readdir.
#[derive(Debug)]
pub struct DirHandle {
    pub ino: u64,
    pub list: std::sync::OnceLock<Vec<DirEntry>>,
}

impl DirHandle {
    pub fn children(&self) -> &[DirEntry] {
        self.list.get().map(Vec::as_slice).unwrap_or(&[])
    }
}

/// What `open` decided.
pub enum Opened {
    /// Reply with this handle and these flags.
    Plain(u64, FopenFlags),
    /// Passthrough: the adapter registers `file` with the kernel (through
    /// the reply) via [`FsCore::attach_backing`].
    Backing { ino: u64, file: File },
}

/// What the daemon gives the mount to call: the sync engine, and the
/// fetcher of photos on demand.
#[derive(Default)]
pub struct Hooks {
    pub sync: Option<SyncHook>,
    pub fetch: Option<FetchHook>,
    pub libraries: Libraries,
}

/// Each account's library folders ([`crate::library`]).
pub type Libraries = HashMap<AccountId, Arc<Library>>;

pub struct FsCore {
    pub(crate) cfg: CoreConfig,
    cat: Mutex<Catalog>,
    /// Shared with the change watcher: the inode table, the accounts, the
    /// status board and the kernel's ear.
    pub(crate) shared: Shared,
    handles: Mutex<HashMap<u64, Arc<Handle>>>,
    dirs: Mutex<HashMap<u64, Arc<DirHandle>>>,
    next_fh: AtomicU64,
    sync_hook: Option<SyncHook>,
    fetch_hook: Option<FetchHook>,
    /// Originals coming down for an open, by photo: their size while
    /// they do.
    fetching: Mutex<HashMap<PhotoKey, std::sync::Weak<Fetching>>>,
    pub(crate) passthrough: AtomicBool,
    backing: BackingCache,
    started: SystemTime,
    /// Folders read ahead of a walker.
    prefetch: Prefetcher,
    /// Asks the change watcher for an immediate pass.
    kicker: Kicker,
    /// The trash's `info/` files.
    info: InfoDirs,
    libraries: Libraries,
}

impl std::fmt::Debug for FsCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsCore").field("cfg", &self.cfg).finish()
    }
}

/// Fills this thread's read buffer with `fill` and hands it to `reply`.
/// Each FUSE thread keeps its buffer, so reads allocate nothing.
fn with_read_buffer<R>(
    fill: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
    reply: impl FnOnce(&[u8]) -> R,
) -> std::io::Result<R> {
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with(|b| {
        // a reentrant call (none today) gets a buffer of its own
        let mut own = Vec::new();
        let mut kept = b.try_borrow_mut();
        let buf = match kept.as_deref_mut() {
            Ok(buf) => buf,
            Err(_) => &mut own,
        };
        fill(buf)?;
        Ok(reply(buf))
    })
}

fn time_from_ns(ns: i64) -> SystemTime {
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH
    }
}

/// How long an open of a photo not downloaded yet waits for Flickr to
/// start sending it (the fetcher's own connect timeout is shorter).
const FETCH_ANSWER: Duration = Duration::from_secs(30);

fn fetch_failed(e: &Entry, why: &str) -> FsError {
    FsError::new(
        libc::EIO,
        format!("{}: fetching the original from Flickr: {why}", e.name),
    )
    .with_status()
}

fn entry_name(name: &str) -> FsResult<EntryName> {
    EntryName::new(name).map_err(|e| FsError::from(e).with_status())
}

impl FsCore {
    /// A complete core: `shared` and `kicker` come from the change watcher's
    /// side (`invalidate`), `prefetch` from listing ahead.
    pub fn new(
        cfg: CoreConfig,
        catalog: Catalog,
        shared: Shared,
        hooks: Hooks,
        kicker: Kicker,
        prefetch: Prefetcher,
    ) -> Self {
        lock(&shared.status).engine_attached = hooks.sync.is_some();
        let info = InfoDirs::new(cfg.trash_info.clone());
        FsCore {
            info,
            cfg,
            cat: Mutex::new(catalog),
            shared,
            handles: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            sync_hook: hooks.sync,
            fetch_hook: hooks.fetch,
            fetching: Mutex::default(),
            libraries: hooks.libraries,
            passthrough: AtomicBool::new(false),
            backing: BackingCache::default(),
            started: SystemTime::now(),
            prefetch,
            kicker,
        }
    }

    /// The status board (what `/.flickrfs/status` shows).
    pub fn status(&self) -> &Arc<Mutex<StatusBoard>> {
        &self.shared.status
    }

    fn inodes(&self) -> MutexGuard<'_, InodeTable> {
        lock(&self.shared.inodes)
    }

    pub(crate) fn cat(&self) -> MutexGuard<'_, Catalog> {
        lock(&self.cat)
    }

    /// How long the kernel may keep the name and attributes of `ino`: not
    /// at all for the trash (it changes through other folders), nor for a
    /// photo not downloaded yet (its size comes when it is opened).
    pub fn ttl_of(&self, ino: u64) -> Duration {
        let t = self.inodes();
        match t.get(ino) {
            Some(s) if s.node.uncached() => Duration::ZERO,
            // a photo not on disk yet: its size is known once fetched
            Some(s) if s.fp.is_some_and(|fp| !fp.has_file) => Duration::ZERO,
            _ => self.cfg.ttl,
        }
    }

    /// Whether the kernel may keep the listing of directory `ino`.
    pub fn caches_listing(&self, ino: u64) -> bool {
        !self.node(ino).is_ok_and(|n| n.uncached())
    }

    /// Record a line in the status (and the log).
    pub fn problem(&self, line: impl Into<String>) {
        let line = line.into();
        tracing::warn!("{line}");
        lock(&self.shared.status).problem(line);
    }

    /// The operation just done may have changed other folders: have the
    /// kernel's caches corrected before the system call returns.
    /// `locked`: directories the current operation holds locked in the
    /// kernel; invalidations there are sent after the operation returns.
    fn settle(&self, locked: &[u64]) {
        self.kicker.kick_and_wait(locked);
    }

    fn all_accounts(&self) -> FsResult<Vec<Account>> {
        Ok(self.shared.accounts.get(&self.cat())?)
    }

    fn account(&self, id: AccountId) -> FsResult<Account> {
        self.all_accounts()?
            .into_iter()
            .find(|a| a.id == id)
            .ok_or_else(|| FsError::not_found("account"))
    }

    fn node(&self, ino: u64) -> FsResult<Node> {
        self.inodes()
            .get(ino)
            .map(|s| s.node)
            .ok_or_else(|| FsError::new(libc::ENOENT, format!("unknown inode {ino}")))
    }

    // ----- attributes -------------------------------------------------

    fn dir_attr(&self, ino: u64) -> FileAttr {
        // glibc sizes its getdents buffer from a directory's st_blksize
        // (32 KiB to 1 MiB), and the kernel sizes its readdir request from
        // that buffer: a big block size lists a 1,000-photo set in one
        // round trip instead of six
        FileAttr {
            ino: INodeNo(ino),
            size: 0,
            blocks: 0,
            atime: self.started,
            mtime: self.started,
            ctime: self.started,
            crtime: self.started,
            kind: FileType::Directory,
            perm: 0o755,
            nlink: 2,
            uid: self.cfg.uid,
            gid: self.cfg.gid,
            rdev: 0,
            blksize: DIR_BLKSIZE,
            flags: 0,
        }
    }

    fn file_attr(&self, ino: u64, size: u64, mtime: SystemTime, perm: u16) -> FileAttr {
        FileAttr {
            ino: INodeNo(ino),
            size,
            blocks: size.div_ceil(512),
            atime: mtime,
            mtime,
            ctime: mtime,
            crtime: mtime,
            kind: FileType::RegularFile,
            perm,
            nlink: 1,
            uid: self.cfg.uid,
            gid: self.cfg.gid,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        }
    }

    fn entry_attr(&self, ino: u64, e: &Entry) -> FileAttr {
        if let Some(path) = &e.path {
            if let Ok(m) = std::fs::metadata(path) {
                let mtime = m.modified().unwrap_or(UNIX_EPOCH);
                let mut a = self.file_attr(ino, m.len(), mtime, 0o644);
                a.blocks = m.blocks();
                a.atime = m.accessed().unwrap_or(mtime);
                a.ctime = time_from_ns(m.ctime() * 1_000_000_000 + m.ctime_nsec());
                return a;
            }
        }
        let size = match self.in_flight(e.photo) {
            Some(f) => f.size(),
            None => e.size,
        };
        self.file_attr(ino, size, time_from_ns(e.mtime_ns), 0o644)
    }

    /// The download of `photo`'s original an open started, while it runs.
    fn in_flight(&self, photo: PhotoKey) -> Option<Arc<Fetching>> {
        let mut m = lock(&self.fetching);
        let f = m.get(&photo)?.upgrade();
        if f.is_none() {
            m.remove(&photo);
        }
        f
    }

    fn attr_of(&self, ino: u64, node: Node, entry: Option<&Entry>) -> FsResult<FileAttr> {
        Ok(match node {
            // the trash folders: the user's alone (0700), the shared one
            // sticky and open to all, as the Trash specification wants
            Node::SharedTrash => {
                let mut a = self.dir_attr(ino);
                a.perm = 0o1777;
                a
            }
            Node::Trash(_) | Node::TrashFiles(_) | Node::TrashInfo(_) | Node::TrashExpunged(_) => {
                let mut a = self.dir_attr(ino);
                a.perm = 0o700;
                a
            }
            Node::TrashFile(_, id) => self.trashed_attr(ino, id)?,
            Node::InfoFile(d, id) => {
                let name = self
                    .info
                    .of(d)
                    .name(id)
                    .ok_or_else(|| FsError::quiet(libc::ENOENT))?;
                let m = std::fs::metadata(self.info.of(d).path(&name))
                    .map_err(|e| FsError::new(e.raw_os_error().unwrap_or(libc::ENOENT), ""))?;
                let mtime = m.modified().unwrap_or(UNIX_EPOCH);
                self.file_attr(ino, m.len(), mtime, 0o600)
            }
            n if n.is_dir() => self.dir_attr(ino),
            Node::Control(c) => self.file_attr(
                ino,
                0,
                SystemTime::now(),
                if c.writable() { 0o644 } else { 0o444 },
            ),
            Node::LinkStub(c, p) => {
                let target = self.entry_by_key(ino, c, p).ok().and_then(|e| e.path);
                let len = target.map(|t| t.as_os_str().len() as u64).unwrap_or(0);
                let mut a = self.file_attr(ino, len, SystemTime::now(), 0o777);
                a.kind = FileType::Symlink;
                a
            }
            Node::Entry(c, p) => match entry {
                Some(e) => self.entry_attr(ino, e),
                None => {
                    let e = self.entry_by_key(ino, c, p)?;
                    self.entry_attr(ino, &e)
                }
            },
            _ => self.dir_attr(ino),
        })
    }

    /// An entry in the trash: its photo's file as it is now.
    fn trashed_attr(&self, ino: u64, id: crate::catalog::TrashId) -> FsResult<FileAttr> {
        let t = self.trashed(id)?;
        if let Some(m) = t.path.as_ref().and_then(|p| std::fs::metadata(p).ok()) {
            let mtime = m.modified().unwrap_or(UNIX_EPOCH);
            return Ok(self.file_attr(ino, m.len(), mtime, 0o644));
        }
        Ok(self.file_attr(ino, t.size, time_from_ns(t.mtime_ns), 0o644))
    }

    fn trashed(&self, id: crate::catalog::TrashId) -> FsResult<crate::catalog::Trashed> {
        self.cat()
            .trashed_by_id(id)?
            .ok_or_else(|| FsError::quiet(libc::ENOENT))
    }

    /// The catalog entry behind an entry inode, refreshed.
    fn entry_by_key(
        &self,
        ino: u64,
        c: CollectionId,
        p: crate::catalog::PhotoKey,
    ) -> FsResult<Entry> {
        let names: Vec<String> = self
            .inodes()
            .get(ino)
            .map(|s| s.links.iter().rev().map(|(_, n)| n.to_string()).collect())
            .unwrap_or_default();
        let cat = self.cat();
        for name in names {
            if let Ok(n) = EntryName::new(&name) {
                if let Some(e) = cat.lookup(c, &n)? {
                    if e.photo == p {
                        return Ok(e);
                    }
                }
            }
        }
        cat.entries_of(p)?
            .into_iter()
            .find(|e| e.collection == c)
            .ok_or_else(|| FsError::quiet(libc::ENOENT))
    }

    fn entry_of_ino(&self, ino: u64) -> FsResult<Entry> {
        match self.node(ino)? {
            Node::Entry(c, p) => {
                let e = self.entry_by_key(ino, c, p)?;
                if let Some(s) = self.inodes().get_mut(ino) {
                    s.fp = Some(super::inodes::Fingerprint::of(&e));
                }
                Ok(e)
            }
            n if n.is_dir() => Err(FsError::quiet(libc::EISDIR)),
            _ => Err(FsError::quiet(libc::EPERM)),
        }
    }

    pub fn getattr(&self, ino: u64) -> FsResult<FileAttr> {
        let node = self.node(ino)?;
        self.attr_of(ino, node, None)
    }

    /// Attributes through an open handle: a write handle's own file (the
    /// copy being written) is the truth while it is open.
    pub fn getattr_fh(&self, ino: u64, fh: Option<u64>) -> FsResult<FileAttr> {
        if let Some(h) = fh.and_then(|f| self.handle(f).ok()) {
            if let Handle::Write(w) = &*h {
                let path = lock(&w.state).readable().1.to_path_buf();
                if let Ok(m) = std::fs::metadata(&path) {
                    let mtime = m.modified().unwrap_or(UNIX_EPOCH);
                    let mut a = self.file_attr(ino, m.len(), mtime, 0o644);
                    a.blocks = m.blocks();
                    return Ok(a);
                }
            }
        }
        self.getattr(ino)
    }

    // ----- the resolver: tree::Layout -------------------------------

    /// The virtual layout over the core's catalog connection.
    fn layout<R>(&self, f: impl FnOnce(&Layout) -> FsResult<R>) -> FsResult<R> {
        let cat = self.cat();
        let accounts = self.shared.accounts.get(&cat)?;
        f(&Layout {
            cat: &cat,
            accounts: &accounts,
            uid: self.cfg.uid,
            info: &self.info,
        })
    }

    /// What `name` is inside directory `parent`.
    fn resolve(&self, parent: Node, name: &str) -> FsResult<(Node, Option<Entry>)> {
        self.layout(|l| l.resolve(parent, name))
    }

    /// The collection whose entries a directory node lists.
    fn folder_of(&self, node: Node) -> FsResult<CollectionId> {
        self.layout(|l| l.folder_of(node))
    }

    fn assign(&self, node: Node, parent: u64, name: &str, entry: Option<&Entry>) -> u64 {
        self.inodes().assign(node, parent, name, entry)
    }

    pub fn lookup(&self, parent: u64, name: &OsStr) -> FsResult<FileAttr> {
        let name = tree::lookup_name(name)?;
        let pnode = self.node(parent)?;
        let (node, entry) = self.resolve(pnode, name)?;
        let ino = self.assign(node, parent, name, entry.as_ref());
        self.attr_of(ino, node, entry.as_ref())
    }

    // ----- directories ------------------------------------------------

    pub fn opendir(&self, ino: u64) -> FsResult<u64> {
        let node = self.node(ino)?;
        if !node.is_dir() {
            return Err(FsError::quiet(libc::ENOTDIR));
        }
        // The listing is taken at the first readdir: when the kernel serves
        // the directory from its cache, no listing is needed at all.
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&self.dirs).insert(
            fh,
            Arc::new(DirHandle {
                ino,
                list: std::sync::OnceLock::new(),
            }),
        );
        Ok(fh)
    }

    /// The snapshot of a directory, taken at its first readdir: names,
    /// inode numbers and attributes (entries' from the catalog's recorded
    /// size and mtime: a listing costs one query, not one stat per file;
    /// `getattr` and `open` look at the file itself).
    fn listing(&self, ino: u64) -> FsResult<Vec<DirEntry>> {
        let node = self.node(ino)?;
        let kids = self.layout(|l| l.children(node))?;
        self.assemble(ino, kids)
    }

    /// `.`, `..` and the children, with inode numbers and attributes.
    fn assemble(&self, ino: u64, kids: Vec<tree::Child>) -> FsResult<Vec<DirEntry>> {
        let parent = self.inodes().get(ino).and_then(|s| s.parent()).unwrap_or(1);
        let mut list = Vec::with_capacity(kids.len() + 2);
        list.push(DirEntry {
            name: b".".to_vec(),
            ino,
            attr: self.dir_attr(ino),
        });
        list.push(DirEntry {
            name: b"..".to_vec(),
            ino: parent,
            attr: self.dir_attr(parent),
        });
        // one lock for the whole listing
        let inos: Vec<u64> = {
            let mut t = self.inodes();
            kids.iter()
                .map(|(name, node, entry)| t.assign(*node, ino, name, entry.as_ref()))
                .collect()
        };
        for ((name, node, entry), cino) in kids.into_iter().zip(inos) {
            let attr = match &entry {
                Some(e) => self.recorded_attr(cino, e),
                None => self.attr_of(cino, node, None)?,
            };
            list.push(DirEntry {
                name: name.into_bytes(),
                ino: cino,
                attr,
            });
        }
        Ok(list)
    }

    /// An entry's attributes as the catalog recorded them.
    fn recorded_attr(&self, ino: u64, e: &Entry) -> FileAttr {
        self.file_attr(ino, e.size, time_from_ns(e.mtime_ns), 0o644)
    }

    pub fn dir_listing(&self, fh: u64) -> FsResult<Arc<DirHandle>> {
        let d = lock(&self.dirs)
            .get(&fh)
            .cloned()
            .ok_or_else(|| FsError::quiet(libc::EBADF))?;
        if d.list.get().is_none() {
            let node = self.node(d.ino)?;
            let ahead = match node {
                Node::Folder(coll) => self
                    .prefetch
                    .take(d.ino, coll, || self.cat().generation().ok())
                    .map(|entries| tree::entries_of(coll, entries).collect()),
                _ => None,
            };
            let list = match ahead {
                Some(kids) => self.assemble(d.ino, kids)?,
                None => self.listing(d.ino)?,
            };
            self.list_ahead(d.ino, &list);
            let _ = d.list.set(list);
        }
        Ok(d)
    }

    /// Folder `ino` was just listed: have the folder a walker lists next
    /// (its first set folder, or its next sibling) listed ahead.
    fn list_ahead(&self, ino: u64, list: &[DirEntry]) {
        let (parent, folders) = {
            let t = self.inodes();
            let parent = t.get(ino).and_then(|s| s.parent()).unwrap_or(1);
            let folders = list
                .iter()
                .skip(2) // . and ..
                .filter(|c| c.attr.kind == FileType::Directory)
                .filter_map(|c| match t.get(c.ino)?.node {
                    Node::Folder(coll) => Some(FolderRef { ino: c.ino, coll }),
                    _ => None,
                })
                .collect();
            (parent, folders)
        };
        self.prefetch.listed(ino, parent, folders);
    }

    pub fn releasedir(&self, fh: u64) {
        lock(&self.dirs).remove(&fh);
    }

    pub fn mkdir(&self, parent: u64, name: &OsStr) -> FsResult<FileAttr> {
        let name = tree::new_name(name)?;
        let pnode = self.node(parent)?;
        // the trash folders always exist (a file manager makes sure of them)
        if pnode.uncached() || pnode == Node::Root {
            if self.resolve(pnode, name).is_ok() {
                return Err(FsError::quiet(libc::EEXIST));
            }
            return Err(FsError::new(
                libc::EPERM,
                format!("mkdir {name:?}: photosets are folders directly under an account folder"),
            ));
        }
        let Node::Account(a) = pnode else {
            return Err(FsError::new(
                libc::EPERM,
                format!("mkdir {name:?}: photosets are folders directly under an account folder"),
            ));
        };
        if name == POOLS_DIR {
            return Err(FsError::quiet(libc::EEXIST));
        }
        let set = self.cat().mkdir(a, &entry_name(name)?)?;
        let ino = self.assign(Node::Folder(set.id), parent, set.name.as_str(), None);
        Ok(self.dir_attr(ino))
    }

    pub fn rmdir(&self, parent: u64, name: &OsStr) -> FsResult<()> {
        let name = tree::lookup_name(name)?;
        let (node, _) = self.resolve(self.node(parent)?, name)?;
        match node {
            Node::Folder(c) => {
                self.cat().rmdir(c)?;
                self.inodes().unlink(&node, parent, name);
                Ok(())
            }
            n if n.is_dir() => Err(FsError::new(
                libc::EPERM,
                format!("rmdir {name:?}: only photoset folders can be removed"),
            )),
            _ => Err(FsError::quiet(libc::ENOTDIR)),
        }
    }

    // ----- entries ----------------------------------------------------

    pub fn unlink(&self, parent: u64, name: &OsStr) -> FsResult<()> {
        let name = tree::lookup_name(name)?;
        let pnode = self.node(parent)?;
        if matches!(pnode, Node::ControlDir | Node::Root) {
            return Err(FsError::new(
                libc::EPERM,
                format!("{name:?} cannot be removed"),
            ));
        }
        match pnode {
            // emptying the trash: what rm would have done; no byte goes
            Node::TrashFiles(_) => {
                let t = self.cat().empty_trashed(name)?;
                tracing::info!("emptied {name:?} from the trash (photo {})", t.photo.0);
                self.settle(&[parent]);
                return Ok(());
            }
            Node::TrashInfo(d) => {
                return self
                    .info
                    .of(d)
                    .remove(name)
                    .map_err(|e| FsError::from_io(e, format!("removing {name:?}")));
            }
            _ => {}
        }
        let coll = self.folder_of(pnode)?;
        let outcome = self.cat().unlink(coll, &entry_name(name)?)?;
        tracing::info!("rm {name:?}: {outcome:?}");
        let photo = match &outcome {
            UnlinkOutcome::RemovedFromCollection { photo }
            | UnlinkOutcome::MovedToRoot { photo, .. }
            | UnlinkOutcome::Forgotten { photo, .. }
            | UnlinkOutcome::Ignored { photo, .. } => *photo,
        };
        self.inodes()
            .unlink(&Node::Entry(coll, photo), parent, name);
        if let UnlinkOutcome::Forgotten { path: Some(p), .. } = &outcome {
            tracing::info!("{} stays on disk", p.display());
        }
        self.settle(&[parent]);
        Ok(())
    }

    pub fn rename(
        &self,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        noreplace: bool,
        exchange: bool,
    ) -> FsResult<()> {
        if exchange {
            return Err(FsError::new(
                libc::EINVAL,
                "RENAME_EXCHANGE is not supported",
            ));
        }
        let name = tree::lookup_name(name)?;
        let newname = tree::new_name(newname)?;
        let pnode = self.node(parent)?;
        let dnode = self.node(newparent)?;
        let (node, _) = self.resolve(pnode, name)?;
        let target = self.resolve(dnode, newname).ok().map(|(n, _)| n);
        if noreplace && target.is_some() {
            return Err(FsError::quiet(libc::EEXIST));
        }
        let from = (parent, pnode, name);
        let to = (newparent, dnode, newname);
        if let Some(moved) = self.rename_trash(node, from, to, target)? {
            self.moved_node(node, (parent, name), moved, (newparent, newname));
            self.settle(&[parent, newparent]);
            return Ok(());
        }
        match node {
            Node::Entry(..) => {
                let src = self.folder_of(pnode)?;
                let dst = self.folder_of(dnode)?;
                let renamed =
                    self.cat()
                        .rename(src, &entry_name(name)?, dst, &entry_name(newname)?)?;
                self.apply_files(&renamed.files);
                let e = renamed.entry;
                // a temporary name (rsync's `.name.XXXXXX`) becoming a
                // photo's name: the finished copy may be a library file's
                self.refer_to_original(e.photo);
                {
                    let mut t = self.inodes();
                    if let Some(old) = target.filter(|t| *t != node) {
                        t.unlink(&old, newparent, newname); // replaced: the kernel drops it
                    }
                    if let Some(ino) = t.ino_of(&node) {
                        t.rekey(
                            ino,
                            Node::Entry(e.collection, e.photo),
                            Some((parent, name)),
                            newparent,
                            e.name.as_str(),
                            Some(&e),
                        );
                    }
                }
                self.settle(&[parent, newparent]);
                Ok(())
            }
            Node::Folder(c) => {
                let into = match dnode {
                    Node::Account(b) => Some(b),
                    _ => None,
                };
                let set = self.cat().rename_set(c, into, &entry_name(newname)?)?;
                let mut t = self.inodes();
                if let Some(ino) = t.ino_of(&node) {
                    t.rekey(
                        ino,
                        node,
                        Some((parent, name)),
                        newparent,
                        set.name.as_str(),
                        None,
                    );
                }
                Ok(())
            }
            _ => Err(FsError::new(
                libc::EPERM,
                format!("{name:?} cannot be renamed"),
            )),
        }
    }

    /// Does on disk what the catalog decided ([`FileAction`]), to files the
    /// mount wrote itself only. Best effort: a failure leaves the file
    /// where it is (logged), and the catalog still describes the disk.
    fn apply_files(&self, actions: &[FileAction]) {
        for a in actions {
            match a {
                FileAction::Remove(path) => match std::fs::remove_file(path) {
                    Ok(()) => tracing::info!(
                        "{}: no photo refers to it any more; removed",
                        path.display()
                    ),
                    Err(err) => tracing::warn!("{}: could not remove: {err}", path.display()),
                },
                FileAction::Rename { photo, from, name } => {
                    self.rename_own_file(*photo, from, name)
                }
            }
        }
    }

    /// The mount's file `from` of `photo` takes the first free name made
    /// from `name`; open write handles follow it.
    fn rename_own_file(&self, photo: PhotoKey, from: &Path, name: &str) {
        let to = match io::rename_unique(from, name) {
            Ok(to) => to,
            Err(err) => {
                tracing::warn!("renaming {} after its entry: {err}", from.display());
                return;
            }
        };
        if let Err(err) = self.cat().moved_backing_file(photo, from, &to) {
            tracing::warn!("recording {} as {}: {err}", from.display(), to.display());
            if let Err(err) = std::fs::rename(&to, from) {
                tracing::warn!("renaming {} back: {err}", to.display());
            }
            return;
        }
        let handles: Vec<Arc<Handle>> = lock(&self.handles).values().cloned().collect();
        for h in handles {
            if let Handle::Write(w) = h.as_ref() {
                if let WriteState::Own { path, .. } | WriteState::Copied { path, .. } =
                    &mut *lock(&w.state)
                {
                    if path == from {
                        path.clone_from(&to);
                    }
                }
            }
        }
    }

    /// A rename into, out of or inside the trash (`Some` when it was one):
    /// into `files/`, the entry is trashed (what rm means, restorable);
    /// from `files/` to a photo folder, it is restored; inside `files/` or
    /// `info/`, a new name there.
    /// Returns the node the moved name is now (`None`: not a trash move).
    fn rename_trash(
        &self,
        node: Node,
        (_, pnode, name): (u64, Node, &str),
        (_, dnode, newname): (u64, Node, &str),
        target: Option<Node>,
    ) -> FsResult<Option<Node>> {
        let involved = pnode.uncached() || dnode.uncached();
        if !involved {
            return Ok(None);
        }
        let moved = match (node, dnode) {
            (Node::Entry(..), Node::TrashFiles(d)) => {
                let coll = self.folder_of(pnode)?;
                let t = self.cat().trash(coll, &entry_name(name)?, newname)?;
                tracing::info!("{name:?} moved to the trash as {newname:?} (photo {})", t.photo.0);
                Node::TrashFile(d, t.id)
            }
            // GVfs empties the trash by moving an entry into `expunged/`
            // and deleting it there: the move is the emptying
            (Node::TrashFile(..), Node::TrashExpunged(_)) => {
                let t = self.cat().empty_trashed(name)?;
                tracing::info!("emptied {name:?} from the trash (photo {})", t.photo.0);
                node
            }
            (Node::TrashFile(..), Node::TrashFiles(_)) => {
                self.cat().rename_trashed(name, newname)?;
                node
            }
            (Node::TrashFile(..), Node::Account(_) | Node::Folder(_)) => {
                if target.is_some() {
                    return Err(FsError::new(
                        libc::EEXIST,
                        format!("{newname:?}: restoring never replaces an entry"),
                    )
                    .with_status());
                }
                let coll = self.folder_of(dnode)?;
                let e = self
                    .cat()
                    .restore_trashed(name, coll, &entry_name(newname)?)?;
                tracing::info!("{name:?} restored from the trash as {newname:?}");
                Node::Entry(e.collection, e.photo)
            }
            (Node::InfoFile(from, _), Node::TrashInfo(d)) if from == d => {
                let info = self.info.of(d);
                info.rename(name, newname)
                    .map_err(|e| FsError::from_io(e, format!("renaming {name:?}")))?;
                Node::InfoFile(d, info.id(newname))
            }
            (Node::Folder(_), Node::TrashFiles(_)) => {
                return Err(FsError::new(
                    libc::EPERM,
                    format!(
                        "{name:?}: a set folder cannot go to the trash; move its photos out and rmdir it"
                    ),
                )
                .with_status())
            }
            _ => {
                return Err(FsError::new(
                    libc::EPERM,
                    format!("{name:?} cannot be moved there"),
                ))
            }
        };
        Ok(Some(moved))
    }

    /// After a rename that made `node`'s name (`from`) another node at
    /// `to`: the inode the kernel moved is that node now, when no other
    /// name still uses it and the node has no inode yet (else the kernel
    /// finds out at its next lookup: these names are never cached long).
    fn moved_node(&self, node: Node, from: (u64, &str), moved: Node, to: (u64, &str)) {
        let mut t = self.inodes();
        let Some(ino) = t.ino_of(&node) else { return };
        t.unlink_ino(ino, from.0, from.1);
        let alone = t.get(ino).is_some_and(|s| s.links.is_empty());
        if alone && (moved == node || t.ino_of(&moved).is_none()) {
            t.rekey(ino, moved, None, to.0, to.1, None);
        }
    }

    pub fn link(&self, ino: u64, newparent: u64, newname: &OsStr) -> FsResult<FileAttr> {
        let newname = tree::new_name(newname)?;
        let node = self.node(ino)?;
        let Node::Entry(src, _) = node else {
            return Err(FsError::new(libc::EPERM, "only photos can be linked"));
        };
        let src_name = self.entry_of_ino(ino)?.name.as_str().to_owned();
        let dst = self.folder_of(self.node(newparent)?)?;
        let e = self
            .cat()
            .link(src, &entry_name(&src_name)?, dst, &entry_name(newname)?)?;
        let nino = self.assign(
            Node::Entry(dst, e.photo),
            newparent,
            e.name.as_str(),
            Some(&e),
        );
        self.settle(&[newparent]);
        Ok(self.entry_attr(nino, &e))
    }

    /// `ln -s /real/file DIR`: a reference without a copy; shown as a
    /// regular file.
    pub fn symlink(&self, parent: u64, name: &OsStr, target: &Path) -> FsResult<FileAttr> {
        let name = tree::new_name(name)?;
        let coll = self.folder_of(self.node(parent)?)?;
        if !target.is_absolute() {
            return Err(FsError::new(
                libc::EINVAL,
                format!(
                    "ln -s {}: give the real file's absolute path",
                    target.display()
                ),
            )
            .with_status());
        }
        if target.starts_with(&self.cfg.mountpoint) {
            return Err(FsError::new(
                libc::EINVAL,
                format!("ln -s {}: the target must be outside the mount (use ln for a photo in the mount)", target.display()),
            )
            .with_status());
        }
        let meta = std::fs::metadata(target).map_err(|e| {
            FsError::new(
                e.raw_os_error().unwrap_or(libc::ENOENT),
                format!("ln -s {}: {e}", target.display()),
            )
        })?;
        if !meta.is_file() {
            return Err(FsError::new(
                libc::EINVAL,
                format!("ln -s {}: not a regular file", target.display()),
            ));
        }
        let target = std::fs::canonicalize(target).unwrap_or_else(|_| target.to_path_buf());
        let outcome = self
            .cat()
            .add_file(coll, &entry_name(name)?, &target, None)?;
        match outcome {
            AddOutcome::NewPhoto(e) | AddOutcome::SamePhoto(e) => {
                self.assign(Node::Entry(coll, e.photo), parent, e.name.as_str(), Some(&e));
                let stub = Node::LinkStub(coll, e.photo);
                let ino = self.assign(stub, parent, e.name.as_str(), Some(&e));
                self.settle(&[parent]);
                self.attr_of(ino, stub, Some(&e))
            }
            AddOutcome::AlreadyInSets { .. } => Err(FsError::new(
                libc::EEXIST,
                format!("{name:?}: this content is already a photo in sets or pools; the account folder lists only photos in no set and no pool"),
            )
            .with_status()),
        }
    }

    /// readlink: only the short-lived `ln -s` stub is a link.
    pub fn readlink(&self, ino: u64) -> FsResult<Vec<u8>> {
        match self.node(ino)? {
            Node::LinkStub(c, p) => self
                .entry_by_key(ino, c, p)?
                .path
                .map(|p| p.as_os_str().as_bytes().to_vec())
                .ok_or_else(|| FsError::quiet(libc::ENOENT)),
            _ => Err(FsError::quiet(libc::EINVAL)),
        }
    }

    // ----- files ------------------------------------------------------

    fn new_fh(&self, h: Handle) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&self.handles).insert(fh, Arc::new(h));
        fh
    }

    pub fn handle(&self, fh: u64) -> FsResult<Arc<Handle>> {
        lock(&self.handles)
            .get(&fh)
            .cloned()
            .ok_or_else(|| FsError::quiet(libc::EBADF))
    }

    /// `create` by thread `tid` (the FUSE request's sender).
    pub fn create(&self, parent: u64, name: &OsStr, tid: u32) -> FsResult<(FileAttr, u64)> {
        let name = tree::new_name(name)?;
        let pnode = self.node(parent)?;
        if pnode == Node::ControlDir {
            return Err(FsError::new(libc::EPERM, "no new files in .flickrfs"));
        }
        if let Node::TrashInfo(d) = pnode {
            // Both trash folders share one namespace: a file manager picks
            // a free name by creating the `.trashinfo` exclusively, so the
            // name must be free in the other folder and in `files/` too.
            let in_files = match name.strip_suffix(".trashinfo") {
                Some(n) => self.cat().trashed_named(n)?.is_some(),
                None => false,
            };
            if in_files || self.info.of(d.other()).path(name).exists() {
                return Err(FsError::quiet(libc::EEXIST));
            }
            let info = self.info.of(d);
            let file = info
                .create(name)
                .map_err(|e| FsError::from_io(e, format!("creating {name:?}")))?;
            let node = Node::InfoFile(d, info.id(name));
            let ino = self.assign(node, parent, name, None);
            let attr = self.attr_of(ino, node, None)?;
            return Ok((attr, self.new_fh(Handle::Info { file })));
        }
        if pnode.uncached() {
            return Err(FsError::new(
                libc::EPERM,
                format!("{name:?}: the trash takes entries moved into it, not new files"),
            ));
        }
        let coll = self.folder_of(pnode)?;
        let ename = entry_name(name)?;
        if self.resolve(pnode, name).is_ok() {
            return Err(FsError::quiet(libc::EEXIST));
        }
        let folder = {
            let acct = self.cat().collection(coll)?.account;
            self.account(acct)?.default_folder
        };
        let (path, file) = io::create_unique(&folder, name).map_err(|e| {
            FsError::from_io(
                e,
                format!("creating a file for {name:?} in {}", folder.display()),
            )
        })?;
        let entry = match self.cat().create_entry(coll, &ename, &path) {
            Ok(e) => e,
            Err(err) => {
                // The empty file is ours and holds nothing: don't leave it behind.
                drop(file);
                let _ = std::fs::remove_file(&path);
                return Err(err.into());
            }
        };
        let ino = self.assign(
            Node::Entry(coll, entry.photo),
            parent,
            entry.name.as_str(),
            Some(&entry),
        );
        let attr = self.entry_attr(ino, &entry);
        let fh = self.new_fh(Handle::Write(WriteHandle::new(
            ino,
            (coll, entry.photo),
            WriteState::Own { file, path },
            true,
            true,
            Some(tid),
        )));
        Ok((attr, fh))
    }

    pub fn open(&self, ino: u64, flags: OpenFlags) -> FsResult<Opened> {
        let node = self.node(ino)?;
        let acc = flags.0 & libc::O_ACCMODE;
        let writing = acc == libc::O_WRONLY || acc == libc::O_RDWR;
        match node {
            Node::Control(c) => {
                if writing && !c.writable() {
                    return Err(FsError::quiet(libc::EACCES));
                }
                let content = self.render_control(c);
                let fh = self.new_fh(Handle::Control {
                    file: c,
                    content: content.into_bytes(),
                    input: Mutex::new(Vec::new()),
                });
                Ok(Opened::Plain(fh, FopenFlags::FOPEN_DIRECT_IO))
            }
            Node::InfoFile(d, id) => {
                let info = self.info.of(d);
                let name = info.name(id).ok_or_else(|| FsError::quiet(libc::ENOENT))?;
                let file = info
                    .open(&name, flags.0)
                    .map_err(|e| FsError::from_io(e, format!("opening {name:?}")))?;
                Ok(Opened::Plain(
                    self.new_fh(Handle::Info { file }),
                    FopenFlags::FOPEN_DIRECT_IO,
                ))
            }
            Node::TrashFile(_, id) => {
                if writing {
                    return Err(FsError::new(
                        libc::EPERM,
                        "an entry in the trash cannot be changed; restore it first",
                    ));
                }
                let t = self.trashed(id)?;
                let path = t.path.ok_or_else(|| FsError::quiet(libc::EIO))?;
                let file = File::open(&path)
                    .map_err(|e| FsError::from_io(e, format!("opening {}", path.display())))?;
                Ok(Opened::Plain(
                    self.new_fh(Handle::Read { file }),
                    FopenFlags::FOPEN_DIRECT_IO,
                ))
            }
            Node::Entry(c, p) => {
                let mut e = self.entry_of_ino(ino)?;
                if e.path.is_none() {
                    if let Some(f) = self.fetch_original(&e)? {
                        if !writing && f.streams() {
                            // reads wait for their bytes, not for the rest
                            let fh = self.new_fh(Handle::Fetching(f));
                            return Ok(Opened::Plain(fh, FopenFlags::FOPEN_DIRECT_IO));
                        }
                        f.wait_end().map_err(|why| fetch_failed(&e, &why))?;
                        e = self.entry_of_ino(ino)?;
                    }
                }
                let Some(path) = e.path.clone() else {
                    return Err(FsError::new(
                        libc::EIO,
                        format!("{}: not downloaded yet (no local file)", e.name),
                    )
                    .with_status());
                };
                if writing {
                    let truncate = flags.0 & libc::O_TRUNC != 0;
                    let state = self.write_state(&e, &path, truncate)?;
                    let fh = self.new_fh(Handle::Write(WriteHandle::new(
                        ino,
                        (c, p),
                        state,
                        truncate,
                        false,
                        None,
                    )));
                    return Ok(Opened::Plain(fh, FopenFlags::FOPEN_DIRECT_IO));
                }
                let file = File::open(&path).map_err(|err| self.backing_error(&e, &path, err))?;
                if self.passthrough.load(Ordering::Relaxed) {
                    self.keep_cache(ino, &file);
                    return Ok(Opened::Backing { ino, file });
                }
                let keep = self.keep_cache(ino, &file);
                let fh = self.new_fh(Handle::Read { file });
                Ok(Opened::Plain(
                    fh,
                    if keep {
                        FopenFlags::FOPEN_KEEP_CACHE
                    } else {
                        FopenFlags::empty()
                    },
                ))
            }
            _ => Err(FsError::quiet(libc::EISDIR)),
        }
    }

    /// A photo on Flickr and not on disk was opened: its original starts
    /// coming down (photos on demand) through the daemon's fetcher, with
    /// no lock held; this returns once Flickr has answered (or failed to,
    /// within seconds when offline). The entry refers to the file once the
    /// download is over.
    fn fetch_original(&self, e: &Entry) -> FsResult<Option<Arc<Fetching>>> {
        let Some(fetch) = &self.fetch_hook else {
            return Ok(None);
        };
        let t = std::time::Instant::now();
        let f = fetch(e.photo).map_err(|why| fetch_failed(e, &why))?;
        lock(&self.fetching).insert(e.photo, Arc::downgrade(&f));
        f.wait_started(FETCH_ANSWER)
            .map_err(|why| fetch_failed(e, &why))?;
        tracing::info!(
            "{}: original coming down on demand, first answer in {:?}",
            e.name,
            t.elapsed()
        );
        Ok(Some(f))
    }

    /// How a write handle on an existing entry starts: in place on a file
    /// this mount created in this session, otherwise borrowing the file
    /// until the first change copies it (copy-on-write).
    fn write_state(&self, e: &Entry, path: &Path, truncate: bool) -> FsResult<WriteState> {
        if self.cat().is_own_file(path)? {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(path)
                .map_err(|err| self.backing_error(e, path, err))?;
            if truncate {
                file.set_len(0).map_err(|err| {
                    FsError::from_io(err, format!("truncating {}", path.display()))
                })?;
            }
            return Ok(WriteState::Own {
                file,
                path: path.to_path_buf(),
            });
        }
        let original = File::open(path).map_err(|err| self.backing_error(e, path, err))?;
        let folder = {
            let acct = self.cat().collection(e.collection)?.account;
            self.account(acct)?.default_folder
        };
        Ok(WriteState::Borrowed {
            original,
            original_path: path.to_path_buf(),
            folder,
            name: e.name.as_str().to_owned(),
            truncated: truncate,
        })
    }

    /// Whether the kernel's cached pages of `ino` are still the backing
    /// file's: same size and mtime as when last opened.
    fn keep_cache(&self, ino: u64, file: &File) -> bool {
        let Ok(m) = file.metadata() else { return false };
        let stamp = (m.len(), m.modified().unwrap_or(UNIX_EPOCH));
        let mut t = self.inodes();
        let Some(slot) = t.get_mut(ino) else {
            return false;
        };
        let before = slot.cache_stamp.replace(stamp);
        drop(t);
        if before.is_some() && before != Some(stamp) {
            // The backing file changed behind the mount since the kernel
            // cached this inode: drop its attributes (size) too, not only
            // the pages, so reads are not cut at the old size.
            self.shared.kernel.inval_inode(ino);
        }
        before == Some(stamp)
    }

    fn backing_error(&self, e: &Entry, path: &Path, err: std::io::Error) -> FsError {
        if err.kind() == std::io::ErrorKind::NotFound {
            let _ = self.cat().mark_missing(e.photo);
            FsError::new(
                libc::EIO,
                format!(
                    "{}: backing file {} is missing (moved or deleted outside the mount); `flickrfs relocate` can find it by content",
                    e.name,
                    path.display()
                ),
            )
            .with_status()
        } else {
            FsError::from_io(err, format!("{}: opening {}", e.name, path.display()))
        }
    }

    /// Passthrough open: share one backing id per inode.
    pub fn attach_backing(
        &self,
        ino: u64,
        create: impl FnOnce() -> std::io::Result<BackingId>,
    ) -> FsResult<(u64, Arc<BackingId>)> {
        let id = self.backing.get_or(ino, create).map_err(|e| {
            FsError::from_io(e, "registering the backing file for passthrough".into())
        })?;
        let fh = self.new_fh(Handle::Passthrough {
            _backing: id.clone(),
        });
        Ok((fh, id))
    }

    /// Passthrough failed: serve this open (and the following ones) with pread.
    pub fn fallback_to_pread(&self, ino: u64, file: File, why: &FsError) -> (u64, FopenFlags) {
        if self.passthrough.swap(false, Ordering::Relaxed) {
            self.problem(format!(
                "kernel passthrough unavailable ({}); reads use pread",
                why.message
            ));
        }
        let keep = self.keep_cache(ino, &file);
        let fh = self.new_fh(Handle::Read { file });
        (
            fh,
            if keep {
                FopenFlags::FOPEN_KEEP_CACHE
            } else {
                FopenFlags::empty()
            },
        )
    }

    /// `read`: the bytes at `offset`, as an owned buffer (tests; the
    /// adapter uses [`FsCore::read_with`]).
    pub fn read(&self, fh: u64, offset: u64, size: u32) -> FsResult<Vec<u8>> {
        self.read_with(fh, offset, size, <[u8]>::to_vec)
    }

    /// `read`: hands the bytes at `offset` to `reply`. Plain reads go into
    /// a buffer kept per FUSE thread, so a large sequential read allocates
    /// nothing per request; the reply is written from it to the kernel.
    pub fn read_with<R>(
        &self,
        fh: u64,
        offset: u64,
        size: u32,
        reply: impl FnOnce(&[u8]) -> R,
    ) -> FsResult<R> {
        let h = self.handle(fh)?;
        let failed = |e| FsError::from_io(e, format!("reading at {offset}"));
        match &*h {
            Handle::Read { file } | Handle::Info { file } => {
                with_read_buffer(|buf| io::pread_into(file, offset, size, buf), reply)
                    .map_err(failed)
            }
            Handle::Write(w) => {
                with_read_buffer(|buf| w.read_into(offset, size, buf), reply).map_err(failed)
            }
            Handle::Fetching(f) => match f.read_at(offset, size) {
                Ok(bytes) => Ok(reply(&bytes)),
                Err(FetchError::Io(e)) => Err(failed(e)),
                Err(FetchError::Failed(why)) => Err(FsError::new(
                    libc::EIO,
                    format!("fetching the original from Flickr: {why}"),
                )
                .with_status()),
            },
            Handle::Control { content, .. } => {
                let start = (offset as usize).min(content.len());
                let end = (start + size as usize).min(content.len());
                Ok(reply(&content[start..end]))
            }
            Handle::Passthrough { .. } => {
                Err(FsError::new(libc::EIO, "read on a passthrough handle"))
            }
        }
    }

    /// `write` by thread `tid` (the FUSE request's sender).
    pub fn write(&self, fh: u64, offset: u64, data: &[u8], tid: u32) -> FsResult<u32> {
        let h = self.handle(fh)?;
        match &*h {
            Handle::Write(w) => {
                w.note_writer(tid);
                w.write_at(data, offset)
                    .map(|n| n as u32)
                    .map_err(|e| FsError::from_io(e, format!("writing at {offset}")))
            }
            Handle::Info { file } => {
                use std::os::unix::fs::FileExt;
                file.write_all_at(data, offset)
                    .map(|()| data.len() as u32)
                    .map_err(|e| FsError::from_io(e, format!("writing at {offset}")))
            }
            Handle::Control { file, input, .. } => {
                if !file.writable() {
                    return Err(FsError::quiet(libc::EBADF));
                }
                let mut buf = lock(input);
                buf.extend_from_slice(data);
                if buf.len() > 64 * 1024 {
                    buf.clear();
                    return Err(
                        FsError::new(libc::EINVAL, ".flickrfs/sync: request too long")
                            .with_status(),
                    );
                }
                if buf.contains(&b'\n') {
                    let text = std::mem::take(&mut *buf);
                    self.submit_sync(&text)?;
                }
                Ok(data.len() as u32)
            }
            _ => Err(FsError::quiet(libc::EBADF)),
        }
    }

    fn submit_sync(&self, raw: &[u8]) -> FsResult<()> {
        let text = std::str::from_utf8(raw).map_err(|_| {
            FsError::new(libc::EINVAL, ".flickrfs/sync: the request is not text").with_status()
        })?;
        let reqs = parse_sync_requests(text).map_err(|e| {
            FsError::new(libc::EINVAL, format!(".flickrfs/sync: {e}")).with_status()
        })?;
        for r in reqs {
            tracing::info!("sync requested: {} {:?}", r.direction, r.accounts);
            lock(&self.shared.status).requests.push(r.clone());
            if let Some(hook) = &self.sync_hook {
                hook(r);
            }
        }
        Ok(())
    }

    /// Reads the facts of the handle's bytes: (path, written to a copy,
    /// facts). No fsync: a close is not a durability barrier (see
    /// SEMANTICS.md, "Durability"); the upload checks the bytes against
    /// these facts instead, and an application's own `fsync` is honoured.
    fn written_facts(&self, w: &WriteHandle) -> FsResult<(PathBuf, bool, crate::media::FileFacts)> {
        let (path, copied) = {
            let mut st = lock(&w.state);
            // a truncating open with nothing written still empties the entry
            let (_, path) = st
                .writable()
                .map_err(|e| FsError::from_io(e, "copy-on-write".into()))?;
            (path.to_path_buf(), matches!(*st, WriteState::Copied { .. }))
        };
        // checksum and EXIF are read here, outside the catalog lock, so that
        // a large file being finished does not stall other operations
        let facts = crate::media::FileFacts::scan(&path)
            .map_err(|e| FsError::new(libc::EIO, format!("reading {}: {e}", path.display())))?;
        Ok((path, copied, facts))
    }

    /// A handle whose writes failed: its photo is marked incomplete (never
    /// uploaded, listed in the status); the bytes stay on disk.
    fn give_up(&self, w: &WriteHandle) -> FsResult<()> {
        if !w.dirty.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let path = lock(&w.state).readable().1.to_path_buf();
        let facts = crate::media::FileFacts::scan(&path).ok();
        let (_, photo) = *lock(&w.target);
        tracing::warn!(
            "{}: a write failed; the file is incomplete and is not uploaded",
            path.display()
        );
        self.cat()
            .mark_incomplete(photo, facts.as_ref(), "a write to it failed")?;
        Ok(())
    }

    /// Make written bytes durable, read their facts and finish the photo
    /// in the catalog. Called when the writer closes its descriptor
    /// (`flush` from the writing process), at `fsync`, and at `release`;
    /// nothing to do when nothing was written since the last finish.
    fn finish(&self, w: &WriteHandle) -> FsResult<()> {
        if w.failed.load(Ordering::SeqCst) {
            return self.give_up(w);
        }
        if !w.dirty.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let (path, copied, facts) = match self.written_facts(w) {
            Ok(x) => x,
            Err(e) => {
                w.failed.store(true, Ordering::SeqCst);
                w.dirty.store(true, Ordering::SeqCst);
                self.give_up(w)?;
                return Err(e);
            }
        };
        let (coll, photo) = *lock(&w.target);
        if copied {
            // the copy becomes the photo's file; the original is untouched
            self.cat().record_written(photo, &path, &facts)?;
            tracing::info!("photo {}: changes written to {}", photo.0, path.display());
        }
        let settle = copied;
        let written = if w.created || copied {
            Written::NewFile
        } else {
            Written::InPlace
        };
        let outcome = self.cat().finish_write(photo, Some(facts), written)?;
        let merged = matches!(outcome, WriteOutcome::Merged { .. });
        if let WriteOutcome::Merged { into, remove, .. } = outcome {
            *lock(&w.target) = (coll, into);
            {
                let mut t = self.inodes();
                let (parent, name) = t
                    .get(w.ino)
                    .and_then(|s| s.links.last().cloned())
                    .unwrap_or((0, "".into()));
                t.rekey(w.ino, Node::Entry(coll, into), None, parent, &name, None);
            }
            if let Some(r) = remove {
                // the copy this write made, of content the catalog already
                // had in another file
                self.apply_files(&[FileAction::Remove(r.clone())]);
                // should this handle write again, it copies first
                if let Err(e) = lock(&w.state).demote() {
                    tracing::warn!("{}: {e}", r.display());
                }
            }
        }
        let referred = !merged && w.created && self.refer_to_original(photo);
        if merged || settle || referred {
            self.settle(&[]);
        }
        Ok(())
    }

    /// A photo whose file is a finished copy the mount wrote: when its
    /// bytes are those of a file under the account's library folders, the
    /// photo refers to that original from now on (as after `ln -s`) and the
    /// copy goes, so no bytes are duplicated at rest. Open handles writing
    /// to the copy keep reading it and copy again should they write.
    /// Returns whether it happened; any failure leaves the copy (logged).
    fn refer_to_original(&self, photo: PhotoKey) -> bool {
        let Ok(Some((account, local))) = self.cat().reference_candidate(photo) else {
            return false;
        };
        let Some(library) = self.libraries.get(&account) else {
            return false;
        };
        // The default folder may have changed while mounted (`flickrfs
        // config set`, which the catalog records at once): the library
        // follows it, as a remount would.
        if let Ok(a) = self.cat().account(account) {
            library.follow_default_folder(&a.default_folder);
        }
        let Some(checksum) = &local.checksum else {
            return false;
        };
        let name = local
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Some(original) = library.find(Copied {
            size: local.size,
            checksum,
            name,
            path: &local.path,
        }) else {
            tracing::debug!(
                "{}: no original under the library folders; the copy stays",
                local.path.display()
            );
            return false;
        };
        let mtime = match std::fs::metadata(&original) {
            Ok(m) => crate::media::mtime_ns(&m),
            Err(e) => {
                tracing::warn!("{}: {e}; the copy stays", original.display());
                return false;
            }
        };
        let remove = match self
            .cat()
            .adopt_original(photo, &local.path, &original, mtime)
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("{}: {e}; the copy stays", local.path.display());
                return false;
            }
        };
        tracing::info!(
            "{}: the same bytes as {}; the entry refers to the original",
            local.path.display(),
            original.display()
        );
        if let Some(copy) = remove {
            let handles: Vec<Arc<Handle>> = lock(&self.handles).values().cloned().collect();
            for h in handles {
                if let Handle::Write(w) = h.as_ref() {
                    let mut st = lock(&w.state);
                    let same = matches!(&*st,
                        WriteState::Own { path, .. } | WriteState::Copied { path, .. } if *path == copy);
                    if same {
                        if let Err(e) = st.demote() {
                            tracing::warn!("{}: {e}", copy.display());
                        }
                    }
                }
            }
            self.apply_files(&[FileAction::Remove(copy)]);
        }
        true
    }

    /// `flush` (a `close` of one descriptor) by thread `tid`. The writing
    /// process closing finishes the file (`cp` exits 0 only after this).
    /// Another process closing an inherited copy of the descriptor (a
    /// `fork`+`exec`) does nothing: the writer may go on writing, so the
    /// file stays "being written" (never uploaded) until the writer closes
    /// it or `release`; checksumming it here would hold that process's
    /// `close` for as long as reading the whole file takes, for nothing.
    pub fn flush(&self, fh: u64, tid: u32) -> FsResult<()> {
        let h = self.handle(fh)?;
        match &*h {
            Handle::Write(w) if w.is_writer(Some(tid)) => self.finish(w),
            Handle::Write(_) => Ok(()),
            Handle::Control { input, .. } => {
                let rest = std::mem::take(&mut *lock(input));
                if rest.iter().any(|b| !b.is_ascii_whitespace()) {
                    self.submit_sync(&rest)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    pub fn fsync(&self, fh: u64) -> FsResult<()> {
        let h = self.handle(fh)?;
        match &*h {
            Handle::Info { file } => file
                .sync_all()
                .map_err(|e| FsError::from_io(e, "fsync".into())),
            Handle::Write(w) => {
                {
                    // the application asks for durability: the bytes and
                    // the file's name in its folder
                    let st = lock(&w.state);
                    let (file, path) = st.readable();
                    io::sync_file_and_dir(file, path)
                        .map_err(|e| FsError::from_io(e, format!("fsync {}", path.display())))?;
                }
                self.finish(w)
            }
            _ => Ok(()),
        }
    }

    pub fn release(&self, fh: u64) -> FsResult<()> {
        let h = lock(&self.handles).remove(&fh);
        if let Some(h) = h {
            if let Handle::Write(w) = &*h {
                return self.finish(w);
            }
        }
        Ok(())
    }

    pub fn setattr(
        &self,
        ino: u64,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        fh: Option<u64>,
    ) -> FsResult<FileAttr> {
        let node = self.node(ino)?;
        if let Node::InfoFile(d, id) = node {
            let info = self.info.of(d);
            let name = info.name(id).ok_or_else(|| FsError::quiet(libc::ENOENT))?;
            let path = info.path(&name);
            if let Some(size) = size {
                OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(size))
                    .map_err(|e| FsError::from_io(e, format!("truncating {name:?}")))?;
            }
            if atime.is_some() || mtime.is_some() {
                set_times(&path, atime, mtime)
                    .map_err(|e| FsError::from_io(e, format!("utimens {name:?}")))?;
            }
            return self.getattr(ino);
        }
        let Node::Entry(c, p) = node else {
            // folders, control files, the trash's entries: nothing to
            // change (`echo > sync` truncates first)
            return self.getattr(ino);
        };
        let handle = fh.and_then(|f| self.handle(f).ok());
        let writer = match handle.as_deref() {
            Some(Handle::Write(w)) => Some(w),
            _ => None,
        };
        if let Some(size) = size {
            let trunc = |e: std::io::Error| FsError::from_io(e, format!("truncating to {size}"));
            match writer {
                Some(w) => w.set_len(size).map_err(trunc)?,
                None => {
                    // `truncate FILE`: same copy-on-write rule as a write
                    let e = self.entry_of_ino(ino)?;
                    let path = e.path.clone().ok_or_else(|| {
                        FsError::new(libc::EIO, format!("{}: no local file", e.name))
                    })?;
                    let w = WriteHandle::new(
                        ino,
                        (c, p),
                        self.write_state(&e, &path, size == 0)?,
                        false,
                        false,
                        None,
                    );
                    w.set_len(size).map_err(trunc)?;
                    self.finish(&w)?;
                    // Content equal to a photo that lives in sets merges
                    // into it and leaves the account folder: the truncate
                    // happened, the name is gone (as after the same bytes
                    // written with O_TRUNC and closed)
                    if self.entry_of_ino(ino).is_err() {
                        return Ok(self.file_attr(ino, size, SystemTime::now(), 0o644));
                    }
                }
            }
        }
        if atime.is_some() || mtime.is_some() {
            // utimens passes to the file the entry now refers to
            let path = match writer {
                Some(w) => lock(&w.state).readable().1.to_path_buf(),
                None => self
                    .entry_of_ino(ino)?
                    .path
                    .ok_or_else(|| FsError::new(libc::EIO, "no local file to set times on"))?,
            };
            set_times(&path, atime, mtime)
                .map_err(|err| FsError::from_io(err, format!("utimens {}", path.display())))?;
        }
        self.getattr_fh(ino, fh)
    }

    // ----- control files ----------------------------------------------

    fn render_control(&self, c: ControlFile) -> String {
        let catalog_lines = self.catalog_status_lines();
        let status = lock(&self.shared.status);
        match c {
            ControlFile::Sync => status.sync_text(),
            ControlFile::Status => status.status_text(&catalog_lines),
            ControlFile::StatusJson => status.status_json(&catalog_lines),
            ControlFile::Plan => {
                let last = status.last_plan.clone();
                drop(status);
                let mut text = self.plan_text();
                match last {
                    Some(l) => {
                        text.push_str("last sync in this mount:\n");
                        text.push_str(&l);
                    }
                    None => text.push_str(
                        "no sync has run in this mount yet: write \"both\" to sync, or run `flickrfs plan`\n",
                    ),
                }
                text
            }
        }
    }

    fn catalog_status_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for a in self.all_accounts().unwrap_or_default() {
            match self.cat().file_origins(a.id) {
                Ok(o) => lines.push(format!("{}: {o}", a.collection_name)),
                Err(e) => lines.push(format!("{}: {e}", a.collection_name)),
            }
        }
        match self.cat().problems(None) {
            Ok(ps) => lines.extend(
                ps.into_iter()
                    .map(|p| format!("{}: {}", p.kind.as_str(), p.message)),
            ),
            Err(e) => lines.push(format!("catalog unavailable: {e}")),
        }
        lines
    }

    fn plan_text(&self) -> String {
        let mut s = String::from(
            "plan (from the catalog; the sync computes the full plan with Flickr's state)\n",
        );
        let accounts = match self.all_accounts() {
            Ok(a) => a,
            Err(e) => return format!("{s}catalog unavailable: {}\n", e.message),
        };
        for a in accounts {
            let photos = match self.cat().photos(a.id) {
                Ok(p) => p,
                Err(e) => {
                    s.push_str(&format!(
                        "{}: catalog unavailable: {e}\n",
                        a.collection_name
                    ));
                    continue;
                }
            };
            let mut counts: std::collections::BTreeMap<&'static str, usize> = Default::default();
            for p in &photos {
                *counts.entry(p.state().as_str()).or_default() += 1;
            }
            s.push_str(&format!("{} ({} photos):", a.collection_name, photos.len()));
            for (k, v) in counts {
                s.push_str(&format!(" {k} {v};"));
            }
            s.push('\n');
            if let Ok(o) = self.cat().file_origins(a.id) {
                s.push_str(&format!("  files: {o}\n"));
            }
            // A rename or setfattr is an edit the next sync sends.
            match self.cat().pending_edits(a.id) {
                Ok(edits) if !edits.is_empty() => {
                    const SHOWN: usize = 20;
                    s.push_str(&format!(
                        "  edits to send to Flickr: {} photos\n",
                        edits.len()
                    ));
                    for e in edits.iter().take(SHOWN) {
                        s.push_str(&format!("    {e}\n"));
                    }
                    if edits.len() > SHOWN {
                        s.push_str(&format!("    … and {} more\n", edits.len() - SHOWN));
                    }
                }
                Ok(_) => {}
                Err(e) => s.push_str(&format!("  edits: catalog unavailable: {e}\n")),
            }
        }
        s
    }

    // ----- xattrs and statfs ------------------------------------------

    fn photo_of(&self, ino: u64) -> FsResult<crate::catalog::PhotoKey> {
        match self.node(ino)? {
            Node::Entry(_, p) => Ok(p),
            _ => Err(FsError::quiet(libc::ENODATA)),
        }
    }

    pub fn getxattr(&self, ino: u64, name: &OsStr) -> FsResult<Vec<u8>> {
        let attr = xattr::known(name, false)?;
        let photo = self.photo_of(ino)?;
        self.cat()
            .get_xattr(photo, attr)?
            .map(String::into_bytes)
            .ok_or_else(|| FsError::quiet(libc::ENODATA))
    }

    pub fn listxattr(&self, ino: u64) -> FsResult<Vec<u8>> {
        let photo = match self.node(ino)? {
            Node::Entry(_, p) => p,
            _ => return Ok(Vec::new()),
        };
        let attrs: Vec<Xattr> = self.cat().list_xattrs(photo)?;
        Ok(xattr::encode_list(&attrs))
    }

    pub fn setxattr(&self, ino: u64, name: &OsStr, value: &[u8]) -> FsResult<()> {
        let attr = xattr::known(name, true)?;
        xattr::check_writable(attr)?;
        let photo = match self.node(ino)? {
            Node::Entry(_, p) => p,
            _ => {
                return Err(FsError::new(
                    libc::ENOTSUP,
                    "attributes belong to photos, not folders",
                ))
            }
        };
        self.cat()
            .set_xattr(photo, attr, value)
            .map_err(|e| FsError::from(e).with_status())
    }

    pub fn removexattr(&self, ino: u64, name: &OsStr) -> FsResult<()> {
        let attr = xattr::known(name, true)?;
        xattr::check_writable(attr)?;
        let photo = self.photo_of(ino)?;
        self.cat().remove_xattr(photo, attr)?;
        Ok(())
    }

    /// The filesystem holding the default folder of the node's account
    /// (or of the first account).
    pub fn statfs_path(&self, ino: u64) -> PathBuf {
        let accounts = self.all_accounts().unwrap_or_default();
        let acct = match self.node(ino) {
            Ok(Node::Account(a)) | Ok(Node::Pools(a)) => accounts.iter().find(|x| x.id == a),
            _ => None,
        };
        let folder = acct
            .or(accounts.first())
            .map(|a| a.default_folder.clone())
            .unwrap_or_else(|| PathBuf::from("/"));
        // the default folder may not exist yet: walk up to a directory that does
        let mut p = folder.as_path();
        while !p.exists() {
            match p.parent() {
                Some(q) => p = q,
                None => break,
            }
        }
        p.to_path_buf()
    }
}

fn set_times(
    path: &Path,
    atime: Option<TimeOrNow>,
    mtime: Option<TimeOrNow>,
) -> std::io::Result<()> {
    fn ts(t: Option<TimeOrNow>) -> libc::timespec {
        match t {
            None => libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_OMIT,
            },
            Some(TimeOrNow::Now) => libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_NOW,
            },
            Some(TimeOrNow::SpecificTime(t)) => {
                let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
                libc::timespec {
                    tv_sec: d.as_secs() as libc::time_t,
                    tv_nsec: d.subsec_nanos() as _,
                }
            }
        }
    }
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let times = [ts(atime), ts(mtime)];
    // SAFETY: `c` is a valid NUL-terminated path and `times` has two elements.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
