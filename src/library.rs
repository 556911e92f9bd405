//! The user's library folders: where their own photos live (a preference
//! per account; by default the XDG pictures folder and the default folder).
//! A file copied into the mount whose bytes equal a file under a library
//! folder becomes a reference to that original, as `ln -s` would have made
//! it, and the mount's copy goes: no bytes are duplicated at rest.
//!
//! Finding the original never costs a checksum of the library. The index
//! knows every file's size, from a walk with `stat` (symlinks not followed,
//! hidden folders and the mount itself never entered), and inotify keeps it
//! current: the events queued by the time a copy finishes are read before
//! it is matched, so a file saved a moment earlier is known. Only files of
//! the copy's size are hashed, each once per version (size, mtime, inode):
//! a file already hashed to the copy's checksum is checked first, then the
//! files bearing the copy's name, then at most [`MAX_HASHED`] others per
//! copy, so a folder of equally sized raw files never costs a read of all
//! of them (the copy is then kept, which is always safe).

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::media::{sha1_file, Checksum, Walker};

/// Same-size files hashed per copy besides the one bearing the copy's name.
pub const MAX_HASHED: usize = 8;

/// One version of a file, known without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime_ns: i64,
    ino: u64,
    dev: u64,
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            size: m.len(),
            mtime_ns: crate::media::mtime_ns(m),
            ino: m.ino(),
            dev: m.dev(),
        }
    }
}

/// A finished copy, to be matched against the library.
#[derive(Clone, Copy, Debug)]
pub struct Copied<'a> {
    pub size: u64,
    pub checksum: &'a Checksum,
    /// The file name the copy was given (`cp` keeps the original's).
    pub name: &'a str,
    /// The copy itself: never its own original.
    pub path: &'a Path,
}

/// The library folders of one account (or of several sharing them).
pub struct Library {
    /// Never walked: the mount point (the daemon must not look into its
    /// own mount from inside a request).
    skip: Vec<PathBuf>,
    index: Mutex<Index>,
}

impl std::fmt::Debug for Library {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Library")
            .field("folders", &self.folders())
            .finish()
    }
}

/// Which folders a library walks: the configured ones, and the account's
/// default folder when the library follows it (the default preference:
/// the pictures folder and the default folder, whatever it is now).
#[derive(Default)]
struct Folders {
    configured: Vec<PathBuf>,
    default_folder: Option<PathBuf>,
    /// Of both, those not inside another (a folder inside another is
    /// walked as part of it).
    outer: Vec<PathBuf>,
}

impl Folders {
    fn new(configured: Vec<PathBuf>, default_folder: Option<PathBuf>) -> Folders {
        let configured: Vec<PathBuf> = configured.into_iter().map(canonical).collect();
        let default_folder = default_folder.map(canonical);
        let mut all: Vec<PathBuf> = configured
            .iter()
            .chain(default_folder.iter())
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        let outer = all
            .iter()
            .filter(|f| !all.iter().any(|o| o != *f && f.starts_with(o)))
            .cloned()
            .collect();
        Folders {
            configured,
            default_folder,
            outer,
        }
    }
}

fn canonical(p: PathBuf) -> PathBuf {
    std::fs::canonicalize(&p).unwrap_or(p)
}

#[derive(Default)]
struct Index {
    folders: Folders,
    built: bool,
    by_size: HashMap<u64, HashSet<PathBuf>>,
    sizes: HashMap<PathBuf, u64>,
    /// file name → the files bearing it (`cp` keeps the original's name).
    by_name: HashMap<std::ffi::OsString, HashSet<PathBuf>>,
    /// size → the files of that size never hashed: what a copy may still
    /// have to read, kept apart so that finding them never walks a bucket
    /// of thousands of files already hashed (a folder of equally sized
    /// files, or the copies the mount itself made in the default folder)
    unhashed: HashMap<u64, HashSet<PathBuf>>,
    /// Checksums computed, valid while the file's stamp holds.
    sums: HashMap<PathBuf, (Stamp, Checksum)>,
    by_sum: HashMap<Checksum, HashSet<PathBuf>>,
    /// `None` when inotify is unavailable or ran out of watches: the index
    /// is then walked again on a miss, at most every [`REWALK_EVERY`].
    watcher: Option<Watcher>,
    last_walk: Option<std::time::Instant>,
}

