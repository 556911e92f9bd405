//! `rm`: leaving a set, forgetting a photo, never deleting the user's file.

use super::*;

#[test]
fn rm_in_a_set_leaves_the_set_and_rm_in_the_account_forgets_but_keeps_the_file() {
    let w = World::new();
    let a = w.add_alice();
    let cat = w.catalog();
    let t = cat.mkdir(a.id, &EntryName::new("Trip").unwrap()).unwrap();
    let src = w.user_photo("d.jpg", 30_000, 12);
    cat.add_file(t.id, &EntryName::new("d.jpg").unwrap(), &src, None)
        .unwrap();
    let _m = w.mount();
    w.ok("rm $M/alice/Trip/d.jpg");
    assert!(w.names(t.id).is_empty());
    // now in no set: listed in the account folder
    assert!(w.names(a.root).contains(&"d.jpg".to_string()));
    w.ok("rm $M/alice/d.jpg");
    assert!(!w.names(a.root).contains(&"d.jpg".to_string()));
    assert!(src.exists(), "rm never deletes a user's file");
}
