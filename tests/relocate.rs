//! `flickrfs relocate` as a user meets it: a photo's file moved outside
//! the mount reads as EIO; relocate without the right folder lists it as
//! not found and changes nothing; with `--search DIR` it finds the file by
//! content, says where, and the entry in the running mount reads again.
//! Real HTTP, a real catalog, a real FUSE mount.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[path = "common/proc.rs"]
mod proc;
use proc::*;
#[path = "common/world.rs"]
mod world;
use world::*;

fn xattr(path: &Path, name: &str) -> Option<String> {
    let p = CString::new(path.as_os_str().as_bytes()).expect("path");
    let n = CString::new(name).expect("name");
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid C strings and a buffer of the length given.
    let len = unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if len < 0 {
        return None;
    }
    buf.truncate(len as usize);
    Some(String::from_utf8(buf).expect("UTF-8"))
}

#[test]
fn relocate_finds_a_moved_file_by_content_and_the_entry_reads_again() {
    let w = World::new(None);
    w.seed_online("Harbour", 11);
    w.seed_online("Quay", 12);
    w.add_account();
    let _daemon = w.mount();
    w.converge(true);
    let entry = w.acct().join("Harbour.jpg");
    let source = PathBuf::from(xattr(&entry, "user.flickrfs.source").expect("a file on disk"));
    let bytes = std::fs::read(&source).expect("the downloaded original");

    // Moved outside the mount, to a folder that is no library folder, under
    // another name.
    let away = w.tmp.path().join("usb stick/2024");
    std::fs::create_dir_all(&away).expect("mkdir");
    let moved = away.join("IMG_0001.jpg");
    std::fs::rename(&source, &moved).expect("move");
    let err = std::fs::read(&entry).expect_err("the file is gone");
    assert_eq!(err.raw_os_error(), Some(libc::EIO), "{err}");

    // Not in the folders searched by default: listed, nothing changes.
    let out = w.flickrfs(&["relocate"], OP_DEADLINE);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}{}", stdout, text(&out.stderr));
    assert!(stdout.contains("0 found, 1 not found"), "{stdout}");
    assert!(
        stdout.contains(&format!("not found: 'Harbour' (was {})", source.display())),
        "{stdout}"
    );

    // With the folder named: found by content, the catalog points there.
    let out = w.flickrfs(
        &[
            "relocate",
            "alice",
            "--search",
            &w.tmp.path().join("usb stick").to_string_lossy(),
        ],
        OP_DEADLINE,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}{}", stdout, text(&out.stderr));
    assert!(stdout.contains("1 found, 0 not found"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "found: 'Harbour': {} (was {})",
            moved.display(),
            source.display()
        )),
        "{stdout}"
    );
    // The running mount reads it again, from its new place.
    wait_for("the entry to read again", OP_DEADLINE, || {
        std::fs::read(&entry).ok().as_deref() == Some(bytes.as_slice())
    });
    assert_eq!(
        xattr(&entry, "user.flickrfs.source").map(PathBuf::from),
        Some(moved.clone())
    );
    assert!(moved.is_file(), "relocate never moves a file");
    // The other photo was never missing; a second run has nothing to do.
    let out = w.flickrfs(&["relocate"], OP_DEADLINE);
    assert!(
        text(&out.stdout).contains("alice: no file is missing."),
        "{}",
        text(&out.stdout)
    );
    // A --search folder that does not exist is one clear error.
    let out = w.flickrfs(&["relocate", "--search", "/nonexistent/x"], OP_DEADLINE);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("/nonexistent/x: not a folder"));
}
