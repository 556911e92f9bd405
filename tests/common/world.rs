//! The world of the tests that drive the whole product as a user would:
//! an in-process emulator with `alice`, a temporary HOME, the account added
//! through `flickrfs account add` and the real OAuth dance, the mount daemon
//! as a child process (`flickrfs mount --foreground`) that a guard unmounts
//! whatever happens, control-file and CLI syncs, and crash helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flickrfs::emulator::{Emulator, EmulatorConfig, FaultConfig, NewEmuPhoto, NewEmuSet};

use crate::proc::*;

/// The longest any single tool invocation may take before it counts as a hang.
pub const OP_DEADLINE: Duration = Duration::from_secs(60);
/// The longest one sync may take.
pub const SYNC_DEADLINE: Duration = Duration::from_secs(120);
// ---------------------------------------------------------------------------
// The world: emulator, HOME, account, mount daemon
// ---------------------------------------------------------------------------

pub struct World {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub emu: Emulator,
    pub nsid: String,
    /// Originals of every photo the test knows (by file name).
    pub photos: PathBuf,
    pub default_folder: PathBuf,
    pub mnt: PathBuf,
}

impl World {
    /// Emulator with `alice`; `default_folder` overrides the account's default
    /// folder (set before the account's first registration).
    pub fn new(default_folder: Option<PathBuf>) -> World {
        assert!(
            Path::new("/dev/fuse").exists(),
            "/dev/fuse is missing: these tests need FUSE"
        );
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("home");
        let photos = tmp.path().join("photos");
        let mnt = tmp.path().join("mnt");
        for d in [&home, &photos, &mnt] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let emu = Emulator::start(EmulatorConfig {
            state_dir: tmp.path().join("emu"),
            bind: "127.0.0.1:0".parse().expect("addr"),
            auto_approve: true,
            fault_seed: 7,
            ..Default::default()
        })
        .expect("emulator");
        let user = emu.create_user("alice").expect("user");
        let default_folder =
            default_folder.unwrap_or_else(|| home.join("Pictures").join("Flickr").join("alice"));
        World {
            tmp,
            home,
            emu,
            nsid: user.nsid,
            photos,
            default_folder,
            mnt,
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        flickrfs_cmd(&self.home, args)
    }

    /// `flickrfs ARGS` under the deadline.
    pub fn flickrfs(&self, args: &[&str], deadline: Duration) -> Output {
        run_flickrfs(&self.home, args, deadline)
    }

    /// Adds `alice` through `flickrfs account add` and the real OAuth dance.
    pub fn add_account(&self) {
        add_account_via_cli(&self.home, &self.emu, &self.default_folder, OP_DEADLINE);
    }

    /// Mounts with `flickrfs mount --foreground` and waits until it serves.
    pub fn mount(&self) -> Daemon {
        let log = std::fs::File::create(self.tmp.path().join("mount.out")).expect("log");
        let child = self
            .cmd(&["mount", "--foreground", &self.mnt.to_string_lossy()])
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("flickrfs mount");
        let d = Daemon {
            child: Some(child),
            mnt: self.mnt.clone(),
        };
        let acct = self.mnt.join("alice");
        wait_for("the mount to serve alice/", OP_DEADLINE, || acct.is_dir());
        d
    }

    pub fn acct(&self) -> PathBuf {
        self.mnt.join("alice")
    }

    pub fn last_sync(&self) -> serde_json::Value {
        let p = self.home.join(".local/state/flickrfs/last-sync.json");
        let t = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        serde_json::from_str(&t).expect("last-sync.json")
    }

    /// Writes `both` to `.flickrfs/sync` and waits for the daemon to finish
    /// that sync; returns the final state line.
    pub fn control_sync(&self) -> String {
        self.control_request("both")
    }

    /// Writes `request` (`down force`, `up alice`...) to `.flickrfs/sync`
    /// and waits for the daemon to finish that sync; returns the final
    /// state line.
    pub fn control_request(&self, request: &str) -> String {
        let f = self.mnt.join(".flickrfs/sync");
        let before = read_state(&f);
        // A finished state names the second it finished in: wait for a new
        // second so that this sync's final line cannot equal the previous one.
        if let Some(ts) = finished_at(&before) {
            wait_for("the clock to pass the last sync", OP_DEADLINE, || {
                flickrfs::localtime::iso8601(flickrfs::app::now_secs()) != ts
            });
        }
        std::fs::write(&f, format!("{request}\n")).expect("write .flickrfs/sync");
        let mut last = String::new();
        wait_for("the daemon's sync to finish", SYNC_DEADLINE, || {
            last = read_state(&f);
            last != before && is_terminal(&last)
        });
        last
    }

    /// `flickrfs sync --yes` as its own process.
    pub fn cli_sync(&self, extra: &[&str]) -> Output {
        let mut args = vec!["sync", "--yes"];
        args.extend_from_slice(extra);
        self.flickrfs(&args, SYNC_DEADLINE)
    }

    /// Runs faultless syncs until one plans nothing; returns how many ran.
    pub fn converge(&self, via_control: bool) -> usize {
        self.emu.set_faults(FaultConfig::default());
        for n in 1..=6 {
            if via_control {
                let s = self.control_sync();
                assert!(!s.starts_with("failed"), "sync failed: {s}");
            } else {
                let out = self.cli_sync(&[]);
                assert!(
                    out.status.code().is_some(),
                    "sync killed: {}",
                    text(&out.stderr)
                );
            }
            let last = self.last_sync();
            let a = &last["accounts"][0];
            let summary = a["summary"].as_str().unwrap_or_default();
            if a["error"].is_null()
                && a["failed"].as_array().is_some_and(|f| f.is_empty())
                && summary.starts_with(
                    "0 uploads, 0 downloads, 0 set reassignments, 0 set creations, 0 edits",
                )
            {
                return n;
            }
        }
        panic!(
            "six faultless syncs in a row still had work to do: {}",
            self.last_sync()
        );
    }

    /// Writes a seeded JPEG original into `photos/NAME`; returns its bytes.
    pub fn original(&self, name: &str, seed: u64, side: u32) -> Vec<u8> {
        let bytes = jpeg(seed, side);
        std::fs::write(self.photos.join(name), &bytes).expect("write original");
        bytes
    }

    /// Puts a photo on Flickr (and its original in `photos/TITLE.jpg`).
    pub fn seed_online(&self, title: &str, seed: u64) -> String {
        let bytes = self.original(&format!("{title}.jpg"), seed, 48);
        self.emu
            .add_photo(
                &self.nsid,
                NewEmuPhoto {
                    title: title.into(),
                    bytes,
                    ..Default::default()
                },
            )
            .expect("add photo")
    }

    pub fn seed_set(&self, title: &str, ids: &[String]) {
        self.emu
            .add_photoset(
                &self.nsid,
                NewEmuSet {
                    title: title.into(),
                    photo_ids: ids.to_vec(),
                    ..Default::default()
                },
            )
            .expect("add set");
    }

    pub fn sh(&self, script: &str) -> Command {
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(script)
            .env("M", self.acct())
            .env("P", &self.photos)
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        c
    }
}

/// The mount daemon; unmounts and ends it on drop, whatever happened.
pub struct Daemon {
    pub child: Option<Child>,
    pub mnt: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
    }

