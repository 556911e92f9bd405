//! Create and write: copies into the mount, the default folder, truncate/utimens, rsync, fsx, editors' atomic saves.

use super::*;

#[test]
fn cp_into_a_set_lands_in_the_default_folder_durably_and_survives_remount() {
    let w = World::new();
    let a = w.add_alice();
    w.catalog()
        .mkdir(a.id, &EntryName::new("Trip").unwrap())
        .unwrap();
    let src = w.user_photo("IMG_1.jpg", 3 * MB, 3);
    let m = w.mount();
    w.ok("cp $P/IMG_1.jpg $M/alice/Trip/");
    let set = w.set(&a, "Trip");
    let e = photo_of(&w, set.id, "IMG_1.jpg");
    let path = e.path.clone().expect("backing path");
    assert!(path.starts_with(&w.default_folder), "{}", path.display());
    assert_eq!(sha1_of(&path), sha1_of(&src));
    let photo = w.catalog().photo(e.photo).unwrap();
    assert_eq!(photo.state(), PhotoState::LocalOnly);
    w.ok("cmp $P/IMG_1.jpg $M/alice/Trip/IMG_1.jpg");
    m.unmount();
    assert_eq!(sha1_of(&path), sha1_of(&src), "bytes survive unmount");
    let _m = w.mount();
    w.ok("cmp $P/IMG_1.jpg $M/alice/Trip/IMG_1.jpg");
}

#[test]
fn a_child_closing_an_inherited_descriptor_does_not_finish_the_file() {
    let w = World::new();
    let a = w.add_alice();
    let m = w.mount();
    let bytes = jpeg_bytes(300_000, 7);
    let mut f = std::fs::File::create(m.mnt.join("alice/forked.jpg")).unwrap();
    f.write_all(&bytes[..100_000]).unwrap();
    // A forked child (a shell running a command) closes its copy of the
    // descriptor on exit: that flush is not the writer's, who goes on
    // writing.
    // SAFETY: the child only calls _exit, which is async-signal-safe.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe { libc::_exit(0) };
    }
    assert!(pid > 0, "fork failed");
    let mut status = 0;
    // SAFETY: waiting for the child just forked.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    let state = |w: &World| {
        let e = photo_of(w, a.root, "forked.jpg");
        w.catalog().photo(e.photo).unwrap()
    };
    assert_eq!(state(&w).state(), PhotoState::Writing, "not finished yet");
    f.write_all(&bytes[100_000..]).unwrap();
    drop(f);
    // the writer's close finished it, with all of its bytes
    let p = state(&w);
    assert_eq!(p.state(), PhotoState::LocalOnly);
    let local = p.local.expect("a local file");
    assert_eq!(local.size, bytes.len() as u64);
    assert_eq!(
        local.checksum,
        Some(flickrfs::media::sha1_bytes(&bytes)),
        "checksum of the whole file"
    );
    assert_eq!(std::fs::read(&local.path).unwrap(), bytes);
}

#[test]
fn writing_never_overwrites_a_file_already_in_the_default_folder() {
    let w = World::new();
    let a = w.add_alice();
    std::fs::create_dir_all(&w.default_folder).unwrap();
    std::fs::write(w.default_folder.join("x.jpg"), b"the user's own file").unwrap();
    w.user_photo("x.jpg", 5000, 5);
    let _m = w.mount();
    w.ok("cp $P/x.jpg $M/alice/");
    assert_eq!(
        std::fs::read(w.default_folder.join("x.jpg")).unwrap(),
        b"the user's own file"
    );
    let e = photo_of(&w, a.root, "x.jpg");
    assert_ne!(
        e.path.as_deref(),
        Some(w.default_folder.join("x.jpg").as_path())
    );
}

#[test]
fn copying_content_the_catalog_has_adds_a_membership_not_a_photo() {
    let w = World::new();
    let a = w.add_alice();
    let cat = w.catalog();
    let t = cat.mkdir(a.id, &EntryName::new("Trip").unwrap()).unwrap();
    let b = cat.mkdir(a.id, &EntryName::new("Best").unwrap()).unwrap();
    let src = w.user_photo("s.jpg", 200_000, 11);
    cat.add_file(t.id, &EntryName::new("s.jpg").unwrap(), &src, None)
        .unwrap();
    let before = cat.photos(a.id).unwrap().len();
    let _m = w.mount();
    w.ok("cp $M/alice/Trip/s.jpg $M/alice/Best/");
    let in_t = photo_of(&w, t.id, "s.jpg");
    let in_b = photo_of(&w, b.id, "s.jpg");
    assert_eq!(in_t.photo, in_b.photo, "same photo in one more set");
    assert_eq!(w.catalog().photos(a.id).unwrap().len(), before);
    w.ok("cmp $P/s.jpg $M/alice/Best/s.jpg");
    // the mount's own byte copy of content it already had is not kept
    assert!(
        tree_sums(&w.default_folder).is_empty(),
        "{:?}",
        tree_sums(&w.default_folder)
    );
}

