//! Unit tests of the catalog against a real SQLite file in a tempdir: every
//! file operation's meaning, the root invariant, names, the change log, and
//! the sync APIs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::*;
use crate::media::{self, testdata, MediaKind};
use crate::model::{Granularity, GroupId, Nsid, PhotoId, SetId, Visibility};

struct Fx {
    _dir: tempfile::TempDir,
    db: PathBuf,
    folder: PathBuf,
    cat: Catalog,
    acct: Account,
}

fn fx() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("data/flickrfs/catalog.db");
    let folder = dir.path().join("Pictures/alice");
    std::fs::create_dir_all(&folder).unwrap();
    let cat = Catalog::open(&db).unwrap();
    let acct = cat
        .add_account(&Nsid::new("1@N01"), "alice", "alice", &folder)
        .unwrap();
    Fx {
        _dir: dir,
        db,
        folder,
        cat,
        acct,
    }
}

fn n(s: &str) -> EntryName {
    EntryName::new(s).unwrap()
}

impl Fx {
    fn file(&self, name: &str, seed: u8) -> PathBuf {
        let p = self.folder.join(name);
        std::fs::write(
            &p,
            testdata::jpeg_with_exif(8, 6, Some("2020:05:06 07:08:09"), seed),
        )
        .unwrap();
        p
    }
    fn add(&self, coll: CollectionId, name: &str, seed: u8) -> AddOutcome {
        let p = self.file(&format!("{seed}-{name}"), seed);
        self.cat.add_file(coll, &n(name), &p, None).unwrap()
    }
    fn names(&self, coll: CollectionId) -> Vec<String> {
        self.cat
            .list(coll)
            .unwrap()
            .into_iter()
            .map(|e| e.name.to_string())
            .collect()
    }
    fn root(&self) -> CollectionId {
        self.acct.root
    }
    fn set(&self, name: &str) -> CollectionId {
        self.cat.mkdir(self.acct.id, &n(name)).unwrap().id
    }
    fn entry(&self, coll: CollectionId, name: &str) -> Entry {
        self.cat.lookup(coll, &n(name)).unwrap().unwrap()
    }
    /// The root invariant and per-folder uniqueness, over the whole account.
    /// The root invariant: the account folder lists exactly the photos in
    /// no set and no pool (and not ignored).
    fn check(&self) {
        let sets: BTreeSet<CollectionId> = self
            .cat
            .collections(self.acct.id)
            .unwrap()
            .into_iter()
            .filter(|c| c.is_set() || matches!(c.kind, CollectionKind::Pool(_)))
            .map(|c| c.id)
            .collect();
        for p in self.cat.photos(self.acct.id).unwrap() {
            let colls = self.cat.memberships(p.key).unwrap();
            let in_sets = colls.iter().any(|c| sets.contains(c));
            let in_root = colls.contains(&self.root());
            if p.ignored {
                assert!(!in_root, "ignored photo {} listed in root", p.key);
            } else {
                assert_eq!(
                    in_root, !in_sets,
                    "photo {} '{}': in sets or pools {in_sets}, in root {in_root}",
                    p.key, p.meta.title
                );
            }
        }
        let root_names: BTreeSet<String> = self.names(self.root()).into_iter().collect();
        for s in self.cat.sets(self.acct.id).unwrap() {
            assert!(
                !root_names.contains(s.name.as_str()),
                "set folder and root entry share '{}'",
                s.name
            );
        }
    }
}

fn remote(id: &str, title: &str) -> RemotePhoto {
    RemotePhoto {
        id: PhotoId::new(id),
        title: title.into(),
        description: String::new(),
        tags: vec![],
        visibility: Visibility::default(),
        date_taken: None,
        granularity: Granularity::Exact,
        original_format: Some("jpg".into()),
        original_secret: None,
        secret: None,
        server: None,
        url_original: None,
        lastupdate: 1,
        media_video: false,
        checksum_tag: None,
    }
}

// ------------------------------------------------------------ open

#[test]
fn open_creates_a_private_wal_catalog_and_reopens_it() {
    use std::os::unix::fs::PermissionsExt;
    let f = fx();
    let mode = std::fs::metadata(&f.db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let jm: String = f
        .cat
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(jm, "wal");
    let fk: i64 = f
        .cat
        .conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let v: i64 = f
        .cat
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, schema::SCHEMA_VERSION);
    let again = Catalog::open(&f.db).unwrap();
    assert_eq!(again.accounts().unwrap().len(), 1);
    f.cat.conn.pragma_update(None, "user_version", 99).unwrap();
    let err = Catalog::open(&f.db).unwrap_err();
    assert!(
        matches!(err, CatalogError::TooNew { found: 99, .. }),
        "{err}"
    );
}

#[test]
fn schema_5_keeps_old_merge_bases_with_no_pools_and_takes_pool_photos_out_of_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("catalog.db");
    {
        // A catalog at schema 4, with one photo's merge base.
        let c = rusqlite::Connection::open(&db).unwrap();
        for sql in &schema::MIGRATIONS[..4] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 4).unwrap();
        c.execute_batch(
            "INSERT INTO accounts (id, nsid, username, collection_name, default_folder) \
               VALUES (1, '1@N01', 'alice', 'alice', x'2f74');
             INSERT INTO photos (id, account_id, remote_id, title) VALUES (7, 1, '42', 'w');
             INSERT INTO photos (id, account_id, remote_id, title) VALUES (8, 1, '43', 'p');
             INSERT INTO synced (photo_id, title, description, tags, privacy, sets) \
               VALUES (7, 'w', '', '[]', 'public', '[\"5\"]');
             INSERT INTO collections (id, account_id, kind, name, title) VALUES (1, 1, 'root', 'alice', 'alice');
             INSERT INTO collections (id, account_id, kind, remote_id, name, title) \
               VALUES (2, 1, 'pool', '9@N20', 'Cats', 'Cats');
             INSERT INTO memberships (collection_id, name, photo_id) VALUES (1, 'w.jpg', 7);
             INSERT INTO memberships (collection_id, name, photo_id) VALUES (1, 'p.jpg', 8);
             INSERT INTO memberships (collection_id, name, photo_id) VALUES (2, 'p.jpg', 8);",
        )
        .unwrap();
    }
    let cat = Catalog::open(&db).unwrap();
    let b = cat.synced_base(PhotoKey(7)).unwrap().unwrap();
    assert_eq!(b.sets, vec![SetId::new("5")]);
    assert!(b.pools.is_empty());
    // The photo in a pool left the account folder; the other stays.
    assert_eq!(cat.memberships(PhotoKey(8)).unwrap(), vec![CollectionId(2)]);
    assert_eq!(cat.memberships(PhotoKey(7)).unwrap(), vec![CollectionId(1)]);
    let v: i64 = cat
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, schema::SCHEMA_VERSION);
}

#[test]
fn accounts_are_upserted_by_nsid_and_folder_names_are_unique() {
    let f = fx();
    let again = f
        .cat
        .add_account(&Nsid::new("1@N01"), "alice2", "Alice", &f.folder)
        .unwrap();
    assert_eq!(again.id, f.acct.id);
    assert_eq!(again.collection_name.as_str(), "Alice");
    assert_eq!(f.cat.collection(again.root).unwrap().name.as_str(), "Alice");
    let err = f
        .cat
        .add_account(&Nsid::new("2@N01"), "bob", "Alice", &f.folder)
        .unwrap_err();
    assert_eq!(err.errno(), libc::EEXIST);
    assert!(f
        .cat
        .add_account(&Nsid::new("2@N01"), "bob", ".flickrfs", &f.folder)
        .is_err());
    let bob = f
        .cat
        .add_account(&Nsid::new("2@N01"), "bob", "bob", &f.folder)
        .unwrap();
    assert_eq!(
        f.cat.account_by_name(&n("bob")).unwrap().unwrap().id,
        bob.id
    );
    assert_eq!(f.cat.accounts().unwrap().len(), 2);
}

// ------------------------------------------------------------ add / create / write

#[test]
fn adding_a_file_to_the_account_folder_makes_a_local_photo_titled_after_its_name() {
    let f = fx();
    let out = f.add(f.root(), "Sunset.jpg", 1);
    let AddOutcome::NewPhoto(e) = out else {
        panic!("{out:?}")
    };
    assert_eq!(f.names(f.root()), vec!["Sunset.jpg"]);
    let p = f.cat.photo(e.photo).unwrap();
    assert_eq!(p.meta.title, "Sunset");
    let l = p.local.as_ref().unwrap();
    assert_eq!(l.kind, MediaKind::Jpeg);
    assert_eq!(
        l.exif.taken_at.as_ref().unwrap().as_str(),
        "2020-05-06 07:08:09"
    );
    assert_eq!((l.exif.width, l.exif.height), (Some(8), Some(6)));
    assert_eq!(
        l.checksum.as_ref().unwrap(),
        &media::sha1_file(&l.path).unwrap()
    );
    assert_eq!(p.state(), PhotoState::LocalOnly);
    assert!(p.is_uploadable());
    f.check();
}

#[test]
fn adding_the_same_content_to_a_set_is_the_same_photo_in_one_more_set() {
    let f = fx();
    let trip = f.set("Trip");
    let first = f.add(f.root(), "a.jpg", 1);
    let p = f.file("copy.jpg", 1);
    let out = f.cat.add_file(trip, &n("b.jpg"), &p, None).unwrap();
    let AddOutcome::SamePhoto(e) = out else {
        panic!("{out:?}")
    };
    assert_eq!(e.photo, first.entry().unwrap().photo);
    assert_eq!(f.cat.photos(f.acct.id).unwrap().len(), 1, "no second photo");
    assert_eq!(f.names(trip), vec!["b.jpg"]);
    assert!(
        f.names(f.root()).is_empty(),
        "in a set now, so not in the root"
    );
    f.check();
}

#[test]
fn copying_content_of_a_set_photo_into_the_account_folder_keeps_no_entry() {
    let f = fx();
    let trip = f.set("Trip");
    let e = f.add(trip, "a.jpg", 1);
    let p = f.file("again.jpg", 1);
    let out = f.cat.add_file(f.root(), &n("again.jpg"), &p, None).unwrap();
    assert_eq!(
        out,
        AddOutcome::AlreadyInSets {
            photo: e.entry().unwrap().photo,
            redundant: Some(p.clone())
        }
    );
    assert!(p.exists(), "the catalog never deletes files");
    assert!(f.names(f.root()).is_empty());
    f.check();
}

