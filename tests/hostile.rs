//! Hostile input, end to end: titles on Flickr that try to escape or break
//! the folders (`../../etc/passwd`, `/`, control and bidi characters, 10,000
//! characters...), local files that are not what they claim (non-UTF-8 names,
//! text, zip, truncated JPEGs, garbage EXIF, empty, a 3 GB sparse file),
//! replies of the wrong shape, and garbage written to `.flickrfs/sync`.
//! Each case must end in a clear error or safe handling: no panic, and
//! nothing written outside flickrfs's own folders (the whole temp root is
//! listed before and after).

#[path = "hostile/harness.rs"]
mod harness;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use flickrfs::emulator::{NewEmuPhoto, NewEmuSet};
use harness::*;

/// A name as it may appear in a folder: valid, safe, ≤ 255 bytes.
fn assert_safe_name(where_: &str, name: &OsStr) {
    let bytes = name.as_bytes();
    assert!(!bytes.is_empty(), "{where_}: empty name");
    assert!(bytes.len() <= 255, "{where_}: {} bytes", bytes.len());
    assert!(name != "." && name != "..", "{where_}: {name:?}");
    assert!(!bytes.contains(&b'/'), "{where_}: {name:?}");
    let s = name
        .to_str()
        .unwrap_or_else(|| panic!("{where_}: not UTF-8: {name:?}"));
    assert!(
        !s.chars().any(|c| c.is_control()),
        "{where_}: control character in {s:?}"
    );
    assert!(
        !s.chars()
            .any(|c| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')),
        "{where_}: bidi override in {s:?}"
    );
}

fn names_under(dir: &Path) -> Vec<PathBuf> {
    walk(dir)
}

/// The hostile photo titles tried (the emulator stores each as given).
fn hostile_titles() -> Vec<String> {
    vec![
        "../../etc/passwd".into(),
        "/".into(),
        "..".into(),
        ".".into(),
        String::new(),
        "x".repeat(10_000),
        "é".repeat(5_000),
        "line\nbreak".into(),
        "tab\there".into(),
        "esc\x1b[31mred".into(),
        "nul\0byte".into(),
        "rtl\u{202e}gpj.exe".into(),
        "Beach".into(),
        "beach".into(),
        "BEACH".into(),
        "Pools".into(),
        ".flickrfs".into(),
        "/etc/shadow".into(),
        "a/../../b".into(),
        "~".into(),
        " ".into(),
        "trailing dot.".into(),
    ]
}

#[test]
fn hostile_titles_become_safe_unique_stable_names_on_disk_and_in_the_mount() {
    let w = World::new();
    w.store_account();
    let titles = hostile_titles();
    let mut ids = Vec::new();
    let mut refused = Vec::new();
    for (i, t) in titles.iter().enumerate() {
        match w.emu.add_photo(
            &w.nsid,
            NewEmuPhoto {
                title: t.clone(),
                bytes: jpeg(i as u32 + 1),
                ..Default::default()
            },
        ) {
            Ok(id) => ids.push(id),
            Err(e) => refused.push(format!("{t:?}: {e}")),
        }
    }
    assert!(ids.len() >= titles.len() - 1, "refused: {refused:?}");
    // Sets with hostile titles, each holding some of those photos.
    let set_titles = [
        "a/b",
        "..",
        ".",
        "../escape",
        "/",
        "Pools",
        "",
        "nul\0set",
        "x\ny",
    ];
    for (i, t) in set_titles.iter().enumerate() {
        let members: Vec<String> = ids.iter().skip(i * 2).take(2).cloned().collect();
        w.emu
            .add_photoset(
                &w.nsid,
                NewEmuSet {
                    title: (*t).into(),
                    photo_ids: members,
                    ..Default::default()
                },
            )
            .expect("add set");
    }
    let before = w.snapshot();

    let out = w.run(&["sync", "--down", "--yes"]);
    assert_no_panic(&out);
    assert!(
        out.status.success(),
        "sync: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    w.assert_only_allowed_writes(&before);

    // On disk: every name is safe, and every photo came down exactly once.
    let disk = names_under(&w.folder);
    let mut files = 0;
    for rel in &disk {
        for c in rel.components() {
            assert_safe_name("disk", c.as_os_str());
        }
        if w.folder.join(rel).is_file() {
            files += 1;
        }
    }
    assert_eq!(files, ids.len(), "downloaded files: {disk:#?}");
    // Nothing escaped the default folder (checked above) nor landed in /etc.
    assert!(!w.home.join("etc").exists());

    // In the mount: the same, and names unique within each folder.
    let log = w.root.join("logs/mount.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let m = w.mount(&[], &log);
    let acct = w.mnt.join("alice");
    assert_unique_listing(&acct);
    let mounted = names_under(&acct);
    for rel in &mounted {
        for c in rel.components() {
            assert_safe_name("mount", c.as_os_str());
        }
    }
    let set_dirs: BTreeSet<PathBuf> = mounted
        .iter()
        .filter(|p| acct.join(p).is_dir())
        .cloned()
        .collect();
    // A set titled "Pools" may not hide or merge with the pools folder.
    let top: Vec<&PathBuf> = set_dirs
        .iter()
        .filter(|p| p.components().count() == 1)
        .collect();
    assert!(
        top.len() >= set_titles.len(),
        "expected a folder per set (+ Pools if any), got {top:#?}"
    );
    // Every photo is reachable by a path and readable.
    let files_in_mount: Vec<&PathBuf> = mounted.iter().filter(|p| acct.join(p).is_file()).collect();
    for f in &files_in_mount {
        let bytes = std::fs::read(acct.join(f)).unwrap_or_else(|e| panic!("{f:?}: {e}"));
        assert!(bytes.starts_with(&[0xFF, 0xD8]), "{f:?}");
    }
    assert!(files_in_mount.len() >= ids.len(), "{mounted:#?}");
    drop(m);

    // Stable: a second sync changes nothing, on disk or in the mount.
    let out = w.run_ok(&["sync", "--down", "--yes"]);
    let _ = out;
    assert_eq!(names_under(&w.folder), disk, "disk names changed");
    let m = w.mount(&[], &log);
    assert_eq!(names_under(&acct), mounted, "mount names changed");
    drop(m);
    w.assert_only_allowed_writes(&before);
    w.assert_no_photo_deletion();
}

/// Uniqueness of the names a folder lists (read_dir may not repeat a name).
fn assert_unique_listing(dir: &Path) {
    let mut seen = BTreeSet::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        assert!(
            seen.insert(e.file_name()),
            "{dir:?} lists {:?} twice",
            e.file_name()
        );
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            assert_unique_listing(&e.path());
        }
    }
}

/// A JPEG whose APP1 segment says "Exif" and then holds garbage.
fn jpeg_with_garbage_exif(seed: u32, garbage: &[u8]) -> Vec<u8> {
    let real = jpeg(seed);
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE1];
    let len = (garbage.len() + 2 + 6) as u16;
    v.extend_from_slice(&len.to_be_bytes());
    v.extend_from_slice(b"Exif\0\0");
    v.extend_from_slice(garbage);
    v.extend_from_slice(&real[2..]);
    v
}

