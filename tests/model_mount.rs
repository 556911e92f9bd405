//! Model-based test of the mount: seeded random sequences of file
//! operations (cp, ln, ln -s, mv within and across folders, rm, mkdir,
//! rmdir, mv of a set folder, setxattr with valid and invalid values, and
//! writes into existing entries: overwrite with O_TRUNC, append, truncate)
//! are applied to a real FUSE mount (through std::fs and libc on the
//! mounted paths) and to the reference model in `model/reference.rs`;
//! about 6% of the steps are instead changes made behind the mount's back
//! by another connection to its catalog, as a running sync makes them
//! (`Catalog::add_file`, `rename`, `unlink`, `mkdir`), after which the
//! harness waits (bounded, 10 s, on the state of the tree) for the change
//! watcher to show them. After
//! every step the size `stat` gives for every name (before any listing
//! refreshes it), the whole visible tree (names, kinds, sizes, bytes read
//! through the mount, title/tags/privacy/source attributes) must equal the
//! model, every name the model says is gone must be gone, and every backing
//! file ever created or linked must still be on disk with the bytes the
//! model says: a user's file (an `ln -s` target) with its original bytes
//! and mtime, a file the mount wrote with its latest content.
//!
//! Seeded and reproducible: a failure prints the seed and the (shrunk) op
//! list. `FLICKRFS_MODEL_SEED=N` replays one seed, `FLICKRFS_MODEL_STEPS=N`
//! sets the steps per seed, `FLICKRFS_MODEL_SEEDS=N` the number of seeds.
//! A name the model says is gone must stop resolving within 1 s of the step
//! (the mount invalidates side effects before an operation returns, except
//! in the folders the operation itself held locked, which it invalidates
//! just after; the short delays are counted).
//! `FLICKRFS_MODEL_STRICT_DCACHE=1` demands "at once" instead, and
//! `FLICKRFS_MODEL_LENIENT=1` also tolerates names never invalidated
//! (counted, then cleared with `drop_caches`) so that a long run can go on
//! past such a bug.

#[path = "common/mount.rs"]
mod harness;
#[path = "model/reference.rs"]
mod reference;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use flickrfs::catalog::{Account, AddOutcome, Catalog, CatalogError, CollectionId, EntryName};
use harness::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reference::*;

// ----- the world ----------------------------------------------------------

fn contents() -> Vec<Content> {
    let jpeg = |len, seed| Content {
        bytes: jpeg_bytes(len, seed),
        media: true,
    };
    vec![
        jpeg(700, 1),
        jpeg(1500, 2),
        jpeg(3000, 3),
        jpeg(5000, 4),
        jpeg(64 * 1024 + 3, 5),
        Content {
            bytes: b"not a photo\n".to_vec(),
            media: false,
        },
        Content {
            bytes: Vec::new(),
            media: false,
        },
        // only ever in the user's own files (two files, same bytes)
        jpeg(2222, 77),
    ]
}
/// Contents a `cp` may write (indices into `contents()`).
const CREATE_CONTENTS: usize = 7;
/// The user's files `ln -s` may point at: content index of each.
const SOURCES: [usize; 5] = [0, 2, 5, 7, 7];

struct Real {
    w: World,
    m: Option<Mounted>,
    acct: PathBuf,
    strict_dcache: bool,
    stale: Vec<String>,
    /// Names the mount never invalidated (known bug), dropped by hand.
    stuck: Vec<String>,
    /// Fail on such a name instead.
    strict_stuck: bool,
    /// alice, as the catalog has her.
    account: Account,
    /// Another connection to the mount's catalog, as a running sync has:
    /// `Op::External` changes go through it, behind the mount's back.
    sync: Catalog,
}

impl Real {
    fn new(strict_dcache: bool) -> (Real, Model) {
        let w = World::new();
        let account = w.add_alice();
        let cs = contents();
        let mut sources = Vec::new();
        for (i, &c) in SOURCES.iter().enumerate() {
            let p = w.photos.join(format!("user{i}.jpg"));
            std::fs::write(&p, &cs[c].bytes).expect("write user file");
            let p = std::fs::canonicalize(&p).expect("canonical");
            sources.push((p, c));
        }
        let mut o = w.options();
        o.poll_interval = Duration::from_millis(20);
        let m = w.mount_with(o);
        let acct = w.mnt.join("alice");
        let model = Model::new(cs, sources);
        let sync = w.catalog();
        (
            Real {
                account,
                sync,
                w,
                m: Some(m),
                acct,
                strict_dcache,
                stale: Vec::new(),
                stuck: Vec::new(),
                strict_stuck: false,
            },
            model,
        )
    }

    fn dir(&self, f: Folder) -> PathBuf {
        match f {
            Folder::Root => self.acct.clone(),
            Folder::Set(i) => self.acct.join(SETS[i]),
        }
    }

    /// The collection of `f`, as the other connection finds it (None: no
    /// such set).
    fn collection(&self, f: Folder) -> Option<CollectionId> {
        match f {
            Folder::Root => Some(self.account.root),
            Folder::Set(i) => self
                .sync
                .lookup_set(self.account.id, &EntryName::new(SETS[i]).expect("set name"))
                .expect("lookup_set")
                .map(|c| c.id),
        }
    }

    /// Makes the change `e` through the other catalog connection, the very
    /// call the mount makes for `e.as_op()` (`ln -s`: `add_file`, whose
    /// `AlreadyInSets` the mount answers with `EEXIST`). `Err(None)`: not
    /// attempted, a folder it names does not exist; `Err(Some(errno))`:
    /// the catalog refused.
    fn apply_external(&self, e: Ext, model: &Model) -> Result<(), Option<i32>> {
        let name = |i: usize| EntryName::new(NAMES[i]).expect("entry name");
        let coll = |f: Folder| self.collection(f).ok_or(None);
        let refused = |e: CatalogError| Some(e.errno());
        match e {
            Ext::AddFile {
                dir,
                name: n,
                source,
            } => {
                let c = coll(dir)?;
                match self
                    .sync
                    .add_file(c, &name(n), &model.sources[source].0, None)
                    .map_err(refused)?
                {
                    AddOutcome::AlreadyInSets { .. } => Err(Some(libc::EEXIST)),
                    AddOutcome::NewPhoto(_) | AddOutcome::SamePhoto(_) => Ok(()),
                }
            }
            Ext::Rename {
                from,
                name: n,
                to,
                to_name,
            } => {
                let (s, d) = (coll(from)?, coll(to)?);
                self.sync
                    .rename(s, &name(n), d, &name(to_name))
                    .map(|_| ())
                    .map_err(refused)
            }
            Ext::Unlink { dir, name: n } => {
                let c = coll(dir)?;
                self.sync.unlink(c, &name(n)).map(|_| ()).map_err(refused)
            }
            Ext::Mkdir { set } => self
                .sync
                .mkdir(
                    self.account.id,
                    &EntryName::new(SETS[set]).expect("set name"),
                )
                .map(|_| ())
                .map_err(refused),
        }
    }

