//! `ln`: the same photo in one more set.

use super::*;

#[test]
fn hard_link_puts_the_same_photo_in_one_more_set() {
    let w = World::new();
    let a = w.add_alice();
    let cat = w.catalog();
    let t = cat.mkdir(a.id, &EntryName::new("Trip").unwrap()).unwrap();
    let b = cat.mkdir(a.id, &EntryName::new("Best").unwrap()).unwrap();
    let src = w.user_photo("h.jpg", 30_000, 9);
    cat.add_file(t.id, &EntryName::new("h.jpg").unwrap(), &src, None)
        .unwrap();
    let _m = w.mount();
    w.ok("ln $M/alice/Trip/h.jpg $M/alice/Best/h.jpg");
    assert_eq!(
        photo_of(&w, t.id, "h.jpg").photo,
        photo_of(&w, b.id, "h.jpg").photo
    );
    w.ok("cmp $P/h.jpg $M/alice/Best/h.jpg");
}