#[test]
fn a_taken_name_is_eexist() {
    let f = fx();
    f.add(f.root(), "a.jpg", 1);
    let p = f.file("x.jpg", 2);
    let err = f.cat.add_file(f.root(), &n("a.jpg"), &p, None).unwrap_err();
    assert_eq!(err.errno(), libc::EEXIST);
    f.set("Trip");
    assert_eq!(
        f.cat
            .add_file(f.root(), &n("Trip"), &p, None)
            .unwrap_err()
            .errno(),
        libc::EEXIST
    );
    assert_eq!(
        f.cat
            .add_file(f.root(), &n("Pools"), &p, None)
            .unwrap_err()
            .errno(),
        libc::EEXIST
    );
}

#[test]
fn junk_and_non_media_files_are_listed_but_never_uploadable() {
    let f = fx();
    let junk = f.folder.join(".DS_Store");
    std::fs::write(&junk, b"\0\0\0\x01Bud1").unwrap();
    let out = f
        .cat
        .add_file(f.root(), &n(".DS_Store"), &junk, None)
        .unwrap();
    let p = f.cat.photo(out.entry().unwrap().photo).unwrap();
    assert!(p.junk);
    assert_eq!(p.state(), PhotoState::NotUploadable);

    let txt = f.folder.join("notes.txt");
    std::fs::write(&txt, b"hello").unwrap();
    let out = f
        .cat
        .add_file(f.root(), &n("notes.txt"), &txt, None)
        .unwrap();
    let p = f.cat.photo(out.entry().unwrap().photo).unwrap();
    assert!(!p.junk);
    assert_eq!(p.state(), PhotoState::NotUploadable);
    let problems = f.cat.problems(Some(f.acct.id)).unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].kind, ProblemKind::NotUploadable);
    assert!(
        problems[0].message.contains("notes"),
        "{}",
        problems[0].message
    );
    assert_eq!(f.names(f.root()), vec![".DS_Store", "notes.txt"]);
    // Same junk bytes twice never merge.
    let junk2 = f.folder.join("._x.jpg");
    std::fs::write(&junk2, b"\0\0\0\x01Bud1").unwrap();
    assert!(matches!(
        f.cat
            .add_file(f.root(), &n("._x.jpg"), &junk2, None)
            .unwrap(),
        AddOutcome::NewPhoto(_)
    ));
}

#[test]
fn create_write_release_records_the_content_and_a_rewrite_updates_it() {
    let f = fx();
    let trip = f.set("Trip");
    let path = f.folder.join("Trip/IMG_1.jpg");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"").unwrap();
    let e = f.cat.create_entry(trip, &n("IMG_1.jpg"), &path).unwrap();
    assert_eq!((e.size, e.writing), (0, true));
    assert_eq!(f.cat.photo(e.photo).unwrap().state(), PhotoState::Writing);
    assert_eq!(
        f.cat
            .create_entry(trip, &n("IMG_1.jpg"), &path)
            .unwrap_err()
            .errno(),
        libc::EEXIST
    );

    let bytes = testdata::jpeg_with_exif(10, 10, None, 3);
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(
        f.cat.finish_write(e.photo, None, Written::NewFile).unwrap(),
        WriteOutcome::Updated { photo: e.photo }
    );
    let p = f.cat.photo(e.photo).unwrap();
    let l = p.local.unwrap();
    assert_eq!(
        (l.size, l.writing, l.kind),
        (bytes.len() as u64, false, MediaKind::Jpeg)
    );
    assert_eq!(l.checksum.unwrap(), media::sha1_bytes(&bytes));

    let bytes2 = testdata::jpeg_with_exif(12, 10, None, 4);
    std::fs::write(&path, &bytes2).unwrap();
    f.cat.finish_write(e.photo, None, Written::NewFile).unwrap();
    let l = f.cat.photo(e.photo).unwrap().local.unwrap();
    assert_eq!(l.checksum.unwrap(), media::sha1_bytes(&bytes2));
    assert_eq!(l.size, bytes2.len() as u64);
    assert_eq!(f.entry(trip, "IMG_1.jpg").size, bytes2.len() as u64);
    f.check();
}

#[test]
fn a_finished_copy_the_mount_wrote_may_become_a_reference_and_nothing_else_may() {
    let f = fx();
    let trip = f.set("Trip");
    let path = f.folder.join("copy.jpg");
    std::fs::write(&path, b"").unwrap();
    let e = f.cat.create_entry(trip, &n("copy.jpg"), &path).unwrap();
    // being written: not yet
    assert_eq!(f.cat.reference_candidate(e.photo).unwrap(), None);
    let bytes = testdata::jpeg_with_exif(9, 9, None, 11);
    std::fs::write(&path, &bytes).unwrap();
    f.cat.finish_write(e.photo, None, Written::NewFile).unwrap();
    let (account, local) = f.cat.reference_candidate(e.photo).unwrap().unwrap();
    assert_eq!((account, &local.path), (f.acct.id, &path));
    assert_eq!(local.checksum, Some(media::sha1_bytes(&bytes)));
    // a user's own file (`ln -s`) is never a candidate: it is the original
    let own = f.add(trip, "mine.jpg", 12).entry().unwrap().photo;
    assert_eq!(f.cat.reference_candidate(own).unwrap(), None);
    // once it refers to the original, the copy is no longer the mount's
    let original = f.folder.join("original.jpg");
    std::fs::write(&original, &bytes).unwrap();
    let removed = f.cat.adopt_original(e.photo, &path, &original, 1).unwrap();
    assert_eq!(removed, Some(path.clone()));
    assert_eq!(f.cat.reference_candidate(e.photo).unwrap(), None);
    f.check();
}

#[test]
fn a_written_file_with_known_content_becomes_a_membership_of_that_photo() {
    let f = fx();
    let orig = f.add(f.root(), "a.jpg", 7).entry().unwrap().photo;
    let trip = f.set("Trip");
    let path = f.folder.join("written.jpg");
    std::fs::write(&path, b"").unwrap();
    let e = f.cat.create_entry(trip, &n("a copy.jpg"), &path).unwrap();
    std::fs::write(
        &path,
        testdata::jpeg_with_exif(8, 6, Some("2020:05:06 07:08:09"), 7),
    )
    .unwrap();
    let out = f.cat.finish_write(e.photo, None, Written::NewFile).unwrap();
    assert_eq!(
        out,
        WriteOutcome::Merged {
            from: e.photo,
            into: orig,
            remove: Some(path.clone()),
            dropped: vec![]
        }
    );
    assert!(
        path.exists(),
        "the catalog says what to delete; it deletes nothing"
    );
    assert!(!f.cat.is_own_file(&path).unwrap());
    assert_eq!(f.entry(trip, "a copy.jpg").photo, orig);
    assert!(f.names(f.root()).is_empty());
    assert_eq!(f.cat.photos(f.acct.id).unwrap().len(), 1);
    f.check();
}

// ------------------------------------------------------------ link / rename / move

#[test]
fn a_hard_link_into_another_set_is_the_same_photo_in_one_more_set() {
    let f = fx();
    let a = f.set("A");
    let b = f.set("B");
    let e = f.add(a, "x.jpg", 1).entry().unwrap().clone();
    let l = f.cat.link(a, &n("x.jpg"), b, &n("y.jpg")).unwrap();
    assert_eq!(l.photo, e.photo);
    let mut m = f.cat.memberships(e.photo).unwrap();
    m.sort();
    assert_eq!(m, vec![a, b]);
    assert_eq!(
        f.cat
            .link(a, &n("x.jpg"), f.root(), &n("x.jpg"))
            .unwrap_err()
            .errno(),
        libc::EPERM
    );
    assert_eq!(
        f.cat
            .link(a, &n("x.jpg"), b, &n("y.jpg"))
            .unwrap_err()
            .errno(),
        libc::EEXIST
    );
    assert_eq!(
        f.cat
            .link(a, &n("nope.jpg"), b, &n("z.jpg"))
            .unwrap_err()
            .errno(),
        libc::ENOENT
    );
    f.check();
}

#[test]
fn renaming_within_a_folder_gives_a_new_title() {
    let f = fx();
    let e = f.add(f.root(), "IMG_0001.jpg", 1).entry().unwrap().clone();
    let r = f
        .cat
        .rename(f.root(), &n("IMG_0001.jpg"), f.root(), &n("Beach day.jpg"))
        .unwrap();
    assert_eq!(r.entry.photo, e.photo);
    assert_eq!(f.cat.photo(e.photo).unwrap().meta.title, "Beach day");
    assert_eq!(f.names(f.root()), vec!["Beach day.jpg"]);
    // Renaming to a junk name keeps the title and marks a local-only photo junk.
    f.cat
        .rename(
            f.root(),
            &n("Beach day.jpg"),
            f.root(),
            &n("Beach day.jpg~"),
        )
        .unwrap();
    let p = f.cat.photo(e.photo).unwrap();
    assert_eq!((p.meta.title.as_str(), p.junk), ("Beach day", true));
    f.cat
        .rename(f.root(), &n("Beach day.jpg~"), f.root(), &n("Beach.jpg"))
        .unwrap();
    assert!(!f.cat.photo(e.photo).unwrap().junk);
    f.check();
}

#[test]
fn an_editor_saving_through_a_temp_file_keeps_the_photo_identity() {
    let f = fx();
    let trip = f.set("Trip");
    let e = f.add(trip, "Sunset.jpg", 1).entry().unwrap().clone();
    f.cat
        .record_upload(e.photo, &remote("5301", "Sunset"))
        .unwrap();
    let tmp = f.folder.join(".goutputstream-XYZ");
    std::fs::write(&tmp, b"").unwrap();
    let t = f
        .cat
        .create_entry(trip, &n(".goutputstream-XYZ"), &tmp)
        .unwrap();
    std::fs::write(&tmp, testdata::jpeg_with_exif(8, 6, None, 2)).unwrap();
    f.cat.finish_write(t.photo, None, Written::NewFile).unwrap();
    let r = f
        .cat
        .rename(trip, &n(".goutputstream-XYZ"), trip, &n("Sunset.jpg"))
        .unwrap();
    assert_eq!(
        r.entry.photo, e.photo,
        "the edited photo keeps its identity and Flickr id"
    );
    let p = f.cat.photo(e.photo).unwrap();
    assert_eq!(p.local.as_ref().unwrap().path, tmp);
    // the mount's file leaves its temporary name; the user's file stays
    assert_eq!(
        r.files,
        vec![FileAction::Rename {
            photo: e.photo,
            from: tmp.clone(),
            name: "Sunset.jpg".into()
        }]
    );
    assert_eq!(p.remote_id().unwrap().as_str(), "5301");
    assert_eq!(f.names(trip), vec!["Sunset.jpg"]);
    assert_eq!(f.cat.photos(f.acct.id).unwrap().len(), 1);
    f.check();
}