    fn default_files(&self) -> BTreeSet<PathBuf> {
        match std::fs::read_dir(&self.w.default_folder) {
            Ok(rd) => rd.flatten().map(|e| e.path()).collect(),
            Err(_) => BTreeSet::new(),
        }
    }

    /// Runs `op` on the mount (`model`: the state before it); the errno it
    /// failed with, if any.
    fn apply(&self, op: Op, model: &Model) -> Result<(), i32> {
        let en = |r: std::io::Result<()>| r.map_err(|e| e.raw_os_error().unwrap_or(-1));
        match op {
            Op::Create { dir, name, content } => {
                let p = self.dir(dir).join(NAMES[name]);
                en((|| {
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&p)?;
                    f.write_all(&model.contents[content].bytes)?;
                    f.flush()?;
                    drop(f);
                    Ok(())
                })())
            }
            Op::Symlink { dir, name, source } => en(std::os::unix::fs::symlink(
                &model.sources[source].0,
                self.dir(dir).join(NAMES[name]),
            )),
            Op::Link {
                from,
                name,
                to,
                to_name,
            } => en(std::fs::hard_link(
                self.dir(from).join(NAMES[name]),
                self.dir(to).join(NAMES[to_name]),
            )),
            Op::Rename {
                from,
                name,
                to,
                to_name,
            } => en(std::fs::rename(
                self.dir(from).join(NAMES[name]),
                self.dir(to).join(NAMES[to_name]),
            )),
            Op::Unlink { dir, name } => en(std::fs::remove_file(self.dir(dir).join(NAMES[name]))),
            Op::Mkdir { set } => en(std::fs::create_dir(self.acct.join(SETS[set]))),
            Op::Rmdir { set } => en(std::fs::remove_dir(self.acct.join(SETS[set]))),
            Op::RenameSet { set, to } => en(std::fs::rename(
                self.acct.join(SETS[set]),
                self.acct.join(SETS[to]),
            )),
            Op::SetXattr {
                dir,
                name,
                attr,
                value,
            } => setx(
                &self.dir(dir).join(NAMES[name]),
                attr.name(),
                attr.values()[value].as_bytes(),
            ),
            Op::Overwrite { dir, name, content } => {
                let p = self.dir(dir).join(NAMES[name]);
                en((|| {
                    let mut f = std::fs::OpenOptions::new()
                        .write(true)
                        .truncate(true)
                        .open(&p)?;
                    f.write_all(&model.contents[content].bytes)?;
                    f.flush()?;
                    drop(f);
                    Ok(())
                })())
            }
            Op::Append { dir, name, tail } => {
                let p = self.dir(dir).join(NAMES[name]);
                en((|| {
                    let mut f = std::fs::OpenOptions::new().append(true).open(&p)?;
                    f.write_all(TAILS[tail])?;
                    f.flush()?;
                    drop(f);
                    Ok(())
                })())
            }
            Op::Truncate {
                dir,
                name,
                quarters,
            } => {
                let len = truncated_len(model.bytes_of(dir, NAMES[name]).len(), quarters);
                let cp = cpath(&self.dir(dir).join(NAMES[name]));
                // SAFETY: a valid C string.
                if unsafe { libc::truncate(cp.as_ptr(), len as libc::off_t) } < 0 {
                    return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1));
                }
                Ok(())
            }
            Op::External(_) => unreachable!("run_with makes external changes itself"),
        }
    }

    /// Every entry of the model: its path in the mount and its photo.
    fn entry_paths(&self, model: &Model) -> Vec<(PathBuf, Pid)> {
        let mut all: Vec<(PathBuf, Pid)> = model
            .root
            .iter()
            .map(|(n, &p)| (self.acct.join(n), p))
            .collect();
        for (&i, m) in &model.sets {
            for (n, &p) in m {
                all.push((self.acct.join(SETS[i]).join(n), p));
            }
        }
        all
    }

    /// The whole visible tree against the model.
    fn check(
        &mut self,
        model: &Model,
        keep: &BTreeMap<PathBuf, usize>,
        sources: &BTreeMap<PathBuf, SystemTime>,
    ) -> Result<(), String> {
        // first `stat` every name, before any listing refreshes the
        // kernel's attributes (readdirplus): right after an operation the
        // sizes the kernel holds must already be the model's
        for (path, pid) in self.entry_paths(model) {
            let want = model.contents[model.photos[&pid].content].bytes.len() as u64;
            if let Ok(md) = std::fs::symlink_metadata(&path) {
                if md.is_file() && md.len() != want {
                    return Err(format!(
                        "{}: size {} through the mount before any listing, model {want}",
                        rel(&path),
                        md.len()
                    ));
                }
            }
        }
        // the account folder: Pools, the sets, the root entries
        let mut want: BTreeMap<String, &str> = BTreeMap::new();
        want.insert("Pools".into(), "dir");
        for &i in model.sets.keys() {
            want.insert(SETS[i].into(), "dir");
        }
        for n in model.root.keys() {
            want.insert(n.clone(), "file");
        }
        let got = listing(&self.acct)?;
        if got != want {
            return Err(format!("account folder lists {got:?}, model {want:?}"));
        }
        for &i in model.sets.keys() {
            let d = self.acct.join(SETS[i]);
            let want: BTreeMap<String, &str> =
                model.sets[&i].keys().map(|n| (n.clone(), "file")).collect();
            let got = listing(&d)?;
            if got != want {
                return Err(format!("{} lists {got:?}, model {want:?}", SETS[i]));
            }
        }
        // every entry: a plain file with the photo's bytes and attributes
        for (path, pid) in self.entry_paths(model) {
            let ph = &model.photos[&pid];
            let bytes = &model.contents[ph.content].bytes;
            let md = std::fs::symlink_metadata(&path)
                .map_err(|e| format!("lstat {}: {e}", rel(&path)))?;
            if !md.file_type().is_file() {
                return Err(format!(
                    "{} is {:?}, not a plain file",
                    rel(&path),
                    md.file_type()
                ));
            }
            if md.len() != bytes.len() as u64 {
                return Err(format!(
                    "{}: size {} through the mount, model {}",
                    rel(&path),
                    md.len(),
                    bytes.len()
                ));
            }
            let read = std::fs::read(&path).map_err(|e| format!("read {}: {e}", rel(&path)))?;
            if &read != bytes {
                return Err(format!(
                    "{}: bytes read through the mount differ from content #{} ({} vs {} bytes)",
                    rel(&path),
                    ph.content,
                    read.len(),
                    bytes.len()
                ));
            }
            let want_title = Some(ph.title.clone());
            let checks: [(&str, Option<String>); 4] = [
                ("user.flickr.title", want_title),
                ("user.flickr.tags", ph.tags.clone()),
                ("user.flickr.privacy", ph.privacy.clone()),
                (
                    "user.flickrfs.source",
                    ph.path.as_ref().map(|p| p.to_string_lossy().into_owned()),
                ),
            ];
            for (attr, want) in checks {
                let got = getx(&path, attr);
                let ok = match (&got, &want) {
                    (Ok(v), Some(w)) => v == w.as_bytes(),
                    (Err(e), None) => *e == libc::ENODATA,
                    _ => false,
                };
                if !ok {
                    return Err(format!(
                        "{}: {attr} is {:?}, model {want:?}",
                        rel(&path),
                        got.map(|v| String::from_utf8_lossy(&v).into_owned())
                    ));
                }
            }
        }
        // names the model says are absent must be absent (stale dentries)
        let mut folders: Vec<(Folder, PathBuf)> = vec![(Folder::Root, self.acct.clone())];
        for (i, name) in SETS.iter().enumerate() {
            folders.push((Folder::Set(i), self.acct.join(name)));
        }
        for (f, dir) in &folders {
            if !model.folder_exists(*f) {
                // a missing set folder is gone, unless a file has its name
                if let Folder::Set(i) = f {
                    if !model.root.contains_key(SETS[*i]) {
                        self.expect_gone(dir)?;
                    }
                }
                continue;
            }
            let entries = model.entries(*f).expect("exists");
            for n in &model.seen_names {
                if entries.contains_key(n) || model.is_dir_name(*f, n) {
                    continue;
                }
                self.expect_gone(&dir.join(n))?;
            }
        }
        // the disk: every backing file ever created or linked still there
        // with the bytes the model says (a user's file: the bytes it always
        // had, and its mtime); nothing left behind in the default folder
        for (p, &c) in keep {
            let want = &model.contents[c].bytes;
            match std::fs::read(p) {
                Ok(b) if b == *want => {}
                Ok(b) => {
                    return Err(format!(
                        "backing file {} changed: {} bytes, model {} (content #{c})",
                        p.display(),
                        b.len(),
                        want.len()
                    ))
                }
                Err(e) => return Err(format!("backing file {} is gone: {e}", p.display())),
            }
        }
        for (p, t) in sources {
            if mtime_of(p) != *t {
                return Err(format!(
                    "backing file {} changed: its mtime moved",
                    p.display()
                ));
            }
        }
        let on_disk = self.default_files();
        let kept: BTreeSet<PathBuf> = keep
            .keys()
            .filter(|p| p.starts_with(&self.w.default_folder))
            .cloned()
            .collect();
        if on_disk != kept {
            return Err(format!(
                "default folder holds {:?}, expected {:?}",
                on_disk, kept
            ));
        }
        Ok(())
    }

    fn expect_gone(&mut self, p: &Path) -> Result<(), String> {
        if std::fs::symlink_metadata(p).is_err() {
            return Ok(());
        }
        if self.strict_dcache {
            return Err(format!("{} still resolves (model: gone)", rel(p)));
        }
        let t = Instant::now();
        if eventually(Duration::from_secs(1), || {
            std::fs::symlink_metadata(p).is_err()
        }) {
            self.stale.push(format!(
                "{} resolved for {:?} after it was gone",
                rel(p),
                t.elapsed()
            ));
            return Ok(());
        }
        // A name never invalidated (as in `stale_name_after_moving_*` before
        // it was fixed). Unless lenient, fail; else count it and make the
        // kernel forget its unused dentries so later steps are not skewed.
        if self.strict_stuck {
            return Err(format!(
                "{} still resolves 1 s after the model says it is gone",
                rel(p)
            ));
        }
        let _ = std::fs::write("/proc/sys/vm/drop_caches", b"2");
        if std::fs::symlink_metadata(p).is_ok() {
            return Err(format!(
                "{} still resolves after the model says it is gone, even after drop_caches",
                rel(p)
            ));
        }
        self.stuck.push(rel(p));
        Ok(())
    }
}

