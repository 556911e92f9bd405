//! The mount daemon's engines, on threads of their own (started at their
//! first use, so inside the daemon after it has forked), never on a FUSE
//! thread: the sync worker that runs the syncs asked for through
//! `/.flickrfs/sync` one after the other and reports them on the status
//! board, auto-sync, and the fetcher of photos on demand.

use std::collections::HashMap;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::app::{now_secs, run_syncs, ApiOverrides, Session, SyncRun};
use crate::catalog::PhotoKey;
use crate::config::{AutoSync, Paths};
use crate::fs::Fetching;
use crate::model::Direction;

/// A sync for the worker, and who waits for its end (auto-sync does).
struct Job {
    req: crate::fs::SyncRequest,
    done: Option<mpsc::Sender<bool>>,
}

/// The sync engine inside the mount daemon: requests written to
/// `/.flickrfs/sync`, and auto-sync's, are queued to one worker thread
/// (started on the first request, so after the daemon has forked), which
/// runs them one after the other with its own catalog connection and
/// reports on the status board.
pub struct SyncEngine {
    paths: Paths,
    board: Arc<Mutex<crate::fs::StatusBoard>>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl SyncEngine {
    pub fn new(paths: Paths, board: Arc<Mutex<crate::fs::StatusBoard>>) -> Arc<SyncEngine> {
        Arc::new(SyncEngine {
            paths,
            board,
            jobs: Mutex::new(None),
        })
    }

    fn submit(&self, job: Job) -> Result<(), String> {
        let mut guard = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let (tx, rx) = mpsc::channel();
            let (paths, board) = (self.paths.clone(), self.board.clone());
            std::thread::Builder::new()
                .name("flickrfs-sync".into())
                .spawn(move || sync_worker(paths, board, rx))
                .map_err(|e| format!("cannot start the sync engine: {e}"))?;
            *guard = Some(tx);
        }
        guard
            .as_ref()
            .and_then(|tx| tx.send(job).ok())
            .ok_or_else(|| "the sync engine stopped".to_string())
    }

    /// What the mount calls for a request written to `/.flickrfs/sync`.
    pub fn hook(self: &Arc<Self>) -> crate::fs::SyncHook {
        let engine = self.clone();
        Arc::new(move |req: crate::fs::SyncRequest| {
            if let Err(e) = engine.submit(Job { req, done: None }) {
                set_state(&engine.board, format!("failed: {e}"));
            }
        })
    }

    /// Runs `req` after the ones queued before it; whether it went well.
    fn run_and_wait(&self, req: crate::fs::SyncRequest) -> bool {
        let (done, finished) = mpsc::channel();
        if self
            .submit(Job {
                req,
                done: Some(done),
            })
            .is_err()
        {
            return false;
        }
        finished.recv().unwrap_or(false)
    }

    /// Starts auto-sync (inside the daemon, once the mount serves): for
    /// every account whose `autosync` preference is `up` or `both`, a sync
    /// once local changes have settled (`autosync_delay`) and every
    /// `autosync_interval` to check Flickr, through the same worker as the
    /// control file (same lock, journal and guards: a plan the big-removal
    /// guard refuses is reported, never forced). Failures back off.
    pub fn start_autosync(self: &Arc<Self>) {
        let engine = self.clone();
        let spawned = std::thread::Builder::new()
            .name("flickrfs-autosync".into())
            .spawn(move || autosync_loop(&engine));
        if let Err(e) = spawned {
            tracing::warn!("auto-sync not started: {e}");
        }
    }
}

/// One account's auto-sync bookkeeping.
struct AutoState {
    /// When the last run started (a run is due `autosync_interval` later).
    last_run: Instant,
    /// Failed runs in a row, and when the next may start.
    failures: u32,
    next_allowed: Instant,
    last_result: Option<String>,
}

