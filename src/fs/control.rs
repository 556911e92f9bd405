//! The control files in `/.flickrfs/`: parsing what is written to `sync`,
//! and rendering `sync`, `status`, `status.json` and `plan`.
//!
//! A valid write to `sync` becomes a [`SyncRequest`], recorded in the
//! [`StatusBoard`] and handed to the hook given in `MountOptions` (the sync
//! engine, when it runs inside the daemon). Problems met by the mount
//! (bad names, missing backing files, garbage in control files, files that
//! will not be uploaded) are recorded here too, one line each.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::model::Direction;

/// A sync asked for through `/.flickrfs/sync`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncRequest {
    pub direction: Direction,
    /// Account (collection folder) names; empty means all accounts.
    pub accounts: Vec<String>,
    /// Seconds since the epoch.
    pub requested_at: u64,
    /// Confirms a plan the big-removal guard refuses (the word `force`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

impl std::fmt::Display for SyncRequest {
    /// As it would be written to `sync`: `down force alice`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.direction)?;
        if self.force {
            f.write_str(" force")?;
        }
        for a in &self.accounts {
            write!(f, " {a}")?;
        }
        Ok(())
    }
}

/// Called (on the FUSE thread, so it must return quickly: send it to a
/// channel or spawn) for every valid request written to `sync`.
pub type SyncHook = Arc<dyn Fn(SyncRequest) + Send + Sync>;

/// Called on a FUSE thread when a photo that is on Flickr but not on disk
/// is opened: starts bringing its original down into the default folder
/// (the daemon's fetcher does it, on its own threads, and records it in
/// the catalog) and returns at once with the download to follow, the same
/// one for every open while it runs.
pub type FetchHook = Arc<
    dyn Fn(crate::catalog::PhotoKey) -> Result<Arc<super::fetching::Fetching>, String>
        + Send
        + Sync,
>;

/// The word that confirms a plan the big-removal guard refused.
pub const FORCE: &str = "force";

/// Parse what was written to `sync`: `both|up|down [force] [account ...]`,
/// or `force` alone (a two-way sync, confirmed), one request per non-empty
/// line. `force` is a keyword wherever it stands, never an account name.
pub fn parse_sync_requests(text: &str) -> Result<Vec<SyncRequest>, String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace().peekable();
        let Some(first) = words.peek().copied() else {
            continue;
        };
        let direction: Direction = if first == FORCE {
            Direction::Both
        } else {
            words.next();
            first.parse()?
        };
        let (force, accounts): (Vec<&str>, Vec<&str>) = words.partition(|w| *w == FORCE);
        out.push(SyncRequest {
            direction,
            accounts: accounts.into_iter().map(str::to_owned).collect(),
            requested_at: now_secs(),
            force: !force.is_empty(),
        });
    }
    if out.is_empty() {
        return Err(
            "empty request: write both, up or down, optionally followed by force and account names"
                .into(),
        );
    }
    Ok(out)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

const MAX_PROBLEMS: usize = 500;
/// How many finished syncs `status` keeps.
pub const MAX_RESULTS: usize = 20;

/// One finished sync run by the daemon, as `status` keeps it: a sync
/// queued behind another gets its own result instead of replacing it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncResult {
    /// The request it answered.
    pub request: SyncRequest,
    /// Seconds since the epoch.
    pub finished_at: u64,
    /// `done`, `finished with failures`, `failed`, `refused` (the
    /// big-removal guard; `refused, confirmed since` once a forced sync ran).
    pub outcome: String,
    /// What it did, per account (or why it failed), one line each.
    pub report: Vec<String>,
    /// Accounts whose plan the big-removal guard refused, until a later
    /// sync of theirs runs (see `daemon::note_outcomes`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
}

/// What `status` shows; shared by the mount and the sync hook.
#[derive(Debug, Default, Serialize)]
pub struct StatusBoard {
    /// The sync engine's own words about its state (set by the hook's owner).
    pub sync_state: Option<String>,
    /// Requests written to `sync`, oldest first.
    pub requests: Vec<SyncRequest>,
    /// Whether a sync engine receives the requests.
    pub engine_attached: bool,
    /// Problems and notices, newest last (bounded).
    pub problems: VecDeque<String>,
    /// What the last sync run by the engine planned and did, per account
    /// (its summary lines), shown in `plan` under the catalog's counts.
    pub last_plan: Option<String>,
    /// The last [`MAX_RESULTS`] finished syncs, oldest first.
    pub results: VecDeque<SyncResult>,
    /// Auto-sync's state, one line per account it syncs.
    pub autosync: Vec<String>,
}

impl StatusBoard {
    /// Keeps a finished sync's result (the oldest goes past [`MAX_RESULTS`]).
    pub fn record_result(&mut self, result: SyncResult) {
        if self.results.len() >= MAX_RESULTS {
            self.results.pop_front();
        }
        self.results.push_back(result);
    }

    pub fn problem(&mut self, line: impl Into<String>) {
        let line = line.into();
        if self.problems.back() == Some(&line) {
            return;
        }
        if self.problems.len() >= MAX_PROBLEMS {
            self.problems.pop_front();
        }
        self.problems.push_back(line);
    }

    /// The text of `sync` when read.
    pub fn sync_text(&self) -> String {
        let mut s = String::new();
        match (&self.sync_state, self.requests.last()) {
            (Some(state), _) => s.push_str(&format!("{state}\n")),
            (None, Some(r)) => s.push_str(&format!("requested: {r}\n")),
            (None, None) => s.push_str("idle\n"),
        }
        if !self.requests.is_empty() && !self.engine_attached {
            s.push_str(
                "waiting: the sync engine is not running in this mount; run `flickrfs sync`\n",
            );
        }
        s.push_str("write \"both\", \"up\" or \"down\" (optionally followed by account names) to request a sync; \"force\" after the direction confirms a plan the big-removal guard refused\n");
        s
    }