impl Drop for Real {
    fn drop(&mut self) {
        drop(self.m.take());
    }
}

fn mtime_of(p: &Path) -> SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

fn rel(p: &Path) -> String {
    let s = p.to_string_lossy();
    match s.find("/mnt/") {
        Some(i) => s[i + 5..].to_string(),
        None => s.into_owned(),
    }
}

fn listing(d: &Path) -> Result<BTreeMap<String, &'static str>, String> {
    let rd = std::fs::read_dir(d).map_err(|e| format!("readdir {}: {e}", rel(d)))?;
    let mut out = BTreeMap::new();
    for e in rd {
        let e = e.map_err(|e| format!("readdir {}: {e}", rel(d)))?;
        let ft = e
            .file_type()
            .map_err(|e| format!("file type in {}: {e}", rel(d)))?;
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_file() {
            "file"
        } else if ft.is_symlink() {
            "symlink"
        } else {
            "other"
        };
        out.insert(e.file_name().to_string_lossy().into_owned(), kind);
    }
    Ok(out)
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("no NUL in test paths")
}

fn getx(p: &Path, name: &str) -> Result<Vec<u8>, i32> {
    let (cp, cn) = (cpath(p), CString::new(name).expect("attr name"));
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid C strings and a buffer of the given length.
    let n = unsafe { libc::getxattr(cp.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1));
    }
    buf.truncate(n as usize);
    Ok(buf)
}

fn setx(p: &Path, name: &str, value: &[u8]) -> Result<(), i32> {
    let (cp, cn) = (cpath(p), CString::new(name).expect("attr name"));
    // SAFETY: valid C strings and a value buffer of the given length.
    let r = unsafe {
        libc::setxattr(
            cp.as_ptr(),
            cn.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1));
    }
    Ok(())
}

// ----- generation ---------------------------------------------------------