fn autosync_loop(engine: &SyncEngine) {
    let cat = match crate::catalog::Catalog::open(&engine.paths.catalog_db()) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("auto-sync disabled: {e}");
            return;
        }
    };
    let started = Instant::now();
    let mut seen = cat.generation().unwrap_or_default();
    let mut synced = seen;
    let mut changed_at = started;
    let mut states: HashMap<String, AutoState> = HashMap::new();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let config = match crate::config::Config::load(&engine.paths.config_file()) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!("auto-sync: {e}");
                continue;
            }
        };
        if let Ok(g) = cat.generation() {
            if g != seen {
                seen = g;
                changed_at = Instant::now();
            }
        }
        let mut lines = Vec::new();
        for (name, prefs) in &config.accounts {
            let direction = match prefs.autosync {
                AutoSync::Off => continue,
                AutoSync::Up => Direction::Up,
                AutoSync::Both => Direction::Both,
            };
            let delay = Duration::from_secs(prefs.autosync_delay);
            let interval = Duration::from_secs(prefs.autosync_interval);
            let st = states.entry(name.clone()).or_insert_with(|| AutoState {
                // the first check comes one delay after the mount, not one
                // interval
                last_run: Instant::now()
                    .checked_sub(interval.saturating_sub(delay))
                    .unwrap_or(started),
                failures: 0,
                next_allowed: Instant::now(),
                last_result: None,
            });
            let now = Instant::now();
            let local_due = seen != synced && now.duration_since(changed_at) >= delay;
            let periodic_due = now.duration_since(st.last_run) >= interval;
            if (local_due || periodic_due) && now >= st.next_allowed {
                let why = if local_due {
                    "local changes"
                } else {
                    "periodic check"
                };
                tracing::info!("auto-sync of {name}: {direction} ({why})");
                st.last_run = now;
                let ok = engine.run_and_wait(crate::fs::SyncRequest {
                    direction,
                    accounts: vec![name.clone()],
                    requested_at: now_secs(),
                    force: false,
                });
                synced = cat.generation().unwrap_or(seen);
                seen = synced;
                if ok {
                    st.failures = 0;
                    st.next_allowed = Instant::now();
                    st.last_result = Some(format!("{direction} sync ({why}) done"));
                } else {
                    st.failures += 1;
                    let backoff = Duration::from_secs(30 << st.failures.min(10)).min(interval);
                    st.next_allowed = Instant::now() + backoff;
                    st.last_result = Some(format!(
                        "{direction} sync ({why}) failed {} time(s) in a row; next try in {} s",
                        st.failures,
                        backoff.as_secs()
                    ));
                }
            }
            let next = st
                .next_allowed
                .max(st.last_run + interval)
                .saturating_duration_since(Instant::now());
            let mut line = format!(
                "auto-sync of {name} ({}): next check in {} s",
                prefs.autosync,
                next.as_secs()
            );
            if seen != synced {
                line.push_str("; local changes waiting to settle");
            }
            if let Some(r) = &st.last_result {
                line.push_str(&format!("; last: {r}"));
            }
            lines.push(line);
        }
        engine
            .board
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .autosync = lines;
    }
}

/// How long an open may wait for Flickr to answer at all: offline, it
/// fails within seconds instead of hanging the program that opened it.
const ON_DEMAND_CONNECT: std::time::Duration = std::time::Duration::from_secs(4);

/// Photos on demand inside the mount daemon: a photo opened before its
/// original is on disk is fetched by one worker thread (started once the
/// mount serves, after the daemon has forked, or at the first open),
/// through the sync's own download path (`sync::download`). The open gets
/// the download to follow (`fs::Fetching`) as soon as it is asked for;
/// its reads wait for their bytes. Two opens of one photo share one
/// download.
#[derive(Clone)]
pub struct OnDemand {
    paths: Paths,
    sender: Arc<Mutex<Option<FetchRequests>>>,
    in_flight: InFlight,
}

impl OnDemand {
    pub fn new(paths: Paths) -> OnDemand {
        OnDemand {
            paths,
            sender: Arc::default(),
            in_flight: Arc::default(),
        }
    }

    /// Starts the fetcher and has it make its Flickr clients now (about
    /// 0.1 s each: configuration, credentials, TLS roots), so that the
    /// first open waits only for Flickr. Call it once the mount serves.
    pub fn start(&self) -> Result<(), String> {
        let mut guard = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let (tx, rx) = mpsc::channel();
            let (paths, in_flight) = (self.paths.clone(), self.in_flight.clone());
            std::thread::Builder::new()
                .name("flickrfs-fetch".into())
                .spawn(move || fetcher(paths, rx, in_flight))
                .map_err(|e| format!("cannot start the fetcher: {e}"))?;
            *guard = Some(tx);
        }
        Ok(())
    }

    /// What the mount calls when a photo not on disk is opened.
    pub fn hook(&self) -> crate::fs::FetchHook {
        let this = self.clone();
        Arc::new(move |photo: PhotoKey| {
            let mut flights = this.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(f) = flights.get(&photo) {
                return Ok(f.clone());
            }
            this.start()?;
            let f = Fetching::new();
            let guard = this.sender.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(tx) = guard.as_ref() {
                tx.send((photo, f.clone()))
                    .map_err(|_| "the fetcher stopped".to_string())?;
            }
            flights.insert(photo, f.clone());
            Ok(f)
        })
    }
}