#[test]
fn rsync_and_python_shutil_copy_into_the_mount() {
    let w = World::new();
    let a = w.add_alice();
    w.catalog()
        .mkdir(a.id, &EntryName::new("Trip").unwrap())
        .unwrap();
    for i in 0..5 {
        w.user_photo(&format!("r{i}.jpg"), 50_000 + i * 1000, i as u64 + 20);
    }
    let _m = w.mount();
    w.ok("rsync -a $P/ $M/alice/Trip/");
    w.user_photo("py.jpg", 70_000, 77);
    w.ok("python3 -c 'import shutil,os; shutil.copy2(os.environ[\"P\"]+\"/py.jpg\", os.environ[\"M\"]+\"/alice/py.jpg\")'");
    w.ok("cmp $P/py.jpg $M/alice/py.jpg");
    let set = w.set(&a, "Trip");
    let names = w.names(set.id);
    for i in 0..5 {
        assert!(names.contains(&format!("r{i}.jpg")), "{names:?}");
        w.ok(&format!("cmp $P/r{i}.jpg $M/alice/Trip/r{i}.jpg"));
    }
    // rsync's temporary dot files never show up as photos
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    let found = w.ok("find $M/alice -type f | sort");
    assert!(found.contains("/alice/Trip/r4.jpg"), "{found}");
}

#[test]
fn truncate_and_utimens_pass_to_the_backing_file() {
    let w = World::new();
    let a = w.add_alice();
    w.user_photo("t.jpg", 10_000, 4);
    let _m = w.mount();
    w.ok("cp $P/t.jpg $M/alice/t.jpg");
    let e = photo_of(&w, a.root, "t.jpg");
    let path = e.path.unwrap();
    w.ok("truncate -s 100 $M/alice/t.jpg");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 100);
    w.ok("touch -m -d '2001-02-03 04:05:06' $M/alice/t.jpg");
    let out = w.ok(&format!("stat -c %Y {}", path.display()));
    assert_eq!(out.trim(), "981173106");
    assert_eq!(w.ok("stat -c %Y $M/alice/t.jpg").trim(), "981173106");
}

#[test]
fn junk_files_work_but_are_never_uploadable_and_non_media_is_listed() {
    let w = World::new();
    let a = w.add_alice();
    let m = w.mount();
    w.ok("echo hi > $M/alice/.DS_Store && cat $M/alice/.DS_Store | grep -q hi");
    w.ok("echo note > $M/alice/notes.txt");
    // an editor's atomic save: temp file, then rename over the target
    w.ok("printf abc > $M/alice/.goutputstream-XYZ && mv $M/alice/.goutputstream-XYZ $M/alice/doc.txt");
    w.ok("grep -q abc $M/alice/doc.txt");
    let cat = w.catalog();
    let ds = photo_of(&w, a.root, ".DS_Store");
    let p = cat.photo(ds.photo).unwrap();
    assert!(p.junk);
    assert_eq!(p.state(), PhotoState::NotUploadable);
    let notes = cat.photo(photo_of(&w, a.root, "notes.txt").photo).unwrap();
    assert_eq!(notes.state(), PhotoState::NotUploadable);
    assert!(m.status().contains("notes.txt"), "{}", m.status());
}

#[test]
fn zero_byte_files_work() {
    let w = World::new();
    let a = w.add_alice();
    let _m = w.mount();
    w.ok("touch $M/alice/empty.jpg && test -f $M/alice/empty.jpg && test ! -s $M/alice/empty.jpg");
    let e = photo_of(&w, a.root, "empty.jpg");
    assert_eq!(e.size, 0);
}

#[test]
fn writing_onto_an_entry_never_changes_the_users_file_it_refers_to() {
    let w = World::new();
    let a = w.add_alice();
    let mine = w.user_photo("mine.jpg", 50_000, 31);
    w.user_photo("other.jpg", 40_000, 32);
    let before = sha1_of(&mine);
    let m = w.mount();
    w.ok("ln -s $P/mine.jpg $M/alice/");
    // overwrite through the mount: the entry gets the new bytes in a copy
    w.ok("cp $P/other.jpg $M/alice/mine.jpg");
    assert_eq!(sha1_of(&mine), before, "the user's file is untouched");
    w.ok("cmp $P/other.jpg $M/alice/mine.jpg");
    let e = photo_of(&w, a.root, "mine.jpg");
    let path = e.path.unwrap();
    assert!(path.starts_with(&w.default_folder), "{}", path.display());
    // truncate and append on another referenced file
    let second = w.user_photo("second.jpg", 30_000, 33);
    let before2 = sha1_of(&second);
    w.ok("ln -s $P/second.jpg $M/alice/ && truncate -s 10 $M/alice/second.jpg");
    assert_eq!(sha1_of(&second), before2);
    assert_eq!(
        std::fs::metadata(m.mnt.join("alice/second.jpg"))
            .unwrap()
            .len(),
        10
    );
    let third = w.user_photo("third.jpg", 30_000, 34);
    let before3 = sha1_of(&third);
    w.ok("ln -s $P/third.jpg $M/alice/ && printf tail >> $M/alice/third.jpg");
    assert_eq!(sha1_of(&third), before3);
    let mut expect = std::fs::read(&third).unwrap();
    expect.extend_from_slice(b"tail");
    assert_eq!(
        std::fs::read(m.mnt.join("alice/third.jpg")).unwrap(),
        expect
    );
    // the same source and target through an alias: nothing lost
    w.ok("cp $M/alice/third.jpg $P/third-copy.jpg");
    w.sh("cp $P/third.jpg $M/alice/third.jpg");
    assert_eq!(sha1_of(&third), before3);
}

