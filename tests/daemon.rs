//! The mount daemon as a real child process (`flickrfs mount --foreground`)
//! with an account added through the real OAuth flow:
//! - the catalog under it stays one catalog, whatever else opens and closes
//!   it: `sqlite3` run by a curious user, `flickrfs plan`. Each of those
//!   closing its connection must not make SQLite think it was the last user
//!   and delete the WAL the daemon is writing to (which lost every photo
//!   copied afterwards, issue 16); then a SIGKILL loses nothing;
//! - syncs queued through `.flickrfs/sync` each keep their result in the
//!   status.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/proc.rs"]
mod proc;
use proc::*;
#[path = "common/world.rs"]
mod world;
use world::*;

/// SQLite's shared-lock range on the database file (PENDING_BYTE + 2).
const SHARED_FIRST: u64 = 0x4000_0002;

fn catalog_of(w: &World) -> PathBuf {
    w.home.join(".local/share/flickrfs/catalog.sqlite")
}

fn sibling(db: &Path, suffix: &str) -> PathBuf {
    db.with_file_name(format!("catalog.sqlite{suffix}"))
}

/// The POSIX locks `pid` holds on `path`'s inode, as /proc/locks shows them:
/// (type, first byte).
fn locks_of(pid: i32, path: &Path) -> Vec<(String, u64)> {
    let ino = std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .ino()
        .to_string();
    let pid = pid.to_string();
    std::fs::read_to_string("/proc/locks")
        .expect("/proc/locks")
        .lines()
        .filter_map(|l| {
            // "1: POSIX  ADVISORY  READ 1234 08:01:5678 1073741826 1073742335"
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 8
                && f[1] == "POSIX"
                && f[4] == pid
                && f[5].rsplit(':').next() == Some(ino.as_str()))
            .then(|| (f[3].to_string(), f[6].parse().unwrap_or(0)))
        })
        .collect()
}

fn assert_holds_shared_lock(pid: i32, db: &Path, when: &str) {
    let held = locks_of(pid, db);
    assert!(
        held.iter()
            .any(|(kind, start)| kind == "READ" && *start == SHARED_FIRST),
        "{when}: the mount daemon (pid {pid}) holds no SQLite shared lock on {}: {held:?}",
        db.display()
    );
}