#[test]
fn moving_between_sets_reassigns_without_a_new_photo() {
    let f = fx();
    let a = f.set("A");
    let b = f.set("B");
    let e = f.add(a, "x.jpg", 1).entry().unwrap().clone();
    let m = f.cat.rename(a, &n("x.jpg"), b, &n("x.jpg")).unwrap();
    assert_eq!(m.entry.photo, e.photo);
    assert_eq!(f.cat.memberships(e.photo).unwrap(), vec![b]);
    assert!(f.names(a).is_empty());
    assert_eq!(f.cat.photo(e.photo).unwrap().meta.title, "x");
    f.check();
}

#[test]
fn moving_to_the_account_folder_removes_all_sets() {
    let f = fx();
    let a = f.set("A");
    let b = f.set("B");
    let e = f.add(a, "x.jpg", 1).entry().unwrap().clone();
    f.cat.link(a, &n("x.jpg"), b, &n("x.jpg")).unwrap();
    f.cat.rename(b, &n("x.jpg"), f.root(), &n("x.jpg")).unwrap();
    assert_eq!(f.cat.memberships(e.photo).unwrap(), vec![f.root()]);
    assert!(f.names(a).is_empty() && f.names(b).is_empty());
    f.check();
}

#[test]
fn moving_to_the_account_folder_takes_the_photo_out_of_every_pool_too() {
    let f = fx();
    let pools = f
        .cat
        .upsert_pools(
            f.acct.id,
            &[
                RemotePool {
                    id: "9@N20".into(),
                    name: "Cats".into(),
                },
                RemotePool {
                    id: "9@N21".into(),
                    name: "Dogs".into(),
                },
            ],
        )
        .unwrap();
    let a = f.set("A");
    let e = f.add(a, "x.jpg", 1).entry().unwrap().clone();
    f.cat.link(a, &n("x.jpg"), pools[0], &n("x.jpg")).unwrap();
    f.cat.link(a, &n("x.jpg"), pools[1], &n("x.jpg")).unwrap();
    let mut m = f.cat.memberships(e.photo).unwrap();
    m.sort();
    let mut want = vec![a, pools[0], pools[1]];
    want.sort();
    assert_eq!(m, want);
    // From a pool as from a set: out of every set and pool.
    f.cat
        .rename(pools[0], &n("x.jpg"), f.root(), &n("x.jpg"))
        .unwrap();
    assert_eq!(f.cat.memberships(e.photo).unwrap(), vec![f.root()]);
    assert!(f.names(a).is_empty());
    assert!(f.names(pools[0]).is_empty() && f.names(pools[1]).is_empty());
    f.check();
}

#[test]
fn moving_into_a_pool_adds_the_pool() {
    let f = fx();
    let pools = f
        .cat
        .upsert_pools(
            f.acct.id,
            &[RemotePool {
                id: "9@N20".into(),
                name: "Cats".into(),
            }],
        )
        .unwrap();
    let pool = pools[0];
    let e = f.add(f.root(), "cat.jpg", 1).entry().unwrap().clone();
    f.cat
        .rename(f.root(), &n("cat.jpg"), pool, &n("cat.jpg"))
        .unwrap();
    assert_eq!(
        f.cat.memberships(e.photo).unwrap(),
        vec![pool],
        "in a pool, so no longer in the account folder"
    );
    assert!(f.names(f.root()).is_empty());
    // Linked into a set from the pool: in both.
    let a = f.set("A");
    f.cat.link(pool, &n("cat.jpg"), a, &n("cat.jpg")).unwrap();
    let mut m = f.cat.memberships(e.photo).unwrap();
    m.sort();
    assert_eq!(m, vec![pool, a]);
    f.check();
}

#[test]
fn the_account_folder_lists_photos_in_no_set_and_no_pool() {
    let f = fx();
    let pool = f
        .cat
        .upsert_pools(
            f.acct.id,
            &[RemotePool {
                id: "9@N20".into(),
                name: "Cats".into(),
            }],
        )
        .unwrap()[0];
    // A copy into a pool only: listed there, not in the account folder.
    let e = f.add(pool, "cat.jpg", 1).entry().unwrap().clone();
    assert_eq!(f.names(pool), vec!["cat.jpg"]);
    assert!(f.names(f.root()).is_empty());
    f.check();
    // Its content copied into the account folder again: no entry there.
    let p = f.file("again.jpg", 1);
    let out = f.cat.add_file(f.root(), &n("again.jpg"), &p, None).unwrap();
    assert!(
        matches!(out, AddOutcome::AlreadyInSets { photo, .. } if photo == e.photo),
        "{out:?}"
    );
    // Linking it there is refused, as for a photo in a set.
    let err = f
        .cat
        .link(pool, &n("cat.jpg"), f.root(), &n("cat.jpg"))
        .unwrap_err();
    assert_eq!(err.errno(), libc::EPERM, "{err}");
    // Out of its last pool: back in the account folder.
    f.cat.unlink(pool, &n("cat.jpg")).unwrap();
    assert_eq!(f.names(f.root()), vec!["cat.jpg"]);
    f.check();
    // A photo from Flickr that is in a pool and in no set: only in the pool.
    let keys = f
        .cat
        .upsert_remote_photos(f.acct.id, &[remote("77", "pooled")])
        .unwrap();
    f.cat
        .apply_memberships(&[MembershipChange::Add {
            photo: keys[0],
            collection: pool,
        }])
        .unwrap();
    assert_eq!(f.cat.memberships(keys[0]).unwrap(), vec![pool]);
    f.check();
}

#[test]
fn moving_between_accounts_is_exdev() {
    let f = fx();
    let bob = f
        .cat
        .add_account(&Nsid::new("2@N01"), "bob", "bob", &f.folder)
        .unwrap();
    f.add(f.root(), "x.jpg", 1);
    assert_eq!(
        f.cat
            .rename(f.root(), &n("x.jpg"), bob.root, &n("x.jpg"))
            .unwrap_err()
            .errno(),
        libc::EXDEV
    );
}

#[test]
fn renaming_over_another_photo_unlinks_it_first() {
    let f = fx();
    let a = f.set("A");
    let x = f.add(a, "x.jpg", 1).entry().unwrap().clone();
    f.cat.record_upload(x.photo, &remote("1", "x")).unwrap();
    let y = f.add(a, "y.jpg", 2).entry().unwrap().clone();
    f.cat.record_upload(y.photo, &remote("2", "y")).unwrap();
    f.cat.rename(a, &n("x.jpg"), a, &n("y.jpg")).unwrap();
    assert_eq!(f.entry(a, "y.jpg").photo, x.photo);
    assert_eq!(
        f.cat.memberships(y.photo).unwrap(),
        vec![f.root()],
        "the replaced photo left the set only"
    );
    f.check();
}

// ------------------------------------------------------------ unlink

#[test]
fn deleting_in_a_set_removes_from_that_set_only() {
    let f = fx();
    let a = f.set("A");
    let b = f.set("B");
    let e = f.add(a, "x.jpg", 1).entry().unwrap().clone();
    f.cat.link(a, &n("x.jpg"), b, &n("x.jpg")).unwrap();
    assert_eq!(
        f.cat.unlink(a, &n("x.jpg")).unwrap(),
        UnlinkOutcome::RemovedFromCollection { photo: e.photo }
    );
    assert_eq!(f.cat.memberships(e.photo).unwrap(), vec![b]);
    let out = f.cat.unlink(b, &n("x.jpg")).unwrap();
    assert_eq!(
        out,
        UnlinkOutcome::MovedToRoot {
            photo: e.photo,
            name: n("x.jpg")
        }
    );
    assert_eq!(f.names(f.root()), vec!["x.jpg"]);
    assert!(e.path.unwrap().exists());
    f.check();
}

#[test]
fn deleting_a_local_only_photo_in_the_account_folder_keeps_its_file() {
    let f = fx();
    let e = f.add(f.root(), "x.jpg", 1).entry().unwrap().clone();
    let out = f.cat.unlink(f.root(), &n("x.jpg")).unwrap();
    assert_eq!(
        out,
        UnlinkOutcome::Forgotten {
            photo: e.photo,
            path: e.path.clone()
        }
    );
    assert!(f.cat.photos(f.acct.id).unwrap().is_empty());
    assert!(e.path.unwrap().exists(), "the file stays on disk");
    assert_eq!(
        f.cat.unlink(f.root(), &n("x.jpg")).unwrap_err().errno(),
        libc::ENOENT
    );
}

#[test]
fn deleting_a_flickr_photo_in_the_account_folder_ignores_it_restorably() {
    let f = fx();
    let keys = f
        .cat
        .upsert_remote_photos(f.acct.id, &[remote("77", "Dog")])
        .unwrap();
    assert_eq!(f.names(f.root()), vec!["Dog.jpg"]);
    let out = f.cat.unlink(f.root(), &n("Dog.jpg")).unwrap();
    assert_eq!(
        out,
        UnlinkOutcome::Ignored {
            photo: keys[0],
            id: PhotoId::new("77")
        }
    );
    assert!(f.names(f.root()).is_empty());
    assert_eq!(f.cat.ignored(f.acct.id).unwrap().len(), 1);
    // A later fetch does not bring it back.
    f.cat
        .upsert_remote_photos(f.acct.id, &[remote("77", "Dog")])
        .unwrap();
    assert!(f.names(f.root()).is_empty());
    let p = f.cat.unignore(f.acct.id, &PhotoId::new("77")).unwrap();
    assert!(!p.ignored);
    assert_eq!(f.names(f.root()), vec!["Dog.jpg"]);
    f.check();
}

#[test]
fn a_deleted_temp_file_in_a_set_does_not_linger_in_the_root() {
    let f = fx();
    let a = f.set("A");
    let p = f.folder.join(".x.swp");
    std::fs::write(&p, b"swap").unwrap();
    f.cat.add_file(a, &n(".x.swp"), &p, None).unwrap();
    assert!(matches!(
        f.cat.unlink(a, &n(".x.swp")).unwrap(),
        UnlinkOutcome::Forgotten { .. }
    ));
    assert!(f.names(f.root()).is_empty());
    assert!(p.exists());
}

// ------------------------------------------------------------ sets