fn pick_folder(rng: &mut StdRng, m: &Model) -> Folder {
    let existing: Vec<usize> = m.sets.keys().copied().collect();
    match rng.random_range(0..10) {
        0..=2 => Folder::Root,
        3..=8 if !existing.is_empty() => Folder::Set(existing[rng.random_range(0..existing.len())]),
        _ => Folder::Set(rng.random_range(0..SETS.len())),
    }
}

/// An existing (folder, name) most of the time, else anything.
fn pick_entry(rng: &mut StdRng, m: &Model) -> (Folder, usize) {
    let mut have: Vec<(Folder, usize)> = Vec::new();
    for (i, n) in NAMES.iter().enumerate() {
        if m.root.contains_key(*n) {
            have.push((Folder::Root, i));
        }
        for (&s, e) in &m.sets {
            if e.contains_key(*n) {
                have.push((Folder::Set(s), i));
            }
        }
    }
    if !have.is_empty() && rng.random_bool(0.85) {
        have[rng.random_range(0..have.len())]
    } else {
        (pick_folder(rng, m), rng.random_range(0..NAMES.len()))
    }
}

/// An entry to write into: a third of the time, when there is one, an
/// entry still referring to a user's file (copy-on-write is the rarer case).
fn pick_write_target(rng: &mut StdRng, m: &Model) -> (Folder, usize) {
    let borrowed: Vec<(Folder, usize)> = NAMES
        .iter()
        .enumerate()
        .flat_map(|(i, n)| {
            let mut v = Vec::new();
            if m.root.contains_key(*n) {
                v.push((Folder::Root, i));
            }
            for (&s, e) in &m.sets {
                if e.contains_key(*n) {
                    v.push((Folder::Set(s), i));
                }
            }
            v
        })
        .filter(|&(f, i)| {
            let p = m.entries(f).expect("listed folder")[NAMES[i]];
            let path = m.photos[&p].path.as_ref();
            path.is_some_and(|path| m.sources.iter().any(|(s, _)| s == path))
        })
        .collect();
    if !borrowed.is_empty() && rng.random_bool(0.33) {
        borrowed[rng.random_range(0..borrowed.len())]
    } else {
        pick_entry(rng, m)
    }
}

fn gen_op(rng: &mut StdRng, m: &Model) -> Op {
    let name = |rng: &mut StdRng| rng.random_range(0..NAMES.len());
    let set = |rng: &mut StdRng| rng.random_range(0..SETS.len());
    match rng.random_range(0..128) {
        0..=21 => Op::Create {
            dir: pick_folder(rng, m),
            name: name(rng),
            content: rng.random_range(0..CREATE_CONTENTS),
        },
        22..=29 => Op::Symlink {
            dir: pick_folder(rng, m),
            name: name(rng),
            source: rng.random_range(0..SOURCES.len()),
        },
        30..=41 => {
            let (from, n) = pick_entry(rng, m);
            Op::Link {
                from,
                name: n,
                to: pick_folder(rng, m),
                to_name: name(rng),
            }
        }
        42..=61 => {
            let (from, n) = pick_entry(rng, m);
            Op::Rename {
                from,
                name: n,
                to: pick_folder(rng, m),
                to_name: name(rng),
            }
        }
        62..=73 => {
            let (dir, n) = pick_entry(rng, m);
            Op::Unlink { dir, name: n }
        }
        74..=80 => Op::Mkdir { set: set(rng) },
        81..=84 => Op::Rmdir { set: set(rng) },
        85..=87 => Op::RenameSet {
            set: set(rng),
            to: set(rng),
        },
        100..=109 => {
            let (dir, n) = pick_write_target(rng, m);
            Op::Overwrite {
                dir,
                name: n,
                content: rng.random_range(0..CREATE_CONTENTS),
            }
        }
        110..=114 => {
            let (dir, n) = pick_write_target(rng, m);
            Op::Append {
                dir,
                name: n,
                tail: rng.random_range(0..TAILS.len()),
            }
        }
        115..=119 => {
            let (dir, n) = pick_write_target(rng, m);
            Op::Truncate {
                dir,
                name: n,
                quarters: rng.random_range(0..=4),
            }
        }
        // about 6% of the steps: a change by another catalog connection
        120..=127 => Op::External(match rng.random_range(0..10) {
            0..=2 => Ext::AddFile {
                dir: pick_folder(rng, m),
                name: name(rng),
                source: rng.random_range(0..SOURCES.len()),
            },
            3..=6 => {
                let (from, n) = pick_entry(rng, m);
                Ext::Rename {
                    from,
                    name: n,
                    to: pick_folder(rng, m),
                    to_name: name(rng),
                }
            }
            7..=8 => {
                let (dir, n) = pick_entry(rng, m);
                Ext::Unlink { dir, name: n }
            }
            _ => Ext::Mkdir { set: set(rng) },
        }),
        _ => {
            let (dir, n) = pick_entry(rng, m);
            let attr = match rng.random_range(0..3) {
                0 => Attr::Title,
                1 => Attr::Tags,
                _ => Attr::Privacy,
            };
            Op::SetXattr {
                dir,
                name: n,
                attr,
                value: rng.random_range(0..attr.values().len()),
            }
        }
    }
}

/// The op list of one seed (generated against the model alone).
fn generate(seed: u64, steps: usize) -> Vec<Op> {
    let mut rng = StdRng::seed_from_u64(seed);
    let cs = contents();
    let sources = SOURCES
        .iter()
        .enumerate()
        .map(|(i, &c)| (PathBuf::from(format!("/user{i}")), c))
        .collect();
    let mut m = Model::new(cs, sources);
    let mut ops = Vec::with_capacity(steps);
    for _ in 0..steps {
        let op = gen_op(&mut rng, &m);
        let _ = m.apply(op);
        ops.push(op);
    }
    ops
}

// ----- running --------------------------------------------------------------

#[derive(Debug)]
struct Failure {
    step: usize,
    /// What kind of mismatch (shrinking keeps failures of the same kind).
    kind: &'static str,
    message: String,
}

#[derive(Debug, Default)]
struct Stats {
    ok: usize,
    errors: usize,
    skipped: usize,
    /// Writes into existing entries (overwrite, append, truncate) that
    /// succeeded: changed in place, copied first, merged at close.
    in_place: usize,
    copied: usize,
    merged: usize,
    stale: Vec<String>,
    stuck: Vec<String>,
    /// Changes made by another catalog connection (`Op::External`) that
    /// succeeded, and the longest wait for the mount to show one.
    external: usize,
    external_wait_max: Duration,
}

