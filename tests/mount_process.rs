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
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .try_init();
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
    spawn_child_as(w, foreground, log, pread, None)
}

/// [`spawn_child`] as the user `as_user` (uid, gid) when given: an
/// ordinary user's mount goes through `fusermount3`, without passthrough.
pub fn spawn_child_as(
    w: &World,
    foreground: bool,
    log: &Path,
    pread: bool,
    as_user: Option<(u32, u32)>,
) -> Child {
    use std::os::unix::process::CommandExt;
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
        // the foreground daemon logs to stderr: into the log file, never a
        // pipe nobody reads
        if let Some(f) = log.parent().and_then(|d| {
            std::fs::create_dir_all(d).ok()?;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .ok()
        }) {
            c.stderr(f);
        }
    }
    if pread {
        c.env("FLICKRFS_TEST_PREAD", "1");
    }
    if let Some((uid, gid)) = as_user {
        c.uid(uid).gid(gid);
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

// ----- the benchmark (run by scripts/bench-mount.sh) ------------------------

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Seconds to run a shell command (best of `runs`).
fn time_sh(w: &World, script: &str, runs: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        let t = std::time::Instant::now();
        w.ok(script);
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn rss_mb(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

struct Row {
    what: String,
    ours: String,
    peer: String,
    ratio: String,
}

fn stop_child(w: &World, mut child: Child) {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let _ = child.wait();
    assert!(eventually(Duration::from_secs(10), || !is_mounted(&w.mnt)));
}

#[test]
#[ignore]
fn bench_mount() {
    use flickrfs::media::{Checksum, FileFacts, MediaKind};
    let photos = env_num("BENCH_PHOTOS", 100_000);
    let sets = env_num("BENCH_SETS", 100).max(1);
    let read_mb = env_num("BENCH_READ_MB", 1024);
    // BENCH_DIR keeps the world (and its seeded catalog) between runs
    let w = match std::env::var_os("BENCH_DIR") {
        Some(d) => World::at(Path::new(&d)),
        None => World::new(),
    };
    let cat = w.catalog();
    let a = match cat.accounts().unwrap().into_iter().next() {
        Some(a) => a,
        None => w.add_alice(),
    };
    let seeded_before = cat.photos(a.id).unwrap().len();
    let _c = Cleanup(w.mnt.clone());
    let mut rows = Vec::new();

    // -- sequential reads of a large file ------------------------------
    let big = w.photos.join("big.jpg");
    if seeded_before == 0 {
        w.ok(&format!(
            "head -c {} /dev/urandom > {} && sync",
            read_mb * 1024 * 1024,
            big.display()
        ));
    }
    let facts = |size: u64, i: usize| FileFacts {
        size,
        mtime_ns: 0,
        checksum: Checksum(format!("{:040x}", i + 1)),
        kind: MediaKind::Jpeg,
        exif: Default::default(),
    };
    if seeded_before == 0 {
        cat.add_file(
            a.root,
            &EntryName::new("big.jpg").unwrap(),
            &big,
            Some(facts(read_mb as u64 * 1024 * 1024, 10_000_000)),
        )
        .unwrap();
    }
    let read_mb = (std::fs::metadata(&big).unwrap().len() / (1024 * 1024)) as usize;
    let dd = |f: &str| format!("dd if={f} of=/dev/null bs=1M status=none");
    let direct = {
        w.ok(&dd("$P/big.jpg")); // warm the page cache
        time_sh(&w, &dd("$P/big.jpg"), 3)
    };
    let gbs = |s: f64| format!("{:.2} GB/s", read_mb as f64 / 1024.0 / s);
    let log = w.tmp.path().join("bench.log");
    for (label, pread) in [("passthrough", false), ("pread", true)] {
        // "first open": best of three fresh mounts (nothing cached by the
        // mount); "repeat open": best of three on the last one
        let mut first = f64::MAX;
        let mut again = f64::MAX;
        for i in 0..3 {
            let child = spawn_child(&w, true, &log, pread);
            assert!(eventually(Duration::from_secs(10), || is_mounted(&w.mnt)));
            first = first.min(time_sh(&w, &dd("$M/alice/big.jpg"), 1));
            if i == 2 {
                again = time_sh(&w, &dd("$M/alice/big.jpg"), 3);
            }
            stop_child(&w, child);
        }
        rows.push(Row {
            what: format!("read {read_mb} MiB via mount, {label}, first open"),
            ours: gbs(first),
            peer: format!("direct {}", gbs(direct)),
            ratio: format!("{:.2}x", direct / first),
        });
        rows.push(Row {
            what: format!("read {read_mb} MiB via mount, {label}, repeat open"),
            ours: gbs(again),
            peer: format!("direct {}", gbs(direct)),
            ratio: format!("{:.2}x", direct / again),
        });
    }
    let bindmnt = w.tmp.path().join("bindfs");
    std::fs::create_dir_all(&bindmnt).unwrap();
    let _b = Cleanup(bindmnt.clone());
    let mut bind_first = f64::MAX;
    let mut bind = f64::MAX;
    for i in 0..3 {
        w.ok(&format!("bindfs --no-allow-other $P {}", bindmnt.display()));
        let f = dd(&format!("{}/big.jpg", bindmnt.display()));
        bind_first = bind_first.min(time_sh(&w, &f, 1));
        if i == 2 {
            bind = time_sh(&w, &f, 3);
        }
        w.ok(&format!("fusermount3 -u {}", bindmnt.display()));
    }
    rows.push(Row {
        what: format!("read {read_mb} MiB via bindfs (peer), first / repeat"),
        ours: format!("{} / {}", gbs(bind_first), gbs(bind)),
        peer: format!("direct {}", gbs(direct)),
        ratio: format!("{:.2}x / {:.2}x", direct / bind_first, direct / bind),
    });

    // -- a large catalog: metadata walk and memory ---------------------
    let seed_t = std::time::Instant::now();
    let per_set = photos.div_ceil(sets);
    let mut n = 0;
    let to_seed = if seeded_before > 1 { 0 } else { sets };
    let photos = if seeded_before > 1 {
        seeded_before - 1
    } else {
        photos
    };
    for s in 0..to_seed {
        let dir = w.photos.join(format!("set{s:04}"));
        std::fs::create_dir_all(&dir).unwrap();
        let set = cat
            .mkdir(a.id, &EntryName::new(&format!("Set {s:04}")).unwrap())
            .unwrap();
        for i in 0..per_set {
            if n == photos {
                break;
            }
            let name = format!("IMG_{n:06}.jpg");
            let p = dir.join(&name);
            std::fs::write(&p, format!("photo {n}")).unwrap();
            cat.add_file(
                set.id,
                &EntryName::new(&name).unwrap(),
                &p,
                Some(facts(0, n)),
            )
            .unwrap_or_else(|e| panic!("seeding {i}: {e}"));
            n += 1;
        }
    }
    let seeded = seed_t.elapsed().as_secs_f64();
    let walk = |root: &str| format!("find {root} -type f -printf '%s\\n' | wc -l");
    let native = time_sh(&w, &walk("$P"), 3);
    // A fresh mount starts with no dentries or inodes in the kernel: the
    // walk makes the kernel build 100,000 of them. Best of three fresh
    // mounts; the last one stays up for the warm walks and the memory.
    let mut fuse_first = f64::MAX;
    let mut mounted = None;
    for i in 0..3 {
        let child = spawn_child(&w, true, &log, false);
        assert!(eventually(Duration::from_secs(10), || is_mounted(&w.mnt)));
        let rss_idle = rss_mb(child.id());
        fuse_first = fuse_first.min(time_sh(&w, &walk("$M/alice"), 1));
        if i == 2 {
            mounted = Some((child, rss_idle));
        } else {
            stop_child(&w, child);
        }
    }
    let (child, rss_idle) = mounted.unwrap();
    let fuse_again = time_sh(&w, &walk("$M/alice"), 3);
    let ls_native = time_sh(&w, "ls -lR $P > /dev/null", 3);
    let ls_fuse = time_sh(&w, "ls -lR $M/alice > /dev/null", 3);
    let counted: usize = w.ok(&walk("$M/alice")).trim().parse().unwrap();
    let rss = rss_mb(child.id());
    stop_child(&w, child);
    assert_eq!(counted, photos + 1, "every photo is listed");
    // Like for like: the native tree with the kernel's dentry and inode
    // caches dropped (needs root), and a peer FUSE filesystem mounted fresh
    // over the same tree.
    let native_cold = (0..3)
        .map_while(|_| {
            w.ok("sync");
            std::fs::write("/proc/sys/vm/drop_caches", "2").ok()?;
            Some(time_sh(&w, &walk("$P"), 1))
        })
        .reduce(f64::min);
    let mut bind_walk = f64::MAX;
    for _ in 0..3 {
        w.ok(&format!("bindfs --no-allow-other $P {}", bindmnt.display()));
        bind_walk = bind_walk.min(time_sh(&w, &walk(&bindmnt.display().to_string()), 1));
        w.ok(&format!("fusermount3 -u {}", bindmnt.display()));
    }
    rows.push(Row {
        what: format!("find -type f -printf %s over {photos} photos, fresh mount"),
        ours: format!("{fuse_first:.2} s"),
        peer: format!("native, caches warm {native:.2} s"),
        ratio: format!("{:.2}x", fuse_first / native),
    });
    if let Some(cold) = native_cold {
        rows.push(Row {
            what: "  same, against native with dentry/inode caches dropped".into(),
            ours: format!("{fuse_first:.2} s"),
            peer: format!("native, caches cold {cold:.2} s"),
            ratio: format!("{:.2}x", fuse_first / cold),
        });
    }
    rows.push(Row {
        what: "  same, against bindfs (peer) mounted fresh".into(),
        ours: format!("{fuse_first:.2} s"),
        peer: format!("bindfs {bind_walk:.2} s"),
        ratio: format!("{:.2}x", fuse_first / bind_walk),
    });
    rows.push(Row {
        what: "  same, second walk (kernel caches warm)".into(),
        ours: format!("{fuse_again:.2} s"),
        peer: format!("native, caches warm {native:.2} s"),
        ratio: format!("{:.2}x", fuse_again / native),
    });
    rows.push(Row {
        what: format!("ls -lR over {photos} photos"),
        ours: format!("{ls_fuse:.2} s"),
        peer: format!("native {ls_native:.2} s"),
        ratio: format!("{:.2}x", ls_fuse / ls_native),
    });
    rows.push(Row {
        what: format!("daemon RSS with {photos} photos (idle / after walks)"),
        ours: format!("{rss_idle:.0} / {rss:.0} MB"),
        peer: "target 150 MB".into(),
        ratio: format!("{:.2}x", rss / 150.0),
    });

    println!();
    println!("flickrfs mount benchmark ({photos} photos in {sets} sets; catalog seeded in {seeded:.1} s)");
    println!("| measurement | flickrfs | comparison (same run) | ratio |");
    println!("|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} |", r.what, r.ours, r.peer, r.ratio);
    }
}

// ----- the read path without root (scripts/bench-mount.sh read-user) --------

/// uid and gid of the user `name`.
fn user_ids(name: &str) -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, name]).output().expect("id");
        assert!(
            out.status.success(),
            "no user {name}: create it (useradd -m {name})"
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("a number")
    };
    (id("-u"), id("-g"))
}