    /// SIGKILL: the mount point is left stale.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A clean unmount: `fusermount3 -u`, then the daemon exits by itself.
    pub fn unmount(mut self) {
        let st = Command::new("fusermount3")
            .arg("-u")
            .arg(&self.mnt)
            .status()
            .expect("fusermount3");
        assert!(st.success(), "fusermount3 -u failed");
        if let Some(c) = self.child.take() {
            let out = wait_child(c, "the mount daemon to exit after unmount", OP_DEADLINE);
            assert!(out.status.success(), "daemon exit: {:?}", out.status);
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if is_mounted(&self.mnt) {
            let _ = Command::new("fusermount3")
                .arg("-u")
                .arg(&self.mnt)
                .status();
        }
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
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

pub fn read_state(f: &Path) -> String {
    std::fs::read_to_string(f)
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}
pub fn is_terminal(state: &str) -> bool {
    state.starts_with("done")
        || state.starts_with("finished")
        || state.starts_with("failed")
        || state.starts_with("refused")
}
/// `done: both sync finished at 2026-12-04T10:15:03+01:00: ...` →
/// `2026-12-04T10:15:03+01:00` (local ISO 8601, to the second).
pub fn finished_at(state: &str) -> Option<String> {
    let rest = &state[state.find("finished at ")? + 12..];
    let iso = rest.get(..25)?;
    (iso.as_bytes()[10] == b'T').then(|| iso.to_owned())
}

/// `stat` of the mount point's errno (0 when it answers).
pub fn stat_errno(p: &Path) -> i32 {
    match std::fs::metadata(p) {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// Clears a stale mount left by a killed daemon, as a user would.
pub fn clear_stale(w: &World) {
    assert_eq!(
        stat_errno(&w.mnt),
        libc::ENOTCONN,
        "a killed daemon leaves the mount point stale (Transport endpoint is not connected)"
    );
    // A process of a concurrently running test may still hold a reference
    // for a moment (EBUSY): retry, then detach lazily as a user would
    // (`fusermount3 -uz`, README "Troubleshooting").
    let mut errors = Vec::new();
    for attempt in 0..20 {
        let out = Command::new("fusermount3")
            .arg(if attempt < 19 { "-u" } else { "-uz" })
            .arg(&w.mnt)
            .output()
            .expect("fusermount3");
        if out.status.success() {
            break;
        }
        errors.push(text(&out.stderr));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !is_mounted(&w.mnt),
        "fusermount3 -u did not clear the stale mount: {errors:?}"
    );
    if !errors.is_empty() {
        eprintln!("clear_stale: needed retries: {errors:?}");
    }
}

/// The catalog file opens and SQLite finds it intact.
pub fn assert_catalog_intact(w: &World) {
    let path = w.home.join(".local/share/flickrfs/catalog.sqlite");
    flickrfs::catalog::Catalog::open(&path).expect("the catalog opens after the crash");
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(check, "ok", "catalog integrity");
}
