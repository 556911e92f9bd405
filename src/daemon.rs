//! The mount daemon's engines, on threads of their own (started at their
//! first use, so inside the daemon after it has forked), never on a FUSE
//! thread: the sync worker that runs the syncs asked for through
//! `/.flickrfs/sync` one after the other and reports them on the status
//! board, and the fetcher of photos on demand.

use crate::app::{now_secs, run_syncs, ApiOverrides, Session, SyncRun};
use crate::catalog::PhotoKey;
use crate::config::Paths;
use crate::model::Direction;

/// The sync engine inside the mount daemon: requests written to
/// `/.flickrfs/sync` are queued to one worker thread (started on the first
/// request, so after the daemon has forked), which runs them one after the
/// other with its own catalog connection and reports on the status board.
pub fn daemon_sync_hook(
    paths: Paths,
    board: std::sync::Arc<std::sync::Mutex<crate::fs::StatusBoard>>,
) -> crate::fs::SyncHook {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    let sender: Arc<Mutex<Option<mpsc::Sender<crate::fs::SyncRequest>>>> = Default::default();
    Arc::new(move |req: crate::fs::SyncRequest| {
        let mut guard = sender.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let (tx, rx) = mpsc::channel();
            let paths = paths.clone();
            let worker_board = board.clone();
            let spawned = std::thread::Builder::new()
                .name("flickrfs-sync".into())
                .spawn(move || sync_worker(paths, worker_board, rx));
            match spawned {
                Ok(_) => *guard = Some(tx),
                Err(e) => {
                    set_state(&board, format!("failed: cannot start the sync engine: {e}"));
                    return;
                }
            }
        }
        if let Some(tx) = guard.as_ref() {
            let _ = tx.send(req);
        }
    })
}

/// How long an open may wait for Flickr to answer at all: offline, it
/// fails within seconds instead of hanging the program that opened it.
const ON_DEMAND_CONNECT: std::time::Duration = std::time::Duration::from_secs(4);

/// Photos on demand inside the mount daemon: a photo opened before its
/// original is on disk is fetched by one worker thread (started at the
/// first open, so after the daemon has forked), through the sync's own
/// download path (`sync::download`), while the FUSE thread that asked
/// waits for the answer. Two opens of one photo share one download.
pub fn on_demand_hook(paths: Paths) -> crate::fs::FetchHook {
    use std::collections::HashMap;
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};
    type Reply = mpsc::Sender<Result<(), String>>;
    type Requests = mpsc::Sender<(PhotoKey, Reply)>;
    let sender: Arc<Mutex<Option<Requests>>> = Default::default();
    Arc::new(move |photo: PhotoKey| {
        let (reply, answer) = mpsc::channel();
        {
            let mut guard = sender.lock().unwrap_or_else(|p| p.into_inner());
            if guard.is_none() {
                let (tx, rx) = mpsc::channel::<(PhotoKey, Reply)>();
                let paths = paths.clone();
                std::thread::Builder::new()
                    .name("flickrfs-fetch".into())
                    .spawn(move || {
                        let waiting: Arc<Mutex<HashMap<PhotoKey, Vec<Reply>>>> = Arc::default();
                        for (photo, r) in rx {
                            let first = {
                                let mut w = waiting.lock().unwrap_or_else(|p| p.into_inner());
                                let list = w.entry(photo).or_default();
                                list.push(r);
                                list.len() == 1
                            };
                            if !first {
                                continue;
                            }
                            // one thread per photo being fetched: a large
                            // original does not hold up a small one
                            let (paths, waiting_here) = (paths.clone(), waiting.clone());
                            let spawned = std::thread::Builder::new()
                                .name("flickrfs-fetch-1".into())
                                .spawn(move || {
                                    let result = tokio::runtime::Builder::new_current_thread()
                                        .enable_all()
                                        .build()
                                        .map_err(|e| format!("no runtime: {e}"))
                                        .and_then(|rt| rt.block_on(fetch_one(&paths, photo)));
                                    let replies = waiting_here
                                        .lock()
                                        .unwrap_or_else(|p| p.into_inner())
                                        .remove(&photo)
                                        .unwrap_or_default();
                                    for r in replies {
                                        let _ = r.send(result.clone());
                                    }
                                });
                            if let Err(e) = spawned {
                                let replies = waiting
                                    .lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .remove(&photo)
                                    .unwrap_or_default();
                                for r in replies {
                                    let _ = r.send(Err(format!("cannot start a download: {e}")));
                                }
                            }
                        }
                    })
                    .map_err(|e| format!("cannot start the fetcher: {e}"))?;
                *guard = Some(tx);
            }
            if let Some(tx) = guard.as_ref() {
                tx.send((photo, reply))
                    .map_err(|_| "the fetcher stopped".to_string())?;
            }
        }
        answer
            .recv()
            .map_err(|_| "the fetcher stopped".to_string())?
    })
}

/// Downloads one photo's original for the mount.
async fn fetch_one(paths: &Paths, photo: PhotoKey) -> Result<(), String> {
    let session =
        Session::open(paths.clone(), &ApiOverrides::default()).map_err(|e| e.to_string())?;
    let cat = session.catalog().map_err(|e| e.to_string())?;
    let account = cat
        .account(cat.photo(photo).map_err(|e| e.to_string())?.account)
        .map_err(|e| e.to_string())?;
    let target = session
        .targets(&[])
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|t| t.account.id == account.id)
        .ok_or_else(|| format!("no credentials for {}", account.collection_name))?;
    let mut opts = session.client_options();
    opts.connect_timeout = ON_DEMAND_CONNECT;
    opts.retry.max_attempts = opts.retry.max_attempts.min(2);
    let client = target
        .stored
        .client(
            session.endpoints.clone(),
            session.api().map_err(|e| e.to_string())?.clone(),
            opts,
        )
        .map_err(|e| e.to_string())?;
    crate::sync::download::fetch_on_demand(&cat, &client, photo, &account.default_folder)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn set_state(board: &std::sync::Mutex<crate::fs::StatusBoard>, state: String) {
    board.lock().unwrap_or_else(|p| p.into_inner()).sync_state = Some(state);
}

fn sync_worker(
    paths: Paths,
    board: std::sync::Arc<std::sync::Mutex<crate::fs::StatusBoard>>,
    rx: std::sync::mpsc::Receiver<crate::fs::SyncRequest>,
) {
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
    while let Ok(req) = rx.recv() {
        let run = SyncRun {
            direction: req.direction,
            accounts: req.accounts.clone(),
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
                for line in text.lines() {
                    if line.trim_start().starts_with("failed") || line.contains("stopped") {
                        board.problem(line.trim().to_owned());
                    }
                }
                let outcome = if last.ok() {
                    "done"
                } else {
                    "finished with failures"
                };
                let state = format!(
                    "{outcome}: {} sync finished at {}: {}",
                    run.direction,
                    last.finished_at,
                    text.lines().next().unwrap_or_default()
                );
                let result = crate::fs::SyncResult {
                    request: req,
                    finished_at: last.finished_at,
                    outcome: outcome.into(),
                    report: text.lines().map(str::to_owned).collect(),
                };
                (state, result)
            }
            Err(e) => {
                let result = crate::fs::SyncResult {
                    request: req,
                    finished_at: now_secs(),
                    outcome: "failed".into(),
                    report: vec![e.to_string()],
                };
                (format!("failed: {e}"), result)
            }
        };
        // One lock for both: a reader never sees the new state without
        // its result.
        board.sync_state = Some(state);
        board.record_result(result);
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
