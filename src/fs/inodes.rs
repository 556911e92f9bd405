//! The inode table: one number per `Node`, stable for the life of the
//! mount, plus what the kernel was last told about each node: the names
//! (parent inode, name) it knows it under, for cache invalidation, and the
//! entry it refers to.
//!
//! A photo can have several names in one folder (`ln a.jpg b.jpg`, or a
//! copy whose content the folder already has): they are links of one inode,
//! as hard links are. Numbers are never reused while mounted, and the table
//! never forgets a node (a 100,000-photo catalog costs a few tens of
//! megabytes), which keeps numbers stable after the kernel forgets them.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::time::SystemTime;

use fuser::INodeNo;

use crate::catalog::{Entry, PhotoKey};

use super::tree::Node;

/// What the kernel was told about an entry's file, compactly: size,
/// mtime and a hash of the backing path. A change means `inval_inode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    pub size: u64,
    pub mtime_ns: i64,
    pub path: u64,
    /// The photo has a file on disk (else it is fetched when opened).
    pub has_file: bool,
}

impl Fingerprint {
    pub fn of(e: &Entry) -> Self {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        e.path.hash(&mut h);
        Fingerprint {
            size: e.size,
            mtime_ns: e.mtime_ns,
            path: h.finish(),
            has_file: e.path.is_some(),
        }
    }
}

