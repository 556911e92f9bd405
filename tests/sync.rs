//! End-to-end sync against the emulator over real HTTP, with a real SQLite
//! catalog and real files in a temporary folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use flickrfs::catalog::{CollectionId, EntryName};
use flickrfs::emulator::{EmulatorConfig, FaultConfig, NewEmuPhoto};
use flickrfs::model::{Direction, PhotoId, Resize};
use flickrfs::sync::{run_sync, NoProgress, PlanOptions, SkipReason, SyncOptions, SyncReport};

fn jpeg(rgb: [u8; 3]) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(32, 24, image::Rgb(rgb));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

fn sha1_hex(path: &Path) -> String {
    flickrfs::media::sha1_file(path).expect("sha1").to_string()
}

#[path = "common/sync_world.rs"]
mod sync_world;
use sync_world::*;

fn opts() -> SyncOptions {
    SyncOptions {
        plan: PlanOptions {
            direction: Direction::Both,
            ..PlanOptions::default()
        },
        ..SyncOptions::default()
    }
}

fn try_sync_with(w: &World, opts: &SyncOptions) -> Result<SyncReport, flickrfs::sync::SyncError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run_sync(
        &w.cat,
        &w.client,
        w.account,
        opts,
        &mut NoProgress,
    ))
}

fn sync_with(w: &World, opts: &SyncOptions) -> SyncReport {
    let report = try_sync_with(w, opts).expect("sync");
    if let Some(exec) = &report.executed {
        assert!(
            exec.failed.is_empty(),
            "failures: {:?}\nplan:\n{}",
            exec.failed,
            report.plan
        );
    }
    no_deletes(w);
    report
}

fn sync(w: &World) -> SyncReport {
    sync_with(w, &opts())
}

/// No code path may delete a photo on Flickr.
fn no_deletes(w: &World) {
    assert!(
        !w.emu
            .request_log()
            .iter()
            .any(|c| c.method == "flickr.photos.delete"),
        "flickr.photos.delete was called"
    );
}

fn name(s: &str) -> EntryName {
    EntryName::new(s).expect("entry name")
}

fn add_local(w: &World, collection: CollectionId, file: &str, bytes: &[u8]) -> PathBuf {
    let path = w.folder.join(file);
    std::fs::write(&path, bytes).expect("write");
    w.cat
        .add_file(collection, &name(file), &path, None)
        .expect("add file");
    path
}

fn set_collection(w: &World, title: &str) -> CollectionId {
    w.cat
        .sets(w.account)
        .expect("sets")
        .into_iter()
        .find(|c| c.title == title)
        .unwrap_or_else(|| panic!("no folder {title}"))
        .id
}

/// Set title → sorted member titles, on the emulator.
fn emu_sets(w: &World) -> BTreeMap<String, BTreeSet<String>> {
    let titles: BTreeMap<String, String> = w
        .emu
        .photos(&w.nsid)
        .into_iter()
        .map(|p| (p.id, p.title))
        .collect();
    w.emu
        .photosets(&w.nsid)
        .into_iter()
        .map(|s| {
            (
                s.title,
                s.photos
                    .iter()
                    .map(|id| titles.get(id).cloned().unwrap_or_default())
                    .collect(),
            )
        })
        .collect()
}

fn total_calls(w: &World) -> u64 {
    w.emu.call_counts().values().sum()
}

#[test]
fn two_way_sync_uploads_downloads_and_then_has_nothing_to_do() {
    let w = world(false);
    let remote_id = w
        .emu
        .add_photo(
            &w.nsid,
            NewEmuPhoto {
                title: "Red square".into(),
                bytes: jpeg([200, 10, 10]),
                ..Default::default()
            },
        )
        .expect("add photo");
    let local_path = add_local(&w, w.root, "Blue square.jpg", &jpeg([10, 10, 200]));

    let report = sync(&w);
    assert_eq!(report.plan.summary.uploads, 1, "{}", report.plan);
    assert_eq!(report.plan.summary.downloads, 1, "{}", report.plan);

    let online = w.emu.photos(&w.nsid);
    assert_eq!(online.len(), 2);
    let blue = online
        .iter()
        .find(|p| p.title == "Blue square")
        .expect("uploaded");
    assert_eq!(blue.sha1, sha1_hex(&local_path));
    assert!(
        blue.machine_tags
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&format!("flickrfs:sha1={}", blue.sha1))),
        "{:?}",
        blue.machine_tags
    );
    let red = w
        .cat
        .photo_by_remote_id(w.account, &PhotoId::new(remote_id.clone()))
        .expect("query")
        .expect("record");
    let file = red.local.expect("downloaded file");
    assert!(file.path.starts_with(&w.folder), "{}", file.path.display());
    let emu_red = online.iter().find(|p| p.id == remote_id).expect("red");
    assert_eq!(sha1_hex(&file.path), emu_red.sha1);

    let again = sync(&w);
    assert!(again.plan.is_empty(), "second plan:\n{}", again.plan);
    assert_eq!(w.emu.photos(&w.nsid).len(), 2);
}

