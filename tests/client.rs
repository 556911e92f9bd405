//! The Flickr client over real HTTP on 127.0.0.1.
//!
//! `stub_*` tests use a tiny canned-reply server to produce what a healthy
//! server never sends (malformed JSON, truncated bodies, 429 with
//! Retry-After); `emu_*` tests run every client call against the emulator.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flickrfs::flickr::{
    AccessToken, ApiCredentials, Client, ClientOptions, DownloadOutcome, Endpoints, Extra,
    FlickrError, RateLimit, RetryPolicy, UploadOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Retries fast enough for tests; a budget that never gets in the way.
fn fast_options() -> ClientOptions {
    ClientOptions {
        rate_limit: RateLimit {
            calls_per_hour: 10_000_000,
            burst: 10_000,
        },
        retry: RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(2),
        },
        ..ClientOptions::default()
    }
}

// ------------------------------------------------------------------ stub server

/// One canned HTTP reply. `declared_len` overrides Content-Length (to send
/// less than announced and drop the connection).
#[derive(Clone)]
struct Canned {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    declared_len: Option<usize>,
}

impl Canned {
    fn ok(body: &str) -> Self {
        Canned {
            status: 200,
            headers: vec![],
            body: body.as_bytes().to_vec(),
            declared_len: None,
        }
    }
    fn status(status: u16, body: &str) -> Self {
        Canned {
            status,
            ..Canned::ok(body)
        }
    }
}

/// Serves the canned replies in order (the last one repeats) and counts requests.
struct Stub {
    base: String,
    hits: Arc<AtomicUsize>,
}

