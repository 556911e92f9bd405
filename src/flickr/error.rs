//! The client's error type: what went wrong, in which Flickr method, and
//! whether trying again could help.
//!
//! Not for presentation: the CLI decides how to print these. Nothing in here
//! ever carries a token, a secret or a signed URL (reqwest errors are stripped
//! of their URL before they are stored).

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

/// Everything the Flickr client can fail with.
#[derive(Debug, Error)]
pub enum FlickrError {
    /// Flickr answered `stat: fail` (or `<rsp stat="fail">` for uploads).
    #[error("{method}: Flickr error {code}: {message}{}", api_hint(*code))]
    Api {
        method: String,
        code: i64,
        message: String,
    },
    /// The server answered with an HTTP status that is not a Flickr reply.
    #[error("{method}: HTTP {status}{}", snippet_suffix(body))]
    Http {
        method: String,
        status: u16,
        /// `Retry-After` from a 429/503, when the server sent one.
        retry_after: Option<Duration>,
        /// The start of the body, for the error message.
        body: String,
    },
    /// The request did not complete (connection refused or reset, timeout,
    /// truncated body...).
    #[error("{method}: network error: {source}")]
    Network {
        method: String,
        #[source]
        source: reqwest::Error,
    },
    /// The reply arrived but is not what the method returns (not JSON, wrong
    /// shape, truncated, unparsable XML...).
    #[error("{method}: unexpected reply: {context}")]
    Decode { method: String, context: String },
    /// The OAuth endpoints refused a step (they answer in plain text, not JSON).
    #[error("OAuth {step}: {message}")]
    OAuth { step: String, message: String },
    /// A download ended with fewer or more bytes than announced.
    #[error("downloading {url}: got {got} bytes, Content-Length said {expected}")]
    SizeMismatch {
        url: String,
        expected: u64,
        got: u64,
    },
    /// `download_to` refuses to replace a different file already at the destination.
    #[error("{}: a different file already exists there; not overwriting it", path.display())]
    DestinationExists { path: PathBuf },
    /// Local file I/O (the file to upload, the download destination).
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The file's bytes, read for an upload, are not those it was expected
    /// to have ([`super::UploadOptions::expect_sha1`]): nothing was uploaded.
    #[error("{}: its bytes are no longer those recorded (SHA-1 {found}, recorded {expected}); not uploaded", path.display())]
    ContentChanged {
        path: PathBuf,
        expected: String,
        found: String,
    },
    /// The client was configured with something unusable (bad endpoint URL...).
    #[error("client configuration: {0}")]
    Config(String),
    /// The call needs an access token and the client has none.
    #[error("{method}: this call needs an authorised account (no access token)")]
    NotAuthorised { method: String },
}

fn api_hint(code: i64) -> &'static str {
    match code {
        96 => " (the request signature was rejected: check the API secret and the account's token secret)",
        97 => " (the request was not signed)",
        98 => " (the access token is not valid: re-run `flickrfs account add`)",
        99 => " (the account's token lacks the permission this needs)",
        100 => " (the API key is not valid)",
        105 => " (service unavailable, transient)",
        106 => " (write failed, transient)",
        _ => "",
    }
}

fn snippet_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

/// Flickr error codes that mean "try again later".
pub const TRANSIENT_CODES: [i64; 2] = [105, 106];
/// Flickr error codes about signatures, tokens, keys and permissions: never retried.
pub const AUTH_CODES: [i64; 5] = [96, 97, 98, 99, 100];

impl FlickrError {
    /// The Flickr error code, when Flickr gave one.
    pub fn code(&self) -> Option<i64> {
        match self {
            FlickrError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the same request may succeed if sent again later.
    pub fn is_transient(&self) -> bool {
        match self {
            FlickrError::Api { code, .. } => TRANSIENT_CODES.contains(code),
            FlickrError::Http { status, .. } => *status == 429 || (500..600).contains(status),
            FlickrError::Network { .. } => true,
            FlickrError::SizeMismatch { .. } => true,
            _ => false,
        }
    }

    /// Whether the failed request certainly had no effect on Flickr's side, so
    /// that even a non-idempotent call (creating a set, uploading) may be sent
    /// again. A reply lost after the request went out (a reset or a read
    /// timeout) is the one transient failure that does not qualify.
    pub fn surely_not_applied(&self) -> bool {
        match self {
            FlickrError::Network { source, .. } => source.is_connect(),
            other => other.is_transient(),
        }
    }

    /// Whether this is a signature, token, key or permission failure.
    pub fn is_auth(&self) -> bool {
        matches!(self, FlickrError::Api { code, .. } if AUTH_CODES.contains(code))
    }

    /// How long the server asked us to wait, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FlickrError::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(crate) fn network(method: &str, e: reqwest::Error) -> Self {
        FlickrError::Network {
            method: method.to_owned(),
            source: e.without_url(),
        }
    }

    pub(crate) fn decode(method: &str, context: impl Into<String>) -> Self {
        FlickrError::Decode {
            method: method.to_owned(),
            context: context.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        FlickrError::Io {
            context: context.into(),
            source,
        }
    }
}

/// The first `max` characters of a body, on one line, for error messages.
pub(crate) fn snippet(body: &str, max: usize) -> String {
    let one_line: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if body.chars().count() > max {
        format!("{one_line}…")
    } else {
        one_line
    }
}

pub type Result<T, E = FlickrError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_names_method_code_and_cause() {
        let e = FlickrError::Api {
            method: "flickr.test.login".into(),
            code: 96,
            message: "Invalid signature".into(),
        };
        let s = e.to_string();
        assert!(s.contains("flickr.test.login"), "{s}");
        assert!(s.contains("96"), "{s}");
        assert!(s.contains("Invalid signature"), "{s}");
        assert!(!e.is_transient());
        assert!(e.is_auth());
    }

    #[test]
    fn transient_classification() {
        let api = |code| FlickrError::Api {
            method: "m".into(),
            code,
            message: String::new(),
        };
        assert!(api(105).is_transient());
        assert!(api(106).is_transient());
        for c in AUTH_CODES {
            assert!(!api(c).is_transient());
        }
        let http = |status| FlickrError::Http {
            method: "m".into(),
            status,
            retry_after: None,
            body: String::new(),
        };
        assert!(http(429).is_transient());
        assert!(http(503).is_transient());
        assert!(!http(404).is_transient());
        assert!(!FlickrError::decode("m", "x").is_transient());
    }

    #[test]
    fn snippet_is_one_line_and_bounded() {
        assert_eq!(snippet("a\nb", 10), "a b");
        assert_eq!(snippet("abcdef", 3), "abc…");
    }
}
