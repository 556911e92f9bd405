//! Tests of the planner: the merge tables, named scenarios, and property
//! tests that run random histories on both sides through plan → apply (on a
//! small model of both sides) → plan again.

use super::*;
use crate::sync::effects::{apply_action, Minted};
use crate::sync::snapshot::{LocalSet, RemoteSet};
use proptest::prelude::*;

// ---------------------------------------------------------------- builders

fn pid(n: i64) -> PhotoId {
    PhotoId::new(format!("{}", 1000 + n))
}

fn sid(n: i64) -> SetId {
    SetId::new(format!("72157{n:06}"))
}

fn meta(title: &str) -> PhotoMeta {
    PhotoMeta {
        title: title.to_owned(),
        ..PhotoMeta::default()
    }
}

fn sum(n: u32) -> Checksum {
    Checksum::parse(&format!("{n:040x}")).expect("40 hex digits")
}

/// A world where both sides and the base agree: photos 1..=n titled "pN",
/// sets 1..=m titled "sN"; `members` lists (photo, set) pairs.
fn synced(n: i64, m: i64, members: &[(i64, i64)]) -> (LocalSnapshot, BaseSnapshot, RemoteSnapshot) {
    let mut local = LocalSnapshot::default();
    let mut base = BaseSnapshot::default();
    let mut remote = RemoteSnapshot::default();
    remote.groups.insert(GroupId::new("g1"), "Group one".into());
    for s in 1..=m {
        let title = format!("s{s}");
        local.sets.insert(
            LocalSetKey(s),
            LocalSet {
                key: LocalSetKey(s),
                remote: Some(sid(s)),
                title: title.clone(),
                description: String::new(),
            },
        );
        base.sets.insert(
            sid(s),
            BaseSet {
                title: title.clone(),
            },
        );
        remote.sets.insert(
            sid(s),
            RemoteSet {
                id: sid(s),
                title,
                description: String::new(),
            },
        );
    }
    for p in 1..=n {
        let m = meta(&format!("p{p}"));
        let lsets: BTreeSet<LocalSetKey> = members
            .iter()
            .filter(|(ph, _)| *ph == p)
            .map(|(_, s)| LocalSetKey(*s))
            .collect();
        let rsets: BTreeSet<SetId> = members
            .iter()
            .filter(|(ph, _)| *ph == p)
            .map(|(_, s)| sid(*s))
            .collect();
        local.photos.insert(
            LocalKey(p),
            LocalPhoto {
                key: LocalKey(p),
                remote: Some(pid(p)),
                meta: m.clone(),
                sets: lsets,
                checksum: Some(sum(p as u32)),
                ..LocalPhoto::default()
            },
        );
        base.photos.insert(
            pid(p),
            BasePhoto {
                meta: m.clone(),
                sets: rsets.clone(),
                pools: BTreeSet::new(),
            },
        );
        remote.photos.insert(
            pid(p),
            RemotePhoto {
                id: pid(p),
                meta: m,
                sets: rsets,
                pools: BTreeSet::new(),
                checksum: Some(sum(p as u32)),
                media: Media::Photo,
                taken: None,
            },
        );
    }
    (local, base, remote)
}

fn opts(direction: Direction) -> PlanOptions {
    PlanOptions {
        direction,
        ..PlanOptions::default()
    }
}

fn run(l: &LocalSnapshot, b: &BaseSnapshot, r: &RemoteSnapshot, d: Direction) -> Plan {
    plan(l, b, r, &opts(d)).expect("plan is safe")
}

const DIRECTIONS: [Direction; 3] = [Direction::Both, Direction::Up, Direction::Down];

// ---------------------------------------------------------------- merge tables

#[test]
fn field_merge_table() {
    use Merge::*;
    let rows: [(Option<&str>, &str, &str, Merge); 9] = [
        (Some("a"), "a", "a", Equal),
        (Some("a"), "b", "a", PushLocal),
        (Some("a"), "a", "b", PullRemote),
        (Some("a"), "b", "b", Equal),
        (Some("a"), "b", "c", Conflict),
        (None, "a", "a", Equal),
        (None, "a", "b", PullRemote),
        (Some(""), "", "x", PullRemote),
        (Some("x"), "", "x", PushLocal),
    ];
    for (b, l, r, want) in rows {
        assert_eq!(
            merge_field(b, l, r),
            want,
            "base {b:?} local {l:?} remote {r:?}"
        );
    }
}

#[test]
fn membership_merge_table() {
    use Merge::*;
    // (base, local, remote) -> outcome: a removal on one side is never undone.
    let rows = [
        (false, false, false, Equal),
        (false, true, false, PushLocal),
        (false, false, true, PullRemote),
        (false, true, true, Equal),
        (true, false, false, Equal),
        (true, false, true, PushLocal),
        (true, true, false, PullRemote),
        (true, true, true, Equal),
    ];
    for (b, l, r, want) in rows {
        assert_eq!(merge_member(b, l, r), want, "base {b} local {l} remote {r}");
    }
}

/// Every (base, local, remote) combination of a photo title, in every
/// direction, through the whole planner.
#[test]
fn title_through_the_planner_in_every_direction() {
    let vals = ["a", "b", "c"];
    for d in DIRECTIONS {
        for bt in vals {
            for lt in vals {
                for rt in vals {
                    let (mut l, mut b, mut r) = synced(1, 0, &[]);
                    b.photos.get_mut(&pid(1)).unwrap().meta.title = bt.into();
                    l.photos.get_mut(&LocalKey(1)).unwrap().meta.title = lt.into();
                    r.photos.get_mut(&pid(1)).unwrap().meta.title = rt.into();
                    let p = run(&l, &b, &r, d);
                    let edit = |side: Side, t: &str| Action::Edit {
                        side,
                        photo: pid(1),
                        edit: MetaEdit {
                            title: Some(t.into()),
                            description: (side == Side::Remote).then(String::new),
                            ..MetaEdit::default()
                        },
                    };
                    let (want, conflict): (Vec<Action>, bool) = if lt == rt {
                        (vec![], false)
                    } else if bt == lt {
                        (
                            if d.downloads() {
                                vec![edit(Side::Local, rt)]
                            } else {
                                vec![]
                            },
                            false,
                        )
                    } else if bt == rt {
                        (
                            if d.uploads() {
                                vec![edit(Side::Remote, lt)]
                            } else {
                                vec![]
                            },
                            false,
                        )
                    } else {
                        (
                            if d.downloads() {
                                vec![edit(Side::Local, rt)]
                            } else {
                                vec![]
                            },
                            true,
                        )
                    };
                    let ctx = format!("{d} base {bt} local {lt} remote {rt}");
                    assert_eq!(p.actions, want, "{ctx}");
                    assert_eq!(p.conflicts.len(), usize::from(conflict), "{ctx}");
                    if conflict {
                        assert_eq!(p.conflicts[0].field, ConflictField::Title);
                        assert_eq!(p.conflicts[0].remote, rt.to_string());
                    }
                }
            }
        }
    }
}

/// Every (base, local, remote) combination of one set membership, in every
/// direction, through the whole planner.
#[test]
fn membership_through_the_planner_in_every_direction() {
    for d in DIRECTIONS {
        for bits in 0..8u8 {
            let (bm, lm, rm) = (bits & 4 != 0, bits & 2 != 0, bits & 1 != 0);
            let (mut l, mut b, mut r) = synced(1, 1, &[]);
            if bm {
                b.photos.get_mut(&pid(1)).unwrap().sets.insert(sid(1));
            }
            if lm {
                l.photos
                    .get_mut(&LocalKey(1))
                    .unwrap()
                    .sets
                    .insert(LocalSetKey(1));
            }
            if rm {
                r.photos.get_mut(&pid(1)).unwrap().sets.insert(sid(1));
            }
            let p = run(&l, &b, &r, d);
            let photo = PhotoRef::Remote(pid(1));
            let set = SetRef::Remote(sid(1));
            let want: Vec<Action> = match merge_member(bm, lm, rm) {
                Merge::Equal | Merge::Conflict => vec![],
                Merge::PullRemote if d.downloads() => vec![if rm {
                    Action::AddToSet {
                        side: Side::Local,
                        photo,
                        set,
                    }
                } else {
                    Action::RemoveFromSet {
                        side: Side::Local,
                        photo,
                        set,
                    }
                }],
                Merge::PushLocal if d.uploads() => vec![if lm {
                    Action::AddToSet {
                        side: Side::Remote,
                        photo,
                        set,
                    }
                } else {
                    Action::RemoveFromSet {
                        side: Side::Remote,
                        photo,
                        set,
                    }
                }],
                _ => vec![],
            };
            assert_eq!(p.actions, want, "{d} base {bm} local {lm} remote {rm}");
            assert!(p.conflicts.is_empty());
        }
    }
}

