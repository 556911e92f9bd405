//! Concurrency and crash tests of the whole product, driven as a user would:
//! the `flickrfs` binary with a temporary HOME, an account added through the
//! real OAuth flow (the in-process emulator approves on its own), the mount
//! daemon as a child process (`flickrfs mount --foreground`), shell tools
//! working in the mount (cp, mv, mkdir, ls -lR, cmp) while syncs run inside
//! the daemon (`.flickrfs/sync`) and as separate `flickrfs sync --yes`
//! processes, with faults injected on the emulator.
//!
//! Every child process and every worker runs under a deadline: a hang fails
//! the test with the operation that hung instead of blocking CI. The mount
//! is unmounted by a guard whatever happens.
//!
//! `scripts/stress.sh` runs the same scenario for longer through the ignored
//! `stress` test, which prints a table of figures.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use flickrfs::emulator::FaultConfig;
#[path = "common/proc.rs"]
mod proc;
use proc::*;
#[path = "common/world.rs"]
mod world;
use world::*;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Names the errors a tool printed: errno names from strerror texts, and
/// `MISMATCH`/`SHORT` for cmp finding different bytes.
fn errnos(stderr: &str) -> Vec<String> {
    const KNOWN: &[(&str, &str)] = &[
        ("No such file or directory", "ENOENT"),
        ("Input/output error", "EIO"),
        ("Transport endpoint is not connected", "ENOTCONN"),
        ("Software caused connection abort", "ECONNABORTED"),
        ("Permission denied", "EACCES"),
        ("Operation not permitted", "EPERM"),
        ("File exists", "EEXIST"),
        ("Device or resource busy", "EBUSY"),
        ("No space left on device", "ENOSPC"),
        ("Directory not empty", "ENOTEMPTY"),
        ("Invalid argument", "EINVAL"),
        ("Stale file handle", "ESTALE"),
        ("Not a directory", "ENOTDIR"),
        ("Is a directory", "EISDIR"),
        ("Function not implemented", "ENOSYS"),
        (" differ: ", "MISMATCH"),
        ("EOF on", "SHORT"),
    ];
    stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            KNOWN
                .iter()
                .find(|(needle, _)| l.contains(needle))
                .map(|(_, name)| (*name).to_owned())
                .unwrap_or_else(|| format!("OTHER({l})"))
        })
        .collect()
}

/// The mount's view of the account: folder ("" for the root) → sha1s.
fn mount_view(acct: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut view: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    view.insert(String::new(), BTreeSet::new());
    for (rel, sum) in tree_sums(acct) {
        let comps: Vec<_> = rel.components().collect();
        let folder = match comps.len() {
            1 => String::new(),
            2 => comps[0].as_os_str().to_string_lossy().into_owned(),
            _ => continue, // Pools/...
        };
        if folder == "Pools" {
            continue;
        }
        view.entry(folder).or_default().insert(sum);
    }
    view
}

/// Flickr's view: set title ("" for photos in no set) → sha1s; and how many
/// photos online carry each sha1 (by the checksum machine tag when present,
/// else by the bytes).
fn flickr_view(w: &World) -> (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, usize>) {
    let photos = w.emu.photos(&w.nsid);
    let mut by_id = BTreeMap::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for p in &photos {
        let tagged = p.machine_tags.iter().find_map(|t| {
            t.to_ascii_lowercase()
                .strip_prefix("flickrfs:sha1=")
                .map(str::to_owned)
        });
        if let Some(t) = &tagged {
            assert_eq!(
                t, &p.sha1,
                "photo {} carries a checksum tag that is not its bytes' (a partial upload?)",
                p.id
            );
        }
        *counts
            .entry(tagged.unwrap_or_else(|| p.sha1.clone()))
            .or_default() += 1;
        by_id.insert(p.id.clone(), p.sha1.clone());
    }
    let mut view: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut in_a_set = BTreeSet::new();
    for s in w.emu.photosets(&w.nsid) {
        let e = view.entry(s.title.clone()).or_default();
        for id in &s.photos {
            in_a_set.insert(id.clone());
            e.insert(by_id.get(id).cloned().unwrap_or_default());
        }
    }
    let root = by_id
        .iter()
        .filter(|(id, _)| !in_a_set.contains(*id))
        .map(|(_, s)| s.clone())
        .collect();
    view.insert(String::new(), root);
    (view, counts)
}