/// A small fast hasher for the table's integer keys (FxHash's mixing).
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    fn write_isize(&mut self, i: isize) {
        self.write_u64(i as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// At most this many names are remembered per inode (oldest dropped).
const MAX_LINKS: usize = 8;

/// What we remember about one inode.
#[derive(Clone, Debug)]
pub struct Slot {
    pub node: Node,
    /// (directory inode, name) pairs the kernel may have cached, oldest first.
    pub links: Vec<(u64, Box<str>)>,
    /// For entries: what the kernel was last told about the file.
    pub fp: Option<Fingerprint>,
    /// (size, mtime) of the backing file when the kernel last cached its
    /// pages; unchanged at the next open means `FOPEN_KEEP_CACHE`.
    pub cache_stamp: Option<(u64, SystemTime)>,
}

impl Slot {
    /// The most recent parent directory.
    pub fn parent(&self) -> Option<u64> {
        self.links.last().map(|(p, _)| *p)
    }
    fn link(&mut self, parent: u64, name: &str) {
        if let Some(i) = self
            .links
            .iter()
            .position(|(p, n)| *p == parent && &**n == name)
        {
            let l = self.links.remove(i);
            self.links.push(l);
            return;
        }
        if self.links.len() >= MAX_LINKS {
            self.links.remove(0);
        }
        self.links.push((parent, name.into()));
    }
}

#[derive(Debug)]
pub struct InodeTable {
    by_node: FastMap<Node, u64>,
    by_ino: FastMap<u64, Slot>,
    /// photo → the inodes of its entries (a photo has one per folder, and
    /// a renamed entry keeps its number while its names move) and of the
    /// entries merged into another photo, so that a change to one photo is
    /// checked without a walk of every inode
    by_photo: FastMap<PhotoKey, Vec<u64>>,
    next: u64,
}

fn photo_of(node: Node) -> Option<PhotoKey> {
    match node {
        Node::Entry(_, p) => Some(p),
        _ => None,
    }
}

impl Default for InodeTable {
    fn default() -> Self {
        Self::new()
    }
}

impl InodeTable {
    pub fn new() -> Self {
        let mut t = InodeTable {
            by_node: FastMap::default(),
            by_ino: FastMap::default(),
            by_photo: FastMap::default(),
            next: INodeNo::ROOT.0 + 1,
        };
        t.by_node.insert(Node::Root, INodeNo::ROOT.0);
        t.by_ino.insert(
            INodeNo::ROOT.0,
            Slot {
                node: Node::Root,
                links: vec![(INodeNo::ROOT.0, "".into())],
                fp: None,
                cache_stamp: None,
            },
        );
        t
    }

    /// The inode of `node`, seen by the kernel as `name` in `parent`;
    /// allocated on first sight.
    pub fn assign(&mut self, node: Node, parent: u64, name: &str, entry: Option<&Entry>) -> u64 {
        if let Some(&ino) = self.by_node.get(&node) {
            if let Some(slot) = self.by_ino.get_mut(&ino) {
                slot.link(parent, name);
                if let Some(e) = entry {
                    slot.fp = Some(Fingerprint::of(e));
                }
            }
            return ino;
        }
        let ino = self.next;
        self.next += 1;
        self.by_node.insert(node, ino);
        if let Some(p) = photo_of(node) {
            self.by_photo.entry(p).or_default().push(ino);
        }
        self.by_ino.insert(
            ino,
            Slot {
                node,
                links: vec![(parent, name.into())],
                fp: entry.map(Fingerprint::of),
                cache_stamp: None,
            },
        );
        ino
    }

    pub fn ino_of(&self, node: &Node) -> Option<u64> {
        self.by_node.get(node).copied()
    }

    pub fn get(&self, ino: u64) -> Option<&Slot> {
        self.by_ino.get(&ino)
    }

    pub fn get_mut(&mut self, ino: u64) -> Option<&mut Slot> {
        self.by_ino.get_mut(&ino)
    }

    /// The kernel moved `ino` from (`old_parent`, `old_name`) to
    /// (`parent`, `name`), now meaning `node` (rename, or a written file
    /// merged into a photo the catalog already had). If `node` already had
    /// a number, both numbers refer to it.
    #[allow(clippy::too_many_arguments)]
    pub fn rekey(
        &mut self,
        ino: u64,
        node: Node,
        old: Option<(u64, &str)>,
        parent: u64,
        name: &str,
        entry: Option<&Entry>,
    ) {
        if let Some(slot) = self.by_ino.get_mut(&ino) {
            let prev = slot.node;
            if let Some((op, on)) = old {
                slot.links.retain(|(p, n)| !(*p == op && &**n == on));
            }
            slot.node = node;
            slot.link(parent, name);
            slot.fp = entry.map(Fingerprint::of);
            if prev != node {
                if self.by_node.get(&prev) == Some(&ino) {
                    self.by_node.remove(&prev);
                }
                self.by_node.entry(node).or_insert(ino);
                // A merge re-keys the inode to the photo merged into; it
                // stays listed under the old photo too, whose removal must
                // still reach the names the kernel cached for it.
                if let Some(p) = photo_of(node).filter(|p| photo_of(prev) != Some(*p)) {
                    self.by_photo.entry(p).or_default().push(ino);
                }
            }
        }
    }

    /// The kernel dropped (`parent`, `name`) itself (unlink, rmdir, a
    /// replaced rename target, or an invalidation we sent): nothing to tell
    /// it about that name any more.
    pub fn unlink(&mut self, node: &Node, parent: u64, name: &str) {
        if let Some(ino) = self.by_node.get(node).copied() {
            if let Some(s) = self.by_ino.get_mut(&ino) {
                s.links.retain(|(p, n)| !(*p == parent && &**n == name));
            }
        }
    }

    /// Same, by inode number.
    pub fn unlink_ino(&mut self, ino: u64, parent: u64, name: &str) {
        if let Some(s) = self.by_ino.get_mut(&ino) {
            s.links.retain(|(p, n)| !(*p == parent && &**n == name));
        }
    }

    /// The inodes that are or were entries of `photo`, in any folder.
    pub fn entries_of(&self, photo: PhotoKey) -> impl Iterator<Item = (u64, &Slot)> {
        self.by_photo
            .get(&photo)
            .into_iter()
            .flatten()
            .filter_map(|ino| Some((*ino, self.by_ino.get(ino)?)))
    }

    /// Forgets the inodes listed under `photo` that no longer mean it (a
    /// merge re-keyed them), once a pass has told the kernel about them:
    /// SQLite reuses a deleted photo's key, and a list that kept them
    /// would grow with every copy merged, making each pass slower.
    pub fn prune_photo(&mut self, photo: PhotoKey) {
        let Some(list) = self.by_photo.get_mut(&photo) else {
            return;
        };
        let by_ino = &self.by_ino;
        list.retain(|ino| {
            by_ino
                .get(ino)
                .is_some_and(|s| photo_of(s.node) == Some(photo))
        });
        if list.is_empty() {
            self.by_photo.remove(&photo);
        }
    }

    /// Every slot, for the invalidation pass.
    pub fn slots(&self) -> impl Iterator<Item = (u64, &Slot)> {
        self.by_ino.iter().map(|(k, v)| (*k, v))
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::CollectionId;

    use super::*;

    #[test]
    fn numbers_are_stable_and_names_are_links() {
        let mut t = InodeTable::new();
        let a = t.assign(Node::ControlDir, 1, ".flickrfs", None);
        let e = Node::Entry(CollectionId(3), PhotoKey(7));
        let b = t.assign(e, 5, "x.jpg", None);
        assert_ne!(a, b);
        assert_eq!(t.assign(e, 5, "y.jpg", None), b);
        assert_eq!(&*t.get(b).unwrap().links.last().unwrap().1, "y.jpg");
        assert_eq!(t.get(b).unwrap().links.len(), 2, "x.jpg and y.jpg");
        t.unlink(&e, 5, "x.jpg");
        assert_eq!(t.get(b).unwrap().links.len(), 1);
        // a write merged into an existing photo: the kernel's number stays
        let s = t.assign(
            Node::Entry(CollectionId(3), PhotoKey(9)),
            5,
            "new.jpg",
            None,
        );
        let merged = Node::Entry(CollectionId(3), PhotoKey(8));
        t.rekey(s, merged, Some((5, "new.jpg")), 5, "new.jpg", None);
        assert_eq!(t.ino_of(&merged), Some(s));
        assert_eq!(t.ino_of(&Node::Entry(CollectionId(3), PhotoKey(9))), None);
    }

    #[test]
    fn a_merged_photos_key_reused_by_sqlite_does_not_carry_the_old_inodes() {
        let mut t = InodeTable::new();
        let (set, temp) = (CollectionId(3), PhotoKey(9));
        // one copy after another, each written as photo 9 (SQLite gives
        // the deleted row's key again) and merged into the photo it equals
        for (i, into) in [PhotoKey(100), PhotoKey(101), PhotoKey(102)]
            .iter()
            .enumerate()
        {
            let name = format!("copy{i}.jpg");
            let ino = t.assign(Node::Entry(set, temp), 5, &name, None);
            t.rekey(
                ino,
                Node::Entry(set, *into),
                Some((5, &name)),
                5,
                &name,
                None,
            );
            // the pass sees it under the old photo once, then prunes it
            assert_eq!(t.entries_of(temp).count(), 1, "copy {i}");
            t.prune_photo(temp);
            assert_eq!(t.entries_of(temp).count(), 0);
            assert_eq!(
                t.entries_of(*into).map(|(n, _)| n).collect::<Vec<_>>(),
                [ino]
            );
        }
    }
}
