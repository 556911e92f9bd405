//! Crash safety: a sync of a couple of hundred photos (uploads into new
//! sets and downloads) is killed with SIGKILL at a seeded point — when the
//! emulator's request log reaches call k — then resumed, many times over.
//! Every run must end with zero duplicates on Flickr, zero lost files, no
//! partial download left behind, and the same end state as an
//! uninterrupted run.
//!
//! The sync that gets killed runs in a child process: this test binary
//! re-executed with `FLICKRFS_CRASH_CHILD` set, running only
//! [`child_sync`]. Knobs (for scripts/crash-campaign.sh): `FLICKRFS_CRASH_RUNS`
//! (default 20), `FLICKRFS_CRASH_PHOTOS` (default 200), `FLICKRFS_CRASH_SEED`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flickrfs::catalog::{AccountId, Catalog, EntryName};
use flickrfs::emulator::{Emulator, EmulatorConfig, NewEmuPhoto, NewEmuSet};
use flickrfs::flickr::{AccessToken, ApiCredentials, Client, ClientOptions, Endpoints};
use flickrfs::model::Direction;
use flickrfs::sync::{run_sync, NoProgress, PlanOptions, SyncOptions};
use rand::{Rng, SeedableRng};

const CHILD: &str = "FLICKRFS_CRASH_CHILD";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn client_options() -> ClientOptions {
    ClientOptions {
        retry: flickrfs::flickr::RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(50),
            max_retry_after: Duration::from_millis(100),
        },
        rate_limit: flickrfs::flickr::RateLimit {
            calls_per_hour: 36_000_000,
            burst: 10_000,
        },
        ..ClientOptions::default()
    }
}

fn sync_options() -> SyncOptions {
    SyncOptions {
        plan: PlanOptions {
            direction: Direction::Both,
            ..PlanOptions::default()
        },
        ..SyncOptions::default()
    }
}

struct Conn {
    base: String,
    key: String,
    secret: String,
    token: String,
    token_secret: String,
    catalog: PathBuf,
    account: i64,
}

impl Conn {
    fn client(&self) -> Client {
        Client::new(
            Endpoints::local(&self.base),
            ApiCredentials {
                key: self.key.clone(),
                secret: self.secret.clone(),
            },
            Some(AccessToken {
                token: self.token.clone(),
                secret: self.token_secret.clone(),
            }),
            client_options(),
        )
        .expect("client")
    }

    fn to_env(&self, cmd: &mut Command) {
        cmd.env(CHILD, "1")
            .env("CRASH_BASE", &self.base)
            .env("CRASH_KEY", &self.key)
            .env("CRASH_SECRET", &self.secret)
            .env("CRASH_TOKEN", &self.token)
            .env("CRASH_TOKEN_SECRET", &self.token_secret)
            .env("CRASH_CATALOG", &self.catalog)
            .env("CRASH_ACCOUNT", self.account.to_string());
    }

    fn from_env() -> Conn {
        let v = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} not set"));
        Conn {
            base: v("CRASH_BASE"),
            key: v("CRASH_KEY"),
            secret: v("CRASH_SECRET"),
            token: v("CRASH_TOKEN"),
            token_secret: v("CRASH_TOKEN_SECRET"),
            catalog: PathBuf::from(v("CRASH_CATALOG")),
            account: v("CRASH_ACCOUNT").parse().expect("account id"),
        }
    }
}

fn run_one_sync(conn: &Conn) -> flickrfs::sync::SyncReport {
    let cat = Catalog::open(&conn.catalog).expect("catalog");
    let client = conn.client();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run_sync(
        &cat,
        &client,
        AccountId(conn.account),
        &sync_options(),
        &mut NoProgress,
    ))
    .expect("sync")
}

/// The child: runs when re-executed by the parent, otherwise does nothing.
#[test]
fn child_sync() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    run_one_sync(&Conn::from_env());
    std::process::exit(0);
}

