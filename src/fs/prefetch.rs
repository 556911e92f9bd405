//! Listing ahead of a walker. `find`, `ls -R`, backup tools and file
//! managers walk an account one set folder after another, and each time
//! the kernel waits for the folder's listing, then spends longer building
//! an inode per entry. While it does, a background thread lists the set
//! folder that comes next, so the next request is answered at once: the
//! daemon's work overlaps the kernel's instead of adding to it.
//!
//! A prefetched listing is only a head start: it is used when the
//! catalog's change generation has not moved since it was taken, and
//! rebuilt otherwise. At most [`KEPT`] wait unused; a walker going
//! elsewhere costs one wasted listing, never a wrong one.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, Weak};

use crate::catalog::{Catalog, CollectionId, Generation};

use super::ops::{lock, Child, FsCore};

/// Prefetched listings kept waiting for their folder's readdir.
const KEPT: usize = 4;

/// A set folder to list ahead: its inode and its collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FolderRef {
    pub ino: u64,
    pub coll: CollectionId,
}

/// A listing taken ahead, with the catalog generation read before it.
struct Prefetched {
    ino: u64,
    generation: Generation,
    children: Vec<Child>,
}

#[derive(Default)]
struct State {
    ready: VecDeque<Prefetched>,
    /// For a folder whose listing held set folders: those, in listing
    /// order (the order a walker visits them in).
    order: HashMap<u64, Vec<FolderRef>>,
    /// Asked for and not yet listed.
    queued: Vec<u64>,
}

/// The listings ahead and the channel to the thread that takes them.
#[derive(Default)]
pub struct Prefetcher {
    tx: Mutex<Option<Sender<FolderRef>>>,
    state: Mutex<State>,
}

impl std::fmt::Debug for Prefetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetcher").finish_non_exhaustive()
    }
}

impl Prefetcher {
    /// The listing of folder `ino` taken ahead, if there is one and the
    /// catalog has not changed since (`now` reads the current generation).
    pub fn take(&self, ino: u64, now: impl FnOnce() -> Option<Generation>) -> Option<Vec<Child>> {
        let p = {
            let mut st = lock(&self.state);
            let i = st.ready.iter().position(|p| p.ino == ino)?;
            st.ready.remove(i)?
        };
        (now() == Some(p.generation)).then_some(p.children)
    }

    /// Folder `ino` was just listed with these set folders in it (empty
    /// for a set): remember them, and ask for the folder a walker will
    /// list next: the first of them, or the sibling after `ino`.
    pub fn listed(&self, ino: u64, parent: u64, folders: Vec<FolderRef>) {
        let next = {
            let mut st = lock(&self.state);
            let first = folders.first().copied();
            if !folders.is_empty() {
                st.order.insert(ino, folders);
            }
            let sibling = st.order.get(&parent).and_then(|sibs| {
                let i = sibs.iter().position(|f| f.ino == ino)?;
                sibs.get(i + 1).copied()
            });
            let next = first.or(sibling);
            match next {
                Some(f)
                    if !st.queued.contains(&f.ino) && !st.ready.iter().any(|p| p.ino == f.ino) =>
                {
                    st.queued.push(f.ino);
                    Some(f)
                }
                _ => None,
            }
        };
        if let Some(f) = next {
            if let Some(tx) = lock(&self.tx).as_ref() {
                let _ = tx.send(f);
            }
        }
    }

    fn store(&self, p: Prefetched) {
        let mut st = lock(&self.state);
        st.queued.retain(|&i| i != p.ino);
        st.ready.retain(|q| q.ino != p.ino);
        st.ready.push_back(p);
        while st.ready.len() > KEPT {
            st.ready.pop_front();
        }
    }

    fn forget(&self, ino: u64) {
        lock(&self.state).queued.retain(|&i| i != ino);
    }
}

/// Start the thread that lists folders ahead, on its own catalog
/// connection. It ends when the core is dropped. Without it (the catalog
/// cannot be opened twice) nothing is listed ahead and nothing else
/// changes.
pub fn start(core: &Arc<FsCore>, catalog_path: &Path) {
    let cat = match Catalog::open(catalog_path) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("listing ahead disabled: {e}");
            return;
        }
    };
    let (tx, rx) = mpsc::channel();
    let weak = Arc::downgrade(core);
    let spawned = std::thread::Builder::new()
        .name("flickrfs-ahead".into())
        .spawn(move || run(weak, cat, rx));
    match spawned {
        Ok(_) => *lock(&core.prefetch.tx) = Some(tx),
        Err(e) => tracing::warn!("listing ahead disabled: {e}"),
    }
}

fn run(core: Weak<FsCore>, cat: Catalog, rx: Receiver<FolderRef>) {
    while let Ok(f) = rx.recv() {
        let Some(core) = core.upgrade() else { return };
        // the generation first: a change landing during the listing makes
        // it look older than it is (rebuilt), never newer
        let listed = cat.generation().and_then(|g| Ok((g, cat.list(f.coll)?)));
        match listed {
            Ok((generation, entries)) => match core.folder_listing(f.ino, f.coll, entries) {
                Ok(children) => core.prefetch.store(Prefetched {
                    ino: f.ino,
                    generation,
                    children,
                }),
                Err(_) => core.prefetch.forget(f.ino),
            },
            Err(e) => {
                tracing::debug!("listing ahead: {e}");
                core.prefetch.forget(f.ino);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(ino: u64) -> FolderRef {
        FolderRef {
            ino,
            coll: CollectionId(ino as i64),
        }
    }

    fn queued(p: &Prefetcher) -> Vec<u64> {
        lock(&p.state).queued.clone()
    }

    #[test]
    fn asks_for_the_first_set_then_each_next_sibling() {
        let p = Prefetcher::default();
        // the account folder (ino 2, parent 1) holds sets 10, 11, 12
        p.listed(2, 1, vec![folder(10), folder(11), folder(12)]);
        assert_eq!(queued(&p), vec![10]);
        p.store(Prefetched {
            ino: 10,
            generation: Generation(5),
            children: Vec::new(),
        });
        assert!(queued(&p).is_empty());
        // set 10 is listed (from the prefetch): ask for 11
        assert!(p.take(10, || Some(Generation(5))).is_some());
        p.listed(10, 2, Vec::new());
        assert_eq!(queued(&p), vec![11]);
        // the last set has no next sibling
        p.forget(11);
        p.listed(12, 2, Vec::new());
        assert!(queued(&p).is_empty());
    }

    #[test]
    fn a_listing_taken_before_a_change_is_not_used() {
        let p = Prefetcher::default();
        p.store(Prefetched {
            ino: 10,
            generation: Generation(5),
            children: Vec::new(),
        });
        assert!(p.take(10, || Some(Generation(6))).is_none());
        // and it is gone: the next readdir lists afresh
        assert!(p.take(10, || Some(Generation(5))).is_none());
        assert!(p.take(99, || Some(Generation(5))).is_none());
    }

    #[test]
    fn keeps_only_a_few_unused_listings() {
        let p = Prefetcher::default();
        for ino in 0..10 {
            p.store(Prefetched {
                ino,
                generation: Generation(1),
                children: Vec::new(),
            });
        }
        assert_eq!(lock(&p.state).ready.len(), KEPT);
        assert!(p.take(9, || Some(Generation(1))).is_some());
        assert!(p.take(0, || Some(Generation(1))).is_none());
    }
}
