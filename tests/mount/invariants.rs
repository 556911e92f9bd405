//! Whole-mount rules: no operation touches a user's file; random operations keep the mount equal to the catalog.

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

/// The tree as the catalog describes it: folder path → sorted names.
fn catalog_tree(
    w: &World,
    a: &flickrfs::catalog::Account,
) -> std::collections::BTreeMap<String, Vec<String>> {
    let cat = w.catalog();
    let mut t = std::collections::BTreeMap::new();
    let mut root: Vec<String> = cat
        .list(a.root)
        .unwrap()
        .into_iter()
        .map(|e| e.name.as_str().to_owned())
        .collect();
    root.push("Pools".into());
    for s in cat.sets(a.id).unwrap() {
        root.push(s.name.as_str().to_owned());
        let mut names: Vec<String> = cat
            .list(s.id)
            .unwrap()
            .into_iter()
            .map(|e| e.name.as_str().to_owned())
            .collect();
        names.sort();
        t.insert(format!("alice/{}", s.name), names);
    }
    root.sort();
    t.insert("alice".to_owned(), root);
    t.insert("alice/Pools".to_owned(), vec![]);
    t
}

/// The tree as the mount shows it.
fn mount_tree(m: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut t = std::collections::BTreeMap::new();
    let mut stack = vec!["alice".to_owned()];
    while let Some(rel) = stack.pop() {
        let mut names = Vec::new();
        for e in std::fs::read_dir(m.join(&rel)).unwrap() {
            let e = e.unwrap();
            let n = e.file_name().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                stack.push(format!("{rel}/{n}"));
            }
            names.push(n);
        }
        names.sort();
        t.insert(rel, names);
    }
    t
}