/// A free account with 998 photos: of three new local photos, two go up
/// and the third is held and listed, never sent to fail; a Pro account
/// with as many photos is never asked which kind it is, and never held.
#[test]
fn a_free_accounts_uploads_past_1000_photos_are_held_and_listed() {
    let w = world_with(false, |c| EmulatorConfig {
        seed_photos: 998,
        seed_user: "alice".into(),
        free_accounts: vec!["alice".into()],
        ..c
    });
    for (i, rgb) in [[200, 10, 10], [10, 200, 10], [10, 10, 200]]
        .iter()
        .enumerate()
    {
        add_local(&w, w.root, &format!("new{i}.jpg"), &jpeg(*rgb));
    }
    let up = SyncOptions {
        plan: PlanOptions {
            direction: Direction::Up,
            ..PlanOptions::default()
        },
        ..SyncOptions::default()
    };
    let report = sync_with(&w, &up);
    assert_eq!(report.plan.summary.uploads, 2, "{}", report.plan);
    let held: Vec<_> = report
        .plan
        .skipped
        .iter()
        .filter(|s| s.reason == flickrfs::sync::SkipReason::FreeAccountLimit)
        .collect();
    assert_eq!(held.len(), 1, "{}", report.plan);
    assert!(
        report.plan.to_string().contains("at most 1,000 photos"),
        "{}",
        report.plan
    );
    assert_eq!(w.emu.photos(&w.nsid).len(), 1000);
    let log = w.emu.request_log();
    assert!(log.iter().any(|c| c.method == "flickr.people.getLimits"));
    assert!(
        !log.iter().any(|c| c.code == Some(6)),
        "an upload was sent to fail"
    );
    // The same plan again: still held, nothing sent.
    let again = sync_with(&w, &up);
    assert_eq!(again.plan.summary.uploads, 0, "{}", again.plan);
    assert_eq!(w.emu.photos(&w.nsid).len(), 1000);
}

/// A free account's original over 1,024 px is not served: the plan holds
/// it back and says so before acting (the summary: the account's type and
/// count, the originals Flickr will not serve; the photo listed as skipped;
/// one status problem), never sends it to fail, never stores a reduced
/// copy; a small photo of the same account comes down as usual. The type
/// is remembered: a later sync says it again without asking Flickr.
#[test]
fn a_free_accounts_large_originals_are_reported_at_plan_time_not_stored_reduced() {
    let w = world_with(false, |c| EmulatorConfig {
        free_accounts: vec!["alice".into()],
        ..c
    });
    let big = {
        let img = image::RgbImage::from_pixel(1500, 1000, image::Rgb([90, 120, 30]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg)
            .expect("encode");
        out.into_inner()
    };
    for (title, bytes) in [("Panorama", big), ("Small", jpeg([1, 2, 3]))] {
        w.emu
            .add_photo(
                &w.nsid,
                NewEmuPhoto {
                    title: title.into(),
                    bytes,
                    ..Default::default()
                },
            )
            .expect("photo");
    }
    let report = sync(&w);
    let summary = report.plan.summary.to_string();
    assert!(
        summary.contains("free account: 2 of 1,000 photos")
            && summary.contains("1 originals over 1,024 px Flickr does not serve a free account"),
        "{summary}"
    );
    assert_eq!(report.plan.summary.downloads, 1, "{}", report.plan);
    let held: Vec<String> = report
        .plan
        .skipped
        .iter()
        .filter(|s| matches!(s.reason, SkipReason::OriginalNotServed { max_px: 1024 }))
        .map(|s| format!("{}: {}", s.subject, s.reason))
        .collect();
    assert_eq!(held.len(), 1, "{}", report.plan);
    assert!(held[0].contains("by hand"), "{held:?}");
    // Not sent to fail: the large photo's sizes were never asked for.
    let log = w.emu.request_log();
    assert!(
        !log.iter().any(|c| c.method == "flickr.photos.getSizes"),
        "{log:?}"
    );
    // On disk: the small photo only; nothing of the panorama, reduced or not.
    let files: Vec<String> = walk(&w.folder);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].ends_with("Small.jpg"), "{files:?}");
    let problems = w.cat.problems(Some(w.account)).expect("problems");
    let about_panorama: Vec<String> = problems
        .iter()
        .map(|p| p.to_string())
        .filter(|p| p.contains("Panorama"))
        .collect();
    assert_eq!(about_panorama.len(), 1, "{problems:?}");
    assert!(
        about_panorama[0].contains("1,024 px") && about_panorama[0].contains("by hand"),
        "{about_panorama:?}"
    );
    // Again: still held, still one problem line, and the account's type
    // comes from what the first sync learnt (no people.getInfo).
    w.emu.reset_request_log();
    let again = sync(&w);
    assert!(
        again
            .plan
            .summary
            .to_string()
            .contains("free account: 2 of 1,000 photos"),
        "{}",
        again.plan.summary
    );
    assert_eq!(again.plan.summary.originals_not_served, 1);
    assert!(!w
        .emu
        .request_log()
        .iter()
        .any(|c| c.method == "flickr.people.getInfo"));
    assert_eq!(walk(&w.folder).len(), 1);
    let problems = w.cat.problems(Some(w.account)).expect("problems");
    assert_eq!(
        problems
            .iter()
            .filter(|p| p.to_string().contains("Panorama"))
            .count(),
        1
    );
}

