//! Disk full: a small tmpfs as the account's default folder.
//!
//! - `flickrfs sync --down --yes` into a folder too small for the account's
//!   photos fails clearly (non-zero exit, a message naming the lack of
//!   space), leaves no file with a final name and wrong bytes, and a later
//!   sync with space available completes.
//! - `cp` into the mount when the default folder is full fails with ENOSPC,
//!   and the half-written file is not uploaded as a photo.
//!
//! The tests mount tmpfs, so they run as root (as the whole suite does);
//! every mount is undone by a guard.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use flickrfs::emulator::{Emulator, EmulatorConfig, NewEmuPhoto, NewEmuSet};
#[path = "common/proc.rs"]
mod proc;
use proc::*;

const OP_DEADLINE: Duration = Duration::from_secs(60);
const SYNC_DEADLINE: Duration = Duration::from_secs(120);

/// A tmpfs of `size` mounted on `dir`; unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("mkdir");
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount tmpfs");
        assert!(st.success(), "mount -t tmpfs (these tests run as root)");
        Tmpfs(dir.to_path_buf())
    }

    fn grow(&self, size: &str) {
        let st = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("remount tmpfs");
        assert!(st.success(), "remount tmpfs");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if is_mounted(&self.0) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
        if is_mounted(&self.0) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// The mount daemon (`flickrfs mount --foreground`); unmounted on drop.
struct Daemon {
    child: Option<Child>,
    mnt: PathBuf,
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
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        }
    }
}

struct World {
    tmp: tempfile::TempDir,
    home: PathBuf,
    emu: Emulator,
    nsid: String,
    photos: PathBuf,
    mnt: PathBuf,
}

impl World {
    fn new() -> World {
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
            ..Default::default()
        })
        .expect("emulator");
        let user = emu.create_user("alice").expect("user");
        World {
            tmp,
            home,
            emu,
            nsid: user.nsid,
            photos,
            mnt,
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        flickrfs_cmd(&self.home, args)
    }

    fn flickrfs(&self, args: &[&str], deadline: Duration) -> Output {
        run_flickrfs(&self.home, args, deadline)
    }

    /// `config set alice default_folder DIR`, then `account add` through
    /// the real OAuth dance.
    fn add_account(&self, default_folder: &Path) {
        add_account_via_cli(&self.home, &self.emu, default_folder, OP_DEADLINE);
    }

    fn mount(&self) -> Daemon {
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

    fn online(&self, title: &str, seed: u64, side: u32) -> String {
        self.emu
            .add_photo(
                &self.nsid,
                NewEmuPhoto {
                    title: title.into(),
                    bytes: jpeg(seed, side),
                    ..Default::default()
                },
            )
            .expect("add photo")
    }
}

/// A temporary name: hidden (`.tmpXXXX` from tempfile) or a partial suffix.
fn looks_temporary(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.starts_with('.') || name.ends_with(".part") || name.ends_with(".tmp")
}

#[test]
fn a_download_into_a_full_folder_fails_clearly_leaves_no_fake_photo_and_resumes_with_space() {
    let t = Instant::now();
    let w = World::new();
    let folder = w.tmp.path().join("small");
    let fs = Tmpfs::mount(&folder, "200k");
    // About 5 × 60 kB online: more than the 200 kB folder holds.
    let ids: Vec<String> = (0..5)
        .map(|i| w.online(&format!("photo_{i}"), 70 + i, 230))
        .collect();
    w.emu
        .add_photoset(
            &w.nsid,
            NewEmuSet {
                title: "Trip".into(),
                photo_ids: ids[0..2].to_vec(),
                ..Default::default()
            },
        )
        .expect("set");
    let online: BTreeMap<String, String> = w
        .emu
        .photos(&w.nsid)
        .into_iter()
        .map(|p| (p.sha1, p.title))
        .collect();
    let total: usize = ids
        .iter()
        .map(|id| w.emu.photo_bytes(id).expect("bytes").len())
        .sum();
    assert!(
        total > 200 * 1024,
        "the photos ({total} bytes) exceed the folder"
    );
    w.add_account(&folder);

    let out = w.flickrfs(&["sync", "--down", "--yes"], SYNC_DEADLINE);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        !out.status.success(),
        "a sync that could not store every photo exits non-zero:\n{said}"
    );
    let lower = said.to_lowercase();
    assert!(
        lower.contains("no space left") || lower.contains("enospc") || lower.contains("no space"),
        "the failure names the lack of space:\n{said}"
    );
    // No file with a final name and the wrong bytes; temporary files are
    // cleaned (or at least named as temporary).
    let after_full = tree_sums(&folder);
    let size = |rel: &Path| std::fs::metadata(folder.join(rel)).map_or(0, |m| m.len());
    let mut temps = Vec::new();
    for (rel, sum) in &after_full {
        let size = size(rel);
        if looks_temporary(rel) {
            temps.push(format!("{} ({size} bytes)", rel.display()));
            continue;
        }
        assert!(
            online.contains_key(sum),
            "{} ({size} bytes) has a final name but is not a complete photo",
            rel.display()
        );
    }
    assert!(
        temps.is_empty(),
        "temporary files left behind after the failed sync: {temps:?}"
    );
    let complete_before = after_full.len();

    // With space, the next sync completes, and every photo is stored whole.
    fs.grow("8m");
    let out = w.flickrfs(&["sync", "--down", "--yes"], SYNC_DEADLINE);
    assert!(
        out.status.success(),
        "sync with space: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let stored = tree_sums(&folder);
    for (sum, title) in &online {
        assert!(
            stored.values().any(|s| s == sum),
            "{title} is not stored after the second sync: {stored:?}"
        );
    }
    assert!(
        stored.keys().all(|p| !looks_temporary(p)),
        "temporary files left: {stored:?}"
    );
    assert_eq!(stored.len(), online.len(), "one file per photo: {stored:?}");
    drop(fs);
    println!(
        "\ndisk full on download: {complete_before} of {} photos stored before ENOSPC; all after growing; {:.1} s\nfirst sync said:\n{said}",
        online.len(),
        t.elapsed().as_secs_f64()
    );
}

