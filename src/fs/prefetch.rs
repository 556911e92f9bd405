//! Listing ahead of a walker. `find`, `ls -R`, backup tools and file
//! managers walk an account one set folder after another, and each time
//! the kernel waits for the folder's listing, then spends longer building
//! an inode per entry. While it does, a background thread lists the set
//! folder that comes next, so the next request is answered at once: the
//! daemon's work overlaps the kernel's instead of adding to it.
//!
//! A prefetched listing is only a head start: the folder's catalog
//! entries, used when the catalog's change generation has not moved since
//! they were read, and read again otherwise. At most [`KEPT`] wait unused;
//! a walker going elsewhere costs one wasted listing, never a wrong one.
//! This knows nothing of the core: it reads the catalog, the core turns
//! the entries into a listing.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use super::locks::lock;
use crate::catalog::{Catalog, CollectionId, Entry, Generation};

/// Prefetched listings kept waiting for their folder's readdir.
const KEPT: usize = 4;

/// A set folder to list ahead: its inode and its collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FolderRef {
    pub ino: u64,
    pub coll: CollectionId,
}

/// A folder's entries read ahead, with the catalog generation read before.
struct Prefetched {
    ino: u64,
    coll: CollectionId,
    generation: Generation,
    entries: Vec<Entry>,
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
/// Dropping it ends the thread.
#[derive(Default)]
pub struct Prefetcher {
    tx: Mutex<Option<Sender<FolderRef>>>,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for Prefetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefetcher").finish_non_exhaustive()
    }
}

impl Prefetcher {
    /// The entries of folder `ino` (collection `coll`) read ahead, if
    /// there are any and the catalog has not changed since (`now` reads
    /// the current generation).
    pub fn take(
        &self,
        ino: u64,
        coll: CollectionId,
        now: impl FnOnce() -> Option<Generation>,
    ) -> Option<Vec<Entry>> {
        let p = {
            let mut st = lock(&self.state);
            let i = st.ready.iter().position(|p| p.ino == ino)?;
            st.ready.remove(i)?
        };
        (p.coll == coll && now() == Some(p.generation)).then_some(p.entries)
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

    /// Starts the thread that reads folders ahead, on its own catalog
    /// connection; it ends when the prefetcher is dropped. Without it (the
    /// catalog cannot be opened twice) nothing is read ahead and nothing
    /// else changes.
    pub fn start(catalog_path: &Path) -> Prefetcher {
        let p = Prefetcher::default();
        let cat = match Catalog::open(catalog_path) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("listing ahead disabled: {e}");
                return p;
            }
        };
        let (tx, rx) = mpsc::channel();
        let state = p.state.clone();
        let spawned = std::thread::Builder::new()
            .name("flickrfs-ahead".into())
            .spawn(move || run(&state, cat, rx));
        match spawned {
            Ok(_) => *lock(&p.tx) = Some(tx),
            Err(e) => tracing::warn!("listing ahead disabled: {e}"),
        }
        p
    }
}

impl State {
    fn store(&mut self, p: Prefetched) {
        self.queued.retain(|&i| i != p.ino);
        self.ready.retain(|q| q.ino != p.ino);
        self.ready.push_back(p);
        while self.ready.len() > KEPT {
            self.ready.pop_front();
        }
    }

    fn forget(&mut self, ino: u64) {
        self.queued.retain(|&i| i != ino);
    }
}

fn run(state: &Mutex<State>, cat: Catalog, rx: Receiver<FolderRef>) {
    while let Ok(f) = rx.recv() {
        // the generation first: a change landing during the listing makes
        // it look older than it is (read again), never newer
        let listed = cat.generation().and_then(|g| Ok((g, cat.list(f.coll)?)));
        match listed {
            Ok((generation, entries)) => lock(state).store(Prefetched {
                ino: f.ino,
                coll: f.coll,
                generation,
                entries,
            }),
            Err(e) => {
                tracing::debug!("listing ahead: {e}");
                lock(state).forget(f.ino);
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

    fn store(p: &Prefetcher, ino: u64, generation: i64) {
        lock(&p.state).store(Prefetched {
            ino,
            coll: CollectionId(ino as i64),
            generation: Generation(generation),
            entries: Vec::new(),
        });
    }

    #[test]
    fn asks_for_the_first_set_then_each_next_sibling() {
        let p = Prefetcher::default();
        // the account folder (ino 2, parent 1) holds sets 10, 11, 12
        p.listed(2, 1, vec![folder(10), folder(11), folder(12)]);
        assert_eq!(queued(&p), vec![10]);
        store(&p, 10, 5);
        assert!(queued(&p).is_empty());
        // set 10 is listed (from the prefetch): ask for 11
        assert!(p
            .take(10, CollectionId(10), || Some(Generation(5)))
            .is_some());
        p.listed(10, 2, Vec::new());
        assert_eq!(queued(&p), vec![11]);
        // the last set has no next sibling
        lock(&p.state).forget(11);
        p.listed(12, 2, Vec::new());
        assert!(queued(&p).is_empty());
    }

    #[test]
    fn a_listing_taken_before_a_change_is_not_used() {
        let p = Prefetcher::default();
        store(&p, 10, 5);
        assert!(p
            .take(10, CollectionId(10), || Some(Generation(6)))
            .is_none());
        // and it is gone: the next readdir lists afresh
        assert!(p
            .take(10, CollectionId(10), || Some(Generation(5)))
            .is_none());
        assert!(p
            .take(99, CollectionId(99), || Some(Generation(5)))
            .is_none());
        // read for another collection under that inode: not used
        store(&p, 10, 5);
        assert!(p
            .take(10, CollectionId(11), || Some(Generation(5)))
            .is_none());
    }

    #[test]
    fn keeps_only_a_few_unused_listings() {
        let p = Prefetcher::default();
        for ino in 0..10 {
            store(&p, ino, 1);
        }
        assert_eq!(lock(&p.state).ready.len(), KEPT);
        assert!(p.take(9, CollectionId(9), || Some(Generation(1))).is_some());
        assert!(p.take(0, CollectionId(0), || Some(Generation(1))).is_none());
    }
}