#[test]
fn tags_merge_element_by_element() {
    let (mut l, mut b, mut r) = synced(1, 0, &[]);
    let tags = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    b.photos.get_mut(&pid(1)).unwrap().meta.tags = tags(&["keep", "gone-local", "gone-remote"]);
    l.photos.get_mut(&LocalKey(1)).unwrap().meta.tags = tags(&["keep", "gone-remote", "new-local"]);
    r.photos.get_mut(&pid(1)).unwrap().meta.tags = tags(&["keep", "gone-local", "new-remote"]);
    let p = run(&l, &b, &r, Direction::Both);
    let merged = tags(&["keep", "new-local", "new-remote"]);
    assert!(p.conflicts.is_empty());
    assert_eq!(
        p.actions,
        vec![
            Action::Edit {
                side: Side::Local,
                photo: pid(1),
                edit: MetaEdit {
                    tags: Some(merged.clone()),
                    ..MetaEdit::default()
                },
            },
            Action::Edit {
                side: Side::Remote,
                photo: pid(1),
                edit: MetaEdit {
                    tags: Some(merged),
                    ..MetaEdit::default()
                },
            },
        ]
    );
}

#[test]
fn privacy_and_description_conflicts_keep_flickrs_value() {
    let (mut l, b, mut r) = synced(1, 0, &[]);
    l.photos.get_mut(&LocalKey(1)).unwrap().meta.privacy = Privacy::Public;
    r.photos.get_mut(&pid(1)).unwrap().meta.privacy = Privacy::Friends;
    l.photos.get_mut(&LocalKey(1)).unwrap().meta.description = "mine".into();
    r.photos.get_mut(&pid(1)).unwrap().meta.description = "theirs".into();
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(p.conflicts.len(), 2);
    assert_eq!(
        p.actions,
        vec![Action::Edit {
            side: Side::Local,
            photo: pid(1),
            edit: MetaEdit {
                description: Some("theirs".into()),
                privacy: Some(Privacy::Friends),
                ..MetaEdit::default()
            },
        }]
    );
    assert_eq!(p.summary.conflicts, 2);
}

#[test]
fn conflicts_quote_each_value_once() {
    let (mut l, b, mut r) = synced(1, 0, &[]);
    l.photos.get_mut(&LocalKey(1)).unwrap().meta.title = "Beach walk".into();
    r.photos.get_mut(&pid(1)).unwrap().meta.title = "Dune \"walk\"".into();
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(p.conflicts[0].local, "Beach walk");
    assert_eq!(
        p.conflicts[0].to_string(),
        r#"photo 1001: title changed on both sides (was "p1"; local "Beach walk"; Flickr "Dune \"walk\""): Flickr's value kept"#
    );
}

// ---------------------------------------------------------------- scenarios

#[test]
fn synced_world_plans_nothing() {
    let (l, b, r) = synced(5, 2, &[(1, 1), (2, 1), (2, 2)]);
    for d in DIRECTIONS {
        let p = run(&l, &b, &r, d);
        assert!(p.is_empty(), "{d}: {p}");
        assert!(p.conflicts.is_empty() && p.skipped.is_empty());
        assert_eq!(p.summary.api_calls, 0);
    }
}

#[test]
fn new_local_folder_becomes_a_set_with_its_first_photo_as_primary() {
    let (mut l, b, r) = synced(1, 0, &[]);
    l.sets.insert(
        LocalSetKey(9),
        LocalSet {
            key: LocalSetKey(9),
            remote: None,
            title: "Trip".into(),
            description: String::new(),
        },
    );
    for k in [5, 6] {
        l.photos.insert(
            LocalKey(k),
            LocalPhoto {
                key: LocalKey(k),
                meta: meta(&format!("new{k}")),
                sets: [LocalSetKey(9)].into(),
                checksum: Some(sum(100 + k as u32)),
                ..LocalPhoto::default()
            },
        );
    }
    l.photos
        .get_mut(&LocalKey(1))
        .unwrap()
        .sets
        .insert(LocalSetKey(9));
    let p = run(&l, &b, &r, Direction::Both);
    let set = SetRef::Local(LocalSetKey(9));
    assert_eq!(p.summary.uploads, 2);
    assert_eq!(p.summary.set_creations, 1);
    assert_eq!(
        p.actions,
        vec![
            Action::Upload {
                photo: LocalKey(5),
                meta: meta("new5"),
                checksum: Some(sum(105)),
                media: Media::Photo,
            },
            Action::Upload {
                photo: LocalKey(6),
                meta: meta("new6"),
                checksum: Some(sum(106)),
                media: Media::Photo,
            },
            Action::CreateRemoteSet {
                set: LocalSetKey(9),
                title: "Trip".into(),
                description: String::new(),
                primary: PhotoRef::Remote(pid(1)),
            },
            Action::AddToSet {
                side: Side::Remote,
                photo: PhotoRef::Local(LocalKey(5)),
                set: set.clone()
            },
            Action::AddToSet {
                side: Side::Remote,
                photo: PhotoRef::Local(LocalKey(6)),
                set
            },
        ]
    );
    assert_eq!(p.summary.api_calls, 5);
    // Downward only: nothing goes up, the folder stays local.
    assert!(run(&l, &b, &r, Direction::Down).is_empty());
}

/// A free account: the uploads past its 1,000 photos are held and listed,
/// with nothing that depends on them (their set memberships).
#[test]
fn uploads_past_a_free_accounts_quota_are_held_and_listed() {
    let (mut l, b, r) = synced(1, 0, &[]);
    l.sets.insert(
        LocalSetKey(9),
        LocalSet {
            key: LocalSetKey(9),
            remote: None,
            title: "Trip".into(),
            description: String::new(),
        },
    );
    for k in [5, 6, 7] {
        l.photos.insert(
            LocalKey(k),
            LocalPhoto {
                key: LocalKey(k),
                meta: meta(&format!("new{k}")),
                sets: [LocalSetKey(9)].into(),
                checksum: Some(sum(100 + k as u32)),
                ..LocalPhoto::default()
            },
        );
    }
    let o = PlanOptions {
        upload_quota: Some(1),
        ..opts(Direction::Both)
    };
    let p = plan(&l, &b, &r, &o).expect("safe");
    assert_eq!(p.summary.uploads, 1, "{p}");
    let uploaded: Vec<LocalKey> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Upload { photo, .. } => Some(*photo),
            _ => None,
        })
        .collect();
    assert_eq!(uploaded, vec![LocalKey(5)]);
    for a in &p.actions {
        if let Action::AddToSet { photo, .. } | Action::CreateRemoteSet { primary: photo, .. } = a {
            assert!(
                !matches!(photo, PhotoRef::Local(k) if *k != LocalKey(5)),
                "a held photo is used: {a:?}"
            );
        }
    }
    let held: Vec<&Subject> = p
        .skipped
        .iter()
        .filter(|s| s.reason == SkipReason::FreeAccountLimit)
        .map(|s| &s.subject)
        .collect();
    assert_eq!(
        held,
        vec![
            &Subject::Photo(PhotoRef::Local(LocalKey(6))),
            &Subject::Photo(PhotoRef::Local(LocalKey(7)))
        ]
    );
    // No quota (Pro): all three go.
    assert_eq!(run(&l, &b, &r, Direction::Both).summary.uploads, 3);
}

#[test]
fn empty_new_folder_is_listed_not_created() {
    let (mut l, b, r) = synced(0, 0, &[]);
    l.sets.insert(
        LocalSetKey(9),
        LocalSet {
            key: LocalSetKey(9),
            remote: None,
            title: "Empty".into(),
            description: String::new(),
        },
    );
    let p = run(&l, &b, &r, Direction::Both);
    assert!(p.is_empty());
    assert_eq!(p.skipped[0].reason, SkipReason::EmptyNewSet);
}

#[test]
fn new_flickr_photo_is_downloaded_into_its_sets_and_videos_are_listed() {
    let (l, b, mut r) = synced(0, 1, &[]);
    r.photos.insert(
        pid(7),
        RemotePhoto {
            id: pid(7),
            meta: meta("sunset"),
            sets: [sid(1)].into(),
            pools: [GroupId::new("g1")].into(),
            checksum: None,
            media: Media::Photo,
            taken: None,
        },
    );
    r.photos.insert(
        pid(8),
        RemotePhoto {
            id: pid(8),
            meta: meta("clip"),
            sets: BTreeSet::new(),
            pools: BTreeSet::new(),
            checksum: None,
            media: Media::Video,
            taken: None,
        },
    );
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(
        p.actions,
        vec![Action::Download {
            photo: pid(7),
            into: None,
            meta: meta("sunset"),
            sets: [sid(1)].into(),
            pools: [GroupId::new("g1")].into(),
        }]
    );
    assert_eq!(p.skipped[0].reason, SkipReason::VideoDownload);
    assert_eq!(p.summary.downloads, 1);
    assert_eq!(p.summary.api_calls, 0);
    assert!(run(&l, &b, &r, Direction::Up).is_empty());
}

