//! The model test's harness: a system under test ([`Under::Kernel`], a real
//! FUSE mount; [`Under::Core`], the filesystem core in-process) driven
//! through [`super::vfs`], the reference model beside it, and after every
//! step a comparison of the whole visible tree (names, kinds, sizes, bytes,
//! title/tags/privacy/source attributes, names that must be gone) and of
//! the disk (every backing file ever written or linked, with the bytes the
//! model says; a user's file with its original bytes and mtime; nothing
//! else left in the default folder). About 6% of the steps generated are
//! changes another catalog connection makes (a running sync), after which
//! the harness waits (bounded, 10 s, on the state of the tree) for the
//! change watcher to show them.
#![allow(dead_code)] // each test binary uses a part

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use flickrfs::catalog::{
    Account, AddOutcome, Catalog, CatalogError, CollectionId, EntryName, RemotePool,
};

use crate::generators::{contents, SOURCES};
use crate::reference::*;
use crate::vfs::{CoreVfs, KernelVfs, Kind, Vfs};
use crate::world::*;

/// How much of the tree a check reads besides names, kinds and sizes
/// (always all of them).
pub enum Depth {
    /// Every entry's bytes and attributes, every name that must be gone,
    /// every backing file's bytes.
    Full,
    /// Only what the step changed, as the model says: the bytes and
    /// attributes of these photos, the bytes of these backing files.
    Changed {
        photos: BTreeSet<Pid>,
        files: BTreeSet<PathBuf>,
    },
}

impl Depth {
    fn is_full(&self) -> bool {
        matches!(self, Depth::Full)
    }
    fn photo(&self, p: Pid) -> bool {
        match self {
            Depth::Full => true,
            Depth::Changed { photos, .. } => photos.contains(&p),
        }
    }
}

/// Without a kernel, a full check every this many steps (and at the
/// end); the steps in between check names, kinds and sizes of the whole
/// tree and the contents of what changed. Through a kernel, every step is
/// a full check (its caches can keep stale data anywhere).
pub const FULL_CHECK_EVERY: usize = 16;

/// How long a name the model says is gone may still resolve through the
/// kernel's cache (see `expect_gone`).
const STALE_WAIT: Duration = Duration::from_secs(10);

/// Which system the model is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Under {
    /// A real FUSE mount, through the kernel.
    Kernel,
    /// The filesystem core in this process, no kernel.
    Core,
}

/// A system under test and what the harness keeps about it.
pub struct Harness {
    w: World,
    /// The kernel mount ([`Under::Kernel`]), unmounted on drop.
    m: Option<Mounted>,
    vfs: Box<dyn Vfs>,
    acct: PathBuf,
    strict_dcache: bool,
    stale: Vec<String>,
    /// Names the mount never invalidated (known bug), dropped by hand.
    stuck: Vec<String>,
    /// Fail on such a name instead.
    strict_stuck: bool,
    /// alice, as the catalog has her.
    account: Account,
    /// The folder of her one group pool (`Pools/G`).
    pool: CollectionId,
    /// Another connection to the mount's catalog, as a running sync has:
    /// `Op::External` changes go through it, behind the mount's back.
    sync: Catalog,
}