/// Where the mount sends the photos it wants fetched.
type FetchRequests = mpsc::Sender<(PhotoKey, Arc<Fetching>)>;

/// The downloads of photos on demand under way, by photo.
type InFlight = Arc<Mutex<HashMap<PhotoKey, Arc<Fetching>>>>;

/// Tells an open's reads how the download goes.
struct Streamed(Arc<Fetching>);

impl crate::flickr::DownloadWatch for Streamed {
    fn started(&self, file: std::fs::File, expected: Option<u64>) {
        self.0.started(file, expected);
    }
    fn wrote(&self, total: u64) {
        self.0.wrote(total);
    }
    fn complete(&self) {
        self.0.complete();
    }
}

/// The fetcher of photos on demand: one runtime and one client per account
/// for the daemon's life (a client made per photo paid its TLS setup and a
/// new connection every time), one task per photo, so a large original
/// does not hold up a small one.
fn fetcher(paths: Paths, rx: mpsc::Receiver<(PhotoKey, Arc<Fetching>)>, in_flight: InFlight) {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("flickrfs-fetch-1")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            for (_, f) in rx {
                f.finished(Err(format!("no runtime: {e}")));
            }
            return;
        }
    };
    let clients: Arc<tokio::sync::Mutex<FetchClients>> = Arc::default();
    {
        let (paths, clients) = (paths.clone(), clients.clone());
        rt.spawn(async move {
            let mut known = clients.lock().await;
            let made = tokio::task::spawn_blocking(move || on_demand_clients(&paths)).await;
            if let Ok(made) = made {
                known.extend(made);
            }
        });
    }
    for (photo, f) in rx {
        let (paths, in_flight, clients) = (paths.clone(), in_flight.clone(), clients.clone());
        let handle = rt.handle().clone();
        // the catalog connection is not `Sync`: each fetch runs on a
        // blocking thread of the runtime, its I/O on the runtime's driver
        rt.spawn_blocking(move || {
            let watch = Streamed(f.clone());
            let result = handle.block_on(fetch_one(&paths, &clients, photo, &watch));
            // a later open after a failure tries again
            in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&photo);
            f.finished(result);
        });
    }
}

/// A client for the fetcher: its connections fail fast (an open must not
/// hang offline) and it retries at most once.
fn on_demand_client(
    paths: &Paths,
    account: &crate::catalog::Account,
) -> Result<crate::flickr::Client, String> {
    let session =
        Session::open(paths.clone(), &ApiOverrides::default()).map_err(|e| e.to_string())?;
    let target = session
        .targets(&[])
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|t| t.account.id == account.id)
        .ok_or_else(|| format!("no credentials for {}", account.collection_name))?;
    let mut opts = session.client_options();
    opts.connect_timeout = ON_DEMAND_CONNECT;
    opts.retry.max_attempts = opts.retry.max_attempts.min(2);
    target
        .stored
        .client(
            session.endpoints.clone(),
            session.api().map_err(|e| e.to_string())?.clone(),
            opts,
        )
        .map_err(|e| e.to_string())
}

/// The fetcher's clients of the accounts with `download = on-demand`,
/// made ahead of their first open (an account it could not make one for
/// gets it at its first open, which then says why).
fn on_demand_clients(paths: &Paths) -> FetchClients {
    let Ok(session) = Session::open(paths.clone(), &ApiOverrides::default()) else {
        return FetchClients::new();
    };
    let Ok(targets) = session.targets(&[]) else {
        return FetchClients::new();
    };
    targets
        .into_iter()
        .filter(|t| t.prefs.download == crate::config::DownloadMode::OnDemand)
        .filter_map(|t| Some((t.account.id, on_demand_client(paths, &t.account).ok()?)))
        .collect()
}