#[test]
fn mkdir_rmdir_and_rename_of_set_folders() {
    let f = fx();
    let s = f.cat.mkdir(f.acct.id, &n("Trip")).unwrap();
    assert_eq!(s.kind, CollectionKind::Photoset(None));
    assert_eq!(s.title, "Trip");
    assert_eq!(
        f.cat.mkdir(f.acct.id, &n("Trip")).unwrap_err().errno(),
        libc::EEXIST
    );
    assert_eq!(
        f.cat.mkdir(f.acct.id, &n("Pools")).unwrap_err().errno(),
        libc::EEXIST
    );
    f.add(f.root(), "x.jpg", 1);
    assert_eq!(
        f.cat.mkdir(f.acct.id, &n("x.jpg")).unwrap_err().errno(),
        libc::EEXIST
    );

    let r = f
        .cat
        .rename_set(s.id, Some(f.acct.id), &n("Trip 2024"))
        .unwrap();
    assert_eq!(
        (r.name.as_str(), r.title.as_str()),
        ("Trip 2024", "Trip 2024")
    );
    assert_eq!(
        f.cat
            .rename_set(s.id, Some(f.acct.id), &n("x.jpg"))
            .unwrap_err()
            .errno(),
        libc::EEXIST
    );
    // out of the account folder: into another account's (as between
    // filesystems), or anywhere else (a set folder lives there only)
    let other = AccountId(f.acct.id.0 + 1000);
    assert_eq!(
        f.cat
            .rename_set(s.id, Some(other), &n("T"))
            .unwrap_err()
            .errno(),
        libc::EXDEV
    );
    assert_eq!(
        f.cat.rename_set(s.id, None, &n("T")).unwrap_err().errno(),
        libc::EPERM
    );

    f.add(s.id, "y.jpg", 2);
    assert_eq!(f.cat.rmdir(s.id).unwrap_err().errno(), libc::ENOTEMPTY);
    f.cat
        .rename(s.id, &n("y.jpg"), f.root(), &n("y.jpg"))
        .unwrap();
    assert_eq!(f.cat.rmdir(s.id).unwrap(), RmdirOutcome::Dropped);
    assert!(f.cat.sets(f.acct.id).unwrap().is_empty());
    assert_eq!(f.cat.rmdir(f.root()).unwrap_err().errno(), libc::EPERM);
    f.check();
}

#[test]
fn rmdir_of_a_flickr_set_marks_it_for_deletion_and_hides_it() {
    let f = fx();
    let s = f.cat.mkdir(f.acct.id, &n("Trip")).unwrap();
    f.cat
        .record_set_created(s.id, &SetId::new("72157"))
        .unwrap();
    assert_eq!(
        f.cat.rmdir(s.id).unwrap(),
        RmdirOutcome::DeletePending(SetId::new("72157"))
    );
    assert!(f.cat.sets(f.acct.id).unwrap().is_empty());
    assert_eq!(f.cat.pending_set_deletions(f.acct.id).unwrap().len(), 1);
    assert!(f.cat.lookup_set(f.acct.id, &n("Trip")).unwrap().is_none());
    // The name is free again.
    f.cat.mkdir(f.acct.id, &n("Trip")).unwrap();
    f.cat.forget_collection(s.id).unwrap();
    assert!(f.cat.pending_set_deletions(f.acct.id).unwrap().is_empty());
}

// ------------------------------------------------------------ xattrs

#[test]
fn values_over_flickrs_limits_are_refused_and_leave_the_old_value() {
    use crate::model::limits;
    let f = fx();
    let k = f.add(f.root(), "x.jpg", 1).entry().unwrap().photo;
    let ok: Vec<String> = (0..limits::MAX_TAGS).map(|i| format!("t{i}")).collect();
    f.cat
        .set_xattr(k, Xattr::Tags, ok.join(" ").as_bytes())
        .unwrap();
    let over = |attr: Xattr, value: String| {
        let e = f.cat.set_xattr(k, attr, value.as_bytes()).unwrap_err();
        assert_eq!(e.errno(), libc::EINVAL, "{e}");
        assert!(e.to_string().len() < 300, "the error echoes the value: {e}");
    };
    let many: Vec<String> = (0..8000).map(|i| format!("tag{i}")).collect();
    over(Xattr::Tags, many.join(" "));
    over(Xattr::Tags, format!("{} one-more", ok.join(" ")));
    over(Xattr::Tags, "t".repeat(limits::MAX_TAG_CHARS + 1));
    over(Xattr::Title, "T".repeat(limits::MAX_TITLE_CHARS + 1));
    over(
        Xattr::Description,
        "d".repeat(limits::MAX_DESCRIPTION_BYTES + 1),
    );
    let p = f.cat.photo(k).unwrap();
    assert_eq!(p.meta.tags.as_deref().unwrap(), ok.as_slice());
    assert_eq!(p.meta.title, "x");
    assert_eq!(p.meta.description, None);
}

/// Bad input to `setxattr` and `removexattr` is an errno for every
/// attribute, never a panic: read-only facts EPERM, bad values EINVAL.
#[test]
fn every_attribute_answers_bad_input_with_an_errno() {
    let f = fx();
    let k = f.add(f.root(), "x.jpg", 1).entry().unwrap().photo;
    let long = vec![b'x'; 100_000];
    let values: [&[u8]; 7] = [b"", b"\xff\xfe", b"\0", b"-1", b"\n\n", b"\"", &long];
    for attr in Xattr::ALL {
        for v in values {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                f.cat.set_xattr(k, attr, v)
            }));
            let r = r.unwrap_or_else(|_| panic!("set {} to {v:?} panicked", attr.name()));
            if let Err(e) = r {
                let errno = e.errno();
                if attr.is_read_only() {
                    assert_eq!(errno, libc::EPERM, "{}", attr.name());
                } else {
                    assert!(
                        [libc::EINVAL, libc::E2BIG, libc::ERANGE].contains(&errno),
                        "{} {v:?}: {e} ({errno})",
                        attr.name()
                    );
                }
            } else {
                assert!(!attr.is_read_only(), "{} was written", attr.name());
            }
        }
        if attr.is_read_only() {
            assert_eq!(
                f.cat.remove_xattr(k, attr).unwrap_err().errno(),
                libc::EPERM
            );
        }
    }
}

