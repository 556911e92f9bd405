//! The [`Client`] handle: where each service lives ([`Endpoints`]), its
//! tuning ([`ClientOptions`]), and the one signed REST call every method goes
//! through (budget, retries, Flickr's envelope).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;

use super::credentials::{AccessToken, ApiCredentials};
use super::decode;
use super::error::{snippet, FlickrError, Result};
use super::ratelimit::{RateLimit, RateLimiter};
use super::retry::{Repeat, RetryPolicy};
use super::sign::{self, OAuthExtras, SigningKeys};

/// Where each Flickr service lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub rest: String,
    pub upload: String,
    pub replace: String,
    pub oauth_request_token: String,
    pub oauth_authorize: String,
    pub oauth_access_token: String,
}

impl Endpoints {
    /// The real Flickr.
    pub fn flickr() -> Self {
        Endpoints {
            rest: "https://api.flickr.com/services/rest/".into(),
            upload: "https://up.flickr.com/services/upload/".into(),
            replace: "https://up.flickr.com/services/replace/".into(),
            oauth_request_token: "https://www.flickr.com/services/oauth/request_token".into(),
            oauth_authorize: "https://www.flickr.com/services/oauth/authorize".into(),
            oauth_access_token: "https://www.flickr.com/services/oauth/access_token".into(),
        }
    }

    /// The emulator's layout under `base` (e.g. `http://127.0.0.1:8080`).
    pub fn local(base: &str) -> Self {
        let base = base.trim_end_matches('/');
        Endpoints {
            rest: format!("{base}/services/rest/"),
            upload: format!("{base}/services/upload/"),
            replace: format!("{base}/services/replace/"),
            oauth_request_token: format!("{base}/services/oauth/request_token"),
            oauth_authorize: format!("{base}/services/oauth/authorize"),
            oauth_access_token: format!("{base}/services/oauth/access_token"),
        }
    }

    fn all(&self) -> [(&'static str, &str); 6] {
        [
            ("rest", &self.rest),
            ("upload", &self.upload),
            ("replace", &self.replace),
            ("oauth_request_token", &self.oauth_request_token),
            ("oauth_authorize", &self.oauth_authorize),
            ("oauth_access_token", &self.oauth_access_token),
        ]
    }
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints::flickr()
    }
}

/// Tuning knobs of a [`Client`].
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// The call budget of the API key (shared by all clients of the key).
    pub rate_limit: RateLimit,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Time limit for one REST call, reply included.
    pub request_timeout: Duration,
    /// Time limit for establishing a connection.
    pub connect_timeout: Duration,
    /// Longest silence while streaming an upload or a download.
    pub read_timeout: Duration,
    pub user_agent: String,
    /// Where the API budget is kept between runs (see
    /// [`RateLimiter::persist_to`]); `None` keeps it in memory only.
    pub budget_file: Option<std::path::PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            rate_limit: RateLimit::default(),
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
            user_agent: concat!("flickrfs/", env!("CARGO_PKG_VERSION")).into(),
            budget_file: None,
        }
    }
}

/// Whether a REST method reads (GET) or writes (POST).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    Read,
    Write,
}

/// An async Flickr client for one API key and (optionally) one account.
#[derive(Clone)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) endpoints: Endpoints,
    pub(super) api: ApiCredentials,
    pub(super) token: Option<AccessToken>,
    pub(super) options: ClientOptions,
    pub(super) limiter: Arc<RateLimiter>,
    /// REST and upload requests sent by this client (each retry counts):
    /// what a sync reports as the API calls it made.
    pub(super) calls: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.inner.endpoints)
            .field("api", &self.inner.api)
            .field("token", &self.inner.token)
            .finish()
    }
}

