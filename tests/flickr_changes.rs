//! Changes made on Flickr (by flickr.com or another client, here the
//! emulator's own hooks and a third-party client against its API) come
//! down through the mount daemon as a person expects (issue 17): after one
//! sync asked for through `.flickrfs/sync`, the mount, its extended
//! attributes, `.flickrfs/status` and `flickrfs status` show them, and a
//! dry run right after plans nothing. Real HTTP, a real catalog, a real
//! FUSE mount (`flickrfs mount --foreground`, unmounted on drop).

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use flickrfs::emulator::NewEmuSet;

#[path = "common/proc.rs"]
mod proc;
use proc::*;
#[path = "common/world.rs"]
mod world;
use world::*;

/// `GET url` (plain HTTP, as a browser opening the page would): the
/// status line and the body.
fn http_get(url: &str) -> (String, String) {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut sock = std::net::TcpStream::connect(host).expect("connect");
    sock.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .expect("timeout");
    write!(
        sock,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut reply = String::new();
    sock.read_to_string(&mut reply).expect("reply");
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    (
        head.lines().next().unwrap_or_default().to_owned(),
        body.to_owned(),
    )
}

/// An extended attribute of a file in the mount, as text (`None`: ENODATA).
fn xattr(path: &Path, name: &str) -> Option<String> {
    let p = CString::new(path.as_os_str().as_bytes()).expect("path");
    let n = CString::new(name).expect("name");
    let mut buf = vec![0u8; 64 * 1024];
    // SAFETY: valid NUL-terminated strings and a buffer of the given length.
    let len = unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if len < 0 {
        let e = std::io::Error::last_os_error();
        assert_eq!(
            e.raw_os_error(),
            Some(libc::ENODATA),
            "getxattr {name} of {}: {e}",
            path.display()
        );
        return None;
    }
    buf.truncate(len as usize);
    Some(String::from_utf8(buf).expect("UTF-8 value"))
}

fn set_xattr(path: &Path, name: &str, value: &str) {
    let p = CString::new(path.as_os_str().as_bytes()).expect("path");
    let n = CString::new(name).expect("name");
    // SAFETY: valid NUL-terminated strings and a value of the given length.
    let rc = unsafe {
        libc::setxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    assert_eq!(
        rc,
        0,
        "setxattr {name} on {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Waits (bounded) until `dir` lists exactly `want`: the mount learns a
/// sync's changes through its change watcher.
fn wait_listing(dir: &Path, want: &[&str]) {
    let mut seen = Vec::new();
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_for(
            &format!("{} to list {want:?}", dir.display()),
            OP_DEADLINE,
            || {
                seen = names(dir);
                seen == want
            },
        )
    }));
    assert!(ok.is_ok(), "{} lists {seen:?}, not {want:?}", dir.display());
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The account's summary line of the last sync (`flickrfs status`'s record).
fn last_summary(w: &World) -> String {
    w.last_sync()["accounts"][0]["summary"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `flickrfs sync --dry-run`: what a sync would do now.
fn dry_run(w: &World) -> String {
    let out = w.flickrfs(&["sync", "--dry-run"], SYNC_DEADLINE);
    assert!(out.status.success(), "dry run: {}", text(&out.stderr));
    text(&out.stdout)
}

/// A dry run plans nothing at all: no count, not even a rarer one.
fn assert_nothing_planned(w: &World) {
    let plan = dry_run(w);
    assert!(
        plan.contains(
            "0 uploads, 0 downloads, 0 set reassignments, 0 set creations, 0 edits, 0 conflicts ("
        ),
        "a dry run after the sync still plans something:\n{plan}"
    );
}

/// A client other than flickrfs, signed with its own token for alice.
fn third_party_client(w: &World) -> flickrfs::flickr::Client {
    let key = w.emu.create_api_key().expect("key");
    let tok = w
        .emu
        .issue_token(&key.key, &w.nsid, "write")
        .expect("token");
    flickrfs::flickr::Client::new(
        flickrfs::flickr::Endpoints::local(&w.emu.base_url()),
        flickrfs::flickr::ApiCredentials {
            key: key.key,
            secret: key.secret,
        },
        Some(flickrfs::flickr::AccessToken {
            token: tok.token,
            secret: tok.secret,
        }),
        flickrfs::flickr::ClientOptions::default(),
    )
    .expect("client")
}

#[test]
fn a_title_a_deletion_a_date_and_multi_word_tags_changed_on_flickr_show_after_one_sync() {
    let w = World::new(None);
    let tomatoes = w.seed_online("Tomatoes", 1);
    let beach = w.seed_online("Beach", 2);
    let scan = w.seed_online("Old scan", 3);
    let sunset = w.seed_online("Sunset", 4);
    w.seed_set("Garden", std::slice::from_ref(&tomatoes));
    w.add_account();
    let _daemon = w.mount();
    w.converge(true);
    let acct = w.acct();
    wait_listing(&acct.join("Garden"), &["Tomatoes.jpg"]);
    wait_listing(
        &acct,
        &["Beach.jpg", "Garden", "Old scan.jpg", "Pools", "Sunset.jpg"],
    );
    let scan_file = PathBuf::from(
        xattr(&acct.join("Old scan.jpg"), "user.flickrfs.source").expect("a downloaded file"),
    );
    assert_eq!(
        xattr(
            &acct.join("Sunset.jpg"),
            "user.flickr.date_taken_granularity"
        )
        .as_deref(),
        Some("exact")
    );
    // The photo's page is the emulator's, the endpoint in use, and it
    // shows the photo.
    let url = xattr(&acct.join("Sunset.jpg"), "user.flickr.url").expect("a page");
    assert_eq!(
        url,
        format!("{}/photos/{}/{sunset}/", w.emu.base_url(), w.nsid)
    );
    let (status, body) = http_get(&url);
    assert!(status.contains(" 200 "), "{status}: {body}");
    assert!(body.contains("<h1>Sunset</h1>"), "{body}");
    let (status, _) = http_get(&format!("{}/photos/{}/999999/", w.emu.base_url(), w.nsid));
    assert!(status.contains(" 404 "), "{status}");

    // On Flickr: a new title (and the photo put in one more set), a
    // deletion, a date taken, multi-word tags.
    w.emu
        .set_title(&tomatoes, "Ripe tomatoes")
        .expect("retitle");
    w.emu
        .add_photoset(
            &w.nsid,
            NewEmuSet {
                title: "Salad".into(),
                photo_ids: vec![tomatoes.clone()],
                ..Default::default()
            },
        )
        .expect("set");
    w.emu.delete_photo(&scan).expect("delete");
    w.emu
        .set_date_taken(&sunset, "2024-05-01 10:00:00", 4)
        .expect("date");
    w.emu
        .set_tags(&beach, &["summer light", "Sea"])
        .expect("tags");

    let state = w.control_sync();
    assert!(state.starts_with("done"), "{state}");

    // The title renames the entry in every folder it is in: one name.
    wait_listing(&acct.join("Garden"), &["Ripe tomatoes.jpg"]);
    wait_listing(&acct.join("Salad"), &["Ripe tomatoes.jpg"]);
    assert_eq!(
        xattr(&acct.join("Garden/Ripe tomatoes.jpg"), "user.flickr.title").as_deref(),
        Some("Ripe tomatoes")
    );
    // The deleted photo left the collection; its file stays.
    wait_listing(
        &acct,
        &["Beach.jpg", "Garden", "Pools", "Salad", "Sunset.jpg"],
    );
    assert!(scan_file.is_file(), "{} was deleted", scan_file.display());
    // The date taken, read-only.
    let sunset_entry = acct.join("Sunset.jpg");
    assert_eq!(
        xattr(&sunset_entry, "user.flickr.date_taken").as_deref(),
        Some("2024-05-01 10:00:00")
    );
    assert_eq!(
        xattr(&sunset_entry, "user.flickr.date_taken_granularity").as_deref(),
        Some("month")
    );
    let p = CString::new(sunset_entry.as_os_str().as_bytes()).expect("path");
    let n = CString::new("user.flickr.date_taken").expect("name");
    // SAFETY: valid strings; a one-byte value.
    let rc = unsafe { libc::setxattr(p.as_ptr(), n.as_ptr(), b"x".as_ptr().cast(), 1, 0) };
    assert_eq!(
        (rc, std::io::Error::last_os_error().raw_os_error()),
        (-1, Some(libc::EPERM)),
        "the date taken is read-only"
    );
    // The tags in their owner's words.
    assert_eq!(
        xattr(&acct.join("Beach.jpg"), "user.flickr.tags").as_deref(),
        Some(r#"Sea "summer light""#)
    );

    // The summary counts what happened, with the calls really made.
    let summary = last_summary(&w);
    assert!(
        summary.contains("1 deleted on Flickr") && summary.contains("1 dates taken changed"),
        "{summary}"
    );
    let calls: u64 = summary
        .rsplit_once(" (")
        .and_then(|(_, c)| c.strip_suffix(" API calls)"))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no call count in {summary:?}"));
    assert!(calls >= 6, "{calls} API calls reported: {summary}");
    // The status names the deleted photo and where its file is, in the
    // mount and on the command line; it is not "ignored".
    let restore = format!("flickrfs restore {scan}");
    let status = read(&w.mnt.join(".flickrfs/status"));
    assert!(
        status.contains(&format!("deleted on Flickr: photo {scan} \"Old scan\""))
            && status.contains(&scan_file.display().to_string())
            && status.contains(&restore),
        "{status}"
    );
    let out = w.flickrfs(&["status"], OP_DEADLINE);
    let cli_status = text(&out.stdout);
    assert!(
        cli_status.contains("deleted-on-flickr")
            && cli_status.contains(&scan_file.display().to_string())
            && cli_status.contains(&restore),
        "{cli_status}"
    );
    let out = w.flickrfs(&["ignored"], OP_DEADLINE);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains(&scan),
        "a photo deleted on Flickr is listed as ignored: {}",
        text(&out.stdout)
    );

    // A second dry run plans nothing.
    assert_nothing_planned(&w);

    // The tags go back up in the same words; the deleted photo goes up
    // again once restored.
    set_xattr(
        &acct.join("Beach.jpg"),
        "user.flickr.tags",
        r#"Sea "summer light" dunes"#,
    );
    let out = w.flickrfs(&["restore", &scan], OP_DEADLINE);
    assert!(out.status.success(), "restore: {}", text(&out.stderr));
    wait_listing(
        &acct,
        &[
            "Beach.jpg",
            "Garden",
            "Old scan.jpg",
            "Pools",
            "Salad",
            "Sunset.jpg",
        ],
    );
    let state = w.control_sync();
    assert!(state.starts_with("done"), "{state}");
    let online = w.emu.photos(&w.nsid);
    let beach_now = online.iter().find(|p| p.id == beach).expect("beach");
    let mut tags = beach_now.tags.clone();
    tags.sort();
    assert_eq!(tags, vec!["Sea", "dunes", "summer light"]);
    let again: Vec<_> = online.iter().filter(|p| p.title == "Old scan").collect();
    assert_eq!(again.len(), 1, "the restored photo is uploaded once");
    assert_ne!(again[0].id, scan);
    assert_eq!(again[0].sha1, sha1_of(&scan_file));
    assert_nothing_planned(&w);
}

#[test]
fn a_local_rename_is_a_pending_edit_and_when_both_sides_renamed_flickrs_title_names_the_file() {
    let w = World::new(None);
    let walk = w.seed_online("Beach walk", 5);
    w.add_account();
    let _daemon = w.mount();
    w.converge(true);
    let acct = w.acct();
    wait_listing(&acct, &["Beach walk.jpg", "Pools"]);

    std::fs::rename(acct.join("Beach walk.jpg"), acct.join("Dune walk.jpg")).expect("mv");
    let plan = read(&w.mnt.join(".flickrfs/plan"));
    assert!(
        plan.contains(&format!(
            r#"photo {walk}: title "Beach walk" → "Dune walk""#
        )),
        "{plan}"
    );

    w.emu.set_title(&walk, "Sea walk").expect("retitle");
    let state = w.control_sync();
    assert!(state.starts_with("done"), "{state}");
    wait_listing(&acct, &["Pools", "Sea walk.jpg"]);
    let status = read(&w.mnt.join(".flickrfs/status"));
    assert!(
        status.contains(
            r#"title changed on both sides (was "Beach walk"; local "Dune walk"; Flickr "Sea walk")"#
        ) && !status.contains(r#"\""#),
        "{status}"
    );
    assert!(
        !read(&w.mnt.join(".flickrfs/plan")).contains("edits to send"),
        "the edit is settled"
    );
    assert_nothing_planned(&w);
}

#[test]
fn a_big_removal_on_flickr_is_refused_then_confirmed_through_the_control_file() {
    const PHOTOS: u64 = 52;
    let w = World::new(None);
    let ids: Vec<String> = (0..PHOTOS)
        .map(|i| w.seed_online(&format!("Trip {i}"), 100 + i))
        .collect();
    let trip = w
        .emu
        .add_photoset(
            &w.nsid,
            NewEmuSet {
                title: "Trip".into(),
                photo_ids: ids,
                ..Default::default()
            },
        )
        .expect("set");
    w.add_account();
    // No originals needed: the photos are listed, fetched when opened.
    let out = w.flickrfs(
        &["config", "set", "alice", "download", "on-demand"],
        OP_DEADLINE,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let _daemon = w.mount();
    w.converge(true);
    let acct = w.acct();
    wait_for("the Trip folder", OP_DEADLINE, || {
        acct.join("Trip").is_dir() && names(&acct.join("Trip")).len() == PHOTOS as usize
    });

    // Another client deletes the set on Flickr.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(third_party_client(&w).delete_photoset(&flickrfs::model::SetId::new(trip)))
        .expect("photosets.delete");

    // The command line refuses it and exits 1, and says how to confirm there.
    let out = w.cli_sync(&["--down"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );

    // The control file refuses it: the message names the set, the side,
    // what the count at the last sync is, and how a mount user confirms.
    let state = w.control_request("down");
    assert!(state.starts_with("refused"), "{state}");
    let status = read(&w.mnt.join(".flickrfs/status"));
    for want in [
        r#"52 from "Trip" (the set was deleted on Flickr)"#,
        "against 52 photo-in-set memberships at the last sync (the memberships both sides agreed on",
        r#"write "down force" to MOUNT/.flickrfs/sync"#,
        "alice: sync stopped: refused",
    ] {
        assert!(status.contains(want), "no {want:?} in:\n{status}");
    }
    assert!(!status.contains("--force"), "{status}");
    assert!(
        acct.join("Trip").is_dir(),
        "a refused plan changed the mount"
    );

    // Confirmed through the control file: done, and the refusal is no
    // longer shown as pending.
    let state = w.control_request("down force");
    assert!(state.starts_with("done"), "{state}");
    // The folder went; its photos stay, back in the account folder.
    let mut want: Vec<String> = (0..PHOTOS).map(|i| format!("Trip {i}.jpg")).collect();
    want.push("Pools".into());
    want.sort();
    wait_listing(&acct, &want.iter().map(String::as_str).collect::<Vec<_>>());
    let status = read(&w.mnt.join(".flickrfs/status"));
    assert!(!status.contains("sync stopped"), "{status}");
    assert!(
        status.contains("refused, confirmed since: down sync"),
        "{status}"
    );
    assert!(
        read(&w.mnt.join(".flickrfs/sync")).starts_with("done"),
        "the sync's state"
    );
    assert_nothing_planned(&w);
}
