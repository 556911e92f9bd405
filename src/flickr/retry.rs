//! Retrying transient failures: exponential backoff with jitter, honouring
//! `Retry-After`. Which failures are transient is decided by
//! [`FlickrError::is_transient`]: network errors, HTTP 5xx and 429, and Flickr
//! codes 105/106. Signature, token and permission errors are never retried.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use super::error::FlickrError;

/// How hard to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total attempts, the first included (at least 1).
    pub max_attempts: u32,
    /// The delay before the second attempt; doubles after each failure.
    pub base_delay: Duration,
    /// The longest delay between attempts (a `Retry-After` may be longer, up to
    /// `max_retry_after`).
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt number `attempt` (1-based): a random
    /// point in the upper half of `base * 2^(attempt-1)`, capped; or the
    /// server's `Retry-After` when that is longer.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << (attempt.saturating_sub(1)).min(20))
            .min(self.max_delay);
        let jittered = if exp.is_zero() {
            exp
        } else {
            let half = exp / 2;
            half + Duration::from_secs_f64(rand::rng().random_range(0.0..=half.as_secs_f64()))
        };
        match retry_after {
            Some(ra) => jittered.max(ra.min(self.max_retry_after)),
            None => jittered,
        }
    }

    /// Runs an idempotent `op` until it succeeds, fails for good, or attempts
    /// run out. `what` names the operation in log lines.
    pub async fn run<T, F, Fut>(&self, what: &str, op: F) -> Result<T, FlickrError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, FlickrError>>,
    {
        self.run_with(what, Repeat::Safe, op).await
    }

    /// Like [`run`](Self::run); with [`Repeat::OnlyIfNotApplied`], a failure
    /// that may have taken effect (reply lost after sending) is not retried.
    pub async fn run_with<T, F, Fut>(
        &self,
        what: &str,
        repeat: Repeat,
        mut op: F,
    ) -> Result<T, FlickrError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, FlickrError>>,
    {
        let max = self.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            match op(attempt).await {
                Ok(v) => return Ok(v),
                Err(e) if repeat.allows(&e) && attempt < max => {
                    let wait = self.delay(attempt, e.retry_after());
                    tracing::warn!(
                        call = what,
                        attempt,
                        max_attempts = max,
                        wait_ms = wait.as_millis() as u64,
                        "transient failure, retrying: {e}"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Whether sending a request twice is harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Reads, and writes whose repetition is harmless (setting a title,
    /// adding to a set: "already in set" is a success).
    Safe,
    /// Writes that would happen twice (creating a set, uploading without
    /// `dedup_check`): retried only when the failure shows nothing happened.
    OnlyIfNotApplied,
}

impl Repeat {
    fn allows(self, e: &FlickrError) -> bool {
        match self {
            Repeat::Safe => e.is_transient(),
            Repeat::OnlyIfNotApplied => e.surely_not_applied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn fast() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            max_retry_after: Duration::from_millis(20),
        }
    }

    fn api(code: i64) -> FlickrError {
        FlickrError::Api {
            method: "m".into(),
            code,
            message: "x".into(),
        }
    }

    #[test]
    fn delays_grow_and_stay_capped() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..Default::default()
        };
        let d1 = p.delay(1, None);
        assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
        let d3 = p.delay(3, None);
        assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
        assert!(p.delay(30, None) <= Duration::from_secs(1));
        assert!(p.delay(1, Some(Duration::from_secs(3))) >= Duration::from_secs(3));
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_success() {
        let n = AtomicU32::new(0);
        let r = fast()
            .run("m", |_| async {
                if n.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(api(105))
                } else {
                    Ok(7)
                }
            })
            .await;
        assert_eq!(r.unwrap(), 7);
        assert_eq!(n.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn signature_errors_are_never_retried() {
        for code in [96, 97, 98, 99, 100] {
            let n = AtomicU32::new(0);
            let r: Result<(), _> = fast()
                .run("m", |_| async {
                    n.fetch_add(1, Ordering::SeqCst);
                    Err(api(code))
                })
                .await;
            assert_eq!(r.unwrap_err().code(), Some(code));
            assert_eq!(n.load(Ordering::SeqCst), 1);
        }
    }

    #[tokio::test]
    async fn gives_up_after_max_attempts() {
        let n = AtomicU32::new(0);
        let r: Result<(), _> = fast()
            .run("m", |_| async {
                n.fetch_add(1, Ordering::SeqCst);
                Err(api(106))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(n.load(Ordering::SeqCst), 4);
    }
}