#[test]
fn settings_are_read_and_written_through_xattrs() {
    let mut f = fx();
    let e = f.add(f.root(), "x.jpg", 1).entry().unwrap().clone();
    let k = e.photo;
    assert_eq!(
        f.cat.get_xattr(k, Xattr::Title).unwrap().as_deref(),
        Some("x")
    );
    assert_eq!(f.cat.get_xattr(k, Xattr::Privacy).unwrap(), None);
    assert_eq!(
        f.cat.get_xattr(k, Xattr::State).unwrap().as_deref(),
        Some("local-only")
    );
    assert_eq!(
        f.cat.get_xattr(k, Xattr::Source).unwrap(),
        Some(e.path.unwrap().to_string_lossy().into_owned())
    );
    assert_eq!(f.cat.get_xattr(k, Xattr::Id).unwrap(), None);

    f.cat.set_xattr(k, Xattr::Title, b"Beach\n").unwrap();
    f.cat
        .set_xattr(k, Xattr::Tags, br#"sea "north sea""#)
        .unwrap();
    f.cat
        .set_xattr(k, Xattr::Privacy, b"friends+family")
        .unwrap();
    f.cat.set_xattr(k, Xattr::Resize, b"2048").unwrap();
    f.cat.set_xattr(k, Xattr::Skip, b"1").unwrap();
    f.cat
        .set_xattr(k, Xattr::Description, b"A day out")
        .unwrap();
    let p = f.cat.photo(k).unwrap();
    assert_eq!(p.meta.title, "Beach");
    assert_eq!(
        p.meta.tags.as_deref().unwrap(),
        ["sea".to_string(), "north sea".to_string()]
    );
    assert_eq!(
        p.meta.privacy,
        Some(crate::model::Privacy::FriendsAndFamily)
    );
    assert_eq!(p.meta.resize, Some(Resize::LongestEdge(2048)));
    assert!(p.meta.skip);
    assert_eq!(p.state(), PhotoState::NotUploadable);
    assert_eq!(
        f.names(f.root()),
        vec!["x.jpg"],
        "a title set by xattr does not rename"
    );
    assert_eq!(
        f.cat.get_xattr(k, Xattr::Tags).unwrap().as_deref(),
        Some(r#"sea "north sea""#)
    );
    assert_eq!(f.cat.list_xattrs(k).unwrap().len(), 8);

    assert_eq!(
        f.cat
            .set_xattr(k, Xattr::Privacy, b"everyone")
            .unwrap_err()
            .errno(),
        libc::EINVAL
    );
    assert_eq!(
        f.cat.set_xattr(k, Xattr::Resize, b"3").unwrap_err().errno(),
        libc::EINVAL
    );
    assert_eq!(
        f.cat
            .set_xattr(k, Xattr::Title, b"\xff")
            .unwrap_err()
            .errno(),
        libc::EINVAL
    );
    assert_eq!(
        f.cat.set_xattr(k, Xattr::Id, b"1").unwrap_err().errno(),
        libc::EPERM
    );
    assert_eq!(
        f.cat.remove_xattr(k, Xattr::Title).unwrap_err().errno(),
        libc::EPERM
    );
    f.cat.remove_xattr(k, Xattr::Skip).unwrap();
    f.cat.remove_xattr(k, Xattr::Privacy).unwrap();
    let p = f.cat.photo(k).unwrap();
    assert!(!p.meta.skip);
    assert_eq!(p.meta.privacy, None);

    f.cat.record_upload(k, &remote("5301", "Beach")).unwrap();
    assert_eq!(
        f.cat.get_xattr(k, Xattr::Id).unwrap().as_deref(),
        Some("5301")
    );
    assert_eq!(
        f.cat.get_xattr(k, Xattr::Url).unwrap().as_deref(),
        Some("https://www.flickr.com/photos/1@N01/5301/")
    );
    // Against the emulator, the page is the emulator's.
    f.cat.set_photo_pages("http://127.0.0.1:8080/");
    assert_eq!(
        f.cat.get_xattr(k, Xattr::Url).unwrap().as_deref(),
        Some("http://127.0.0.1:8080/photos/1@N01/5301/")
    );
    assert_eq!(
        f.cat.get_xattr(k, Xattr::State).unwrap().as_deref(),
        Some("synced")
    );
}

// ------------------------------------------------------------ missing files

#[test]
fn a_missing_backing_file_is_flagged_and_found_again_by_checksum() {
    let f = fx();
    let e = f.add(f.root(), "x.jpg", 1).entry().unwrap().clone();
    let old = e.path.clone().unwrap();
    let moved = f.folder.join("elsewhere.jpg");
    std::fs::rename(&old, &moved).unwrap();
    assert_eq!(f.cat.refresh_local(e.photo).unwrap(), PhotoState::Missing);
    assert!(f.entry(f.root(), "x.jpg").missing);
    let problems = f.cat.problems(Some(f.acct.id)).unwrap();
    assert_eq!(problems[0].kind, ProblemKind::MissingFile);
    assert_eq!(f.cat.missing_photos(f.acct.id).unwrap().len(), 1);

    assert_eq!(
        f.cat.relocate(f.acct.id, &moved, None).unwrap(),
        Some(e.photo)
    );
    let p = f.cat.photo(e.photo).unwrap();
    assert_eq!(p.local.as_ref().unwrap().path, moved);
    assert_eq!(p.state(), PhotoState::LocalOnly);
    assert!(f.cat.problems(Some(f.acct.id)).unwrap().is_empty());
    // Unrelated content finds nothing.
    let other = f.file("other.jpg", 9);
    assert_eq!(f.cat.relocate(f.acct.id, &other, None).unwrap(), None);

    // Changed outside the mount: re-scanned.
    std::fs::write(&moved, testdata::jpeg_with_exif(30, 30, None, 5)).unwrap();
    f.cat.refresh_local(e.photo).unwrap();
    let l = f.cat.photo(e.photo).unwrap().local.unwrap();
    assert_eq!(l.checksum.unwrap(), media::sha1_file(&moved).unwrap());
    assert_eq!(l.exif.width, Some(30));
}

// ------------------------------------------------------------ change log

#[test]
fn the_generation_moves_and_says_which_folders_changed() {
    let f = fx();
    let g0 = f.cat.generation().unwrap();
    let a = f.set("A");
    let g1 = f.cat.generation().unwrap();
    assert!(g1 > g0);
    let ch = f.cat.changes_since(g0).unwrap();
    assert!(ch.collections.contains(&a) && ch.collections.contains(&f.root()));
    assert_eq!(ch.accounts, vec![f.acct.id]);
    let AddOutcome::NewPhoto(x) = f.add(a, "x.jpg", 1) else {
        panic!("a new photo")
    };
    let ch = f.cat.changes_since(g1).unwrap();
    assert_eq!(ch.collections, vec![a]);
    assert!(!ch.everything);
    // told photo by photo: the mount looks at x's names only
    assert_eq!(ch.entries, vec![(a, x.photo)]);
    assert_eq!(ch.whole, vec![]);
    assert_eq!(
        f.cat.changes_since(ch.generation).unwrap().collections,
        vec![]
    );
    // Another connection (a running sync) sees and makes changes too.
    let other = Catalog::open(&f.db).unwrap();
    assert_eq!(other.generation().unwrap(), ch.generation);
    other
        .upsert_remote_photos(f.acct.id, &[remote("1", "r")])
        .unwrap();
    let ch2 = f.cat.changes_since(ch.generation).unwrap();
    assert_eq!(ch2.collections, vec![f.root()]);
    // a renamed set changes every name's path in it: told as a whole
    let g2 = f.cat.generation().unwrap();
    f.cat.rename_set(a, Some(f.acct.id), &n("B")).unwrap();
    let ch3 = f.cat.changes_since(g2).unwrap();
    assert!(ch3.whole.contains(&a), "{ch3:?}");
    assert!(ch3.entries.iter().all(|(c, _)| *c != a), "{ch3:?}");
    // Reads don't bump it.
    let g = f.cat.generation().unwrap();
    f.cat.list(a).unwrap();
    f.cat.journal_open(f.acct.id).unwrap();
    assert_eq!(f.cat.generation().unwrap(), g);
}

// ------------------------------------------------------------ sync APIs

#[test]
fn remote_photos_are_upserted_idempotently_with_unique_stable_names() {
    let f = fx();
    let batch = vec![
        remote("10", "Same"),
        remote("11", "Same"),
        remote("12", ""),
        remote("13", "../x"),
    ];
    let k1 = f.cat.upsert_remote_photos(f.acct.id, &batch).unwrap();
    let k2 = f.cat.upsert_remote_photos(f.acct.id, &batch).unwrap();
    assert_eq!(k1, k2);
    assert_eq!(
        f.names(f.root()),
        vec!["12.jpg", "Same (11).jpg", "Same.jpg", "_x.jpg"]
    );
    // Recording Flickr's listing does not rename the entry: the sync's
    // merge decides (see the next test).
    let mut changed = remote("10", "Renamed online");
    changed.lastupdate = 2;
    f.cat.upsert_remote_photos(f.acct.id, &[changed]).unwrap();
    assert_eq!(f.entry(f.root(), "Same.jpg").photo, k1[0]);
    let p = f.cat.photo(k1[0]).unwrap();
    assert_eq!(
        (p.remote.unwrap().title.as_str(), p.meta.title.as_str()),
        ("Renamed online", "Same")
    );
    f.check();
}

#[test]
fn a_flickr_photo_carrying_a_local_checksum_is_that_local_photo() {
    let f = fx();
    let e = f.add(f.root(), "x.jpg", 1).entry().unwrap().clone();
    let sum = f
        .cat
        .photo(e.photo)
        .unwrap()
        .local
        .unwrap()
        .checksum
        .unwrap();
    let mut r = remote("900", "x");
    r.checksum_tag = Some(sum);
    let keys = f.cat.upsert_remote_photos(f.acct.id, &[r]).unwrap();
    assert_eq!(keys, vec![e.photo]);
    assert_eq!(f.cat.photos(f.acct.id).unwrap().len(), 1);
    assert_eq!(f.cat.photo(e.photo).unwrap().state(), PhotoState::Synced);
}

#[test]
fn a_title_from_flickr_renames_the_photo_in_every_folder_and_no_other_name_moves() {
    let f = fx();
    let keys = f
        .cat
        .upsert_remote_photos(
            f.acct.id,
            &[
                remote("10", "Tomatoes"),
                remote("11", "Ripe tomatoes"),
                remote("12", "Beach"),
                remote("13", "Beach"),
            ],
        )
        .unwrap();
    let (garden, salad) = (f.set("Garden"), f.set("Salad"));
    f.cat
        .apply_memberships(&[
            MembershipChange::Add {
                photo: keys[0],
                collection: garden,
            },
            MembershipChange::Add {
                photo: keys[0],
                collection: salad,
            },
            MembershipChange::Add {
                photo: keys[1],
                collection: salad,
            },
        ])
        .unwrap();
    assert_eq!(f.names(salad), vec!["Ripe tomatoes.jpg", "Tomatoes.jpg"]);
    let retitle = |k: PhotoKey, title: &str| {
        let mut meta = f.cat.photo(k).unwrap().meta;
        meta.title = title.into();
        f.cat.take_flickr_meta(k, &meta).unwrap()
    };
    // In both sets, the name its title now gives, unique: in Salad the
    // other photo keeps "Ripe tomatoes.jpg", this one takes its id.
    let renamed = retitle(keys[0], "Ripe tomatoes");
    assert_eq!(renamed.len(), 2, "{renamed:?}");
    assert_eq!(f.names(garden), vec!["Ripe tomatoes.jpg"]);
    assert_eq!(
        f.names(salad),
        vec!["Ripe tomatoes (10).jpg", "Ripe tomatoes.jpg"]
    );
    assert_eq!(f.entry(salad, "Ripe tomatoes.jpg").photo, keys[1]);
    // Suffixes are stable: the photo that kept "Beach.jpg" keeps it when
    // the other one is retitled, and a title set to what it was renames
    // nothing.
    assert_eq!(f.names(f.root()), vec!["Beach (13).jpg", "Beach.jpg"]);
    retitle(keys[3], "Dunes");
    assert_eq!(f.names(f.root()), vec!["Beach.jpg", "Dunes.jpg"]);
    assert!(retitle(keys[2], "Beach").is_empty());
    // Another field alone changes no name.
    let mut meta = f.cat.photo(keys[2]).unwrap().meta;
    meta.description = Some("sand".into());
    assert!(f.cat.take_flickr_meta(keys[2], &meta).unwrap().is_empty());
    f.check();
}

#[test]
fn a_photo_deleted_on_flickr_leaves_the_collection_keeps_its_file_and_can_be_uploaded_again() {
    let f = fx();
    let keys = f
        .cat
        .upsert_remote_photos(f.acct.id, &[remote("20", "Kept"), remote("21", "Never")])
        .unwrap();
    let path = f.file("kept.jpg", 3);
    let facts = media::FileFacts::scan(&path).unwrap();
    f.cat.set_local_file(keys[0], &path, &facts).unwrap();
    let garden = f.set("Garden");
    f.cat
        .apply_memberships(&[MembershipChange::Add {
            photo: keys[0],
            collection: garden,
        }])
        .unwrap();
    assert_eq!(
        f.cat.forget_deleted_on_flickr(keys[0]).unwrap(),
        Some(std::path::absolute(&path).unwrap())
    );
    // never downloaded: nothing to keep, the record goes
    assert_eq!(f.cat.forget_deleted_on_flickr(keys[1]).unwrap(), None);
    assert!(f.cat.photo(keys[1]).is_err());
    assert!(f.names(garden).is_empty() && f.names(f.root()).is_empty());
    assert!(path.exists(), "the file stays");
    let p = f.cat.photo(keys[0]).unwrap();
    assert_eq!(p.state(), PhotoState::DeletedOnFlickr);
    assert_eq!(p.remote, None);
    assert!(f.cat.ignored(f.acct.id).unwrap().is_empty(), "not ignored");
    assert_eq!(f.cat.deleted_on_flickr(f.acct.id).unwrap().len(), 1);
    let problems = f.cat.problems(Some(f.acct.id)).unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].kind, ProblemKind::DeletedOnFlickr);
    assert!(
        problems[0].message.contains(&path.display().to_string())
            && problems[0].message.contains("flickrfs restore 20"),
        "{}",
        problems[0].message
    );
    // restore (unignore): a local-only photo in the set it was in, to upload
    let p = f.cat.unignore(f.acct.id, &PhotoId::new("20")).unwrap();
    assert_eq!(p.state(), PhotoState::LocalOnly);
    assert!(p.is_uploadable() && p.deleted_on_flickr.is_none());
    assert_eq!(f.names(garden), vec!["Kept.jpg"]);
    assert!(f.cat.problems(Some(f.acct.id)).unwrap().is_empty());
    assert!(f.cat.synced_base(keys[0]).unwrap().is_none());
    f.check();
}