/// How long the mount may take to show a change another connection made
/// (its change watcher polls every 20 ms in this test): generous, so that
/// only a change never shown fails, not a slow machine.
const EXTERNAL_WAIT: Duration = Duration::from_secs(10);

/// Runs `ops` on a fresh mount and model, checking after every step;
/// strict about stale names unless `FLICKRFS_MODEL_LENIENT=1`.
fn run(ops: &[Op]) -> Result<Stats, Failure> {
    run_with(
        ops,
        !std::env::var("FLICKRFS_MODEL_LENIENT").is_ok_and(|v| v == "1"),
    )
}

/// [`run`]; `strict` fails on a name the mount never invalidates.
fn run_with(ops: &[Op], strict: bool) -> Result<Stats, Failure> {
    // A name that left in a folder the operation held locked is dropped
    // from the kernel's cache just after the call returns (SEMANTICS.md,
    // cache coherence), so "gone at once" is opt-in; "gone within 1 s"
    // (strict_stuck) is always checked.
    let strict_dcache =
        strict && std::env::var("FLICKRFS_MODEL_STRICT_DCACHE").is_ok_and(|v| v == "1");
    let (mut real, mut model) = Real::new(strict_dcache);
    real.strict_stuck = strict;
    let mut keep: BTreeMap<PathBuf, usize> =
        model.sources.iter().map(|(p, c)| (p.clone(), *c)).collect();
    // the user's files: bytes and mtime must never change
    let sources: BTreeMap<PathBuf, SystemTime> = model
        .sources
        .iter()
        .map(|(p, _)| (p.clone(), mtime_of(p)))
        .collect();
    let mut stats = Stats::default();
    for (step, &op) in ops.iter().enumerate() {
        let fail = |message: String| Failure {
            step,
            kind: classify(&message),
            message,
        };
        if model.skips(op) {
            stats.skipped += 1;
            continue;
        }
        let before = real.default_files();
        let mut external_done = false;
        let want = if let Op::External(e) = op {
            // another connection changes the catalog: a refusal is only
            // checked to be one (`Err(None)`: a folder it names is missing,
            // nothing to call)
            let got = real.apply_external(e, &model);
            let want = model.apply(op);
            match (&want, &got) {
                (Ok(_), Ok(())) => {
                    stats.ok += 1;
                    stats.external += 1;
                    external_done = true;
                }
                (Err(_), Err(_)) => stats.errors += 1,
                _ => {
                    return Err(fail(format!(
                        "{op:?}: catalog answered {}, model {}",
                        match got {
                            Ok(()) => "Ok".to_string(),
                            Err(None) => "(not attempted: no such folder)".to_string(),
                            Err(Some(e)) => show(Err(e)),
                        },
                        show(want.map(|_| ()))
                    )))
                }
            }
            want
        } else {
            let got = real.apply(op, &model);
            let want = model.apply(op);
            match (&want, &got) {
                (Ok(_), Ok(())) => stats.ok += 1,
                (Err(w), Err(g)) if w == g => stats.errors += 1,
                _ => {
                    return Err(fail(format!(
                        "{op:?}: mount answered {}, model {}",
                        show(got.map(|_| ())),
                        show(want.map(|_| ()))
                    )))
                }
            }
            want
        };
        let after = real.default_files();
        let mut new: Vec<PathBuf> = after.difference(&before).cloned().collect();
        let effect = want.unwrap_or_default();
        let mut renamed_to: Option<PathBuf> = None;
        if let Some((pid, from, wanted)) = &effect.file_renamed {
            // the mount's file now has the first free name made from the
            // entry's name (`io::create_unique`'s candidates)
            let names: BTreeSet<String> = before
                .iter()
                .filter(|p| *p != from && Some(*p) != effect.released.as_ref())
                .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
                .collect();
            let expected = unique_name(&names, wanted);
            let to = real.w.default_folder.join(&expected);
            if after.contains(from) || !after.contains(&to) {
                return Err(fail(format!(
                    "{op:?}: expected the mount's file {} renamed to {expected:?}; new files {new:?}",
                    from.display()
                )));
            }
            new.retain(|p| *p != to);
            renamed_to = Some(to.clone());
            let c = keep.remove(from).expect("model: a renamed file was kept");
            keep.insert(to.clone(), c);
            if let Some(ph) = model.photos.get_mut(pid) {
                ph.path = Some(to);
            }
        }
        if let Some(old) = &effect.released {
            // the replaced version's file, the mount's own: gone (its name
            // may have gone to the renamed file)
            if renamed_to.as_ref() != Some(old) {
                if after.contains(old) {
                    return Err(fail(format!(
                        "{op:?}: the replaced version {} is left in the default folder",
                        old.display()
                    )));
                }
                keep.remove(old);
            }
        }
        if matches!(
            op,
            Op::Overwrite { .. } | Op::Append { .. } | Op::Truncate { .. }
        ) {
            stats.in_place += usize::from(effect.rewritten.is_some());
            // a copy merged at close was removed again: a copy all the same
            stats.copied += usize::from(
                effect.new_file.is_some()
                    || (effect.merged_into.is_some() && effect.rewritten.is_none()),
            );
            stats.merged += usize::from(effect.merged_into.is_some());
        }
        match effect.new_file {
            Some((pid, c)) => {
                if new.len() != 1 {
                    return Err(fail(format!(
                        "{op:?}: expected one new backing file, found {new:?}"
                    )));
                }
                let p = new[0].clone();
                keep.insert(p.clone(), c);
                if let Some(ph) = model.photos.get_mut(&pid) {
                    ph.path = Some(p);
                }
            }
            None => {
                if !new.is_empty() {
                    return Err(fail(format!(
                        "{op:?}: expected no new backing file, found {new:?}"
                    )));
                }
            }
        }
        if let Some((path, c)) = effect.rewritten {
            // only a file the mount wrote is ever changed in place
            assert!(
                keep.contains_key(&path) && !sources.contains_key(&path),
                "model: {op:?} rewrites {} in place, not a file the mount wrote",
                path.display()
            );
            keep.insert(path, c);
        }
        if let Some(ph) = model.photos.values().find(|p| p.path.is_none()) {
            return Err(fail(format!("model photo without a path: {ph:?}")));
        }
        if external_done {
            // The mount learns of the change through its change watcher
            // (SEMANTICS.md "Cache coherence"): wait, bounded, until the
            // whole tree agrees with the model (a state, not a delay), then
            // compare once more below and fail with what still differs.
            let t = Instant::now();
            let caught_up = eventually(EXTERNAL_WAIT, || {
                real.check(&model, &keep, &sources).is_ok()
            });
            let waited = t.elapsed();
            stats.external_wait_max = stats.external_wait_max.max(waited);
            if !caught_up {
                real.check(&model, &keep, &sources).map_err(|m| {
                    fail(format!(
                        "after {op:?}, {waited:?} for the change watcher: {m}"
                    ))
                })?;
            }
        }
        real.check(&model, &keep, &sources)
            .map_err(|m| fail(format!("after {op:?}: {m}")))?;
    }
    stats.stale = std::mem::take(&mut real.stale);
    stats.stuck = std::mem::take(&mut real.stuck);
    Ok(stats)
}