impl Harness {
    fn new(under: Under, strict_dcache: bool) -> (Harness, Model) {
        let w = match under {
            Under::Kernel => World::new(),
            // no kernel: no fsync worth paying for, a tmpfs will do
            Under::Core => World::in_memory(),
        };
        let account = w.add_alice();
        // One group pool, as a sync records the groups alice is a member of.
        let pool = w
            .catalog()
            .upsert_pools(
                account.id,
                &[RemotePool {
                    id: "1@N20".into(),
                    name: POOL.into(),
                }],
            )
            .expect("the pool")[0];
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
        let (m, vfs): (Option<Mounted>, Box<dyn Vfs>) = match under {
            Under::Kernel => (Some(w.mount_with(o)), Box::new(KernelVfs)),
            Under::Core => {
                o.force_pread = true;
                let core = flickrfs::fs::unmounted_core(&o).expect("the core");
                (None, Box::new(CoreVfs::new(core, w.mnt.clone())))
            }
        };
        let acct = w.mnt.join("alice");
        let model = Model::new(cs, sources);
        let sync = w.catalog();
        (
            Harness {
                account,
                pool,
                sync,
                w,
                m,
                vfs,
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
            Folder::Pool => self.acct.join("Pools").join(POOL),
        }
    }

    /// The collection of `f`, as the other connection finds it (None: no
    /// such set).
    fn collection(&self, f: Folder) -> Option<CollectionId> {
        match f {
            Folder::Root => Some(self.account.root),
            Folder::Pool => Some(self.pool),
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

    /// Runs `op` on the system under test (`model`: the state before it);
    /// the errno it failed with, if any.
    fn apply(&self, op: Op, model: &Model) -> Result<(), i32> {
        let v = &*self.vfs;
        let path = |dir: Folder, name: usize| self.dir(dir).join(NAMES[name]);
        match op {
            Op::Create { dir, name, content } => {
                v.create_write(&path(dir, name), &model.contents[content].bytes)
            }
            Op::Symlink { dir, name, source } => {
                v.symlink(&model.sources[source].0, &path(dir, name))
            }
            Op::Link {
                from,
                name,
                to,
                to_name,
            } => v.hard_link(&path(from, name), &path(to, to_name)),
            Op::Rename {
                from,
                name,
                to,
                to_name,
            } => v.rename(&path(from, name), &path(to, to_name)),
            Op::Unlink { dir, name } => v.remove_file(&path(dir, name)),
            Op::Mkdir { set } => v.create_dir(&self.acct.join(SETS[set])),
            Op::Rmdir { set } => v.remove_dir(&self.acct.join(SETS[set])),
            Op::RenameSet { set, to } => {
                v.rename(&self.acct.join(SETS[set]), &self.acct.join(SETS[to]))
            }
            Op::SetXattr {
                dir,
                name,
                attr,
                value,
            } => v.setxattr(
                &path(dir, name),
                attr.name(),
                attr.values()[value].as_bytes(),
            ),
            Op::Overwrite { dir, name, content } => {
                v.overwrite(&path(dir, name), &model.contents[content].bytes)
            }
            Op::Append { dir, name, tail } => v.append(&path(dir, name), TAILS[tail]),
            Op::Truncate {
                dir,
                name,
                quarters,
            } => {
                let len = truncated_len(model.bytes_of(dir, NAMES[name]).len(), quarters);
                v.truncate(&path(dir, name), len as u64)
            }
            Op::External(_) => unreachable!("the run makes external changes itself"),
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
        for (n, &p) in &model.pool {
            all.push((self.dir(Folder::Pool).join(n), p));
        }
        all
    }

    /// The whole visible tree against the model.
    fn check(
        &mut self,
        model: &Model,
        keep: &BTreeMap<PathBuf, usize>,
        sources: &BTreeMap<PathBuf, SystemTime>,
        depth: &Depth,
    ) -> Result<(), String> {
        // first `stat` every name, before any listing refreshes the
        // kernel's attributes (readdirplus): right after an operation the
        // sizes the kernel holds must already be the model's
        for (path, pid) in self.entry_paths(model) {
            let want = model.contents[model.photos[&pid].content].bytes.len() as u64;
            if let Ok((Kind::File, size)) = self.vfs.stat(&path) {
                if size != want {
                    return Err(format!(
                        "{}: size {size} through the mount before any listing, model {want}",
                        rel(&path),
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
        let got = self.listing(&self.acct)?;
        if got != want {
            return Err(format!("account folder lists {got:?}, model {want:?}"));
        }
        for &i in model.sets.keys() {
            let d = self.acct.join(SETS[i]);
            let want: BTreeMap<String, &str> =
                model.sets[&i].keys().map(|n| (n.clone(), "file")).collect();
            let got = self.listing(&d)?;
            if got != want {
                return Err(format!("{} lists {got:?}, model {want:?}", SETS[i]));
            }
        }
        let pools = self.listing(&self.acct.join("Pools"))?;
        let want: BTreeMap<String, &str> = [(POOL.to_owned(), "dir")].into();
        if pools != want {
            return Err(format!("Pools lists {pools:?}, model {want:?}"));
        }
        let want: BTreeMap<String, &str> = model.pool.keys().map(|n| (n.clone(), "file")).collect();
        let got = self.listing(&self.dir(Folder::Pool))?;
        if got != want {
            return Err(format!("Pools/{POOL} lists {got:?}, model {want:?}"));
        }
        // every entry: a plain file with the photo's bytes and attributes
        for (path, pid) in self.entry_paths(model) {
            if !depth.photo(pid) {
                continue;
            }
            let ph = &model.photos[&pid];
            let bytes = &model.contents[ph.content].bytes;
            let (kind, size) = self
                .vfs
                .stat(&path)
                .map_err(|e| format!("lstat {}: {}", rel(&path), show(Err(e))))?;
            if kind != Kind::File {
                return Err(format!("{} is {kind:?}, not a plain file", rel(&path)));
            }
            if size != bytes.len() as u64 {
                return Err(format!(
                    "{}: size {size} through the mount, model {}",
                    rel(&path),
                    bytes.len()
                ));
            }
            let read = self
                .vfs
                .read(&path)
                .map_err(|e| format!("read {}: {}", rel(&path), show(Err(e))))?;
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
                let got = self.vfs.getxattr(&path, attr);
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
        if !depth.is_full() {
            return self.check_disk_changed(model, keep, sources, depth);
        }
        // names the model says are absent must be absent (stale dentries)
        let mut folders: Vec<(Folder, PathBuf)> = vec![
            (Folder::Root, self.acct.clone()),
            (Folder::Pool, self.dir(Folder::Pool)),
        ];
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
        self.check_sources_and_folder(keep, sources)
    }

    /// The disk after a step, as far as the step changed it: the backing
    /// files it wrote or moved, the user's files' mtimes, the names in the
    /// default folder.
    fn check_disk_changed(
        &self,
        model: &Model,
        keep: &BTreeMap<PathBuf, usize>,
        sources: &BTreeMap<PathBuf, SystemTime>,
        depth: &Depth,
    ) -> Result<(), String> {
        if let Depth::Changed { files, .. } = depth {
            for p in files {
                let Some(&c) = keep.get(p) else { continue };
                let want = &model.contents[c].bytes;
                if std::fs::read(p).ok().as_ref() != Some(want) {
                    return Err(format!(
                        "backing file {} is not content #{c} any more",
                        p.display()
                    ));
                }
            }
        }
        self.check_sources_and_folder(keep, sources)
    }

    /// The user's files kept their mtime, and the default folder holds
    /// exactly the files the mount must have left there.
    fn check_sources_and_folder(
        &self,
        keep: &BTreeMap<PathBuf, usize>,
        sources: &BTreeMap<PathBuf, SystemTime>,
    ) -> Result<(), String> {
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

    /// A folder's names and kinds, as the system under test lists them.
    fn listing(&self, d: &Path) -> Result<BTreeMap<String, &'static str>, String> {
        let got = self
            .vfs
            .list(d)
            .map_err(|e| format!("readdir {}: {}", rel(d), show(Err(e))))?;
        Ok(got.into_iter().map(|(n, k)| (n, k.as_str())).collect())
    }

    fn expect_gone(&mut self, p: &Path) -> Result<(), String> {
        if self.vfs.stat(p).is_err() {
            return Ok(());
        }
        if self.strict_dcache || !self.vfs.has_kernel_caches() {
            return Err(format!("{} still resolves (model: gone)", rel(p)));
        }
        // invalidated just after the call returns: at once on a quiet
        // machine, bounded generously for a loaded one (the entry timeout a
        // name never invalidated would keep is an hour)
        let t = Instant::now();
        if eventually(STALE_WAIT, || self.vfs.stat(p).is_err()) {
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
                "{} still resolves {STALE_WAIT:?} after the model says it is gone",
                rel(p)
            ));
        }
        let _ = std::fs::write("/proc/sys/vm/drop_caches", b"2");
        if self.vfs.stat(p).is_ok() {
            return Err(format!(
                "{} still resolves after the model says it is gone, even after drop_caches",
                rel(p)
            ));
        }
        self.stuck.push(rel(p));
        Ok(())
    }
}

impl Drop for Harness {
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

// ----- running --------------------------------------------------------------

#[derive(Debug)]
pub struct Failure {
    pub step: usize,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub ok: usize,
    pub errors: usize,
    pub skipped: usize,
    /// Writes into existing entries (overwrite, append, truncate) that
    /// succeeded: changed in place, copied first, merged at close.
    pub in_place: usize,
    pub copied: usize,
    pub merged: usize,
    pub stale: Vec<String>,
    pub stuck: Vec<String>,
    /// Changes made by another catalog connection (`Op::External`) that
    /// succeeded, and the longest wait for the mount to show one.
    pub external: usize,
    pub external_wait_max: Duration,
}

/// How long the mount may take to show a change another connection made
/// (its change watcher polls every 20 ms in this test): generous, so that
/// only a change never shown fails, not a slow machine.
const EXTERNAL_WAIT: Duration = Duration::from_secs(10);

/// One run: the system under test, the model beside it, and what the
/// harness tracks of the disk.
pub struct Run {
    h: Harness,
    pub model: Model,
    /// Every backing file that must still be on disk → its content index.
    keep: BTreeMap<PathBuf, usize>,
    /// The user's files: bytes and mtime must never change.
    sources: BTreeMap<PathBuf, SystemTime>,
    pub stats: Stats,
    step: usize,
}

impl Run {
    /// A fresh system under `under` and a fresh model; `strict` fails on a
    /// name never invalidated (kernel caches).
    pub fn new(under: Under, strict: bool) -> Run {
        // A name that left in a folder the operation held locked is dropped
        // from the kernel's cache just after the call returns (SEMANTICS.md,
        // cache coherence), so "gone at once" is opt-in; "gone within 1 s"
        // (strict_stuck) is always checked.
        let strict_dcache =
            strict && std::env::var("FLICKRFS_MODEL_STRICT_DCACHE").is_ok_and(|v| v == "1");
        let (mut h, model) = Harness::new(under, strict_dcache);
        h.strict_stuck = strict;
        let keep = model.sources.iter().map(|(p, c)| (p.clone(), *c)).collect();
        let sources = model
            .sources
            .iter()
            .map(|(p, _)| (p.clone(), mtime_of(p)))
            .collect();
        Run {
            h,
            model,
            keep,
            sources,
            stats: Stats::default(),
            step: 0,
        }
    }

    /// Applies `op` to the system and the model, then compares them.
    pub fn step(&mut self, op: Op) -> Result<(), Failure> {
        let step = self.step;
        self.step += 1;
        let fail = |message: String| Failure { step, message };
        if self.model.skips(op) {
            self.stats.skipped += 1;
            return Ok(());
        }
        let before = self.h.default_files();
        let photos_before = self.model.photos.clone();
        let keep_before = self.keep.clone();
        let mut external_done = false;
        let want = if let Op::External(e) = op {
            // another connection changes the catalog: a refusal is only
            // checked to be one (`Err(None)`: a folder it names is missing,
            // nothing to call)
            let got = self.h.apply_external(e, &self.model);
            let want = self.model.apply(op);
            match (&want, &got) {
                (Ok(_), Ok(())) => {
                    self.stats.ok += 1;
                    self.stats.external += 1;
                    external_done = true;
                }
                (Err(_), Err(_)) => self.stats.errors += 1,
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
            let got = self.h.apply(op, &self.model);
            let want = self.model.apply(op);
            match (&want, &got) {
                (Ok(_), Ok(())) => self.stats.ok += 1,
                (Err(w), Err(g)) if w == g => self.stats.errors += 1,
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
        let after = self.h.default_files();
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
            let to = self.h.w.default_folder.join(&expected);
            if after.contains(from) || !after.contains(&to) {
                return Err(fail(format!(
                "{op:?}: expected the mount's file {} renamed to {expected:?}; new files {new:?}",
                from.display()
            )));
            }
            new.retain(|p| *p != to);
            renamed_to = Some(to.clone());
            let c = self
                .keep
                .remove(from)
                .expect("model: a renamed file was kept");
            self.keep.insert(to.clone(), c);
            if let Some(ph) = self.model.photos.get_mut(pid) {
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
                self.keep.remove(old);
            }
        }
        if matches!(
            op,
            Op::Overwrite { .. } | Op::Append { .. } | Op::Truncate { .. }
        ) {
            self.stats.in_place += usize::from(effect.rewritten.is_some());
            // a copy merged at close was removed again: a copy all the same
            self.stats.copied += usize::from(
                effect.new_file.is_some()
                    || (effect.merged_into.is_some() && effect.rewritten.is_none()),
            );
            self.stats.merged += usize::from(effect.merged_into.is_some());
        }
        match effect.new_file {
            Some((pid, c)) => {
                if new.len() != 1 {
                    return Err(fail(format!(
                        "{op:?}: expected one new backing file, found {new:?}"
                    )));
                }
                let p = new[0].clone();
                self.keep.insert(p.clone(), c);
                if let Some(ph) = self.model.photos.get_mut(&pid) {
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
                self.keep.contains_key(&path) && !self.sources.contains_key(&path),
                "model: {op:?} rewrites {} in place, not a file the mount wrote",
                path.display()
            );
            self.keep.insert(path, c);
        }
        if let Some(ph) = self.model.photos.values().find(|p| p.path.is_none()) {
            return Err(fail(format!("model photo without a path: {ph:?}")));
        }
        let depth = if self.h.vfs.has_kernel_caches() || self.step.is_multiple_of(FULL_CHECK_EVERY)
        {
            Depth::Full
        } else {
            Depth::Changed {
                photos: self
                    .model
                    .photos
                    .iter()
                    .filter(|(k, p)| photos_before.get(*k) != Some(*p))
                    .map(|(k, _)| *k)
                    .collect(),
                files: self
                    .keep
                    .iter()
                    .filter(|(k, c)| keep_before.get(*k) != Some(*c))
                    .map(|(k, _)| k.clone())
                    .collect(),
            }
        };
        if external_done {
            // The mount learns of the change through its change watcher
            // (SEMANTICS.md "Cache coherence"): wait, bounded, until the
            // whole tree agrees with the model (a state, not a delay), then
            // compare once more below and fail with what still differs.
            let t = Instant::now();
            let caught_up = eventually(EXTERNAL_WAIT, || {
                self.h
                    .check(&self.model, &self.keep, &self.sources, &depth)
                    .is_ok()
            });
            let waited = t.elapsed();
            self.stats.external_wait_max = self.stats.external_wait_max.max(waited);
            if !caught_up {
                self.h
                    .check(&self.model, &self.keep, &self.sources, &depth)
                    .map_err(|m| {
                        fail(format!(
                            "after {op:?}, {waited:?} for the change watcher: {m}"
                        ))
                    })?;
            }
        }
        self.h
            .check(&self.model, &self.keep, &self.sources, &depth)
            .map_err(|m| fail(format!("after {op:?}: {m}")))?;
        Ok(())
    }

    /// A full check of the whole tree and disk now (the end of a run).
    pub fn check_all(&mut self) -> Result<(), Failure> {
        let step = self.step;
        self.h
            .check(&self.model, &self.keep, &self.sources, &Depth::Full)
            .map_err(|message| Failure {
                step,
                message: format!("at the end: {message}"),
            })
    }

    /// The counts, with the stale names seen.
    pub fn finish(mut self) -> Stats {
        self.stats.stale = std::mem::take(&mut self.h.stale);
        self.stats.stuck = std::mem::take(&mut self.h.stuck);
        self.stats
    }
}

/// Runs `ops` on a fresh system and model, checking after every step;
/// strict about stale names unless `FLICKRFS_MODEL_LENIENT=1`.
pub fn run(ops: &[Op], under: Under) -> Result<Stats, Failure> {
    run_with(
        ops,
        under,
        !std::env::var("FLICKRFS_MODEL_LENIENT").is_ok_and(|v| v == "1"),
    )
}

/// [`run`]; `strict` fails on a name the mount never invalidates.
pub fn run_with(ops: &[Op], under: Under, strict: bool) -> Result<Stats, Failure> {
    let mut r = Run::new(under, strict);
    for &op in ops {
        r.step(op)?;
    }
    r.check_all()?;
    Ok(r.finish())
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

pub fn show(r: Result<(), i32>) -> String {
    match r {
        Ok(()) => "Ok".into(),
        Err(e) => format!("{} ({e})", std::io::Error::from_raw_os_error(e)),
    }
}

// ----- random runs (proptest-state-machine) ----------------------------------

/// Which system a random run drives.
pub trait System {
    const UNDER: Under;
}

pub struct OnKernel;
impl System for OnKernel {
    const UNDER: Under = Under::Kernel;
}

pub struct OnCore;
impl System for OnCore {
    const UNDER: Under = Under::Core;
}

/// The counts of every random run of this process, printed at the end.
static TOTALS: std::sync::Mutex<Option<Stats>> = std::sync::Mutex::new(None);

/// A random run of the model test on system `S`.
pub struct Random<S>(std::marker::PhantomData<S>);

impl<S: System> proptest_state_machine::StateMachineTest for Random<S> {
    type SystemUnderTest = Run;
    type Reference = crate::generators::Machine;

    fn init_test(_: &crate::generators::GenState) -> Run {
        Run::new(
            S::UNDER,
            !std::env::var("FLICKRFS_MODEL_LENIENT").is_ok_and(|v| v == "1"),
        )
    }

    fn apply(mut run: Run, _: &crate::generators::GenState, op: Op) -> Run {
        if let Err(f) = run.step(op) {
            panic!("step {}: {}", f.step, f.message);
        }
        run
    }

    fn teardown(mut run: Run, _: crate::generators::GenState) {
        if let Err(f) = run.check_all() {
            panic!("step {}: {}", f.step, f.message);
        }
        let s = run.finish();
        let mut totals = TOTALS.lock().unwrap_or_else(|p| p.into_inner());
        let t = totals.get_or_insert_with(Stats::default);
        t.ok += s.ok;
        t.errors += s.errors;
        t.skipped += s.skipped;
        t.in_place += s.in_place;
        t.copied += s.copied;
        t.merged += s.merged;
        t.stale.extend(s.stale);
        t.stuck.extend(s.stuck);
        t.external += s.external;
        t.external_wait_max = t.external_wait_max.max(s.external_wait_max);
    }
}

fn env_number(k: &str) -> Option<u64> {
    std::env::var(k).ok().and_then(|v| v.parse().ok())
}

/// `cases` random sequences of up to `steps` operations on system `S`,
/// from a fixed seed (`FLICKRFS_MODEL_SEED` replays another): a failure
/// is shrunk by proptest to a short list of operations and panics with it.
/// `FLICKRFS_MODEL_CASES` and `FLICKRFS_MODEL_STEPS` make the run longer.
pub fn random_runs<S: System>(cases: u32, steps: usize) {
    use proptest::test_runner::{Config, RngSeed, TestRunner};
    use proptest_state_machine::{ReferenceStateMachine, StateMachineTest};
    let cases = env_number("FLICKRFS_MODEL_CASES").map_or(cases, |n| n as u32);
    let steps = env_number("FLICKRFS_MODEL_STEPS").map_or(steps, |n| n as usize);
    let seed = env_number("FLICKRFS_MODEL_SEED").unwrap_or(1);
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        // a failure is shrunk within minutes, not hours
        max_shrink_iters: 2_000,
        ..Config::default()
    };
    let t = Instant::now();
    let mut runner = TestRunner::new(config.clone());
    let strategy = crate::generators::Machine::sequential_strategy(steps..=steps);
    let result = runner.run(&strategy, |(initial, transitions, seen)| {
        Random::<S>::test_sequential(config.clone(), initial, transitions, seen);
        Ok(())
    });
    let totals = TOTALS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_default();
    eprintln!(
        "model ({:?}, seed {seed}): {cases} runs of {steps} steps: {} ops succeeded, {} failed as the model said, {} skipped, in {:?}",
        S::UNDER,
        totals.ok,
        totals.errors,
        totals.skipped,
        t.elapsed()
    );
    eprintln!(
        "model: writes into existing entries: {} in place, {} copied first (copy-on-write), {} merged at close",
        totals.in_place, totals.copied, totals.merged
    );
    eprintln!(
        "model: {} changes made by another catalog connection, shown after at most {:?}",
        totals.external, totals.external_wait_max
    );
    if S::UNDER == Under::Kernel {
        eprintln!(
            "model: {} stale dentries for a while, {} names never invalidated (tolerated only with FLICKRFS_MODEL_LENIENT=1)",
            totals.stale.len(),
            totals.stuck.len()
        );
        for s in totals.stale.iter().chain(&totals.stuck).take(5) {
            eprintln!("  {s}");
        }
    }
    if let Err(e) = result {
        panic!("model test failed (FLICKRFS_MODEL_SEED={seed}): {e}");
    }
}
