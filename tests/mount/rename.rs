//! `mv`: renaming, reassigning and unassigning.

use super::*;

#[test]
fn mv_renames_reassigns_and_unassigns() {
    let w = World::new();
    let a = w.add_alice();
    let cat = w.catalog();
    let t = cat.mkdir(a.id, &EntryName::new("Trip").unwrap()).unwrap();
    let b = cat.mkdir(a.id, &EntryName::new("Best").unwrap()).unwrap();
    let src = w.user_photo("m.jpg", 30_000, 10);
    let key = match cat
        .add_file(t.id, &EntryName::new("m.jpg").unwrap(), &src, None)
        .unwrap()
    {
        flickrfs::catalog::AddOutcome::NewPhoto(e) => e.photo,
        other => panic!("{other:?}"),
    };
    let _m = w.mount();
    // within a folder: a new title
    w.ok("mv $M/alice/Trip/m.jpg $M/alice/Trip/Sunset.jpg");
    assert_eq!(photo_of(&w, t.id, "Sunset.jpg").photo, key);
    assert_eq!(w.catalog().photo(key).unwrap().meta.title, "Sunset");
    // between sets: reassign, same photo
    w.ok("mv $M/alice/Trip/Sunset.jpg $M/alice/Best/");
    assert_eq!(photo_of(&w, b.id, "Sunset.jpg").photo, key);
    assert!(w.names(t.id).is_empty());
    // to the account folder: in no set any more
    w.ok("mv $M/alice/Best/Sunset.jpg $M/alice/");
    assert_eq!(photo_of(&w, a.root, "Sunset.jpg").photo, key);
    assert!(w.names(b.id).is_empty());
    assert_eq!(w.catalog().memberships(key).unwrap(), vec![a.root]);
    assert_eq!(
        sha1_of(&src),
        sha1_of(&w.photos.join("m.jpg")),
        "file untouched"
    );
    w.ok("test -f $P/m.jpg");
}