/// A Pro account is asked its type once, and its summary carries no
/// free-account warning.
#[test]
fn a_pro_accounts_type_is_asked_once_and_no_warning_is_shown() {
    let w = world(false);
    w.emu
        .add_photo(
            &w.nsid,
            NewEmuPhoto {
                title: "One".into(),
                bytes: jpeg([4, 5, 6]),
                ..Default::default()
            },
        )
        .expect("photo");
    let first = sync(&w);
    assert!(
        !first.plan.summary.to_string().contains("free account"),
        "{}",
        first.plan.summary
    );
    assert_eq!(calls(&w, "flickr.people.getInfo"), 1);
    let _ = sync(&w);
    assert_eq!(calls(&w, "flickr.people.getInfo"), 1, "remembered");
}

/// Every regular file under `dir`.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out
}

#[test]
fn demo_account_comes_down_into_set_folders_and_a_noop_resync_is_cheap() {
    let w = world(true);
    let first = sync(&w);
    assert!(first.fetch.full, "{}", first.fetch);
    let online = w.emu.photos(&w.nsid);
    let sets = w.emu.photosets(&w.nsid);
    assert_eq!(online.len(), 10);
    for p in &online {
        let rec = w
            .cat
            .photo_by_remote_id(w.account, &PhotoId::new(p.id.clone()))
            .expect("query")
            .expect("record");
        let file = rec
            .local
            .unwrap_or_else(|| panic!("photo {} not downloaded", p.id));
        assert_eq!(sha1_hex(&file.path), p.sha1, "{}", file.path.display());
        let parent = file.path.parent().expect("parent").to_path_buf();
        let in_sets: Vec<PathBuf> = sets
            .iter()
            .filter(|s| s.photos.contains(&p.id))
            .map(|s| w.folder.join(&s.title))
            .collect();
        if in_sets.is_empty() {
            assert_eq!(parent, w.folder);
        } else {
            assert!(
                in_sets.contains(&parent),
                "{} in {in_sets:?}",
                parent.display()
            );
        }
    }
    // The catalog lists the account's sets and pools for the preferences.
    assert_eq!(w.cat.sets(w.account).expect("sets").len(), sets.len());
    assert_eq!(w.cat.pools(w.account).expect("pools").len(), 2);

    w.emu.reset_request_log();
    let again = sync(&w);
    assert!(again.plan.is_empty(), "{}", again.plan);
    assert!(!again.fetch.full, "{}", again.fetch);
    let calls = total_calls(&w);
    assert!(
        calls <= 10,
        "no-op resync cost {calls}: {:?}",
        w.emu.call_counts()
    );
    assert_eq!(w.emu.call_counts().get("photo_file"), None);

    // On demand: a full reconciliation, which finds nothing new.
    let full = sync_with(
        &w,
        &SyncOptions {
            full: true,
            ..opts()
        },
    );
    assert!(full.fetch.full && full.plan.is_empty(), "{}", full.fetch);
    assert!(full.fetch.found.is_empty(), "{}", full.fetch);
}

