//! Keeping the kernel's caches honest: a background thread polls the
//! catalog's change counter (one indexed read per second, on its own
//! connection) and, when another process or connection changed something
//! the kernel has cached, tells the kernel with `inval_entry` (a name
//! vanished or was renamed) and `inval_inode` (a file's size or backing
//! file changed). Notifications are sent with no lock held, so a kernel
//! waiting on a directory lock can never deadlock against us.
//!
//! The mount's own operations have side effects in other folders (a photo
//! copied into a set leaves the account folder; a written file merged into
//! a photo that is in sets vanishes from where it was written). After such
//! an operation the core *kicks* the watcher, which runs a pass at once, and
//! waits (bounded) for it, so the next system call already sees the change.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use fuser::{INodeNo, Notifier};

use crate::catalog::{Catalog, CollectionId, Generation};

use super::ops::{lock, FsCore};
use super::tree::Node;

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
    core: Arc<FsCore>,
    catalog_path: PathBuf,
    notifier: Notifier,
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
                    core.problem(format!(
                        "change watcher disabled: cannot open the catalog: {e}"
                    ));
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
                match pass(&core, &cat, last, &notifier, &locked, &mut release) {
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
    core: &FsCore,
    cat: &Catalog,
    last: Generation,
    notifier: &Notifier,
    locked: &HashSet<u64>,
    release: &mut dyn FnMut(),
) -> Result<Generation, crate::catalog::CatalogError> {
    let g = cat.generation()?;
    if g == last {
        return Ok(g);
    }
    let changes = cat.changes_since(last)?;
    core.forget_cached_accounts();
    let colls: HashSet<CollectionId> = changes.collections.iter().copied().collect();
    let accts: HashSet<_> = changes.accounts.iter().copied().collect();
    let everything = changes.everything;

    // Which collection each directory inode lists.
    let roots: HashMap<crate::catalog::AccountId, CollectionId> = cat
        .accounts()?
        .into_iter()
        .map(|a| (a.id, a.root))
        .collect();
    // Snapshot what the kernel was told, under the lock; query after. Each
    // name is judged by the folder it is in (a photo can have names in
    // several folders, and several names in one).
    let mut entries: HashMap<CollectionId, Vec<SlotView>> = HashMap::new();
    let mut folders = Vec::new();
    let mut account_dirs = Vec::new();
    // Directories whose listing the kernel may hold (FOPEN_CACHE_DIR).
    let mut dirs: Vec<u64> = Vec::new();
    {
        let t = lock(&core.inodes);
        let folder_of = |dir: u64| match t.get(dir).map(|s| s.node) {
            Some(Node::Account(a)) => roots.get(&a).copied(),
            Some(Node::Folder(c)) => Some(c),
            _ => None,
        };
        for (ino, s) in t.slots() {
            let listing_changed = match s.node {
                Node::Root => everything || !accts.is_empty(),
                Node::Account(a) => {
                    everything
                        || accts.contains(&a)
                        || roots.get(&a).is_some_and(|r| colls.contains(r))
                }
                Node::Pools(a) => everything || accts.contains(&a),
                Node::Folder(c) => everything || colls.contains(&c),
                _ => false,
            };
            if listing_changed {
                dirs.push(ino);
            }
            for (parent, name) in &s.links {
                let (parent, name) = (*parent, name.to_string());
                match s.node {
                    Node::Entry(_, p) => {
                        if let Some(c) = folder_of(parent) {
                            if everything || colls.contains(&c) {
                                entries
                                    .entry(c)
                                    .or_default()
                                    .push((ino, parent, name, p, s.fp));
                            }
                        }
                    }
                    Node::Folder(c) => folders.push((ino, parent, name, c)),
                    Node::Account(a) if everything || accts.contains(&a) => {
                        account_dirs.push((ino, parent, name, a))
                    }
                    _ => {}
                }
            }
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
    for (ino, parent, name, c) in folders {
        let gone = match cat.collection(c) {
            Ok(coll) if coll.name.as_str() == name && !accts.contains(&coll.account) => false,
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
        let mut t = lock(&core.inodes);
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
    send(notifier, now);
    release();
    send(notifier, later);
    if n > 0 {
        tracing::debug!(
            "catalog generation {:?}: {n} invalidations",
            changes.generation
        );
    }
    Ok(changes.generation)
}

fn send(notifier: &Notifier, invals: Vec<Inval>) {
    for inv in invals {
        let r = match &inv {
            Inval::Entry(parent, name) => {
                tracing::debug!("inval_entry({parent}, {name:?})");
                notifier.inval_entry(INodeNo(*parent), name)
            }
            Inval::Inode(ino) => {
                tracing::debug!("inval_inode({ino})");
                notifier.inval_inode(INodeNo(*ino), 0, 0)
            }
        };
        if let Err(e) = r {
            tracing::debug!("invalidation refused: {e}");
        }
    }
}