const REWALK_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

impl Library {
    /// `folders` as given (missing ones are fine: they may appear later
    /// only through a new walk); `skip`: paths never entered.
    pub fn new(folders: Vec<PathBuf>, skip: Vec<PathBuf>) -> Library {
        Library::with(Folders::new(folders, None), skip)
    }

    /// `folders` and the account's `default_folder`, which
    /// [`Library::follow_default_folder`] replaces when the preference
    /// changes while mounted.
    pub fn following_default_folder(
        folders: Vec<PathBuf>,
        default_folder: PathBuf,
        skip: Vec<PathBuf>,
    ) -> Library {
        Library::with(Folders::new(folders, Some(default_folder)), skip)
    }

    fn with(folders: Folders, skip: Vec<PathBuf>) -> Library {
        Library {
            skip: skip.into_iter().map(canonical).collect(),
            index: Mutex::new(Index {
                folders,
                ..Index::default()
            }),
        }
    }

    /// The folders walked (none inside another).
    pub fn folders(&self) -> Vec<PathBuf> {
        self.lock().folders.outer.clone()
    }

    /// Whether `path` lies under one of the folders.
    pub fn contains(&self, path: &Path) -> bool {
        self.lock()
            .folders
            .outer
            .iter()
            .any(|f| path.starts_with(f))
    }

    /// The account's default folder is `current` now (`flickrfs config set
    /// ACCOUNT default_folder DIR` while mounted): a library that follows
    /// it walks the new one instead of the old from the next copy on, as
    /// after a remount. Returns whether anything changed. A library of
    /// configured folders only is left as it is.
    pub fn follow_default_folder(&self, current: &Path) -> bool {
        let mut ix = self.lock();
        let Some(old) = &ix.folders.default_folder else {
            return false;
        };
        let current = canonical(current.to_path_buf());
        if *old == current {
            return false;
        }
        tracing::info!(
            "library: the default folder is {} now (was {})",
            current.display(),
            old.display()
        );
        let configured = std::mem::take(&mut ix.folders.configured);
        let before = std::mem::take(&mut ix.folders.outer);
        ix.folders = Folders::new(configured, Some(current));
        if ix.built {
            // Only what changed: the old folder's files leave the index
            // (its watches stay, their events are ignored), the new one is
            // walked; the rest of the library is not walked again.
            let after = ix.folders.outer.clone();
            for gone in before.iter().filter(|f| !after.contains(f)) {
                ix.remove_under(gone);
            }
            for new in after.iter().filter(|f| !before.contains(f)) {
                self.walk(&mut ix, new);
            }
        }
        true
    }

    /// Walks the folders now (the daemon does it at start, off the request
    /// path); otherwise the first [`Library::find`] does.
    pub fn warm(&self) {
        let mut ix = self.lock();
        if !ix.built {
            self.walk_all(&mut ix);
        }
    }