#[test]
fn local_changes_go_up_and_flickr_changes_come_down() {
    let w = world(true);
    sync(&w);
    let garden = set_collection(&w, "Garden");
    let winter = set_collection(&w, "Winter");
    // A new photo in a set.
    add_local(&w, garden, "Cucumber.jpg", &jpeg([10, 200, 10]));
    // A new set made locally with a new photo.
    let trip = w.cat.mkdir(w.account, &name("Trip")).expect("mkdir");
    add_local(&w, trip.id, "Mountain.jpg", &jpeg([90, 90, 90]));
    // Moves: Tomatoes from Garden to Winter, Snowy street from Winter to the root.
    let tomatoes = w
        .cat
        .list(garden)
        .expect("list")
        .into_iter()
        .find(|e| e.name.as_str().starts_with("Tomatoes"))
        .expect("tomatoes");
    w.cat
        .rename(garden, &tomatoes.name, winter, &tomatoes.name)
        .expect("move");
    let snowy = w
        .cat
        .list(winter)
        .expect("list")
        .into_iter()
        .find(|e| e.name.as_str().starts_with("Snowy"))
        .expect("snowy");
    w.cat
        .rename(winter, &snowy.name, w.root, &snowy.name)
        .expect("move to root");
    // Deleting a synced photo in the account folder: ignored, not deleted online.
    let loose = w
        .cat
        .list(w.root)
        .expect("root")
        .into_iter()
        .find(|e| e.remote_id.is_some() && !e.name.as_str().starts_with("Snowy"))
        .expect("a synced photo in no set");
    let loose_id = loose.remote_id.clone().expect("id");
    w.cat.unlink(w.root, &loose.name).expect("unlink");
    // Renamed on flickr.com.
    let sunset = w
        .emu
        .photos(&w.nsid)
        .into_iter()
        .find(|p| p.title == "Sunset over the bay")
        .expect("sunset");
    w.emu.set_title(&sunset.id, "Golden bay").expect("retitle");

    let report = sync(&w);
    assert_eq!(report.plan.summary.uploads, 2, "{}", report.plan);

    let sets = emu_sets(&w);
    assert!(sets["Garden"].contains("Cucumber"), "{sets:?}");
    assert!(!sets["Garden"].contains("Tomatoes"), "{sets:?}");
    assert!(sets["Winter"].contains("Tomatoes"), "{sets:?}");
    assert!(!sets["Winter"].contains("Snowy street"), "{sets:?}");
    assert_eq!(sets["Trip"], BTreeSet::from(["Mountain".to_string()]));
    assert!(w
        .emu
        .photos(&w.nsid)
        .iter()
        .any(|p| p.id == loose_id.as_str()));
    let ignored = w
        .cat
        .photo_by_remote_id(w.account, &loose_id)
        .expect("query")
        .expect("record");
    assert!(ignored.ignored);
    let golden = w
        .cat
        .photo_by_remote_id(w.account, &PhotoId::new(sunset.id.clone()))
        .expect("query")
        .expect("record");
    assert_eq!(golden.meta.title, "Golden bay");
    assert_eq!(w.emu.photos(&w.nsid).len(), 12);

    let again = sync(&w);
    assert!(again.plan.is_empty(), "{}", again.plan);
}

#[test]
fn identify_by_name_and_by_exif_time_instead_of_downloading() {
    let w = world(false);
    let a = flickrfs::media::testdata::jpeg_with_exif(40, 30, Some("2021:05:06 07:08:09"), 1);
    let b = flickrfs::media::testdata::jpeg_with_exif(40, 30, Some("2022:01:02 03:04:05"), 2);
    let mut ids = Vec::new();
    for (title, bytes) in [("Lake", &a), ("Forest", &b)] {
        ids.push(
            w.emu
                .add_photo(
                    &w.nsid,
                    NewEmuPhoto {
                        title: title.into(),
                        bytes: bytes.clone(),
                        ..Default::default()
                    },
                )
                .expect("add"),
        );
    }
    // The user already has both: one under the same name, one renamed, in a searched folder.
    std::fs::write(w.folder.join("lake.JPG"), &a).expect("write");
    let elsewhere = w.folder.parent().expect("parent").join("Old disk");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    std::fs::write(elsewhere.join("DSC_0001.jpg"), &b).expect("write");
    let report = sync_with(
        &w,
        &SyncOptions {
            search: vec![elsewhere.clone()],
            ..opts()
        },
    );
    assert_eq!(report.identified.len(), 2, "{report:?}");
    assert_eq!(report.plan.summary.downloads, 0, "{}", report.plan);
    assert_eq!(w.emu.call_counts().get("photo_file"), None);
    let lake = w
        .cat
        .photo_by_remote_id(w.account, &PhotoId::new(ids[0].clone()))
        .expect("q")
        .expect("rec");
    assert_eq!(
        lake.local.expect("file").path,
        std::path::absolute(w.folder.join("lake.JPG")).expect("abs")
    );
    let forest = w
        .cat
        .photo_by_remote_id(w.account, &PhotoId::new(ids[1].clone()))
        .expect("q")
        .expect("rec");
    assert_eq!(
        forest.local.expect("file").path,
        std::path::absolute(elsewhere.join("DSC_0001.jpg")).expect("abs")
    );
    // Nothing uploaded: both are the same photos.
    assert_eq!(w.emu.photos(&w.nsid).len(), 2);
}

