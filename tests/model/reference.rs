//! The reference model of the mount's semantics (SEMANTICS.md,
//! refined by the doc comments of `src/catalog/ops.rs`), for one account
//! with only local photos (no Flickr ids) and one group pool. It knows nothing of
//! FUSE or SQLite: a photo is its content and its backing file; a folder
//! (the account root or a set) maps names to photos.
//!
//! Rules modelled:
//! - one photo = one content: bytes written or linked in that the account
//!   already has (media, not empty, not a junk name) become one more name of
//!   that photo (the oldest one), not a new photo;
//! - the root lists exactly the photos in no set and no pool (a photo that
//!   enters a set or the pool leaves the root; one that leaves its last set
//!   or pool comes back to the root under its old name, made unique with
//!   ` (N)`); the pool folder (`Pools/G`, a group the account is a member
//!   of) takes `cp`, `ln`, `ln -s`, `mv` and `rm` as a set folder does, and
//!   is never made, removed or renamed;
//! - root names share the account folder's namespace with set folders and
//!   `Pools`;
//! - a photo may have several names, even in one folder;
//! - delete in a set = leave the set; delete of a photo's last root name =
//!   the (local-only) photo leaves the catalog, its file stays on disk;
//! - rename over an existing entry: a fresh source (one name in one folder)
//!   gives its content to the destination photo (editor save); otherwise the
//!   destination is deleted first, then the source moves;
//! - move into the root = out of every set and the pool; rename gives a new title
//!   (title = the name's stem) unless the name is junk;
//! - nothing is ever deleted from disk, except a copy the mount itself just
//!   wrote of content the catalog already had (`create` + close, `cp`), and
//!   the mount's file of a version an editor's save replaced (a rename over
//!   an entry that takes the source's bytes) once no photo refers to it;
//! - a rename by the mount moves a backing file the mount wrote to the first
//!   free name made from the new entry name (not for junk names, nor when
//!   its name already is that name or a ` (N)` form of it), so no file is
//!   left under an editor's temporary name; a rename by another catalog
//!   connection moves no file.
//!
//! Writes into an existing entry (open with O_TRUNC or O_APPEND, write,
//! close; `truncate(2)`), SEMANTICS.md "write into an existing entry":
//! - open or truncate of a set folder is the kernel's `EISDIR`; a missing
//!   name `ENOENT`; a path through a missing set `ENOENT`, or `ENOTDIR`
//!   through a file of that name;
//! - the photo's bytes become the written ones; its title, tags, privacy
//!   and names are unchanged (`finish_write` → `WriteOutcome::Updated`);
//! - a backing file the mount wrote (`Catalog::is_own_file`: in this test,
//!   any file of the default folder) is changed in place; any other one, a user's
//!   file referenced by `ln -s` (or adopted from such a reference by an
//!   editor save), is copied into the default folder at the first change,
//!   or created empty when opened with O_TRUNC, and the photo refers to
//!   the copy (an own file) from then on
//!   (`record_written`): a user's file never changes, not even its mtime;
//!   a `truncate(2)` copies too, even to the same size, and a truncating
//!   open copies even when nothing is written;
//! - at close, a written photo (not junk) whose content is now media, not
//!   empty, and that of another non-junk photo is merged into the oldest
//!   such photo (`finish_write` → `merge_into`): that photo keeps its file,
//!   title, tags and privacy and takes the written photo's names, except
//!   its account-folder names when it is in sets (the written entry then
//!   vanishes); the written photo leaves the catalog. The copy this write
//!   just made is removed (`finish_write` with `Written::NewFile` →
//!   `WriteOutcome::Merged`'s `remove`); a file changed in place stays on
//!   disk, unreferenced;
//! - written bytes are media when they start with a JPEG head
//!   (`media::sniff`, for the only media kind this test writes).
//!
//! Changes made by another catalog connection while mounted (`Op::External`,
//! what a running sync does; SEMANTICS.md "Cache coherence"): each is the
//! catalog call the mount itself makes for one file operation, so the model
//! applies that operation's rule and no other (`Ext::as_op`):
//! `Catalog::add_file` of a user's file = `ln -s` (its `AlreadyInSets` is
//! the mount's `EEXIST`), `Catalog::rename` = `mv` of a file (its
//! `FileAction`s are the mount's to apply, so another connection's rename
//! moves no file), `Catalog::unlink` = `rm`, `Catalog::mkdir` = `mkdir` in
//! the account folder. A
//! refusal is only checked to be one (path errnos such as `ENOTDIR` are the
//! kernel's, not the catalog's). The mount must show the change once its
//! change watcher has run: the harness waits (bounded, 10 s) until the whole
//! tree agrees, then compares as after any step.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Photo key in the model; ordered like the catalog's row ids (creation order).
pub type Pid = u64;

