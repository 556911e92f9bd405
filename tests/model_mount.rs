//! The model test on a real FUSE mount: random sequences of file
//! operations (cp, ln, ln -s, mv within and across folders, rm, mkdir,
//! rmdir, mv of a set folder, setxattr with valid and invalid values,
//! writes into existing entries: overwrite with O_TRUNC, append, truncate;
//! and changes another catalog connection makes behind the mount's back)
//! applied through the kernel to the mount and to the reference model
//! (`model/reference.rs`), compared after every step by `model/harness.rs`,
//! drawn by `model/generators.rs` (proptest, shrinking a failure to a short
//! list of operations). Beyond what the in-process run (`model_core.rs`)
//! sees, this one checks what only the kernel shows: names left in its
//! caches (a name the model says is gone must stop resolving within 10 s;
//! `FLICKRFS_MODEL_STRICT_DCACHE=1` demands "at once",
//! `FLICKRFS_MODEL_LENIENT=1` tolerates names never invalidated), and the
//! kernel's own errno order.
//!
//! Reproducible: a fixed seed (`FLICKRFS_MODEL_SEED=N` replays another);
//! `FLICKRFS_MODEL_CASES` and `FLICKRFS_MODEL_STEPS` make it longer. The
//! named tests below are failures it found, shrunk.

#[path = "model/generators.rs"]
mod generators;
#[path = "model/harness.rs"]
mod harness;
#[path = "model/reference.rs"]
mod reference;
#[path = "model/vfs.rs"]
mod vfs;
#[path = "common/mount.rs"]
mod world;

use std::path::Path;
use std::time::Duration;

use harness::*;
use reference::*;
use world::*;

#[test]
fn random_operations_match_the_model() {
    random_runs::<OnKernel>(6, 400);
}

// ----- named regressions (shrunk failures) --------------------------------

/// Shrunk from seed 2: a photo with two names in one set folder (a copy of
/// the same bytes); moving one name to the account folder takes the photo
/// out of the set, and the other name must stop resolving at once. (Before
/// fsmount 36fa0c2 it kept resolving for the whole entry timeout, 1 h: the
/// shared inode was re-keyed to the root and never invalidated.)
#[test]
fn stale_name_after_moving_one_of_two_names_to_the_account_folder() {
    let ops = [
        Op::Mkdir { set: 0 },
        Op::Create {
            dir: Folder::Set(0),
            name: 0,
            content: 0,
        },
        Op::Create {
            dir: Folder::Set(0),
            name: 2,
            content: 0,
        },
        Op::Rename {
            from: Folder::Set(0),
            name: 2,
            to: Folder::Root,
            to_name: 1,
        },
    ];
    // strict: a name that resolves after the model says it is gone fails
    let r = run_with(&ops, Under::Kernel, true);
    assert!(r.is_ok(), "{r:?}");
}

/// Replays of earlier shrunk failures that must keep passing.
#[test]
fn regression_rename_into_own_parent_and_paths_through_a_file() {
    // mv alice/a.jpg/Trip\ 2.jpg alice/a.jpg: the target is the source's
    // own folder (ENOTEMPTY from the kernel's rename lock)
    let ops = [
        Op::Mkdir { set: 3 },
        Op::Create {
            dir: Folder::Set(3),
            name: 6,
            content: 3,
        },
        Op::Rename {
            from: Folder::Set(3),
            name: 6,
            to: Folder::Root,
            to_name: 0,
        },
        // alice/a.jpg is now... still the set; unlink through it
        Op::Unlink {
            dir: Folder::Set(3),
            name: 6,
        },
        Op::Rmdir { set: 3 },
        // alice/a.jpg a file: paths through it are ENOTDIR
        Op::Create {
            dir: Folder::Root,
            name: 0,
            content: 1,
        },
        Op::Create {
            dir: Folder::Set(3),
            name: 1,
            content: 2,
        },
    ];
    let r = run(&ops, Under::Kernel);
    assert!(r.is_ok(), "{r:?}");
}

/// Shrunk from seed 2 once the generator also wrote into entries: `ln`
/// of a set folder (`alice/a.jpg/`) into a missing folder is `ENOENT`, onto
/// a taken name `EEXIST`: the kernel resolves the new path before
/// `vfs_link` refuses a directory (`EPERM`). The model answered `EPERM`
/// first.
#[test]
fn regression_link_of_a_set_folder_resolves_the_destination_first() {
    use Folder::*;
    let ops = [
        Op::Mkdir { set: 3 },
        Op::Link {
            from: Root,
            name: 0,
            to: Set(1),
            to_name: 5,
        },
        Op::Mkdir { set: 1 },
        Op::Create {
            dir: Set(1),
            name: 5,
            content: 0,
        },
        Op::Link {
            from: Root,
            name: 0,
            to: Set(1),
            to_name: 5,
        },
        Op::Link {
            from: Root,
            name: 0,
            to: Set(1),
            to_name: 1,
        },
    ];
    let r = run(&ops, Under::Kernel);
    assert!(r.is_ok(), "{r:?}");
}

