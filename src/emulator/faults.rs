//! Fault injection and the request log.
//!
//! Faults are off by default. When on, every REST, upload, OAuth and photo
//! file request may be delayed (`latency_ms`), refused before it runs
//! (`error_rate`: HTTP 500/502/503 or Flickr error 105, so nothing changed),
//! cut off mid-body after it ran (`reset_rate`: the change happened but the
//! client never sees the reply), or rate limited (`rate_limit_per_hour`:
//! HTTP 429 beyond a rolling hour's budget). Deterministic knobs stand for
//! what another client or Flickr's own lag does: the next uploads stored
//! and their replies dropped (`drop_upload_replies`), a search index that
//! lags behind new uploads (`search_lag_secs`), and a change to a set made
//! by someone else right after a given call (`set_changes`). `/admin` is
//! never faulted.
//! The random choices come from a seeded generator so runs repeat.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde::{Deserialize, Serialize};

/// Which faults to inject. All off by default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultConfig {
    /// Probability (0..=1) that a request fails before it runs: HTTP 500,
    /// 502 or 503, or a Flickr error 105 "Service currently unavailable".
    pub error_rate: f64,
    /// Delay added to every faultable request.
    pub latency_ms: u64,
    /// Probability (0..=1) that a request runs but its reply is cut off
    /// mid-body (the connection is dropped).
    pub reset_rate: f64,
    /// Requests allowed in any rolling hour (REST, upload, OAuth); beyond it
    /// HTTP 429. 0 means unlimited.
    pub rate_limit_per_hour: u64,
    /// The next this-many uploads are stored, then their replies are cut
    /// off (the client never learns the photo id). Counts down.
    pub drop_upload_replies: u64,
    /// photos.search does not see photos uploaded less than this many
    /// seconds ago (Flickr's search index lags behind new uploads).
    pub search_lag_secs: u64,
    /// Changes to sets made "by someone else", each once, right after the
    /// first successful call of `after` on that set.
    pub set_changes: Vec<SetChange>,
    /// Photo files: only the first this-many bytes of a body are sent; the
    /// rest follows once this is set back to 0 (a stalled transfer). 0 is off.
    pub hold_file_bodies_after: u64,
}

/// A change to a set by another client, made right after a call of ours.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SetChange {
    /// The method whose successful call on `photoset_id` triggers it, e.g.
    /// `flickr.photosets.getPhotos`; `upload` for the next successful upload.
    pub after: String,
    /// The set changed; empty: the set the call named or created.
    pub photoset_id: String,
    /// Photos added to the set (at its end).
    pub add: Vec<String>,
    /// Photos removed from the set.
    pub remove: Vec<String>,
}

/// One request as the emulator saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedCall {
    /// `flickr.photos.search`, `upload`, `replace`, `oauth.request_token`,
    /// `oauth.authorize`, `oauth.access_token` or `photo_file`.
    pub method: String,
    /// Whether the caller got a successful reply.
    pub ok: bool,
    /// Flickr's error code when the reply was a Flickr error.
    pub code: Option<i64>,
    /// The HTTP status sent.
    pub http_status: u16,
    /// The injected fault, if any: `http_500`, `api_105`, `reset`, `rate_limited`.
    pub fault: Option<String>,
}

/// A fault decided before the request runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Injected {
    /// An HTTP error status with no Flickr body.
    Http(u16),
    /// Flickr error 105 in the endpoint's own format.
    Api105,
    /// HTTP 429 Too Many Requests.
    RateLimited,
}

impl Injected {
    pub fn label(self) -> String {
        match self {
            Injected::Http(s) => format!("http_{s}"),
            Injected::Api105 => "api_105".into(),
            Injected::RateLimited => "rate_limited".into(),
        }
    }
}

