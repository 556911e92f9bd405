//! The mount as a process: `fs::mount` daemonising (fork, setsid, log file)
//! and in the foreground, ended by SIGTERM/SIGINT, `flickrfs unmount`-style
//! `fs::unmount`. The mounting process is this test binary re-executed with
//! `--exact child_mount --ignored` and its settings in the environment.
//!
//! Also the mount benchmark (`bench_mount`, ignored; run by
//! scripts/bench-mount.sh).

#[path = "common/mount.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use flickrfs::catalog::EntryName;
use flickrfs::fs::MountOptions;
use harness::*;

/// Entry point of the re-executed child: mounts per FLICKRFS_TEST_* and
/// exits. Does nothing when run by hand without them.
#[test]
#[ignore]
fn child_mount() {
    let (Ok(mnt), Ok(cat)) = (
        std::env::var("FLICKRFS_TEST_MNT"),
        std::env::var("FLICKRFS_TEST_CATALOG"),
    ) else {
        return;
    };
    let mut o = MountOptions::new(mnt, cat);
    o.foreground = std::env::var("FLICKRFS_TEST_FOREGROUND").is_ok();
    o.log_file = std::env::var("FLICKRFS_TEST_LOG").ok().map(PathBuf::from);
    o.force_pread = std::env::var("FLICKRFS_TEST_PREAD").is_ok();
    if let Err(e) = flickrfs::fs::mount(o) {
        eprintln!("mount failed: {e}");
        std::process::exit(1);
    }
    std::process::exit(0);
}

pub fn spawn_child(w: &World, foreground: bool, log: &Path, pread: bool) -> Child {
    let exe = std::env::current_exe().expect("current exe");
    let mut c = Command::new(exe);
    c.args([
        "--exact",
        "child_mount",
        "--ignored",
        "--test-threads=1",
        "--nocapture",
        "-q",
    ])
    .env("FLICKRFS_TEST_MNT", &w.mnt)
    .env("FLICKRFS_TEST_CATALOG", &w.catalog_path)
    .env("FLICKRFS_TEST_LOG", log)
    .env("HOME", &w.home)
    .stdin(Stdio::null());
    if foreground {
        c.env("FLICKRFS_TEST_FOREGROUND", "1");
        c.stderr(Stdio::piped());
    }
    if pread {
        c.env("FLICKRFS_TEST_PREAD", "1");
    }
    c.spawn().expect("spawn child mount")
}

/// The pid the daemon wrote in its log.
fn daemon_pid(log: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(log).ok()?;
    let line = text.lines().rev().find(|l| l.contains("(pid "))?;
    let start = line.rfind("(pid ")? + 5;
    line[start..].trim_end_matches(')').parse().ok()
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Unmounts on drop if a test fails half-way.
struct Cleanup(PathBuf);
impl Drop for Cleanup {
    fn drop(&mut self) {
        if is_mounted(&self.0) {
            let _ = Command::new("fusermount3").arg("-u").arg(&self.0).status();
        }
        if is_mounted(&self.0) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

#[test]
fn mount_daemonises_logs_to_the_state_dir_and_sigterm_unmounts() {
    let w = World::new();
    w.add_alice();
    let _c = Cleanup(w.mnt.clone());
    let log = w.home.join(".local/state/flickrfs/mount.log");
    let mut child = spawn_child(&w, false, &log, false);
    let st = child.wait().expect("wait");
    assert!(
        st.success(),
        "the parent returns once the daemon is mounted"
    );
    assert!(is_mounted(&w.mnt), "mounted after mount() returned");
    w.ok("ls -A $M | grep -q alice && echo both > $M/.flickrfs/sync");
    let pid = daemon_pid(&log).expect("the daemon logs its pid");
    assert!(alive(pid));
    // SAFETY: signalling our own daemon.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert!(
        eventually(Duration::from_secs(10), || !is_mounted(&w.mnt)),
        "SIGTERM unmounts"
    );
    assert!(
        eventually(Duration::from_secs(10), || !alive(pid)),
        "and the daemon exits"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("unmounting"), "{text}");
}

#[test]
fn flickrfs_unmount_ends_the_daemon() {
    let w = World::new();
    w.add_alice();
    let _c = Cleanup(w.mnt.clone());
    let log = w.tmp.path().join("log/mount.log");
    assert!(spawn_child(&w, false, &log, false)
        .wait()
        .unwrap()
        .success());
    let pid = daemon_pid(&log).expect("pid");
    flickrfs::fs::unmount(&w.mnt).expect("unmount");
    assert!(!is_mounted(&w.mnt));
    assert!(eventually(Duration::from_secs(10), || !alive(pid)));
}

#[test]
fn the_daemon_reports_a_bad_mount_point_to_the_caller() {
    let w = World::new();
    w.add_alice();
    std::fs::write(w.mnt.join("occupied"), b"x").unwrap();
    let log = w.tmp.path().join("mount.log");
    let out = spawn_child(&w, false, &log, false)
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn foreground_mount_unmounts_on_sigint_and_keeps_what_was_written() {
    let w = World::new();
    let a = w.add_alice();
    let _c = Cleanup(w.mnt.clone());
    w.user_photo("f.jpg", 100_000, 5);
    let log = w.tmp.path().join("unused.log");
    let mut child = spawn_child(&w, true, &log, true);
    assert!(
        eventually(Duration::from_secs(10), || is_mounted(&w.mnt)),
        "mounted"
    );
    w.ok("cp $P/f.jpg $M/alice/");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let st = child.wait().unwrap();
    assert!(st.success(), "clean exit on SIGINT: {st:?}");
    assert!(!is_mounted(&w.mnt));
    let e = w
        .catalog()
        .lookup(a.root, &EntryName::new("f.jpg").unwrap())
        .unwrap()
        .expect("registered");
    assert_eq!(sha1_of(&e.path.unwrap()), sha1_of(&w.photos.join("f.jpg")));
}
