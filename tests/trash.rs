//! The mount's trash, driven through GIO as GNOME Files, Thunar and Nemo
//! drive it (`gio trash`, then the trash's own folders: restore is a move
//! back, emptying removes from `files/` and `info/`), and through coreutils.
//! Trashing means what `rm` means, restoring undoes it with the
//! memberships, emptying deletes no byte of anything.

#[path = "common/mount.rs"]
mod harness;

use harness::*;

fn trashinfo(w: &World, dir: &str, name: &str) -> String {
    std::fs::read_to_string(
        w.mnt
            .join(dir)
            .join("info")
            .join(format!("{name}.trashinfo")),
    )
    .unwrap_or_else(|e| panic!("{name}.trashinfo in {dir}: {e}"))
}

#[test]
fn gio_trash_of_a_photo_in_a_set_then_restore_then_empty() {
    let w = World::new();
    let a = w.add_alice();
    let mine = w.user_photo("mine.jpg", 40_000, 51);
    let before = sha1_of(&mine);
    let _m = w.mount();
    w.ok("mkdir $M/alice/Trip $M/alice/Garden && ln -s $P/mine.jpg $M/alice/Trip/ && ln $M/alice/Trip/mine.jpg $M/alice/Garden/");
    let info = w.ok("gio info -a access::can-trash $M/alice/Trip/mine.jpg");
    assert!(info.contains("can-trash: TRUE"), "{info}");

    // the Delete key: GIO uses the shared .Trash/$UID when it exists
    w.ok("gio trash $M/alice/Trip/mine.jpg");
    let uid = unsafe { libc::geteuid() };
    let trash = format!(".Trash/{uid}");
    let catalog = w.catalog();
    let trip = catalog.lookup_set(a.id, &name("Trip")).unwrap().unwrap().id;
    let garden = catalog
        .lookup_set(a.id, &name("Garden"))
        .unwrap()
        .unwrap()
        .id;
    assert!(w.names(trip).is_empty(), "out of the set, as rm");
    assert_eq!(w.names(garden), vec!["mine.jpg"], "its other set kept");
    let listed = w.ok(&format!("ls -a $M/{trash}/files"));
    assert!(listed.lines().any(|l| l == "mine.jpg"), "{listed}");
    let info = trashinfo(&w, &trash, "mine.jpg");
    assert!(
        info.contains("[Trash Info]") && info.contains("Path=alice/Trip/mine.jpg"),
        "{info}"
    );
    w.ok(&format!("cmp $M/{trash}/files/mine.jpg $P/mine.jpg"));
    // listed only in the trash folder that holds its .trashinfo, so that
    // GVfs, which reads both, shows it once
    let per_user = w.ok(&format!("ls $M/.Trash-{uid}/files"));
    assert_eq!(per_user.trim(), "");

    // restore, as GVfs's trash does: move it back, drop its info file
    w.ok(&format!(
        "gio move $M/{trash}/files/mine.jpg $M/alice/Trip/mine.jpg && gio remove $M/{trash}/info/mine.jpg.trashinfo"
    ));
    assert_eq!(w.names(trip), vec!["mine.jpg"], "back in its set");
    assert!(w.ok(&format!("ls $M/{trash}/files")).trim().is_empty());
    assert!(w.ok(&format!("ls $M/{trash}/info")).trim().is_empty());

    // trash it again and empty the trash: nothing deleted anywhere
    w.ok("gio trash $M/alice/Trip/mine.jpg");
    w.ok(&format!(
        "gio remove $M/{trash}/files/mine.jpg $M/{trash}/info/mine.jpg.trashinfo"
    ));
    assert!(w.names(trip).is_empty());
    assert_eq!(w.names(garden), vec!["mine.jpg"]);
    assert_eq!(sha1_of(&mine), before, "the user's file is untouched");
}