    /// How many files the index holds.
    pub fn len(&self) -> usize {
        self.lock().sizes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The file under the library folders whose bytes are the copy's, if
    /// one is found (see the module comment for the cost).
    pub fn find(&self, copy: Copied) -> Option<PathBuf> {
        if copy.size == 0 {
            return None;
        }
        let mut ix = self.lock();
        if !ix.built {
            self.walk_all(&mut ix);
        } else {
            self.catch_up(&mut ix);
        }
        if let Some(p) = self.match_in(&mut ix, copy) {
            return Some(p);
        }
        // without inotify, a file saved since the last walk is unknown
        let stale = ix.last_walk.is_none_or(|t| t.elapsed() >= REWALK_EVERY);
        if ix.watcher.is_none() && stale {
            self.walk_all(&mut ix);
            return self.match_in(&mut ix, copy);
        }
        None
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Looks for the copy's bytes: first among the files already hashed
    /// to its checksum, then the files bearing its name, then at most
    /// [`MAX_HASHED`] of the same-size files never hashed yet. Only the
    /// candidates themselves are read or stat'ed, never the whole bucket.
    fn match_in(&self, ix: &mut Index, copy: Copied) -> Option<PathBuf> {
        let copy_path = std::fs::canonicalize(copy.path).unwrap_or(copy.path.to_path_buf());
        let not_the_copy = |p: &PathBuf| *p != copy_path && *p != copy.path;
        let known: Vec<PathBuf> = ix
            .by_sum
            .get(copy.checksum)
            .map(|s| {
                // only files indexed now: a file of a folder the library
                // no longer walks (an old default folder) is no original
                s.iter()
                    .filter(|p| not_the_copy(p) && ix.sizes.contains_key(*p))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let named: Vec<PathBuf> = ix
            .by_name
            .get(std::ffi::OsStr::new(copy.name))
            .map(|s| {
                s.iter()
                    .filter(|p| not_the_copy(p) && ix.sizes.get(*p) == Some(&copy.size))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for p in known.into_iter().chain(named) {
            if self.check(ix, &p, copy) {
                return Some(p);
            }
        }
        let fresh: Vec<PathBuf> = ix
            .unhashed
            .get(&copy.size)?
            .iter()
            .filter(|p| not_the_copy(p))
            .take(MAX_HASHED)
            .cloned()
            .collect();
        fresh.into_iter().find(|p| self.check(ix, p, copy))
    }

    /// Whether `p` holds the copy's bytes now (hashing it when its cached
    /// checksum is missing or stale, caching the result).
    fn check(&self, ix: &mut Index, p: &Path, copy: Copied) -> bool {
        let meta = match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_file() => m,
            _ => {
                ix.remove(p);
                return false;
            }
        };
        if meta.len() != copy.size {
            ix.insert(p.to_path_buf(), meta.len());
            return false;
        }
        let stamp = Stamp::of(&meta);
        let sum = match ix.sums.get(p) {
            Some((s, c)) if *s == stamp => c.clone(),
            _ => {
                let Ok(c) = sha1_file(p) else { return false };
                ix.set_sum(p, stamp, c.clone());
                c
            }
        };
        sum == *copy.checksum
    }

    fn walk_all(&self, ix: &mut Index) {
        ix.by_size.clear();
        ix.unhashed.clear();
        ix.sizes.clear();
        ix.by_name.clear();
        ix.watcher = Watcher::new();
        for f in ix.folders.outer.clone() {
            self.walk(ix, &f);
        }
        ix.built = true;
        ix.last_walk = Some(std::time::Instant::now());
        tracing::debug!(
            "library {:?}: {} files indexed{}",
            ix.folders.outer,
            ix.sizes.len(),
            if ix.watcher.is_some() {
                ""
            } else {
                " (no inotify: walked again on a miss)"
            }
        );
    }

    fn skipped(&self, dir: &Path) -> bool {
        self.skip.iter().any(|s| dir.starts_with(s))
    }

    /// Indexes `dir` and everything under it, watching each folder.
    fn walk(&self, ix: &mut Index, dir: &Path) {
        let watcher = &mut ix.watcher;
        let mut found = Vec::new();
        let walked = Walker::new().walk(
            dir,
            |d| {
                if self.skipped(d) {
                    return false;
                }
                if let Some(w) = watcher {
                    if !w.add(d) {
                        tracing::warn!(
                            "{}: no inotify watch left (fs.inotify.max_user_watches); the library \
                             index is walked again when a copy finds no original",
                            d.display()
                        );
                        *watcher = None;
                    }
                }
                true
            },
            |path, m| {
                if m.is_file() {
                    found.push((path, m.len()));
                }
            },
        );
        if let Err(e) = walked {
            tracing::debug!("library: not walking {}: {e}", dir.display());
        }
        for (path, len) in found {
            ix.insert(path, len);
        }
    }

    /// Applies the inotify events queued so far.
    fn catch_up(&self, ix: &mut Index) {
        let Some(w) = &mut ix.watcher else { return };
        let events = match w.drain() {
            Ok(ev) => ev,
            Err(Overflow) => {
                tracing::debug!("library: inotify queue overflowed; walking again");
                self.walk_all(ix);
                return;
            }
        };
        for ev in events {
            let path = ev.dir.join(&ev.name);
            if ev.name.as_bytes().first() == Some(&b'.') {
                continue;
            }
            // a folder the library no longer walks (an old default folder)
            if !ix.folders.outer.iter().any(|f| path.starts_with(f)) {
                continue;
            }
            let gone = ev.mask & (libc::IN_DELETE | libc::IN_MOVED_FROM) != 0;
            if ev.mask & libc::IN_ISDIR != 0 {
                if gone {
                    ix.remove_under(&path);
                } else if ev.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
                    self.walk(ix, &path);
                }
            } else if gone {
                ix.remove(&path);
            } else {
                match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.is_file() => {
                        // changed: its cached checksum may be stale, and a
                        // stale one would keep it out of the fresh candidates
                        ix.forget_sum(&path);
                        ix.insert(path, m.len())
                    }
                    _ => ix.remove(&path),
                }
            }
        }
    }
}

/// Takes `path` out of `map[key]`, dropping the set when it empties.
fn take_from(map: &mut HashMap<u64, HashSet<PathBuf>>, key: u64, path: &Path) {
    if let Some(set) = map.get_mut(&key) {
        set.remove(path);
        if set.is_empty() {
            map.remove(&key);
        }
    }
}

impl Index {
    fn insert(&mut self, path: PathBuf, size: u64) {
        if let Some(old) = self.sizes.insert(path.clone(), size) {
            if old == size {
                return;
            }
            if let Some(b) = self.by_size.get_mut(&old) {
                b.remove(&path);
            }
            take_from(&mut self.unhashed, old, &path);
        } else if let Some(name) = path.file_name() {
            self.by_name
                .entry(name.to_os_string())
                .or_default()
                .insert(path.clone());
        }
        if !self.sums.contains_key(&path) {
            self.unhashed.entry(size).or_default().insert(path.clone());
        }
        self.by_size.entry(size).or_default().insert(path);
    }

    fn remove(&mut self, path: &Path) {
        if let Some(size) = self.sizes.remove(path) {
            if let Some(b) = self.by_size.get_mut(&size) {
                b.remove(path);
                if b.is_empty() {
                    self.by_size.remove(&size);
                }
            }
            take_from(&mut self.unhashed, size, path);
            if let Some(name) = path.file_name() {
                if let Some(b) = self.by_name.get_mut(name) {
                    b.remove(path);
                    if b.is_empty() {
                        self.by_name.remove(name);
                    }
                }
            }
        }
        self.forget_sum(path);
    }

    fn set_sum(&mut self, path: &Path, stamp: Stamp, sum: Checksum) {
        self.forget_sum(path);
        self.by_sum
            .entry(sum.clone())
            .or_default()
            .insert(path.to_path_buf());
        self.sums.insert(path.to_path_buf(), (stamp, sum));
        if let Some(size) = self.sizes.get(path) {
            take_from(&mut self.unhashed, *size, path);
        }
    }

    fn forget_sum(&mut self, path: &Path) {
        if let Some((_, old)) = self.sums.remove(path) {
            if let Some(b) = self.by_sum.get_mut(&old) {
                b.remove(path);
                if b.is_empty() {
                    self.by_sum.remove(&old);
                }
            }
            if let Some(size) = self.sizes.get(path) {
                self.unhashed
                    .entry(*size)
                    .or_default()
                    .insert(path.to_path_buf());
            }
        }
    }

    fn remove_under(&mut self, dir: &Path) {
        let gone: Vec<PathBuf> = self
            .sizes
            .keys()
            .filter(|p| p.starts_with(dir))
            .cloned()
            .collect();
        for p in gone {
            self.remove(&p);
        }
    }
}

// ------------------------------------------------------------- inotify

/// An inotify instance watching the library's folders (non-blocking: the
/// events are read when a copy is matched, never waited for).
struct Watcher {
    fd: OwnedFd,
    dirs: HashMap<i32, PathBuf>,
}

struct Event {
    dir: PathBuf,
    name: std::ffi::OsString,
    mask: u32,
}

/// The kernel dropped events: the index must be walked again.
struct Overflow;

const WATCHED: u32 = libc::IN_CREATE
    | libc::IN_CLOSE_WRITE
    | libc::IN_MOVED_TO
    | libc::IN_MOVED_FROM
    | libc::IN_DELETE
    | libc::IN_ATTRIB
    | libc::IN_ONLYDIR
    | libc::IN_DONT_FOLLOW;

impl Watcher {
    fn new() -> Option<Watcher> {
        // SAFETY: a plain syscall; the descriptor is owned below.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        Some(Watcher {
            // SAFETY: `fd` is a fresh descriptor nobody else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            dirs: HashMap::new(),
        })
    }

    /// Watches `dir`; false when the kernel refuses (out of watches).
    fn add(&mut self, dir: &Path) -> bool {
        let Ok(c) = CString::new(dir.as_os_str().as_bytes()) else {
            return true;
        };
        // SAFETY: `c` is a valid C string for the call's duration.
        let wd = unsafe { libc::inotify_add_watch(self.fd.as_raw_fd(), c.as_ptr(), WATCHED) };
        if wd < 0 {
            let e = std::io::Error::last_os_error();
            // a folder gone meanwhile is no reason to give up watching
            return e.raw_os_error() != Some(libc::ENOSPC);
        }
        self.dirs.insert(wd, dir.to_path_buf());
        true
    }

    fn drain(&mut self) -> Result<Vec<Event>, Overflow> {
        let mut out = Vec::new();
        // aligned for `inotify_event`
        let mut buf = vec![0u64; 8192];
        loop {
            // SAFETY: reading into our own buffer of the given length.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len() * std::mem::size_of::<u64>(),
                )
            };
            if n <= 0 {
                return Ok(out);
            }
            // SAFETY: the kernel wrote `n` bytes of packed events.
            let bytes =
                unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), n as usize) };
            let head = std::mem::size_of::<libc::inotify_event>();
            let mut at = 0;
            while at + head <= bytes.len() {
                // SAFETY: `at` is inside the buffer; read_unaligned copes
                // with any alignment.
                let ev: libc::inotify_event =
                    unsafe { std::ptr::read_unaligned(bytes[at..].as_ptr().cast()) };
                let name_bytes = &bytes[at + head..(at + head + ev.len as usize).min(bytes.len())];
                let end = name_bytes
                    .iter()
                    .position(|b| *b == 0)
                    .unwrap_or(name_bytes.len());
                let name = std::ffi::OsStr::from_bytes(&name_bytes[..end]).to_os_string();
                at += head + ev.len as usize;
                if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                    return Err(Overflow);
                }
                if ev.mask & libc::IN_IGNORED != 0 {
                    self.dirs.remove(&ev.wd);
                    continue;
                }
                if let Some(dir) = self.dirs.get(&ev.wd) {
                    out.push(Event {
                        dir: dir.clone(),
                        name,
                        mask: ev.mask,
                    });
                }
            }
        }
    }
}

