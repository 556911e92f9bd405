//! Security properties as tests: private files (0600/0700), no token or
//! secret in any log, status file or error message, loopback-only listeners
//! (the emulator, its /admin, the OAuth callback), no `allow_other` unless
//! asked, OAuth asking `perms=write` only, and no photo deletion ever
//! requested.

#[path = "hostile/harness.rs"]
mod harness;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use flickrfs::emulator::{Emulator, EmulatorConfig, NewEmuPhoto};
use harness::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Fails if any secret appears in `text` (named `what`).
fn assert_no_secret(what: &str, text: &str, secrets: &[(&'static str, String)]) {
    for (name, value) in secrets {
        assert!(!value.is_empty());
        assert!(
            !text.contains(value.as_str()),
            "the {name} appears in {what}:\n{}",
            text.lines()
                .filter(|l| l.contains(value.as_str()))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// `host:port` and `path?query` of an http URL.
fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("http URL");
    let i = rest.find('/').unwrap_or(rest.len());
    (rest[..i].to_owned(), rest[i..].to_owned())
}

/// Starts `flickrfs account add ARGS`, and returns the child, the authorise
/// URL it printed, and a receiver of its further stderr lines (all lines so
/// far in the vector).
fn start_account_add(
    w: &World,
    args: &[&str],
) -> (
    std::process::Child,
    String,
    Vec<String>,
    mpsc::Receiver<String>,
) {
    let mut cmd = w.command(&["account", "add", "--no-browser"]);
    cmd.args(args)
        .env("RUST_LOG", "trace")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("account add");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let url = loop {
        let line = rx
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("no authorise URL; stderr so far:\n{}", seen.join("\n")));
        let found = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") && w.contains("/services/oauth/authorize"))
            .map(str::to_owned);
        seen.push(line);
        if let Some(u) = found {
            break u;
        }
    };
    (child, url, seen, rx)
}

#[test]
fn secrets_stay_out_of_logs_status_and_errors_and_files_are_private() {
    let w = World::bare();
    let base = w.emu.base_url();
    w.emu
        .add_photo(
            &w.nsid,
            NewEmuPhoto {
                title: "Remote".into(),
                bytes: jpeg(7),
                ..Default::default()
            },
        )
        .expect("photo");
    let mut texts: Vec<(String, String)> = Vec::new();

    // `account add --paste` against the auto-approving emulator, at trace level.
    let (mut child, url, mut lines, rx) = start_account_add(
        &w,
        &[
            "--paste",
            "--endpoint",
            &base,
            "--api-key",
            &w.api_key,
            "--api-secret",
            &w.api_secret,
        ],
    );
    assert!(url.contains("perms=write"), "{url}");
    assert!(!url.contains("delete"), "{url}");
    let (host, path) = split_url(&format!("{url}&user=alice"));
    let (code, _, page) = http_get(&host, &path).expect("authorise page");
    assert_eq!(code, 200, "{page}");
    let verifier = page
        .split("id=\"verifier\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("verifier on the page")
        .to_owned();
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{verifier}").expect("type the verifier");
    drop(stdin);
    let status = child.wait().expect("wait");
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
        lines.push(l);
    }
    let mut stdout = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut o, &mut stdout);
    }
    let add_log = format!("{}\n{stdout}", lines.join("\n"));
    assert!(status.success(), "account add: {add_log}");
    texts.push(("account add (trace)".into(), add_log));

    // The stored token is what must never show.
    let stored =
        flickrfs::accounts::load_account(&w.paths.credentials_file(), "alice").expect("stored");
    let mut secrets = w.secrets();
    secrets.push(("stored token", stored.token.token.clone()));
    secrets.push(("stored token secret", stored.token.secret.clone()));

    // A sync at trace level.
    let out = w
        .command(&["sync", "--yes"])
        .env("RUST_LOG", "trace")
        .output()
        .expect("sync");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    texts.push((
        "sync (trace)".into(),
        format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ));
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["account", "list", "--json"],
        &["config", "show"],
    ] {
        let out = w.run_ok(args);
        texts.push((
            format!("{args:?}"),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ));
    }

    // The mount at trace level, with a sync through the control file.
    std::fs::create_dir_all(w.root.join("logs")).unwrap();
    let log = w.root.join("logs/mount-stderr.log");
    let m = w.mount(&[("RUST_LOG", "trace")], &log);
    let info = mountinfo_line(&w.mnt).expect("mounted");
    assert!(!info.contains("allow_other"), "{info}");
    std::fs::write(w.mnt.join(".flickrfs/sync"), "both\n").expect("request a sync");
    wait_until("the daemon's sync", || {
        std::fs::read_to_string(w.mnt.join(".flickrfs/sync"))
            .map(|s| s.starts_with("done") || s.starts_with("failed") || s.starts_with("finished"))
            .unwrap_or(false)
    });
    for f in ["sync", "status", "status.json", "plan"] {
        let text = std::fs::read_to_string(w.mnt.join(".flickrfs").join(f)).expect(f);
        texts.push((format!(".flickrfs/{f}"), text));
    }
    let status = m.stop();
    assert!(status.success(), "mount exited with {status}");
    texts.push((
        "mount --foreground stderr (trace)".into(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    ));

    // Wrong secrets: the error names the problem, never the value.
    let wrong = "wrong-secret-3f9a7c1e55";
    let out = w.run(&["sync", "--yes", "--api-secret", wrong]);
    let err = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("sync with a wrong API secret: {}\n{err}", out.status);
    assert!(!out.status.success(), "{err}");
    assert!(!err.contains(wrong), "{err}");
    texts.push(("sync with a wrong API secret".into(), err));
    let out = w
        .command(&["account", "add", "--paste", "--api-secret", wrong])
        .env("RUST_LOG", "trace")
        .output()
        .expect("account add");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains(wrong), "{err}");
    texts.push(("account add with a wrong API secret (trace)".into(), err));

    // Every file flickrfs keeps besides the two private stores.
    for dir in [&w.paths.state_dir, &w.paths.data_dir] {
        for rel in walk(dir) {
            let p = dir.join(&rel);
            if p.is_file() && !p.to_string_lossy().contains("catalog.sqlite") {
                texts.push((
                    p.display().to_string(),
                    String::from_utf8_lossy(&std::fs::read(&p).unwrap_or_default()).into_owned(),
                ));
            }
        }
    }
    assert!(
        texts.iter().any(|(n, _)| n.ends_with("last-sync.json")),
        "no last-sync.json among {:?}",
        texts.iter().map(|t| &t.0).collect::<Vec<_>>()
    );
    for (what, text) in &texts {
        assert_no_secret(what, text, &secrets);
    }

    // Private files and folders.
    for f in [
        w.paths.credentials_file(),
        w.paths.config_file(),
        w.paths.catalog_db(),
    ] {
        assert_eq!(mode(&f), 0o600, "{} is {:o}", f.display(), mode(&f));
    }
    for suffix in ["-wal", "-shm", "-journal"] {
        let f = w
            .paths
            .catalog_db()
            .with_file_name(format!("catalog.sqlite{suffix}"));
        if f.exists() {
            assert_eq!(mode(&f), 0o600, "{} is {:o}", f.display(), mode(&f));
        }
    }
    for d in [&w.paths.config_dir, &w.paths.data_dir, &w.paths.state_dir] {
        assert_eq!(mode(d), 0o700, "{} is {:o}", d.display(), mode(d));
    }
    // (the logs folder itself is covered by log_folder_and_file_are_private)
    for (what, text) in &texts {
        eprintln!("checked {what}: {} lines", text.lines().count());
    }
    w.assert_no_photo_deletion();
}

