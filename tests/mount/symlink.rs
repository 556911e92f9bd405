//! `ln -s`: a reference to a file without copying it.

use super::*;

#[test]
fn ln_s_references_a_file_without_copying_and_shows_a_plain_file() {
    let w = World::new();
    let a = w.add_alice();
    w.catalog()
        .mkdir(a.id, &EntryName::new("Trip").unwrap())
        .unwrap();
    let src = w.user_photo("ref.jpg", 100_000, 8);
    let m = w.mount();
    w.ok("ln -s $P/ref.jpg $M/alice/Trip/");
    let set = w.set(&a, "Trip");
    let e = photo_of(&w, set.id, "ref.jpg");
    assert_eq!(
        e.path.as_deref(),
        Some(std::fs::canonicalize(&src).unwrap().as_path())
    );
    assert!(!w.default_folder.join("ref.jpg").exists(), "no copy made");
    let st = std::fs::symlink_metadata(m.mnt.join("alice/Trip/ref.jpg")).unwrap();
    assert!(
        st.file_type().is_file(),
        "shown as a regular file, not a symlink"
    );
    w.ok("cmp $P/ref.jpg $M/alice/Trip/ref.jpg");
    // relative targets are refused with a clear errno
    let err = w.fails("cd $P && ln -s ref.jpg $M/alice/rel.jpg");
    assert!(err.contains("Invalid argument"), "{err}");
}