/// Checks that the catalog (as the mount shows it) and Flickr agree:
/// every local photo online exactly once, the same set memberships.
/// Returns the number of duplicates found online (0 when it passes).
fn assert_converged(w: &World, exempt: &BTreeSet<String>) {
    let local = mount_view(&w.acct());
    let names: Vec<String> = tree_sums(&w.acct())
        .into_iter()
        .map(|(p, s)| {
            let len = std::fs::metadata(w.acct().join(&p))
                .map(|m| m.len())
                .unwrap_or(0);
            format!("{} {len} {s}", p.display())
        })
        .collect();
    let context = format!(
        "mount:\n{}\nlast sync: {}\nstatus: {}",
        names.join("\n"),
        w.last_sync(),
        std::fs::read_to_string(w.mnt.join(".flickrfs/status")).unwrap_or_default()
    );
    let (online, counts) = flickr_view(w);
    let local_all: BTreeSet<&String> = local.values().flatten().collect();
    for sum in local_all.iter().filter(|s| !exempt.contains(**s)) {
        assert_eq!(
            counts.get(*sum).copied().unwrap_or(0),
            1,
            "local photo {sum} is online {} times; online counts: {counts:?}\n{context}",
            counts.get(*sum).copied().unwrap_or(0)
        );
    }
    let dups: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dups.is_empty(), "duplicates online: {dups:?}");
    for sum in counts.keys() {
        assert!(
            local_all.contains(sum),
            "online photo {sum} is not in the mount"
        );
    }
    let nonempty = |m: &BTreeMap<String, BTreeSet<String>>| -> BTreeMap<String, BTreeSet<String>> {
        m.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.difference(exempt).cloned().collect::<BTreeSet<_>>(),
                )
            })
            .filter(|(k, v)| k.is_empty() || !v.is_empty())
            .collect()
    };

    assert_eq!(
        nonempty(&local),
        nonempty(&online),
        "the mount's folders and Flickr's sets differ (left: mount, right: Flickr)"
    );
}

// ---------------------------------------------------------------------------
// The concurrency scenario
// ---------------------------------------------------------------------------

/// Figures of one scenario run.
#[derive(Debug, Default, Clone)]
struct Figures {
    rounds: usize,
    operations: usize,
    errors: BTreeMap<String, usize>,
    faults: usize,
    syncs: usize,
    converge_syncs: usize,
    duplicates: usize,
    lost: usize,
}

/// One worker's record: the operations it ran and the errors it met.
#[derive(Default)]
struct Tally {
    ops: AtomicUsize,
    errors: Mutex<Vec<(String, String)>>, // (errno, what)
}

impl Tally {
    /// Runs a tool; records its errors; returns whether it exited 0.
    fn tool(&self, mut cmd: Command, what: &str) -> bool {
        self.ops.fetch_add(1, Ordering::Relaxed);
        cmd.stdout(Stdio::null());
        let out = run(cmd, what, OP_DEADLINE);
        if !out.status.success() {
            let mut found = errnos(&text(&out.stderr));
            if found.is_empty() {
                found.push(format!("EXIT({:?})", out.status.code()));
            }
            let mut e = self.errors.lock().unwrap_or_else(|p| p.into_inner());
            for name in found {
                e.push((name, what.to_owned()));
            }
        }
        out.status.success()
    }
}

struct Scenario {
    rounds: usize,
    /// New photos copied in per round.
    copies: usize,
    faults: FaultConfig,
    /// Also run a CLI sync at the same time as a daemon sync.
    overlap: bool,
}