/// Best of `runs` of `script` after dropping the kernel's caches (page
/// cache, dentries and inodes) each time: a cold read.
fn time_cold(w: &World, script: &str, runs: usize) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..runs {
        w.ok("sync");
        std::fs::write("/proc/sys/vm/drop_caches", "3").expect("drop caches (needs root)");
        best = best.min(time_sh(w, script, 1));
    }
    best
}

/// The read path most people get: the mount, bindfs and every read run as
/// an ordinary user (BENCH_USER, default `benchuser`), so the mount goes
/// through `fusermount3` and reads are served by `pread` (no passthrough,
/// which needs CAP_SYS_ADMIN). A first read of a large file (the backing
/// file in the page cache, the mount fresh) and a cold read of a folder
/// of photos (caches dropped), against direct reads and bindfs in the same
/// run; then the same rows with the mount run by root (passthrough).
/// The test runs as root: it drops the caches between runs.
#[test]
#[ignore]
fn bench_read_user() {
    use flickrfs::media::{Checksum, FileFacts, MediaKind};
    let user = std::env::var("BENCH_USER").unwrap_or_else(|_| "benchuser".into());
    let (uid, gid) = user_ids(&user);
    let read_mb = env_num("BENCH_READ_MB", 1024);
    let n_photos = env_num("BENCH_COLD_PHOTOS", 200);
    let photo_mb = env_num("BENCH_COLD_MB", 5);
    let runs = env_num("BENCH_RUNS", 3);
    let w = World::new();
    let cat = w.catalog();
    let a = w.add_alice();
    let _c = Cleanup(w.mnt.clone());
    let facts = |size: u64, i: usize| FileFacts {
        size,
        mtime_ns: 0,
        checksum: Checksum(format!("{:040x}", i + 1)),
        kind: MediaKind::Jpeg,
        exif: Default::default(),
    };
    let big = w.photos.join("big.jpg");
    w.ok(&format!(
        "head -c {} /dev/urandom > {}",
        read_mb * 1024 * 1024,
        big.display()
    ));
    cat.add_file(
        a.root,
        &EntryName::new("big.jpg").unwrap(),
        &big,
        Some(facts(read_mb as u64 * 1024 * 1024, 0)),
    )
    .unwrap();
    let cold_dir = w.photos.join("cold");
    std::fs::create_dir_all(&cold_dir).unwrap();
    let set = cat.mkdir(a.id, &EntryName::new("Cold").unwrap()).unwrap();
    for i in 0..n_photos {
        let name = format!("IMG_{i:04}.jpg");
        let p = cold_dir.join(&name);
        w.ok(&format!(
            "head -c {} /dev/urandom > {}",
            photo_mb * 1024 * 1024,
            p.display()
        ));
        cat.add_file(
            set.id,
            &EntryName::new(&name).unwrap(),
            &p,
            Some(facts((photo_mb * 1024 * 1024) as u64, i + 1)),
        )
        .unwrap();
    }
    drop(cat);
    w.ok("sync");
    // the user owns the world: its catalog, photos and mount point
    w.ok(&format!("chown -R {uid}:{gid} {}", w.tmp.path().display()));
    let as_user = |cmd: &str| format!("setpriv --reuid={uid} --regid={gid} --clear-groups {cmd}");
    let dd_as = |user: bool, f: &str| {
        let cmd = format!("dd if={f} of=/dev/null bs=1M status=none");
        if user {
            as_user(&cmd)
        } else {
            cmd
        }
    };
    let cat_all_as = |user: bool, dir: &str| {
        let cmd = format!("sh -c 'cat \"$0\"/* > /dev/null' {dir}");
        if user {
            as_user(&cmd)
        } else {
            cmd
        }
    };
    let dd = |f: &str| dd_as(true, f);
    let cat_all = |dir: &str| cat_all_as(true, dir);
    let gbs = |mb: usize, s: f64| format!("{:.2} GB/s", mb as f64 / 1024.0 / s);
    let cold_mb = n_photos * photo_mb;

    // direct, as the user
    w.ok(&dd("$P/big.jpg")); // warm the page cache
    let direct = time_sh(&w, &dd("$P/big.jpg"), runs);
    let direct_cold = time_cold(&w, &cat_all("$P/cold"), runs);

    // bindfs, mounted by the user
    let bindmnt = w.tmp.path().join("bindfs");
    std::fs::create_dir_all(&bindmnt).unwrap();
    w.ok(&format!("chown {uid}:{gid} {}", bindmnt.display()));
    let _b = Cleanup(bindmnt.clone());
    let bind_mount = as_user(&format!("bindfs --no-allow-other $P {}", bindmnt.display()));
    let bind_umount = as_user(&format!("fusermount3 -u {}", bindmnt.display()));
    let mut bind_first = f64::MAX;
    for _ in 0..runs {
        w.ok(&dd("$P/big.jpg"));
        w.ok(&bind_mount);
        bind_first = bind_first.min(time_sh(
            &w,
            &dd(&format!("{}/big.jpg", bindmnt.display())),
            1,
        ));
        w.ok(&bind_umount);
    }
    w.ok(&bind_mount);
    let bind_cold = time_cold(&w, &cat_all(&format!("{}/cold", bindmnt.display())), runs);
    w.ok(&bind_umount);

    // flickrfs, mounted by the user (pread) and by root (passthrough)
    let log = w.tmp.path().join("bench.log");
    let mut ours = Vec::new();
    for (label, who) in [
        ("user, pread", Some((uid, gid))),
        ("root, passthrough", None),
    ] {
        let mut first = f64::MAX;
        for _ in 0..runs {
            w.ok(&dd("$P/big.jpg"));
            let child = spawn_child_as(&w, true, &log, false, who);
            assert!(eventually(Duration::from_secs(10), || is_mounted(&w.mnt)));
            first = first.min(time_sh(&w, &dd_as(who.is_some(), "$M/alice/big.jpg"), 1));
            stop_child(&w, child);
        }
        let child = spawn_child_as(&w, true, &log, false, who);
        assert!(eventually(Duration::from_secs(10), || is_mounted(&w.mnt)));
        let cold = time_cold(&w, &cat_all_as(who.is_some(), "$M/alice/Cold"), runs);
        stop_child(&w, child);
        ours.push((label, first, cold));
    }

    println!();
    println!(
        "flickrfs read benchmark, reads as user {user} (best of {runs}; direct and bindfs in the same run)"
    );
    println!("| measurement | flickrfs | direct | bindfs (as {user}) | vs direct | vs bindfs |");
    println!("|---|---|---|---|---|---|");
    for (label, first, cold) in ours {
        println!(
            "| first read of {read_mb} MiB, mount by {label} | {} | {} | {} | {:.2}x | {:.2}x |",
            gbs(read_mb, first),
            gbs(read_mb, direct),
            gbs(read_mb, bind_first),
            direct / first,
            bind_first / first,
        );
        println!(
            "| cold read of {n_photos} photos of {photo_mb} MB, mount by {label} | {} ({cold:.2} s) | {} ({direct_cold:.2} s) | {} ({bind_cold:.2} s) | {:.2}x | {:.2}x |",
            gbs(cold_mb, cold),
            gbs(cold_mb, direct_cold),
            gbs(cold_mb, bind_cold),
            direct_cold / cold,
            bind_cold / cold,
        );
    }
}

