//! Listings: the layout (account, sets, pools, `.flickrfs`), and changes made elsewhere showing up.

use super::*;

#[test]
fn mount_shows_control_dir_account_and_pools() {
    let w = World::new();
    w.add_alice();
    let m = w.mount();
    let root = w.ok("ls -A $M");
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!(
        root.lines().collect::<Vec<_>>(),
        vec![".Trash", &format!(".Trash-{uid}"), ".flickrfs", "alice"]
    );
    // the trash folders, as the freedesktop.org Trash specification wants
    assert_eq!(w.ok("stat -c %a $M/.Trash").trim(), "1777");
    assert_eq!(w.ok(&format!("stat -c %a $M/.Trash-{uid}")).trim(), "700");
    let ctl = w.ok("ls $M/.flickrfs");
    assert_eq!(
        ctl.split_whitespace().collect::<Vec<_>>(),
        vec!["plan", "status", "status.json", "sync"]
    );
    assert!(w.ok("ls $M/alice").contains("Pools"));
    assert!(m.status().starts_with("flickrfs status"));
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(m.mnt.join(".flickrfs/status.json")).unwrap(),
    )
    .unwrap();
    assert!(json.get("problems").is_some());
    assert!(w.ok("cat $M/.flickrfs/plan").contains("alice"));
    // statfs reports the default folder's filesystem
    assert!(w.ok("df -P $M | tail -1").contains("flickrfs"));
    // folders advertise a 1 MiB block size: readdir(3) sizes its buffer
    // from it, so a large set is listed in few round trips
    assert_eq!(w.ok("stat -c %o $M/alice").trim(), "1048576");
    m.unmount();
}

#[test]
fn group_pools_are_folders_under_pools() {
    let w = World::new();
    let a = w.add_alice();
    let cat = w.catalog();
    let pools = cat
        .upsert_pools(
            a.id,
            &[flickrfs::catalog::RemotePool {
                id: flickrfs::model::GroupId::new("42@N20"),
                name: "Gardening Club".into(),
            }],
        )
        .unwrap();
    let src = w.user_photo("rose.jpg", 20_000, 40);
    cat.add_file(a.root, &EntryName::new("rose.jpg").unwrap(), &src, None)
        .unwrap();
    let key = photo_of(&w, a.root, "rose.jpg").photo;
    cat.replace_members(pools[0], &[key]).unwrap();
    let _m = w.mount();
    assert_eq!(w.ok("ls $M/alice/Pools").trim(), "Gardening Club");
    let names = w.ok("ls \"$M/alice/Pools/Gardening Club\"");
    assert_eq!(names.trim(), w.names(pools[0]).join("\n"));
    w.ok("cmp $P/rose.jpg \"$M/alice/Pools/Gardening Club/\"*");
    // mkdir under Pools means nothing: refused, nothing created
    w.fails("mkdir $M/alice/Pools/New");
    assert_eq!(w.catalog().pools(a.id).unwrap().len(), 1);
}

#[test]
fn changes_made_by_another_connection_show_up_while_mounted() {
    let w = World::new();
    let a = w.add_alice();
    let src = w.user_photo("c.jpg", 20_000, 15);
    let cat = w.catalog();
    cat.add_file(a.root, &EntryName::new("c.jpg").unwrap(), &src, None)
        .unwrap();
    let m = w.mount();
    // prime the kernel's caches
    w.ok("ls -l $M/alice >/dev/null && stat $M/alice/c.jpg >/dev/null");
    // another process (a sync) renames and adds
    cat.rename(
        a.root,
        &EntryName::new("c.jpg").unwrap(),
        a.root,
        &EntryName::new("Renamed.jpg").unwrap(),
    )
    .unwrap();
    cat.mkdir(a.id, &EntryName::new("NewSet").unwrap()).unwrap();
    // a state, waited for (bounded generously: a loaded machine may leave
    // the change watcher's thread unscheduled for seconds)
    assert!(eventually(Duration::from_secs(30), || {
        !m.mnt.join("alice/c.jpg").exists() && m.mnt.join("alice/Renamed.jpg").exists()
    }));
    assert!(m.mnt.join("alice/NewSet").is_dir());
}

#[test]
fn a_set_listed_ahead_and_changed_meanwhile_is_listed_afresh() {
    let w = World::new();
    let a = w.add_alice();
    let cat = w.catalog();
    let sets: Vec<_> = ["A", "B", "C"]
        .iter()
        .map(|n| cat.mkdir(a.id, &EntryName::new(n).unwrap()).unwrap())
        .collect();
    let m = w.mount();
    let names = |set: &str| w.ok(&format!("ls $M/alice/{set}"));
    // Listing the account folder has set A listed ahead; give that a
    // moment (if it has not happened yet, the listing below is taken
    // afresh anyway: the assertions hold either way).
    w.ok("ls $M/alice >/dev/null");
    std::thread::sleep(Duration::from_millis(300));
    // another connection (a sync) adds to A meanwhile
    let src = w.user_photo("new.jpg", 20_000, 21);
    cat.add_file(sets[0].id, &EntryName::new("new.jpg").unwrap(), &src, None)
        .unwrap();
    assert_eq!(names("A"), "new.jpg\n");
    // listing A has B listed ahead; a copy into B through the mount
    std::thread::sleep(Duration::from_millis(300));
    w.ok("cp $P/new.jpg $M/alice/B/copy.jpg");
    assert_eq!(names("B"), "copy.jpg\n");
    assert_eq!(names("C"), "");
    m.unmount();
}