#[test]
fn resized_upload_keeps_the_exif_date_and_the_original_checksum() {
    let w = world(false);
    let bytes = flickrfs::media::testdata::jpeg_with_exif(400, 300, Some("2019:08:07 06:05:04"), 3);
    let path = add_local(&w, w.root, "Big.jpg", &bytes);
    let report = sync_with(
        &w,
        &SyncOptions {
            defaults: flickrfs::sync::MetaDefaults {
                resize: Resize::LongestEdge(100),
                ..Default::default()
            },
            ..opts()
        },
    );
    assert_eq!(report.plan.summary.uploads, 1);
    let online = w.emu.photos(&w.nsid);
    assert_eq!(online.len(), 1);
    let p = &online[0];
    assert_eq!(p.date_taken, "2019-08-07 06:05:04");
    assert_eq!(p.width.max(p.height), 100);
    assert_eq!(p.title, "Big");
    let original = sha1_hex(&path);
    assert_ne!(p.sha1, original, "the resized copy was uploaded");
    assert!(p
        .machine_tags
        .iter()
        .any(|t| t.eq_ignore_ascii_case(&format!("flickrfs:sha1={original}"))));
    let again = sync(&w);
    assert!(again.plan.is_empty(), "{}", again.plan);
}

/// Photo checksums online and each set's member checksums.
fn emu_state(w: &World) -> (BTreeMap<String, usize>, BTreeMap<String, BTreeSet<String>>) {
    let photos = w.emu.photos(&w.nsid);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let sum_of: BTreeMap<String, String> = photos
        .iter()
        .map(|p| (p.id.clone(), p.sha1.clone()))
        .collect();
    for p in &photos {
        *counts.entry(p.sha1.clone()).or_default() += 1;
    }
    let sets = w
        .emu
        .photosets(&w.nsid)
        .into_iter()
        .map(|s| {
            (
                s.title,
                s.photos
                    .iter()
                    .filter_map(|id| sum_of.get(id).cloned())
                    .collect(),
            )
        })
        .collect();
    (counts, sets)
}

fn fault_world() -> World {
    let w = world(true);
    let holidays = w.cat.mkdir(w.account, &name("New set")).expect("mkdir");
    for i in 0..12u8 {
        let c = if i % 2 == 0 { holidays.id } else { w.root };
        add_local(
            &w,
            c,
            &format!("Local {i}.jpg"),
            &jpeg([i * 20, 255 - i * 20, 7]),
        );
    }
    w
}

#[test]
fn twenty_percent_faults_still_converge_to_the_same_end_state() {
    let clean = fault_world();
    sync(&clean);
    let expected = emu_state(&clean);

    let w = fault_world();
    w.emu.set_faults(FaultConfig {
        error_rate: 0.2,
        reset_rate: 0.05,
        ..Default::default()
    });
    let mut converged = false;
    for _ in 0..15 {
        if let Ok(r) = try_sync_with(&w, &opts()) {
            if r.plan.is_empty() {
                converged = true;
                break;
            }
        }
    }
    w.emu.set_faults(FaultConfig::default());
    let last = sync(&w);
    assert!(converged || last.plan.is_empty(), "{}", last.plan);
    let got = emu_state(&w);
    assert!(
        got.0.values().all(|&n| n == 1),
        "duplicates online: {:?}",
        got.0
    );
    assert_eq!(got, expected);
    no_deletes(&w);
    // Every photo has its file.
    for p in w.cat.photos(w.account).expect("photos") {
        if !p.ignored {
            let f = p.local.expect("file");
            assert!(f.path.is_file(), "{}", f.path.display());
        }
    }
}

#[test]
fn a_value_flickr_refuses_is_reported_once_and_not_sent_again_until_it_changes() {
    let w = world(false);
    add_local(&w, w.root, "Tagged.jpg", &jpeg([1, 2, 3]));
    sync(&w);
    let photo = w.cat.list(w.root).expect("root")[0].photo;
    // 8,000 tags, as a catalog written before the limits were checked on
    // setfattr held them (setfattr now answers EINVAL).
    let mut meta = w.cat.photo(photo).expect("photo").meta;
    meta.tags = Some((0..8000).map(|i| format!("tag{i}")).collect());
    w.cat.set_meta(photo, &meta).expect("set meta");

    let first = try_sync_with(&w, &opts()).expect("sync");
    let failed = &first.executed.as_ref().expect("executed").failed;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let line = format!("{} {}", failed[0].0, failed[0].1);
    assert!(line.contains("Maximum number of tags"), "{line}");
    assert!(
        line.len() < 600,
        "the report repeats the value ({} bytes): {}…",
        line.len(),
        &line[..200]
    );
    let problems: Vec<_> = w
        .cat
        .problems(Some(w.account))
        .expect("problems")
        .into_iter()
        .filter(|p| p.photo == Some(photo))
        .collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].message.contains("not sent again"),
        "{}",
        problems[0].message
    );

    // Neither a dry run nor a sync plans it again, and nothing is lost.
    let dry = try_sync_with(
        &w,
        &SyncOptions {
            dry_run: true,
            ..opts()
        },
    )
    .expect("dry run");
    assert!(dry.plan.is_empty(), "{}", dry.plan);
    let again = sync(&w);
    assert!(again.plan.is_empty(), "{}", again.plan);
    assert_eq!(
        w.cat
            .photo(photo)
            .expect("photo")
            .meta
            .tags
            .map(|t| t.len()),
        Some(8000),
        "the user's value stays in the catalog"
    );

    // A value Flickr accepts goes up at the next sync.
    meta.tags = Some(vec!["garden".into(), "summer light".into()]);
    w.cat.set_meta(photo, &meta).expect("set meta");
    let fixed = sync(&w);
    assert_eq!(fixed.plan.actions.len(), 1, "{}", fixed.plan);
    let online = w.emu.photos(&w.nsid);
    assert!(
        online[0].tags.iter().any(|t| t == "garden"),
        "{:?}",
        online[0].tags
    );
}