/// Shrunk from seed 12 of the same generator (20 seeds):
/// `mv alice/S2/missing alice/a.jpg/c.png` with `alice/a.jpg` a file is
/// `ENOTDIR`: rename(2) resolves both parent folders before it looks the
/// source up. The model answered `ENOENT`.
#[test]
fn regression_rename_resolves_both_folders_before_the_source() {
    use Folder::*;
    let ops = [
        Op::Mkdir { set: 1 },
        Op::Create {
            dir: Root,
            name: 0,
            content: 0,
        },
        Op::Rename {
            from: Set(1),
            name: 4,
            to: Set(3),
            to_name: 2,
        },
    ];
    let r = run(&ops, Under::Kernel);
    assert!(r.is_ok(), "{r:?}");
}

/// Writes into existing entries, one case of each rule (the random run
/// reaches them too, but not on every seed): an own file changed in place
/// is seen through the photo's names in other folders; a user's file is
/// copied at the first change and never changes; a merge at close keeps
/// the oldest photo; written bytes equal to those of a photo in sets make
/// an account-folder entry vanish.
#[test]
fn writes_into_existing_entries() {
    use Folder::*;
    let ops = [
        Op::Mkdir { set: 0 },
        Op::Mkdir { set: 1 },
        // an own file with names in two sets, changed through each
        Op::Create {
            dir: Set(0),
            name: 0,
            content: 0,
        },
        Op::Link {
            from: Set(0),
            name: 0,
            to: Set(1),
            to_name: 1,
        },
        Op::Overwrite {
            dir: Set(0),
            name: 0,
            content: 3,
        },
        Op::Append {
            dir: Set(1),
            name: 1,
            tail: 1,
        },
        Op::Truncate {
            dir: Set(0),
            name: 0,
            quarters: 1,
        },
        // one user's file under two junk names (two photos, no merge):
        // writing through one copies it, the other still refers to it
        Op::Symlink {
            dir: Root,
            name: 4,
            source: 0,
        },
        Op::Symlink {
            dir: Set(0),
            name: 5,
            source: 0,
        },
        Op::Overwrite {
            dir: Root,
            name: 4,
            content: 1,
        },
        // an account-folder entry takes the bytes of a photo in a set:
        // merged into it at close, so it leaves the account folder
        Op::Create {
            dir: Set(1),
            name: 0,
            content: 2,
        },
        Op::Create {
            dir: Root,
            name: 1,
            content: 3,
        },
        Op::Overwrite {
            dir: Root,
            name: 1,
            content: 2,
        },
        // a user's non-media file in a set takes the bytes of an
        // account-folder photo: copied, merged, that photo joins the set
        Op::Create {
            dir: Root,
            name: 2,
            content: 4,
        },
        Op::Symlink {
            dir: Set(0),
            name: 3,
            source: 2,
        },
        Op::Overwrite {
            dir: Set(0),
            name: 3,
            content: 4,
        },
        // emptied by a truncating open that writes nothing, then a JPEG
        // head appended to it and to another empty entry: the second merges
        Op::Overwrite {
            dir: Set(1),
            name: 0,
            content: 6,
        },
        Op::Append {
            dir: Set(1),
            name: 0,
            tail: 0,
        },
        Op::Create {
            dir: Root,
            name: 0,
            content: 6,
        },
        Op::Append {
            dir: Root,
            name: 0,
            tail: 0,
        },
        // a quarter of one JPEG, twice: the second merges into the first
        Op::Create {
            dir: Root,
            name: 3,
            content: 0,
        },
        Op::Truncate {
            dir: Root,
            name: 3,
            quarters: 1,
        },
        Op::Create {
            dir: Root,
            name: 6,
            content: 0,
        },
        Op::Truncate {
            dir: Root,
            name: 6,
            quarters: 1,
        },
        // a user's file truncated to its own size: copied all the same
        Op::Symlink {
            dir: Set(1),
            name: 6,
            source: 1,
        },
        Op::Truncate {
            dir: Set(1),
            name: 6,
            quarters: 4,
        },
        // a folder, missing names, a missing folder
        Op::Mkdir { set: 3 },
        Op::Overwrite {
            dir: Root,
            name: 0,
            content: 0,
        },
        Op::Truncate {
            dir: Root,
            name: 0,
            quarters: 0,
        },
        Op::Overwrite {
            dir: Set(0),
            name: 1,
            content: 0,
        },
        Op::Truncate {
            dir: Set(2),
            name: 0,
            quarters: 0,
        },
        Op::Append {
            dir: Set(0),
            name: 6,
            tail: 0,
        },
    ];
    let stats = run_with(&ops, Under::Kernel, true).unwrap_or_else(|f| panic!("{f:?}"));
    assert!(
        stats.in_place >= 5 && stats.copied >= 3 && stats.merged >= 3 && stats.errors == 5,
        "{stats:?}"
    );
}