#[test]
fn ambiguous_photos_are_held_back_and_listed_as_skipped() {
    let (l, b, mut r) = synced(0, 1, &[]);
    for n in [7, 8, 9] {
        r.photos.insert(
            pid(n),
            RemotePhoto {
                id: pid(n),
                meta: meta("new"),
                sets: BTreeSet::new(),
                pools: BTreeSet::new(),
                checksum: None,
                media: Media::Photo,
                taken: None,
            },
        );
    }
    let mut p = run(&l, &b, &r, Direction::Both);
    assert_eq!(p.summary.downloads, 3);
    let skipped_before = p.skipped.len();
    p.hold_back_ambiguous(&[pid(9), pid(7)]);
    let downloads: Vec<&PhotoId> = p.downloads().collect();
    assert_eq!(downloads, [&pid(8)]);
    assert_eq!((p.summary.downloads, p.summary.file_downloads), (1, 1));
    let held: Vec<(&Subject, &SkipReason)> = p.skipped[skipped_before..]
        .iter()
        .map(|s| (&s.subject, &s.reason))
        .collect();
    let ambiguous = |n| Subject::Photo(PhotoRef::Remote(pid(n)));
    assert_eq!(
        held,
        [
            (&ambiguous(9), &SkipReason::AmbiguousLocalFile),
            (&ambiguous(7), &SkipReason::AmbiguousLocalFile)
        ]
    );
    assert_eq!(p.summary.skipped, p.skipped.len());
    // Nothing held back, nothing changed.
    let before = p.clone();
    p.hold_back_ambiguous(&[]);
    assert_eq!(p, before);
}

#[test]
fn record_without_its_file_is_downloaded_into_place() {
    let (mut l, b, r) = synced(1, 0, &[]);
    l.photos.get_mut(&LocalKey(1)).unwrap().file = FileState::Absent;
    let p = run(&l, &b, &r, Direction::Down);
    assert!(matches!(
        p.actions.as_slice(),
        [Action::Download {
            into: Some(LocalKey(1)),
            ..
        }]
    ));
}

#[test]
fn deleting_a_synced_photo_locally_ignores_it_and_touches_nothing_online() {
    let (mut l, b, r) = synced(3, 1, &[(1, 1)]);
    l.photos.remove(&LocalKey(1));
    for d in DIRECTIONS {
        let p = run(&l, &b, &r, d);
        assert_eq!(
            p.actions,
            vec![Action::Ignore {
                photo: pid(1),
                title: "p1".into()
            }],
            "{d}"
        );
    }
    // Once ignored, it is left alone for good.
    l.ignored.insert(pid(1));
    assert!(run(&l, &b, &r, Direction::Both).is_empty());
}

#[test]
fn photo_deleted_on_flickr_leaves_the_catalog_but_is_never_reuploaded() {
    let (l, b, mut r) = synced(2, 0, &[]);
    r.photos.remove(&pid(2));
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(
        p.actions,
        vec![Action::ForgetLocal {
            local: LocalKey(2),
            remote: pid(2),
            title: "p2".into()
        }]
    );
    assert!(run(&l, &b, &r, Direction::Up).is_empty());
}

#[test]
fn a_date_taken_changed_on_flickr_comes_down_and_is_counted() {
    let date = |at: &str, g| DateTaken {
        at: crate::model::TakenAt(at.into()),
        granularity: g,
    };
    let (mut l, b, mut r) = synced(2, 0, &[]);
    let old = date("2024-05-01 10:00:00", crate::model::Granularity::Exact);
    let new = date("2023-01-01 00:00:00", crate::model::Granularity::Year);
    for k in 1..=2 {
        l.photos.get_mut(&LocalKey(k)).unwrap().taken = Some(old.clone());
        r.photos.get_mut(&pid(k)).unwrap().taken = Some(old.clone());
    }
    assert!(run(&l, &b, &r, Direction::Both).is_empty());
    r.photos.get_mut(&pid(1)).unwrap().taken = Some(new.clone());
    // a date the catalog does not know yet (a fresh upload's) is no change
    l.photos.get_mut(&LocalKey(2)).unwrap().taken = None;
    for d in [Direction::Both, Direction::Down] {
        let p = run(&l, &b, &r, d);
        assert_eq!(
            p.actions,
            vec![Action::Edit {
                side: Side::Local,
                photo: pid(1),
                edit: MetaEdit {
                    taken: Some(new.clone()),
                    ..MetaEdit::default()
                },
            }],
            "{d}"
        );
        assert_eq!((p.summary.edits, p.summary.dates_taken), (1, 1));
        assert_eq!(p.summary.api_calls, 0);
        assert!(p.summary.to_string().contains("1 dates taken changed"));
        assert!(p
            .to_string()
            .contains("date taken=2023-01-01 00:00:00 (year)"));
    }
    // it never goes up
    assert!(run(&l, &b, &r, Direction::Up).is_empty());
}

#[test]
fn the_summary_counts_set_deletions_and_photos_deleted_on_flickr() {
    let (mut l, b, mut r) = synced(3, 2, &[]);
    r.photos.remove(&pid(3));
    r.sets.remove(&sid(2));
    l.sets.remove(&LocalSetKey(1));
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!((p.summary.set_deletions, p.summary.forgets), (2, 1));
    assert_eq!(
        p.summary.to_string(),
        "0 uploads, 0 downloads, 0 set reassignments, 0 set creations, 0 edits, 0 conflicts, \
         2 set deletions, 1 deleted on Flickr (1 API calls)"
    );
}

