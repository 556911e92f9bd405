//! The API-call budget: a token bucket per API key, shared by every client
//! in the process that uses the same key (Flickr counts calls per key, across
//! all the accounts that use it).
//!
//! When the bucket is empty the caller waits (and says so in the log); it
//! never fails. Photo file downloads are not API calls and do not draw from it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How many calls a key may make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained rate (Flickr: 3600 per hour per key).
    pub calls_per_hour: u32,
    /// How many calls may go out back to back after a quiet period.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            calls_per_hour: 3600,
            burst: 10,
        }
    }
}

/// Limiters by (REST endpoint, API key).
type Registry = HashMap<(String, String), Arc<RateLimiter>>;

/// A token bucket.
#[derive(Debug)]
pub struct RateLimiter {
    state: Mutex<Bucket>,
    /// When set, the bucket lives in this file (under an `flock`), so that
    /// the budget carries over from one run to the next and is shared by
    /// every process using the key.
    file: Mutex<Option<std::path::PathBuf>>,
    /// How long the latest caller waits for budget (`None`: nobody waits);
    /// see [`RateLimiter::waits`].
    waiting: tokio::sync::watch::Sender<Option<Duration>>,
}

#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    last: Instant,
    /// Set when the server said "too many requests": nobody calls before.
    held_until: Option<Instant>,
}

impl Bucket {
    fn rate_per_sec(&self) -> f64 {
        f64::from(self.limit.calls_per_hour.max(1)) / 3600.0
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        let cap = f64::from(self.limit.burst.max(1));
        self.tokens = (self.tokens + elapsed * self.rate_per_sec()).min(cap);
    }