// ---------------------------------------------------------------- set membership at the API floor (issue 15)

/// A JPEG whose bytes differ for every (i, salt): colours far apart, so
/// that no two files of a test have the same content.
fn distinct(i: u8, salt: u8) -> Vec<u8> {
    jpeg([
        i.wrapping_mul(40),
        salt.wrapping_mul(60),
        255 - i.wrapping_mul(25),
    ])
}

fn calls(w: &World, method: &str) -> u64 {
    w.emu.call_counts().get(method).copied().unwrap_or(0)
}

fn par(n: usize) -> SyncOptions {
    SyncOptions {
        parallelism: n,
        ..opts()
    }
}

/// Title → id of the account's photos on the emulator.
fn emu_ids(w: &World) -> BTreeMap<String, String> {
    w.emu
        .photos(&w.nsid)
        .into_iter()
        .map(|p| (p.title, p.id))
        .collect()
}

#[test]
fn new_sets_are_created_as_their_first_photo_lands_and_filled_in_one_edit_each() {
    let w = world(false);
    for set in ["Trip", "Home"] {
        let c = w.cat.mkdir(w.account, &name(set)).expect("mkdir").id;
        for i in 0..8u8 {
            let salt = if set == "Trip" { 1 } else { 2 };
            add_local(&w, c, &format!("{set}{i}.jpg"), &distinct(i, salt));
        }
    }
    // One at a time, so the order of the calls is the order they were made in.
    let report = sync_with(&w, &par(1));
    let exec = report.executed.expect("executed");
    assert!(exec.failed.is_empty(), "{:?}", exec.failed);
    let sets = emu_sets(&w);
    for set in ["Trip", "Home"] {
        let want: BTreeSet<String> = (0..8).map(|i| format!("{set}{i}")).collect();
        assert_eq!(sets.get(set), Some(&want), "{sets:?}");
    }
    assert_eq!(calls(&w, "upload"), 16);
    assert_eq!(calls(&w, "flickr.photosets.create"), 2);
    assert_eq!(calls(&w, "flickr.photosets.editPhotos"), 2);
    assert_eq!(calls(&w, "flickr.photosets.addPhoto"), 0);
    // The new sets were read by one getList before the edits (and listed by
    // the fetch), then each once after its edit.
    assert_eq!(calls(&w, "flickr.photosets.getList"), 2);
    assert_eq!(calls(&w, "flickr.photosets.getPhotos"), 2);
    // Each set was created right after its first photo landed, before the
    // other uploads.
    let log: Vec<String> = w.emu.request_log().into_iter().map(|c| c.method).collect();
    let first_create = log
        .iter()
        .position(|m| m == "flickr.photosets.create")
        .expect("create");
    let last_upload = log.iter().rposition(|m| m == "upload").expect("upload");
    assert!(first_create < last_upload, "{log:?}");
    // Nothing left to do.
    assert!(sync(&w).plan.is_empty());
}