// ----- metadata at a million photos (scripts/bench-mount.sh metadata) ------

/// Fills alice's catalog with `photos` photos in sets of `per_set`, in one
/// transaction of plain SQL (a million `add_file` calls would take an
/// hour): the rows `add_file` would write for a photo with a file, the
/// files themselves absent (stat, lookup and listing never open them).
fn seed_catalog_sql(w: &World, photos: usize, per_set: usize) {
    let a = w.add_alice();
    let flickrfs::catalog::CatalogConnection { mut conn, _live } =
        flickrfs::catalog::CatalogConnection::open(&w.catalog_path).unwrap();
    let tx = conn.transaction().unwrap();
    let sets = photos.div_ceil(per_set);
    let dir = w.photos.display().to_string();
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2) \
         INSERT INTO collections (id, account_id, kind, name, title) \
         SELECT 100000 + i, ?1, 'set', printf('Set %04d', i), printf('Set %04d', i) FROM n",
        rusqlite::params![a.id.0, sets as i64],
    )
    .unwrap();
    tx.execute(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2) \
         INSERT INTO photos (id, account_id, path, size, mtime_ns, checksum, kind, title) \
         SELECT 1000 + i, ?1, CAST(printf('%s/IMG_%07d.jpg', ?3, i) AS BLOB), 5000000, \
                1600000000000000000 + i, printf('%040x', i + 1), 'jpeg', printf('IMG_%07d', i) FROM n",
        rusqlite::params![a.id.0, photos as i64, dir],
    )
    .unwrap();
    tx.execute(
        "INSERT INTO memberships (collection_id, name, photo_id) \
         SELECT 100000 + (id - 1000) / ?1, printf('IMG_%07d.jpg', id - 1000), id FROM photos \
         WHERE id >= 1000",
        [per_set as i64],
    )
    .unwrap();
    tx.commit().unwrap();
}