/// Changes by another catalog connection (a sync), one case of each (the
/// random run reaches them too, but not every kind on every seed), each
/// after the kernel has cached the names and listings it touches: a new
/// photo in a set, a move into a set (leaves the account folder), a new
/// set, a move to the account folder (out of its sets, a new title), a
/// user's file with the content of a photo (one more name of it), leaving
/// the last set (back in the account folder), an editor-save rename over
/// an entry (the destination takes the source's content: a new size), and
/// a delete of one of two names.
#[test]
fn changes_by_another_connection() {
    use Folder::*;
    let ops = [
        Op::Mkdir { set: 0 },
        Op::Create {
            dir: Root,
            name: 0,
            content: 0,
        },
        Op::External(Ext::AddFile {
            dir: Set(0),
            name: 1,
            source: 1,
        }),
        Op::External(Ext::Rename {
            from: Root,
            name: 0,
            to: Set(0),
            to_name: 2,
        }),
        Op::External(Ext::Mkdir { set: 1 }),
        Op::External(Ext::Rename {
            from: Set(0),
            name: 2,
            to: Root,
            to_name: 6,
        }),
        Op::External(Ext::AddFile {
            dir: Root,
            name: 0,
            source: 0,
        }),
        Op::External(Ext::Unlink {
            dir: Set(0),
            name: 1,
        }),
        Op::Create {
            dir: Set(1),
            name: 0,
            content: 3,
        },
        Op::External(Ext::AddFile {
            dir: Set(1),
            name: 5,
            source: 2,
        }),
        Op::External(Ext::Rename {
            from: Set(1),
            name: 5,
            to: Set(1),
            to_name: 0,
        }),
        Op::External(Ext::Unlink { dir: Root, name: 0 }),
        // refused: the name is taken; the set is missing
        Op::External(Ext::Mkdir { set: 0 }),
        Op::External(Ext::Unlink {
            dir: Set(2),
            name: 0,
        }),
    ];
    let stats = run_with(&ops, Under::Kernel, true).unwrap_or_else(|f| panic!("{f:?}"));
    assert!(stats.external == 9 && stats.errors == 2, "{stats:?}");
}

/// Found by seed 12 of 30 once the generator also made external changes
/// (shrunk by hand to this list, which has none): `truncate(2)` of an
/// account-folder entry whose new bytes are those of a photo in sets merges
/// it into that photo (`finish_write`), so the entry vanishes, as the model
/// says; the mount then answers the `truncate` with `ENOENT`, because
/// `FsCore::setattr` replies with `getattr_fh` of the inode after
/// `finish`, whose entry is gone. The model (like an `O_TRUNC` open + close
/// of the same bytes) says the call succeeds; fixed in `FsCore::setattr`.
#[test]
fn truncate_merged_into_a_photo_in_sets_succeeds() {
    use Folder::*;
    let ops = [
        Op::Mkdir { set: 0 },
        Op::Mkdir { set: 1 },
        Op::Create {
            dir: Set(0),
            name: 0,
            content: 3,
        },
        // a junk name: no merge at close
        Op::Create {
            dir: Set(1),
            name: 4,
            content: 3,
        },
        // renamed to a real name (still no merge), then out of its last
        // set: back in the account folder as `b.jpg`
        Op::Rename {
            from: Set(1),
            name: 4,
            to: Set(1),
            to_name: 1,
        },
        Op::Unlink {
            dir: Set(1),
            name: 1,
        },
        // same size: the bytes are unchanged, the photo is merged at finish
        Op::Truncate {
            dir: Root,
            name: 1,
            quarters: 4,
        },
    ];
    let r = run_with(&ops, Under::Kernel, true);
    assert!(r.is_ok(), "{r:?}");
}

// ----- the mount for scripts/posix-suite.sh -----------------------------------

/// Not a test: `scripts/posix-suite.sh` runs it to get a mount in a temp
/// world (HOME/XDG inside it, account `alice`, an empty set `Set`). Writes
/// the mount point to `$FLICKRFS_POSIX_READY`, serves until the file
/// `$FLICKRFS_POSIX_STOP` exists, then unmounts.
#[test]
#[ignore = "helper of scripts/posix-suite.sh, not a test"]
fn posix_suite_mount_server() {
    let (Ok(ready), Ok(stop)) = (
        std::env::var("FLICKRFS_POSIX_READY"),
        std::env::var("FLICKRFS_POSIX_STOP"),
    ) else {
        eprintln!("set FLICKRFS_POSIX_READY and FLICKRFS_POSIX_STOP (see scripts/posix-suite.sh)");
        return;
    };
    let w = World::new();
    let a = w.add_alice();
    w.catalog()
        .mkdir(
            a.id,
            &flickrfs::catalog::EntryName::new("Set").expect("name"),
        )
        .expect("mkdir Set");
    let mut o = w.options();
    // pjdfstest switches to other users (nobody, daemon, bin)
    o.allow_other = true;
    let m = w.mount_with(o);
    std::fs::write(&ready, w.mnt.to_string_lossy().as_bytes()).expect("write ready file");
    while !Path::new(&stop).exists() {
        std::thread::sleep(Duration::from_millis(200));
    }
    let files = tree_sums(&w.default_folder).len();
    eprintln!("posix-suite mount: {files} file(s) in the default folder at unmount");
    m.unmount();
}