#[test]
fn pending_edits_are_the_local_changes_since_the_last_sync() {
    let f = fx();
    let keys = f
        .cat
        .upsert_remote_photos(f.acct.id, &[remote("30", "Beach walk")])
        .unwrap();
    let base = SyncedBase {
        title: "Beach walk".into(),
        tags: vec!["summerlight".into()],
        ..SyncedBase::default()
    };
    f.cat.set_synced_bases(&[(keys[0], base)]).unwrap();
    let mut meta = f.cat.photo(keys[0]).unwrap().meta;
    // the same tag in other words is no change
    meta.tags = Some(vec!["summer light".into()]);
    f.cat.set_meta(keys[0], &meta).unwrap();
    assert!(f.cat.pending_edits(f.acct.id).unwrap().is_empty());
    f.cat
        .rename(
            f.root(),
            &n("Beach walk.jpg"),
            f.root(),
            &n("Dune walk.jpg"),
        )
        .unwrap();
    let pending = f.cat.pending_edits(f.acct.id).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        pending[0].to_string(),
        r#"photo 30: title "Beach walk" → "Dune walk""#
    );
}

#[test]
fn sets_and_memberships_from_flickr_keep_the_root_invariant() {
    let f = fx();
    let keys = f
        .cat
        .upsert_remote_photos(
            f.acct.id,
            &[remote("1", "a"), remote("2", "b"), remote("3", "c")],
        )
        .unwrap();
    let sets = f
        .cat
        .upsert_remote_sets(
            f.acct.id,
            &[
                RemoteSet {
                    id: SetId::new("s1"),
                    title: "Holiday".into(),
                    description: "d".into(),
                    primary: Some(PhotoId::new("1")),
                },
                RemoteSet {
                    id: SetId::new("s2"),
                    title: "Holiday".into(),
                    description: String::new(),
                    primary: None,
                },
                RemoteSet {
                    id: SetId::new("s3"),
                    title: "Pools".into(),
                    description: String::new(),
                    primary: None,
                },
            ],
        )
        .unwrap();
    let names: Vec<String> = f
        .cat
        .sets(f.acct.id)
        .unwrap()
        .into_iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(names, vec!["Holiday", "Holiday (s2)", "Pools (s3)"]);
    assert_eq!(f.cat.collection(sets[0]).unwrap().primary, Some(keys[0]));
    assert_eq!(
        f.cat.collection(sets[0]).unwrap().synced_title.as_deref(),
        Some("Holiday")
    );

    f.cat.replace_members(sets[0], &[keys[0], keys[1]]).unwrap();
    assert_eq!(f.names(sets[0]), vec!["a.jpg", "b.jpg"]);
    assert_eq!(f.names(f.root()), vec!["c.jpg"]);
    f.cat.replace_members(sets[0], &[keys[1]]).unwrap();
    assert_eq!(f.names(f.root()), vec!["a.jpg", "c.jpg"]);
    f.cat
        .apply_memberships(&[
            MembershipChange::Add {
                photo: keys[2],
                collection: sets[1],
            },
            MembershipChange::Add {
                photo: keys[2],
                collection: sets[1],
            },
            MembershipChange::Remove {
                photo: keys[1],
                collection: sets[0],
            },
        ])
        .unwrap();
    assert_eq!(f.names(f.root()), vec!["a.jpg", "b.jpg"]);
    assert_eq!(f.names(sets[1]), vec!["c.jpg"]);
    assert_eq!(
        f.cat
            .apply_memberships(&[MembershipChange::Add {
                photo: keys[0],
                collection: f.root()
            }])
            .unwrap_err()
            .errno(),
        libc::EPERM
    );
    let t = f.cat.set_collection_title(sets[1], "Summer").unwrap();
    assert_eq!(t.name.as_str(), "Summer");
    f.cat.forget_collection(sets[1]).unwrap();
    assert_eq!(f.names(f.root()), vec!["a.jpg", "b.jpg", "c.jpg"]);
    f.check();
}

#[test]
fn uploads_downloads_merges_and_merge_bases_are_recorded() {
    let f = fx();
    let e = f.add(f.root(), "x.jpg", 1).entry().unwrap().clone();
    f.cat.record_upload(e.photo, &remote("42", "x")).unwrap();
    let other = f.add(f.root(), "y.jpg", 2).entry().unwrap().clone();
    assert_eq!(
        f.cat
            .record_upload(other.photo, &remote("42", "y"))
            .unwrap_err()
            .errno(),
        libc::EEXIST
    );

    // Download: a remote-only photo gets its file.
    let keys = f
        .cat
        .upsert_remote_photos(f.acct.id, &[remote("43", "z")])
        .unwrap();
    let path = f.file("z.jpg", 3);
    let facts = media::FileFacts::scan(&path).unwrap();
    f.cat.set_local_file(keys[0], &path, &facts).unwrap();
    assert_eq!(f.cat.photo(keys[0]).unwrap().state(), PhotoState::Synced);

    // Identification: a local-only photo merged into a remote-only one.
    let r = f
        .cat
        .upsert_remote_photos(f.acct.id, &[remote("44", "w")])
        .unwrap()[0];
    let trip = f.set("Trip");
    let local = f.add(trip, "w local.jpg", 4).entry().unwrap().clone();
    f.cat.merge_photos(r, local.photo).unwrap();
    let p = f.cat.photo(r).unwrap();
    assert_eq!(p.local.unwrap().path, local.path.clone().unwrap());
    assert_eq!(f.entry(trip, "w local.jpg").photo, r);
    assert!(f.cat.photo(local.photo).is_err());
    assert!(f.cat.lookup(f.root(), &n("w.jpg")).unwrap().is_none());
    f.check();

    let base = SyncedBase {
        title: "x".into(),
        description: String::new(),
        tags: vec!["a".into()],
        privacy: crate::model::Privacy::Public,
        sets: vec![SetId::new("b"), SetId::new("a")],
        pools: vec![GroupId::new("2@N20"), GroupId::new("1@N20")],
        checksum: None,
    };
    assert_eq!(f.cat.synced_base(e.photo).unwrap(), None);
    f.cat.set_synced_bases(&[(e.photo, base.clone())]).unwrap();
    let got = f.cat.synced_base(e.photo).unwrap().unwrap();
    assert_eq!(got.sets, vec![SetId::new("a"), SetId::new("b")]);
    assert_eq!(
        got.pools,
        vec![GroupId::new("1@N20"), GroupId::new("2@N20")],
        "the pools of the merge base are kept, sorted"
    );
    assert_eq!(f.cat.synced_bases(f.acct.id).unwrap().len(), 1);

    let mut meta = f.cat.photo(e.photo).unwrap().meta;
    meta.description = Some("merged".into());
    f.cat.set_meta(e.photo, &meta).unwrap();
    assert_eq!(
        f.cat.photo(e.photo).unwrap().meta.description.as_deref(),
        Some("merged")
    );
    f.cat.set_sync_cursor(f.acct.id, Some(1234)).unwrap();
    assert_eq!(f.cat.account(f.acct.id).unwrap().sync_cursor, Some(1234));
}

#[test]
fn the_journal_keeps_open_intents_until_finished() {
    let f = fx();
    let j1 = f
        .cat
        .journal_begin(
            f.acct.id,
            &Intent::UploadStarted {
                photo: PhotoKey(1),
                checksum: media::sha1_bytes(b"x"),
            },
        )
        .unwrap();
    let j2 = f
        .cat
        .journal_begin(
            f.acct.id,
            &Intent::SetCreated {
                collection: CollectionId(3),
                id: SetId::new("s"),
            },
        )
        .unwrap();
    f.cat.journal_finish(j2).unwrap();
    let open = f.cat.journal_open(f.acct.id).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, j1);
    assert!(matches!(open[0].intent, Intent::UploadStarted { .. }));
    assert_eq!(f.cat.journal_recent(f.acct.id, 10).unwrap().len(), 2);
    assert_eq!(f.cat.journal_prune(i64::MAX).unwrap(), 1);
    assert_eq!(
        f.cat.journal_finish(JournalId(999)).unwrap_err().errno(),
        libc::ENOENT
    );

    f.cat
        .add_problem(
            f.acct.id,
            None,
            ProblemKind::Conflict,
            "title changed on both sides",
        )
        .unwrap();
    f.cat
        .add_problem(f.acct.id, None, ProblemKind::Other, "x")
        .unwrap();
    assert_eq!(f.cat.problems(None).unwrap().len(), 2);
    assert_eq!(
        f.cat
            .clear_problems(f.acct.id, None, Some(ProblemKind::Conflict))
            .unwrap(),
        1
    );
    assert_eq!(
        f.cat.problems(Some(f.acct.id)).unwrap()[0].kind,
        ProblemKind::Other
    );
}

// ------------------------------------------------------------ scale

#[test]
fn a_large_folder_is_upserted_in_one_batch_and_listed_in_one_query() {
    let f = fx();
    let batch: Vec<RemotePhoto> = (0..20_000)
        .map(|i| remote(&format!("{}", 100_000 + i), &format!("IMG_{}", i % 15_000)))
        .collect();
    let t = std::time::Instant::now();
    let keys = f.cat.upsert_remote_photos(f.acct.id, &batch).unwrap();
    let upsert = t.elapsed();
    let sets = f
        .cat
        .upsert_remote_sets(
            f.acct.id,
            &[RemoteSet {
                id: SetId::new("big"),
                title: "Big".into(),
                description: String::new(),
                primary: None,
            }],
        )
        .unwrap();
    f.cat.replace_members(sets[0], &keys).unwrap();
    let t = std::time::Instant::now();
    let listed = f.cat.list(sets[0]).unwrap();
    let list = t.elapsed();
    assert_eq!(listed.len(), 20_000);
    let unique: BTreeSet<&str> = listed.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(unique.len(), 20_000);
    assert!(f.cat.list(f.root()).unwrap().is_empty());
    eprintln!("upsert 20000 remote photos: {upsert:?}; list a set of 20000: {list:?}");
}

// ------------------------------------------------------------ model test