#[test]
fn log_folder_and_file_are_private() {
    let w = World::bare();
    w.write_config();
    std::fs::remove_dir_all(&w.paths.state_dir).expect("no state dir yet");
    w.store_account();
    std::fs::create_dir_all(w.root.join("logs")).unwrap();
    let m = w.mount(&[], &w.root.join("logs/stderr.log"));
    assert!(m.stop().success());
    let logs = w.paths.log_dir();
    assert_eq!(mode(&w.paths.state_dir), 0o700);
    assert_eq!(
        mode(&logs),
        0o700,
        "{} is {:o}",
        logs.display(),
        mode(&logs)
    );
    let log = logs.join("mount.log");
    if log.exists() {
        assert_eq!(
            mode(&log) & 0o077,
            0,
            "{} is {:o}",
            log.display(),
            mode(&log)
        );
    }
}

/// Listening TCP sockets of process `pid`, as (local address, port).
fn listening_sockets(pid: u32) -> Vec<(String, u16)> {
    let mut inodes = std::collections::BTreeSet::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in rd.flatten() {
            if let Ok(target) = std::fs::read_link(e.path()) {
                let t = target.to_string_lossy().into_owned();
                if let Some(n) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
                    inodes.insert(n.to_owned());
                }
            }
        }
    }
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 || f[3] != "0A" || !inodes.contains(f[9]) {
                continue;
            }
            let (addr, port) = f[1].split_once(':').unwrap_or(("", "0"));
            out.push((addr.to_owned(), u16::from_str_radix(port, 16).unwrap_or(0)));
        }
    }
    out
}

