//! Preferences that take effect (issue 12): an account's folder name and
//! default folder changed with `flickrfs config set` while the mount daemon
//! runs (a real child process, the account added through the real OAuth
//! flow).

use std::path::Path;

#[path = "common/proc.rs"]
mod proc;
use proc::*;
#[path = "common/world.rs"]
mod world;
use world::*;

fn ok(w: &World, args: &[&str]) -> String {
    let out = w.flickrfs(args, OP_DEADLINE);
    assert!(
        out.status.success(),
        "flickrfs {args:?}: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The files directly in `dir` whose bytes are `bytes`.
fn files_with(dir: &Path, bytes: &[u8]) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter(|e| std::fs::read(e.path()).is_ok_and(|b| b == bytes))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn folder_name_and_default_folder_changed_while_mounted_take_effect() {
    let w = World::new(None);
    w.add_account();
    w.seed_online("Old", 1);
    let old_bytes = std::fs::read(w.photos.join("Old.jpg")).expect("Old.jpg");
    let d = w.mount();
    let state = w.control_sync();
    assert!(state.starts_with("done"), "first sync: {state}");
    assert_eq!(files_with(&w.default_folder, &old_bytes), vec!["Old.jpg"]);

    // The default folder first, then the name: once the mount shows the
    // new name it has seen both changes (one catalog, one change log).
    let new_folder = w.tmp.path().join("new-default");
    ok(
        &w,
        &[
            "config",
            "set",
            "alice",
            "default_folder",
            &new_folder.to_string_lossy(),
        ],
    );
    assert!(
        new_folder.is_dir(),
        "config set creates the new default folder"
    );
    ok(&w, &["config", "set", "alice", "collection_name", "Photos"]);
    let renamed = w.mnt.join("Photos");
    wait_for("the mount to rename alice/ to Photos/", OP_DEADLINE, || {
        renamed.is_dir() && !w.acct().exists()
    });
    assert_eq!(
        ok(&w, &["config", "get", "alice", "collection_name"]).trim(),
        "Photos"
    );

    // The existing entry keeps its file in the old default folder.
    assert_eq!(
        std::fs::read(renamed.join("Old.jpg")).expect("Photos/Old.jpg"),
        old_bytes
    );
    assert_eq!(files_with(&w.default_folder, &old_bytes), vec!["Old.jpg"]);
    assert!(files_with(&new_folder, &old_bytes).is_empty());

    // A copy from outside the library folders is stored in the new one.
    let copied = w.original("Card.jpg", 2, 40);
    std::fs::copy(w.photos.join("Card.jpg"), renamed.join("Card.jpg")).expect("cp into Photos/");
    assert_eq!(files_with(&new_folder, &copied).len(), 1, "the copy's file");
    assert!(files_with(&w.default_folder, &copied).is_empty());

    // A new download goes there too.
    w.seed_online("Later", 3);
    let later = std::fs::read(w.photos.join("Later.jpg")).expect("Later.jpg");
    let state = w.control_sync();
    assert!(state.starts_with("done"), "second sync: {state}");
    assert_eq!(files_with(&new_folder, &later), vec!["Later.jpg"]);
    assert!(files_with(&w.default_folder, &later).is_empty());
    assert_eq!(files_with(&w.default_folder, &old_bytes), vec!["Old.jpg"]);

    // A name another account's folder would clash with is refused, and the
    // preference is left as it was.
    let out = w.flickrfs(
        &["config", "set", "alice", "collection_name", ".flickrfs"],
        OP_DEADLINE,
    );
    assert!(!out.status.success(), "a reserved name is refused");
    assert_eq!(
        ok(&w, &["config", "get", "alice", "collection_name"]).trim(),
        "Photos"
    );
    d.unmount();
}