#[derive(Clone, Debug)]
enum Op {
    Add {
        folder: usize,
        name: usize,
        seed: u8,
    },
    Link {
        from: usize,
        name: usize,
        to: usize,
        new: usize,
    },
    Rename {
        from: usize,
        name: usize,
        to: usize,
        new: usize,
    },
    Unlink {
        folder: usize,
        name: usize,
    },
    Upload {
        folder: usize,
        name: usize,
    },
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0..4usize, 0..4usize, 0..3u8).prop_map(|(folder, name, seed)| Op::Add {
            folder,
            name,
            seed
        }),
        (0..4usize, 0..4usize, 0..4usize, 0..4usize).prop_map(|(from, name, to, new)| Op::Link {
            from,
            name,
            to,
            new
        }),
        (0..4usize, 0..4usize, 0..4usize, 0..4usize).prop_map(|(from, name, to, new)| Op::Rename {
            from,
            name,
            to,
            new
        }),
        (0..4usize, 0..4usize).prop_map(|(folder, name)| Op::Unlink { folder, name }),
        (0..4usize, 0..4usize).prop_map(|(folder, name)| Op::Upload { folder, name }),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]
    /// Random sequences of file operations (root, two sets, a pool; few
    /// names; few contents) never break the root invariant, never delete a
    /// file, and every error is one of the documented errnos.
    #[test]
    fn random_file_operations_keep_the_invariants(ops in proptest::collection::vec(op(), 1..40)) {
        let f = fx();
        let pool = f.cat.upsert_pools(f.acct.id, &[RemotePool { id: "g".into(), name: "G".into() }]).unwrap()[0];
        let folders = [f.root(), f.set("A"), f.set("B"), pool];
        let names = ["a.jpg", "b.jpg", "c.jpg", ".goutputstream-1"];
        let mut files: Vec<PathBuf> = Vec::new();
        let mut uploads = 0;
        for op in ops {
            let res: Result<()> = match op {
                Op::Add { folder, name, seed } => {
                    let p = f.folder.join(format!("f{}.jpg", files.len()));
                    std::fs::write(&p, testdata::jpeg_with_exif(4, 4, None, seed)).unwrap();
                    files.push(p.clone());
                    f.cat.add_file(folders[folder], &n(names[name]), &p, None).map(|_| ())
                }
                Op::Link { from, name, to, new } => f.cat.link(folders[from], &n(names[name]), folders[to], &n(names[new])).map(|_| ()),
                Op::Rename { from, name, to, new } => f.cat.rename(folders[from], &n(names[name]), folders[to], &n(names[new])).map(|_| ()),
                Op::Unlink { folder, name } => f.cat.unlink(folders[folder], &n(names[name])).map(|_| ()),
                Op::Upload { folder, name } => match f.cat.lookup(folders[folder], &n(names[name])).unwrap() {
                    Some(e) if e.remote_id.is_none() => {
                        uploads += 1;
                        f.cat.record_upload(e.photo, &remote(&format!("{uploads}"), "u"))
                    }
                    _ => Ok(()),
                },
            };
            if let Err(e) = res {
                let ok = [libc::ENOENT, libc::EEXIST, libc::EPERM];
                proptest::prop_assert!(ok.contains(&e.errno()), "unexpected error {e}");
            }
            f.check();
            for p in &files {
                proptest::prop_assert!(p.exists(), "{} was deleted", p.display());
            }
            let _ = Path::new("");
        }
    }
}

#[test]
fn the_mount_and_a_sync_write_through_separate_connections_at_once() {
    let f = fx();
    let db = f.db.clone();
    let acct = f.acct.id;
    let sync = std::thread::spawn(move || {
        let cat = Catalog::open(&db).unwrap();
        for i in 0..50 {
            let batch: Vec<RemotePhoto> = (0..50)
                .map(|j| remote(&format!("{}", 1_000 + i * 50 + j), "r"))
                .collect();
            cat.upsert_remote_photos(acct, &batch).unwrap();
        }
    });
    let a = f.set("A");
    for i in 0..100u8 {
        f.add(a, &format!("{i}.jpg"), i);
    }
    sync.join().unwrap();
    assert_eq!(f.cat.count_entries(a).unwrap(), 100);
    assert_eq!(f.cat.count_entries(f.root()).unwrap(), 2_500);
    f.check();
}

#[test]
fn an_unfinished_or_failed_write_is_never_uploadable_and_its_bytes_stay() {
    let f = fx();
    let trip = f.set("Trip");
    std::fs::create_dir_all(f.folder.join("Trip")).unwrap();
    let bytes = testdata::jpeg_with_exif(10, 10, None, 3);
    // flushed by another process, never released: still being written
    let half = f.folder.join("Trip/half.jpg");
    std::fs::write(&half, b"").unwrap();
    let e = f.cat.create_entry(trip, &n("half.jpg"), &half).unwrap();
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let facts = media::FileFacts::scan(&half).unwrap();
    f.cat.record_written(e.photo, &half, &facts).unwrap();
    let p = f.cat.photo(e.photo).unwrap();
    assert_eq!(p.state(), PhotoState::Writing);
    assert!(!p.is_uploadable());
    // a write failed: incomplete, listed, still not uploadable
    let bad = f.folder.join("Trip/bad.jpg");
    std::fs::write(&bad, b"").unwrap();
    let b = f.cat.create_entry(trip, &n("bad.jpg"), &bad).unwrap();
    std::fs::write(&bad, &bytes[..10]).unwrap();
    let facts = media::FileFacts::scan(&bad).unwrap();
    f.cat
        .mark_incomplete(b.photo, Some(&facts), "ENOSPC")
        .unwrap();
    assert!(!f.cat.photo(b.photo).unwrap().is_uploadable());
    let problems = f.cat.problems(None).unwrap();
    assert!(problems
        .iter()
        .any(|p| p.kind == ProblemKind::Incomplete && p.photo == Some(b.photo)));
    // the next mount: both leave the catalog, their files stay, the status lists them
    let settled = f.cat.settle_unfinished().unwrap();
    assert_eq!(settled.len(), 2);
    assert!(f.cat.photo(e.photo).is_err() && f.cat.photo(b.photo).is_err());
    assert!(half.exists() && bad.exists());
    let listed = f
        .cat
        .problems(None)
        .unwrap()
        .into_iter()
        .filter(|p| p.kind == ProblemKind::Incomplete)
        .count();
    assert_eq!(listed, 2);
}

// ------------------------------------------------------------ trash

#[test]
fn trash_from_a_set_is_rm_then_restore_undoes_it_and_emptying_deletes_nothing() {
    let f = fx();
    let trip = f.set("Trip");
    let garden = f.set("Garden");
    let e = f.add(trip, "a.jpg", 1).entry().unwrap().clone();
    f.cat.link(trip, &n("a.jpg"), garden, &n("a.jpg")).unwrap();
    let path = e.path.clone().unwrap();

    let t = f.cat.trash(trip, &n("a.jpg"), "a.jpg").unwrap();
    assert!(!t.held);
    assert!(f.names(trip).is_empty(), "out of that set, as rm");
    assert_eq!(f.names(garden), vec!["a.jpg"], "its other sets kept");
    assert_eq!(f.cat.trashed().unwrap().len(), 1);
    assert_eq!(
        f.cat
            .trash(garden, &n("a.jpg"), "a.jpg")
            .unwrap_err()
            .errno(),
        libc::EEXIST,
        "one name in the trash once"
    );
    f.check();

    // moving it back to where it was: in that set again
    f.cat.restore_trashed("a.jpg", trip, &n("a.jpg")).unwrap();
    assert_eq!(f.names(trip), vec!["a.jpg"]);
    assert!(f.cat.trashed().unwrap().is_empty());
    f.check();

    // trashed from its last set, then emptied: in the account folder, as rm
    f.cat.unlink(garden, &n("a.jpg")).unwrap();
    f.cat.trash(trip, &n("a.jpg"), "a.2.jpg").unwrap();
    assert_eq!(f.names(f.root()), vec!["a.jpg"]);
    f.cat.empty_trashed("a.2.jpg").unwrap();
    assert_eq!(f.names(f.root()), vec!["a.jpg"]);
    assert!(path.exists(), "emptying the trash deletes no byte");
    f.check();
}

#[test]
fn trash_from_the_account_folder_holds_the_photo_until_emptied() {
    let f = fx();
    let local = f.add(f.root(), "l.jpg", 1).entry().unwrap().clone();
    let online = f.add(f.root(), "o.jpg", 2).entry().unwrap().clone();
    f.cat
        .record_upload(online.photo, &remote("5301", "o"))
        .unwrap();

    let t = f.cat.trash(f.root(), &n("l.jpg"), "l.jpg").unwrap();
    assert!(t.held);
    f.cat.trash(f.root(), &n("o.jpg"), "o.jpg").unwrap();
    assert!(f.names(f.root()).is_empty(), "neither is listed");
    let l = f.cat.photo(local.photo).unwrap();
    assert!(l.ignored, "a held local photo is not uploaded");
    f.check();

    // restore brings the local one back with its settings
    f.cat.set_xattr(local.photo, Xattr::Tags, b"kept").unwrap();
    f.cat
        .restore_trashed("l.jpg", f.root(), &n("l.jpg"))
        .unwrap();
    let l = f.cat.photo(local.photo).unwrap();
    assert!(!l.ignored);
    assert_eq!(l.meta.tags.as_deref().unwrap(), ["kept".to_string()]);
    assert_eq!(f.names(f.root()), vec!["l.jpg"]);

    // emptying: the local photo leaves the catalog (file stays), the
    // online one stays ignored
    f.cat.trash(f.root(), &n("l.jpg"), "l.jpg").unwrap();
    f.cat.empty_trashed("l.jpg").unwrap();
    f.cat.empty_trashed("o.jpg").unwrap();
    assert!(f.cat.photo(local.photo).is_err());
    assert!(local.path.as_ref().unwrap().exists());
    assert!(f.cat.photo(online.photo).unwrap().ignored);
    assert!(f.cat.trashed().unwrap().is_empty());
    f.check();
}

// ---------------------------------------------------------------- query plans

/// Tables that grow with the library: a full scan of one of them costs in
/// proportion to the number of photos. Accounts, collections (one per set
/// or pool) and meta stay small.
const LIBRARY_TABLES: &[&str] = &[
    "photos",
    "sync_dirty",
    "memberships",
    "changes",
    "synced",
    "own_files",
    "trash",
    "problems",
    "refused_edits",
    "journal",
];

/// Statements whose answer is a whole table, scanned on purpose: the
/// trash folder's listing, and the status's list of problems. They cost
/// what the trash and the problems hold, not what the library holds.
const WHOLE_TABLE_LISTINGS: &[&str] = &[
    "FROM trash t JOIN photos p ON p.id = t.photo_id ORDER BY t.id",
    "FROM problems WHERE (?1 IS NULL OR account_id = ?1) ORDER BY id DESC",
];

