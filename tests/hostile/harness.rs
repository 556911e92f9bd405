//! Shared harness of tests/hostile.rs and tests/security.rs: a temp world
//! with its own HOME (XDG dirs under it), an in-process emulator, an
//! account `alice` stored as `flickrfs account add` would store it, the
//! `flickrfs` binary run as a child, a `flickrfs mount --foreground` child
//! with a guard that unmounts and reaps it, and a snapshot of every path
//! under the temp root to prove nothing was written outside the folders
//! flickrfs may write to.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flickrfs::accounts::{CredentialStore, StoredAccount};
use flickrfs::config::{Config, Paths};
use flickrfs::emulator::{Emulator, EmulatorConfig};
use flickrfs::flickr::AccessToken;
use flickrfs::model::Nsid;

pub const DEADLINE: Duration = Duration::from_secs(60);

pub struct World {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    pub paths: Paths,
    pub emu: Emulator,
    pub nsid: String,
    pub api_key: String,
    pub api_secret: String,
    pub token: String,
    pub token_secret: String,
    /// The account's default folder (`~/Pictures/Flickr/alice`).
    pub folder: PathBuf,
    pub mnt: PathBuf,
    /// The test's own input files (a user's folder, never written by flickrfs).
    pub inputs: PathBuf,
}

impl World {
    /// Emulator + user `alice` + a write token; config.toml and
    /// credentials.toml written; nothing synced yet.
    pub fn new() -> World {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().to_path_buf();
        let home = root.join("home");
        let mnt = root.join("mnt");
        let inputs = root.join("inputs");
        for d in [&home, &mnt, &inputs] {
            std::fs::create_dir_all(d).expect("mkdir");
        }
        let emu = Emulator::start(EmulatorConfig {
            state_dir: root.join("emu"),
            bind: "127.0.0.1:0".parse().expect("addr"),
            auto_approve: true,
            ..Default::default()
        })
        .expect("emulator");
        let key = emu.create_api_key().expect("key");
        let user = emu.create_user("alice").expect("user");
        let tok = emu
            .issue_token(&key.key, &user.nsid, "write")
            .expect("token");
        let paths = paths_of(&home);
        let w = World {
            folder: home.join("Pictures/Flickr/alice"),
            paths,
            nsid: user.nsid,
            api_key: key.key,
            api_secret: key.secret,
            token: tok.token,
            token_secret: tok.secret,
            tmp,
            root,
            home,
            emu,
            mnt,
            inputs,
        };
        w.write_config();
        w
    }

    /// Like [`World::new`], but flickrfs's own folders do not exist yet:
    /// whatever creates them is flickrfs.
    pub fn bare() -> World {
        let w = World::new();
        std::fs::remove_dir_all(w.home.join(".config")).expect("rm config");
        std::fs::remove_dir_all(w.home.join(".local")).expect("rm local");
        w
    }

    /// A world with config.toml (API key and endpoint) but no account.
    pub fn write_config(&self) {
        self.paths.ensure().expect("dirs");
        let mut config = Config::default();
        config.api.key = Some(self.api_key.clone());
        config.api.secret = Some(self.api_secret.clone());
        config.api.endpoint = Some(self.emu.base_url());
        config.save(&self.paths.config_file()).expect("config");
    }

    /// Stores `alice`'s token as `account add` would.
    pub fn store_account(&self) {
        CredentialStore::new(self.paths.credentials_file())
            .upsert(StoredAccount {
                name: "alice".into(),
                nsid: Nsid::new(self.nsid.clone()),
                username: "alice".into(),
                fullname: String::new(),
                token: AccessToken {
                    token: self.token.clone(),
                    secret: self.token_secret.clone(),
                },
                api: None,
            })
            .expect("store account");
    }

