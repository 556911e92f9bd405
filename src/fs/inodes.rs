//! The inode table: one number per `Node`, stable for the life of the
//! mount, plus what the kernel was last told about each node (its parent
//! and name, for cache invalidation, and the entry it refers to).
//!
//! Numbers are never reused while mounted. The table never forgets a node
//! (a 100,000-photo catalog costs a few tens of megabytes), which keeps
//! inode numbers stable even after the kernel forgets them.

use std::collections::HashMap;
use std::time::SystemTime;

use fuser::INodeNo;

use super::tree::Node;
use crate::catalog::Entry;

/// What we remember about one inode.
#[derive(Clone, Debug)]
pub struct Slot {
    pub node: Node,
    /// The directory inode the kernel last saw this node in.
    pub parent: u64,
    /// The name the kernel last saw this node under.
    pub name: Box<str>,
    /// For entries: the catalog row the kernel was last told about.
    pub entry: Option<Entry>,
    /// (size, mtime) of the backing file when the kernel last cached its
    /// pages; unchanged at the next open means `FOPEN_KEEP_CACHE`.
    pub cache_stamp: Option<(u64, SystemTime)>,
}

#[derive(Debug)]
pub struct InodeTable {
    by_node: HashMap<Node, u64>,
    by_ino: HashMap<u64, Slot>,
    next: u64,
}

impl Default for InodeTable {
    fn default() -> Self {
        Self::new()
    }
}

impl InodeTable {
    pub fn new() -> Self {
        let mut t = InodeTable {
            by_node: HashMap::new(),
            by_ino: HashMap::new(),
            next: INodeNo::ROOT.0 + 1,
        };
        t.by_node.insert(Node::Root, INodeNo::ROOT.0);
        t.by_ino.insert(
            INodeNo::ROOT.0,
            Slot {
                node: Node::Root,
                parent: INodeNo::ROOT.0,
                name: "".into(),
                entry: None,
                cache_stamp: None,
            },
        );
        t
    }

    /// The inode of `node`, seen by the kernel as `name` in `parent`;
    /// allocated on first sight.
    pub fn assign(&mut self, node: Node, parent: u64, name: &str, entry: Option<Entry>) -> u64 {
        if let Some(&ino) = self.by_node.get(&node) {
            if let Some(slot) = self.by_ino.get_mut(&ino) {
                if &*slot.name != name {
                    slot.name = name.into();
                }
                slot.parent = parent;
                if entry.is_some() {
                    slot.entry = entry;
                }
            }
            return ino;
        }
        let ino = self.next;
        self.next += 1;
        self.by_node.insert(node, ino);
        self.by_ino.insert(
            ino,
            Slot {
                node,
                parent,
                name: name.into(),
                entry,
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

    /// A written file was merged into a photo the catalog already had: the
    /// kernel keeps the inode number it already has. If that photo already
    /// had a number in the folder, both numbers refer to it.
    pub fn rekey(&mut self, ino: u64, node: Node, name: &str, entry: Option<Entry>) {
        if let Some(slot) = self.by_ino.get_mut(&ino) {
            let old = slot.node;
            slot.node = node;
            slot.name = name.into();
            slot.entry = entry;
            if self.by_node.get(&old) == Some(&ino) {
                self.by_node.remove(&old);
            }
            self.by_node.entry(node).or_insert(ino);
        }
    }

    /// Every slot, for the invalidation pass.
    pub fn slots(&self) -> impl Iterator<Item = (u64, &Slot)> {
        self.by_ino.iter().map(|(k, v)| (*k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{CollectionId, PhotoKey};

    #[test]
    fn numbers_are_stable_and_unique() {
        let mut t = InodeTable::new();
        let a = t.assign(Node::ControlDir, 1, ".flickrfs", None);
        let e = Node::Entry(CollectionId(3), PhotoKey(7));
        let b = t.assign(e, 5, "x.jpg", None);
        assert_ne!(a, b);
        assert_eq!(t.assign(e, 5, "y.jpg", None), b);
        assert_eq!(&*t.get(b).unwrap().name, "y.jpg");
        // a write merged into an existing photo: the kernel's number stays
        let s = t.assign(
            Node::Entry(CollectionId(3), PhotoKey(9)),
            5,
            "new.jpg",
            None,
        );
        t.rekey(
            s,
            Node::Entry(CollectionId(3), PhotoKey(8)),
            "new.jpg",
            None,
        );
        assert_eq!(
            t.ino_of(&Node::Entry(CollectionId(3), PhotoKey(8))),
            Some(s)
        );
        assert_eq!(t.ino_of(&Node::Entry(CollectionId(3), PhotoKey(9))), None);
    }
}