/// Clients of the fetcher, by account, made ahead or at first use.
type FetchClients = HashMap<crate::catalog::AccountId, crate::flickr::Client>;

/// Downloads one photo's original for the mount.
async fn fetch_one(
    paths: &Paths,
    clients: &tokio::sync::Mutex<FetchClients>,
    photo: PhotoKey,
    watch: &Streamed,
) -> Result<(), String> {
    let at = paths.clone();
    let (cat, account) = tokio::task::spawn_blocking(move || {
        let paths = at;
        let cat = crate::catalog::Catalog::open(&paths.catalog_db()).map_err(|e| e.to_string())?;
        let account = cat
            .account(cat.photo(photo).map_err(|e| e.to_string())?.account)
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((cat, account))
    })
    .await
    .map_err(|e| e.to_string())??;
    let client = {
        let mut known = clients.lock().await;
        match known.get(&account.id) {
            Some(c) => c.clone(),
            None => {
                let (p, a) = (paths.clone(), account.clone());
                let c = tokio::task::spawn_blocking(move || on_demand_client(&p, &a))
                    .await
                    .map_err(|e| e.to_string())??;
                known.insert(account.id, c.clone());
                c
            }
        }
    };
    crate::sync::download::fetch_on_demand(&cat, &client, photo, &account.default_folder, watch)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn set_state(board: &std::sync::Mutex<crate::fs::StatusBoard>, state: String) {
    board.lock().unwrap_or_else(|p| p.into_inner()).sync_state = Some(state);
}

fn sync_worker(paths: Paths, board: Arc<Mutex<crate::fs::StatusBoard>>, rx: mpsc::Receiver<Job>) {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            set_state(&board, format!("failed: cannot start the sync engine: {e}"));
            return;
        }
    };
    while let Ok(Job { req, done }) = rx.recv() {
        let run = SyncRun {
            direction: req.direction,
            accounts: req.accounts.clone(),
            force: req.force,
            requester: crate::app::Requester::ControlFile,
            ..Default::default()
        };
        set_state(&board, format!("running: {} sync", run.direction));
        let outcome = Session::open(paths.clone(), &ApiOverrides::default()).and_then(|s| {
            s.api()?;
            let targets = s.targets(&run.accounts)?;
            rt.block_on(run_syncs(&s, &targets, &run, &mut |t| {
                Box::new(BoardProgress {
                    board: board.clone(),
                    account: t.stored.name.clone(),
                    direction: run.direction,
                    done: 0,
                })
            }))
        });
        let mut board = board.lock().unwrap_or_else(|p| p.into_inner());
        let (state, result) = match outcome {
            Ok(last) => {
                let text = last.text();
                board.last_plan = Some(text.clone());
                note_outcomes(&mut board, &last, req.force);
                let outcome = if last.accounts.iter().any(|a| a.refused) {
                    "refused"
                } else if last.ok() {
                    "done"
                } else {
                    "finished with failures"
                };
                let state = format!(
                    "{outcome}: {} sync finished at {}: {}",
                    run.direction,
                    crate::localtime::iso8601(last.finished_at),
                    text.lines().next().unwrap_or_default()
                );
                let result = crate::fs::SyncResult {
                    request: req,
                    finished_at: last.finished_at,
                    outcome: outcome.into(),
                    report: text.lines().map(str::to_owned).collect(),
                    refused: last
                        .accounts
                        .iter()
                        .filter(|a| a.refused)
                        .map(|a| a.account.clone())
                        .collect(),
                };
                (state, result)
            }
            Err(e) => {
                let result = crate::fs::SyncResult {
                    request: req,
                    finished_at: now_secs(),
                    outcome: "failed".into(),
                    report: vec![e.to_string()],
                    refused: Vec::new(),
                };
                (format!("failed: {e}"), result)
            }
        };
        // One lock for both: a reader never sees the new state without
        // its result.
        let ok = result.outcome == "done";
        board.sync_state = Some(state);
        board.record_result(result);
        drop(board);
        if let Some(d) = done {
            let _ = d.send(ok);
        }
    }
}