/// The machine's first non-loopback IPv4 address, if it has one.
fn non_loopback_ipv4() -> Option<std::net::Ipv4Addr> {
    // The address a UDP socket would use to reach the outside (no packet sent).
    let s = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("192.0.2.254:9").ok()?;
    match s.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

#[test]
fn listeners_are_loopback_only_and_admin_refuses_other_peers() {
    // The emulator's default bind is 127.0.0.1.
    assert!(EmulatorConfig::default().bind.ip().is_loopback());
    let w = World::new();
    let port = w.emu.local_addr().port();
    assert!(
        w.emu.local_addr().ip().is_loopback(),
        "{}",
        w.emu.local_addr()
    );
    let outside = non_loopback_ipv4();
    if let Some(ip) = outside {
        let r = std::net::TcpStream::connect_timeout(&(ip, port).into(), Duration::from_secs(5));
        assert!(r.is_err(), "the emulator answers on {ip}:{port}");
    }

    // Bound to every address, /admin still answers loopback peers only.
    let tmp = tempfile::tempdir().unwrap();
    let open = Emulator::start(EmulatorConfig {
        state_dir: tmp.path().join("emu"),
        bind: "0.0.0.0:0".parse().unwrap(),
        ..Default::default()
    })
    .expect("emulator on 0.0.0.0");
    let oport = open.local_addr().port();
    let (code, _, _) = http_get(&format!("127.0.0.1:{oport}"), "/admin/log").expect("admin");
    assert_eq!(code, 200);
    if let Some(ip) = outside {
        let (code, _, body) = http_get(&format!("{ip}:{oport}"), "/admin/log").expect("admin");
        assert_eq!(code, 403, "{body}");
        let (code, _, body) =
            http_get(&format!("{ip}:{oport}"), "/admin/faults").expect("admin faults");
        assert_eq!(code, 403, "{body}");
    } else {
        eprintln!("no non-loopback address here: /admin from another peer not tested");
    }
    drop(open);

    // `flickrfs account add` waits for the browser on 127.0.0.1 only, and
    // asks for write, never delete.
    let (mut child, url, _, _rx) = start_account_add(&w, &[]);
    assert!(
        url.contains("perms=write") && !url.contains("delete"),
        "{url}"
    );
    let mut socks = Vec::new();
    wait_until("the callback listener", || {
        socks = listening_sockets(child.id());
        !socks.is_empty()
    });
    let _ = child.kill();
    let _ = child.wait();
    for (addr, port) in &socks {
        assert_eq!(addr, "0100007F", "callback listener on {addr}:{port}");
    }

    // `flickrfs emulator` (the CLI) also binds 127.0.0.1 by default.
    let mut emu = w
        .command(&["emulator", "--state-dir"])
        .arg(w.root.join("emu-cli"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("flickrfs emulator");
    let stdout = emu.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = String::new();
    let url = loop {
        let Some(Ok(line)) = lines.next() else {
            break None;
        };
        banner.push_str(&line);
        banner.push('\n');
        if let Some(u) = line.split_whitespace().find(|t| t.starts_with("http://")) {
            break Some(u.to_owned());
        }
    };
    let socks = listening_sockets(emu.id());
    let _ = emu.kill();
    let _ = emu.wait();
    let url = url.unwrap_or_else(|| panic!("no URL in the emulator's banner:\n{banner}"));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    for (addr, port) in &socks {
        assert_eq!(addr, "0100007F", "emulator listening on {addr}:{port}");
    }
    w.assert_no_photo_deletion();
}
