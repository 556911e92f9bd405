//! A clean unmount logs no error (issue 15): the real `flickrfs mount
//! --foreground` daemon, unmounted from outside with `fusermount3 -u` (what
//! `flickrfs unmount` and a file manager's eject do), exits 0 and its log
//! holds no warning or error.

#[path = "common/proc.rs"]
mod proc;
#[path = "common/world.rs"]
mod world;
use world::*;

#[test]
fn an_unmount_from_outside_ends_the_daemon_without_a_warning() {
    let w = World::new(None);
    w.add_account();
    let daemon = w.mount();
    daemon.unmount();
    let log = std::fs::read_to_string(w.tmp.path().join("mount.out")).expect("log");
    assert!(
        !log.contains("Failed to umount") && !log.contains("WARN") && !log.contains("ERROR"),
        "{log}"
    );
}