/// What went into the mount, and what the uploader must do with it.
struct LocalCase {
    name: &'static [u8],
    bytes: Vec<u8>,
    /// Whether it may end up on Flickr.
    uploadable: bool,
}

fn local_cases() -> Vec<LocalCase> {
    let real = jpeg(200);
    let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
    zip.extend_from_slice(&[0x55; 200]);
    let mut exif_overflow = vec![0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF];
    exif_overflow.extend_from_slice(b"Exif\0\0MM\0*\0\0\0\x08\xFF\xFF");
    vec![
        LocalCase {
            name: b"notes.txt",
            bytes: b"just some text, not a photo\n".to_vec(),
            uploadable: false,
        },
        LocalCase {
            name: b"photo-looking.jpg",
            bytes: b"this is text pretending to be a jpg\n".to_vec(),
            uploadable: false,
        },
        LocalCase {
            name: b"archive.zip",
            bytes: zip.clone(),
            uploadable: false,
        },
        LocalCase {
            name: b"archive-named.jpg",
            bytes: zip,
            uploadable: false,
        },
        LocalCase {
            name: b"empty.jpg",
            bytes: Vec::new(),
            uploadable: false,
        },
        LocalCase {
            name: b"truncated.jpg",
            bytes: real[..real.len() / 3].to_vec(),
            // Flickr would refuse an image it cannot decode; the client may try.
            uploadable: false,
        },
        LocalCase {
            name: b"soi-only.jpg",
            bytes: vec![0xFF, 0xD8, 0xFF],
            uploadable: false,
        },
        LocalCase {
            name: b"garbage-exif.jpg",
            bytes: jpeg_with_garbage_exif(201, &[0xAB; 64]),
            uploadable: true,
        },
        LocalCase {
            name: b"garbage-tiff-exif.jpg",
            bytes: jpeg_with_garbage_exif(202, b"II*\0\xff\xff\xff\x7f\x00\x00\xff\xff"),
            uploadable: true,
        },
        LocalCase {
            name: b"exif-overflow.jpg",
            bytes: exif_overflow,
            uploadable: false,
        },
        LocalCase {
            name: b"fine.jpg",
            bytes: jpeg(203),
            uploadable: true,
        },
    ]
}