impl Client {
    /// A client for `api`, signing with `token` when given (the OAuth dance
    /// itself runs without one).
    pub fn new(
        endpoints: Endpoints,
        api: ApiCredentials,
        token: Option<AccessToken>,
        options: ClientOptions,
    ) -> Result<Self> {
        for (name, url) in endpoints.all() {
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| FlickrError::Config(format!("endpoint {name} {url:?}: {e}")))?;
            if parsed.query().is_some() {
                return Err(FlickrError::Config(format!(
                    "endpoint {name} {url:?} must not carry a query"
                )));
            }
        }
        if api.key.is_empty() || api.secret.is_empty() {
            return Err(FlickrError::Config(
                "the API key and secret must not be empty".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .user_agent(options.user_agent.clone())
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .build()
            .map_err(|e| FlickrError::Config(format!("HTTP client: {e}")))?;
        let limiter = RateLimiter::shared(&endpoints.rest, &api.key, options.rate_limit);
        if let Some(file) = &options.budget_file {
            limiter.persist_to(file);
        }
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                endpoints,
                api,
                token,
                options,
                limiter,
                calls: Default::default(),
            }),
        })
    }

    /// The same key and endpoints, signing with another token (e.g. after the
    /// OAuth dance). Shares the call budget.
    pub fn with_token(&self, token: AccessToken) -> Client {
        Client {
            inner: Arc::new(Inner {
                http: self.inner.http.clone(),
                endpoints: self.inner.endpoints.clone(),
                api: self.inner.api.clone(),
                token: Some(token),
                options: self.inner.options.clone(),
                limiter: self.inner.limiter.clone(),
                calls: Default::default(),
            }),
        }
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.inner.endpoints
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// The call budget this client draws from.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.inner.limiter
    }

    /// REST and upload requests this client has sent so far (retries
    /// included; photo file downloads are not API calls).
    pub fn calls_made(&self) -> u64 {
        self.inner.calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts one request about to be sent (after the budget allowed it).
    pub(crate) fn count_call(&self) {
        self.inner
            .calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn has_token(&self) -> bool {
        self.inner.token.is_some()
    }

    pub(super) fn keys(&self) -> SigningKeys<'_> {
        SigningKeys {
            consumer_key: &self.inner.api.key,
            consumer_secret: &self.inner.api.secret,
            token: self
                .inner
                .token
                .as_ref()
                .map(|t| (t.token.as_str(), t.secret.as_str())),
        }
    }

    /// After an HTTP 429, pauses every client of the key for the server's
    /// `Retry-After` (or the retry base delay), within the retry policy's cap.
    pub(crate) fn note_overload<T>(&self, result: &Result<T>) {
        if let Err(FlickrError::Http {
            status: 429,
            retry_after,
            ..
        }) = result
        {
            let policy = &self.inner.options.retry;
            let pause = retry_after
                .unwrap_or(policy.base_delay)
                .min(policy.max_retry_after);
            self.inner.limiter.hold_off(pause);
        }
    }

    pub(super) fn require_token(&self, method: &str) -> Result<()> {
        if self.has_token() {
            Ok(())
        } else {
            Err(FlickrError::NotAuthorised {
                method: method.to_owned(),
            })
        }
    }

    /// Calls a REST method with retries and the call budget; returns the
    /// checked (`stat: ok`) reply.
    pub(crate) async fn rest(
        &self,
        method: &str,
        verb: Verb,
        params: Vec<(String, String)>,
    ) -> Result<Value> {
        self.rest_with(method, verb, Repeat::Safe, params).await
    }

    /// [`rest`](Self::rest) for a write that must not happen twice.
    pub(crate) async fn rest_with(
        &self,
        method: &str,
        verb: Verb,
        repeat: Repeat,
        params: Vec<(String, String)>,
    ) -> Result<Value> {
        self.require_token(method)?;
        let mut all = params;
        all.extend([
            ("method".to_owned(), method.to_owned()),
            ("api_key".to_owned(), self.inner.api.key.clone()),
            ("format".to_owned(), "json".to_owned()),
            ("nojsoncallback".to_owned(), "1".to_owned()),
        ]);
        let all = &all;
        self.inner
            .options
            .retry
            .run_with(method, repeat, |_| async move {
                self.inner.limiter.acquire(method).await;
                self.count_call();
                let result = self.rest_once(method, verb, all).await;
                self.note_overload(&result);
                result
            })
            .await
    }

    async fn rest_once(
        &self,
        method: &str,
        verb: Verb,
        params: &[(String, String)],
    ) -> Result<Value> {
        let url = &self.inner.endpoints.rest;
        let http_method = match verb {
            Verb::Read => "GET",
            Verb::Write => "POST",
        };
        let form = sign::signed_form(
            http_method,
            url,
            self.keys(),
            OAuthExtras::default(),
            params,
        );
        let request = match verb {
            Verb::Read => self.inner.http.get(format!("{url}?{form}")),
            Verb::Write => self
                .inner
                .http
                .post(url)
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form),
        };
        let response = request
            .timeout(self.inner.options.request_timeout)
            .send()
            .await
            .map_err(|e| FlickrError::network(method, e))?;
        let reply = Reply::read(method, response).await?;
        http_then_envelope(method, reply.status, reply.retry_after, &reply.body)
    }
}