fn sqlite3(db: &Path, sql: &str) -> String {
    let out = run(
        {
            let mut c = Command::new("sqlite3");
            c.arg(db).arg(sql);
            c
        },
        "sqlite3",
        OP_DEADLINE,
    );
    assert!(out.status.success(), "sqlite3 {sql}: {}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

fn require_sqlite3() {
    assert!(
        Command::new("sqlite3").arg("-version").output().is_ok(),
        "these tests need the sqlite3 command (apt-get install sqlite3; scripts/setup.sh installs it)"
    );
}

/// The number of uploads `flickrfs plan` sees in the catalog.
fn planned_uploads(w: &World) -> usize {
    let out = w.flickrfs(&["plan", "--up", "--json"], SYNC_DEADLINE);
    assert!(out.status.success(), "flickrfs plan: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("plan --json");
    let summary = v["accounts"][0]["summary"]
        .as_str()
        .unwrap_or_else(|| panic!("no summary in {v}"));
    summary
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("summary {summary:?} does not start with a count"))
}

fn inode(p: &Path) -> u64 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{} is gone while the mount runs: {e}", p.display()))
        .ino()
}

#[test]
fn the_mount_daemon_holds_sqlites_shared_lock_on_the_catalog_while_mounted() {
    require_sqlite3();
    let w = World::new(None);
    w.add_account();
    let daemon = w.mount();
    let db = catalog_of(&w);
    // Through the daemon's start (three connections: requests, change
    // watcher, prefetch), a write, and another process's open and close.
    assert_holds_shared_lock(daemon.pid(), &db, "just mounted");
    std::fs::create_dir(w.acct().join("Set")).expect("mkdir");
    w.original("a.jpg", 1, 64);
    std::fs::copy(w.photos.join("a.jpg"), w.acct().join("Set/a.jpg")).expect("cp");
    assert_holds_shared_lock(daemon.pid(), &db, "after a copy into the mount");
    assert_eq!(sqlite3(&db, "SELECT count(*) FROM photos"), "1");
    assert_holds_shared_lock(daemon.pid(), &db, "after sqlite3 opened and closed it");
    daemon.unmount();
}

#[test]
fn outside_readers_of_the_catalog_never_lose_a_photo_copied_into_the_mount() {
    require_sqlite3();
    let w = World::new(None);
    w.add_account();
    let mut daemon = w.mount();
    let db = catalog_of(&w);
    std::fs::create_dir(w.acct().join("Set")).expect("mkdir");
    let (wal, shm) = (sibling(&db, "-wal"), sibling(&db, "-shm"));
    let files = (inode(&wal), inode(&shm));

    let mut copied: Vec<String> = Vec::new();
    for round in 0..3u64 {
        for i in 0..2 {
            let name = format!("r{round}_{i}.jpg");
            w.original(&name, 100 * round + i, 64);
            let out = run(
                w.sh(&format!("cp \"$P/{name}\" \"$M/Set/\"")),
                &format!("cp {name}"),
                OP_DEADLINE,
            );
            assert!(out.status.success(), "cp {name}: {}", text(&out.stderr));
            copied.push(name);
        }
        // Outside readers open and close the catalog, several times each.
        for _ in 0..2 {
            assert_eq!(
                sqlite3(&db, "SELECT count(*) FROM photos"),
                copied.len().to_string(),
                "round {round}: sqlite3 sees a different catalog from the mount's"
            );
            assert_eq!(
                planned_uploads(&w),
                copied.len(),
                "round {round}: flickrfs plan sees a different catalog from the mount's"
            );
        }
        // The daemon's WAL and shared memory are the files on disk, never
        // deleted under it.
        assert_eq!(
            (inode(&wal), inode(&shm)),
            files,
            "round {round}: the -wal or -shm file was replaced while the daemon runs"
        );
        assert_holds_shared_lock(daemon.pid(), &db, &format!("round {round}"));
        let listed = std::fs::read_dir(w.acct().join("Set")).expect("ls").count();
        assert_eq!(listed, copied.len(), "round {round}: the mount lists");
    }

    // A crash of the daemon loses none of them.
    daemon.kill();
    clear_stale(&w);
    assert_catalog_intact(&w);
    assert_eq!(
        sqlite3(&db, "SELECT count(*) FROM photos"),
        copied.len().to_string(),
        "after kill -9 the catalog lost photos copied into the mount"
    );
    let daemon = w.mount();
    for name in &copied {
        let out = run(
            w.sh(&format!("cmp \"$M/Set/{name}\" \"$P/{name}\"")),
            &format!("cmp {name}"),
            OP_DEADLINE,
        );
        assert!(
            out.status.success(),
            "{name} after the remount: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(planned_uploads(&w), copied.len());
    daemon.unmount();
}

#[test]
fn a_sync_queued_behind_another_keeps_its_own_result_in_the_status() {
    let w = World::new(None);
    for i in 0..4 {
        w.seed_online(&format!("online_{i}"), 700 + i);
    }
    w.add_account();
    let daemon = w.mount();
    for i in 0..3u64 {
        w.original(&format!("local_{i}.jpg"), 800 + i, 64);
    }
    let out = run(w.sh("cp \"$P\"/local_*.jpg \"$M/\""), "cp", OP_DEADLINE);
    assert!(out.status.success(), "cp: {}", text(&out.stderr));
    // Slow calls keep the first sync running while the second is queued.
    w.emu.set_faults(flickrfs::emulator::FaultConfig {
        latency_ms: 100,
        ..Default::default()
    });
    let control = w.mnt.join(".flickrfs/sync");
    std::fs::write(&control, "up\n").expect("request an upload");
    std::fs::write(&control, "down\n").expect("request a download");
    let status_json = w.mnt.join(".flickrfs/status.json");
    let mut status = serde_json::Value::Null;
    wait_for("both syncs to finish", SYNC_DEADLINE, || {
        status = std::fs::read_to_string(&status_json)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Null);
        status["results"].as_array().is_some_and(|r| r.len() >= 2)
    });
    let results = status["results"].as_array().expect("results");
    assert_eq!(results.len(), 2, "{status:#}");
    let directions: Vec<&str> = results
        .iter()
        .map(|r| r["request"]["direction"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(directions, ["up", "down"], "{status:#}");
    for (r, what) in results.iter().zip(["3 uploads", "4 downloads"]) {
        assert_eq!(r["outcome"], "done", "{r:#}");
        let report = r["report"].to_string();
        assert!(report.contains(what), "no {what:?} in {report}");
    }
    let text = std::fs::read_to_string(w.mnt.join(".flickrfs/status")).expect("status");
    assert!(
        text.contains("done: up sync") && text.contains("done: down sync"),
        "{text}"
    );
    daemon.unmount();
}

fn getxattr(p: &Path, name: &str) -> Option<String> {
    let out = std::process::Command::new("getfattr")
        .args(["--only-values", "-n", name])
        .arg(p)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn auto_sync_uploads_a_copied_photo_and_pulls_a_title_changed_on_flickr() {
    let w = World::new(None);
    w.add_account();
    for (k, v) in [
        ("autosync", "both"),
        ("autosync_delay", "1"),
        ("autosync_interval", "5"),
    ] {
        let out = w.flickrfs(&["config", "set", "alice", k, v], OP_DEADLINE);
        assert!(
            out.status.success(),
            "config set {k}: {}",
            text(&out.stderr)
        );
    }
    let daemon = w.mount();
    w.original("garden.jpg", 77, 64);
    let out = run(w.sh("cp \"$P/garden.jpg\" \"$M/\""), "cp", OP_DEADLINE);
    assert!(out.status.success(), "cp: {}", text(&out.stderr));
    // no trigger: the daemon uploads it once the copy has settled
    wait_for("auto-sync to upload the copy", SYNC_DEADLINE, || {
        w.emu.photos(&w.nsid).len() == 1
    });
    let photo = w.emu.photos(&w.nsid).remove(0);
    let entry = w.acct().join("garden.jpg");
    wait_for("the entry to know its Flickr id", SYNC_DEADLINE, || {
        getxattr(&entry, "user.flickr.id").as_deref() == Some(photo.id.as_str())
    });
    // changed on Flickr: the periodic check brings it down, and the new
    // title renames the entry
    w.emu
        .set_title(&photo.id, "Garden at dusk")
        .expect("retitle on the emulator");
    let renamed = w.acct().join("Garden at dusk.jpg");
    wait_for("auto-sync to pull the new title", SYNC_DEADLINE, || {
        getxattr(&renamed, "user.flickr.title").as_deref() == Some("Garden at dusk")
    });
    wait_for("the old name to go", OP_DEADLINE, || !entry.exists());
    // the title lands mid-sync: wait for that sync to end
    let mut status = String::new();
    wait_for("the status to show the sync done", SYNC_DEADLINE, || {
        status = std::fs::read_to_string(w.mnt.join(".flickrfs/status")).expect("status");
        status.contains("done: both sync")
    });
    assert!(status.contains("auto-sync of alice (both)"), "{status}");
    daemon.unmount();
}