#[test]
fn a_member_added_on_flickr_while_the_sync_runs_is_kept_by_the_edit() {
    let w = world(false);
    let photo = |title: &str, shade: u8| {
        w.emu
            .add_photo(
                &w.nsid,
                NewEmuPhoto {
                    title: title.into(),
                    bytes: jpeg([shade, 9, 9]),
                    ..Default::default()
                },
            )
            .expect("photo")
    };
    let x = photo("X", 200);
    let y = photo("Y", 201);
    let set = w
        .emu
        .add_photoset(
            &w.nsid,
            flickrfs::emulator::NewEmuSet {
                title: "Garden".into(),
                photo_ids: vec![x.clone()],
                ..Default::default()
            },
        )
        .expect("set");
    sync(&w);
    let garden = set_collection(&w, "Garden");
    for i in 0..6u8 {
        add_local(&w, garden, &format!("G{i}.jpg"), &distinct(i, 3));
    }
    // Someone adds Y to the set on Flickr after this sync's fetch read it.
    w.emu.set_faults(FaultConfig {
        set_changes: vec![flickrfs::emulator::SetChange {
            after: "upload".into(),
            photoset_id: set.clone(),
            add: vec![y.clone()],
            remove: vec![],
        }],
        ..Default::default()
    });
    w.emu.reset_request_log();
    let report = sync_with(&w, &par(4));
    assert!(report.executed.expect("executed").failed.is_empty());
    assert_eq!(calls(&w, "flickr.photosets.editPhotos"), 1);
    let members: BTreeSet<String> = w
        .emu
        .photosets(&w.nsid)
        .into_iter()
        .find(|s| s.id == set)
        .expect("set")
        .photos
        .into_iter()
        .collect();
    let ids = emu_ids(&w);
    let mut want: BTreeSet<String> = (0..6).map(|i| ids[&format!("G{i}")].clone()).collect();
    want.insert(x);
    want.insert(y);
    assert_eq!(members, want);
    assert_eq!(w.emu.photos(&w.nsid).len(), 8, "nothing uploaded twice");
    // The next sync brings Y into the folder and then has nothing to do.
    sync(&w);
    assert!(sync(&w).plan.is_empty());
    let titles: BTreeSet<String> = w
        .cat
        .list(garden)
        .expect("list")
        .into_iter()
        .map(|e| e.name.as_str().to_owned())
        .collect();
    assert!(titles.contains("Y.jpg"), "{titles:?}");
}

#[test]
fn a_member_added_to_a_new_set_after_its_creation_is_kept() {
    let w = world(false);
    let y = w
        .emu
        .add_photo(
            &w.nsid,
            NewEmuPhoto {
                title: "Y".into(),
                bytes: jpeg([240, 9, 9]),
                ..Default::default()
            },
        )
        .expect("photo");
    sync(&w);
    let c = w.cat.mkdir(w.account, &name("Fresh")).expect("mkdir").id;
    for i in 0..6u8 {
        add_local(&w, c, &format!("F{i}.jpg"), &distinct(i, 7));
    }
    // Someone adds Y to the set as soon as this sync has created it.
    w.emu.set_faults(FaultConfig {
        set_changes: vec![flickrfs::emulator::SetChange {
            after: "flickr.photosets.create".into(),
            photoset_id: String::new(),
            add: vec![y.clone()],
            remove: vec![],
        }],
        ..Default::default()
    });
    w.emu.reset_request_log();
    let report = sync_with(&w, &par(3));
    assert!(report.executed.expect("executed").failed.is_empty());
    // The set no longer looked untouched: it was read before the edit.
    assert_eq!(calls(&w, "flickr.photosets.getPhotos"), 2);
    let mut want: BTreeSet<String> = (0..6).map(|i| format!("F{i}")).collect();
    want.insert("Y".into());
    assert_eq!(emu_sets(&w).get("Fresh"), Some(&want));
}

