//! Test harness for real FUSE mounts: a temp world (HOME, XDG dirs, a
//! catalog file, a user's photo folder, a default folder, an empty mount
//! point), an in-process mount through `flickrfs::fs::spawn_mount`, and a
//! guard that unmounts on drop even when the test panics (the handle's own
//! unmount, then `fusermount3 -u`, then `umount -l`).
//!
//! A machine without /dev/fuse fails these tests loudly: they never skip.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

#[path = "proc.rs"]
mod proc;

use flickrfs::catalog::{Account, Catalog, Collection, EntryName};
use flickrfs::fs::{spawn_mount, MountHandle, MountOptions, SyncHook};
use flickrfs::model::Nsid;

pub struct World {
    pub tmp: Root,
    pub home: PathBuf,
    pub catalog_path: PathBuf,
    /// A folder of the user's own photos (never to be deleted or changed).
    pub photos: PathBuf,
    /// The account's default folder.
    pub default_folder: PathBuf,
    pub mnt: PathBuf,
}

impl World {
    pub fn new() -> World {
        assert!(
            Path::new("/dev/fuse").exists(),
            "/dev/fuse is missing: these tests need a real FUSE mount (install fuse3, load the fuse module)"
        );
        // RUST_LOG=flickrfs=debug shows the mount's log lines in test output
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        World::in_root(Root::Temp(tempfile::tempdir().expect("tempdir")))
    }

    /// A world in memory (`/dev/shm` when there is one): for tests that
    /// drive the core without a kernel and need no durable disk, only
    /// speed (an fsync there costs nothing).
    pub fn in_memory() -> World {
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        };
        World::in_root(Root::Temp(dir.expect("tempdir")))
    }

    /// A world in a kept directory (benchmarks reuse a seeded catalog).
    pub fn at(dir: &Path) -> World {
        std::fs::create_dir_all(dir).expect("mkdir");
        World::in_root(Root::Kept(dir.to_path_buf()))
    }

    fn in_root(tmp: Root) -> World {
        let root = tmp.path().to_path_buf();
        let home = root.join("home");
        for d in [
            "home/.config",
            "home/.local/share/flickrfs",
            "home/.local/state",
            "photos",
            "mnt",
        ] {
            std::fs::create_dir_all(root.join(d)).expect("mkdir");
        }
        World {
            catalog_path: home.join(".local/share/flickrfs/catalog.sqlite"),
            photos: root.join("photos"),
            default_folder: home.join("Pictures/Flickr/alice"),
            mnt: root.join("mnt"),
            home,
            tmp,
        }
    }

    /// A library folder (`$L` in scripts): created by the tests that use it.
    pub fn library(&self) -> PathBuf {
        self.tmp.path().join("library")
    }

    pub fn catalog(&self) -> Catalog {
        Catalog::open(&self.catalog_path).expect("open catalog")
    }

    /// Register the account `alice` (folder name `alice`).
    pub fn add_alice(&self) -> Account {
        self.catalog()
            .add_account(
                &Nsid::new("1000@N01"),
                "alice",
                "alice",
                &self.default_folder,
            )
            .expect("add account")
    }

    /// Write a user's photo file with pseudo-random JPEG-looking content.
    pub fn user_photo(&self, name: &str, len: usize, seed: u64) -> PathBuf {
        let p = self.photos.join(name);
        std::fs::write(&p, jpeg_bytes(len, seed)).expect("write photo");
        p
    }

    pub fn options(&self) -> MountOptions {
        let mut o = MountOptions::new(&self.mnt, &self.catalog_path);
        o.foreground = true;
        o.poll_interval = Duration::from_millis(200);
        o
    }

    pub fn mount(&self) -> Mounted {
        self.mount_with(self.options())
    }

    pub fn mount_with(&self, opts: MountOptions) -> Mounted {
        let handle = spawn_mount(opts).expect("mount");
        Mounted {
            handle: Some(handle),
            mnt: self.mnt.clone(),
        }
    }

    pub fn mount_with_hook(&self, hook: SyncHook) -> Mounted {
        let mut o = self.options();
        o.sync_hook = Some(hook);
        self.mount_with(o)
    }

    /// Run a shell script with HOME/XDG pointing into the temp world.
    pub fn sh(&self, script: &str) -> Output {
        Command::new("bash")
            .arg("-c")
            .arg(script)
            .current_dir(self.tmp.path())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_STATE_HOME", self.home.join(".local/state"))
            .env("M", &self.mnt)
            .env("P", &self.photos)
            .env("D", &self.default_folder)
            .env("L", self.library())
            .env("LC_ALL", "C")
            // GIO as a file manager uses it, without a GVfs daemon
            .env("GIO_USE_VFS", "local")
            .output()
            .expect("run bash")
    }

    /// Run a script that must succeed; returns its stdout.
    pub fn ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "script failed: {script}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run a script that must fail; returns its stderr.
    pub fn fails(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            !out.status.success(),
            "script unexpectedly succeeded: {script}\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn set(&self, account: &Account, name: &str) -> Collection {
        self.catalog()
            .lookup_set(account.id, &EntryName::new(name).expect("name"))
            .expect("lookup set")
            .unwrap_or_else(|| panic!("no set {name}"))
    }

    /// Names listed in a collection, per the catalog.
    pub fn names(&self, coll: flickrfs::catalog::CollectionId) -> Vec<String> {
        self.catalog()
            .list(coll)
            .expect("list")
            .into_iter()
            .map(|e| e.name.as_str().to_owned())
            .collect()
    }
}

/// Where a world lives: a temp dir removed at the end, or a kept one.
pub enum Root {
    Temp(tempfile::TempDir),
    Kept(PathBuf),
}

impl Root {
    pub fn path(&self) -> &Path {
        match self {
            Root::Temp(t) => t.path(),
            Root::Kept(p) => p,
        }
    }
}

/// The mount guard: unmounts on drop, whatever happened.
pub struct Mounted {
    handle: Option<MountHandle>,
    pub mnt: PathBuf,
}

impl Mounted {
    pub fn handle(&self) -> &MountHandle {
        self.handle.as_ref().expect("mounted")
    }

    pub fn unmount(mut self) {
        if let Some(h) = self.handle.take() {
            h.unmount().expect("unmount");
        }
        assert!(!is_mounted(&self.mnt), "still mounted after unmount");
    }

    pub fn status(&self) -> String {
        std::fs::read_to_string(self.mnt.join(".flickrfs/status")).expect("read status")
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            if let Err(e) = h.unmount() {
                eprintln!("unmount: {e}");
            }
        }
        if is_mounted(&self.mnt) {
            let _ = Command::new("fusermount3")
                .arg("-u")
                .arg(&self.mnt)
                .status();
        }
        if is_mounted(&self.mnt) {
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        }
    }
}

pub fn is_mounted(p: &Path) -> bool {
    let Ok(canon) = std::fs::canonicalize(p) else {
        return false;
    };
    let target = canon.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(target.as_str()))
}

/// Deterministic bytes that start like a JPEG (SOI + JFIF APP0) and end with EOI.
pub fn jpeg_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00,
    ];
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    while v.len() + 2 < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len.saturating_sub(2).max(20));
    v.extend_from_slice(&[0xFF, 0xD9]);
    v
}

// not every test that includes this harness uses them
#[allow(unused_imports)]
pub use proc::{sha1_of, tree_sums};

/// Poll `f` until it returns true or `timeout` passes.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

pub fn errno(r: std::io::Result<impl Sized>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}