pub const ENOENT: i32 = libc::ENOENT;
pub const EEXIST: i32 = libc::EEXIST;
pub const EISDIR: i32 = libc::EISDIR;
pub const ENOTDIR: i32 = libc::ENOTDIR;
pub const ENOTEMPTY: i32 = libc::ENOTEMPTY;
pub const EPERM: i32 = libc::EPERM;
pub const EINVAL: i32 = libc::EINVAL;
pub const ENOTSUP: i32 = libc::ENOTSUP;

/// File names the generator uses (junk ones included, and one that the
/// ` (N)` collision rule produces).
pub const NAMES: [&str; 7] = [
    "a.jpg",
    "b.jpg",
    "c.png",
    "a (2).jpg",
    "x.jpg.part",
    ".goutputstream-Q1",
    "Trip 2.jpg",
];
/// Set folder names (one collides with a file name).
pub const SETS: [&str; 4] = ["S1", "S2", "S3", "a.jpg"];

/// The one group pool of the model's account: `Pools/G`.
pub const POOL: &str = "G";

/// Which folder of the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Folder {
    Root,
    Set(usize),
    /// `Pools/G`: always there.
    Pool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    Title,
    Tags,
    Privacy,
}

impl Attr {
    pub fn name(self) -> &'static str {
        match self {
            Attr::Title => "user.flickr.title",
            Attr::Tags => "user.flickr.tags",
            Attr::Privacy => "user.flickr.privacy",
        }
    }
    pub fn values(self) -> &'static [&'static str] {
        match self {
            Attr::Title => &["Sunset", "  spaced out  ", "", "bad\u{1}ctl", "Trip 2024\n"],
            Attr::Tags => &["sunset beach", "\"new york\" sunset sunset", "  ", "a"],
            Attr::Privacy => &[
                "public",
                "FRIENDS",
                "friends+family\n",
                "private",
                "bogus",
                "",
            ],
        }
    }
}

/// One file operation, described by indices so that any sub-list of a
/// failing run is still a valid run (for shrinking).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `cp`: a new file (O_CREAT|O_EXCL), written, closed.
    Create {
        dir: Folder,
        name: usize,
        content: usize,
    },
    /// `ln -s /real/file dir/name`.
    Symlink {
        dir: Folder,
        name: usize,
        source: usize,
    },
    /// `ln from/name to/to_name`.
    Link {
        from: Folder,
        name: usize,
        to: Folder,
        to_name: usize,
    },
    /// `mv from/name to/to_name` (a file).
    Rename {
        from: Folder,
        name: usize,
        to: Folder,
        to_name: usize,
    },
    Unlink {
        dir: Folder,
        name: usize,
    },
    Mkdir {
        set: usize,
    },
    Rmdir {
        set: usize,
    },
    /// `mv acct/SET acct/OTHER`.
    RenameSet {
        set: usize,
        to: usize,
    },
    SetXattr {
        dir: Folder,
        name: usize,
        attr: Attr,
        value: usize,
    },
    /// `cp other dir/name` onto an existing entry: open with
    /// O_WRONLY|O_TRUNC (no O_CREAT), write `contents[content]`, close.
    Overwrite {
        dir: Folder,
        name: usize,
        content: usize,
    },
    /// `printf ... >> dir/name`: open with O_WRONLY|O_APPEND, write
    /// `TAILS[tail]`, close.
    Append {
        dir: Folder,
        name: usize,
        tail: usize,
    },
    /// `truncate(2)` of `dir/name` (no open file) to `quarters`/4 of its
    /// current size (4: the same size).
    Truncate {
        dir: Folder,
        name: usize,
        quarters: usize,
    },
    /// A change made by another catalog connection (what a running sync
    /// does) while the mount is up; see [`Ext`].
    External(Ext),
}

