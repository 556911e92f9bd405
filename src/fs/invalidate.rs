//! Keeping the kernel's caches honest: a background thread polls the
//! catalog's change counter (one indexed read per second, on its own
//! connection) and, when another process or connection changed something
//! the kernel has cached, tells the kernel with `inval_entry` (a name
//! vanished or was renamed) and `inval_inode` (a file's size or backing
//! file changed). Notifications are sent with no lock held, so a kernel
//! waiting on a directory lock can never deadlock against us.
//!
//! The change log says which photo's names changed in which folder; a pass
//! then looks only at those names (found by photo in the inode table), so
//! it costs the same in a folder of ten photos as in one of a hundred
//! thousand. A folder renamed or deleted is looked at whole.
//!
//! The mount's own operations have side effects in other folders (a photo
//! copied into a set leaves the account folder; a written file merged into
//! a photo that is in sets vanishes from where it was written). After such
//! an operation the core *kicks* the watcher, which runs a pass at once, and
//! waits (bounded) for it, so the next system call already sees the change.

use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use fuser::{INodeNo, Notifier};

use super::locks::lock;
use crate::catalog::{Catalog, CollectionId, Generation, PhotoKey};

use super::control::StatusBoard;
use super::inodes::InodeTable;
use super::tree::{listed_collection, Accounts, Node, Roots, Touched};

/// The kernel's side of the mount, told when its caches are stale. It is
/// known once the FUSE session exists, which is made from the filesystem,
/// so after the core: until [`Kernel::attach`] (and in a core run without
/// a kernel, as in tests) notifications go nowhere.
#[derive(Default)]
pub struct Kernel {
    notifier: OnceLock<Notifier>,
}

impl std::fmt::Debug for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kernel")
            .field("attached", &self.notifier.get().is_some())
            .finish()
    }
}

impl Kernel {
    pub fn attach(&self, notifier: Notifier) {
        let _ = self.notifier.set(notifier);
    }

    /// The kernel's attributes and pages of `ino` are stale.
    pub fn inval_inode(&self, ino: u64) {
        if let Some(n) = self.notifier.get() {
            tracing::debug!("inval_inode({ino})");
            if let Err(e) = n.inval_inode(INodeNo(ino), 0, 0) {
                tracing::debug!("inval_inode {ino} refused: {e}");
            }
        }
    }

    /// The kernel's entry `name` in directory `parent` is stale.
    pub fn inval_entry(&self, parent: u64, name: &OsStr) {
        if let Some(n) = self.notifier.get() {
            tracing::debug!("inval_entry({parent}, {name:?})");
            if let Err(e) = n.inval_entry(INodeNo(parent), name) {
                tracing::debug!("inval_entry {parent} {name:?} refused: {e}");
            }
        }
    }
}

/// What the core shares with the change watcher, made before either.
#[derive(Clone, Debug)]
pub struct Shared {
    pub inodes: Arc<Mutex<InodeTable>>,
    pub accounts: Arc<Accounts>,
    pub status: Arc<Mutex<StatusBoard>>,
    pub kernel: Arc<Kernel>,
}

impl Shared {
    pub fn new(status: Arc<Mutex<StatusBoard>>) -> Shared {
        Shared {
            inodes: Arc::new(Mutex::new(InodeTable::new())),
            accounts: Arc::default(),
            status,
            kernel: Arc::default(),
        }
    }
}

/// (inode, parent inode, name, photo, entry) as the kernel was last told.
type SlotView = (
    u64,
    u64,
    String,
    crate::catalog::PhotoKey,
    Option<super::inodes::Fingerprint>,
);

enum Inval {
    Entry(u64, OsString),
    Inode(u64),
}

/// Asks the watcher for an immediate pass and waits for it (bounded).
#[derive(Debug)]
pub struct Kicker {
    tx: Mutex<Sender<Kick>>,
}

/// A request for an immediate pass: who to tell, and which directories
/// the kicking operation holds locked in the kernel.
pub struct Kick {
    done: SyncSender<()>,
    locked: Vec<u64>,
}

/// How long an operation waits at most for its invalidations (a pass is
/// normally a few milliseconds; the bound only matters on a machine so
/// loaded that the watcher thread does not get to run).
const KICK_WAIT: Duration = Duration::from_secs(2);

impl Kicker {
    pub fn kick_and_wait(&self, locked: &[u64]) {
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        let kick = Kick {
            done: done_tx,
            locked: locked.to_vec(),
        };
        if lock(&self.tx).send(kick).is_ok() {
            if let Err(RecvTimeoutError::Timeout) = done_rx.recv_timeout(KICK_WAIT) {
                tracing::warn!("invalidation pass still running after {KICK_WAIT:?}");
            }
        }
    }
}

