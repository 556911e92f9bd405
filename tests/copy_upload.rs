//! A copy into the mount, through the real daemon (`flickrfs mount`) and a
//! real sync against the emulator: a copy of a library file is a reference
//! whose upload sends the original's bytes; a copy kept in the default
//! folder and then altered behind the mount's back (what a crash or power
//! loss without fsync can leave) is never uploaded, and the status says why.

use std::path::{Path, PathBuf};

#[path = "common/proc.rs"]
mod proc;
use proc::*;
#[path = "common/world.rs"]
mod world;
use world::*;

fn getxattr(p: &Path, name: &str) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 4096];
    // SAFETY: valid C strings and a buffer of the given length.
    let len = unsafe { libc::getxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| String::from_utf8_lossy(&buf[..len as usize]).into_owned())
}

#[test]
fn a_library_copy_uploads_the_original_and_an_altered_kept_copy_is_never_uploaded() {
    let w = World::new(None);
    w.add_account();
    let out = w.flickrfs(
        &[
            "config",
            "set",
            "alice",
            "library",
            &w.photos.to_string_lossy(),
        ],
        OP_DEADLINE,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let original = w.original("beach.jpg", 5, 64);
    let card = w.tmp.path().join("card");
    std::fs::create_dir_all(&card).unwrap();
    let card_bytes = jpeg(6, 64);
    std::fs::write(card.join("card.jpg"), &card_bytes).unwrap();

    let d = w.mount();
    let set = w.acct().join("Holiday");
    std::fs::create_dir(&set).unwrap();
    let out = w
        .sh(&format!(
            "cp {}/beach.jpg {}/card.jpg {}/",
            w.photos.display(),
            card.display(),
            set.display()
        ))
        .output()
        .unwrap();
    assert!(out.status.success(), "cp: {}", text(&out.stderr));
    let beach_src = getxattr(&set.join("beach.jpg"), "user.flickrfs.source").unwrap();
    assert_eq!(PathBuf::from(&beach_src), w.photos.join("beach.jpg"));
    let kept = PathBuf::from(getxattr(&set.join("card.jpg"), "user.flickrfs.source").unwrap());
    assert!(
        kept.starts_with(&w.default_folder),
        "a copy from outside the library stays in the default folder: {}",
        kept.display()
    );
    // the kept copy loses its bytes behind the mount's back: same size,
    // other content (as a crash can leave a file that was never fsynced)
    std::fs::write(&kept, vec![0u8; card_bytes.len()]).unwrap();

    let state = w.control_sync();
    let photos = w.emu.photos(&w.nsid);
    let titles: Vec<&str> = photos.iter().map(|p| p.title.as_str()).collect();
    assert_eq!(
        titles,
        ["beach"],
        "only the library photo went up ({state})"
    );
    assert_eq!(
        w.emu.photo_bytes(&photos[0].id).unwrap(),
        original,
        "the upload sent the original's bytes"
    );
    let status = std::fs::read_to_string(w.mnt.join(".flickrfs/status")).unwrap();
    assert!(
        status.contains("card") && status.contains("changed behind the mount's back"),
        "the status says why the copy is not uploaded: {status}"
    );
    // and a second sync does not try again
    w.control_sync();
    assert_eq!(w.emu.photos(&w.nsid).len(), 1);
    d.unmount();
    assert_eq!(std::fs::read(w.photos.join("beach.jpg")).unwrap(), original);
}
