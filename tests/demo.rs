//! `flickrfs demo` started as a user would, driven through its mount, and
//! stopped with Ctrl-C (SIGINT): nothing may stay mounted or running.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Kills the demo and unmounts if the test fails half-way.
struct DemoGuard {
    child: Option<Child>,
    mountpoint: PathBuf,
}

impl Drop for DemoGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if is_mounted(&self.mountpoint) {
            let _ = Command::new("fusermount3")
                .arg("-u")
                .arg(&self.mountpoint)
                .status();
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.mountpoint)
                .status();
        }
    }
}

fn is_mounted(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let p = path.to_string_lossy();
    mounts
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(p.as_ref()))
}

/// Polls `cond` until it holds; the deadline is generous and only guards
/// against a hang, it is not what the test measures.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn demo_mounts_syncs_and_stops_cleanly_on_ctrl_c() {
    assert!(
        Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing: this test needs FUSE (install fuse3)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("mnt");
    let state = tmp.path().join("state");
    let child = Command::new(env!("CARGO_BIN_EXE_flickrfs"))
        .arg("demo")
        .arg(&mnt)
        .arg("--state")
        .arg(&state)
        .env("HOME", tmp.path())
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_STATE_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting flickrfs demo");
    let mut guard = DemoGuard {
        child: Some(child),
        mountpoint: mnt.clone(),
    };
    let stdout = guard.child.as_mut().unwrap().stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut output = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("demo never became ready; output so far: {output:#?}"));
        let ready = line.contains("Press Ctrl-C");
        output.push(line);
        if ready {
            break;
        }
    }
    let text = output.join("\n");
    assert!(text.contains("through OAuth"), "{text}");
    assert!(text.contains("10 downloads"), "{text}");

    // The first sync brought the demo account's sets down.
    let acct = mnt.join("demo");
    for set in ["Garden", "Holidays 2023", "Winter"] {
        assert!(acct.join(set).is_dir(), "missing set folder {set}");
    }
    let tomatoes = std::fs::read(acct.join("Garden/Tomatoes.jpg")).unwrap();
    assert!(tomatoes.starts_with(&[0xFF, 0xD8]), "not a JPEG");

    // A new photo copied into a set, and a new set, synced up through the control file.
    let mut fresh = tomatoes.clone();
    fresh.extend_from_slice(b"different bytes");
    std::fs::write(acct.join("Garden/Fresh.jpg"), &fresh).unwrap();
    std::fs::create_dir(acct.join("Made by mkdir")).unwrap();
    std::fs::copy(
        acct.join("Garden/Fresh.jpg"),
        acct.join("Made by mkdir/Fresh.jpg"),
    )
    .unwrap();
    std::fs::write(mnt.join(".flickrfs/sync"), "both\n").unwrap();
    let sync_file = mnt.join(".flickrfs/sync");
    wait_until("the sync to finish", || {
        std::fs::read_to_string(&sync_file)
            .map(|s| s.starts_with("done") || s.starts_with("finished") || s.starts_with("failed"))
            .unwrap_or(false)
    });
    let state_line = std::fs::read_to_string(&sync_file).unwrap();
    assert!(state_line.starts_with("done"), "{state_line}");
    assert!(state_line.contains("1 uploads"), "{state_line}");
    assert!(state_line.contains("1 set creations"), "{state_line}");
    let plan = std::fs::read_to_string(mnt.join(".flickrfs/plan")).unwrap();
    assert!(plan.contains("last sync in this mount"), "{plan}");
    assert!(plan.contains("1 uploads"), "{plan}");

    // Ctrl-C: unmounts, stops the emulator, exits 0.
    let pid = guard.child.as_ref().unwrap().id() as i32;
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let status = guard.child.take().unwrap().wait().unwrap();
    assert!(status.success(), "demo exited with {status}");
    assert!(!is_mounted(&mnt), "the demo left {} mounted", mnt.display());
    // The photo written into the mount is a real file in the default folder.
    let folder = state.join("home/Pictures/Flickr/demo");
    let found = walk(&folder)
        .into_iter()
        .any(|p| std::fs::read(&p).map(|b| b == fresh).unwrap_or(false));
    assert!(found, "the copied photo is not in {}", folder.display());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
