//! `.flickrfs/sync` and the status board.

use super::*;

#[test]
fn sync_control_file_records_requests_and_refuses_garbage() {
    let w = World::new();
    w.add_alice();
    let got: Arc<Mutex<Vec<SyncRequest>>> = Arc::default();
    let g2 = got.clone();
    let m = w.mount_with_hook(Arc::new(move |r| g2.lock().unwrap().push(r)));
    w.ok("echo up alice > $M/.flickrfs/sync");
    {
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].direction, flickrfs::model::Direction::Up);
        assert_eq!(got[0].accounts, vec!["alice"]);
    }
    assert!(w.ok("cat $M/.flickrfs/sync").contains("up alice"));
    assert!(
        m.status().contains("sync request: up alice"),
        "{}",
        m.status()
    );
    let err = w.fails("echo sideways > $M/.flickrfs/sync");
    assert!(err.contains("Invalid argument"), "{err}");
    let err = w.fails("head -c 300 /dev/urandom > $M/.flickrfs/sync");
    assert!(err.contains("Invalid argument"), "{err}");
    assert_eq!(got.lock().unwrap().len(), 1);
    assert!(m.status().contains("sideways"), "{}", m.status());
    w.fails("echo both > $M/.flickrfs/status");
}

#[test]
fn without_a_sync_engine_the_status_says_the_request_waits() {
    let w = World::new();
    w.add_alice();
    let m = w.mount();
    w.ok("echo both > $M/.flickrfs/sync");
    assert!(
        m.status().contains("waiting for the sync engine"),
        "{}",
        m.status()
    );
}
