//! Helpers shared by the tests that drive the `flickrfs` binary as child
//! processes: running under deadlines, polling conditions, small real
//! JPEGs, a seeded RNG, and the demo's minimal browser for the OAuth page.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

pub use flickrfs::demo::follow;

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a command to completion under a deadline; a hang kills it and fails.
pub fn run(mut cmd: Command, what: &str, deadline: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    wait_child(child, what, deadline)
}

pub fn wait_child(child: Child, what: &str, deadline: Duration) -> Output {
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(deadline) {
        Ok(out) => out.unwrap_or_else(|e| panic!("{what}: {e}")),
        Err(_) => {
            // SAFETY: killing our own child process.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("HANG: `{what}` did not finish within {deadline:?} (killed)");
        }
    }
}

pub fn wait_for(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !cond() {
        assert!(
            Instant::now() < end,
            "HANG: timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

pub fn is_mounted(p: &Path) -> bool {
    let target = p.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(target.as_str()))
}

pub fn sha1_hex(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(bytes);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The sha1 of the file at `p`.
pub fn sha1_of(p: &Path) -> String {
    let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    sha1_hex(&bytes)
}

/// Checksums of every file under `dir` (relative path → sha1).
pub fn tree_sums(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                let rel = p.strip_prefix(dir).unwrap_or(&p).to_path_buf();
                out.insert(rel, sha1_of(&p));
            }
        }
    }
    out
}

/// A real JPEG (decodable) of seeded noise, `side`×`side` pixels.
pub fn jpeg(seed: u64, side: u32) -> Vec<u8> {
    let mut rng = Xorshift::new(seed);
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        let v = rng.next();
        image::Rgb([v as u8, (v >> 8) as u8, (v >> 16) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

pub struct Xorshift(pub u64);
impl Xorshift {
    pub fn new(seed: u64) -> Xorshift {
        Xorshift(
            seed.wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407)
                | 1,
        )
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The `flickrfs` binary with a private HOME and none of the user's
/// flickrfs environment.
pub fn flickrfs_cmd(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_flickrfs"));
    c.args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_STATE_HOME")
        .env_remove("XDG_CACHE_HOME")
        .env_remove("FLICKRFS_API_KEY")
        .env_remove("FLICKRFS_API_SECRET")
        .env_remove("FLICKRFS_ENDPOINT")
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    c
}

/// `flickrfs ARGS` with `home` as HOME, under `deadline`.
pub fn run_flickrfs(home: &Path, args: &[&str], deadline: Duration) -> Output {
    run(
        flickrfs_cmd(home, args),
        &format!("flickrfs {}", args.join(" ")),
        deadline,
    )
}

/// `config set alice default_folder DIR`, then `flickrfs account add`
/// through the real OAuth dance, the emulator approving on its own.
pub fn add_account_via_cli(
    home: &Path,
    emu: &flickrfs::emulator::Emulator,
    default_folder: &Path,
    deadline: Duration,
) {
    add_account_as(home, emu, "alice", default_folder, deadline)
}

/// Adds the emulator's user `user` (its default folder set first) through
/// `flickrfs account add` and the OAuth dance, signed in as that user.
pub fn add_account_as(
    home: &Path,
    emu: &flickrfs::emulator::Emulator,
    user: &str,
    default_folder: &Path,
    deadline: Duration,
) {
    use std::io::{BufRead, BufReader};
    let folder = default_folder.to_string_lossy().into_owned();
    let out = run(
        flickrfs_cmd(home, &["config", "set", user, "default_folder", &folder]),
        "flickrfs config set",
        deadline,
    );
    assert!(out.status.success(), "config set: {}", text(&out.stderr));
    let key = emu.create_api_key().expect("key");
    let base = emu.base_url();
    let mut child = flickrfs_cmd(
        home,
        &[
            "account",
            "add",
            "--no-browser",
            "--endpoint",
            &base,
            "--api-key",
            &key.key,
            "--api-secret",
            &key.secret,
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("flickrfs account add");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let url = loop {
        let line = rx
            .recv_timeout(deadline)
            .expect("account add never printed the authorisation address");
        if let Some(i) = line.find("http://") {
            if line.contains("/services/oauth/authorize") {
                break line[i..].trim().to_owned();
            }
        }
    };
    // the browser is signed in as `user`
    follow(&format!("{url}&user={user}")).expect("the browser follows the authorisation");
    let out = wait_child(child, "flickrfs account add", deadline);
    assert!(out.status.success(), "account add: {}", text(&out.stdout));
}
