//! Group pools through the mount (issue 12): leaving a pool in the mount
//! (`rm` in a pool folder, a move to the account folder) is sent to Flickr
//! by the next sync as `flickr.groups.pools.remove`, because the catalog
//! keeps the pool memberships of the last sync as its merge base; nothing
//! else is deleted on Flickr. The mount daemon is a real child process,
//! the account added through the real OAuth flow, Flickr the emulator over
//! HTTP.

use std::path::Path;

#[path = "common/proc.rs"]
mod proc;
#[path = "common/world.rs"]
mod world;
use world::*;

/// The mount's names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The summary line of the last sync of the only account.
fn summary(w: &World) -> String {
    w.last_sync()["accounts"][0]["summary"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn leaving_a_pool_in_the_mount_is_sent_to_flickr_and_nothing_else_is_deleted() {
    let w = World::new(None);
    w.add_account();
    let alone = w.seed_online("Alone", 1);
    let moved = w.seed_online("Moved", 2);
    let kept = w.seed_online("Kept", 3);
    w.seed_set("Trip", &[kept.clone(), moved.clone()]);
    let cats = w.emu.create_group("Cats").expect("group");
    w.emu.join_group(&cats.nsid, &w.nsid).expect("join");
    for id in [&alone, &moved, &kept] {
        w.emu.add_to_pool(&cats.nsid, id).expect("pool");
    }
    let d = w.mount();
    let state = w.control_sync();
    assert!(state.starts_with("done"), "first sync: {state}");
    let pool = w.acct().join("Pools").join("Cats");
    assert_eq!(names(&pool), vec!["Alone.jpg", "Kept.jpg", "Moved.jpg"]);
    // The account folder holds the photos in no set and no pool: Alone is
    // in a pool, so it is listed there only.
    assert_eq!(names(&w.acct()), vec!["Pools", "Trip"]);

    // `rm` in the pool folder, and a move from a set to the account folder
    // (out of every set and every pool).
    std::fs::remove_file(pool.join("Alone.jpg")).expect("rm Pools/Cats/Alone.jpg");
    std::fs::rename(
        w.acct().join("Trip").join("Moved.jpg"),
        w.acct().join("Moved.jpg"),
    )
    .expect("mv Trip/Moved.jpg to the account folder");
    assert_eq!(names(&pool), vec!["Kept.jpg"]);

    w.emu.reset_request_log();
    let state = w.control_sync();
    assert!(state.starts_with("done"), "second sync: {state}");
    assert!(
        summary(&w).contains("2 pool changes (2 leaving a pool on Flickr)"),
        "{}",
        summary(&w)
    );
    assert_eq!(w.emu.pool_photos(&cats.nsid, &w.nsid), vec![kept.clone()]);
    let removes = w
        .emu
        .request_log()
        .iter()
        .filter(|c| c.method == "flickr.groups.pools.remove" && c.ok)
        .count();
    assert_eq!(removes, 2, "one flickr.groups.pools.remove per photo");

    // Nothing else is deleted on Flickr: every photo is there, Trip keeps
    // the photo that stayed in it (Moved left it, as the move means).
    assert_eq!(
        sorted(w.emu.photos(&w.nsid).into_iter().map(|p| p.id).collect()),
        sorted(vec![alone.clone(), moved.clone(), kept.clone()])
    );
    let sets = w.emu.photosets(&w.nsid);
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].photos, vec![kept.clone()]);

    // The next sync does not bring the memberships back.
    let state = w.control_sync();
    assert!(state.starts_with("done"), "third sync: {state}");
    assert!(!summary(&w).contains("pool changes"), "{}", summary(&w));
    assert_eq!(names(&pool), vec!["Kept.jpg"]);
    assert_eq!(w.emu.pool_photos(&cats.nsid, &w.nsid), vec![kept.clone()]);
    let root = names(&w.acct());
    assert!(
        root.contains(&"Alone.jpg".to_owned()) && root.contains(&"Moved.jpg".to_owned()),
        "in no set and no pool: listed in the account folder: {root:?}"
    );

    // The other way round: a photo taken out of the pool on Flickr leaves
    // the pool folder at the next sync, and is not put back on Flickr.
    w.emu
        .remove_from_pool(&cats.nsid, &kept)
        .expect("remove on Flickr");
    let state = w.control_sync();
    assert!(state.starts_with("done"), "fourth sync: {state}");
    assert!(names(&pool).is_empty(), "{:?}", names(&pool));
    assert!(w.emu.pool_photos(&cats.nsid, &w.nsid).is_empty());
    assert_eq!(names(&w.acct().join("Trip")), vec!["Kept.jpg"]);
    d.unmount();
}
