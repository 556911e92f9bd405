//! Whole-mount rules: no operation touches a user's file. (Random operations
//! are the model test's: `tests/model_mount.rs` through the kernel, with the
//! one reference model as the oracle.)

use super::*;

#[test]
fn no_operation_deletes_or_changes_a_users_file() {
    let w = World::new();
    let a = w.add_alice();
    for i in 0..8 {
        w.user_photo(&format!("u{i}.jpg"), 40_000 + i * 7, 100 + i as u64);
    }
    std::fs::create_dir_all(&w.default_folder).unwrap();
    std::fs::write(
        w.default_folder.join("u0.jpg"),
        b"pre-existing in the default folder",
    )
    .unwrap();
    let cat = w.catalog();
    let t = cat.mkdir(a.id, &EntryName::new("Trip").unwrap()).unwrap();
    for i in 0..4 {
        let p = w.photos.join(format!("u{i}.jpg"));
        cat.add_file(
            t.id,
            &EntryName::new(&format!("u{i}.jpg")).unwrap(),
            &p,
            None,
        )
        .unwrap();
    }
    let before_photos = tree_sums(&w.photos);
    let before_default = tree_sums(&w.default_folder);
    let m = w.mount();
    let storm = r#"
        set +e
        cd $M/alice
        mkdir Best Other
        for i in 4 5 6 7; do ln -s $P/u$i.jpg Trip/; done
        cp $P/u0.jpg Best/
        ln Trip/u1.jpg Best/u1.jpg
        mv Trip/u2.jpg Trip/Two.jpg
        mv Trip/Two.jpg Other/
        mv Other/Two.jpg .
        rm Trip/u3.jpg
        rm u3.jpg Two.jpg
        rm -rf Best Other Trip
        rm -f *
        cp -r $P Copied 2>/dev/null
        rsync -a --delete $P/ Trip/ 2>/dev/null
        rm -rf Trip/*
        find . -type f -exec rm -f {} +
        truncate -s 0 nonexistent.jpg
        true
    "#;
    w.sh(storm);
    drop(m);
    assert_eq!(
        tree_sums(&w.photos),
        before_photos,
        "the user's photos are untouched"
    );
    let after_default = tree_sums(&w.default_folder);
    for (k, v) in before_default {
        assert_eq!(
            after_default.get(&k),
            Some(&v),
            "{} changed or vanished",
            k.display()
        );
    }
}