#[test]
fn trash_in_the_account_folder_holds_the_photo_and_two_of_one_name_both_fit() {
    let w = World::new();
    let a = w.add_alice();
    w.user_photo("one.jpg", 30_000, 61);
    w.user_photo("two.jpg", 30_000, 62);
    let _m = w.mount();
    w.ok("mkdir $M/alice/S && cp $P/one.jpg $M/alice/a.jpg && cp $P/two.jpg $M/alice/S/a.jpg");
    let uid = unsafe { libc::geteuid() };
    // through coreutils into the per-user form, as a script would (with
    // the info file the specification asks for)
    w.ok(&format!(
        "mkdir -p $M/.Trash-{uid}/files $M/.Trash-{uid}/info && \
         printf '[Trash Info]\nPath=alice/a.jpg\nDeletionDate=2026-12-03T10:00:00\n' > $M/.Trash-{uid}/info/a.jpg.trashinfo && \
         mv $M/alice/a.jpg $M/.Trash-{uid}/files/a.jpg"
    ));
    assert!(w.names(a.root).is_empty(), "not listed while in the trash");
    // GIO picks a free name for the second a.jpg
    w.ok("gio trash $M/alice/S/a.jpg");
    // (in the shared form, where GIO trashes; each trash folder lists what
    // it holds the .trashinfo of)
    let files = w.ok(&format!(
        "ls $M/.Trash-{uid}/files; ls $M/.Trash/{uid}/files"
    ));
    assert_eq!(
        files.split_whitespace().collect::<Vec<_>>(),
        ["a.jpg", "a.2.jpg"]
    );
    w.ok(&format!("cmp $M/.Trash-{uid}/files/a.jpg $P/one.jpg"));
    w.ok(&format!("cmp $M/.Trash/{uid}/files/a.2.jpg $P/two.jpg"));
    // out of its only set, the second photo is in the account folder now,
    // as after rm
    assert_eq!(w.names(a.root), vec!["a.jpg"]);
    w.ok("cmp $M/alice/a.jpg $P/two.jpg");
    // a new file there is refused: the trash takes moved entries only
    let err = w.fails(&format!("cp $P/one.jpg $M/.Trash-{uid}/files/new.jpg"));
    assert!(err.contains("Operation not permitted"), "{err}");
    // restoring never replaces an entry; under a free name it is listed again
    let err = w.fails(&format!("mv $M/.Trash-{uid}/files/a.jpg $M/alice/a.jpg"));
    assert!(err.contains("File exists"), "{err}");
    w.ok(&format!(
        "mv $M/.Trash-{uid}/files/a.jpg $M/alice/first.jpg"
    ));
    assert_eq!(w.names(a.root), vec!["a.jpg", "first.jpg"]);
    w.ok("cmp $M/alice/first.jpg $P/one.jpg");
    // the default folder still holds both copies' bytes
    assert_eq!(std::fs::read_dir(&w.default_folder).unwrap().count(), 2);
}

fn name(s: &str) -> flickrfs::catalog::EntryName {
    flickrfs::catalog::EntryName::new(s).unwrap()
}

/// KIO (Dolphin) as shipped in Debian: `kioclient5 move … trash:/`, then
/// `ktrash5 --restore` and `ktrash5 --empty`. KIO finds per-volume trash
/// folders through Solid, which knows no FUSE mount, so it copies the
/// entry into the home trash and removes it here: for the mount that is
/// an `rm` (out of the set), and the restore is a copy back whose bytes
/// the catalog recognises as the same photo.
#[test]
fn kio_trash_then_restore_then_empty() {
    let w = World::new();
    let a = w.add_alice();
    let mine = w.user_photo("mine.jpg", 40_000, 51);
    let before = sha1_of(&mine);
    let _m = w.mount();
    w.ok("mkdir $M/alice/Trip $M/alice/Garden && ln -s $P/mine.jpg $M/alice/Trip/ && ln $M/alice/Trip/mine.jpg $M/alice/Garden/");
    let catalog = w.catalog();
    let trip = catalog.lookup_set(a.id, &name("Trip")).unwrap().unwrap().id;
    let garden = catalog
        .lookup_set(a.id, &name("Garden"))
        .unwrap()
        .unwrap()
        .id;
    let photo = |set| {
        catalog
            .lookup(set, &name("mine.jpg"))
            .unwrap()
            .map(|e| e.photo)
    };
    let id = photo(garden).expect("in Garden");
    let kio =
        "export QT_QPA_PLATFORM=offscreen XDG_RUNTIME_DIR=$HOME/run QT_LOGGING_RULES='*=false'; \
               mkdir -p -m 700 $HOME/run; ";

    w.ok(&format!(
        "{kio} kioclient5 --noninteractive move $M/alice/Trip/mine.jpg trash:/"
    ));
    assert!(w.names(trip).is_empty(), "out of the set, as rm");
    assert_eq!(w.names(garden), vec!["mine.jpg"], "its other set kept");
    let listed = w.ok(&format!("{kio} kioclient5 ls trash:/"));
    let trashed = listed
        .lines()
        .find(|l| l.ends_with("mine.jpg"))
        .unwrap_or_else(|| panic!("KIO's trash lists it: {listed}"))
        .to_string();

    w.ok(&format!("{kio} ktrash5 --restore trash:/{trashed}"));
    assert_eq!(w.names(trip), vec!["mine.jpg"], "back in its set");
    assert_eq!(photo(trip), Some(id), "as the same photo");
    w.ok("cmp $M/alice/Trip/mine.jpg $P/mine.jpg");
    assert_eq!(
        std::fs::read_dir(&w.default_folder).unwrap().count(),
        0,
        "the restored bytes are the photo's, not a second copy"
    );

    w.ok(&format!(
        "{kio} kioclient5 --noninteractive move $M/alice/Trip/mine.jpg trash:/ && ktrash5 --empty"
    ));
    assert!(w.names(trip).is_empty());
    assert_eq!(w.names(garden), vec!["mine.jpg"]);
    assert_eq!(sha1_of(&mine), before, "the user's file is untouched");
}

