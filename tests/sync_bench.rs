//! The sync benchmark (run by scripts/bench-sync.sh, ignored by `cargo test`):
//! an emulator seeded with `FLICKRFS_BENCH_PHOTOS` photos (default 100,000)
//! in `FLICKRFS_BENCH_SETS` sets (default 300); measures the first plan (a
//! full listing), a no-op resync, a resync after `FLICKRFS_BENCH_CHANGES`
//! (100) local and as many remote changes, and uploading and downloading
//! `FLICKRFS_BENCH_TRANSFER` (500; 0: skipped) photos with parallelism 1
//! and 4. Prints one table.

use std::time::{Duration, Instant};

use flickrfs::catalog::{Catalog, EntryName};
use flickrfs::emulator::{Emulator, EmulatorConfig, FaultConfig, NewEmuPhoto};
use flickrfs::flickr::{AccessToken, ApiCredentials, Client, ClientOptions, Endpoints};
use flickrfs::model::Direction;
use flickrfs::sync::{plan_sync, run_sync, NoProgress, PlanOptions, SyncOptions};

/// Counts the bytes allocated by the whole process (current and peak), so
/// that the sync's own memory can be told apart from the emulator's.
struct Counting;
static CURRENT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// The peak since the last phase line (see [`HeapTimer`]).
static PHASE_PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        use std::sync::atomic::Ordering::Relaxed;
        let now = CURRENT.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(now, Relaxed);
        PHASE_PEAK.fetch_max(now, Relaxed);
        // SAFETY: the caller's layout is passed on unchanged.
        unsafe { std::alloc::System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        CURRENT.fetch_sub(l.size(), std::sync::atomic::Ordering::Relaxed);
        // SAFETY: `p` came from `alloc` with this layout.
        unsafe { std::alloc::System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Heap bytes in use now, and resets the peak to that.
fn heap_mark() -> usize {
    let now = CURRENT.load(std::sync::atomic::Ordering::Relaxed);
    PEAK.store(now, std::sync::atomic::Ordering::Relaxed);
    now
}

/// The peak heap above `mark` since [`heap_mark`], in MB.
fn heap_peak_mb(mark: usize) -> f64 {
    PEAK.load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(mark) as f64
        / 1e6
}

/// With `FLICKRFS_BENCH_PHASES`, each phase line starts with the heap in
/// use and its peak since the previous line (in MB).
struct HeapTimer;

impl tracing_subscriber::fmt::time::FormatTime for HeapTimer {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        use std::sync::atomic::Ordering::Relaxed;
        let now = CURRENT.load(Relaxed);
        let peak = PHASE_PEAK.swap(now, Relaxed);
        write!(
            w,
            "heap {} MB, peak {} MB",
            now / 1_000_000,
            peak / 1_000_000
        )
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cpu_time() -> Duration {
    let mut u = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    let r = unsafe { libc::getrusage(libc::RUSAGE_SELF, u.as_mut_ptr()) };
    if r != 0 {
        return Duration::ZERO;
    }
    // SAFETY: initialised by the successful call above.
    let u = unsafe { u.assume_init() };
    let t = |tv: libc::timeval| {
        Duration::from_secs(tv.tv_sec as u64) + Duration::from_micros(tv.tv_usec as u64)
    };
    t(u.ru_utime) + t(u.ru_stime)
}

fn client(
    emu: &Emulator,
    key: &flickrfs::emulator::ApiKey,
    tok: &flickrfs::emulator::AccessToken,
) -> Client {
    Client::new(
        Endpoints::local(&emu.base_url()),
        ApiCredentials {
            key: key.key.clone(),
            secret: key.secret.clone(),
        },
        Some(AccessToken {
            token: tok.token.clone(),
            secret: tok.secret.clone(),
        }),
        ClientOptions {
            rate_limit: flickrfs::flickr::RateLimit {
                calls_per_hour: 360_000_000,
                burst: 100_000,
            },
            ..ClientOptions::default()
        },
    )
    .expect("client")
}

fn calls(emu: &Emulator) -> u64 {
    emu.call_counts()
        .iter()
        .filter(|(m, _)| m.as_str() != "photo_file")
        .map(|(_, n)| n)
        .sum()
}

fn jpeg(i: u32) -> Vec<u8> {
    flickrfs::media::testdata::jpeg_with_exif(64, 48, Some("2020:01:01 00:00:00"), (i % 251) as u8)
        .into_iter()
        .chain(i.to_le_bytes())
        .collect()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Uploads then downloads `n` photos with `par` in flight; returns both durations.
fn transfer(n: u32, par: usize, latency_ms: u64) -> (Duration, Duration) {
    let tmp = tempfile::tempdir().expect("tmp");
    let emu = Emulator::start(EmulatorConfig {
        state_dir: tmp.path().join("emu"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        auto_approve: true,
        ..Default::default()
    })
    .expect("emulator");
    emu.set_faults(FaultConfig {
        latency_ms,
        ..Default::default()
    });
    let key = emu.create_api_key().expect("key");
    let user = emu.create_user("up").expect("user");
    let tok = emu.issue_token(&key.key, &user.nsid, "write").expect("tok");
    let c = client(&emu, &key, &tok);
    let folder = tmp.path().join("Pictures");
    std::fs::create_dir_all(&folder).expect("dir");
    let cat = Catalog::open(&tmp.path().join("c.db")).expect("cat");
    let acct = cat
        .add_account(
            &flickrfs::model::Nsid::new(user.nsid.clone()),
            "up",
            "up",
            &folder,
        )
        .expect("acct");
    for i in 0..n {
        let name = format!("P{i}.jpg");
        let p = folder.join(&name);
        std::fs::write(&p, jpeg(i)).expect("write");
        cat.add_file(acct.root, &EntryName::new(&name).expect("name"), &p, None)
            .expect("add");
    }
    for i in 0..n {
        emu.add_photo(
            &user.nsid,
            NewEmuPhoto {
                title: format!("R{i}"),
                bytes: jpeg(100_000 + i),
                ..Default::default()
            },
        )
        .expect("add");
    }
    let up = SyncOptions {
        plan: PlanOptions {
            direction: Direction::Up,
            ..Default::default()
        },
        parallelism: par,
        ..SyncOptions::default()
    };
    let down = SyncOptions {
        plan: PlanOptions {
            direction: Direction::Down,
            ..Default::default()
        },
        parallelism: par,
        identify: false,
        ..SyncOptions::default()
    };
    let rt = rt();
    let t = Instant::now();
    rt.block_on(run_sync(&cat, &c, acct.id, &up, &mut NoProgress))
        .expect("up");
    let t_up = t.elapsed();
    let t = Instant::now();
    rt.block_on(run_sync(&cat, &c, acct.id, &down, &mut NoProgress))
        .expect("down");
    (t_up, t.elapsed())
}

#[test]
#[ignore = "benchmark: run scripts/bench-sync.sh"]
fn bench_sync() {
    let photos = env_num("FLICKRFS_BENCH_PHOTOS", 100_000);
    let sets = env_num("FLICKRFS_BENCH_SETS", 300);
    let transfer_n = env_num("FLICKRFS_BENCH_TRANSFER", 500) as u32;
    let latency = env_num("FLICKRFS_BENCH_LATENCY_MS", 20);
    if std::env::var_os("FLICKRFS_BENCH_PHASES").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("flickrfs::sync=debug,sync_bench=debug")
            .with_timer(HeapTimer)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let t = Instant::now();
    let emu = Emulator::start(EmulatorConfig {
        state_dir: tmp.path().join("emu"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        auto_approve: true,
        seed_photos: photos,
        seed_sets: sets,
        seed_user: "bench".into(),
        ..Default::default()
    })
    .expect("emulator");
    let seed_time = t.elapsed();
    let key = emu.create_api_key().expect("key");
    let user = emu
        .user_by_name("bench")
        .expect("user")
        .expect("seeded user");
    let tok = emu.issue_token(&key.key, &user.nsid, "write").expect("tok");
    let c = client(&emu, &key, &tok);
    let folder = tmp.path().join("Pictures");
    std::fs::create_dir_all(&folder).expect("dir");
    let cat = Catalog::open(&tmp.path().join("c.db")).expect("cat");
    let acct = cat
        .add_account(
            &flickrfs::model::Nsid::new(user.nsid.clone()),
            "bench",
            "bench",
            &folder,
        )
        .expect("acct");
    let opts = SyncOptions {
        plan: PlanOptions {
            direction: Direction::Up,
            ..Default::default()
        },
        ..SyncOptions::default()
    };
    let rt = rt();
    let floor = photos.div_ceil(500) + 1 + sets;

    // First plan: full listing, recorded in the catalog.
    emu.reset_request_log();
    let mark = heap_mark();
    let (t, cpu) = (Instant::now(), cpu_time());
    let planned = rt
        .block_on(plan_sync(&cat, &c, acct.id, &opts, &mut NoProgress))
        .expect("plan");
    let (first_wall, first_cpu, first_calls) = (t.elapsed(), cpu_time() - cpu, calls(&emu));
    let first_heap = heap_peak_mb(mark);
    // The planner alone, on the same inputs.
    let (t, cpu) = (Instant::now(), cpu_time());
    let again = flickrfs::sync::plan(
        &planned.local,
        &planned.base,
        &planned.fetched.snapshot,
        &opts.plan,
    )
    .expect("plan");
    let (plan_wall, plan_cpu) = (t.elapsed(), cpu_time() - cpu);
    let mut again = again;
    again.summary.fetch_calls = planned.plan.summary.fetch_calls;
    assert_eq!(again, planned.plan);
    // After a full fetch the listing lives only in the sync's cache:
    // identify and the executor read back what they need one photo at a
    // time (a first sync that downloads everything reads all of it).
    let store = flickrfs::sync::SyncStore::open(cat.path()).expect("sync store");
    let t = Instant::now();
    let mut read_back = 0;
    for id in planned.fetched.snapshot.photos.keys() {
        read_back += usize::from(store.photo(acct.id, id).expect("cache").is_some());
    }
    let cache_read = t.elapsed();
    assert_eq!(read_back, planned.fetched.snapshot.photos.len());
    drop((planned, again, store));
    // Record a base (a sync that uploads nothing), then a no-op resync.
    rt.block_on(run_sync(&cat, &c, acct.id, &opts, &mut NoProgress))
        .expect("sync");
    emu.reset_request_log();
    let mark = heap_mark();
    let (t, cpu) = (Instant::now(), cpu_time());
    let noop = rt
        .block_on(run_sync(&cat, &c, acct.id, &opts, &mut NoProgress))
        .expect("noop");
    let (noop_wall, noop_cpu, noop_calls) = (t.elapsed(), cpu_time() - cpu, calls(&emu));
    tracing::debug!("no-op resync returned");
    let noop_heap = heap_peak_mb(mark);
    assert!(noop.plan.is_empty(), "{}", noop.plan.summary);

    // 100 local and 100 remote changes (titles; the remote ones are merged
    // but not pulled in this direction), then a resync: its local edits are
    // sent to Flickr (100 setMeta calls, the "transfers").
    let changes = env_num("FLICKRFS_BENCH_CHANGES", 100).min(photos / 2);
    let mut edited = 0;
    let mut listed = Vec::new();
    cat.for_each_photo(acct.id, |p| {
        if listed.len() < (2 * changes) as usize {
            listed.push((p.key, p.remote_id().cloned(), p.meta.clone()));
        }
        Ok(())
    })
    .expect("photos");
    for (i, (key, remote, meta)) in listed.into_iter().enumerate() {
        if (i as u64) < changes {
            let mut meta = meta;
            meta.title = format!("{} (edited here)", meta.title);
            cat.set_meta(key, &meta).expect("local edit");
        } else if let Some(id) = remote {
            emu.set_title(id.as_str(), &format!("edited on Flickr {i}"))
                .expect("remote edit");
        }
        edited += 1;
    }
    emu.reset_request_log();
    let mark = heap_mark();
    let (t, cpu) = (Instant::now(), cpu_time());
    let changed = rt
        .block_on(run_sync(&cat, &c, acct.id, &opts, &mut NoProgress))
        .expect("resync after changes");
    let (changed_wall, changed_cpu, changed_calls) = (t.elapsed(), cpu_time() - cpu, calls(&emu));
    let changed_heap = heap_peak_mb(mark);
    assert_eq!(
        changed.plan.summary.edits as u64, changes,
        "{}",
        changed.plan.summary
    );
    let changed_edit_calls = changed.plan.summary.api_calls;
    // And quiet again.
    let (t, cpu) = (Instant::now(), cpu_time());
    let quiet = rt
        .block_on(run_sync(&cat, &c, acct.id, &opts, &mut NoProgress))
        .expect("resync after the edits");
    let (quiet_wall, quiet_cpu) = (t.elapsed(), cpu_time() - cpu);
    assert!(quiet.plan.is_empty(), "{}", quiet.plan.summary);
    drop(rt);
    drop(emu);

    let transfers = transfer_n > 0;
    let ((up1, down1), (up4, down4)) = if transfers {
        (
            transfer(transfer_n, 1, latency),
            transfer(transfer_n, 4, latency),
        )
    } else {
        Default::default()
    };
    let rate = |d: Duration| transfer_n as f64 / d.as_secs_f64();

    println!("| measure | value | target |");
    println!("|---|---|---|");
    println!(
        "| seeding {photos} photos in {sets} sets (emulator) | {:.1} s | |",
        seed_time.as_secs_f64()
    );
    println!(
        "| first plan: API calls | {first_calls} | floor {floor} (ceil({photos}/500) + getList + {sets} set pages) |"
    );
    println!(
        "| first plan: wall / CPU (fetch + catalog + plan) | {:.2} s / {:.2} s | |",
        first_wall.as_secs_f64(),
        first_cpu.as_secs_f64()
    );
    println!(
        "| planner alone on {photos} photos: wall / CPU | {:.3} s / {:.3} s | < 1 s CPU |",
        plan_wall.as_secs_f64(),
        plan_cpu.as_secs_f64()
    );
    println!(
        "| reading all {read_back} photos back from the sync's cache, one at a time (what a first sync that downloads everything does) | {:.2} s | |",
        cache_read.as_secs_f64()
    );
    println!("| no-op resync: API calls | {noop_calls} | <= 10 |");
    println!(
        "| no-op resync: wall / CPU (process, emulator included) | {:.2} s / {:.2} s | <= 0.3 s wall |",
        noop_wall.as_secs_f64(),
        noop_cpu.as_secs_f64()
    );
    println!(
        "| heap peak of the sync itself (process heap above the level before it; the emulator's is 4 calls' worth): first plan / no-op resync | {first_heap:.0} MB / {noop_heap:.0} MB | < 300 MB / <= 50 MB |"
    );
    println!(
        "| resync after {changes} local + {} remote changes: API calls (of which the plan's edits) | {changed_calls} ({changed_edit_calls}) | |",
        edited as u64 - changes
    );
    println!(
        "| resync after {changes} local + {} remote changes: wall / CPU (edits sent, emulator included) / heap | {:.2} s / {:.2} s / {changed_heap:.0} MB | <= 0.5 s + transfers |",
        edited as u64 - changes,
        changed_wall.as_secs_f64(),
        changed_cpu.as_secs_f64()
    );
    println!(
        "| the no-op resync after that: wall / CPU | {:.2} s / {:.2} s | <= 0.3 s wall |",
        quiet_wall.as_secs_f64(),
        quiet_cpu.as_secs_f64()
    );
    if !transfers {
        return;
    }
    println!(
        "| upload {transfer_n} ({latency} ms latency), parallelism 1 / 4 | {:.1} / {:.1} photos/s | |",
        rate(up1),
        rate(up4)
    );
    println!(
        "| download {transfer_n} ({latency} ms latency), parallelism 1 / 4 | {:.1} / {:.1} photos/s | |",
        rate(down1),
        rate(down4)
    );
}
