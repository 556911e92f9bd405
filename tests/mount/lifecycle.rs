//! Mounting, refusing a bad mount point, unmounting and mounting again.

use super::*;

#[test]
fn refuses_missing_or_non_empty_mount_point() {
    let w = World::new();
    w.add_alice();
    let mut o = w.options();
    o.mountpoint = w.tmp.path().join("nope");
    let e = flickrfs::fs::spawn_mount(o).unwrap_err().to_string();
    assert!(e.contains("does not exist"), "{e}");
    std::fs::write(w.mnt.join("x"), b"x").unwrap();
    let e = flickrfs::fs::spawn_mount(w.options())
        .unwrap_err()
        .to_string();
    assert!(e.contains("not empty"), "{e}");
}

#[test]
fn fusermount_u_unmounts_and_the_mount_can_come_back() {
    let w = World::new();
    w.add_alice();
    let m = w.mount();
    w.ok("fusermount3 -u $M");
    assert!(eventually(Duration::from_secs(30), || !is_mounted(&w.mnt)));
    drop(m);
    let m = w.mount();
    assert!(is_mounted(&w.mnt));
    flickrfs::fs::unmount(&w.mnt).expect("flickrfs unmount");
    assert!(!is_mounted(&w.mnt));
    drop(m);
}