#[test]
fn the_big_removal_guard_names_the_sets_and_where_the_removals_come_from() {
    // 60 photos in "s1" and "s2"; "s2" deleted on Flickr, 30 photos taken
    // out of "s1" locally.
    let members: Vec<(i64, i64)> = (1..=60).flat_map(|p| [(p, 1), (p, 2)]).collect();
    let (mut l, b, mut r) = synced(60, 2, &members);
    r.sets.remove(&sid(2));
    for p in r.photos.values_mut() {
        p.sets.remove(&sid(2));
    }
    for k in 1..=30 {
        l.photos
            .get_mut(&LocalKey(k))
            .unwrap()
            .sets
            .remove(&LocalSetKey(1));
    }
    let PlanError::Unsafe { concerns, .. } = plan(&l, &b, &r, &opts(Direction::Both)).unwrap_err();
    let SafetyConcern::ManyMembershipRemovals {
        removals,
        total,
        sets,
    } = &concerns[0]
    else {
        panic!("{concerns:?}");
    };
    assert_eq!((*removals, *total), (90, 120));
    assert_eq!(
        sets,
        &vec![
            SetRemovals {
                title: "s2".into(),
                cause: RemovalCause::SetGone(Side::Remote),
                count: 60
            },
            SetRemovals {
                title: "s1".into(),
                cause: RemovalCause::Removed(Side::Local),
                count: 30
            },
        ]
    );
    let text = concerns[0].to_string();
    assert!(
        text.contains("against 120 photo-in-set memberships at the last sync (the memberships both sides agreed on")
            && text.contains(r#"60 from "s2" (the set was deleted on Flickr)"#)
            && text.contains(r#"30 from "s1" (removed locally, to be removed on Flickr)"#),
        "{text}"
    );
}

#[test]
fn rmdir_deletes_the_set_online_and_a_set_deleted_online_drops_the_folder() {
    let (mut l, b, r) = synced(2, 2, &[(1, 1), (2, 2)]);
    // Local rmdir of set 1 (the user emptied it first).
    l.sets.remove(&LocalSetKey(1));
    l.photos.get_mut(&LocalKey(1)).unwrap().sets.clear();
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(
        p.actions,
        vec![Action::DeleteRemoteSet {
            set: sid(1),
            title: "s1".into()
        }]
    );
    assert!(run(&l, &b, &r, Direction::Down).is_empty());

    let (l, b, mut r) = synced(2, 2, &[(1, 1), (2, 2)]);
    r.sets.remove(&sid(2));
    r.photos.get_mut(&pid(2)).unwrap().sets.clear();
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(
        p.actions,
        vec![Action::DropLocalSet {
            set: LocalSetKey(2),
            remote: sid(2),
            title: "s2".into()
        }]
    );
}

#[test]
fn set_renames_merge_three_ways() {
    let (mut l, b, mut r) = synced(0, 2, &[]);
    l.sets.get_mut(&LocalSetKey(1)).unwrap().title = "local name".into();
    r.sets.get_mut(&sid(2)).unwrap().title = "online name".into();
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(
        p.actions,
        vec![
            Action::RenameSet {
                side: Side::Remote,
                set: sid(1),
                title: "local name".into()
            },
            Action::RenameSet {
                side: Side::Local,
                set: sid(2),
                title: "online name".into()
            },
        ]
    );
    r.sets.get_mut(&sid(1)).unwrap().title = "other".into();
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(p.conflicts.len(), 1);
    assert_eq!(p.conflicts[0].field, ConflictField::SetTitle);
}

#[test]
fn landed_upload_is_linked_by_its_checksum_not_uploaded_again() {
    let (mut l, b, mut r) = synced(0, 0, &[]);
    l.photos.insert(
        LocalKey(1),
        LocalPhoto {
            key: LocalKey(1),
            meta: meta("x"),
            checksum: Some(sum(42)),
            ..LocalPhoto::default()
        },
    );
    r.photos.insert(
        pid(1),
        RemotePhoto {
            id: pid(1),
            meta: meta("x"),
            sets: BTreeSet::new(),
            pools: BTreeSet::new(),
            checksum: Some(sum(42)),
            media: Media::Photo,
            taken: None,
        },
    );
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(
        p.actions,
        vec![Action::LinkPhoto {
            local: LocalKey(1),
            remote: pid(1)
        }]
    );
}

#[test]
fn same_content_is_never_uploaded_twice() {
    let (mut l, b, r) = synced(1, 0, &[]);
    for k in [5, 6] {
        l.photos.insert(
            LocalKey(k),
            LocalPhoto {
                key: LocalKey(k),
                meta: meta("dup"),
                checksum: Some(sum(77)),
                ..LocalPhoto::default()
            },
        );
    }
    l.photos.insert(
        LocalKey(7),
        LocalPhoto {
            key: LocalKey(7),
            meta: meta("copy of p1"),
            checksum: Some(sum(1)),
            ..LocalPhoto::default()
        },
    );
    let p = run(&l, &b, &r, Direction::Up);
    assert_eq!(p.summary.uploads, 1);
    let reasons: Vec<&SkipReason> = p.skipped.iter().map(|s| &s.reason).collect();
    assert_eq!(
        reasons,
        vec![
            &SkipReason::DuplicateContent {
                of: PhotoRef::Local(LocalKey(5))
            },
            &SkipReason::DuplicateContent {
                of: PhotoRef::Remote(pid(1))
            },
        ]
    );
}

#[test]
fn new_sets_with_the_same_unique_title_are_linked() {
    let (mut l, b, mut r) = synced(0, 0, &[]);
    l.sets.insert(
        LocalSetKey(3),
        LocalSet {
            key: LocalSetKey(3),
            remote: None,
            title: "Trip".into(),
            description: String::new(),
        },
    );
    r.sets.insert(
        sid(8),
        RemoteSet {
            id: sid(8),
            title: "Trip".into(),
            description: String::new(),
        },
    );
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(
        p.actions,
        vec![Action::LinkSet {
            local: LocalSetKey(3),
            remote: sid(8)
        }]
    );
}

#[test]
fn unuploadable_files_are_listed() {
    let (mut l, b, r) = synced(0, 0, &[]);
    l.photos.insert(
        LocalKey(1),
        LocalPhoto {
            key: LocalKey(1),
            media: Media::NotMedia,
            ..LocalPhoto::default()
        },
    );
    l.photos.insert(
        LocalKey(2),
        LocalPhoto {
            key: LocalKey(2),
            file: FileState::Missing,
            ..LocalPhoto::default()
        },
    );
    let p = run(&l, &b, &r, Direction::Both);
    assert!(p.is_empty());
    let reasons: Vec<&SkipReason> = p.skipped.iter().map(|s| &s.reason).collect();
    assert_eq!(
        reasons,
        vec![&SkipReason::NotMedia, &SkipReason::MissingFile]
    );
}

#[test]
fn pools_merge_and_only_member_groups_are_added_to() {
    let (mut l, b, r) = synced(1, 0, &[]);
    let lp = l.photos.get_mut(&LocalKey(1)).unwrap();
    lp.pools.insert(GroupId::new("g1"));
    lp.pools.insert(GroupId::new("stranger"));
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(
        p.actions,
        vec![Action::AddToPool {
            side: Side::Remote,
            photo: PhotoRef::Remote(pid(1)),
            group: GroupId::new("g1"),
        }]
    );
    assert_eq!(
        p.skipped[0].reason,
        SkipReason::NotAPoolMember(GroupId::new("stranger"))
    );
}

#[test]
fn a_pool_left_locally_since_the_last_sync_is_left_on_flickr_and_nothing_else() {
    let (mut l, mut b, mut r) = synced(2, 1, &[(1, 1)]);
    let g1 = GroupId::new("g1");
    for id in [pid(1), pid(2)] {
        b.photos.get_mut(&id).unwrap().pools.insert(g1.clone());
        r.photos.get_mut(&id).unwrap().pools.insert(g1.clone());
    }
    // Photo 2 keeps its pool; photo 1 left it in the mount.
    l.photos
        .get_mut(&LocalKey(2))
        .unwrap()
        .pools
        .insert(g1.clone());
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(
        p.actions,
        vec![Action::RemoveFromPool {
            side: Side::Remote,
            photo: PhotoRef::Remote(pid(1)),
            group: g1.clone(),
        }]
    );
    assert_eq!(p.summary.pool_changes, 1);
    assert_eq!(p.summary.pool_removals_on_flickr, 1);
    assert!(
        p.summary
            .to_string()
            .contains("1 pool changes (1 leaving a pool on Flickr)"),
        "{}",
        p.summary
    );
    // Down only: Flickr's membership is not brought back either.
    assert!(run(&l, &b, &r, Direction::Down).is_empty());
    // Without the base (as before the catalog kept one), pools merge as a
    // union and the membership comes back.
    b.photos.get_mut(&pid(1)).unwrap().pools.clear();
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(
        p.actions,
        vec![Action::AddToPool {
            side: Side::Local,
            photo: PhotoRef::Remote(pid(1)),
            group: g1,
        }]
    );
}

#[test]
fn pool_filter_leaves_other_pools_alone_on_both_sides() {
    let (mut l, b, mut r) = synced(2, 0, &[]);
    r.groups.insert(GroupId::new("g2"), "Group two".into());
    l.photos
        .get_mut(&LocalKey(1))
        .unwrap()
        .pools
        .insert(GroupId::new("g1"));
    l.photos
        .get_mut(&LocalKey(2))
        .unwrap()
        .pools
        .insert(GroupId::new("g2"));
    r.photos
        .get_mut(&pid(1))
        .unwrap()
        .pools
        .insert(GroupId::new("g2"));
    let only_g2_by_name = PlanOptions {
        pools: PoolFilter::Only {
            ids: BTreeSet::new(),
            names: ["Group two".to_owned()].into(),
        },
        ..opts(Direction::Both)
    };
    let p = plan(&l, &b, &r, &only_g2_by_name).expect("safe");
    let groups: Vec<&GroupId> = p
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::AddToPool { group, .. } | Action::RemoveFromPool { group, .. } => Some(group),
            _ => None,
        })
        .collect();
    assert_eq!(groups.len(), 2, "{:?}", p.actions);
    assert!(groups.iter().all(|g| g.as_str() == "g2"), "{:?}", p.actions);
    // With every pool selected, g1 takes part too.
    let all = run(&l, &b, &r, Direction::Both);
    assert!(all
        .actions
        .iter()
        .any(|a| matches!(a, Action::AddToPool { group, .. } if group.as_str() == "g1")));
}

#[test]
fn set_filter_limits_the_sync_to_chosen_sets() {
    let (mut l, b, mut r) = synced(2, 2, &[(1, 1), (2, 2)]);
    for k in [1, 2] {
        l.photos.get_mut(&LocalKey(k)).unwrap().meta.title = "changed".into();
    }
    r.photos.insert(
        pid(9),
        RemotePhoto {
            id: pid(9),
            meta: meta("new in s2"),
            sets: [sid(2)].into(),
            pools: BTreeSet::new(),
            checksum: None,
            media: Media::Photo,
            taken: None,
        },
    );
    let o = PlanOptions {
        sets: SetFilter::Only {
            ids: BTreeSet::new(),
            titles: ["s1".to_string()].into(),
        },
        ..PlanOptions::default()
    };
    let p = plan(&l, &b, &r, &o).unwrap();
    assert_eq!(p.actions.len(), 1, "{p}");
    assert!(
        matches!(&p.actions[0], Action::Edit { side: Side::Remote, photo, .. } if *photo == pid(1))
    );
}

#[test]
fn ignored_photos_are_never_touched() {
    let (l0, b, mut r) = synced(0, 0, &[]);
    let mut l = l0;
    r.photos.insert(
        pid(3),
        RemotePhoto {
            id: pid(3),
            meta: meta("nope"),
            sets: BTreeSet::new(),
            pools: BTreeSet::new(),
            checksum: None,
            media: Media::Photo,
            taken: None,
        },
    );
    l.ignored.insert(pid(3));
    assert!(run(&l, &b, &r, Direction::Both).is_empty());
}