/// Puts what went wrong in each account's sync among the board's problems,
/// and takes back what no longer holds: once an account's sync ran (a
/// refused plan confirmed with `force`, or the cause gone), its earlier
/// refusals and stops are no longer shown as pending, and the results
/// that were refused say what became of them.
fn note_outcomes(board: &mut crate::fs::StatusBoard, last: &crate::app::LastSync, forced: bool) {
    for a in &last.accounts {
        let stopped = format!("{}: sync stopped: ", a.account);
        match &a.error {
            Some(e) => board.problem(format!("{stopped}{e}")),
            None => {
                board.problems.retain(|p| !p.starts_with(&stopped));
                for r in board.results.iter_mut() {
                    if r.refused.contains(&a.account) {
                        r.refused.retain(|x| x != &a.account);
                        r.outcome = if forced {
                            "refused, confirmed since"
                        } else {
                            "refused, settled by a later sync"
                        }
                        .into();
                    }
                }
            }
        }
        for f in &a.failed {
            board.problem(format!("{}: failed: {f}", a.account));
        }
    }
}

/// Progress shown in `/.flickrfs/sync` and `status` while the daemon syncs.
struct BoardProgress {
    board: std::sync::Arc<std::sync::Mutex<crate::fs::StatusBoard>>,
    account: String,
    direction: Direction,
    done: usize,
}

impl crate::sync::Progress for BoardProgress {
    fn starting(&mut self, index: usize, total: usize, _action: &crate::sync::Action, what: &str) {
        set_state(
            &self.board,
            format!(
                "running: {} sync of {}: {}/{} {what}",
                self.direction,
                self.account,
                index + 1,
                total
            ),
        );
    }
    fn finished(
        &mut self,
        _action: &crate::sync::Action,
        _result: Result<(), &crate::sync::execute::ExecError>,
    ) {
        self.done += 1;
    }
    fn failed(&mut self, line: &str) {
        self.board
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .problem(format!("{}: {line}", self.account));
    }
}

/// Each account's library index ([`crate::library`]) from its preferences;
/// accounts with the same folders share one. `mountpoint` is never walked.
pub fn libraries(
    session: &Session,
    targets: &[crate::app::Target],
    mountpoint: &std::path::Path,
) -> crate::fs::Libraries {
    let mut shared: HashMap<Vec<std::path::PathBuf>, Arc<crate::library::Library>> = HashMap::new();
    let mut out = crate::fs::Libraries::new();
    for t in targets {
        let skip = vec![mountpoint.to_path_buf()];
        if t.prefs.library.is_none() {
            // The default: the pictures folder and the account's default
            // folder, followed when the preference changes while mounted
            // (one library per account: it may move on its own).
            let default_folder = t.account.default_folder.clone();
            let pictures = session
                .config
                .library_folders(&session.paths, &t.stored.name)
                .into_iter()
                .filter(|f| {
                    *f != session
                        .config
                        .default_folder(&session.paths, &t.stored.name)
                })
                .collect();
            out.insert(
                t.account.id,
                Arc::new(crate::library::Library::following_default_folder(
                    pictures,
                    default_folder,
                    skip,
                )),
            );
            continue;
        }
        let mut folders = session
            .config
            .library_folders(&session.paths, &t.stored.name);
        if folders.is_empty() {
            continue;
        }
        folders.sort();
        let lib = shared
            .entry(folders.clone())
            .or_insert_with(|| Arc::new(crate::library::Library::new(folders, skip)))
            .clone();
        out.insert(t.account.id, lib);
    }
    out
}

/// Indexes every library in a thread of its own (call it once the daemon
/// serves, so after it has forked): the first copy then finds its index
/// ready instead of waiting for the walk.
pub fn warm_libraries(libraries: &crate::fs::Libraries) {
    let mut seen: Vec<*const crate::library::Library> = Vec::new();
    for lib in libraries.values() {
        if seen.contains(&Arc::as_ptr(lib)) {
            continue;
        }
        seen.push(Arc::as_ptr(lib));
        let lib = lib.clone();
        let _ = std::thread::Builder::new()
            .name("flickrfs-library".into())
            .spawn(move || lib.warm());
    }
}

/// How often the thumbnail engine looks at the catalog's generation.
const THUMBS_POLL: Duration = Duration::from_secs(2);
/// Small images fetched at once for thumbnails.
const THUMB_FETCHES: usize = 8;
/// After a pass that could not reach Flickr.
const THUMBS_RETRY: Duration = Duration::from_secs(60);
/// Flickr's "Small 320" is at most this large; anything larger is refused.
const THUMB_SOURCE_LIMIT: usize = 4 << 20;