/// alias -> table for the `FROM`/`JOIN` clauses of `sql`.
fn table_aliases(sql: &str) -> std::collections::HashMap<String, String> {
    let toks: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut out = std::collections::HashMap::new();
    for (i, t) in toks.iter().enumerate() {
        if (t == "from" || t == "join" || t == "into" || t == "update") && i + 1 < toks.len() {
            let table = toks[i + 1].clone();
            out.insert(table.clone(), table.clone());
            let mut j = i + 2;
            if toks.get(j).map(String::as_str) == Some("as") {
                j += 1;
            }
            if let Some(alias) = toks.get(j) {
                if alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    out.insert(alias.clone(), table);
                }
            }
        }
    }
    out
}

/// The full-table scans of library-sized tables in `sql`'s query plan.
fn library_scans(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let aliases = table_aliases(sql);
    let mut st = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("EXPLAIN QUERY PLAN {sql}: {e}"));
    let mut rows = st.raw_query();
    let mut scans = Vec::new();
    while let Some(r) = rows.next().unwrap() {
        let detail: String = r.get(3).unwrap();
        if let Some(rest) = detail.strip_prefix("SCAN ") {
            let name = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            let table = aliases.get(&name).cloned().unwrap_or(name);
            if LIBRARY_TABLES.contains(&table.as_str()) {
                scans.push(detail);
            }
        }
    }
    scans
}

/// Every statement the mount runs on a lookup, a listing, a file operation
/// and the invalidation after a change is planned without a full scan of a
/// table that grows with the library: each costs the same at a million
/// photos as at ten thousand. The statements are the ones SQLite actually
/// ran (a trace on the connection), so a new query is checked as soon as a
/// mount path uses it.
#[test]
fn the_mounts_statements_never_scan_a_library_table() {
    use std::sync::{Arc, Mutex};
    let mut f = fx();
    let seen: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let sink = seen.clone();
    f.cat
        .conn
        .trace_v2(
            rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
            Some(move |e: rusqlite::trace::TraceEvent<'_>| {
                if let rusqlite::trace::TraceEvent::Stmt(s, _) = e {
                    sink.lock().unwrap().insert(s.sql().into_owned());
                }
            }),
        )
        .unwrap();

    // the mount's start, then every kind of request
    f.cat.settle_unfinished().unwrap();
    let start = f.cat.generation().unwrap();
    let trip = f.set("Trip");
    let other = f.set("Other");
    f.add(trip, "a.jpg", 1);
    f.add(trip, "b.jpg", 2);
    f.add(f.root(), "loose.jpg", 3);
    let a = f.entry(trip, "a.jpg");
    f.cat.accounts().unwrap();
    f.cat.account_by_name(&n("alice")).unwrap();
    f.cat.sets(f.acct.id).unwrap();
    f.cat.pools(f.acct.id).unwrap();
    f.cat.lookup_set(f.acct.id, &n("Trip")).unwrap();
    f.cat.lookup_pool(f.acct.id, &n("Group")).unwrap();
    f.cat.list(trip).unwrap();
    f.cat.list(f.root()).unwrap();
    f.cat.lookup(trip, &n("a.jpg")).unwrap();
    f.cat.lookup(trip, &n("absent.jpg")).unwrap();
    f.cat.names_in(trip, a.photo).unwrap();
    f.cat.entries_of(a.photo).unwrap();
    f.cat.memberships(a.photo).unwrap();
    f.cat.collection(trip).unwrap();
    f.cat.photo(a.photo).unwrap();
    f.cat.count_entries(trip).unwrap();
    // xattrs
    for x in [
        Xattr::Title,
        Xattr::Tags,
        Xattr::Id,
        Xattr::State,
        Xattr::Source,
    ] {
        f.cat.get_xattr(a.photo, x).unwrap();
    }
    f.cat.list_xattrs(a.photo).unwrap();
    f.cat
        .set_xattr(a.photo, Xattr::Title, b"New title")
        .unwrap();
    f.cat.set_xattr(a.photo, Xattr::Tags, b"one two").unwrap();
    f.cat.remove_xattr(a.photo, Xattr::Tags).unwrap();
    // file operations
    f.cat.link(trip, &n("a.jpg"), other, &n("a.jpg")).unwrap();
    f.cat.rename(trip, &n("b.jpg"), trip, &n("c.jpg")).unwrap();
    f.cat.rename(trip, &n("c.jpg"), other, &n("c.jpg")).unwrap();
    f.cat
        .rename(other, &n("c.jpg"), f.root(), &n("c.jpg"))
        .unwrap();
    f.cat.unlink(other, &n("a.jpg")).unwrap();
    let copy = f.file("written.jpg", 4);
    let created = f.cat.create_entry(trip, &n("new.jpg"), &copy).unwrap();
    let facts = media::FileFacts::scan(&copy).unwrap();
    f.cat.is_own_file(&copy).unwrap();
    f.cat.record_written(created.photo, &copy, &facts).unwrap();
    f.cat
        .finish_write(created.photo, Some(facts.clone()), Written::NewFile)
        .unwrap();
    let moved = f.folder.join("moved.jpg");
    std::fs::rename(&copy, &moved).unwrap();
    f.cat
        .moved_backing_file(created.photo, &copy, &moved)
        .unwrap();
    f.cat.mark_missing(a.photo).unwrap();
    f.cat.file_origins(f.acct.id).unwrap();
    let t = f.cat.trash(trip, &n("new.jpg"), "new.jpg").unwrap();
    f.cat.trashed().unwrap();
    f.cat.trashed_named(&t.name).unwrap();
    f.cat.rename_trashed(&t.name, "renamed.jpg").unwrap();
    f.cat
        .restore_trashed("renamed.jpg", trip, &n("back.jpg"))
        .unwrap();
    f.cat.trash(trip, &n("back.jpg"), "again.jpg").unwrap();
    f.cat.empty_trashed("again.jpg").unwrap();
    let renamed = f
        .cat
        .rename_set(other, Some(f.acct.id), &n("Elsewhere"))
        .unwrap();
    let _ = renamed;
    let gone = f.set("Gone");
    f.cat.rmdir(gone).unwrap();
    f.cat.problems(Some(f.acct.id)).unwrap();
    // the watcher: what changed since the mount started
    let changes = f.cat.changes_since(start).unwrap();
    for (c, p) in &changes.entries {
        f.cat.names_in(*c, *p).unwrap();
    }
    f.cat.generation().unwrap();

    f.cat
        .conn
        .trace_v2(
            rusqlite::trace::TraceEventCodes::empty(),
            None::<fn(rusqlite::trace::TraceEvent<'_>)>,
        )
        .unwrap();
    let statements = std::mem::take(&mut *seen.lock().unwrap());
    let skip = [
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "PRAGMA",
        "SAVEPOINT",
        "RELEASE",
        "--",
    ];
    let mut checked = 0;
    let mut failures = Vec::new();
    for sql in &statements {
        let trimmed = sql.trim_start();
        if skip
            .iter()
            .any(|k| trimmed.to_ascii_uppercase().starts_with(k))
        {
            continue;
        }
        checked += 1;
        if WHOLE_TABLE_LISTINGS.iter().any(|l| sql.contains(l)) {
            continue;
        }
        let scans = library_scans(&f.cat.conn, sql);
        if !scans.is_empty() {
            failures.push(format!("{sql}\n    {}", scans.join("\n    ")));
        }
    }
    assert!(checked > 40, "only {checked} statements traced");
    assert!(
        failures.is_empty(),
        "{} of {checked} statements scan a whole table:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every statement an incremental sync runs on the catalog (the dirty set,
/// the lookups by key of the photos it plans, the bases it writes) is
/// planned without a full scan of a library-sized table, but the count of
/// the merge base, asked for only when a safety threshold could trip.
#[test]
fn the_incremental_syncs_statements_never_scan_a_library_table() {
    use std::sync::{Arc, Mutex};
    let mut f = fx();
    let trip = f.set("Trip");
    f.add(trip, "a.jpg", 1);
    f.add(f.root(), "b.jpg", 2);
    let a = f.entry(trip, "a.jpg");
    let seen: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let sink = seen.clone();
    f.cat
        .conn
        .trace_v2(
            rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
            Some(move |e: rusqlite::trace::TraceEvent<'_>| {
                if let rusqlite::trace::TraceEvent::Stmt(s, _) = e {
                    sink.lock().unwrap().insert(s.sql().into_owned());
                }
            }),
        )
        .unwrap();
    let id = crate::model::PhotoId::new("53".to_owned());
    let sum = crate::media::Checksum::parse(&"ab".repeat(20)).unwrap();
    let marks = f.cat.dirty_marks(f.acct.id).unwrap();
    assert!(!marks.items.is_empty(), "adding files marks them dirty");
    f.cat.dirty_seq().unwrap();
    f.cat.dirty_count(f.acct.id).unwrap();
    f.cat.mark_dirty(f.acct.id, &["53".to_owned()]).unwrap();
    f.cat.photo_if_any(a.photo).unwrap();
    f.cat.linked_record(f.acct.id, &id).unwrap();
    f.cat.photos_by_checksum(f.acct.id, &sum).unwrap();
    f.cat.remote_ids_by_checksum(f.acct.id, &sum).unwrap();
    f.cat.member_keys(trip).unwrap();
    f.cat.memberships(a.photo).unwrap();
    f.cat.synced_base(a.photo).unwrap();
    f.cat.refused_edits_of(a.photo).unwrap();
    f.cat.has_problem(a.photo, ProblemKind::Refused).unwrap();
    let settled = f
        .cat
        .settle_dirty(f.acct.id, marks.seq, Some(&marks.items), &["53".to_owned()])
        .unwrap();
    f.cat
        .set_synced_bases_settling(
            &[],
            &[format!("#{}", a.photo.0)],
            Some((f.acct.id, settled)),
        )
        .unwrap();
    f.cat.settle_dirty(f.acct.id, marks.seq, None, &[]).unwrap();
    f.cat
        .conn
        .trace_v2(
            rusqlite::trace::TraceEventCodes::empty(),
            None::<fn(rusqlite::trace::TraceEvent<'_>)>,
        )
        .unwrap();
    let statements = std::mem::take(&mut *seen.lock().unwrap());
    let mut checked = 0;
    let mut failures = Vec::new();
    for sql in &statements {
        let t = sql.trim_start().to_ascii_uppercase();
        if [
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "PRAGMA",
            "SAVEPOINT",
            "RELEASE",
            "--",
        ]
        .iter()
        .any(|k| t.starts_with(k))
        {
            continue;
        }
        checked += 1;
        let scans = library_scans(&f.cat.conn, sql);
        if !scans.is_empty() {
            failures.push(format!("{sql}\n    {}", scans.join("\n    ")));
        }
    }
    assert!(checked >= 14, "only {checked} statements traced");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