/// The first of `name`, `stem (1).ext`, `stem (2).ext`... not in `taken`.
fn unique_name(taken: &BTreeSet<String>, name: &str) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    std::iter::once(name.to_owned())
        .chain((1..).map(|n| format!("{stem} ({n}){ext}")))
        .find(|n| !taken.contains(n))
        .expect("a free name")
}

/// The kind of a mismatch, from its message.
fn classify(m: &str) -> &'static str {
    const KINDS: [(&str, &str); 9] = [
        ("mount answered", "errno"),
        ("new backing file", "new-file"),
        ("still resolves", "stale-name"),
        (" lists ", "listing"),
        ("bytes read", "bytes"),
        (": size ", "size"),
        ("user.flickr", "xattr"),
        ("not a plain file", "kind"),
        ("lstat ", "lstat"),
    ];
    KINDS
        .iter()
        .find(|(k, _)| m.contains(k))
        .map_or("disk", |(_, v)| v)
}

fn show(r: Result<(), i32>) -> String {
    match r {
        Ok(()) => "Ok".into(),
        Err(e) => format!("{} ({e})", std::io::Error::from_raw_os_error(e)),
    }
}

/// Delta debugging (ddmin) over the op list, with a budget; keeps lists
/// that still fail.
fn shrink(ops: Vec<Op>, kind: &str, budget: Duration) -> Vec<Op> {
    let start = Instant::now();
    let fails = |ops: &[Op]| run(ops).err().is_some_and(|f| f.kind == kind);
    let mut cur = ops;
    let mut n = 2usize;
    while cur.len() >= 2 && start.elapsed() < budget {
        let chunk = cur.len().div_ceil(n);
        let mut reduced = false;
        let parts = n;
        for i in 0..parts {
            if start.elapsed() >= budget {
                break;
            }
            let lo = i * chunk;
            if lo >= cur.len() {
                break;
            }
            let hi = (lo + chunk).min(cur.len());
            let candidate: Vec<Op> = cur[..lo].iter().chain(&cur[hi..]).copied().collect();
            if !candidate.is_empty() && fails(&candidate) {
                cur = candidate;
                n = (n - 1).max(2);
                reduced = true;
                break;
            }
        }
        if !reduced {
            if n >= cur.len() {
                break;
            }
            n = (n * 2).min(cur.len());
        }
    }
    cur
}

fn env_usize(k: &str) -> Option<usize> {
    std::env::var(k).ok().and_then(|v| v.parse().ok())
}

fn check_seed(seed: u64, steps: usize) -> Stats {
    let ops = generate(seed, steps);
    match run(&ops) {
        Ok(stats) => stats,
        Err(f) => {
            let upto = ops[..=f.step.min(ops.len() - 1)].to_vec();
            eprintln!(
                "model test failed: seed {seed} (FLICKRFS_MODEL_SEED={seed} FLICKRFS_MODEL_STEPS={steps}), step {}: {}",
                f.step, f.message
            );
            let budget =
                Duration::from_secs(env_usize("FLICKRFS_MODEL_SHRINK_SECS").unwrap_or(120) as u64);
            let small = shrink(upto, f.kind, budget);
            let again = run(&small).err();
            let list: Vec<String> = small.iter().map(|o| format!("    {o:?},")).collect();
            panic!(
                "seed {seed}: {}\nshrunk to {} ops, failing with: {}\nops:\n{}",
                f.message,
                small.len(),
                again.map_or("(no longer fails)".into(), |f| format!(
                    "step {}: {}",
                    f.step, f.message
                )),
                list.join("\n")
            );
        }
    }
}

#[test]
fn random_operations_match_the_model() {
    let steps = env_usize("FLICKRFS_MODEL_STEPS").unwrap_or(400);
    let seeds: Vec<u64> = match std::env::var("FLICKRFS_MODEL_SEED") {
        Ok(s) => vec![s.parse().expect("FLICKRFS_MODEL_SEED is a number")],
        Err(_) => (1..=env_usize("FLICKRFS_MODEL_SEEDS").unwrap_or(6) as u64).collect(),
    };
    let t = Instant::now();
    let mut total = Stats::default();
    for seed in seeds {
        let s = check_seed(seed, steps);
        total.ok += s.ok;
        total.errors += s.errors;
        total.skipped += s.skipped;
        total.in_place += s.in_place;
        total.copied += s.copied;
        total.merged += s.merged;
        total.stale.extend(s.stale);
        total.stuck.extend(s.stuck);
        total.external += s.external;
        total.external_wait_max = total.external_wait_max.max(s.external_wait_max);
    }
    eprintln!(
        "model: {} ops succeeded, {} failed as the model said, {} skipped, {} stale dentries, in {:?}",
        total.ok,
        total.errors,
        total.skipped,
        total.stale.len(),
        t.elapsed()
    );
    eprintln!(
        "model: writes into existing entries: {} in place, {} copied first (copy-on-write), {} merged at close",
        total.in_place, total.copied, total.merged
    );
    eprintln!(
        "model: {} changes made by another catalog connection, shown by the mount after at most {:?}",
        total.external, total.external_wait_max
    );
    for s in total.stale.iter().take(5) {
        eprintln!("  stale for a while: {s}");
    }
    eprintln!(
        "model: {} names never invalidated by the mount (tolerated only with FLICKRFS_MODEL_LENIENT=1)",
        total.stuck.len()
    );
    for s in total.stuck.iter().take(5) {
        eprintln!("  never invalidated: {s}");
    }
}

// ----- named regressions (shrunk failures) --------------------------------