#[test]
fn random_operations_keep_the_mount_equal_to_the_catalog() {
    let w = World::new();
    let a = w.add_alice();
    for i in 0..6 {
        w.user_photo(&format!("p{i}.jpg"), 20_000 + i * 333, 200 + i as u64);
    }
    let before = tree_sums(&w.photos);
    let m = w.mount();
    let alice = m.mnt.join("alice");
    let mut x: u64 = std::env::var("FLICKRFS_MODEL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    eprintln!("model seed {x:#x}");
    let mut rnd = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    let mut log = Vec::new();
    for step in 0..120 {
        let tree = mount_tree(&m.mnt);
        let folders: Vec<String> = tree
            .keys()
            .filter(|k| *k != "alice/Pools")
            .cloned()
            .collect();
        let sets: Vec<String> = folders.iter().filter(|f| *f != "alice").cloned().collect();
        let mut files: Vec<(String, String)> = Vec::new();
        for f in &folders {
            for n in &tree[f] {
                if !tree.contains_key(&format!("{f}/{n}")) {
                    files.push((f.clone(), n.clone()));
                }
            }
        }
        let pick_folder = |r: usize| m.mnt.join(&folders[r % folders.len()]);
        let op = rnd(8);
        let res: std::io::Result<()> = match op {
            0 => {
                let i = rnd(6);
                let dst = pick_folder(rnd(100)).join(format!("c{}_{i}.jpg", rnd(3)));
                log.push(format!("cp p{i}.jpg {}", dst.display()));
                let existed = dst.exists();
                let r = std::fs::copy(w.photos.join(format!("p{i}.jpg")), &dst).map(|_| ());
                if let Err(e) = &r {
                    assert!(
                        existed || e.raw_os_error() != Some(libc::EEXIST),
                        "EEXIST for a new name: {log:#?}"
                    );
                }
                r
            }
            1 if !files.is_empty() => {
                let (f, n) = &files[rnd(files.len())];
                let dst = pick_folder(rnd(100)).join(format!("m{}.jpg", rnd(5)));
                log.push(format!("mv {f}/{n} {}", dst.display()));
                std::fs::rename(m.mnt.join(f).join(n), &dst)
            }
            2 if !files.is_empty() => {
                let (f, n) = &files[rnd(files.len())];
                log.push(format!("rm {f}/{n}"));
                std::fs::remove_file(m.mnt.join(f).join(n))
            }
            3 if !files.is_empty() && !sets.is_empty() => {
                let (f, n) = &files[rnd(files.len())];
                let dst = m
                    .mnt
                    .join(&sets[rnd(sets.len())])
                    .join(format!("l{}.jpg", rnd(4)));
                log.push(format!("ln {f}/{n} {}", dst.display()));
                std::fs::hard_link(m.mnt.join(f).join(n), &dst)
            }
            4 => {
                let d = alice.join(format!("Set{}", rnd(4)));
                log.push(format!("mkdir {}", d.display()));
                std::fs::create_dir(&d)
            }
            5 if !sets.is_empty() => {
                let s = &sets[rnd(sets.len())];
                log.push(format!("rmdir {s}"));
                std::fs::remove_dir(m.mnt.join(s))
            }
            6 if !sets.is_empty() => {
                let s = &sets[rnd(sets.len())];
                let d = alice.join(format!("Renamed{}", rnd(3)));
                log.push(format!("mv {s} {}", d.display()));
                std::fs::rename(m.mnt.join(s), &d)
            }
            _ => {
                let i = rnd(6);
                let dst = pick_folder(rnd(100)).join(format!("s{i}.jpg"));
                log.push(format!("ln -s p{i}.jpg {}", dst.display()));
                std::os::unix::fs::symlink(w.photos.join(format!("p{i}.jpg")), &dst)
            }
        };
        if let Err(e) = &res {
            // refusals are fine (EEXIST, ENOTEMPTY, EPERM...); EIO never is
            assert_ne!(e.raw_os_error(), Some(libc::EIO), "step {step}: {log:?}");
            log.push(format!("  -> {e}"));
        }
        let now = mount_tree(&m.mnt);
        assert_eq!(now, catalog_tree(&w, &a), "after step {step}: {log:#?}");
        // names that left the listing are gone for lookups too (no stale
        // kernel dentries), and listed names resolve
        for (dir, names) in &tree {
            for n in names {
                let listed = now.get(dir).is_some_and(|v| v.contains(n));
                let r = std::fs::symlink_metadata(m.mnt.join(dir).join(n));
                if listed {
                    assert!(r.is_ok(), "{dir}/{n} listed but stat fails: {log:#?}");
                } else if !now.contains_key(&format!("{dir}/{n}")) {
                    // a side effect in a folder the operation itself held
                    // locked is dropped from the kernel's cache just after
                    // the call returns (SEMANTICS.md, cache coherence):
                    // wait for that, boundedly, on the state itself
                    let path = m.mnt.join(dir).join(n);
                    let gone = errno(r) == libc::ENOENT
                        || eventually(Duration::from_secs(20), || {
                            errno(std::fs::symlink_metadata(&path)) == libc::ENOENT
                        });
                    assert!(gone, "{dir}/{n} unlisted but still resolves: {log:#?}");
                }
            }
        }
        // every listed file reads as its backing file
        for (f, n) in files.iter().take(3) {
            let p = m.mnt.join(f).join(n);
            if let Ok(bytes) = std::fs::read(&p) {
                let e = w.catalog().entries_of(
                    w.catalog()
                        .lookup(
                            if f == "alice" {
                                a.root
                            } else {
                                w.set(&a, f.trim_start_matches("alice/")).id
                            },
                            &EntryName::new(n).unwrap(),
                        )
                        .unwrap()
                        .map(|e| e.photo)
                        .unwrap_or(flickrfs::catalog::PhotoKey(-1)),
                );
                if let Some(path) = e.ok().and_then(|v| v.into_iter().find_map(|e| e.path)) {
                    assert_eq!(bytes, std::fs::read(path).unwrap(), "{f}/{n}");
                }
            }
        }
    }
    if std::env::var("FLICKRFS_MODEL_VERBOSE").is_ok() {
        eprintln!("{log:#?}\nfinal: {:#?}", mount_tree(&m.mnt));
    }
    drop(m);
    assert_eq!(
        tree_sums(&w.photos),
        before,
        "user files untouched: {log:#?}"
    );
}