    /// Everything a log, status or error message must never contain.
    pub fn secrets(&self) -> Vec<(&'static str, String)> {
        vec![
            ("API secret", self.api_secret.clone()),
            ("token", self.token.clone()),
            ("token secret", self.token_secret.clone()),
        ]
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_flickrfs"));
        c.args(args)
            .current_dir(&self.root)
            .env("HOME", &self.home)
            .env_remove("XDG_CONFIG_HOME")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_STATE_HOME")
            .env_remove("FLICKRFS_API_KEY")
            .env_remove("FLICKRFS_API_SECRET")
            .env_remove("FLICKRFS_ENDPOINT")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null());
        c
    }

    /// Runs `flickrfs ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running flickrfs")
    }

    /// Runs `flickrfs ARGS` and insists on exit 0, no panic.
    pub fn run_ok(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert_no_panic(&out);
        assert!(
            out.status.success(),
            "flickrfs {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `flickrfs mount --foreground MNT` as a child, stderr to `log`;
    /// returns once the mount is live.
    pub fn mount(&self, extra_env: &[(&str, &str)], log: &Path) -> MountChild {
        let err = std::fs::File::create(log).expect("log file");
        let mut c = self.command(&["mount", "--foreground"]);
        c.arg(&self.mnt).stdout(Stdio::null()).stderr(err);
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let child = c.spawn().expect("spawn mount");
        let mut m = MountChild {
            child: Some(child),
            mnt: self.mnt.clone(),
        };
        let start = Instant::now();
        while !is_mounted(&self.mnt) {
            if let Some(c) = m.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    panic!(
                        "mount exited with {status}: {}",
                        std::fs::read_to_string(log).unwrap_or_default()
                    );
                }
            }
            assert!(start.elapsed() < DEADLINE, "mount never came up");
            std::thread::sleep(Duration::from_millis(20));
        }
        m
    }

    /// Every path under the temp root, except inside the mountpoint.
    pub fn snapshot(&self) -> BTreeSet<PathBuf> {
        let mut out = BTreeSet::new();
        let mut stack = vec![self.root.clone()];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                out.insert(p.clone());
                let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
                if is_dir && p != self.mnt {
                    stack.push(p);
                }
            }
        }
        out
    }

    /// Every path that appeared since `before` lies where flickrfs may write.
    pub fn assert_only_allowed_writes(&self, before: &BTreeSet<PathBuf>) {
        let allowed: Vec<PathBuf> = vec![
            self.paths.config_dir.clone(),
            self.paths.data_dir.clone(),
            self.paths.state_dir.clone(),
            self.folder.clone(),
            self.mnt.clone(),
            self.root.join("emu"),
            self.inputs.clone(),
            self.root.join("logs"),
        ];
        // Parents of the allowed folders may be created too.
        let parents: BTreeSet<PathBuf> = allowed
            .iter()
            .flat_map(|a| a.ancestors().map(Path::to_path_buf).collect::<Vec<_>>())
            .collect();
        let after = self.snapshot();
        let stray: Vec<&PathBuf> = after
            .difference(before)
            .filter(|p| !parents.contains(*p) && !allowed.iter().any(|a| p.starts_with(a)))
            .collect();
        assert!(
            stray.is_empty(),
            "written outside flickrfs's folders: {stray:#?}"
        );
    }

    /// No code path asked the emulator to delete a photo.
    pub fn assert_no_photo_deletion(&self) {
        let deletes: Vec<String> = self
            .emu
            .request_log()
            .into_iter()
            .map(|c| c.method)
            .filter(|m| m.contains("delete") && m.contains("photos."))
            .filter(|m| m != "flickr.photosets.delete")
            .collect();
        assert!(deletes.is_empty(), "photo deletions: {deletes:?}");
    }
}

pub fn paths_of(home: &Path) -> Paths {
    Paths {
        config_dir: home.join(".config/flickrfs"),
        data_dir: home.join(".local/share/flickrfs"),
        state_dir: home.join(".local/state/flickrfs"),
        home: home.to_path_buf(),
    }
}

pub fn assert_no_panic(out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "panic: {err}");
}

/// The running `flickrfs mount --foreground`; unmounts and reaps on drop.
pub struct MountChild {
    pub child: Option<Child>,
    pub mnt: PathBuf,
}

impl MountChild {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Unmounts, and waits for the daemon to exit on its own.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("fusermount3")
            .arg("-u")
            .arg(&self.mnt)
            .status();
        let mut child = self.child.take().expect("child");
        let start = Instant::now();
        loop {
            if let Ok(Some(s)) = child.try_wait() {
                return s;
            }
            if start.elapsed() > DEADLINE {
                let _ = child.kill();
                return child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for MountChild {
    fn drop(&mut self) {
        if is_mounted(&self.mnt) {
            let _ = Command::new("fusermount3")
                .arg("-u")
                .arg(&self.mnt)
                .status();
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if is_mounted(&self.mnt) {
            let _ = Command::new("fusermount3")
                .arg("-uz")
                .arg(&self.mnt)
                .status();
        }
        if is_mounted(&self.mnt) {
            let _ = Command::new("umount").arg("-l").arg(&self.mnt).status();
        }
    }
}

/// The mountinfo line of `p`, if mounted.
pub fn mountinfo_line(p: &Path) -> Option<String> {
    let canon = std::fs::canonicalize(p).ok()?;
    let target = canon.to_string_lossy().into_owned();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(target.as_str()))
        .map(str::to_owned)
}

pub fn is_mounted(p: &Path) -> bool {
    mountinfo_line(p).is_some()
}

/// Polls `f` until it holds; the deadline only guards against a hang.
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A small real JPEG of one colour.
pub fn jpeg(seed: u32) -> Vec<u8> {
    let rgb = [
        (seed * 37 % 256) as u8,
        (seed * 91 % 256) as u8,
        (seed * 151 % 256) as u8,
    ];
    let img = image::RgbImage::from_fn(16, 12, |x, y| {
        image::Rgb([
            rgb[0].wrapping_add(x as u8),
            rgb[1].wrapping_add(y as u8),
            rgb[2],
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

/// Plain HTTP/1.1 GET (no redirects): status code, headers and body.
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String, String)> {
    let mut s =
        TcpStream::connect_timeout(&addr.parse().map_err(std::io::Error::other)?, DEADLINE)?;
    s.set_read_timeout(Some(DEADLINE))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status)?;
    let code = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut headers = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        headers.push_str(&line);
    }
    let mut body = Vec::new();
    let _ = r.read_to_end(&mut body);
    Ok((code, headers, String::from_utf8_lossy(&body).into_owned()))
}

/// Every file and folder under `dir`, as paths relative to it (not following links).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap_or(&p).to_path_buf());
        }
    }
    out.sort();
    out
}