#[test]
fn a_set_changed_during_the_edit_gets_the_missing_photos_one_by_one() {
    let w = world(false);
    for i in 0..6u8 {
        add_local(&w, w.root, &format!("R{i}.jpg"), &distinct(i, 4));
    }
    let x = w
        .emu
        .add_photo(
            &w.nsid,
            NewEmuPhoto {
                title: "X".into(),
                bytes: jpeg([250, 1, 1]),
                ..Default::default()
            },
        )
        .expect("x");
    let set = w
        .emu
        .add_photoset(
            &w.nsid,
            flickrfs::emulator::NewEmuSet {
                title: "Album".into(),
                photo_ids: vec![x.clone()],
                ..Default::default()
            },
        )
        .expect("set");
    sync(&w);
    let album = set_collection(&w, "Album");
    for i in 0..6 {
        let n = name(&format!("R{i}.jpg"));
        w.cat.link(w.root, &n, album, &n).expect("link");
    }
    // Another client's edit, with a list made before ours, lands right
    // after ours and drops two of our photos.
    let ids = emu_ids(&w);
    w.emu.set_faults(FaultConfig {
        set_changes: vec![flickrfs::emulator::SetChange {
            after: "flickr.photosets.editPhotos".into(),
            photoset_id: set.clone(),
            add: vec![],
            remove: vec![ids["R1"].clone(), ids["R4"].clone()],
        }],
        ..Default::default()
    });
    w.emu.reset_request_log();
    let report = sync_with(&w, &par(2));
    assert!(report.executed.expect("executed").failed.is_empty());
    assert_eq!(calls(&w, "flickr.photosets.editPhotos"), 1);
    assert_eq!(calls(&w, "flickr.photosets.addPhoto"), 2);
    let sets = emu_sets(&w);
    let want: BTreeSet<String> = ["X", "R0", "R1", "R2", "R3", "R4", "R5"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(sets.get("Album"), Some(&want));
    assert!(sync(&w).plan.is_empty());
}

#[test]
fn removals_from_a_set_go_in_one_call() {
    let w = world(false);
    let c = w.cat.mkdir(w.account, &name("Trip")).expect("mkdir").id;
    for i in 0..5u8 {
        add_local(&w, c, &format!("T{i}.jpg"), &distinct(i, 5));
    }
    sync(&w);
    for i in 1..4 {
        w.cat
            .unlink(c, &name(&format!("T{i}.jpg")))
            .expect("unlink");
    }
    w.emu.reset_request_log();
    let report = sync(&w);
    assert!(report.executed.expect("executed").failed.is_empty());
    assert_eq!(calls(&w, "flickr.photosets.removePhotos"), 1);
    assert_eq!(calls(&w, "flickr.photosets.removePhoto"), 0);
    let want: BTreeSet<String> = ["T0", "T4"].iter().map(|s| s.to_string()).collect();
    assert_eq!(emu_sets(&w).get("Trip"), Some(&want));
    assert_eq!(w.emu.photos(&w.nsid).len(), 5, "photos stay on Flickr");
}

#[test]
fn a_lost_upload_reply_is_settled_in_the_same_run() {
    let w = world(false);
    let c = w.cat.mkdir(w.account, &name("Trip")).expect("mkdir").id;
    for i in 0..4u8 {
        add_local(&w, c, &format!("L{i}.jpg"), &distinct(i, 6));
    }
    // Two uploads are stored but their replies are lost, and the search
    // index has not seen any of them yet.
    w.emu.set_faults(FaultConfig {
        drop_upload_replies: 2,
        search_lag_secs: 3600,
        ..Default::default()
    });
    let report = sync_with(&w, &par(2));
    let exec = report.executed.expect("executed");
    assert!(exec.failed.is_empty(), "{:?}", exec.failed);
    assert_eq!(exec.resumed_uploads, 2);
    assert_eq!(w.emu.faults().drop_upload_replies, 0);
    assert_eq!(w.emu.photos(&w.nsid).len(), 4, "nothing uploaded twice");
    let want: BTreeSet<String> = (0..4).map(|i| format!("L{i}")).collect();
    assert_eq!(emu_sets(&w).get("Trip"), Some(&want));
    assert!(sync(&w).plan.is_empty());
}

#[test]
fn failures_name_the_file_and_the_set_title_never_internal_keys() {
    let w = world(false);
    let c = w
        .cat
        .mkdir(w.account, &name("Broken set"))
        .expect("mkdir")
        .id;
    // A JPEG header and nothing Flickr can read: refused (error 5).
    let mut bad = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bad.extend(std::iter::repeat_n(0u8, 200));
    let path = add_local(&w, c, "Unreadable.jpg", &bad);
    let good = w.cat.mkdir(w.account, &name("Good set")).expect("mkdir").id;
    for i in 0..4 {
        add_local(&w, good, &format!("Fine{i}.jpg"), &distinct(i, 9));
    }
    // What the progress bar and the status board show while it runs.
    #[derive(Default)]
    struct Lines(Vec<String>);
    impl flickrfs::sync::Progress for Lines {
        fn starting(&mut self, _: usize, _: usize, _: &flickrfs::sync::Action, what: &str) {
            self.0.push(what.to_owned());
        }
        fn failed(&mut self, line: &str) {
            self.0.push(line.to_owned());
        }
    }
    let mut lines = Lines::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let report = rt
        .block_on(run_sync(&w.cat, &w.client, w.account, &opts(), &mut lines))
        .expect("sync");
    assert!(lines.0.len() >= 6, "{:?}", lines.0);
    for l in &lines.0 {
        assert!(!l.contains("local#") && !l.contains("local-set#"), "{l}");
    }
    let shown = lines.0.join("\n");
    assert!(shown.contains("Fine2.jpg' to set \"Good set\""), "{shown}");
    let failed = report.executed.expect("executed").failed;
    assert!(!failed.is_empty());
    let lines: Vec<&str> = failed.iter().map(|(_, l)| l.as_str()).collect();
    for l in &lines {
        assert!(!l.contains("local#") && !l.contains("local-set#"), "{l}");
    }
    let all = lines.join("\n");
    assert!(all.contains(&path.display().to_string()), "{all}");
    assert!(all.contains("\"Broken set\""), "{all}");
}