/// fsx (file system exerciser): seeded random reads, writes, truncates and
/// mmap I/O on one file in the mount, checked against an in-memory copy.
/// Needs `cargo install fsx`; run with `cargo test --test mount -- --ignored`.
#[test]
#[ignore]
fn fsx_exercises_the_write_path() {
    let w = World::new();
    w.add_alice();
    for pread in [false, true] {
        let mut o = w.options();
        o.force_pread = pread;
        let m = w.mount_with(o);
        let name = format!("fsx{}.bin", u8::from(pread));
        let out = w.sh(&format!(
            "cd {} && fsx -N 20000 -S 42 $M/alice/{name}",
            w.tmp.path().display()
        ));
        assert!(
            out.status.success(),
            "fsx failed (pread={pread}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        m.unmount();
    }
}

#[test]
fn writing_after_a_merge_keeps_every_byte_and_the_users_file() {
    let w = World::new();
    let a = w.add_alice();
    let t = w
        .catalog()
        .mkdir(a.id, &EntryName::new("Trip").unwrap())
        .unwrap();
    let src = w.user_photo("x.jpg", 30_000, 50);
    w.catalog()
        .add_file(t.id, &EntryName::new("x.jpg").unwrap(), &src, None)
        .unwrap();
    let before = sha1_of(&src);
    let m = w.mount();
    // same bytes as x.jpg, fsync (the catalog merges), then more bytes
    w.ok(r#"python3 - <<'PY'
import os
src = os.environ["P"] + "/x.jpg"
dst = os.environ["M"] + "/alice/Trip/y.jpg"
data = open(src, "rb").read()
fd = os.open(dst, os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, data)
os.fsync(fd)
os.write(fd, b"and more")
os.close(fd)
PY"#);
    let mut expect = std::fs::read(&src).unwrap();
    expect.extend_from_slice(b"and more");
    assert_eq!(
        std::fs::read(m.mnt.join("alice/Trip/y.jpg")).unwrap(),
        expect
    );
    assert_eq!(sha1_of(&src), before, "the user's file is untouched");
}

/// Names in the default folder, sorted.
fn default_folder_names(w: &World) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(&w.default_folder)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn an_editors_atomic_save_leaves_the_mounts_file_under_the_entrys_name() {
    let w = World::new();
    let a = w.add_alice();
    let mine = w.user_photo("mine.jpg", 50_000, 41);
    let before = sha1_of(&mine);
    w.user_photo("edited.jpg", 45_000, 42);
    w.user_photo("edited-again.jpg", 44_000, 43);
    let _m = w.mount();
    w.ok("mkdir $M/alice/Set && ln -s $P/mine.jpg $M/alice/Set/");
    // An editor's save: a temporary file next to the entry, written,
    // fsynced and renamed over it (Python's idiom; GIO does the same with
    // .goutputstream-XXXXXX).
    w.ok(r#"python3 - "$M/alice/Set" "$P/edited.jpg" <<'PY'
import os, sys
folder, src = sys.argv[1], sys.argv[2]
tmp = os.path.join(folder, ".mine.jpg.tmp")
with open(src, "rb") as f, open(tmp, "wb") as out:
    out.write(f.read())
    out.flush()
    os.fsync(out.fileno())
os.replace(tmp, os.path.join(folder, "mine.jpg"))
PY"#);
    assert_eq!(sha1_of(&mine), before, "the user's file is untouched");
    w.ok("cmp $P/edited.jpg $M/alice/Set/mine.jpg");
    let set = w
        .catalog()
        .sets(a.id)
        .unwrap()
        .into_iter()
        .find(|c| c.title == "Set")
        .unwrap();
    assert_eq!(w.names(set.id), vec!["mine.jpg"]);
    let path = photo_of(&w, set.id, "mine.jpg").path.unwrap();
    assert_eq!(path, w.default_folder.join("mine.jpg"));
    assert_eq!(default_folder_names(&w), vec!["mine.jpg"]);

    // Saved again the same way through GIO: the mount's file keeps the
    // entry's name, and the bytes it replaced are not left behind.
    w.ok("gio save $M/alice/Set/mine.jpg < $P/edited-again.jpg");
    w.ok("cmp $P/edited-again.jpg $M/alice/Set/mine.jpg");
    let path = photo_of(&w, set.id, "mine.jpg").path.unwrap();
    assert_eq!(path, w.default_folder.join("mine.jpg"));
    assert_eq!(
        default_folder_names(&w),
        vec!["mine.jpg"],
        "a temporary name or the replaced bytes are left in the default folder"
    );
    assert_eq!(sha1_of(&mine), before, "the user's file is untouched");
}