/// Runs the scenario; panics on any broken promise; returns the figures.
fn scenario(sc: &Scenario) -> Figures {
    let w = World::new(None);
    // On Flickr before the first sync: 6 photos, two sets, one in no set.
    let ids: Vec<String> = (0..6)
        .map(|i| w.seed_online(&format!("seed_{i:02}"), 1000 + i))
        .collect();
    w.seed_set("Alpha", &ids[0..3]);
    w.seed_set("Beta", &ids[3..5]);
    let ever_online: BTreeSet<String> = w.emu.photos(&w.nsid).into_iter().map(|p| p.sha1).collect();
    w.add_account();
    let daemon = w.mount();
    let daemon_pid = daemon.pid();
    let first = w.control_sync();
    assert!(first.starts_with("done"), "first sync: {first}");
    for set in ["Alpha", "Beta"] {
        assert!(w.acct().join(set).is_dir(), "{set} came down");
    }
    let mkdir = w.sh("mkdir \"$M/Gamma\"").status().expect("mkdir");
    assert!(mkdir.success(), "mkdir Gamma in the mount");
    let mut figs = Figures {
        rounds: sc.rounds,
        syncs: 1,
        ..Default::default()
    };
    let mut copied: BTreeMap<String, String> = BTreeMap::new(); // name → sha1
    let mut rng = Xorshift::new(4242);
    let sets = ["Alpha", "Beta", "Gamma"];
    for round in 0..sc.rounds {
        // The originals to copy in this round.
        let names: Vec<String> = (0..sc.copies)
            .map(|i| format!("new_{round:03}_{i:02}.jpg"))
            .collect();
        for (i, n) in names.iter().enumerate() {
            let bytes = w.original(n, (round * 100 + i) as u64, 160);
            copied.insert(n.clone(), sha1_hex(&bytes));
        }
        w.emu.set_faults(sc.faults.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Tally::default());
        let world: &World = &w;
        let seeds: Vec<u64> = (0..4).map(|_| rng.next()).collect();
        let sync_outcomes: Mutex<Vec<String>> = Mutex::new(Vec::new());
        let (sync_started, copier_done) = (AtomicBool::new(false), AtomicBool::new(false));
        std::thread::scope(|s| {
            let (done_tx, done_rx) = mpsc::channel::<&'static str>();
            // copier: cp new photos into the sets (and mkdir Gamma first).
            {
                let (w, t, tx, names) = (world, tally.clone(), done_tx.clone(), &names);
                let (started, copied_all) = (&sync_started, &copier_done);
                s.spawn(move || {
                    // Copies run while a sync runs.
                    wait_for("the first sync to start", OP_DEADLINE, || {
                        started.load(Ordering::SeqCst)
                    });
                    // A new set made while the sync runs, with one photo in it.
                    let fresh = format!("Round {round}");
                    t.tool(
                        w.sh(&format!("mkdir \"$M/{fresh}\"")),
                        &format!("mkdir {fresh}"),
                    );
                    for (i, n) in names.iter().enumerate() {
                        let dest = match i % 5 {
                            3 => String::new(),
                            4 if i == 4 => format!("{fresh}/"),
                            4 => "Gamma/".to_owned(),
                            k => format!("{}/", sets[k]),
                        };
                        let script = format!("cp \"$P/{n}\" \"$M/{dest}\"");
                        t.tool(w.sh(&script), &format!("cp {n} {dest}"));
                    }
                    copied_all.store(true, Ordering::SeqCst);
                    let _ = tx.send("copier");
                });
            }
            // mover: mv photos between set folders and the root.
            {
                let (w, t, tx, st) = (world, tally.clone(), done_tx.clone(), stop.clone());
                let mut r = Xorshift::new(seeds[0]);
                s.spawn(move || {
                    let folders = ["Alpha", "Beta", "Gamma", ""];
                    let mut n = 0;
                    while !st.load(Ordering::Relaxed) || n < 6 {
                        n += 1;
                        if n > 200 {
                            break;
                        }
                        let fi = r.below(4);
                        let from = folders[fi];
                        let to = folders[(fi + 1 + r.below(3)) % 4];
                        let dir = w.acct().join(from);
                        let entries: Vec<String> = std::fs::read_dir(&dir)
                            .map(|rd| {
                                rd.flatten()
                                    .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                                    .map(|e| e.file_name().to_string_lossy().into_owned())
                                    .collect()
                            })
                            .unwrap_or_default();
                        if entries.is_empty() {
                            continue;
                        }
                        let name = &entries[r.below(entries.len())];
                        let script = format!("mv \"$M/{from}/{name}\" \"$M/{to}/\"");
                        t.tool(w.sh(&script), &format!("mv {from}/{name} -> {to}/"));
                    }
                    let _ = tx.send("mover");
                });
            }
            // lister: ls -lR of the whole account.
            {
                let (w, t, tx, st) = (world, tally.clone(), done_tx.clone(), stop.clone());
                s.spawn(move || {
                    let mut n = 0;
                    while (!st.load(Ordering::Relaxed) || n < 3) && n < 100 {
                        n += 1;
                        t.tool(w.sh("ls -lR \"$M\""), "ls -lR");
                    }
                    let _ = tx.send("lister");
                });
            }
            // reader: cmp every file of a folder with its original.
            {
                let (w, t, tx, st) = (world, tally.clone(), done_tx.clone(), stop.clone());
                let mut r = Xorshift::new(seeds[1]);
                s.spawn(move || {
                    let folders = ["Alpha", "Beta", "Gamma", ""];
                    let mut n = 0;
                    while (!st.load(Ordering::Relaxed) || n < 3) && n < 100 {
                        n += 1;
                        let from = folders[r.below(4)];
                        let dir = w.acct().join(from);
                        let Ok(rd) = std::fs::read_dir(&dir) else {
                            continue;
                        };
                        for e in rd.flatten() {
                            if !e.file_type().is_ok_and(|t| t.is_file()) {
                                continue;
                            }
                            let name = e.file_name().to_string_lossy().into_owned();
                            let script = format!("cmp \"$M/{from}/{name}\" \"$P/{name}\"");
                            t.tool(w.sh(&script), &format!("cmp {from}/{name}"));
                        }
                    }
                    let _ = tx.send("reader");
                });
            }
            // syncer: daemon syncs and CLI syncs, in turn or at the same time.
            {
                let (w, tx, outcomes) = (world, done_tx.clone(), &sync_outcomes);
                let overlap = sc.overlap;
                let (started, copied_all) = (&sync_started, &copier_done);
                s.spawn(move || {
                    let record =
                        |s: String| outcomes.lock().unwrap_or_else(|p| p.into_inner()).push(s);
                    started.store(true, Ordering::SeqCst);
                    // Daemon and CLI syncs in turn, until the copies are done.
                    let mut n = 0;
                    while !overlap && (n < 2 || !copied_all.load(Ordering::SeqCst)) && n < 20 {
                        n += 1;
                        if n % 2 == 1 {
                            record(w.control_sync());
                        } else {
                            let out = w.cli_sync(&[]);
                            record(format!(
                                "cli exit {:?}: {}",
                                out.status.code(),
                                text(&out.stdout)
                            ));
                        }
                    }
                    if overlap {
                        std::thread::scope(|s2| {
                            let h = s2.spawn(|| w.cli_sync(&[]));
                            record(w.control_sync());
                            let out = h.join().expect("cli sync thread");
                            record(format!(
                                "cli exit {:?}: {}",
                                out.status.code(),
                                text(&out.stdout)
                            ));
                        });
                    }
                    let _ = tx.send("syncer");
                });
            }
            drop(done_tx);
            // The watchdog: every worker must finish; the syncer and copier
            // decide when the others may stop.
            let end = Instant::now() + Duration::from_secs(240);
            let mut pending: BTreeSet<&str> =
                ["copier", "mover", "lister", "reader", "syncer"].into();
            while !pending.is_empty() {
                let left = end.saturating_duration_since(Instant::now());
                match done_rx.recv_timeout(left) {
                    Ok(who) => {
                        pending.remove(who);
                        if !pending.contains("copier") && !pending.contains("syncer") {
                            stop.store(true, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        // Release workers stuck in the mount before failing.
                        // SAFETY: killing our own child process.
                        unsafe { libc::kill(daemon_pid, libc::SIGKILL) };
                        panic!("HANG: workers {pending:?} did not finish (deadlock?)");
                    }
                }
            }
        });
        let outcomes = sync_outcomes.into_inner().unwrap_or_default();
        figs.syncs += outcomes.len();
        figs.operations += tally.ops.load(Ordering::Relaxed);
        for o in outcomes {
            assert!(!o.contains("exit None"), "a sync process died: {o}");
        }
        let errs = tally.errors.lock().unwrap_or_else(|p| p.into_inner());
        for (name, what) in errs.iter() {
            *figs.errors.entry(name.clone()).or_default() += 1;
            let explained =
                name == "ENOENT" && !what.starts_with("cp ") && !what.starts_with("mkdir");
            assert!(
                explained,
                "unexplained error {name} from `{what}`; all: {errs:?}"
            );
        }
    }
    figs.faults = w
        .emu
        .request_log()
        .iter()
        .filter(|c| c.fault.is_some())
        .count();
    // With faults off, syncs until one plans nothing.
    figs.converge_syncs = w.converge(true);
    // A separate process agrees that there is nothing to do.
    let out = w.cli_sync(&[]);
    assert!(
        out.status.success(),
        "final CLI sync: {}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains("0 uploads, 0 downloads, 0 set reassignments, 0 set creations"),
        "the CLI still has work after the daemon converged:\n{}",
        text(&out.stdout)
    );
    figs.syncs += figs.converge_syncs + 1;
    assert_converged(&w, &BTreeSet::new());
    let (_, counts) = flickr_view(&w);
    figs.duplicates = counts.values().filter(|n| **n > 1).map(|n| n - 1).sum();
    // Nothing lost: every copied file is in the default folder with its bytes,
    // and in the mount; every photo that was online still is.
    let stored: BTreeSet<String> = tree_sums(&w.default_folder).into_values().collect();
    let shown: BTreeSet<String> = mount_view(&w.acct()).into_values().flatten().collect();
    for (name, sum) in &copied {
        if !stored.contains(sum) || !shown.contains(sum) {
            figs.lost += 1;
            eprintln!(
                "LOST: {name} ({sum}) stored={} shown={}",
                stored.contains(sum),
                shown.contains(sum)
            );
        }
    }
    for sum in &ever_online {
        if !counts.contains_key(sum) {
            figs.lost += 1;
            eprintln!("LOST online: {sum}");
        }
    }
    assert_eq!(figs.lost, 0, "files lost");
    daemon.unmount();
    figs
}

fn print_figures(title: &str, f: &Figures, secs: f64) {
    println!("\n{title}");
    println!("| rounds | operations | tool errors | faults injected | syncs | duplicates online | files lost | seconds |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {:?} | {} | {} (converged in {}) | {} | {} | {:.1} |",
        f.rounds,
        f.operations,
        f.errors,
        f.faults,
        f.syncs,
        f.converge_syncs,
        f.duplicates,
        f.lost,
        secs
    );
}

fn faults() -> FaultConfig {
    FaultConfig {
        error_rate: 0.2,
        reset_rate: 0.05,
        latency_ms: 3,
        ..Default::default()
    }
}

#[test]
fn shell_tools_in_the_mount_while_syncs_run_under_faults_converge_and_lose_nothing() {
    let t = Instant::now();
    let f = scenario(&Scenario {
        rounds: 1,
        copies: 12,
        faults: faults(),
        overlap: false,
    });
    print_figures(
        "concurrency (daemon and CLI syncs in turn)",
        &f,
        t.elapsed().as_secs_f64(),
    );
    assert!(f.faults > 0, "faults were injected");
}

#[test]
fn a_cli_sync_and_a_daemon_sync_at_the_same_time_upload_nothing_twice() {
    let t = Instant::now();
    let f = scenario(&Scenario {
        rounds: 1,
        copies: 12,
        faults: faults(),
        overlap: true,
    });
    print_figures(
        "concurrency (daemon and CLI syncs at once)",
        &f,
        t.elapsed().as_secs_f64(),
    );
}

/// The long run behind scripts/stress.sh: STRESS_ROUNDS rounds (default 5)
/// of STRESS_COPIES copies (default 12), overlapping syncs when
/// STRESS_OVERLAP=1.
#[test]
#[ignore = "long: run by scripts/stress.sh"]
fn stress() {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let t = Instant::now();
    let f = scenario(&Scenario {
        rounds: env("STRESS_ROUNDS", 5),
        copies: env("STRESS_COPIES", 12),
        faults: faults(),
        overlap: env("STRESS_OVERLAP", 0) == 1,
    });
    print_figures("stress", &f, t.elapsed().as_secs_f64());
    println!(
        "STRESS_RESULT rounds={} operations={} faults={} syncs={} duplicates={} lost={} seconds={:.1}",
        f.rounds,
        f.operations,
        f.faults,
        f.syncs,
        f.duplicates,
        f.lost,
        t.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// SIGKILL of the mount daemon
// ---------------------------------------------------------------------------

#[test]
fn sigkill_of_the_mount_daemon_mid_copy_and_mid_sync_loses_nothing_and_uploads_nothing_twice() {
    crash_scenario(false);
}

#[test]
fn files_open_for_writing_when_the_daemon_is_killed_are_neither_uploaded_truncated_nor_stuck() {
    crash_scenario(true);
}

fn crash_scenario(with_half: bool) {
    let t = Instant::now();
    let w = World::new(None);
    let ids: Vec<String> = (0..3)
        .map(|i| w.seed_online(&format!("seed_{i:02}"), 500 + i))
        .collect();
    w.seed_set("Alpha", &ids[0..2]);
    w.add_account();
    let mut daemon = w.mount();
    let first = w.control_sync();
    assert!(first.starts_with("done"), "first sync: {first}");

    // --- 1. SIGKILL during copies into the mount ----------------------------
    let names: Vec<String> = (0..12).map(|i| format!("crash_{i:02}.jpg")).collect();
    for (i, n) in names.iter().enumerate() {
        w.original(n, 9000 + i as u64, 200);
    }
    let half = w.original("half.jpg", 8999, 200);
    // A writer holding a half-written file open at the moment of the kill.
    let open_file = with_half.then(|| {
        let mut f =
            std::fs::File::create(w.acct().join("Alpha/half.jpg")).expect("create in the mount");
        f.write_all(&half[..half.len() / 2])
            .expect("write the first half");
        f
    });
    // And one whose bytes are all written but which is not closed yet.
    let whole = w.original("whole.jpg", 8998, 200);
    let whole_file = with_half.then(|| {
        let mut f =
            std::fs::File::create(w.acct().join("Alpha/whole.jpg")).expect("create in the mount");
        f.write_all(&whole).expect("write all of it");
        f
    });
    let completed: Mutex<Vec<String>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        let (w, completed, names) = (&w, &completed, &names);
        let copier = s.spawn(move || {
            let mut failures = Vec::new();
            for n in names {
                let out = run(
                    w.sh(&format!("cp \"$P/{n}\" \"$M/Alpha/\"")),
                    &format!("cp {n}"),
                    OP_DEADLINE,
                );
                if out.status.success() {
                    completed
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(n.clone());
                } else {
                    failures.extend(errnos(&text(&out.stderr)));
                    break;
                }
            }
            failures
        });
        wait_for("four copies to complete", OP_DEADLINE, || {
            completed.lock().unwrap_or_else(|p| p.into_inner()).len() >= 4
        });
        daemon.kill();
        let failures = copier.join().expect("copier");
        // Copies after the kill fail with the stale mount's error, nothing else.
        for f in &failures {
            assert!(
                f == "ENOTCONN" || f == "ECONNABORTED",
                "after the kill cp met {f}: {failures:?}"
            );
        }
    });
    drop(open_file);
    drop(whole_file);
    let completed = completed.into_inner().unwrap_or_default();
    assert!(completed.len() >= 4);
    clear_stale(&w);
    assert_catalog_intact(&w);
    let mut daemon = w.mount();
    for n in &completed {
        let out = run(
            w.sh(&format!("cmp \"$M/Alpha/{n}\" \"$P/{n}\"")),
            &format!("cmp {n}"),
            OP_DEADLINE,
        );
        assert!(
            out.status.success(),
            "{n} was copied (cp exited 0) before the kill but is not intact after it: {}",
            text(&out.stderr)
        );
    }
    // The half-written file: if it is shown at all, it is shown as what is
    // on disk (never with the size of a complete photo).
    let half_path = w.acct().join("Alpha/half.jpg");
    let half_shown = std::fs::read(&half_path).ok();
    if let Some(b) = &half_shown {
        assert!(
            b.len() < half.len(),
            "a half-written file shown as complete"
        );
    }

    // --- 2. SIGKILL during a sync run by the daemon -------------------------
    let online_before = w.emu.photos(&w.nsid).len();
    w.emu.set_faults(FaultConfig {
        latency_ms: 150,
        ..Default::default()
    });
    std::fs::write(w.mnt.join(".flickrfs/sync"), "both\n").expect("request a sync");
    wait_for(
        "the daemon's sync to upload something",
        SYNC_DEADLINE,
        || w.emu.photos(&w.nsid).len() > online_before,
    );
    let state = read_state(&w.mnt.join(".flickrfs/sync"));
    assert!(state.starts_with("running"), "killed mid-sync: {state}");
    daemon.kill();
    clear_stale(&w);
    assert_catalog_intact(&w);
    let daemon = w.mount();
    let syncs = w.converge(true);
    // The cp that the kill interrupted (if it had started) is not judged
    // here: a_file_half_written_... covers such files deterministically.
    let exempt: BTreeSet<String> = names
        .get(completed.len())
        .and_then(|n| std::fs::read(w.acct().join("Alpha").join(n)).ok())
        .filter(|_| !with_half)
        .map(|b| sha1_hex(&b))
        .into_iter()
        .collect();
    assert_converged(&w, &exempt);
    // Nothing lost: every completed copy is intact, in the mount and stored.
    let stored: BTreeSet<String> = tree_sums(&w.default_folder).into_values().collect();
    for n in &completed {
        let sum = sha1_hex(&std::fs::read(w.photos.join(n)).expect("original"));
        assert!(stored.contains(&sum), "{n} is not in the default folder");
        let out = run(
            w.sh(&format!("cmp \"$M/Alpha/{n}\" \"$P/{n}\"")),
            &format!("cmp {n}"),
            OP_DEADLINE,
        );
        assert!(out.status.success(), "{n}: {}", text(&out.stderr));
    }
    let half_sum = half_shown.as_deref().map(sha1_hex);
    if let Some(sum) = &half_sum {
        let online = w.emu.photos(&w.nsid);
        assert!(
            !online.iter().any(|p| &p.sha1 == sum),
            "the half-written file ({} of {} bytes) was uploaded as a photo",
            half_shown.as_ref().map(Vec::len).unwrap_or(0),
            half.len()
        );
    }
    daemon.unmount();
    println!(
        "\ncrash: {} copies completed before the kill and survived; 2 daemon kills (mid-copy, mid-sync); \
         converged in {syncs} syncs; half-written file shown after remount: {}; {:.1} s",
        completed.len(),
        half_shown.as_ref().map(|b| format!("{} bytes", b.len())).unwrap_or_else(|| "no".into()),
        t.elapsed().as_secs_f64()
    );
}