pub fn kicker() -> (Kicker, Receiver<Kick>) {
    let (tx, rx) = mpsc::channel();
    (Kicker { tx: Mutex::new(tx) }, rx)
}

/// Start the watcher; it stops when `stop` is set.
pub fn spawn(
    shared: Shared,
    catalog_path: PathBuf,
    interval: Duration,
    stop: Arc<AtomicBool>,
    kicks: Receiver<Kick>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("flickrfs-inval".into())
        .spawn(move || {
            let cat = match Catalog::open(&catalog_path) {
                Ok(c) => c,
                Err(e) => {
                    let line = format!("change watcher disabled: cannot open the catalog: {e}");
                    tracing::warn!("{line}");
                    lock(&shared.status).problem(line);
                    return;
                }
            };
            let mut last = cat.generation().unwrap_or_default();
            while !stop.load(Ordering::Relaxed) {
                let mut waiters = Vec::new();
                match kicks.recv_timeout(interval) {
                    Ok(w) => {
                        waiters.push(w);
                        waiters.extend(kicks.try_iter());
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => std::thread::sleep(interval),
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let locked: HashSet<u64> = waiters
                    .iter()
                    .flat_map(|k| k.locked.iter().copied())
                    .collect();
                let mut release = || {
                    for w in waiters.drain(..) {
                        let _ = w.done.try_send(());
                    }
                };
                match pass(&shared, &cat, last, &locked, &mut release) {
                    Ok(g) => last = g,
                    Err(e) => tracing::warn!("change watcher: {e}"),
                }
                release();
            }
        })
}

/// One poll: returns the generation seen.
/// One pass: returns the generation seen. Invalidations in `locked`
/// directories are sent after `release` (the kicking operation can then
/// return and unlock them).
fn pass(
    shared: &Shared,
    cat: &Catalog,
    last: Generation,
    locked: &HashSet<u64>,
    release: &mut dyn FnMut(),
) -> Result<Generation, crate::catalog::CatalogError> {
    let g = cat.generation()?;
    if g == last {
        return Ok(g);
    }
    let changes = cat.changes_since(last)?;
    shared.accounts.forget();
    let touched = Touched::from(&changes);

    // Which collection each directory inode lists.
    let roots: Roots = cat
        .accounts()?
        .into_iter()
        .map(|a| (a.id, a.root))
        .collect();
    // Snapshot what the kernel was told, under the lock; query after. Each
    // name is judged by the folder it is in (a photo can have names in
    // several folders, and several names in one).
    let mut entries: HashMap<CollectionId, Vec<SlotView>> = HashMap::new();
    // names of single photos in collections not changed as a whole
    let mut photo_names: HashMap<(CollectionId, PhotoKey), Vec<SlotView>> = HashMap::new();
    let mut folders = Vec::new();
    let mut account_dirs = Vec::new();
    // Directories whose listing the kernel may hold (FOPEN_CACHE_DIR).
    let mut dirs: Vec<u64> = Vec::new();
    {
        let mut t = lock(&shared.inodes);
        let folder_of = |dir: u64| listed_collection(t.get(dir)?.node, &roots);
        // A copy into a set is told photo by photo: its names and folders
        // are found by node, so a pass costs the same in a folder of ten
        // photos as in one of a hundred thousand.
        let mut seen = HashSet::new();
        for &(c, photo) in &touched.entries {
            // by photo, not by node: a moved entry keeps its inode, and the
            // names it had in its old folder with it
            for (ino, s) in t.entries_of(photo) {
                // judged by the photo the inode means now (a merge re-keys)
                let Node::Entry(_, now) = s.node else {
                    continue;
                };
                for (parent, name) in &s.links {
                    if folder_of(*parent) == Some(c) && seen.insert((ino, *parent, &**name)) {
                        photo_names.entry((c, now)).or_default().push((
                            ino,
                            *parent,
                            name.to_string(),
                            now,
                            s.fp,
                        ));
                    }
                }
            }
        }
        if touched.precise() {
            dirs.extend(
                touched
                    .listed_dirs(&roots)
                    .iter()
                    .filter_map(|n| t.ino_of(n)),
            );
        } else {
            for (ino, s) in t.slots() {
                if touched.listing(s.node, &roots) {
                    dirs.push(ino);
                }
                for (parent, name) in &s.links {
                    let (parent, name) = (*parent, name.to_string());
                    match s.node {
                        Node::Entry(_, p) => {
                            if let Some(c) = folder_of(parent) {
                                if touched.whole_collection(c) {
                                    entries
                                        .entry(c)
                                        .or_default()
                                        .push((ino, parent, name, p, s.fp));
                                }
                            }
                        }
                        Node::Folder(c) => folders.push((ino, parent, name, c)),
                        Node::Account(a) if touched.account(a) => {
                            account_dirs.push((ino, parent, name, a))
                        }
                        _ => {}
                    }
                }
            }
        }
        // the re-keyed inodes were looked at above, under the photo they
        // mean now: the old photo's list need not hold them any more
        for photo in touched
            .entries
            .iter()
            .map(|(_, p)| *p)
            .collect::<HashSet<_>>()
        {
            t.prune_photo(photo);
        }
    }

    let mut out = Vec::new();
    let mut fresh = Vec::new();
    let mut forget: Vec<(u64, u64, String)> = Vec::new();
    for (c, slots) in entries {
        // a collection that is gone lists nothing: every name goes
        let listing = cat.list(c).unwrap_or_default();
        let by_name: HashMap<&str, &crate::catalog::Entry> =
            listing.iter().map(|e| (e.name.as_str(), e)).collect();
        for (ino, parent, name, photo, old) in slots {
            match by_name.get(name.as_str()) {
                Some(e) if e.photo == photo => {
                    let fp = super::inodes::Fingerprint::of(e);
                    if old != Some(fp) {
                        out.push(Inval::Inode(ino));
                        fresh.push((ino, fp));
                    }
                }
                _ => {
                    out.push(Inval::Entry(parent, name.clone().into()));
                    forget.push((ino, parent, name));
                }
            }
        }
    }
    // one query per photo, whatever the number of folders it is in
    let mut names_of: HashMap<PhotoKey, Vec<crate::catalog::Entry>> = HashMap::new();
    for ((c, photo), slots) in photo_names {
        let names = names_of
            .entry(photo)
            .or_insert_with(|| cat.listed_names_of(photo).unwrap_or_default());
        for (ino, parent, name, _, old) in slots {
            match names
                .iter()
                .find(|e| e.collection == c && e.name.as_str() == name)
            {
                Some(e) => {
                    let fp = super::inodes::Fingerprint::of(e);
                    if old != Some(fp) {
                        out.push(Inval::Inode(ino));
                        fresh.push((ino, fp));
                    }
                }
                None => {
                    out.push(Inval::Entry(parent, name.clone().into()));
                    forget.push((ino, parent, name));
                }
            }
        }
    }
    for (ino, parent, name, c) in folders {
        let gone = match cat.collection(c) {
            Ok(coll) if coll.name.as_str() == name && !touched.account(coll.account) => false,
            Ok(coll) if coll.name.as_str() == name => {
                // same name; still listed (not deleted)?
                let listed = coll.is_pool()
                    || cat
                        .sets(coll.account)
                        .map(|s| s.iter().any(|x| x.id == c))
                        .unwrap_or(false);
                !listed
            }
            _ => true,
        };
        if gone {
            out.push(Inval::Entry(parent, name.clone().into()));
            forget.push((ino, parent, name));
        }
    }
    if !account_dirs.is_empty() {
        let accounts = cat.accounts()?;
        for (ino, parent, name, a) in account_dirs {
            if !accounts
                .iter()
                .any(|x| x.id == a && x.collection_name.as_str() == name)
            {
                out.push(Inval::Entry(parent, name.clone().into()));
                forget.push((ino, parent, name));
            }
        }
    }
    {
        let mut t = lock(&shared.inodes);
        for (ino, fp) in fresh {
            if let Some(s) = t.get_mut(ino) {
                s.fp = Some(fp);
                s.cache_stamp = None;
            }
        }
        // names invalidated now are unknown to the kernel until looked up again
        for (ino, parent, name) in &forget {
            t.unlink_ino(*ino, *parent, name);
        }
    }
    out.extend(dirs.into_iter().map(Inval::Inode));
    let n = out.len();
    let (later, now): (Vec<Inval>, Vec<Inval>) = out.into_iter().partition(|inv| match inv {
        Inval::Entry(parent, _) => locked.contains(parent),
        Inval::Inode(ino) => locked.contains(ino),
    });
    send(&shared.kernel, now);
    release();
    send(&shared.kernel, later);
    if n > 0 {
        tracing::debug!(
            "catalog generation {:?}: {n} invalidations",
            changes.generation
        );
    }
    Ok(changes.generation)
}

fn send(kernel: &Kernel, invals: Vec<Inval>) {
    for inv in invals {
        match &inv {
            Inval::Entry(parent, name) => kernel.inval_entry(*parent, name),
            Inval::Inode(ino) => kernel.inval_inode(*ino),
        }
    }
}