/// The largest resident set of any child this test process has reaped, in KiB.
fn children_max_rss_kib() -> i64 {
    // SAFETY: getrusage only fills the struct we hand it.
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut u);
        u.ru_maxrss
    }
}

#[test]
fn hostile_local_files_in_the_mount_are_handled_and_never_uploaded_wrongly() {
    let w = World::new();
    w.store_account();
    w.run_ok(&["sync", "--yes"]);
    let log = w.root.join("logs/mount.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let before = w.snapshot();
    let m = w.mount(&[], &log);
    let acct = w.mnt.join("alice");
    wait_until("the account folder", || acct.is_dir());
    std::fs::create_dir(acct.join("Hostile")).expect("mkdir set");
    let set = acct.join("Hostile");

    // Ordinary copies of odd content: each is accepted as a file.
    let cases = local_cases();
    for c in &cases {
        let src = w.inputs.join(OsStr::from_bytes(c.name));
        std::fs::write(&src, &c.bytes).unwrap();
        std::fs::copy(&src, set.join(OsStr::from_bytes(c.name)))
            .unwrap_or_else(|e| panic!("cp {:?}: {e}", OsStr::from_bytes(c.name)));
        assert_eq!(
            std::fs::read(set.join(OsStr::from_bytes(c.name))).unwrap(),
            c.bytes,
            "{:?} reads back different",
            OsStr::from_bytes(c.name)
        );
    }

    // Non-UTF-8 names: refused with EINVAL (or stored under a valid name).
    let mut bad_name_outcomes = Vec::new();
    for raw in [
        &b"bad\xff\xfe.jpg"[..],
        b"latin1-caf\xe9.jpg",
        b"\xc3\x28.jpg",
    ] {
        let p = set.join(OsStr::from_bytes(raw));
        let r = std::fs::write(&p, jpeg(210));
        match r {
            Err(e) => {
                assert!(
                    matches!(e.raw_os_error(), Some(libc::EINVAL) | Some(libc::EILSEQ)),
                    "{p:?}: {e}"
                );
                bad_name_outcomes.push(e.to_string());
            }
            Ok(()) => bad_name_outcomes.push("accepted".to_owned()),
        }
        let r = std::fs::create_dir(acct.join(OsStr::from_bytes(raw)));
        let code = r.map_err(|e| e.raw_os_error());
        assert!(
            matches!(code, Err(Some(libc::EINVAL)) | Err(Some(libc::EILSEQ))),
            "mkdir {raw:?}: {code:?}"
        );
    }
    assert_unique_listing(&acct);
    for e in std::fs::read_dir(&set).unwrap().flatten() {
        assert!(e.file_name().to_str().is_some(), "{:?}", e.file_name());
    }

    // Very large sparse files, never written: 3 GB created in the mount
    // with set_len, and 256 MB by reference (a symlink into the mount).
    let huge_src = w.inputs.join("huge.jpg");
    let f = std::fs::File::create(&huge_src).unwrap();
    f.set_len(256 << 20).unwrap();
    drop(f);
    std::os::unix::fs::symlink(&huge_src, set.join("huge.jpg")).expect("ln -s huge");
    let huge_in_mount = set.join("huge-in-mount.jpg");
    let f = std::fs::File::create(&huge_in_mount).expect("create in mount");
    f.set_len(3 << 30).expect("set_len in the mount");
    drop(f);
    assert_eq!(
        std::fs::metadata(set.join("huge.jpg")).unwrap().len(),
        256 << 20
    );
    assert_eq!(std::fs::metadata(&huge_in_mount).unwrap().len(), 3 << 30);
    // The backing file stays sparse: nothing was written to fill it.
    let backing = w.folder.join("huge-in-mount.jpg");
    use std::os::unix::fs::MetadataExt;
    let blocks = std::fs::metadata(&backing).map(|m| m.blocks()).unwrap_or(0);
    assert!(
        blocks < 1024,
        "backing file {backing:?} uses {blocks} blocks"
    );

    // The sync up: only real photos go to Flickr; nothing panics; the huge
    // file is not read into memory.
    let out = w.run(&["sync", "--up", "--yes"]);
    assert_no_panic(&out);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "sync --up: {}\n{stdout}\n{stderr}",
        out.status
    );
    let rss = children_max_rss_kib();
    assert!(
        rss < 400 * 1024,
        "a child used {rss} KiB: the sparse file was read into memory?"
    );

    let online = w.emu.photos(&w.nsid);
    let online_sums: BTreeSet<String> = online.iter().map(|p| p.sha1.clone()).collect();
    for c in &cases {
        let sum = sha1_hex(&c.bytes);
        let name = OsStr::from_bytes(c.name);
        if c.uploadable {
            assert!(
                online_sums.contains(&sum),
                "{name:?} was not uploaded\n{stdout}\n{stderr}"
            );
        } else {
            assert!(
                !online_sums.contains(&sum),
                "{name:?} was uploaded\n{stdout}"
            );
        }
    }
    assert!(
        online.iter().all(|p| p.width > 0 && p.height > 0),
        "{online:#?}"
    );
    // The status names the files it will not upload.
    let status = std::fs::read_to_string(w.mnt.join(".flickrfs/status")).unwrap();
    let cli_status = String::from_utf8_lossy(&w.run_ok(&["status"]).stdout).into_owned();
    let said = format!("{stdout}\n{status}\n{cli_status}");
    for n in ["notes.txt", "archive.zip", "empty.jpg"] {
        assert!(
            said.contains(n),
            "{n} not listed as not uploadable:\n{said}"
        );
    }
    assert!(said.contains("not-uploadable"), "{said}");

    // A second sync has nothing new to try.
    let out = w.run(&["sync", "--up", "--yes"]);
    assert_no_panic(&out);
    assert_eq!(w.emu.photos(&w.nsid).len(), online.len());

    drop(m);
    w.assert_only_allowed_writes(&before);
    w.assert_no_photo_deletion();
    eprintln!("non-UTF-8 names: {bad_name_outcomes:?}");
}

fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
#[ignore = "by hand: checksums 3 GB and asserts a latency (fixed: ee37357 hashes outside the catalog lock)"]
fn the_mount_answers_while_a_big_file_is_checksummed_on_close() {
    let w = World::new();
    w.store_account();
    w.run_ok(&["sync", "--yes"]);
    let log = w.root.join("logs/mount.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let _m = w.mount(&[], &log);
    let acct = w.mnt.join("alice");
    wait_until("the account folder", || acct.is_dir());
    let big = acct.join("big.jpg");
    let f = std::fs::File::create(&big).expect("create in mount");
    f.set_len(3 << 30).expect("set_len");
    // Close on another thread; meanwhile keep using the mount, and record
    // the slowest answer.
    let closer = std::thread::spawn(move || drop(f));
    let mut slowest = std::time::Duration::ZERO;
    let mut rounds = 0;
    while !closer.is_finished() {
        let t = std::time::Instant::now();
        let status = std::fs::read_to_string(w.mnt.join(".flickrfs/status"));
        let listing = std::fs::read_dir(&acct).map(|d| d.count());
        assert!(status.is_ok() && listing.is_ok());
        slowest = slowest.max(t.elapsed());
        rounds += 1;
    }
    closer.join().expect("closer");
    assert!(
        slowest < std::time::Duration::from_secs(2),
        "reading status and listing a folder took up to {slowest:?} ({rounds} rounds) \
         while a close was checksumming"
    );
}

#[test]
fn a_set_whose_first_photo_cannot_be_uploaded_is_created_with_the_others() {
    let w = World::new();
    w.store_account();
    w.run_ok(&["sync", "--yes"]);
    let log = w.root.join("logs/mount.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let m = w.mount(&[], &log);
    let set = w.mnt.join("alice/Trip");
    wait_until("the account folder", || w.mnt.join("alice").is_dir());
    std::fs::create_dir(&set).expect("mkdir");
    let real = jpeg(300);
    // First in the set: a JPEG cut short, which Flickr refuses.
    std::fs::write(set.join("a-truncated.jpg"), &real[..real.len() / 3]).unwrap();
    std::fs::write(set.join("b-good.jpg"), jpeg(301)).unwrap();
    std::fs::write(set.join("c-good.jpg"), jpeg(302)).unwrap();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let out = w.run(&["sync", "--up", "--yes"]);
        assert_no_panic(&out);
        let uploads = w.emu.call_counts().get("upload").copied().unwrap_or(0);
        runs.push((out, uploads));
    }
    drop(m);
    let sets = w.emu.photosets(&w.nsid);
    assert_eq!(sets.len(), 1, "the set Trip was never created: {sets:?}");
    assert_eq!(sets[0].photos.len(), 2, "{sets:?}");
    // Flickr refused the cut-short JPEG once: the next sync leaves it out
    // (listed as refused) instead of sending it and failing again.
    let (second, uploads_after_second) = &runs[1];
    assert_eq!(
        *uploads_after_second, runs[0].1,
        "the refused file was sent again by the second sync"
    );
    assert_eq!(
        second.status.code(),
        Some(0),
        "the second sync failed again on the refused file:\n{}\n{}",
        String::from_utf8_lossy(&second.stdout),
        String::from_utf8_lossy(&second.stderr)
    );
}

/// Writes `bytes` to the control file in one write; the errno if refused.
fn write_control(path: &Path, bytes: &[u8]) -> Result<(), i32> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| e.raw_os_error().unwrap_or(-1))?;
    f.write_all(bytes)
        .and_then(|_| f.flush())
        .map_err(|e| e.raw_os_error().unwrap_or(-1))?;
    // close reports what flush refused (a request without a newline)
    use std::os::fd::IntoRawFd;
    let fd = f.into_raw_fd();
    // SAFETY: we own fd and close it exactly once.
    if unsafe { libc::close(fd) } != 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1));
    }
    Ok(())
}