/// Fills the freedesktop.org thumbnail cache from Flickr's small sizes for
/// the photos the mount lists but has not downloaded, in the accounts with
/// `download = on-demand` (see `thumbs.rs`), so
/// that a file manager shows them without fetching an original: once at
/// start, then whenever the catalog changed.
pub fn start_thumbnails(paths: Paths, mountpoint: std::path::PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("flickrfs-thumbs".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return tracing::warn!("thumbnails: no runtime: {e}"),
            };
            // one connection for the daemon's life, read every poll
            let cat = match crate::catalog::Catalog::open(&paths.catalog_db()) {
                Ok(c) => c,
                Err(e) => return tracing::warn!("thumbnails: {e}"),
            };
            let mut seen = None;
            loop {
                let mut wait = THUMBS_POLL;
                match thumbnail_scope(&cat, seen) {
                    Ok(None) => {}
                    Ok(Some((now, scope))) => {
                        match rt.block_on(thumbnail_pass(&paths, &mountpoint, scope.as_ref())) {
                            Ok(n) => {
                                if n > 0 {
                                    tracing::info!("thumbnails: {n} made from Flickr's sizes");
                                }
                                seen = Some(now);
                            }
                            // offline: tried again later, not at every poll
                            Err(e) => {
                                tracing::warn!("thumbnails: {e}");
                                wait = THUMBS_RETRY;
                            }
                        }
                    }
                    Err(e) => tracing::warn!("thumbnails: {e}"),
                }
                std::thread::sleep(wait);
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("thumbnails: cannot start: {e}");
    }
}

/// The photos a thumbnail pass looks at.
type PhotoScope = std::collections::HashSet<PhotoKey>;

/// What the next thumbnail pass looks at: nothing when the catalog has not
/// changed since `seen`; every photo at the first pass or after a change to
/// whole folders (a sync, a renamed set); else only the photos whose names
/// changed (a copy into the mount costs one photo's look, not the library's).
fn thumbnail_scope(
    cat: &crate::catalog::Catalog,
    seen: Option<crate::catalog::Generation>,
) -> Result<Option<(crate::catalog::Generation, Option<PhotoScope>)>, String> {
    let now = cat.generation().map_err(|e| e.to_string())?;
    let Some(seen) = seen else {
        return Ok(Some((now, None)));
    };
    if now == seen {
        return Ok(None);
    }
    let ch = cat.changes_since(seen).map_err(|e| e.to_string())?;
    if ch.everything || !ch.whole.is_empty() || !ch.accounts.is_empty() {
        return Ok(Some((ch.generation, None)));
    }
    let photos = ch.entries.iter().map(|(_, p)| *p).collect();
    Ok(Some((ch.generation, Some(photos))))
}

/// The URLs of Flickr's "Small 320", "Small" and "Thumbnail" sizes of a
/// photo, next to its original (`url_o`) on the same static host (or on
/// Flickr's), then the original itself: Flickr lists no size larger than
/// the original, so a small photo has no "Small 320".
fn small_urls(r: &crate::catalog::RemotePhoto) -> Vec<String> {
    let Some(secret) = r.secret.as_deref() else {
        return Vec::new();
    };
    let dir = match (&r.url_original, &r.server) {
        (Some(u), _) => match u.rsplit_once('/') {
            Some((d, _)) => d.to_owned(),
            None => return Vec::new(),
        },
        (None, Some(server)) => format!("https://live.staticflickr.com/{server}"),
        (None, None) => return Vec::new(),
    };
    let mut urls: Vec<String> = ["n", "m", "t"]
        .iter()
        .map(|s| format!("{dir}/{}_{secret}_{s}.jpg", r.id.as_str()))
        .collect();
    urls.extend(r.url_original.clone());
    urls
}