/// Shrunk from seed 2: a photo with two names in one set folder (a copy of
/// the same bytes); moving one name to the account folder takes the photo
/// out of the set, and the other name must stop resolving at once. (Before
/// fsmount 36fa0c2 it kept resolving for the whole entry timeout, 1 h: the
/// shared inode was re-keyed to the root and never invalidated.)
#[test]
fn stale_name_after_moving_one_of_two_names_to_the_account_folder() {
    let ops = [
        Op::Mkdir { set: 0 },
        Op::Create {
            dir: Folder::Set(0),
            name: 0,
            content: 0,
        },
        Op::Create {
            dir: Folder::Set(0),
            name: 2,
            content: 0,
        },
        Op::Rename {
            from: Folder::Set(0),
            name: 2,
            to: Folder::Root,
            to_name: 1,
        },
    ];
    // strict: a name that resolves after the model says it is gone fails
    let r = run_with(&ops, true);
    assert!(r.is_ok(), "{r:?}");
}

/// Replays of earlier shrunk failures that must keep passing.
#[test]
fn regression_rename_into_own_parent_and_paths_through_a_file() {
    // mv alice/a.jpg/Trip\ 2.jpg alice/a.jpg: the target is the source's
    // own folder (ENOTEMPTY from the kernel's rename lock)
    let ops = [
        Op::Mkdir { set: 3 },
        Op::Create {
            dir: Folder::Set(3),
            name: 6,
            content: 3,
        },
        Op::Rename {
            from: Folder::Set(3),
            name: 6,
            to: Folder::Root,
            to_name: 0,
        },
        // alice/a.jpg is now... still the set; unlink through it
        Op::Unlink {
            dir: Folder::Set(3),
            name: 6,
        },
        Op::Rmdir { set: 3 },
        // alice/a.jpg a file: paths through it are ENOTDIR
        Op::Create {
            dir: Folder::Root,
            name: 0,
            content: 1,
        },
        Op::Create {
            dir: Folder::Set(3),
            name: 1,
            content: 2,
        },
    ];
    let r = run(&ops);
    assert!(r.is_ok(), "{r:?}");
}

/// Shrunk from seed 2 once the generator also wrote into entries: `ln`
/// of a set folder (`alice/a.jpg/`) into a missing folder is `ENOENT`, onto
/// a taken name `EEXIST`: the kernel resolves the new path before
/// `vfs_link` refuses a directory (`EPERM`). The model answered `EPERM`
/// first.
#[test]
fn regression_link_of_a_set_folder_resolves_the_destination_first() {
    use Folder::*;
    let ops = [
        Op::Mkdir { set: 3 },
        Op::Link {
            from: Root,
            name: 0,
            to: Set(1),
            to_name: 5,
        },
        Op::Mkdir { set: 1 },
        Op::Create {
            dir: Set(1),
            name: 5,
            content: 0,
        },
        Op::Link {
            from: Root,
            name: 0,
            to: Set(1),
            to_name: 5,
        },
        Op::Link {
            from: Root,
            name: 0,
            to: Set(1),
            to_name: 1,
        },
    ];
    let r = run(&ops);
    assert!(r.is_ok(), "{r:?}");
}

/// Shrunk from seed 12 of the same generator (20 seeds):
/// `mv alice/S2/missing alice/a.jpg/c.png` with `alice/a.jpg` a file is
/// `ENOTDIR`: rename(2) resolves both parent folders before it looks the
/// source up. The model answered `ENOENT`.
#[test]
fn regression_rename_resolves_both_folders_before_the_source() {
    use Folder::*;
    let ops = [
        Op::Mkdir { set: 1 },
        Op::Create {
            dir: Root,
            name: 0,
            content: 0,
        },
        Op::Rename {
            from: Set(1),
            name: 4,
            to: Set(3),
            to_name: 2,
        },
    ];
    let r = run(&ops);
    assert!(r.is_ok(), "{r:?}");
}

/// Writes into existing entries, one case of each rule (the random run
/// reaches them too, but not on every seed): an own file changed in place
/// is seen through the photo's names in other folders; a user's file is
/// copied at the first change and never changes; a merge at close keeps
/// the oldest photo; written bytes equal to those of a photo in sets make
/// an account-folder entry vanish.
#[test]
fn writes_into_existing_entries() {
    use Folder::*;
    let ops = [
        Op::Mkdir { set: 0 },
        Op::Mkdir { set: 1 },
        // an own file with names in two sets, changed through each
        Op::Create {
            dir: Set(0),
            name: 0,
            content: 0,
        },
        Op::Link {
            from: Set(0),
            name: 0,
            to: Set(1),
            to_name: 1,
        },
        Op::Overwrite {
            dir: Set(0),
            name: 0,
            content: 3,
        },
        Op::Append {
            dir: Set(1),
            name: 1,
            tail: 1,
        },
        Op::Truncate {
            dir: Set(0),
            name: 0,
            quarters: 1,
        },
        // one user's file under two junk names (two photos, no merge):
        // writing through one copies it, the other still refers to it
        Op::Symlink {
            dir: Root,
            name: 4,
            source: 0,
        },
        Op::Symlink {
            dir: Set(0),
            name: 5,
            source: 0,
        },
        Op::Overwrite {
            dir: Root,
            name: 4,
            content: 1,
        },
        // an account-folder entry takes the bytes of a photo in a set:
        // merged into it at close, so it leaves the account folder
        Op::Create {
            dir: Set(1),
            name: 0,
            content: 2,
        },
        Op::Create {
            dir: Root,
            name: 1,
            content: 3,
        },
        Op::Overwrite {
            dir: Root,
            name: 1,
            content: 2,
        },
        // a user's non-media file in a set takes the bytes of an
        // account-folder photo: copied, merged, that photo joins the set
        Op::Create {
            dir: Root,
            name: 2,
            content: 4,
        },
        Op::Symlink {
            dir: Set(0),
            name: 3,
            source: 2,
        },
        Op::Overwrite {
            dir: Set(0),
            name: 3,
            content: 4,
        },
        // emptied by a truncating open that writes nothing, then a JPEG
        // head appended to it and to another empty entry: the second merges
        Op::Overwrite {
            dir: Set(1),
            name: 0,
            content: 6,
        },
        Op::Append {
            dir: Set(1),
            name: 0,
            tail: 0,
        },
        Op::Create {
            dir: Root,
            name: 0,
            content: 6,
        },
        Op::Append {
            dir: Root,
            name: 0,
            tail: 0,
        },
        // a quarter of one JPEG, twice: the second merges into the first
        Op::Create {
            dir: Root,
            name: 3,
            content: 0,
        },
        Op::Truncate {
            dir: Root,
            name: 3,
            quarters: 1,
        },
        Op::Create {
            dir: Root,
            name: 6,
            content: 0,
        },
        Op::Truncate {
            dir: Root,
            name: 6,
            quarters: 1,
        },
        // a user's file truncated to its own size: copied all the same
        Op::Symlink {
            dir: Set(1),
            name: 6,
            source: 1,
        },
        Op::Truncate {
            dir: Set(1),
            name: 6,
            quarters: 4,
        },
        // a folder, missing names, a missing folder
        Op::Mkdir { set: 3 },
        Op::Overwrite {
            dir: Root,
            name: 0,
            content: 0,
        },
        Op::Truncate {
            dir: Root,
            name: 0,
            quarters: 0,
        },
        Op::Overwrite {
            dir: Set(0),
            name: 1,
            content: 0,
        },
        Op::Truncate {
            dir: Set(2),
            name: 0,
            quarters: 0,
        },
        Op::Append {
            dir: Set(0),
            name: 6,
            tail: 0,
        },
    ];
    let stats = run_with(&ops, true).unwrap_or_else(|f| panic!("{f:?}"));
    assert!(
        stats.in_place >= 5 && stats.copied >= 3 && stats.merged >= 3 && stats.errors == 5,
        "{stats:?}"
    );
}