#[test]
fn garbage_in_the_sync_control_file_never_starts_an_unexpected_sync() {
    let w = World::new();
    w.store_account();
    // Something a sync would change, both ways: a photo on Flickr only.
    w.emu
        .add_photo(
            &w.nsid,
            NewEmuPhoto {
                title: "Remote".into(),
                bytes: jpeg(400),
                ..Default::default()
            },
        )
        .expect("add photo");
    std::fs::create_dir_all(&w.folder).unwrap();
    let log = w.root.join("logs/mount.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let before = w.snapshot();
    let m = w.mount(&[], &log);
    let ctl = w.mnt.join(".flickrfs/sync");
    wait_until("the control file", || ctl.exists());
    let calls = || {
        w.emu
            .request_log()
            .into_iter()
            .filter(|c| {
                c.method.starts_with("flickr.") || c.method == "upload" || c.method == "photo_file"
            })
            .count()
    };
    let calls_before = calls();

    // Refused outright: not a request at all.
    let mut binary: Vec<u8> = (0..=255u8).collect();
    binary.extend_from_slice(&[0xFF, 0xFE, 0x00, 0x00]);
    let refused: Vec<(&str, Vec<u8>)> = vec![
        ("binary", binary),
        ("NUL", b"\0".to_vec()),
        ("both + NUL", b"both\0".to_vec()),
        ("empty line", b"\n".to_vec()),
        ("spaces", b"   \n\t\n".to_vec()),
        ("shell", b"both; rm -rf /\n".to_vec()),
        ("backticks", b"`reboot`\n".to_vec()),
        ("sideways", b"sideways\n".to_vec()),
        ("huge", vec![b'a'; 1 << 20]),
        ("huge line of both", "both ".repeat(200_000).into_bytes()),
        ("latin1", b"b\xf6th\n".to_vec()),
    ];
    let mut outcomes = Vec::new();
    for (what, bytes) in &refused {
        let r = write_control(&ctl, bytes);
        outcomes.push(format!("{what}: {r:?}"));
        assert!(
            matches!(r, Err(e) if e == libc::EINVAL || e == libc::EFBIG || e == libc::E2BIG),
            "{what}: {r:?}"
        );
    }
    // Still the daemon's own words, not an echo of the garbage.
    let state = std::fs::read_to_string(&ctl).unwrap();
    assert!(!state.contains("rm -rf"), "{state}");
    assert_eq!(calls(), calls_before, "a refused write reached Flickr");

    // Well-formed but naming accounts that do not exist: a clear failure,
    // and no sync of anything else.
    for req in ["both rm -rf /\n", "down nosuchaccount\n", "up ../alice\n"] {
        write_control(&ctl, req.as_bytes()).unwrap_or_else(|e| panic!("{req:?}: errno {e}"));
        let first_account = req.split_whitespace().nth(1).unwrap_or_default();
        wait_until("the request to be answered", || {
            std::fs::read_to_string(&ctl)
                .map(|s| {
                    let line = s.lines().next().unwrap_or_default();
                    line.starts_with("done")
                        || (line.starts_with("failed") && line.contains(first_account))
                })
                .unwrap_or(false)
        });
        let state = std::fs::read_to_string(&ctl).unwrap();
        assert!(state.starts_with("failed"), "{req:?}: {state}");
        outcomes.push(format!(
            "{:?}: {}",
            req.trim(),
            state.lines().next().unwrap_or("")
        ));
        // Reset the state line by reading; the next request overwrites it.
        let status = std::fs::read_to_string(w.mnt.join(".flickrfs/status")).unwrap();
        assert!(!status.contains("panicked"), "{status}");
    }
    assert!(w.emu.photos(&w.nsid).len() == 1);
    assert!(
        walk(&w.folder).is_empty(),
        "something was downloaded: {:?}",
        walk(&w.folder)
    );
    drop(m);
    w.assert_only_allowed_writes(&before);
    w.assert_no_photo_deletion();
    eprintln!("control file outcomes: {outcomes:#?}");
}

/// Replies shapes tests/client.rs does not try: every request to the
/// returned base URL gets `body` (HTTP 200, JSON).
async fn canned_server(body: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = s.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(reply.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn odd_reply_shapes_give_errors_or_safe_values_never_a_hang() {
    use flickrfs::flickr::{AccessToken, ApiCredentials, Client, ClientOptions, Endpoints, Extra};
    let bodies: [&'static str; 7] = [
        r#"{"stat":"ok","photos":{"page":1,"pages":1,"total":1,"photo":{"id":"1","title":"x"}}}"#,
        r#"{"stat":"ok","photos":{"page":1,"pages":1,"total":1,"photo":[{"id":53000000001,"title":"x","secret":1,"server":2}]}}"#,
        r#"{"stat":"ok","photos":{"page":1,"pages":-3,"total":-1,"photo":[]}}"#,
        r#"{"stat":"ok","photos":{"page":1,"pages":1000000000,"total":5,"photo":[]}}"#,
        r#"{"stat":"ok","photos":{"page":"1","pages":"x","photo":[]}}"#,
        r#"{"stat":"ok","photos":{"page":1,"pages":1,"photo":[{"id":"1","title":{"_content":"\u0000../../x"}}]}}"#,
        r#"{"stat":"ok","photos":[]}"#,
    ];
    let mut outcomes = Vec::new();
    for body in bodies {
        let base = canned_server(body).await;
        let client = Client::new(
            Endpoints::local(&base),
            ApiCredentials {
                key: "k".into(),
                secret: "s".into(),
            },
            Some(AccessToken {
                token: "t".into(),
                secret: "ts".into(),
            }),
            ClientOptions::default(),
        )
        .expect("client");
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            client.list_all_photos(Extra::SYNC),
        )
        .await;
        let r = r.unwrap_or_else(|_| panic!("listing never ended for {body}"));
        outcomes.push(match r {
            Ok(v) => format!("ok: {} photos", v.len()),
            Err(e) => format!("error: {e}"),
        });
    }
    eprintln!("odd shapes: {outcomes:#?}");
}

fn set_xattr(p: &Path, name: &str, value: &[u8]) -> Result<(), i32> {
    let path = std::ffi::CString::new(p.as_os_str().as_bytes()).expect("path");
    let name = std::ffi::CString::new(name).expect("name");
    // SAFETY: valid C strings and a value buffer of the given length.
    let rc = unsafe {
        libc::setxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(-1))
    }
}

#[test]
fn metadata_over_flickrs_limits_is_refused_with_einval_and_one_short_status_line() {
    use flickrfs::model::limits;
    let w = World::new();
    w.store_account();
    let log = w.root.join("logs/mount.log");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let m = w.mount(&[], &log);
    let acct = w.mnt.join("alice");
    wait_until("the account folder", || acct.is_dir());
    let photo = acct.join("x.jpg");
    std::fs::write(&photo, jpeg(7)).expect("cp");

    let tags = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|i| format!("tag{i}"))
            .collect::<Vec<_>>()
            .join(" ")
            .into_bytes()
    };
    let over: Vec<(&str, Vec<u8>)> = vec![
        ("user.flickr.tags", tags(8000)),
        ("user.flickr.tags", tags(limits::MAX_TAGS + 1)),
        ("user.flickr.tags", vec![b'z'; limits::MAX_TAG_CHARS + 1]),
        (
            "user.flickr.title",
            "é".repeat(limits::MAX_TITLE_CHARS + 1).into_bytes(),
        ),
        (
            "user.flickr.description",
            vec![b'd'; limits::MAX_DESCRIPTION_BYTES + 1],
        ),
    ];
    for (name, value) in &over {
        assert_eq!(
            set_xattr(&photo, name, value),
            Err(libc::EINVAL),
            "{name} with {} bytes",
            value.len()
        );
    }
    // At the limit: accepted.
    set_xattr(&photo, "user.flickr.tags", &tags(limits::MAX_TAGS)).expect("74 tags");
    set_xattr(
        &photo,
        "user.flickr.title",
        "é".repeat(limits::MAX_TITLE_CHARS).as_bytes(),
    )
    .expect("255 characters");

    let status = std::fs::read_to_string(w.mnt.join(".flickrfs/status")).expect("status");
    for needle in [
        "8000 tags",
        "75 tags",
        "characters; Flickr keeps at most 255",
        "a description of 65536 bytes",
    ] {
        assert!(
            status.contains(needle),
            "no {needle:?} in the status:\n{status}"
        );
    }
    for line in status.lines() {
        assert!(
            line.len() < 400,
            "a status line of {} bytes echoes the value: {}…",
            line.len(),
            &line[..120]
        );
    }
    let out = std::process::Command::new("getfattr")
        .args(["--only-values", "-n", "user.flickr.tags"])
        .arg(&photo)
        .output()
        .expect("getfattr");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).split(' ').count(),
        limits::MAX_TAGS
    );
    m.stop();
}