/// A change another connection makes to the catalog, not through the
/// mount. Each is the very catalog call the mount makes for the file
/// operation [`Ext::as_op`] names, so the model applies that operation's
/// rule: `Catalog::add_file` of a user's file is what `ln -s` does,
/// `Catalog::rename` what `mv` of a file does,
/// `Catalog::unlink` what `rm` does, `Catalog::mkdir` what `mkdir` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ext {
    /// `Catalog::add_file(dir, name, user's file #source)`.
    AddFile {
        dir: Folder,
        name: usize,
        source: usize,
    },
    /// `Catalog::rename(from, name, to, to_name)` (within or across folders).
    Rename {
        from: Folder,
        name: usize,
        to: Folder,
        to_name: usize,
    },
    /// `Catalog::unlink(dir, name)`.
    Unlink { dir: Folder, name: usize },
    /// `Catalog::mkdir(account, SETS[set])`.
    Mkdir { set: usize },
}

impl Ext {
    /// The file operation whose catalog call this is.
    pub fn as_op(self) -> Op {
        match self {
            Ext::AddFile { dir, name, source } => Op::Symlink { dir, name, source },
            Ext::Rename {
                from,
                name,
                to,
                to_name,
            } => Op::Rename {
                from,
                name,
                to,
                to_name,
            },
            Ext::Unlink { dir, name } => Op::Unlink { dir, name },
            Ext::Mkdir { set } => Op::Mkdir { set },
        }
    }
}