impl Stub {
    async fn start(replies: Vec<Canned>) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let n = counter.fetch_add(1, Ordering::SeqCst);
                let reply = replies[n.min(replies.len() - 1)].clone();
                tokio::spawn(async move {
                    read_request(&mut sock).await;
                    let len = reply.declared_len.unwrap_or(reply.body.len());
                    let mut head = format!(
                        "HTTP/1.1 {} X\r\nContent-Length: {len}\r\nConnection: close\r\n",
                        reply.status
                    );
                    for (k, v) in &reply.headers {
                        head.push_str(&format!("{k}: {v}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&reply.body).await;
                    let _ = sock.shutdown().await;
                });
            }
        });
        Stub { base, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn client(&self, options: ClientOptions) -> Client {
        Client::new(
            Endpoints::local(&self.base),
            ApiCredentials::new("key", "secret"),
            Some(AccessToken::new("tok", "toksecret")),
            options,
        )
        .unwrap()
    }
}

/// Reads a request head and its body (by Content-Length), enough to answer.
async fn read_request(sock: &mut tokio::net::TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn assert_decode_error(err: &FlickrError, method: &str, needle: &str) {
    assert!(
        matches!(err, FlickrError::Decode { .. }),
        "expected a decode error, got {err:?}"
    );
    let text = err.to_string();
    assert!(text.contains(method), "{text:?} does not name {method}");
    assert!(text.contains(needle), "{text:?} does not say {needle:?}");
}

#[tokio::test]
async fn stub_malformed_replies_give_errors_naming_the_method() {
    let cases: Vec<(&str, &str)> = vec![
        (r#"{"stat":"ok","photos":{"page":1,"pa"#, "truncated"),
        ("<html><body>Bad Gateway</body></html>", "not JSON"),
        ("", "empty body"),
        (
            r#"{"stat":"ok","photos":{"page":1,"photo":"oops"}}"#,
            "not a list",
        ),
        (
            r#"{"stat":"ok","photos":{"photo":[{"title":"no id"}]}}"#,
            "photo[0]",
        ),
        (r#"{"stat":"ok"}"#, "no \"photos\""),
        (r#"{"photos":{}}"#, "stat"),
    ];
    for (body, needle) in cases {
        let stub = Stub::start(vec![Canned::ok(body)]).await;
        let err = stub
            .client(fast_options())
            .photos_page(Extra::SYNC, 1, None)
            .await
            .unwrap_err();
        assert_decode_error(&err, "flickr.people.getPhotos", needle);
        // A malformed but complete reply is not retried: it would not change.
        assert_eq!(stub.hits(), 1, "{body}");
    }
}

#[tokio::test]
async fn stub_wrong_shapes_for_single_objects_are_reported() {
    let stub = Stub::start(vec![Canned::ok(r#"{"stat":"ok","user":{"username":"x"}}"#)]).await;
    let err = stub.client(fast_options()).test_login().await.unwrap_err();
    assert_decode_error(&err, "flickr.test.login", "user has no id");

    let stub = Stub::start(vec![Canned::ok(r#"{"stat":"ok","photo":{"id":[1]}}"#)]).await;
    let err = stub
        .client(fast_options())
        .photo_info(&"1".into())
        .await
        .unwrap_err();
    assert_decode_error(&err, "flickr.photos.getInfo", "photo");
}

#[tokio::test]
async fn stub_garbled_upload_reply_is_a_decode_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.jpg");
    std::fs::write(&file, b"not really a jpeg").unwrap();
    let stub = Stub::start(vec![Canned::ok("<rsp stat=\"ok\"><photoid>")]).await;
    let err = stub
        .client(fast_options())
        .upload(&file, &UploadOptions::default())
        .await
        .unwrap_err();
    assert_decode_error(&err, "upload", "photoid");
}

#[tokio::test]
async fn stub_body_cut_short_is_retried_then_reported_as_network_error() {
    let short = Canned {
        declared_len: Some(500),
        ..Canned::ok(r#"{"stat":"ok","user":{"id":"1@N01"#)
    };
    let stub = Stub::start(vec![short]).await;
    let options = ClientOptions {
        retry: RetryPolicy {
            max_attempts: 3,
            ..fast_options().retry
        },
        ..fast_options()
    };
    let err = stub.client(options).test_login().await.unwrap_err();
    assert!(
        matches!(err, FlickrError::Network { .. }),
        "expected a network error, got {err:?}"
    );
    assert!(err.to_string().contains("flickr.test.login"));
    assert_eq!(stub.hits(), 3, "every attempt was made");
}

#[tokio::test]
async fn stub_cut_short_body_then_recovery_succeeds() {
    let short = Canned {
        declared_len: Some(500),
        ..Canned::ok(r#"{"stat":"ok","user":{"id":"1@N01"#)
    };
    let good = Canned::ok(r#"{"stat":"ok","user":{"id":"1@N01","username":{"_content":"al"}}}"#);
    let stub = Stub::start(vec![short, Canned::status(502, "bad gateway"), good]).await;
    let me = stub.client(fast_options()).test_login().await.unwrap();
    assert_eq!(me.nsid.as_str(), "1@N01");
    assert_eq!(stub.hits(), 3);
}

#[tokio::test]
async fn stub_429_with_retry_after_slows_the_client_without_failing_it() {
    let limited = Canned {
        headers: vec![("Retry-After", "1".into())],
        ..Canned::status(429, "Too Many Requests")
    };
    let good = Canned::ok(r#"{"stat":"ok","user":{"id":"1@N01","username":"al"}}"#);
    let stub = Stub::start(vec![limited, good]).await;
    let client = stub.client(fast_options());
    let start = Instant::now();
    let me = client.test_login().await.unwrap();
    assert_eq!(me.username, "al");
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "Retry-After was not honoured: {:?}",
        start.elapsed()
    );
    assert_eq!(stub.hits(), 2);
}

#[tokio::test]
async fn stub_auth_errors_are_not_retried() {
    let stub = Stub::start(vec![Canned::ok(
        r#"{"stat":"fail","code":96,"message":"Invalid signature"}"#,
    )])
    .await;
    let err = stub.client(fast_options()).test_login().await.unwrap_err();
    assert_eq!(err.code(), Some(96));
    assert!(err.to_string().contains("Invalid signature"));
    assert_eq!(stub.hits(), 1);
}

#[tokio::test]
async fn stub_transient_api_codes_are_retried() {
    let busy =
        Canned::ok(r#"{"stat":"fail","code":105,"message":"Service currently unavailable"}"#);
    let good = Canned::ok(r#"{"stat":"ok","user":{"id":"1@N01","username":"al"}}"#);
    let stub = Stub::start(vec![busy.clone(), busy, good]).await;
    stub.client(fast_options()).test_login().await.unwrap();
    assert_eq!(stub.hits(), 3);
}

#[tokio::test]
async fn stub_photoset_create_is_not_repeated_after_a_lost_reply() {
    let lost = Canned {
        declared_len: Some(500),
        ..Canned::ok(r#"{"stat":"ok","photoset":{"id":"7215"#)
    };
    let good = Canned::ok(r#"{"stat":"ok","photoset":{"id":"72157","url":"u"}}"#);
    let stub = Stub::start(vec![lost, good]).await;
    let err = stub
        .client(fast_options())
        .create_photoset("Trip", "", &"1".into())
        .await
        .unwrap_err();
    assert!(matches!(err, FlickrError::Network { .. }), "{err:?}");
    assert_eq!(stub.hits(), 1, "a second set could have been created");
}

#[tokio::test]
async fn stub_download_checks_content_length_and_leaves_no_partial_file() {
    let short = Canned {
        declared_len: Some(1000),
        ..Canned::ok("only a few bytes")
    };
    let stub = Stub::start(vec![short]).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("photo.jpg");
    let options = ClientOptions {
        retry: RetryPolicy {
            max_attempts: 2,
            ..fast_options().retry
        },
        ..fast_options()
    };
    let err = stub
        .client(options)
        .download_to(&format!("{}/photos/1/2_x_o.jpg", stub.base), &dest)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            FlickrError::Network { .. } | FlickrError::SizeMismatch { .. }
        ),
        "{err:?}"
    );
    assert_eq!(stub.hits(), 2);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn stub_download_writes_and_never_clobbers() {
    let stub = Stub::start(vec![Canned::ok("photo bytes")]).await;
    let client = stub.client(fast_options());
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("photo.jpg");
    let url = format!("{}/photos/1/2_x_o.jpg", stub.base);
    let out = client.download_to(&url, &dest).await.unwrap();
    assert!(matches!(out, DownloadOutcome::Written { bytes: 11, .. }));
    assert_eq!(std::fs::read(&dest).unwrap(), b"photo bytes");
    let again = client.download_to(&url, &dest).await.unwrap();
    assert!(matches!(again, DownloadOutcome::AlreadyPresent { .. }));
    std::fs::write(&dest, b"my own edit").unwrap();
    let err = client.download_to(&url, &dest).await.unwrap_err();
    assert!(matches!(err, FlickrError::DestinationExists { .. }));
    assert_eq!(std::fs::read(&dest).unwrap(), b"my own edit");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