fn jpeg(i: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(16, 12, |x, y| {
        image::Rgb([
            (i % 251) as u8,
            (i / 251) as u8 ^ (x as u8),
            (y as u8).wrapping_mul(7),
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg)
        .expect("encode");
    out.into_inner()
}

struct World {
    tmp: tempfile::TempDir,
    emu: Emulator,
    nsid: String,
    conn: Conn,
    folder: PathBuf,
    /// Original local files and their checksums.
    originals: Vec<(PathBuf, String)>,
}

fn sha1_hex(path: &Path) -> String {
    flickrfs::media::sha1_file(path).expect("sha1").to_string()
}

/// `n` photos: three quarters local in three new folders, a quarter on
/// Flickr (half of them in a set).
fn world(n: u32) -> World {
    let tmp = tempfile::tempdir().expect("tempdir");
    let emu = Emulator::start(EmulatorConfig {
        state_dir: tmp.path().join("emu"),
        bind: "127.0.0.1:0".parse().expect("addr"),
        auto_approve: true,
        ..Default::default()
    })
    .expect("emulator");
    let key = emu.create_api_key().expect("key");
    let user = emu.create_user("crash").expect("user");
    let tok = emu
        .issue_token(&key.key, &user.nsid, "write")
        .expect("token");
    let remote = n / 4;
    let mut remote_ids = Vec::new();
    for i in 0..remote {
        remote_ids.push(
            emu.add_photo(
                &user.nsid,
                NewEmuPhoto {
                    title: format!("Remote {i}"),
                    bytes: jpeg(10_000 + i),
                    ..Default::default()
                },
            )
            .expect("add photo"),
        );
    }
    emu.add_photoset(
        &user.nsid,
        NewEmuSet {
            title: "Remote set".into(),
            description: String::new(),
            photo_ids: remote_ids[..(remote as usize / 2)].to_vec(),
        },
    )
    .expect("set");
    let folder = tmp.path().join("Pictures");
    std::fs::create_dir_all(&folder).expect("folder");
    let catalog = tmp.path().join("catalog.db");
    let cat = Catalog::open(&catalog).expect("catalog");
    let acct = cat
        .add_account(
            &flickrfs::model::Nsid::new(user.nsid.clone()),
            "crash",
            "crash",
            &folder,
        )
        .expect("account");
    let sets: Vec<_> = (0..3)
        .map(|s| {
            cat.mkdir(
                acct.id,
                &EntryName::new(&format!("Local {s}")).expect("name"),
            )
            .expect("mkdir")
        })
        .collect();
    let mut originals = Vec::new();
    let src = tmp.path().join("originals");
    std::fs::create_dir_all(&src).expect("dir");
    for i in 0..(n - remote) {
        let name = format!("IMG_{i:04}.jpg");
        let path = src.join(&name);
        std::fs::write(&path, jpeg(i)).expect("write");
        cat.add_file(
            sets[(i % 3) as usize].id,
            &EntryName::new(&name).expect("name"),
            &path,
            None,
        )
        .expect("add file");
        originals.push((path.clone(), sha1_hex(&path)));
    }
    let conn = Conn {
        base: emu.base_url(),
        key: key.key,
        secret: key.secret,
        token: tok.token,
        token_secret: tok.secret,
        catalog,
        account: acct.id.0,
    };
    World {
        tmp,
        emu,
        nsid: user.nsid,
        conn,
        folder,
        originals,
    }
}

/// What must be equal between runs: checksums online with their counts,
/// and each set's member checksums.
/// (Sets are listed, not keyed by title, so a set created twice shows.)
type EndState = (BTreeMap<String, usize>, Vec<(String, BTreeSet<String>)>);

fn end_state(w: &World) -> EndState {
    let photos = w.emu.photos(&w.nsid);
    let sum_of: BTreeMap<&str, &str> = photos
        .iter()
        .map(|p| (p.id.as_str(), p.sha1.as_str()))
        .collect();
    let mut counts = BTreeMap::new();
    for p in &photos {
        *counts.entry(p.sha1.clone()).or_insert(0) += 1;
    }
    let mut sets: Vec<(String, BTreeSet<String>)> = w
        .emu
        .photosets(&w.nsid)
        .into_iter()
        .map(|s| {
            (
                s.title,
                s.photos
                    .iter()
                    .filter_map(|id| sum_of.get(id.as_str()).map(|x| x.to_string()))
                    .collect(),
            )
        })
        .collect();
    sets.sort();
    (counts, sets)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

/// Zero lost files: every original is where it was with its bytes, every
/// catalog photo has its file with Flickr's bytes, no partial download.
fn check_files(w: &World, run: usize) {
    for (path, sum) in &w.originals {
        assert_eq!(
            &sha1_hex(path),
            sum,
            "run {run}: {} changed",
            path.display()
        );
    }
    let online: BTreeMap<String, String> = w
        .emu
        .photos(&w.nsid)
        .into_iter()
        .map(|p| (p.id, p.sha1))
        .collect();
    let cat = Catalog::open(&w.conn.catalog).expect("catalog");
    let photos = cat.photos(AccountId(w.conn.account)).expect("photos");
    assert_eq!(photos.len(), online.len(), "run {run}: catalog size");
    for p in photos {
        let id = p
            .remote_id()
            .cloned()
            .unwrap_or_else(|| panic!("run {run}: #{} not linked", p.key));
        let f = p
            .local
            .unwrap_or_else(|| panic!("run {run}: photo {id} has no file"));
        assert_eq!(
            Some(&sha1_hex(&f.path)),
            online.get(id.as_str()),
            "run {run}: {}",
            f.path.display()
        );
    }
    let mut files = Vec::new();
    walk(&w.folder, &mut files);
    for f in files {
        let name = f.file_name().map(|n| n.to_string_lossy().to_string());
        assert!(
            !name.unwrap_or_default().ends_with(".part"),
            "run {run}: partial download left: {}",
            f.display()
        );
    }
}

fn resume_until_done(w: &World, run: usize) {
    for attempt in 0..4 {
        let r = run_one_sync(&w.conn);
        let failed = r.executed.as_ref().map_or(0, |e| e.failed.len());
        if r.plan.is_empty() && failed == 0 {
            return;
        }
        assert!(attempt < 3, "run {run}: no convergence:\n{}", r.plan);
    }
}

#[test]
fn killed_syncs_resume_without_duplicates_or_lost_files() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let runs = env_num("FLICKRFS_CRASH_RUNS", 20) as usize;
    let n = env_num("FLICKRFS_CRASH_PHOTOS", 200) as u32;
    let seed = env_num("FLICKRFS_CRASH_SEED", 7);
    let started = Instant::now();

    // The reference: an uninterrupted run.
    let reference = world(n);
    resume_until_done(&reference, 0);
    let expected = end_state(&reference);
    assert_eq!(expected.0.len(), n as usize);
    check_files(&reference, 0);
    let calls: u64 = reference.emu.call_counts().values().sum();
    drop(reference);

    let exe = std::env::current_exe().expect("test binary");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let (mut duplicates, mut lost, mut matched, mut killed) = (0usize, 0usize, 0usize, 0usize);
    for run in 1..=runs {
        let w = world(n);
        let kill_at = rng.random_range(1..calls.max(2));
        let kill_at = std::env::var("FLICKRFS_CRASH_KILL_AT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(kill_at);
        let mut cmd = Command::new(&exe);
        cmd.args(["child_sync", "--exact", "--nocapture", "--test-threads=1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        w.conn.to_env(&mut cmd);
        let mut child = cmd.spawn().expect("spawn child");
        loop {
            if let Some(_status) = child.try_wait().expect("wait") {
                break;
            }
            let seen: u64 = w.emu.call_counts().values().sum();
            if seen >= kill_at {
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
                killed += 1;
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        resume_until_done(&w, run);
        let got = end_state(&w);
        duplicates += got.0.values().filter(|&&c| c > 1).count();
        let files = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_files(&w, run)));
        if files.is_err() {
            lost += 1;
        }
        if got == expected {
            matched += 1;
        }
        if got != expected {
            let sets: Vec<(String, usize)> = w
                .emu
                .photosets(&w.nsid)
                .into_iter()
                .map(|s| (s.title, s.photos.len()))
                .collect();
            let log: Vec<String> = w
                .emu
                .request_log()
                .into_iter()
                .map(|c| format!("{}{}", c.method, if c.ok { "" } else { "!" }))
                .collect();
            panic!(
                "run {run} (killed at call {kill_at}): end state differs; sets online {sets:?}; {} photos online\nlog: {}",
                got.0.len(),
                log.join(" ")
            );
        }
        assert!(files.is_ok(), "run {run} (killed at call {kill_at})");
        drop(w.tmp);
    }
    println!(
        "runs {runs} | killed {killed} | duplicates online {duplicates} | files lost {lost} | end state matched {matched}/{runs} | {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
