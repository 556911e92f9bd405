//! Incremental planning on a real catalog and sync cache (SQLite in a
//! temporary folder) against the emulator: after every round of changes on
//! both sides, the plan a sync makes from the dirty photos alone equals the
//! plan of the whole account, made from every record and every cached
//! Flickr photo; then the sync runs.

use flickrfs::catalog::{CollectionId, EntryName};
use flickrfs::emulator::{NewEmuPhoto, NewEmuSet};
use flickrfs::model::Direction;
use flickrfs::sync::{
    execute::load_snapshots, fetch::complete_snapshot, plan, plan_sync, run_sync, FetchOptions,
    NoProgress, PlanOptions, SyncOptions, SyncStore,
};

fn jpeg(seed: u32) -> Vec<u8> {
    let c = |s: u32| (s.wrapping_mul(2_654_435_761) >> 24) as u8;
    let img = image::RgbImage::from_pixel(16, 12, image::Rgb([c(seed), c(seed + 1), c(seed + 2)]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

/// A seeded generator (rand's StdRng), so that a failure replays.
struct Rng(rand::rngs::StdRng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(rand::SeedableRng::seed_from_u64(seed))
    }

    fn next(&mut self, n: usize) -> usize {
        rand::Rng::random_range(&mut self.0, 0..n.max(1))
    }
}

#[path = "common/sync_world.rs"]
mod sync_world;
use sync_world::{world as world_of, World};

fn world() -> World {
    world_of(false)
}

impl World {
    fn add_local(&self, seed: u32) {
        let name = format!("L{seed}.jpg");
        let path = self.folder.join(&name);
        std::fs::write(&path, jpeg(seed)).expect("write");
        self.cat
            .add_file(
                self.root,
                &EntryName::new(&name).expect("name"),
                &path,
                None,
            )
            .expect("add");
    }

    fn add_remote(&self, seed: u32, tags: Vec<String>) -> String {
        self.emu
            .add_photo(
                &self.nsid,
                NewEmuPhoto {
                    title: format!("R{seed}"),
                    bytes: jpeg(seed),
                    tags,
                    ..Default::default()
                },
            )
            .expect("remote photo")
    }

    /// One change somewhere, chosen by `rng`.
    fn change(&self, rng: &mut Rng, seed: &mut u32) {
        *seed += 1;
        let photos: Vec<_> = self
            .cat
            .photos(self.account)
            .expect("photos")
            .into_iter()
            .filter(|p| !p.ignored)
            .collect();
        let remote = self.emu.photos(&self.nsid);
        let sets: Vec<CollectionId> = self
            .cat
            .sets(self.account)
            .expect("sets")
            .into_iter()
            .map(|c| c.id)
            .collect();
        match rng.next(8) {
            0 if !photos.is_empty() => {
                let p = &photos[rng.next(photos.len())];
                let mut meta = p.meta.clone();
                meta.title = format!("local {seed}");
                self.cat.set_meta(p.key, &meta).expect("local edit");
            }
            1 => self.add_local(*seed),
            2 if !sets.is_empty() => {
                // Move an entry of the account folder into a set folder.
                let entries = self.cat.list(self.root).expect("list");
                if !entries.is_empty() {
                    let e = &entries[rng.next(entries.len())];
                    let to = sets[rng.next(sets.len())];
                    let _ = self.cat.rename(self.root, &e.name, to, &e.name);
                }
            }
            3 if !sets.is_empty() => {
                // Take an entry out of a set folder.
                let s = sets[rng.next(sets.len())];
                let entries = self.cat.list(s).expect("list");
                if !entries.is_empty() {
                    let e = &entries[rng.next(entries.len())];
                    let _ = self.cat.unlink(s, &e.name);
                }
            }
            4 if !remote.is_empty() => {
                let p = &remote[rng.next(remote.len())];
                self.emu
                    .set_title(&p.id, &format!("flickr {seed}"))
                    .expect("remote edit");
            }
            5 if !remote.is_empty() => {
                let p = &remote[rng.next(remote.len())];
                self.emu
                    .set_tags(&p.id, &["one", "two"][..1 + rng.next(2)])
                    .expect("remote tags");
            }
            6 => {
                // A photo uploaded elsewhere, sometimes one a local file
                // here has (its checksum's machine tag): linked, not
                // uploaded again.
                let local: Vec<_> = photos
                    .iter()
                    .filter(|p| p.remote.is_none())
                    .filter_map(|p| p.local.as_ref().and_then(|f| f.checksum.clone()))
                    .collect();
                let tags = match local.get(rng.next(local.len() + 1)) {
                    Some(c) => vec![c.machine_tag()],
                    None => Vec::new(),
                };
                self.add_remote(*seed, tags);
            }
            _ => {
                if let Some(p) = photos.get(rng.next(photos.len().max(1))) {
                    let mut meta = p.meta.clone();
                    meta.description = Some(format!("described {seed}"));
                    self.cat.set_meta(p.key, &meta).expect("local edit");
                }
            }
        }
    }
}

/// Rounds of changes (each waits a second for the cursor).
const ROUNDS: usize = 8;

#[test]
fn the_plan_of_the_dirty_photos_is_the_plan_of_the_whole_account() {
    let w = world();
    for i in 0..8 {
        w.add_local(i);
    }
    let mut ids = Vec::new();
    for i in 100..112 {
        ids.push(w.add_remote(i, Vec::new()));
    }
    for (n, chunk) in ids.chunks(4).enumerate() {
        w.emu
            .add_photoset(
                &w.nsid,
                NewEmuSet {
                    title: format!("set {n}"),
                    description: String::new(),
                    photo_ids: chunk.to_vec(),
                },
            )
            .expect("set");
    }
    let opts = SyncOptions {
        plan: PlanOptions {
            direction: Direction::Both,
            ..PlanOptions::default()
        },
        identify: false,
        // Photos changed within the margin are listed again: none here, so
        // that what a sync loads is what changed since the last one.
        fetch: FetchOptions {
            cursor_margin: std::time::Duration::ZERO,
            ..FetchOptions::default()
        },
        ..SyncOptions::default()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run_sync(
        &w.cat,
        &w.client,
        w.account,
        &opts,
        &mut NoProgress,
    ))
    .expect("first sync");
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    let mut seed = 1000;
    let mut partial = 0;
    for round in 0..ROUNDS {
        for _ in 0..1 + rng.next(4) {
            w.change(&mut rng, &mut seed);
        }
        // The cursor counts seconds: what the last sync saw is older.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let planned = rt
            .block_on(plan_sync(
                &w.cat,
                &w.client,
                w.account,
                &opts,
                &mut NoProgress,
            ))
            .expect("plan");
        partial += usize::from(planned.partial);
        // The whole account, as a sync that plans all of it sees it.
        let store = SyncStore::open(w.cat.path()).expect("store");
        let (local, base) = load_snapshots(&w.cat, w.account, &opts.defaults).expect("load");
        let mut fetched = planned.fetched.clone();
        complete_snapshot(&store, w.account, &mut fetched).expect("whole snapshot");
        assert!(
            fetched.snapshot.photos.len() >= planned.fetched.snapshot.photos.len(),
            "round {round}"
        );
        let whole_opts = PlanOptions {
            totals: None,
            ..planned.plan_opts.clone()
        };
        let mut whole = plan(&local, &base, &fetched.snapshot, &whole_opts).expect("whole plan");
        whole.summary.fetch_calls = planned.plan.summary.fetch_calls;
        assert_eq!(
            planned.plan, whole,
            "round {round} (partial: {})",
            planned.partial
        );
        drop(planned);
        rt.block_on(run_sync(
            &w.cat,
            &w.client,
            w.account,
            &opts,
            &mut NoProgress,
        ))
        .expect("sync");
    }
    // A quiet account plans nothing, loads only what the last sync did on
    // Flickr, and then nothing at all; and no photo stays dirty.
    for _ in 0..2 {
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let planned = rt
            .block_on(plan_sync(
                &w.cat,
                &w.client,
                w.account,
                &opts,
                &mut NoProgress,
            ))
            .expect("plan");
        assert!(planned.plan.is_empty(), "{}", planned.plan);
        assert!(planned.partial);
        let marks = w.cat.dirty_marks(w.account).expect("marks");
        assert!(marks.items.is_empty(), "{marks:?}");
    }
    let planned = rt
        .block_on(plan_sync(
            &w.cat,
            &w.client,
            w.account,
            &opts,
            &mut NoProgress,
        ))
        .expect("plan");
    assert!(
        planned.local.photos.is_empty() && planned.fetched.snapshot.photos.is_empty(),
        "a quiet account loads no photo: {:?}",
        planned.local.photos.keys().collect::<Vec<_>>()
    );
    assert!(
        partial * 3 >= ROUNDS * 2,
        "only {partial} of {ROUNDS} rounds planned incrementally"
    );
}