    /// Takes a token, or says how long until one is there.
    fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        if let Some(until) = self.held_until {
            if until > now {
                return Err(until - now);
            }
            self.held_until = None;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - self.tokens;
            Err(Duration::from_secs_f64(missing / self.rate_per_sec()))
        }
    }
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        RateLimiter {
            state: Mutex::new(Bucket {
                limit,
                tokens: f64::from(limit.burst.max(1)),
                last: Instant::now(),
                held_until: None,
            }),
            file: Mutex::new(None),
            waiting: tokio::sync::watch::channel(None).0,
        }
    }

    /// Keeps the budget in `path` from now on: a later run (or another
    /// process) with the same file starts from what this one left.
    pub fn persist_to(&self, path: &std::path::Path) {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        *self.file.lock().unwrap_or_else(|p| p.into_inner()) = Some(path.to_path_buf());
    }

    /// The persisted bucket's turn: reads the file under an exclusive lock,
    /// refills it for the wall-clock time since it was written, takes a
    /// token or says how long to wait, and writes it back. Any I/O problem
    /// falls back to the in-memory bucket (the budget is a courtesy to
    /// Flickr, never a reason to fail).
    fn try_take_persisted(
        &self,
        path: &std::path::Path,
        limit: RateLimit,
    ) -> Option<Result<(), Duration>> {
        use std::io::{Read, Seek, Write};
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .ok()?;
        // SAFETY: flock on a descriptor we own; released when `f` closes.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return None;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs_f64();
        let cap = f64::from(limit.burst.max(1));
        let rate = f64::from(limit.calls_per_hour.max(1)) / 3600.0;
        let mut text = String::new();
        let _ = f.read_to_string(&mut text);
        // "tokens at_unix_seconds"; a new (empty) file starts full.
        let (tokens, at) = match text.split_once(' ') {
            Some((t, a)) => (t.trim().parse::<f64>().ok()?, a.trim().parse::<f64>().ok()?),
            None if text.trim().is_empty() => (cap, now),
            None => (0.0, now),
        };
        let mut tokens = (tokens + (now - at).max(0.0) * rate).min(cap);
        let outcome = if tokens >= 1.0 {
            tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / rate))
        };
        f.set_len(0).ok()?;
        f.rewind().ok()?;
        write!(f, "{tokens} {now}").ok()?;
        Some(outcome)
    }

    /// Follows the waits for budget: the receiver sees `Some(wait)` when a
    /// caller starts waiting that long, and `None` once calls go out again.
    /// For people-facing progress ("waiting for API budget (N s)"); a wait
    /// is never a failure.
    pub fn waits(&self) -> tokio::sync::watch::Receiver<Option<Duration>> {
        self.waiting.subscribe()
    }

    /// The limiter shared by every client using `api_key` against `rest_url`.
    /// If one exists with a looser limit, it is tightened to `limit`.
    pub fn shared(rest_url: &str, api_key: &str, limit: RateLimit) -> Arc<RateLimiter> {
        static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
        let registry = REGISTRY.get_or_init(Default::default);
        let mut map = registry.lock().unwrap_or_else(|p| p.into_inner());
        let limiter = map
            .entry((rest_url.to_owned(), api_key.to_owned()))
            .or_insert_with(|| Arc::new(RateLimiter::new(limit)))
            .clone();
        limiter.tighten(limit);
        limiter
    }

    fn tighten(&self, limit: RateLimit) {
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        b.refill(Instant::now());
        b.limit.calls_per_hour = b.limit.calls_per_hour.min(limit.calls_per_hour);
        b.limit.burst = b.limit.burst.min(limit.burst);
        b.tokens = b.tokens.min(f64::from(b.limit.burst.max(1)));
    }

    /// Stops every client of this key for `pause` (after an HTTP 429), and
    /// empties the bucket so calls resume at the sustained rate.
    pub fn hold_off(&self, pause: Duration) {
        let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let until = Instant::now() + pause;
        b.held_until = Some(b.held_until.map_or(until, |u| u.max(until)));
        b.tokens = 0.0;
        tracing::warn!(
            pause_ms = pause.as_millis() as u64,
            "Flickr said too many requests: pausing all calls of this API key"
        );
    }

    /// The limit in force.
    pub fn limit(&self) -> RateLimit {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).limit
    }

    /// Waits until a call may be made, then counts it. `what` names the call
    /// in the log line.
    pub async fn acquire(&self, what: &str) {
        loop {
            let wait = {
                let mut b = self.state.lock().unwrap_or_else(|p| p.into_inner());
                let file = self.file.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let held = b.held_until.is_some_and(|u| u > Instant::now());
                let outcome = match file {
                    Some(path) if !held => self
                        .try_take_persisted(&path, b.limit)
                        .unwrap_or_else(|| b.try_take(Instant::now())),
                    _ => b.try_take(Instant::now()),
                };
                match outcome {
                    Ok(()) => {
                        drop(b);
                        self.waiting.send_if_modified(|w| w.take().is_some());
                        return;
                    }
                    Err(wait) => wait,
                }
            };
            self.waiting.send_replace(Some(wait));
            tracing::info!(
                call = what,
                wait_ms = wait.as_millis() as u64,
                "waiting for API budget"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_persisted_budget_carries_over_to_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("budget");
        let limit = RateLimit {
            calls_per_hour: 36_000, // 10 per second
            burst: 3,
        };
        let first = RateLimiter::new(limit);
        first.persist_to(&file);
        for _ in 0..3 {
            first.acquire("t").await;
        }
        let emptied = Instant::now();
        // A second "run" with a fresh limiter finds the bucket empty: its
        // first calls wait for the sustained rate instead of a new burst.
        // Measured from when the bucket was emptied, so a slow machine
        // (time passing before the second run) cannot make it pass early
        // or fail.
        let second = RateLimiter::new(limit);
        second.persist_to(&file);
        for _ in 0..3 {
            second.acquire("t").await;
        }
        assert!(
            emptied.elapsed() >= Duration::from_millis(250),
            "three calls of a fresh run {:?} after the bucket was emptied",
            emptied.elapsed()
        );
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.split(' ').count(), 2, "{text}");
    }

    #[tokio::test]
    async fn burst_goes_through_then_calls_are_paced() {
        let limiter = RateLimiter::new(RateLimit {
            calls_per_hour: 36_000, // 10 per second
            burst: 3,
        });
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire("t").await;
        }
        assert!(start.elapsed() < Duration::from_millis(50));
        for _ in 0..5 {
            limiter.acquire("t").await;
        }
        // 5 more calls at 10/s need about 0.5 s.
        assert!(
            start.elapsed() >= Duration::from_millis(450),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn a_wait_for_budget_is_announced_to_observers_then_cleared() {
        let limiter = RateLimiter::new(RateLimit {
            calls_per_hour: 36_000, // 10 per second
            burst: 1,
        });
        let mut waits = limiter.waits();
        assert_eq!(*waits.borrow_and_update(), None);
        limiter.acquire("t").await;
        assert!(!waits.has_changed().unwrap_or(true), "no wait, no news");
        limiter.acquire("t").await; // waits about 100 ms
                                    // The wait was announced, then cleared when the call went out.
        assert!(waits.has_changed().unwrap_or(false));
        assert_eq!(*waits.borrow_and_update(), None);
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let (l2, s2) = (std::sync::Arc::new(limiter), seen.clone());
        let mut rx = l2.waits();
        let watcher = tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let v = *rx.borrow_and_update();
                s2.lock().unwrap_or_else(|p| p.into_inner()).push(v);
                if v.is_none() {
                    break;
                }
            }
        });
        l2.acquire("t").await;
        let _ = watcher.await;
        let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(
            matches!(seen.first(), Some(Some(w)) if *w > Duration::ZERO && *w <= Duration::from_millis(100)),
            "{seen:?}"
        );
        assert_eq!(seen.last(), Some(&None), "{seen:?}");
    }

    #[tokio::test]
    async fn hold_off_pauses_callers() {
        let limiter = RateLimiter::new(RateLimit {
            calls_per_hour: 3_600_000,
            burst: 100,
        });
        limiter.hold_off(Duration::from_millis(200));
        let start = Instant::now();
        limiter.acquire("t").await;
        assert!(start.elapsed() >= Duration::from_millis(190));
    }

    #[test]
    fn clients_with_the_same_key_share_one_bucket() {
        let limit = RateLimit::default();
        let a = RateLimiter::shared("http://h/rest", "key-shared-test", limit);
        let b = RateLimiter::shared("http://h/rest", "key-shared-test", limit);
        let c = RateLimiter::shared("http://h/rest", "another-key", limit);
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        let tighter = RateLimit {
            calls_per_hour: 100,
            burst: 2,
        };
        let d = RateLimiter::shared("http://h/rest", "key-shared-test", tighter);
        assert!(Arc::ptr_eq(&a, &d));
        assert_eq!(a.limit(), tighter);
    }
}
