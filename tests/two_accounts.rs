//! Two Flickr accounts in one mount, through the mount daemon: one sync
//! request moves both (uploads and downloads on each side, each into its own
//! account), and one account's failure (its token revoked on Flickr) does
//! not stop the other's sync.

use std::time::Duration;

#[path = "common/proc.rs"]
mod proc;
use proc::*;
#[path = "common/world.rs"]
mod world;
use world::*;

use flickrfs::emulator::NewEmuPhoto;

fn titles(w: &World, nsid: &str) -> Vec<String> {
    let mut t: Vec<String> = w.emu.photos(nsid).into_iter().map(|p| p.title).collect();
    t.sort();
    t
}

#[test]
fn one_sync_moves_both_accounts_and_one_failure_does_not_stop_the_other() {
    let w = World::new(None);
    let bob = w.emu.create_user("bob").expect("bob");
    let online = |nsid: &str, title: &str, seed: u64| {
        let bytes = w.original(&format!("{title}.jpg"), seed, 48);
        w.emu
            .add_photo(
                nsid,
                NewEmuPhoto {
                    title: title.into(),
                    bytes,
                    ..Default::default()
                },
            )
            .expect("add photo")
    };
    online(&w.nsid, "alice_online", 1);
    online(&bob.nsid, "bob_online", 2);
    w.add_account();
    let bob_folder = w.home.join("Pictures/Flickr/bob");
    add_account_as(&w.home, &w.emu, "bob", &bob_folder, OP_DEADLINE);
    let daemon = w.mount();
    let bob_dir = w.mnt.join("bob");
    wait_for("the mount to serve bob/", OP_DEADLINE, || bob_dir.is_dir());

    // a copy into each account's folder, and one sync request for both
    for (who, seed) in [("alice", 3), ("bob", 4)] {
        let src = w.photos.join(format!("{who}_local.jpg"));
        std::fs::write(&src, jpeg(seed, 48)).expect("write");
        std::fs::copy(&src, w.mnt.join(who).join(format!("{who}_local.jpg"))).expect("cp");
    }
    let state = w.control_sync();
    let status = std::fs::read_to_string(w.mnt.join(".flickrfs/status")).expect("status");
    assert!(state.starts_with("done"), "{state}\n{status}");
    assert_eq!(titles(&w, &w.nsid), ["alice_local", "alice_online"]);
    assert_eq!(titles(&w, &bob.nsid), ["bob_local", "bob_online"]);
    assert_eq!(
        sha1_of(&w.default_folder.join("alice_online.jpg")),
        sha1_of(&w.photos.join("alice_online.jpg"))
    );
    assert_eq!(
        sha1_of(&bob_folder.join("bob_online.jpg")),
        sha1_of(&w.photos.join("bob_online.jpg"))
    );
    assert!(!bob_folder.join("alice_online.jpg").exists());

    // bob revokes the app on Flickr: his sync fails, alice's still runs
    assert!(w.emu.revoke_tokens(&bob.nsid).expect("revoke") > 0);
    online(&w.nsid, "alice_later", 5);
    online(&bob.nsid, "bob_later", 6);
    for (who, seed) in [("alice", 7), ("bob", 8)] {
        let src = w.photos.join(format!("{who}_second.jpg"));
        std::fs::write(&src, jpeg(seed, 48)).expect("write");
        std::fs::copy(&src, w.mnt.join(who).join(format!("{who}_second.jpg"))).expect("cp");
    }
    let state = w.control_sync();
    assert!(!state.starts_with("done"), "bob's sync failed: {state}");
    assert_eq!(
        titles(&w, &w.nsid),
        ["alice_later", "alice_local", "alice_online", "alice_second"],
        "alice's sync ran: {state}"
    );
    assert!(w.default_folder.join("alice_later.jpg").exists());
    assert_eq!(
        titles(&w, &bob.nsid),
        ["bob_later", "bob_local", "bob_online"]
    );
    assert!(!bob_folder.join("bob_later.jpg").exists());
    let status = std::fs::read_to_string(w.mnt.join(".flickrfs/status")).expect("status");
    assert!(
        status.contains("bob"),
        "the status names bob's failure: {status}"
    );
    // his copy waits in the mount for the next sync
    assert!(w.mnt.join("bob/bob_second.jpg").exists());
    let _ = Duration::ZERO;
    daemon.unmount();
}