/// Bytes `Op::Append` adds: a JPEG start (appended to an empty entry it
/// makes a 4-byte "photo"), and a line of text.
pub const TAILS: [&[u8]; 2] = [&[0xFF, 0xD8, 0xFF, 0xE0], b"edited\n"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Photo {
    pub content: usize,
    /// The backing file (None until the harness learns the new file's path).
    pub path: Option<PathBuf>,
    pub title: String,
    pub tags: Option<String>,
    pub privacy: Option<String>,
    pub junk: bool,
}

/// Content facts the model needs: is it media (sniffed as a photo), its length.
#[derive(Clone, Debug)]
pub struct Content {
    pub bytes: Vec<u8>,
    pub media: bool,
}

/// `media::sniff` for the bytes this test writes: the only media kind it
/// produces is JPEG, recognised by its first three bytes.
pub fn sniffs_as_media(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

/// What an operation is expected to do, beyond its errno.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effect {
    /// One new file appears in the default folder, holding this content,
    /// and this photo refers to it: the file a create kept, or the copy a
    /// first change of someone else's file made (none when the photo was
    /// merged at close: the mount removes that file).
    pub new_file: Option<(Pid, usize)>,
    /// A file the mount wrote in this session was changed in place and now
    /// holds this content (it stays on disk even if its photo was merged).
    pub rewritten: Option<(PathBuf, usize)>,
    /// At close, the written photo was merged into this one (same content).
    pub merged_into: Option<Pid>,
    /// A rename by the mount: this photo's backing file, one the mount
    /// wrote, was renamed from this path to the first free name made from
    /// this entry name (`Catalog::rename` → `FileAction::Rename`).
    pub file_renamed: Option<(Pid, PathBuf, String)>,
    /// A rename by the mount over an entry that took the source's bytes
    /// (an editor's save): the file the mount wrote for the replaced
    /// version, which no photo refers to any more, was removed
    /// (`Catalog::rename` → `FileAction::Remove`).
    pub released: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct Model {
    pub photos: BTreeMap<Pid, Photo>,
    next: Pid,
    pub root: BTreeMap<String, Pid>,
    /// Listed sets by SETS index → their entries.
    pub sets: BTreeMap<usize, BTreeMap<String, Pid>>,
    /// The pool's entries.
    pub pool: BTreeMap<String, Pid>,
    /// Names of sets by index (a renamed set keeps its index but has
    /// another pool name: we key sets by the pool index of their *current*
    /// name, so a rename moves the map).
    pub contents: Vec<Content>,
    /// (path, content) of the user's own files usable as `ln -s` targets.
    pub sources: Vec<(PathBuf, usize)>,
    /// Every name ever seen in a folder (for lookups of vanished names).
    pub seen_names: BTreeSet<String>,
}

/// The SETS index of `name` (usize::MAX when it is not a set name).
pub fn set_index(name: &str) -> usize {
    SETS.iter().position(|s| *s == name).unwrap_or(usize::MAX)
}

pub fn is_junk(name: &str) -> bool {
    name.ends_with(".part") || name.starts_with(".goutputstream-") || name.ends_with('~')
}

/// `io::is_unique_form_of`: `file_name` is `name` or `stem (N).ext`, a
/// name the mount gives a file for the entry `name` in its default folder.
pub fn is_unique_form_of(file_name: &str, name: &str) -> bool {
    if file_name == name {
        return true;
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    let Some(rest) = file_name.strip_suffix(ext) else {
        return false;
    };
    match rest.strip_suffix(')').and_then(|r| r.rsplit_once(" (")) {
        Some((s, n)) => {
            !n.is_empty()
                && n.bytes().all(|b| b.is_ascii_digit())
                && !n.starts_with('0')
                && stem.starts_with(s)
        }
        None => false,
    }
}

/// `EntryName::stem` / `extension`: the extension is 1..=10 ASCII
/// alphanumerics after the last dot, which is not the first character.
pub fn split_ext(name: &str) -> (&str, Option<&str>) {
    if let Some(i) = name.rfind('.') {
        let ext = &name[i + 1..];
        if i > 0
            && !ext.is_empty()
            && ext.len() <= 10
            && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return (&name[..i], Some(ext));
        }
    }
    (name, None)
}

pub fn title_from_name(name: &str) -> String {
    let t = split_ext(name).0.trim();
    if t.is_empty() {
        name.to_string()
    } else {
        t.to_string()
    }
}

/// The size `Op::Truncate` truncates a file of `len` bytes to.
pub fn truncated_len(len: usize, quarters: usize) -> usize {
    len * quarters.min(4) / 4
}

fn with_suffix(base: &str, n: u64) -> String {
    let (stem, ext) = split_ext(base);
    match ext {
        Some(e) => format!("{stem} ({n}).{e}"),
        None => format!("{stem} ({n})"),
    }
}

fn parse_tags(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    fn push(cur: &mut String, out: &mut Vec<String>) {
        let t = cur.trim().to_string();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
        cur.clear();
    }
    for c in s.chars() {
        match c {
            '"' => {
                if quoted {
                    push(&mut cur, &mut out);
                }
                quoted = !quoted;
            }
            c if c.is_whitespace() && !quoted => push(&mut cur, &mut out),
            c if c.is_control() => {}
            c => cur.push(c),
        }
    }
    push(&mut cur, &mut out);
    out
}

fn format_tags(tags: &[String]) -> String {
    tags.iter()
        .map(|t| {
            if t.contains(char::is_whitespace) {
                format!("\"{t}\"")
            } else {
                t.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

type R = Result<Effect, i32>;

impl Model {
    pub fn new(contents: Vec<Content>, sources: Vec<(PathBuf, usize)>) -> Model {
        Model {
            photos: BTreeMap::new(),
            next: 1,
            root: BTreeMap::new(),
            sets: BTreeMap::new(),
            pool: BTreeMap::new(),
            contents,
            sources,
            seen_names: NAMES.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn folder_exists(&self, f: Folder) -> bool {
        match f {
            Folder::Root | Folder::Pool => true,
            Folder::Set(i) => self.sets.contains_key(&i),
        }
    }

    /// The errno of a path through a folder that does not exist: ENOTDIR
    /// when the account folder has a file of that name.
    pub fn missing_folder_errno(&self, f: Folder) -> i32 {
        match f {
            Folder::Set(i) if self.root.contains_key(SETS[i]) => ENOTDIR,
            _ => ENOENT,
        }
    }

    pub fn entries(&self, f: Folder) -> Option<&BTreeMap<String, Pid>> {
        match f {
            Folder::Root => Some(&self.root),
            Folder::Set(i) => self.sets.get(&i),
            Folder::Pool => Some(&self.pool),
        }
    }

    fn entries_mut(&mut self, f: Folder) -> &mut BTreeMap<String, Pid> {
        match f {
            Folder::Root => &mut self.root,
            Folder::Set(i) => self.sets.get_mut(&i).expect("model: folder exists"),
            Folder::Pool => &mut self.pool,
        }
    }

    /// A directory named `name` in the account folder (a set or `Pools`).
    pub fn is_dir_name(&self, f: Folder, name: &str) -> bool {
        f == Folder::Root && (name == "Pools" || self.sets.keys().any(|&i| SETS[i] == name))
    }

    fn taken(&self, f: Folder, name: &str) -> bool {
        self.is_dir_name(f, name) || self.entries(f).is_some_and(|e| e.contains_key(name))
    }

    fn entry(&self, f: Folder, name: &str) -> Option<Pid> {
        self.entries(f).and_then(|e| e.get(name).copied())
    }

    /// The sets and pools listing `p` (the root lists photos in none).
    fn set_count(&self, p: Pid) -> usize {
        self.sets
            .values()
            .chain(std::iter::once(&self.pool))
            .filter(|m| m.values().any(|&x| x == p))
            .count()
    }

    fn names_of(&self, p: Pid) -> Vec<(Folder, String)> {
        let mut v = Vec::new();
        for (n, &x) in &self.root {
            if x == p {
                v.push((Folder::Root, n.clone()));
            }
        }
        for (&i, m) in &self.sets {
            for (n, &x) in m {
                if x == p {
                    v.push((Folder::Set(i), n.clone()));
                }
            }
        }
        for (n, &x) in &self.pool {
            if x == p {
                v.push((Folder::Pool, n.clone()));
            }
        }
        v
    }

    fn root_names(&self, p: Pid) -> Vec<String> {
        self.root
            .iter()
            .filter(|(_, &x)| x == p)
            .map(|(n, _)| n.clone())
            .collect()
    }

    fn insert(&mut self, f: Folder, name: &str, p: Pid) {
        self.seen_names.insert(name.to_string());
        self.entries_mut(f).insert(name.to_string(), p);
    }

    fn unique_root_name(&self, base: &str) -> String {
        if !self.taken(Folder::Root, base) {
            return base.to_string();
        }
        (2u64..)
            .map(|i| with_suffix(base, i))
            .find(|n| !self.taken(Folder::Root, n))
            .expect("a free name")
    }

    /// The root invariant: in a set or the pool → no root names; in
    /// neither → at least one root name (`preferred`, made unique).
    fn fix_root(&mut self, p: Pid, preferred: Option<&str>) {
        if self.set_count(p) > 0 {
            self.root.retain(|_, x| *x != p);
            return;
        }
        if !self.root_names(p).is_empty() {
            return;
        }
        let base = preferred
            .expect("model: a photo left every folder with no name to fall back on")
            .to_string();
        let n = self.unique_root_name(&base);
        self.insert(Folder::Root, &n, p);
    }

    fn forget(&mut self, p: Pid) {
        self.photos.remove(&p);
        self.root.retain(|_, x| *x != p);
        for m in self.sets.values_mut() {
            m.retain(|_, x| *x != p);
        }
        self.pool.retain(|_, x| *x != p);
    }

    /// The oldest non-junk photo with this content, if content identifies a
    /// photo at all.
    fn dedup(&self, content: usize, junk: bool, except: Option<Pid>) -> Option<Pid> {
        let c = &self.contents[content];
        if junk || !c.media || c.bytes.is_empty() {
            return None;
        }
        self.photos
            .iter()
            .find(|(&id, p)| p.content == content && !p.junk && Some(id) != except)
            .map(|(&id, _)| id)
    }

    fn new_photo(&mut self, name: &str, content: usize, path: Option<PathBuf>) -> Pid {
        let id = self.next;
        self.next += 1;
        self.photos.insert(
            id,
            Photo {
                content,
                path,
                title: title_from_name(name),
                tags: None,
                privacy: None,
                junk: is_junk(name),
            },
        );
        id
    }

    /// `unlink_in`: delete one name in a folder.
    fn unlink_in(&mut self, f: Folder, name: &str) {
        let p = self.entry(f, name).expect("model: entry exists");
        match f {
            Folder::Set(_) | Folder::Pool => {
                self.entries_mut(f).remove(name);
                let junk = self.photos[&p].junk;
                if junk && self.names_of(p).is_empty() {
                    self.forget(p);
                    return;
                }
                self.fix_root(p, Some(name));
            }
            Folder::Root => {
                if self.root_names(p).len() > 1 {
                    self.root.remove(name);
                } else {
                    self.forget(p);
                }
            }
        }
    }

    /// `merge_into` (catalog): `from`'s names move to `into` (its account
    /// folder names are dropped when `into` is in sets), `from` leaves the
    /// catalog; `into` keeps its file, title and settings.
    fn merge_into(&mut self, from: Pid, into: Pid) {
        let into_in_sets = self.set_count(into) > 0;
        for (f, n) in self.names_of(from) {
            if f == Folder::Root && into_in_sets {
                self.root.remove(&n);
            } else {
                self.entries_mut(f).insert(n, into);
            }
        }
        self.photos.remove(&from);
        self.fix_root(into, None);
    }

    /// Whether `p`'s backing file is one the mount wrote
    /// (`Catalog::is_own_file`): anything but a user's file (every file of
    /// the default folder is one in this test).
    fn is_own(&self, p: Pid) -> bool {
        let path = self.photos[&p].path.as_ref();
        path.is_some_and(|path| !self.sources.iter().any(|(s, _)| s == path))
    }

    /// The content index of `bytes` (added when new).
    pub fn intern(&mut self, bytes: Vec<u8>) -> usize {
        if let Some(i) = self.contents.iter().position(|c| c.bytes == bytes) {
            return i;
        }
        let media = sniffs_as_media(&bytes);
        self.contents.push(Content { bytes, media });
        self.contents.len() - 1
    }

    /// The photo of an entry opened (or truncated) for writing by path.
    fn entry_to_write(&self, dir: Folder, name: &str) -> Result<Pid, i32> {
        if !self.folder_exists(dir) {
            return Err(self.missing_folder_errno(dir));
        }
        if self.is_dir_name(dir, name) {
            // the kernel refuses to open a directory for writing
            return Err(EISDIR);
        }
        self.entry(dir, name).ok_or(ENOENT)
    }

    /// The current bytes of `dir/name` (empty when there is no such entry).
    pub fn bytes_of(&self, dir: Folder, name: &str) -> &[u8] {
        match self.entry(dir, name) {
            Some(p) => &self.contents[self.photos[&p].content].bytes,
            None => &[],
        }
    }

    /// `p`'s bytes became `content` through a write handle, then the
    /// handle was finished: a file the mount wrote is changed in place,
    /// any other (a user's file) is copied first into the default folder
    /// and the photo refers to the copy (`record_written`); then
    /// `finish_write`
    /// merges a local-only photo into the oldest other non-junk photo with
    /// the same content (media, not empty, the written photo not junk).
    /// After a merge, the copy this write made is removed
    /// (`WriteOutcome::Merged`'s `remove`); an own file changed in place
    /// stays on disk, unreferenced.
    fn rewrite(&mut self, p: Pid, content: usize) -> Effect {
        let own = self.is_own(p);
        let ph = self.photos.get_mut(&p).expect("model: photo");
        ph.content = content;
        let junk = ph.junk;
        let mut effect = Effect::default();
        if own {
            let path = ph.path.clone().expect("model: an own file has a path");
            effect.rewritten = Some((path, content));
        } else {
            ph.path = None; // the copy, found by the harness
            effect.new_file = Some((p, content));
        }
        if let Some(into) = self.dedup(content, junk, Some(p)) {
            self.merge_into(p, into);
            effect.merged_into = Some(into);
            effect.new_file = None;
        }
        effect
    }

    /// Applies `op`; returns the errno the mount must answer, or the effect.
    pub fn apply(&mut self, op: Op) -> R {
        match op {
            // the same rule as the file operation making the same call; an
            // errno here only says "refused" (the harness checks no more:
            // the kernel's path errnos do not apply to a catalog call). The
            // mount's files do not follow a catalog call: only the mount's
            // own rename moves or removes them.
            Op::External(e) => self.apply_as(e.as_op(), false),
            op => self.apply_as(op, true),
        }
    }

    /// The backing file of `p` follows its new entry name `to_name` when a
    /// rename by the mount gave it one: only a file the mount wrote, not
    /// for a junk name, and not when its name is already that name or a
    /// ` (N)` form of it (`io::is_unique_form_of`).
    fn file_follows(
        &mut self,
        p: Pid,
        to_name: &str,
        by_mount: bool,
    ) -> Option<(Pid, PathBuf, String)> {
        if !by_mount || !self.is_own(p) || is_junk(to_name) {
            return None;
        }
        let path = self.photos[&p].path.clone()?;
        let current = path.file_name()?.to_str()?.to_owned();
        if is_unique_form_of(&current, to_name) {
            return None;
        }
        // the harness learns the new path
        self.photos.get_mut(&p).expect("model: photo").path = None;
        Some((p, path, to_name.to_owned()))
    }

    fn apply_as(&mut self, op: Op, by_mount: bool) -> R {
        match op {
            Op::Create { dir, name, content } => {
                let name = NAMES[name];
                if !self.folder_exists(dir) {
                    return Err(self.missing_folder_errno(dir));
                }
                if self.taken(dir, name) {
                    return Err(EEXIST);
                }
                let p = self.new_photo(name, content, None);
                self.insert(dir, name, p);
                let junk = self.photos[&p].junk;
                match self.dedup(content, junk, Some(p)) {
                    Some(into) => {
                        // the mount removes the copy it just wrote
                        self.merge_into(p, into);
                        Ok(Effect {
                            merged_into: Some(into),
                            ..Effect::default()
                        })
                    }
                    None => Ok(Effect {
                        new_file: Some((p, content)),
                        ..Effect::default()
                    }),
                }
            }
            Op::Symlink { dir, name, source } => {
                let name = NAMES[name];
                if !self.folder_exists(dir) {
                    return Err(self.missing_folder_errno(dir));
                }
                if self.taken(dir, name) {
                    return Err(EEXIST);
                }
                let (path, content) = self.sources[source].clone();
                match self.dedup(content, is_junk(name), None) {
                    Some(t) => {
                        if dir == Folder::Root && self.set_count(t) > 0 {
                            return Err(EEXIST);
                        }
                        self.insert(dir, name, t);
                        self.fix_root(t, None);
                    }
                    None => {
                        let p = self.new_photo(name, content, Some(path));
                        self.insert(dir, name, p);
                    }
                }
                Ok(Effect::default())
            }
            Op::Link {
                from,
                name,
                to,
                to_name,
            } => {
                let (name, to_name) = (NAMES[name], NAMES[to_name]);
                if !self.folder_exists(from) {
                    return Err(self.missing_folder_errno(from));
                }
                // the kernel resolves both paths before `vfs_link` refuses
                // to link a directory
                let source_is_dir = self.is_dir_name(from, name);
                let p = self.entry(from, name);
                if p.is_none() && !source_is_dir {
                    return Err(ENOENT);
                }
                if !self.folder_exists(to) {
                    return Err(self.missing_folder_errno(to));
                }
                if self.taken(to, to_name) {
                    return Err(EEXIST);
                }
                let Some(p) = p.filter(|_| !source_is_dir) else {
                    return Err(EPERM);
                };
                if to == Folder::Root && self.set_count(p) > 0 {
                    return Err(EPERM);
                }
                self.insert(to, to_name, p);
                self.fix_root(p, None);
                Ok(Effect::default())
            }
            Op::Rename {
                from,
                name,
                to,
                to_name,
            } => {
                let (name, to_name) = (NAMES[name], NAMES[to_name]);
                if !self.folder_exists(from) {
                    return Err(self.missing_folder_errno(from));
                }
                // rename(2) resolves both parent folders before it looks
                // the source up
                if !self.folder_exists(to) {
                    return Err(self.missing_folder_errno(to));
                }
                let Some(p) = self.entry(from, name) else {
                    return Err(ENOENT);
                };
                if from == to && name == to_name {
                    return Ok(Effect::default());
                }
                if to == Folder::Root && from == Folder::Set(set_index(to_name)) {
                    // the destination is an ancestor of the source (the
                    // kernel's rename lock "trap")
                    return Err(ENOTEMPTY);
                }
                if self.is_dir_name(to, to_name) {
                    return Err(EISDIR);
                }
                if let Some(t) = self.entry(to, to_name) {
                    if t == p {
                        // rename(2) between two names of one file: nothing.
                        return Ok(Effect::default());
                    }
                    if self.names_of(p).len() == 1 {
                        // editor save: the destination photo takes the content
                        let replaced_own = self.is_own(t);
                        let src = self.photos.remove(&p).expect("model: photo");
                        self.entries_mut(from).remove(name);
                        let dst = self.photos.get_mut(&t).expect("model: photo");
                        dst.content = src.content;
                        let old = std::mem::replace(&mut dst.path, src.path);
                        let released = old.filter(|old| {
                            by_mount
                                && replaced_own
                                && !self.photos.values().any(|x| x.path.as_ref() == Some(old))
                        });
                        return Ok(Effect {
                            released,
                            file_renamed: self.file_follows(t, to_name, by_mount),
                            ..Effect::default()
                        });
                    }
                    self.unlink_in(to, to_name);
                }
                // move
                if from == to {
                    self.entries_mut(from).remove(name);
                    self.insert(to, to_name, p);
                } else if to == Folder::Root {
                    for m in self.sets.values_mut() {
                        m.retain(|_, x| *x != p);
                    }
                    self.pool.retain(|_, x| *x != p);
                    self.entries_mut(from).remove(name);
                    self.insert(to, to_name, p);
                    self.fix_root(p, None);
                } else {
                    self.entries_mut(from).remove(name);
                    self.insert(to, to_name, p);
                    self.fix_root(p, None);
                }
                // retitle
                let new_junk = is_junk(to_name);
                let ph = self.photos.get_mut(&p).expect("model: photo");
                let was_junk = ph.junk;
                ph.junk = new_junk;
                if !new_junk && (split_ext(name).0 != split_ext(to_name).0 || was_junk) {
                    ph.title = title_from_name(to_name);
                }
                Ok(Effect {
                    file_renamed: self.file_follows(p, to_name, by_mount),
                    ..Effect::default()
                })
            }
            Op::Unlink { dir, name } => {
                let name = NAMES[name];
                if !self.folder_exists(dir) {
                    return Err(self.missing_folder_errno(dir));
                }
                if self.is_dir_name(dir, name) {
                    return Err(EISDIR);
                }
                if self.entry(dir, name).is_none() {
                    return Err(ENOENT);
                }
                self.unlink_in(dir, name);
                Ok(Effect::default())
            }
            Op::Mkdir { set } => {
                if self.taken(Folder::Root, SETS[set]) {
                    return Err(EEXIST);
                }
                self.sets.insert(set, BTreeMap::new());
                Ok(Effect::default())
            }
            Op::Rmdir { set } => {
                let name = SETS[set];
                if self.root.contains_key(name) {
                    return Err(ENOTDIR);
                }
                match self.sets.get(&set) {
                    None => Err(ENOENT),
                    Some(m) if !m.is_empty() => Err(ENOTEMPTY),
                    Some(_) => {
                        self.sets.remove(&set);
                        Ok(Effect::default())
                    }
                }
            }
            Op::RenameSet { set, to } => {
                if !self.sets.contains_key(&set) {
                    // a file of that name is not what this op renames
                    return if self.root.contains_key(SETS[set]) {
                        Ok(Effect::default()) // skipped by the harness
                    } else {
                        Err(ENOENT)
                    };
                }
                if set == to {
                    return Ok(Effect::default());
                }
                if self.sets.contains_key(&to) {
                    return Err(EEXIST);
                }
                if self.root.contains_key(SETS[to]) {
                    return Err(ENOTDIR);
                }
                let m = self.sets.remove(&set).expect("model: set");
                self.sets.insert(to, m);
                Ok(Effect::default())
            }
            Op::SetXattr {
                dir,
                name,
                attr,
                value,
            } => {
                let name = NAMES[name];
                if !self.folder_exists(dir) {
                    return Err(self.missing_folder_errno(dir));
                }
                if self.is_dir_name(dir, name) {
                    return Err(ENOTSUP);
                }
                let Some(p) = self.entry(dir, name) else {
                    return Err(ENOENT);
                };
                let raw = attr.values()[value];
                let text = raw.trim_end_matches(['\n', '\r', '\0']);
                let ph = self.photos.get_mut(&p).expect("model: photo");
                match attr {
                    Attr::Title => {
                        let t = text.trim();
                        if t.is_empty() || t.chars().any(char::is_control) {
                            return Err(EINVAL);
                        }
                        ph.title = t.to_string();
                    }
                    Attr::Tags => ph.tags = Some(format_tags(&parse_tags(text))),
                    Attr::Privacy => {
                        let v = text.trim().to_ascii_lowercase();
                        if !["public", "friends", "family", "friends+family", "private"]
                            .contains(&v.as_str())
                        {
                            return Err(EINVAL);
                        }
                        ph.privacy = Some(v);
                    }
                }
                Ok(Effect::default())
            }
            Op::Overwrite { dir, name, content } => {
                let p = self.entry_to_write(dir, NAMES[name])?;
                Ok(self.rewrite(p, content))
            }
            Op::Append { dir, name, tail } => {
                let p = self.entry_to_write(dir, NAMES[name])?;
                let mut bytes = self.contents[self.photos[&p].content].bytes.clone();
                bytes.extend_from_slice(TAILS[tail]);
                let c = self.intern(bytes);
                Ok(self.rewrite(p, c))
            }
            Op::Truncate {
                dir,
                name,
                quarters,
            } => {
                let p = self.entry_to_write(dir, NAMES[name])?;
                let old = &self.contents[self.photos[&p].content].bytes;
                let bytes = old[..truncated_len(old.len(), quarters)].to_vec();
                let c = self.intern(bytes);
                Ok(self.rewrite(p, c))
            }
            Op::External(e) => self.apply_as(e.as_op(), false),
        }
    }

    /// Whether the harness should skip `op` (it is not the file operation
    /// the op stands for in this state: e.g. a "file rename" whose source
    /// name is a set folder).
    pub fn skips(&self, op: Op) -> bool {
        match op {
            Op::Rename { from, name, .. } => self.is_dir_name(from, NAMES[name]),
            Op::RenameSet { set, .. } => {
                !self.sets.contains_key(&set) && self.root.contains_key(SETS[set])
            }
            Op::External(e) => self.skips(e.as_op()),
            _ => false,
        }
    }
}