#[test]
fn mass_membership_removal_is_refused_unless_forced() {
    let members: Vec<(i64, i64)> = (1..=60).map(|p| (p, 1)).collect();
    let (mut l, b, r) = synced(60, 1, &members);
    for lp in l.photos.values_mut() {
        lp.sets.clear();
    }
    let err = plan(&l, &b, &r, &opts(Direction::Both)).unwrap_err();
    let PlanError::Unsafe {
        concerns,
        plan: shown,
    } = err;
    assert_eq!(
        concerns,
        vec![SafetyConcern::ManyMembershipRemovals {
            removals: 60,
            total: 60,
            sets: vec![SetRemovals {
                title: "s1".into(),
                cause: RemovalCause::Removed(Side::Local),
                count: 60
            }]
        }]
    );
    assert_eq!(shown.summary.set_reassignments, 60);
    let forced = plan(
        &l,
        &b,
        &r,
        &PlanOptions {
            force: true,
            ..opts(Direction::Both)
        },
    )
    .unwrap();
    assert_eq!(forced.summary.set_reassignments, 60);
    assert_eq!(forced.concerns.len(), 1);
    // A handful of removals is fine.
    let (mut l, b, r) = synced(60, 1, &members);
    for k in 1..=10 {
        l.photos.get_mut(&LocalKey(k)).unwrap().sets.clear();
    }
    assert_eq!(
        run(&l, &b, &r, Direction::Both).summary.set_reassignments,
        10
    );
}

#[test]
fn shrunken_flickr_listing_is_refused_unless_forced() {
    let (l, b, mut r) = synced(100, 0, &[]);
    let gone: Vec<PhotoId> = r.photos.keys().take(40).cloned().collect();
    for id in gone {
        r.photos.remove(&id);
    }
    let err = plan(&l, &b, &r, &opts(Direction::Both)).unwrap_err();
    let PlanError::Unsafe { concerns, .. } = err;
    assert_eq!(
        concerns,
        vec![SafetyConcern::RemotePhotosMissing {
            missing: 40,
            base: 100
        }]
    );
    assert!(err_text(&l, &b, &r).contains("shrank suspiciously"));
}

fn err_text(l: &LocalSnapshot, b: &BaseSnapshot, r: &RemoteSnapshot) -> String {
    plan(l, b, r, &opts(Direction::Both))
        .unwrap_err()
        .to_string()
}

#[test]
fn lost_catalog_is_refused_rather_than_ignoring_everything() {
    let (mut l, b, r) = synced(100, 0, &[]);
    l.photos.clear();
    let PlanError::Unsafe { concerns, .. } = plan(&l, &b, &r, &opts(Direction::Both)).unwrap_err();
    assert_eq!(
        concerns,
        vec![SafetyConcern::LocalPhotosMissing {
            missing: 100,
            base: 100
        }]
    );
}

#[test]
fn estimate_counts_calls_and_time() {
    let (mut l, b, r) = synced(3, 1, &[]);
    let lp = l.photos.get_mut(&LocalKey(1)).unwrap();
    lp.meta.title = "t".into();
    lp.meta.privacy = Privacy::Public;
    lp.meta.tags.insert("x".into());
    l.photos
        .get_mut(&LocalKey(2))
        .unwrap()
        .sets
        .insert(LocalSetKey(1));
    let p = run(&l, &b, &r, Direction::Both);
    assert_eq!(p.summary.edits, 1);
    assert_eq!(p.summary.set_reassignments, 1);
    // setMeta, getInfo + setTags (the tags' wording), setPerms, addPhoto
    assert_eq!(p.summary.api_calls, 5);
    assert_eq!(p.estimated_duration(3600), Duration::from_secs(5));
    assert!(p.to_string().contains("5 API calls"));
}

// ---------------------------------------------------------------- a model of both sides

/// Both sides as plain snapshots, and the base; applies plans as the
/// executor would, minting ids for new photos and sets.
#[derive(Clone, Debug)]
struct World {
    local: LocalSnapshot,
    remote: RemoteSnapshot,
    base: BaseSnapshot,
    next: i64,
}

impl World {
    fn from_synced(n: i64, m: i64, members: &[(i64, i64)]) -> World {
        let (local, base, mut remote) = synced(n, m, members);
        remote.groups.insert(GroupId::new("g2"), "Group two".into());
        World {
            local,
            remote,
            base,
            next: 10_000,
        }
    }

    fn mint(&mut self) -> i64 {
        self.next += 1;
        self.next
    }

    fn apply(&mut self, plan: &Plan) {
        for a in &plan.actions {
            let mut minted = Minted::default();
            match a {
                Action::Upload { photo, .. } => {
                    let lp = &self.local.photos[photo];
                    assert!(lp.remote.is_none() && lp.file == FileState::Present, "{a}");
                    minted.photo = Some(PhotoId::new(self.mint().to_string()));
                }
                Action::CreateRemoteSet { set, .. } => {
                    assert!(self.local.sets[set].remote.is_none(), "{a}");
                    minted.set = Some(SetId::new(format!("72157{}", self.mint())));
                }
                Action::CreateLocalSet { .. } => minted.local_set = Some(LocalSetKey(self.mint())),
                Action::Download { into: None, .. } => {
                    minted.local_photo = Some(LocalKey(self.mint()))
                }
                Action::ForgetLocal { remote, .. } => {
                    assert!(!self.remote.photos.contains_key(remote), "{a}")
                }
                Action::Edit {
                    side: Side::Remote,
                    edit,
                    ..
                } => {
                    assert_eq!(edit.title.is_some(), edit.description.is_some(), "{a}")
                }
                Action::AddToPool {
                    side: Side::Remote,
                    group,
                    ..
                } => {
                    assert!(self.remote.groups.contains_key(group), "{a}")
                }
                _ => {}
            }
            let before = (self.local.clone(), self.remote.clone());
            apply_action(&mut self.local, &mut self.remote, a, &minted)
                .unwrap_or_else(|e| panic!("{e}"));
            // Every action changes something: a no-op is a planner bug.
            if !matches!(a, Action::Download { .. }) {
                assert!(
                    before != (self.local.clone(), self.remote.clone()),
                    "no-op: {a}"
                );
            }
        }
        self.base = next_base(&self.base, &self.local, &self.remote);
    }

    /// Panics unless both sides hold the same collection.
    fn assert_converged(&self) {
        for (id, rp) in &self.remote.photos {
            if self.local.ignored.contains(id) || rp.media == Media::Video {
                continue;
            }
            let lp = self
                .local
                .photos
                .values()
                .find(|lp| lp.remote.as_ref() == Some(id))
                .unwrap_or_else(|| panic!("photo {id} has no local record"));
            assert_eq!(lp.meta, rp.meta, "photo {id}");
            let lsets: BTreeSet<SetId> = lp
                .sets
                .iter()
                .map(|k| self.local.sets[k].remote.clone().expect("linked folder"))
                .collect();
            assert_eq!(lsets, rp.sets, "sets of photo {id}");
            let member_pools: BTreeSet<GroupId> = lp
                .pools
                .iter()
                .filter(|g| self.remote.groups.contains_key(*g))
                .cloned()
                .collect();
            assert_eq!(member_pools, rp.pools, "pools of photo {id}");
        }
        for lp in self.local.photos.values() {
            if let Some(id) = &lp.remote {
                assert!(
                    self.remote.photos.contains_key(id),
                    "{} linked to a vanished photo",
                    lp.key
                );
            }
        }
        for ls in self.local.sets.values() {
            if let Some(id) = &ls.remote {
                assert_eq!(self.remote.sets[id].title, ls.title);
            }
        }
    }
}

// ---------------------------------------------------------------- random histories