/// A reply read whole: its status, `Retry-After` and body.
pub(super) struct Reply {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub body: String,
}

impl Reply {
    /// Reads `response` whole; failing to is a network error of `what`.
    pub(super) async fn read(what: &str, response: reqwest::Response) -> Result<Reply> {
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = response
            .text()
            .await
            .map_err(|e| FlickrError::network(what, e))?;
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }

    /// Flickr is overloaded or failing (429, 5xx): worth a retry.
    pub(super) fn overloaded(&self) -> bool {
        self.status == 429 || self.status >= 500
    }

    pub(super) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// This reply as the HTTP error of `what`.
    pub(super) fn http_error(&self, what: &str) -> FlickrError {
        FlickrError::Http {
            method: what.to_owned(),
            status: self.status,
            retry_after: self.retry_after,
            body: snippet(&self.body, 200),
        }
    }
}

/// Classifies a REST reply: overload and server errors by HTTP status first,
/// then Flickr's own `stat`.
fn http_then_envelope(
    method: &str,
    status: u16,
    retry_after: Option<Duration>,
    body: &str,
) -> Result<Value> {
    let http_error = || FlickrError::Http {
        method: method.to_owned(),
        status,
        retry_after,
        body: snippet(body, 200),
    };
    if status == 429 || status >= 500 {
        return Err(http_error());
    }
    match decode::envelope(method, body) {
        Ok(v) if (200..300).contains(&status) => Ok(v),
        Err(api @ FlickrError::Api { .. }) => Err(api),
        _ if !(200..300).contains(&status) => Err(http_error()),
        other => other,
    }
}

/// `Retry-After` in seconds (HTTP dates are ignored).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_endpoints_follow_the_emulator_layout() {
        let e = Endpoints::local("http://127.0.0.1:8080/");
        assert_eq!(e.rest, "http://127.0.0.1:8080/services/rest/");
        assert_eq!(e.upload, "http://127.0.0.1:8080/services/upload/");
        assert_eq!(e.replace, "http://127.0.0.1:8080/services/replace/");
        assert_eq!(
            e.oauth_authorize,
            "http://127.0.0.1:8080/services/oauth/authorize"
        );
        assert_eq!(Endpoints::default(), Endpoints::flickr());
    }

    #[test]
    fn client_rejects_bad_configuration() {
        let api = ApiCredentials::new("k", "s");
        let mut e = Endpoints::local("http://127.0.0.1:1");
        e.rest = "not a url".into();
        assert!(Client::new(e, api.clone(), None, ClientOptions::default()).is_err());
        let mut e = Endpoints::local("http://127.0.0.1:1");
        e.upload = "http://h/up?x=1".into();
        assert!(Client::new(e, api, None, ClientOptions::default()).is_err());
        assert!(Client::new(
            Endpoints::flickr(),
            ApiCredentials::new("k", ""),
            None,
            ClientOptions::default()
        )
        .is_err());
    }

    #[test]
    fn client_debug_redacts_secrets() {
        let c = Client::new(
            Endpoints::flickr(),
            ApiCredentials::new("k", "consumer-secret"),
            Some(AccessToken::new("tok-visible?", "tok-secret")),
            ClientOptions::default(),
        )
        .unwrap();
        let s = format!("{c:?}");
        assert!(!s.contains("consumer-secret") && !s.contains("tok-secret"));
        assert!(!s.contains("tok-visible?"));
    }

    #[test]
    fn reply_classification() {
        let ok = r#"{"stat":"ok","user":{}}"#;
        assert!(http_then_envelope("m", 200, None, ok).is_ok());
        let e = http_then_envelope("m", 503, Some(Duration::from_secs(2)), "busy").unwrap_err();
        assert!(e.is_transient());
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        let fail = r#"{"stat":"fail","code":96,"message":"Invalid signature"}"#;
        assert_eq!(
            http_then_envelope("m", 401, None, fail).unwrap_err().code(),
            Some(96)
        );
        let e = http_then_envelope("m", 404, None, "nope").unwrap_err();
        assert!(matches!(e, FlickrError::Http { status: 404, .. }));
    }
}