/// GNOME Files with its GVfs daemon running: the trash view (`trash:///`
/// served by gvfsd-trash, which reads every trash folder of every mount)
/// lists the photo once, restores it into its set, and empties it.
#[test]
fn gvfs_trash_lists_once_restores_and_empties() {
    let w = World::new();
    let a = w.add_alice();
    let mine = w.user_photo("mine.jpg", 40_000, 51);
    let before = sha1_of(&mine);
    let _m = w.mount();
    w.ok("mkdir $M/alice/Trip $M/alice/Garden && ln -s $P/mine.jpg $M/alice/Trip/ && ln $M/alice/Trip/mine.jpg $M/alice/Garden/");
    let catalog = w.catalog();
    let trip = catalog.lookup_set(a.id, &name("Trip")).unwrap().unwrap().id;
    let garden = catalog
        .lookup_set(a.id, &name("Garden"))
        .unwrap()
        .unwrap()
        .id;
    // a session bus and GVfs's daemons, as on a desktop
    let gvfs = |script: &str| {
        w.ok(&format!(
            "export XDG_RUNTIME_DIR=$HOME/run; mkdir -p -m 700 $HOME/run; unset GIO_USE_VFS; \
             dbus-run-session -- bash -c '{script}'"
        ))
    };
    let listed = gvfs("gio trash $M/alice/Trip/mine.jpg && gio trash --list");
    assert!(w.names(trip).is_empty(), "out of the set, as rm");
    // (GVfs lists the trash of every mount, other tests' too)
    let mnt = w.mnt.to_str().unwrap();
    let ours = |listed: &str| -> Vec<String> {
        listed
            .lines()
            .filter(|l| l.contains(mnt))
            .map(str::to_owned)
            .collect()
    };
    let items = ours(&listed);
    assert_eq!(items.len(), 1, "listed once: {listed:?}");
    assert!(
        items[0].ends_with(&format!("\t{mnt}/alice/Trip/mine.jpg")),
        "{listed}"
    );
    let uri = items[0].split('\t').next().unwrap();

    gvfs(&format!("gio trash --restore {uri}"));
    assert_eq!(w.names(trip), vec!["mine.jpg"], "back in its set");
    let left = ours(&gvfs("gio trash --list && find $M/.Trash* ! -type d"));
    assert!(left.is_empty(), "{left:?}");

    gvfs("gio trash $M/alice/Trip/mine.jpg && gio trash --list && gio trash --empty");
    let left = ours(&gvfs("gio trash --list; find $M/.Trash* ! -type d"));
    assert!(left.is_empty(), "{left:?}");
    assert!(w.names(trip).is_empty());
    assert_eq!(w.names(garden), vec!["mine.jpg"]);
    assert_eq!(sha1_of(&mine), before, "the user's file is untouched");
}