/// The run-time fault state shared by all handlers.
pub struct Faults {
    cfg: Mutex<FaultConfig>,
    rng: Mutex<StdRng>,
    window: Mutex<VecDeque<Instant>>,
    log: Mutex<Vec<LoggedCall>>,
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Faults {
    pub fn new(cfg: FaultConfig, seed: u64) -> Faults {
        Faults {
            cfg: Mutex::new(cfg),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            window: Mutex::new(VecDeque::new()),
            log: Mutex::new(Vec::new()),
            counts: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn config(&self) -> FaultConfig {
        self.cfg.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn set_config(&self, cfg: FaultConfig) {
        if let Ok(mut c) = self.cfg.lock() {
            *c = cfg;
        }
    }

    fn roll(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        self.rng
            .lock()
            .map(|mut r| r.random::<f64>() < p)
            .unwrap_or(false)
    }

    /// Applies latency, the rate limit (when `counted`) and the error rate.
    pub async fn before(&self, counted: bool) -> Option<Injected> {
        let cfg = self.config();
        if cfg.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(cfg.latency_ms)).await;
        }
        if counted && cfg.rate_limit_per_hour > 0 {
            let now = Instant::now();
            if let Ok(mut w) = self.window.lock() {
                while w
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(3600))
                {
                    w.pop_front();
                }
                if w.len() as u64 >= cfg.rate_limit_per_hour {
                    return Some(Injected::RateLimited);
                }
                w.push_back(now);
            }
        }
        if self.roll(cfg.error_rate) {
            let pick = self
                .rng
                .lock()
                .map(|mut r| r.random_range(0..4u8))
                .unwrap_or(0);
            return Some(match pick {
                0 => Injected::Http(500),
                1 => Injected::Http(502),
                2 => Injected::Http(503),
                _ => Injected::Api105,
            });
        }
        None
    }

    /// Whether this upload's reply is to be dropped after it is stored
    /// (counts `drop_upload_replies` down).
    pub fn take_upload_drop(&self) -> bool {
        let Ok(mut c) = self.cfg.lock() else {
            return false;
        };
        if c.drop_upload_replies == 0 {
            return false;
        }
        c.drop_upload_replies -= 1;
        true
    }

    /// The set change due after a successful `method` on `set` (any set
    /// for a call that names none, like `upload`), removed from the
    /// configuration so it happens once.
    pub fn take_set_change(&self, method: &str, set: Option<&str>) -> Option<SetChange> {
        let mut c = self.cfg.lock().ok()?;
        let i = c.set_changes.iter().position(|s| {
            s.after == method
                && (s.photoset_id.is_empty() || set.is_none_or(|x| x == s.photoset_id))
        })?;
        Some(c.set_changes.remove(i))
    }

    /// Whether this reply should be cut off mid-body.
    pub fn should_reset(&self) -> bool {
        let p = self.config().reset_rate;
        self.roll(p)
    }

    pub fn record(&self, call: LoggedCall) {
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(call.method.clone()).or_default() += 1;
        }
        if let Ok(mut l) = self.log.lock() {
            l.push(call);
        }
    }

    pub fn log(&self) -> Vec<LoggedCall> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.counts.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn reset_log(&self) {
        if let Ok(mut l) = self.log.lock() {
            l.clear();
        }
        if let Ok(mut c) = self.counts.lock() {
            c.clear();
        }
    }
}

/// A plain HTTP error page for an injected fault.
pub fn http_fault(status: u16) -> Response {
    let status =
        axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::BAD_GATEWAY);
    let mut r = Response::new(Body::from(format!(
        "<html><body><h1>{status}</h1><p>flickrfs emulator: injected fault</p></body></html>"
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// Rewrites a reply so its body stops halfway and the connection drops.
pub async fn cut_off(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
    parts.headers.remove(header::CONTENT_LENGTH);
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "flickrfs emulator: injected connection reset",
        )),
    ];
    let body = Body::from_stream(futures_util::stream::iter(chunks));
    Response::from_parts(parts, body)
}