/// The first of `urls` Flickr has (a size it does not list answers 404);
/// `None` when it has none of them.
async fn fetch_first(
    client: &crate::flickr::Client,
    urls: &[String],
) -> Result<Option<Vec<u8>>, crate::flickr::FlickrError> {
    for url in urls {
        match client.fetch_small(url, THUMB_SOURCE_LIMIT).await {
            Ok(b) => return Ok(Some(b)),
            Err(crate::flickr::FlickrError::Http { status: 404, .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// One pass: every name (in every folder) of every photo in `scope` (all
/// when `None`) on Flickr but not on disk gets both thumbnails unless fresh
/// ones exist. One small image per photo, whatever its number of names.
/// Returns the thumbnails made.
async fn thumbnail_pass(
    paths: &Paths,
    mnt: &std::path::Path,
    scope: Option<&PhotoScope>,
) -> Result<usize, String> {
    use crate::catalog::CollectionKind;
    use crate::thumbs::{self, ThumbSize};
    use futures_util::StreamExt;
    let session =
        Session::open(paths.clone(), &ApiOverrides::default()).map_err(|e| e.to_string())?;
    let cat = session.catalog().map_err(|e| e.to_string())?;
    let targets = match session.targets(&[]) {
        Ok(t) => t,
        Err(crate::app::AppError::NoAccounts) => return Ok(0),
        Err(e) => return Err(e.to_string()),
    };
    let api = session.api().map_err(|e| e.to_string())?.clone();
    let root = thumbs::cache_root(&paths.home);
    let mut made = 0;
    for t in targets {
        // with `download = all` the originals come down and the file
        // manager thumbnails them itself: no request spent on a small size
        if t.prefs.download != crate::config::DownloadMode::OnDemand {
            continue;
        }
        let account = &t.account;
        let client = t
            .stored
            .client(
                session.endpoints.clone(),
                api.clone(),
                session.client_options(),
            )
            .map_err(|e| e.to_string())?;
        let folder_of = |c: &crate::catalog::Collection| {
            let acct = mnt.join(account.collection_name.as_str());
            match c.kind {
                CollectionKind::Root => acct,
                CollectionKind::Photoset(_) => acct.join(c.name.as_str()),
                CollectionKind::Pool(_) => {
                    acct.join(crate::catalog::POOLS_DIR).join(c.name.as_str())
                }
            }
        };
        let mut jobs = Vec::new();
        let photos = match scope {
            None => cat.photos(account.id).map_err(|e| e.to_string())?,
            Some(keys) => keys
                .iter()
                .filter_map(|k| cat.photo(*k).ok())
                .filter(|p| p.account == account.id)
                .collect(),
        };
        for p in photos {
            let on_disk = p.local.as_ref().is_some_and(|l| !l.missing);
            let Some(r) = p.remote.as_ref().filter(|r| !r.media_video) else {
                continue;
            };
            if p.ignored || on_disk {
                continue;
            }
            let urls = small_urls(r);
            if urls.is_empty() {
                continue;
            }
            let mut wanted = Vec::new();
            for c in cat.memberships(p.key).map_err(|e| e.to_string())? {
                let coll = cat.collection(c).map_err(|e| e.to_string())?;
                for e in cat.names_in(c, p.key).map_err(|e| e.to_string())? {
                    let uri = thumbs::file_uri(&folder_of(&coll).join(e.name.as_str()));
                    let mtime = e.mtime_ns.div_euclid(1_000_000_000);
                    if !ThumbSize::ALL
                        .iter()
                        .all(|s| thumbs::is_fresh(&root, *s, &uri, mtime))
                    {
                        wanted.push((uri, mtime));
                    }
                }
            }
            if !wanted.is_empty() {
                jobs.push((r.id.as_str().to_owned(), urls, wanted));
            }
        }
        // a few small images in flight at once: each is one round trip
        let mut fetched = futures_util::stream::iter(jobs)
            .map(|(id, urls, wanted)| {
                let client = &client;
                async move { (fetch_first(client, &urls).await, id, wanted) }
            })
            .buffer_unordered(THUMB_FETCHES);
        while let Some((got, id, wanted)) = fetched.next().await {
            // offline or refused: the pass stops, the next one tries again
            let Some(bytes) = got.map_err(|e| format!("photo {id}: {e}"))? else {
                tracing::warn!("thumbnails: photo {id}: Flickr has no small size");
                continue;
            };
            for (uri, mtime) in wanted {
                match thumbs::write(&root, &uri, mtime, &bytes) {
                    Ok(()) => made += 1,
                    Err(e) => tracing::warn!("thumbnail of {uri}: {e}"),
                }
            }
        }
    }
    Ok(made)
}