/// The XDG pictures folder: `XDG_PICTURES_DIR` from
/// `$XDG_CONFIG_HOME/user-dirs.dirs` when set there, else `~/Pictures`.
pub fn pictures_dir(home: &Path, config_home: &Path) -> PathBuf {
    let text = std::fs::read_to_string(config_home.join("user-dirs.dirs")).unwrap_or_default();
    for line in text.lines() {
        let Some(v) = line.trim().strip_prefix("XDG_PICTURES_DIR=") else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        let p = match v.strip_prefix("$HOME") {
            Some(rest) => home.join(rest.trim_start_matches('/')),
            None => PathBuf::from(v),
        };
        if p.is_absolute() && p != home {
            return p;
        }
    }
    home.join("Pictures")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::sha1_bytes;

    /// The files never hashed, worked out from the whole index.
    fn unhashed_by_scan(ix: &Index) -> HashMap<u64, HashSet<PathBuf>> {
        let mut out: HashMap<u64, HashSet<PathBuf>> = HashMap::new();
        for (p, size) in &ix.sizes {
            if !ix.sums.contains_key(p) {
                out.entry(*size).or_default().insert(p.clone());
            }
        }
        out
    }

    #[test]
    fn the_never_hashed_files_are_tracked_through_every_change() {
        let mut ix = Index::default();
        let stamp = |size| Stamp {
            size,
            mtime_ns: 1,
            ino: 1,
            dev: 1,
        };
        let p = |i: u32| PathBuf::from(format!("/lib/f{i}.jpg"));
        let sum = |i: u32| sha1_bytes(&i.to_le_bytes());
        let mut x: u32 = 7;
        for step in 0..2000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let (i, size) = ((x >> 8) % 40, u64::from((x >> 16) % 3) + 1);
            match (x >> 4) % 5 {
                0 | 1 => ix.insert(p(i), size),
                2 => ix.remove(&p(i)),
                3 if ix.sizes.contains_key(&p(i)) => ix.set_sum(&p(i), stamp(size), sum(i)),
                _ => ix.forget_sum(&p(i)),
            }
            assert_eq!(ix.unhashed, unhashed_by_scan(&ix), "step {step}");
        }
    }

    fn copied<'a>(sum: &'a Checksum, name: &'a str, path: &'a Path, size: u64) -> Copied<'a> {
        Copied {
            size,
            checksum: sum,
            name,
            path,
        }
    }

    #[test]
    fn a_library_follows_the_default_folder_when_it_changes() {
        let d = tempfile::tempdir().unwrap();
        let (pics, old, new) = (
            d.path().join("Pictures"),
            d.path().join("old"),
            d.path().join("new"),
        );
        for (dir, name, bytes) in [
            (&pics, "p.jpg", b"PPPP1"),
            (&old, "o.jpg", b"OOOO1"),
            (&new, "n.jpg", b"NNNN1"),
        ] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let copy = d.path().join("copy.jpg");
        std::fs::write(&copy, b"xxxxx").unwrap();
        let find = |l: &Library, bytes: &[u8]| {
            let sum = sha1_bytes(bytes);
            l.find(copied(&sum, "c.jpg", &copy, bytes.len() as u64))
        };
        let l = Library::following_default_folder(vec![pics.clone()], old.clone(), vec![]);
        assert_eq!(find(&l, b"OOOO1"), Some(old.join("o.jpg")));
        assert_eq!(find(&l, b"NNNN1"), None);
        assert!(l.follow_default_folder(&new));
        assert!(!l.follow_default_folder(&new), "no change the second time");
        assert_eq!(find(&l, b"NNNN1"), Some(new.join("n.jpg")));
        assert_eq!(find(&l, b"OOOO1"), None, "the old folder is no library");
        assert_eq!(find(&l, b"PPPP1"), Some(pics.join("p.jpg")));
        assert_eq!(l.folders(), vec![pics.clone(), new.clone()]);
        // A file saved in the new folder afterwards is known; one saved in
        // the old folder is not.
        std::fs::write(new.join("m.jpg"), b"MMMM1").unwrap();
        std::fs::write(old.join("x.jpg"), b"XXXX1").unwrap();
        assert_eq!(find(&l, b"MMMM1"), Some(new.join("m.jpg")));
        assert_eq!(find(&l, b"XXXX1"), None);
        // Configured folders only: nothing to follow.
        let fixed = Library::new(vec![pics.clone(), old.clone()], vec![]);
        assert!(!fixed.follow_default_folder(&new));
        assert_eq!(find(&fixed, b"OOOO1"), Some(old.join("o.jpg")));
    }

    #[test]
    fn finds_the_original_by_size_then_content_never_a_same_sized_stranger() {
        let d = tempfile::tempdir().unwrap();
        let lib = d.path().join("Pictures");
        std::fs::create_dir_all(lib.join("2024/trip")).unwrap();
        std::fs::write(lib.join("2024/trip/a.jpg"), b"AAAA1").unwrap();
        std::fs::write(lib.join("2024/b.jpg"), b"BBBB2").unwrap();
        let l = Library::new(vec![lib.clone()], vec![]);
        let copy = d.path().join("copy.jpg");
        std::fs::write(&copy, b"BBBB2").unwrap();
        let sum = sha1_bytes(b"BBBB2");
        let found = l.find(copied(&sum, "renamed.jpg", &copy, 5));
        assert_eq!(found, Some(lib.join("2024/b.jpg")));
        // same size, other bytes: nothing
        let other = sha1_bytes(b"CCCC3");
        assert_eq!(l.find(copied(&other, "c.jpg", &copy, 5)), None);
    }

    #[test]
    fn an_original_hashed_once_then_edited_in_place_is_hashed_again() {
        let d = tempfile::tempdir().unwrap();
        let lib = d.path().join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("a.jpg"), b"old bytes").unwrap();
        let l = Library::new(vec![lib.clone()], vec![]);
        l.warm();
        let copy = d.path().join("copy.jpg");
        std::fs::write(&copy, b"new bytes").unwrap();
        let sum = sha1_bytes(b"new bytes");
        // hashes a.jpg (to the old bytes' checksum): no match
        assert_eq!(l.find(copied(&sum, "other.jpg", &copy, 9)), None);
        // same size, new content, under another name than the copy's
        std::fs::write(lib.join("a.jpg"), b"new bytes").unwrap();
        assert_eq!(
            l.find(copied(&sum, "other.jpg", &copy, 9)),
            Some(lib.join("a.jpg"))
        );
    }

    #[test]
    fn a_file_saved_after_the_walk_is_found_and_a_deleted_one_forgotten() {
        let d = tempfile::tempdir().unwrap();
        let lib = d.path().join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        let l = Library::new(vec![lib.clone()], vec![]);
        l.warm();
        assert!(l.is_empty());
        std::fs::create_dir_all(lib.join("new")).unwrap();
        std::fs::write(lib.join("new/x.jpg"), b"hello world").unwrap();
        let copy = d.path().join("x.jpg");
        std::fs::write(&copy, b"hello world").unwrap();
        let sum = sha1_bytes(b"hello world");
        assert_eq!(
            l.find(copied(&sum, "x.jpg", &copy, 11)),
            Some(lib.join("new/x.jpg"))
        );
        std::fs::remove_file(lib.join("new/x.jpg")).unwrap();
        assert_eq!(l.find(copied(&sum, "x.jpg", &copy, 11)), None);
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn the_copy_itself_hidden_folders_and_skipped_paths_are_never_originals() {
        let d = tempfile::tempdir().unwrap();
        let lib = d.path().join("lib");
        let mnt = lib.join("mnt");
        std::fs::create_dir_all(lib.join(".thumbnails")).unwrap();
        std::fs::create_dir_all(&mnt).unwrap();
        std::fs::write(lib.join(".thumbnails/t.jpg"), b"same").unwrap();
        std::fs::write(mnt.join("m.jpg"), b"same").unwrap();
        let copy = lib.join("copy.jpg");
        std::fs::write(&copy, b"same").unwrap();
        let l = Library::new(vec![lib.clone()], vec![mnt]);
        let sum = sha1_bytes(b"same");
        assert_eq!(l.find(copied(&sum, "copy.jpg", &copy, 4)), None);
        assert_eq!(l.len(), 1, "only the copy is indexed");
    }

    #[test]
    fn pictures_dir_follows_user_dirs() {
        let d = tempfile::tempdir().unwrap();
        let home = d.path().join("home");
        let cfg = home.join(".config");
        std::fs::create_dir_all(&cfg).unwrap();
        assert_eq!(pictures_dir(&home, &cfg), home.join("Pictures"));
        std::fs::write(
            cfg.join("user-dirs.dirs"),
            "# comment\nXDG_PICTURES_DIR=\"$HOME/Bilder\"\n",
        )
        .unwrap();
        assert_eq!(pictures_dir(&home, &cfg), home.join("Bilder"));
    }
}