    /// The text of `status`.
    pub fn status_text(&self, catalog_lines: &[String]) -> String {
        let mut s = String::from("flickrfs status\n");
        s.push_str(&format!(
            "sync: {}",
            self.sync_text().lines().next().unwrap_or("idle")
        ));
        s.push('\n');
        for r in &self.requests {
            s.push_str(&format!(
                "sync request: {r} at {}{}\n",
                crate::localtime::iso8601(r.requested_at),
                if self.engine_attached {
                    ""
                } else {
                    " (recorded, waiting for the sync engine)"
                }
            ));
        }
        for l in &self.autosync {
            s.push_str(l);
            s.push('\n');
        }
        if !self.results.is_empty() {
            s.push_str(&format!(
                "syncs ({} finished, the last {MAX_RESULTS} kept, oldest first):\n",
                self.results.len()
            ));
            for r in &self.results {
                s.push_str(&format!(
                    "  {}: {} sync requested at {}, finished at {}\n",
                    r.outcome,
                    r.request,
                    crate::localtime::iso8601(r.request.requested_at),
                    crate::localtime::iso8601(r.finished_at)
                ));
                for line in &r.report {
                    s.push_str("    ");
                    s.push_str(line);
                    s.push('\n');
                }
            }
        }
        for l in catalog_lines {
            s.push_str(l);
            s.push('\n');
        }
        if !self.problems.is_empty() {
            s.push_str(&format!("problems ({}):\n", self.problems.len()));
            for p in &self.problems {
                s.push_str("  ");
                s.push_str(p);
                s.push('\n');
            }
        }
        s
    }

    /// The text of `status.json`: times in seconds since the epoch
    /// (`finished_at`) and as local ISO 8601 beside them (`finished_at_iso`).
    pub fn status_json(&self, catalog_lines: &[String]) -> String {
        let mut v = serde_json::json!({
            "sync_state": self.sync_state,
            "engine_attached": self.engine_attached,
            "requests": self.requests,
            "results": self.results,
            "autosync": self.autosync,
            "catalog": catalog_lines,
            "problems": self.problems,
        });
        crate::localtime::add_iso_times(&mut v);
        let mut s = serde_json::to_string_pretty(&v).unwrap_or_else(|_| "{}".into());
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finished_sync_keeps_its_result_up_to_the_bound() {
        let mut b = StatusBoard::default();
        let result = |i: u64, dir: Direction| SyncResult {
            request: SyncRequest {
                direction: dir,
                accounts: vec![],
                requested_at: i,
                force: false,
            },
            finished_at: 100 + i,
            outcome: "done".into(),
            report: vec![format!("alice: run {i}")],
            refused: Vec::new(),
        };
        b.record_result(result(1, Direction::Up));
        b.record_result(result(2, Direction::Down));
        let text = b.status_text(&[]);
        let iso = crate::localtime::iso8601;
        let line = |i: u64, dir: &str| {
            format!(
                "done: {dir} sync requested at {}, finished at {}",
                iso(i),
                iso(100 + i)
            )
        };
        assert!(text.contains(&line(1, "up")), "{text}");
        assert!(text.contains(&line(2, "down")), "{text}");
        assert!(!text.contains("finished at 101"), "{text}");
        assert!(text.contains("alice: run 1") && text.contains("alice: run 2"));
        for i in 3..=(MAX_RESULTS as u64 + 5) {
            b.record_result(result(i, Direction::Both));
        }
        assert_eq!(b.results.len(), MAX_RESULTS);
        assert_eq!(b.results.front().unwrap().request.requested_at, 6);
        let json: serde_json::Value = serde_json::from_str(&b.status_json(&[])).unwrap();
        assert_eq!(json["results"].as_array().unwrap().len(), MAX_RESULTS);
        let last = &json["results"][MAX_RESULTS - 1];
        let n = MAX_RESULTS as u64 + 5;
        assert_eq!(last["finished_at"], 100 + n);
        assert_eq!(last["finished_at_iso"], iso(100 + n));
        assert_eq!(last["request"]["requested_at_iso"], iso(n));
    }

    #[test]
    fn sync_requests_parse_and_garbage_is_refused() {
        let r = parse_sync_requests("up alice bob\n").unwrap();
        assert_eq!(r[0].direction, Direction::Up);
        assert_eq!(r[0].accounts, vec!["alice", "bob"]);
        assert_eq!(parse_sync_requests("both").unwrap()[0].accounts.len(), 0);
        assert!(parse_sync_requests("sideways\n").is_err());
        let r = parse_sync_requests("down force alice\nforce\nup alice force\n").unwrap();
        assert_eq!(
            r.iter()
                .map(|r| (r.direction, r.force, r.accounts.clone()))
                .collect::<Vec<_>>(),
            vec![
                (Direction::Down, true, vec!["alice".to_owned()]),
                (Direction::Both, true, vec![]),
                (Direction::Up, true, vec!["alice".to_owned()]),
            ]
        );
        assert_eq!(r[0].to_string(), "down force alice");
        assert!(!parse_sync_requests("both").unwrap()[0].force);
        assert!(parse_sync_requests("\n\n").is_err());
        assert!(parse_sync_requests("\u{0}\u{1}garbage").is_err());
    }
}
