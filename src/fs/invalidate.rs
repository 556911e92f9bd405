//! Keeping the kernel's caches honest: a background thread polls the
//! catalog's change counter (one indexed read per second, on its own
//! connection) and, when another process or connection changed something
//! the kernel has cached, tells the kernel with `inval_entry` (a name
//! vanished or was renamed) and `inval_inode` (a file's size or backing
//! file changed). Notifications are sent with no lock held, so a kernel
//! waiting on a directory lock can never deadlock against us.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use fuser::{INodeNo, Notifier};

use crate::catalog::{Catalog, CollectionId, Generation};

use super::ops::{lock, FsCore};
use super::tree::Node;

/// (inode, parent inode, name, entry) as the kernel was last told.
type SlotView = (u64, u64, String, Option<crate::catalog::Entry>);

enum Inval {
    Entry(u64, OsString),
    Inode(u64),
}

/// Start the poller; it stops when `stop` is set.
pub fn spawn(
    core: Arc<FsCore>,
    catalog_path: PathBuf,
    notifier: Notifier,
    interval: Duration,
    stop: Arc<AtomicBool>,
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
                std::thread::sleep(interval);
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match pass(&core, &cat, last, &notifier) {
                    Ok(g) => last = g,
                    Err(e) => tracing::warn!("change watcher: {e}"),
                }
            }
        })
}

/// One poll: returns the generation seen.
fn pass(
    core: &FsCore,
    cat: &Catalog,
    last: Generation,
    notifier: &Notifier,
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

    // Snapshot what the kernel was told, under the lock; query after.
    let mut entries: HashMap<CollectionId, Vec<SlotView>> = HashMap::new();
    let mut folders = Vec::new();
    let mut account_dirs = Vec::new();
    {
        let t = lock(&core.inodes);
        for (ino, s) in t.slots() {
            match s.node {
                Node::Entry(c, _) if everything || colls.contains(&c) => entries
                    .entry(c)
                    .or_default()
                    .push((ino, s.parent, s.name.to_string(), s.entry.clone())),
                Node::Folder(c) => folders.push((ino, s.parent, s.name.to_string(), c)),
                Node::Account(a) if everything || accts.contains(&a) => {
                    account_dirs.push((ino, s.parent, s.name.to_string(), a))
                }
                _ => {}
            }
        }
    }

    let mut out = Vec::new();
    let mut fresh = Vec::new();
    for (c, slots) in entries {
        // a collection that is gone lists nothing: every name goes
        let listing = cat.list(c).unwrap_or_default();
        let by_name: HashMap<&str, &crate::catalog::Entry> =
            listing.iter().map(|e| (e.name.as_str(), e)).collect();
        for (ino, parent, name, old) in slots {
            match by_name.get(name.as_str()) {
                Some(e) if Some(Node::Entry(c, e.photo)) == node_of(core, ino) => {
                    let changed = old.as_ref().is_none_or(|o| {
                        o.size != e.size || o.mtime_ns != e.mtime_ns || o.path != e.path
                    });
                    if changed {
                        out.push(Inval::Inode(ino));
                        fresh.push((ino, (*e).clone()));
                    }
                }
                _ => out.push(Inval::Entry(parent, name.into())),
            }
        }
    }
    for (_ino, parent, name, c) in folders {
        match cat.collection(c) {
            Ok(coll) if coll.name.as_str() == name && !accts.contains(&coll.account) => {}
            Ok(coll) if coll.name.as_str() == name => {
                // same name; still listed?
                let listed = cat
                    .sets(coll.account)
                    .map(|s| s.iter().any(|x| x.id == c))
                    .unwrap_or(false)
                    || coll.is_pool();
                if !listed {
                    out.push(Inval::Entry(parent, name.into()));
                }
            }
            _ => out.push(Inval::Entry(parent, name.into())),
        }
    }
    if !account_dirs.is_empty() {
        let accounts = cat.accounts()?;
        for (_ino, parent, name, a) in account_dirs {
            if !accounts
                .iter()
                .any(|x| x.id == a && x.collection_name.as_str() == name)
            {
                out.push(Inval::Entry(parent, name.into()));
            }
        }
    }
    {
        let mut t = lock(&core.inodes);
        for (ino, e) in fresh {
            if let Some(s) = t.get_mut(ino) {
                s.entry = Some(e);
                s.cache_stamp = None;
            }
        }
    }
    let n = out.len();
    for inv in out {
        let r = match &inv {
            Inval::Entry(parent, name) => notifier.inval_entry(INodeNo(*parent), name),
            Inval::Inode(ino) => notifier.inval_inode(INodeNo(*ino), 0, 0),
        };
        if let Err(e) = r {
            tracing::debug!("invalidation refused: {e}");
        }
    }
    if n > 0 {
        tracing::debug!(
            "catalog generation {:?}: {n} invalidations",
            changes.generation
        );
    }
    Ok(changes.generation)
}

fn node_of(core: &FsCore, ino: u64) -> Option<Node> {
    lock(&core.inodes).get(ino).map(|s| s.node)
}