/// Stat, lookup and listing through the mount, and the daemon's memory,
/// with the catalog at each size of BENCH_SIZES (default 10,000 and
/// 1,000,000 photos, in sets of 1,000): the same work should cost the same
/// at every size. Cold: a fresh mount (the kernel knows no entry yet).
#[test]
#[ignore]
fn bench_metadata() {
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "10000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let per_set = env_num("BENCH_SET_SIZE", 1000);
    let runs = env_num("BENCH_RUNS", 3);
    let mut rows: Vec<(usize, f64, f64, f64, f64, f64, f64)> = Vec::new();
    for &photos in &sizes {
        let w = World::new();
        let _c = Cleanup(w.mnt.clone());
        let t = std::time::Instant::now();
        seed_catalog_sql(&w, photos, per_set);
        let seeded = t.elapsed().as_secs_f64();
        let sets = photos.div_ceil(per_set);
        // a set in the middle, and 1,000 photos spread over every set
        // (10 folders at 10,000 photos, 1,000 at a million)
        let mid = format!("$M/alice/'Set {:04}'", sets / 2);
        let spread: Vec<String> = (0..1000)
            .map(|k| {
                let i = (k * photos / 1000 + k % per_set).min(photos - 1);
                format!("$M/alice/'Set {:04}'/IMG_{i:07}.jpg", i / per_set)
            })
            .collect();
        let stat_spread = format!("stat -c %s {} > /dev/null", spread.join(" "));
        let list = format!("ls -l {mid} > /dev/null");
        let log = w.tmp.path().join("bench.log");
        let (mut list_cold, mut stat_cold, mut list_warm, mut stat_warm) =
            (f64::MAX, f64::MAX, f64::MAX, f64::MAX);
        let mut rss = (0.0, 0.0);
        for i in 0..runs {
            let child = spawn_child(&w, true, &log, false);
            assert!(eventually(Duration::from_secs(60), || is_mounted(&w.mnt)));
            let idle = rss_mb(child.id());
            list_cold = list_cold.min(time_sh(&w, &list, 1));
            stat_cold = stat_cold.min(time_sh(&w, &stat_spread, 1));
            list_warm = list_warm.min(time_sh(&w, &list, 3));
            stat_warm = stat_warm.min(time_sh(&w, &stat_spread, 3));
            if i + 1 == runs {
                rss = (idle, rss_mb(child.id()));
            }
            stop_child(&w, child);
        }
        let _ = seeded;
        rows.push((
            photos, list_cold, stat_cold, list_warm, stat_warm, rss.0, rss.1,
        ));
    }
    println!();
    println!(
        "flickrfs metadata benchmark (sets of {per_set}; best of {runs} fresh mounts; ratio: against the smallest catalog)"
    );
    println!("| photos in the catalog | ls -l of a set of {per_set}, cold / warm | stat of 1,000 photos across sets, cold / warm | daemon RSS idle / after | ratio cold listing / cold stats |");
    println!("|---|---|---|---|---|");
    let (b_list, b_stat) = (rows[0].1, rows[0].2);
    for (photos, lc, sc, lw, sw, ri, ra) in rows {
        println!(
            "| {photos} | {:.1} / {:.1} ms | {:.1} / {:.1} ms | {ri:.0} / {ra:.0} MB (target 150) | {:.2}x / {:.2}x |",
            lc * 1e3,
            lw * 1e3,
            sc * 1e3,
            sw * 1e3,
            lc / b_list,
            sc / b_stat,
        );
    }
}