#[derive(Clone, Debug)]
enum Edit {
    Title(u8, u8),
    Description(u8, u8),
    AddTag(u8, u8),
    RemoveTag(u8, u8),
    Privacy(u8, u8),
    JoinSet(u8, u8),
    LeaveSet(u8, u8),
    JoinPool(u8, u8),
    LeavePool(u8, u8),
    NewPhoto {
        title: u8,
        sum: u8,
        set: Option<u8>,
        kind: u8,
    },
    DeletePhoto(u8),
    NewSet {
        title: u8,
        with: u8,
    },
    DeleteSet(u8),
    RenameSet(u8, u8),
    LoseFile(u8),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    let i = || any::<u8>();
    prop_oneof![
        (i(), i()).prop_map(|(a, b)| Edit::Title(a, b)),
        (i(), i()).prop_map(|(a, b)| Edit::Description(a, b)),
        (i(), i()).prop_map(|(a, b)| Edit::AddTag(a, b)),
        (i(), i()).prop_map(|(a, b)| Edit::RemoveTag(a, b)),
        (i(), i()).prop_map(|(a, b)| Edit::Privacy(a, b)),
        (i(), i()).prop_map(|(a, b)| Edit::JoinSet(a, b)),
        (i(), i()).prop_map(|(a, b)| Edit::LeaveSet(a, b)),
        (i(), i()).prop_map(|(a, b)| Edit::JoinPool(a, b)),
        (i(), i()).prop_map(|(a, b)| Edit::LeavePool(a, b)),
        (i(), i(), proptest::option::of(i()), i()).prop_map(|(title, sum, set, kind)| {
            Edit::NewPhoto {
                title,
                sum,
                set,
                kind,
            }
        }),
        i().prop_map(Edit::DeletePhoto),
        (i(), i()).prop_map(|(title, with)| Edit::NewSet { title, with }),
        i().prop_map(Edit::DeleteSet),
        (i(), i()).prop_map(|(a, b)| Edit::RenameSet(a, b)),
        i().prop_map(Edit::LoseFile),
    ]
}

const TITLES: [&str; 3] = ["a", "b", "c"];
const TAGS: [&str; 3] = ["x", "y", "z"];
const GROUPS: [&str; 3] = ["g1", "g2", "g3"];

fn nth<T: Clone>(items: impl Iterator<Item = T>, i: u8) -> Option<T> {
    let v: Vec<T> = items.collect();
    (!v.is_empty()).then(|| v[usize::from(i) % v.len()].clone())
}

impl World {
    fn local_meta(&mut self, i: u8) -> Option<&mut PhotoMeta> {
        let k = nth(self.local.photos.keys().copied(), i)?;
        self.local.photos.get_mut(&k).map(|p| &mut p.meta)
    }

    fn remote_meta(&mut self, i: u8) -> Option<&mut PhotoMeta> {
        let id = nth(self.remote.photos.keys().cloned(), i)?;
        self.remote.photos.get_mut(&id).map(|p| &mut p.meta)
    }

    fn edit_local(&mut self, e: &Edit) {
        let photo = |w: &World, i: u8| nth(w.local.photos.keys().copied(), i);
        let set = |w: &World, i: u8| nth(w.local.sets.keys().copied(), i);
        match *e {
            Edit::Title(p, v) => {
                if let Some(m) = self.local_meta(p) {
                    m.title = TITLES[usize::from(v) % 3].into();
                }
            }
            Edit::Description(p, v) => {
                if let Some(m) = self.local_meta(p) {
                    m.description = TITLES[usize::from(v) % 3].into();
                }
            }
            Edit::AddTag(p, v) => {
                if let Some(m) = self.local_meta(p) {
                    m.tags.insert(TAGS[usize::from(v) % 3].into());
                }
            }
            Edit::RemoveTag(p, v) => {
                if let Some(m) = self.local_meta(p) {
                    m.tags.remove(TAGS[usize::from(v) % 3]);
                }
            }
            Edit::Privacy(p, v) => {
                if let Some(m) = self.local_meta(p) {
                    m.privacy = Privacy::ALL[usize::from(v) % 5];
                }
            }
            Edit::JoinSet(p, s) | Edit::LeaveSet(p, s) => {
                let (Some(k), Some(s)) = (photo(self, p), set(self, s)) else {
                    return;
                };
                let sets = &mut self.local.photos.get_mut(&k).expect("photo").sets;
                if matches!(e, Edit::JoinSet(..)) {
                    sets.insert(s);
                } else {
                    sets.remove(&s);
                }
            }
            Edit::JoinPool(p, g) | Edit::LeavePool(p, g) => {
                let Some(k) = photo(self, p) else { return };
                let g = GroupId::new(GROUPS[usize::from(g) % 3]);
                let pools = &mut self.local.photos.get_mut(&k).expect("photo").pools;
                if matches!(e, Edit::JoinPool(..)) {
                    pools.insert(g);
                } else {
                    pools.remove(&g);
                }
            }
            Edit::NewPhoto {
                title,
                sum: c,
                set: s,
                kind,
            } => {
                let key = LocalKey(self.mint());
                let sets = s.and_then(|s| set(self, s)).into_iter().collect();
                let media = match kind % 8 {
                    0 => Media::NotMedia,
                    1 => Media::Video,
                    _ => Media::Photo,
                };
                self.local.photos.insert(
                    key,
                    LocalPhoto {
                        key,
                        remote: None,
                        meta: meta_of(title),
                        sets,
                        pools: BTreeSet::new(),
                        checksum: Some(sum(u32::from(c % 16) + 1)),
                        file: FileState::Present,
                        media,
                        taken: None,
                    },
                );
            }
            Edit::DeletePhoto(p) => {
                if let Some(k) = photo(self, p) {
                    self.local.photos.remove(&k);
                }
            }
            Edit::NewSet { title, with } => {
                let k = LocalSetKey(self.mint());
                self.local.sets.insert(
                    k,
                    LocalSet {
                        key: k,
                        remote: None,
                        title: format!("set-{}", TITLES[usize::from(title) % 3]),
                        description: String::new(),
                    },
                );
                if let Some(p) = photo(self, with) {
                    self.local.photos.get_mut(&p).expect("photo").sets.insert(k);
                }
            }
            Edit::DeleteSet(s) => {
                // rmdir: the user empties the folder first.
                if let Some(s) = set(self, s) {
                    self.local.sets.remove(&s);
                    for lp in self.local.photos.values_mut() {
                        lp.sets.remove(&s);
                    }
                }
            }
            Edit::RenameSet(s, t) => {
                if let Some(s) = set(self, s) {
                    self.local.sets.get_mut(&s).expect("set").title =
                        format!("set-{}", TITLES[usize::from(t) % 3]);
                }
            }
            Edit::LoseFile(p) => {
                if let Some(k) = photo(self, p) {
                    let lp = self.local.photos.get_mut(&k).expect("photo");
                    lp.file = if lp.remote.is_some() {
                        FileState::Absent
                    } else {
                        FileState::Missing
                    };
                }
            }
        }
    }

    fn edit_remote(&mut self, e: &Edit) {
        let photo = |w: &World, i: u8| nth(w.remote.photos.keys().cloned(), i);
        let set = |w: &World, i: u8| nth(w.remote.sets.keys().cloned(), i);
        match *e {
            Edit::Title(p, v) => {
                if let Some(m) = self.remote_meta(p) {
                    m.title = TITLES[usize::from(v) % 3].into();
                }
            }
            Edit::Description(p, v) => {
                if let Some(m) = self.remote_meta(p) {
                    m.description = TITLES[usize::from(v) % 3].into();
                }
            }
            Edit::AddTag(p, v) => {
                if let Some(m) = self.remote_meta(p) {
                    m.tags.insert(TAGS[usize::from(v) % 3].into());
                }
            }
            Edit::RemoveTag(p, v) => {
                if let Some(m) = self.remote_meta(p) {
                    m.tags.remove(TAGS[usize::from(v) % 3]);
                }
            }
            Edit::Privacy(p, v) => {
                if let Some(m) = self.remote_meta(p) {
                    m.privacy = Privacy::ALL[usize::from(v) % 5];
                }
            }
            Edit::JoinSet(p, s) | Edit::LeaveSet(p, s) => {
                let (Some(id), Some(s)) = (photo(self, p), set(self, s)) else {
                    return;
                };
                let sets = &mut self.remote.photos.get_mut(&id).expect("photo").sets;
                if matches!(e, Edit::JoinSet(..)) {
                    sets.insert(s);
                } else {
                    sets.remove(&s);
                }
            }
            Edit::JoinPool(p, g) | Edit::LeavePool(p, g) => {
                let Some(id) = photo(self, p) else { return };
                // Flickr only lets a member add to a pool.
                let g = GroupId::new(GROUPS[usize::from(g) % 2]);
                let pools = &mut self.remote.photos.get_mut(&id).expect("photo").pools;
                if matches!(e, Edit::JoinPool(..)) {
                    pools.insert(g);
                } else {
                    pools.remove(&g);
                }
            }
            Edit::NewPhoto {
                title,
                sum: c,
                set: s,
                kind,
            } => {
                let id = PhotoId::new(self.mint().to_string());
                let sets = s.and_then(|s| set(self, s)).into_iter().collect();
                self.remote.photos.insert(
                    id.clone(),
                    RemotePhoto {
                        id,
                        meta: meta_of(title),
                        sets,
                        pools: BTreeSet::new(),
                        // Some photos carry a flickrfs checksum (uploaded by another machine).
                        checksum: (kind % 2 == 0).then(|| sum(u32::from(c % 16) + 1)),
                        media: if kind % 8 == 1 {
                            Media::Video
                        } else {
                            Media::Photo
                        },
                        taken: None,
                    },
                );
            }
            Edit::DeletePhoto(p) => {
                if let Some(id) = photo(self, p) {
                    self.remote.photos.remove(&id);
                }
            }
            Edit::NewSet { title, with } => {
                let Some(p) = photo(self, with) else { return };
                let id = SetId::new(format!("72157{}", self.mint()));
                self.remote.sets.insert(
                    id.clone(),
                    RemoteSet {
                        id: id.clone(),
                        title: format!("set-{}", TITLES[usize::from(title) % 3]),
                        description: String::new(),
                    },
                );
                self.remote
                    .photos
                    .get_mut(&p)
                    .expect("photo")
                    .sets
                    .insert(id);
            }
            Edit::DeleteSet(s) => {
                if let Some(s) = set(self, s) {
                    self.remote.sets.remove(&s);
                    for rp in self.remote.photos.values_mut() {
                        rp.sets.remove(&s);
                    }
                }
            }
            Edit::RenameSet(s, t) => {
                if let Some(s) = set(self, s) {
                    self.remote.sets.get_mut(&s).expect("set").title =
                        format!("set-{}", TITLES[usize::from(t) % 3]);
                }
            }
            Edit::LoseFile(_) => {}
        }
    }
}