/// Changes by another catalog connection (a sync), one case of each (the
/// random run reaches them too, but not every kind on every seed), each
/// after the kernel has cached the names and listings it touches: a new
/// photo in a set, a move into a set (leaves the account folder), a new
/// set, a move to the account folder (out of its sets, a new title), a
/// user's file with the content of a photo (one more name of it), leaving
/// the last set (back in the account folder), an editor-save rename over
/// an entry (the destination takes the source's content: a new size), and
/// a delete of one of two names.
#[test]
fn changes_by_another_connection() {
    use Folder::*;
    let ops = [
        Op::Mkdir { set: 0 },
        Op::Create {
            dir: Root,
            name: 0,
            content: 0,
        },
        Op::External(Ext::AddFile {
            dir: Set(0),
            name: 1,
            source: 1,
        }),
        Op::External(Ext::Rename {
            from: Root,
            name: 0,
            to: Set(0),
            to_name: 2,
        }),
        Op::External(Ext::Mkdir { set: 1 }),
        Op::External(Ext::Rename {
            from: Set(0),
            name: 2,
            to: Root,
            to_name: 6,
        }),
        Op::External(Ext::AddFile {
            dir: Root,
            name: 0,
            source: 0,
        }),
        Op::External(Ext::Unlink {
            dir: Set(0),
            name: 1,
        }),
        Op::Create {
            dir: Set(1),
            name: 0,
            content: 3,
        },
        Op::External(Ext::AddFile {
            dir: Set(1),
            name: 5,
            source: 2,
        }),
        Op::External(Ext::Rename {
            from: Set(1),
            name: 5,
            to: Set(1),
            to_name: 0,
        }),
        Op::External(Ext::Unlink { dir: Root, name: 0 }),
        // refused: the name is taken; the set is missing
        Op::External(Ext::Mkdir { set: 0 }),
        Op::External(Ext::Unlink {
            dir: Set(2),
            name: 0,
        }),
    ];
    let stats = run_with(&ops, true).unwrap_or_else(|f| panic!("{f:?}"));
    assert!(stats.external == 9 && stats.errors == 2, "{stats:?}");
}

/// Found by seed 12 of 30 once the generator also made external changes
/// (shrunk by hand to this list, which has none): `truncate(2)` of an
/// account-folder entry whose new bytes are those of a photo in sets merges
/// it into that photo (`finish_write`), so the entry vanishes, as the model
/// says; the mount then answers the `truncate` with `ENOENT`, because
/// `FsCore::setattr` replies with `getattr_fh` of the inode after
/// `finish`, whose entry is gone. The model (like an `O_TRUNC` open + close
/// of the same bytes) says the call succeeds; fixed in `FsCore::setattr`.
#[test]
fn truncate_merged_into_a_photo_in_sets_succeeds() {
    use Folder::*;
    let ops = [
        Op::Mkdir { set: 0 },
        Op::Mkdir { set: 1 },
        Op::Create {
            dir: Set(0),
            name: 0,
            content: 3,
        },
        // a junk name: no merge at close
        Op::Create {
            dir: Set(1),
            name: 4,
            content: 3,
        },
        // renamed to a real name (still no merge), then out of its last
        // set: back in the account folder as `b.jpg`
        Op::Rename {
            from: Set(1),
            name: 4,
            to: Set(1),
            to_name: 1,
        },
        Op::Unlink {
            dir: Set(1),
            name: 1,
        },
        // same size: the bytes are unchanged, the photo is merged at finish
        Op::Truncate {
            dir: Root,
            name: 1,
            quarters: 4,
        },
    ];
    let r = run_with(&ops, true);
    assert!(r.is_ok(), "{r:?}");
}

// ----- the mount for scripts/posix-suite.sh -----------------------------------

/// Not a test: `scripts/posix-suite.sh` runs it to get a mount in a temp
/// world (HOME/XDG inside it, account `alice`, an empty set `Set`). Writes
/// the mount point to `$FLICKRFS_POSIX_READY`, serves until the file
/// `$FLICKRFS_POSIX_STOP` exists, then unmounts.
#[test]
#[ignore = "helper of scripts/posix-suite.sh, not a test"]
fn posix_suite_mount_server() {
    let (Ok(ready), Ok(stop)) = (
        std::env::var("FLICKRFS_POSIX_READY"),
        std::env::var("FLICKRFS_POSIX_STOP"),
    ) else {
        eprintln!("set FLICKRFS_POSIX_READY and FLICKRFS_POSIX_STOP (see scripts/posix-suite.sh)");
        return;
    };
    let w = World::new();
    let a = w.add_alice();
    w.catalog()
        .mkdir(
            a.id,
            &flickrfs::catalog::EntryName::new("Set").expect("name"),
        )
        .expect("mkdir Set");
    let mut o = w.options();
    // pjdfstest switches to other users (nobody, daemon, bin)
    o.allow_other = true;
    let m = w.mount_with(o);
    std::fs::write(&ready, w.mnt.to_string_lossy().as_bytes()).expect("write ready file");
    while !Path::new(&stop).exists() {
        std::thread::sleep(Duration::from_millis(200));
    }
    let files = tree_sums(&w.default_folder).len();
    eprintln!("posix-suite mount: {files} file(s) in the default folder at unmount");
    m.unmount();
}
