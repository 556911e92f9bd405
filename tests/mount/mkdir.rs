//! `mkdir`/`rmdir` and renaming set folders.

use super::*;

#[test]
fn mkdir_rmdir_and_renaming_set_folders() {
    let w = World::new();
    let a = w.add_alice();
    w.user_photo("k.jpg", 20_000, 13);
    let _m = w.mount();
    w.ok("mkdir $M/alice/Holidays");
    let set = w.set(&a, "Holidays");
    assert!(set.is_set());
    w.ok("cp $P/k.jpg $M/alice/Holidays/");
    let out = w.sh("rmdir $M/alice/Holidays");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not empty"),
        "{out:?}"
    );
    w.ok("mv $M/alice/Holidays $M/alice/Summer");
    assert_eq!(w.set(&a, "Summer").id, set.id);
    w.ok("test -f $M/alice/Summer/k.jpg");
    w.ok("mkdir $M/alice/Empty && rmdir $M/alice/Empty");
    assert!(w
        .catalog()
        .lookup_set(a.id, &EntryName::new("Empty").unwrap())
        .unwrap()
        .is_none());
    // mkdir inside a set means nothing: refused
    w.fails("mkdir $M/alice/Summer/sub");
}