fn meta_of(title: u8) -> PhotoMeta {
    meta(TITLES[usize::from(title) % 3])
}

fn forced(direction: Direction) -> PlanOptions {
    PlanOptions {
        direction,
        force: true,
        ..PlanOptions::default()
    }
}

fn sync(w: &mut World, d: Direction) -> Plan {
    let p = plan(&w.local, &w.base, &w.remote, &forced(d)).expect("forced plans never fail");
    let before: BTreeSet<PhotoId> = w.remote.photos.keys().cloned().collect();
    w.apply(&p);
    let after: BTreeSet<PhotoId> = w.remote.photos.keys().cloned().collect();
    assert!(
        before.is_subset(&after),
        "a sync deleted a photo from Flickr"
    );
    p
}

fn world_strategy() -> impl Strategy<Value = (i64, i64, Vec<(i64, i64)>)> {
    (0i64..7, 0i64..4).prop_flat_map(|(n, m)| {
        let pairs = if n > 0 && m > 0 {
            proptest::collection::vec((1..=n, 1..=m), 0..8).boxed()
        } else {
            Just(Vec::new()).boxed()
        };
        (Just(n), Just(m), pairs)
    })
}

fn direction_strategy() -> impl Strategy<Value = Direction> {
    prop_oneof![
        Just(Direction::Both),
        Just(Direction::Up),
        Just(Direction::Down)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Random histories on both sides from a common base: a two-way sync
    /// makes both sides equal, and a second plan is empty.
    #[test]
    fn two_way_sync_converges(
        (n, m, members) in world_strategy(),
        local_edits in proptest::collection::vec(edit_strategy(), 0..12),
        remote_edits in proptest::collection::vec(edit_strategy(), 0..12),
    ) {
        let mut w = World::from_synced(n, m, &members);
        for e in &local_edits { w.edit_local(e); }
        for e in &remote_edits { w.edit_remote(e); }
        sync(&mut w, Direction::Both);
        w.assert_converged();
        let again = plan(&w.local, &w.base, &w.remote, &forced(Direction::Both)).unwrap();
        prop_assert!(again.is_empty(), "second plan not empty:\n{}", again);
        prop_assert!(again.conflicts.is_empty(), "conflicts left:\n{}", again);
    }

    /// A one-way sync leaves nothing to do in that direction, keeps the other
    /// direction's changes pending (the base remembers them), and a later
    /// two-way sync still converges.
    #[test]
    fn one_way_then_two_way_converges(
        (n, m, members) in world_strategy(),
        first in direction_strategy(),
        local_edits in proptest::collection::vec(edit_strategy(), 0..12),
        remote_edits in proptest::collection::vec(edit_strategy(), 0..12),
        later_local in proptest::collection::vec(edit_strategy(), 0..4),
        later_remote in proptest::collection::vec(edit_strategy(), 0..4),
    ) {
        let mut w = World::from_synced(n, m, &members);
        for e in &local_edits { w.edit_local(e); }
        for e in &remote_edits { w.edit_remote(e); }
        sync(&mut w, first);
        let again = plan(&w.local, &w.base, &w.remote, &forced(first)).unwrap();
        prop_assert!(again.is_empty(), "second {} plan not empty:\n{}", first, again);
        for e in &later_local { w.edit_local(e); }
        for e in &later_remote { w.edit_remote(e); }
        sync(&mut w, Direction::Both);
        w.assert_converged();
        let last = plan(&w.local, &w.base, &w.remote, &forced(Direction::Both)).unwrap();
        prop_assert!(last.is_empty(), "plan after convergence not empty:\n{}", last);
    }

    /// Only the user's own removals propagate: a photo present on one side
    /// at the base and untouched stays on that side after any sync.
    #[test]
    fn untouched_photos_survive_any_sync(
        (n, m, members) in world_strategy(),
        d in direction_strategy(),
        remote_edits in proptest::collection::vec(edit_strategy(), 0..12),
    ) {
        let mut w = World::from_synced(n, m, &members);
        for e in &remote_edits { w.edit_remote(e); }
        let before: BTreeSet<PhotoId> = w.remote.photos.keys().cloned().collect();
        let p = sync(&mut w, d);
        for a in &p.actions {
            if let Action::ForgetLocal { remote, .. } = a {
                prop_assert!(!before.contains(remote));
            }
            prop_assert!(!matches!(a, Action::Ignore { .. }), "nothing was removed locally: {}", a);
        }
    }
}

#[test]
fn a_move_from_one_set_to_another_is_one_reassignment() {
    // p1 moves s1 → s2, p2 joins s2 and s3 and leaves s1, p3 leaves s1.
    let (mut l, b, r) = synced(3, 3, &[(1, 1), (2, 1), (3, 1)]);
    let sets = |l: &mut LocalSnapshot, p: i64, s: &[i64]| {
        l.photos.get_mut(&LocalKey(p)).unwrap().sets = s.iter().map(|s| LocalSetKey(*s)).collect();
    };
    sets(&mut l, 1, &[2]);
    sets(&mut l, 2, &[2, 3]);
    sets(&mut l, 3, &[]);
    let p = run(&l, &b, &r, Direction::Both);
    let adds = p
        .actions
        .iter()
        .filter(|a| matches!(a, Action::AddToSet { .. }))
        .count();
    let removals = p
        .actions
        .iter()
        .filter(|a| matches!(a, Action::RemoveFromSet { .. }))
        .count();
    assert_eq!((adds, removals), (3, 3), "{p}");
    assert_eq!(p.summary.set_reassignments, 1 + 2 + 1, "{p}");
    assert!(p.summary.to_string().contains("4 set reassignments"), "{p}");
}

#[test]
fn a_free_accounts_summary_says_so_with_its_count_and_the_originals_it_is_not_served() {
    assert_eq!(thousands(0), "0");
    assert_eq!(thousands(999), "999");
    assert_eq!(thousands(1000), "1,000");
    assert_eq!(thousands(1_234_567), "1,234,567");
    let s = PlanSummary {
        free_account_photos: Some(998),
        originals_not_served: 2,
        max_display_px: Some(1024),
        ..PlanSummary::default()
    };
    let text = s.to_string();
    assert!(
        text.starts_with("0 uploads, 0 downloads,"),
        "the first counts keep their places: {text}"
    );
    assert!(
        text.contains(", free account: 998 of 1,000 photos, 2 originals over 1,024 px Flickr does not serve a free account"),
        "{text}"
    );
    assert!(!PlanSummary::default().to_string().contains("free"));
}

#[test]
fn many_pool_removals_on_flickr_are_refused_until_forced() {
    let (l, mut b, mut r) = synced(60, 0, &[]);
    let g1 = GroupId::new("g1");
    for id in (1..=60).map(pid) {
        b.photos.get_mut(&id).unwrap().pools.insert(g1.clone());
        r.photos.get_mut(&id).unwrap().pools.insert(g1.clone());
    }
    // Every photo left the pool in the mount (`rm Pools/g1/*`).
    let Err(PlanError::Unsafe { concerns, plan: p }) = plan(&l, &b, &r, &opts(Direction::Both))
    else {
        panic!("60 pool removals on Flickr were not refused");
    };
    assert_eq!(
        concerns,
        vec![SafetyConcern::ManyPoolRemovals {
            removals: 60,
            total: 60
        }]
    );
    assert!(concerns[0]
        .to_string()
        .contains("out of group pools on Flickr 60 times"));
    assert_eq!(p.summary.pool_removals_on_flickr, 60);
    let forced = PlanOptions {
        force: true,
        ..opts(Direction::Both)
    };
    let p = plan(&l, &b, &r, &forced).expect("forced");
    assert_eq!(p.summary.pool_removals_on_flickr, 60);
    // A few are not a concern.
    let (l, mut b, mut r) = synced(60, 0, &[]);
    for id in (1..=5).map(pid) {
        b.photos.get_mut(&id).unwrap().pools.insert(g1.clone());
        r.photos.get_mut(&id).unwrap().pools.insert(g1.clone());
    }
    assert_eq!(
        run(&l, &b, &r, Direction::Both)
            .summary
            .pool_removals_on_flickr,
        5
    );
}

// ---------------------------------------------------------------- incremental planning

/// An edit of photos only (sets stay as they are: a change of the sets
/// makes a sync plan the whole account, see `restrict::fingerprint`).
fn photo_edit_strategy() -> impl Strategy<Value = Edit> {
    edit_strategy().prop_filter("photo edits only", |e| {
        !matches!(
            e,
            Edit::NewSet { .. } | Edit::DeleteSet(_) | Edit::RenameSet(..)
        )
    })
}

/// One step of a history: edits on both sides, then maybe the plan is run.
type Round = (Vec<Edit>, Vec<Edit>, bool);

fn round_strategy(edits: fn() -> BoxedStrategy<Edit>) -> impl Strategy<Value = Round> {
    (
        proptest::collection::vec(edits(), 0..5),
        proptest::collection::vec(edits(), 0..5),
        any::<bool>(),
    )
}

/// Runs a history the way syncs do, checking at every step that the plan
/// of the dirty photos (closed as `restrict` closes them) is the plan of
/// the whole account. Returns how many steps were planned incrementally.
fn check_incremental_history(
    (n, m, members): (i64, i64, Vec<(i64, i64)>),
    d: Direction,
    force: bool,
    tight: bool,
    rounds: &[Round],
) -> Result<usize, TestCaseError> {
    use crate::sync::restrict::{self, Item};
    // Tight limits make the safety thresholds trip in small worlds, so
    // that their totals are exercised.
    let tight_at = |count| Threshold {
        count,
        fraction: 0.2,
    };
    let limits = if tight {
        SafetyLimits {
            membership_removals: tight_at(1),
            remote_photos_missing: tight_at(0),
            remote_sets_missing: tight_at(0),
            local_photos_missing: tight_at(0),
        }
    } else {
        SafetyLimits::default()
    };
    let o = PlanOptions {
        force,
        limits,
        ..opts(d)
    };
    let mut w = World::from_synced(n, m, &members);
    let print = |w: &World| restrict::fingerprint(&w.local, &w.base, &w.remote, &o, "");
    // A first sync: every photo is new to the dirty set.
    let mut dirty: BTreeSet<Item> = restrict::changed_items(
        (
            &LocalSnapshot::default(),
            &BaseSnapshot::default(),
            &RemoteSnapshot::default(),
        ),
        (&w.local, &w.base, &w.remote),
    );
    let mut clean_print: Option<String> = None;
    let mut incremental = 0;
    for (local_edits, remote_edits, run) in rounds {
        let before = (w.local.clone(), w.base.clone(), w.remote.clone());
        for e in local_edits {
            w.edit_local(e);
        }
        for e in remote_edits {
            w.edit_remote(e);
        }
        dirty.extend(restrict::changed_items(
            (&before.0, &before.1, &before.2),
            (&w.local, &w.base, &w.remote),
        ));
        let whole = plan(&w.local, &w.base, &w.remote, &o);
        let now = print(&w);
        let mut part = None;
        if clean_print.as_ref() == Some(&now) {
            if let Some((inc, p)) =
                restrict::plan_incrementally(&w.local, &w.base, &w.remote, &dirty, &o)
            {
                // The invariant: a photo the dirty set does not reach plans
                // to nothing and has its base written.
                if let Ok(whole) = &whole {
                    let need = restrict::keep_dirty(whole, &w.local, &w.base, &w.remote);
                    let reached = restrict::items_of(&p.0, &p.1, &p.2);
                    let missing: Vec<&Item> = need.difference(&reached).collect();
                    prop_assert!(missing.is_empty(), "clean but not settled: {:?}", missing);
                    // (Said without `keep_dirty`: a sync would write no
                    // base for a photo out of reach.)
                    let next = next_base(&w.base, &w.local, &w.remote);
                    for id in w.base.photos.keys().chain(next.photos.keys()) {
                        if !reached.contains(&Item::Remote(id.clone())) {
                            prop_assert_eq!(
                                w.base
                                    .photos
                                    .get(id)
                                    .filter(|_| !w.local.ignored.contains(id)),
                                next.photos.get(id),
                                "base of {} out of reach",
                                id
                            );
                        }
                    }
                }
                incremental += 1;
                prop_assert_eq!(
                    format!("{inc:?}"),
                    format!("{whole:?}"),
                    "dirty: {:?}",
                    dirty
                );
                part = Some(p);
            }
        }
        let Ok(p) = whole else { continue };
        // What stays dirty is what the sync's own part says (the whole
        // account when it planned all of it).
        dirty = match &part {
            Some((l, b, r)) => restrict::keep_dirty(&p, l, b, r),
            None => restrict::keep_dirty(&p, &w.local, &w.base, &w.remote),
        };
        clean_print = Some(now);
        if *run {
            let before = (w.local.clone(), w.base.clone(), w.remote.clone());
            w.apply(&p);
            if let Some((l, _, r)) = &part {
                // The executor writes the bases of the photos it loaded
                // only.
                let loaded: BTreeSet<&PhotoId> = l
                    .photos
                    .values()
                    .filter_map(|p| p.remote.as_ref())
                    .chain(r.photos.keys())
                    .collect();
                let ids: BTreeSet<PhotoId> = before
                    .1
                    .photos
                    .keys()
                    .chain(w.base.photos.keys())
                    .cloned()
                    .collect();
                for id in ids.iter().filter(|id| !loaded.contains(id)) {
                    match before.1.photos.get(id) {
                        Some(b) => w.base.photos.insert(id.clone(), b.clone()),
                        None => w.base.photos.remove(id),
                    };
                }
            }
            let mut changed = restrict::changed_items(
                (&before.0, &before.1, &before.2),
                (&w.local, &w.base, &w.remote),
            );
            // And it settles those that planned nothing and whose base it
            // wrote (their record and Flickr photo untouched).
            let outcome = restrict::outcome_items(&p);
            for lp in before.0.photos.values() {
                let Some(id) = &lp.remote else { continue };
                let (k, i) = (Item::Local(lp.key), Item::Remote(id.clone()));
                let untouched = w.local.photos.get(&lp.key) == Some(lp)
                    && before.2.photos.get(id) == w.remote.photos.get(id)
                    && before.1.photos.get(id) != w.base.photos.get(id);
                if untouched && !outcome.contains(&k) && !outcome.contains(&i) {
                    dirty.remove(&k);
                    dirty.remove(&i);
                    changed.remove(&k);
                    changed.remove(&i);
                }
            }
            dirty.extend(changed);
        }
    }
    Ok(incremental)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// On random histories of photo changes on both sides (run or not),
    /// the plan of the dirty photos equals the plan of the whole account.
    #[test]
    fn incremental_plan_equals_full_plan(
        world in world_strategy(),
        d in direction_strategy(),
        force in any::<bool>(),
        tight in any::<bool>(),
        rounds in proptest::collection::vec(round_strategy(|| photo_edit_strategy().boxed()), 1..6),
    ) {
        check_incremental_history(world, d, force, tight, &rounds)?;
    }

    /// The same with the sets changing too (a sync then plans the whole
    /// account, and the photos it leaves clean stay clean after).
    #[test]
    fn incremental_plan_equals_full_plan_with_set_changes(
        world in world_strategy(),
        d in direction_strategy(),
        force in any::<bool>(),
        tight in any::<bool>(),
        rounds in proptest::collection::vec(round_strategy(|| edit_strategy().boxed()), 1..6),
    ) {
        check_incremental_history(world, d, force, tight, &rounds)?;
    }
}

/// The property is not vacuous: most histories are planned incrementally.
#[test]
fn most_histories_plan_incrementally() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = (
        world_strategy(),
        direction_strategy(),
        proptest::collection::vec(round_strategy(|| photo_edit_strategy().boxed()), 2..6),
    );
    let (mut steps, mut rounds_total) = (0, 0);
    for _ in 0..100 {
        let (world, d, rounds) = strategy.new_tree(&mut runner).expect("a value").current();
        rounds_total += rounds.len() - 1;
        steps += check_incremental_history(world, d, true, false, &rounds).expect("equal plans");
    }
    assert!(
        steps * 2 > rounds_total,
        "{steps} of {rounds_total} later steps planned incrementally"
    );
}