#[test]
fn cp_into_the_mount_on_a_full_folder_fails_with_enospc_and_the_mount_stays_usable() {
    cp_on_full_folder(false);
}

#[test]
fn the_half_file_of_a_cp_that_failed_with_enospc_is_not_uploaded() {
    cp_on_full_folder(true);
}

fn cp_on_full_folder(then_sync: bool) {
    let t = Instant::now();
    let w = World::new();
    let folder = w.tmp.path().join("small");
    let fs = Tmpfs::mount(&folder, "200k");
    w.add_account(&folder);
    let daemon = w.mount();
    let big = jpeg(5, 480);
    assert!(big.len() > 220 * 1024, "{} bytes", big.len());
    std::fs::write(w.photos.join("big.jpg"), &big).expect("write original");
    let small = jpeg(6, 64);
    std::fs::write(w.photos.join("small.jpg"), &small).expect("write original");

    let mut cp = Command::new("cp");
    cp.arg(w.photos.join("big.jpg"))
        .arg(w.mnt.join("alice/"))
        .env("LC_ALL", "C");
    let out = run(cp, "cp big.jpg into the mount", OP_DEADLINE);
    assert!(
        !out.status.success(),
        "cp of a file larger than the folder fails"
    );
    assert!(
        text(&out.stderr).contains("No space left on device"),
        "cp names ENOSPC: {}",
        text(&out.stderr)
    );
    // What the mount shows afterwards is never a complete-looking photo.
    let shown = std::fs::read(w.mnt.join("alice/big.jpg")).ok();
    if let Some(b) = &shown {
        assert_ne!(b, &big, "impossible: the whole file fitted");
    }
    // A smaller photo still fits, and a sync uploads it, but not the half file.
    let mut cp = Command::new("cp");
    cp.arg(w.photos.join("small.jpg"))
        .arg(w.mnt.join("alice/"))
        .env("LC_ALL", "C");
    let out = run(cp, "cp small.jpg into the mount", OP_DEADLINE);
    if !out.status.success() {
        // The half file may hold the space: that is fine, but it must say so.
        assert!(
            text(&out.stderr).contains("No space left on device"),
            "{}",
            text(&out.stderr)
        );
    }
    // The mount still answers.
    std::fs::read_dir(w.mnt.join("alice")).expect("ls alice/ after ENOSPC");
    if !then_sync {
        drop(daemon);
        drop(fs);
        println!(
            "\ndisk full on cp into the mount: ENOSPC; half file shown afterwards: {}; {:.1} s",
            shown
                .as_ref()
                .map(|b| format!("{} bytes of {}", b.len(), big.len()))
                .unwrap_or_else(|| "no".into()),
            t.elapsed().as_secs_f64()
        );
        return;
    }
    let sync = w.mnt.join(".flickrfs/sync");
    std::fs::write(&sync, "up\n").expect("request a sync");
    let mut state = String::new();
    wait_for("the daemon's sync to finish", SYNC_DEADLINE, || {
        state = std::fs::read_to_string(&sync).unwrap_or_default();
        state.starts_with("done") || state.starts_with("finished") || state.starts_with("failed")
    });
    let online = w.emu.photos(&w.nsid);
    let big_sum = sha1_hex(&big);
    for p in &online {
        assert!(
            p.sha1 == sha1_hex(&small) || p.sha1 == big_sum,
            "a partial file was uploaded as a photo ({} bytes shown in the mount); sync: {state}",
            shown.as_ref().map(Vec::len).unwrap_or(0)
        );
    }
    drop(daemon);
    drop(fs);
    println!(
        "\ndisk full on cp into the mount: ENOSPC; half file shown afterwards: {}; photos uploaded: {}; {:.1} s",
        shown
            .as_ref()
            .map(|b| format!("{} bytes", b.len()))
            .unwrap_or_else(|| "no".into()),
        online.len(),
        t.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// Helpers (the same as in tests/concurrency.rs)
// ---------------------------------------------------------------------------
