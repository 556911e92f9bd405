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

#[tokio::test]
async fn stub_pool_moderation_queue_is_reported_as_pending() {
    for (code, expected) in [
        (6, flickrfs::flickr::PoolAddOutcome::Pending),
        (7, flickrfs::flickr::PoolAddOutcome::AlreadyPending),
        (3, flickrfs::flickr::PoolAddOutcome::AlreadyInPool),
    ] {
        let body = format!(r#"{{"stat":"fail","code":{code},"message":"queue"}}"#);
        let stub = Stub::start(vec![Canned::ok(&body)]).await;
        let got = stub
            .client(fast_options())
            .add_to_pool(&"1".into(), &"2@N20".into())
            .await
            .unwrap();
        assert_eq!(got, expected);
    }
}

// ------------------------------------------------------------------ emulator

mod emu {
    use super::*;
    use std::collections::BTreeSet;

    use flickrfs::emulator::{Emulator, EmulatorConfig, FaultConfig, NewEmuPhoto, NewEmuSet};
    use flickrfs::flickr::{
        AddToSetOutcome, DedupCheck, Media, Perms, SearchQuery, UploadOutcome, PER_PAGE_MAX,
    };
    use flickrfs::model::{Granularity, GroupId, Nsid, PhotoId, SetId, TakenAt, Visibility};
    use sha1::{Digest, Sha1};

    /// An emulator with one user (`alice`) and a client holding her write token.
    struct World {
        _dir: tempfile::TempDir,
        emu: Emulator,
        api: ApiCredentials,
        nsid: Nsid,
        token: AccessToken,
    }

    impl World {
        fn start(cfg: EmulatorConfig) -> World {
            let dir = tempfile::tempdir().unwrap();
            let emu = Emulator::start(EmulatorConfig {
                state_dir: dir.path().join("emu"),
                bind: "127.0.0.1:0".parse().unwrap(),
                ..cfg
            })
            .unwrap();
            let key = emu.create_api_key().unwrap();
            let user = match emu.user_by_name("alice").unwrap() {
                Some(u) => u,
                None => emu.create_user("alice").unwrap(),
            };
            let tok = emu.issue_token(&key.key, &user.nsid, "write").unwrap();
            World {
                _dir: dir,
                emu,
                api: ApiCredentials::new(key.key, key.secret),
                nsid: Nsid::new(user.nsid),
                token: AccessToken::new(tok.token, tok.secret),
            }
        }

        fn new() -> World {
            World::start(EmulatorConfig::default())
        }

        fn client_with(&self, options: ClientOptions) -> Client {
            Client::new(
                Endpoints::local(&self.emu.base_url()),
                self.api.clone(),
                Some(self.token.clone()),
                options,
            )
            .unwrap()
        }

        fn client(&self) -> Client {
            self.client_with(fast_options())
        }

        fn add_photo(&self, title: &str, tags: &[&str]) -> PhotoId {
            let id = self
                .emu
                .add_photo(
                    self.nsid.as_str(),
                    NewEmuPhoto {
                        title: title.into(),
                        tags: tags.iter().map(|t| t.to_string()).collect(),
                        bytes: jpeg_with_exif_date(title.len() as u8, "2020:01:02 03:04:05"),
                        ..Default::default()
                    },
                )
                .unwrap();
            PhotoId::new(id)
        }
    }

    /// A small real JPEG carrying an EXIF DateTimeOriginal (built by hand
    /// here, independent of the emulator's own generator).
    fn jpeg_with_exif_date(shade: u8, taken: &str) -> Vec<u8> {
        let (w, h) = (64u32, 48u32);
        let pixels: Vec<u8> = (0..w * h)
            .flat_map(|i| [shade, (i % 251) as u8, (i / w) as u8 * 5])
            .collect();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 85)
            .encode(&pixels, w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        // TIFF (little endian): IFD0 -> ExifIFD pointer -> DateTimeOriginal.
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"II\x2a\x00\x08\x00\x00\x00");
        tiff.extend_from_slice(&1u16.to_le_bytes());
        tiff.extend_from_slice(&0x8769u16.to_le_bytes());
        tiff.extend_from_slice(&4u16.to_le_bytes());
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&26u32.to_le_bytes());
        tiff.extend_from_slice(&0u32.to_le_bytes());
        tiff.extend_from_slice(&1u16.to_le_bytes());
        tiff.extend_from_slice(&0x9003u16.to_le_bytes());
        tiff.extend_from_slice(&2u16.to_le_bytes());
        tiff.extend_from_slice(&20u32.to_le_bytes());
        tiff.extend_from_slice(&44u32.to_le_bytes());
        tiff.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(tiff.len(), 44);
        tiff.extend_from_slice(taken.as_bytes());
        tiff.push(0);
        let mut app1 = vec![0xFF, 0xE1];
        app1.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
        app1.extend_from_slice(b"Exif\0\0");
        app1.extend_from_slice(&tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    fn sha1_hex(bytes: &[u8]) -> String {
        Sha1::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[tokio::test]
    async fn emu_login_and_token_check_identify_the_account() {
        let w = World::new();
        let c = w.client();
        let me = c.test_login().await.unwrap();
        assert_eq!(me.nsid, w.nsid);
        assert_eq!(me.username, "alice");
        let check = c.check_token().await.unwrap();
        assert_eq!(check.perms, Perms::Write);
        assert_eq!(check.user.nsid, w.nsid);
    }

    #[tokio::test]
    async fn emu_upload_round_trip_keeps_bytes_and_exif_date() {
        let w = World::new();
        let c = w.client();
        let dir = tempfile::tempdir().unwrap();
        let original = jpeg_with_exif_date(7, "2021:07:04 18:30:01");
        let path = dir.path().join("IMG_0042.jpg");
        std::fs::write(&path, &original).unwrap();
        let opts = UploadOptions {
            title: Some("Beach at dusk".into()),
            description: Some("Été & co".into()),
            tags: vec![
                "beach".into(),
                "New York".into(),
                "flickrfs:sha1=abc".into(),
            ],
            visibility: Some(Visibility {
                is_public: false,
                is_friend: true,
                is_family: false,
            }),
            dedup_check: Some(DedupCheck::Check),
            ..Default::default()
        };
        let UploadOutcome::Uploaded { id, .. } = c.upload(&path, &opts).await.unwrap() else {
            panic!("expected an upload");
        };

        // Flickr's view of it.
        let info = c.photo_info(&id).await.unwrap();
        assert_eq!(info.title, "Beach at dusk");
        assert_eq!(info.description, "Été & co");
        assert_eq!(info.taken, TakenAt::parse("2021-07-04 18:30:01"));
        assert!(info.visibility.is_friend && !info.visibility.is_public);
        let raw: BTreeSet<_> = info.tags.iter().map(|t| t.raw.as_str()).collect();
        assert!(raw.contains("New York") && raw.contains("beach"), "{raw:?}");
        assert!(info.tags.iter().any(|t| t.machine_tag));

        // The emulator's own record agrees.
        let emu_photo = w
            .emu
            .photos(w.nsid.as_str())
            .into_iter()
            .find(|p| p.id == id.as_str())
            .unwrap();
        assert_eq!(emu_photo.sha1, sha1_hex(&original));
        assert_eq!(emu_photo.date_taken, "2021-07-04 18:30:01");

        // Download the original through getSizes and through url_o.
        let url = c.original_url(&id).await.unwrap();
        let dest = dir.path().join("down").join("copy.jpg");
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        match c.download_to(&url, &dest).await.unwrap() {
            DownloadOutcome::Written { bytes, sha1 } => {
                assert_eq!(bytes, original.len() as u64);
                assert_eq!(sha1, sha1_hex(&original));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(std::fs::read(&dest).unwrap(), original);
        let listed = c.list_all_photos(Extra::SYNC).await.unwrap();
        let summary = listed.iter().find(|p| p.id == id).unwrap();
        assert_eq!(summary.date_taken, TakenAt::parse("2021-07-04 18:30:01"));
        assert_eq!(summary.original_format.as_deref(), Some("jpg"));
        let url_o = summary.url_o.clone().unwrap();
        let again = c.download_to(&url_o, &dest).await.unwrap();
        assert!(matches!(again, DownloadOutcome::AlreadyPresent { .. }));

        // EXIF as Flickr reports it.
        let exif = c.photo_exif(&id).await.unwrap();
        assert!(
            exif.iter()
                .any(|t| t.tag == "DateTimeOriginal" && t.raw.contains("2021:07:04 18:30:01")),
            "{exif:?}"
        );

        // Flickr's duplicate check names the photo already there.
        let dup = c.upload(&path, &opts).await.unwrap();
        assert_eq!(dup, UploadOutcome::Duplicate { existing: id });
    }

    #[tokio::test]
    async fn emu_listing_walks_every_page_beyond_500() {
        let w = World::start(EmulatorConfig {
            seed_photos: 1203,
            seed_sets: 1,
            seed_user: "alice".into(),
            ..Default::default()
        });
        let c = w.client();
        let first = c.photos_page(&[], 1, None).await.unwrap();
        assert_eq!(first.total, 1203);
        assert_eq!(first.pages, 3);
        assert_eq!(first.items.len(), PER_PAGE_MAX as usize);
        let all = c.list_all_photos(&[Extra::LastUpdate]).await.unwrap();
        assert_eq!(all.len(), 1203);
        let ids: BTreeSet<_> = all.iter().map(|p| p.id.clone()).collect();
        assert_eq!(ids.len(), 1203, "no photo listed twice");
        assert_eq!(w.emu.call_counts().get("flickr.people.getPhotos"), Some(&4));

        // The one seeded set holds them all: its listing is paged too.
        let sets = c.list_all_photosets().await.unwrap();
        assert_eq!(sets.len(), 1);
        let in_set = c.list_all_set_photos(&sets[0].id, &[]).await.unwrap();
        assert_eq!(in_set.len() as u64, sets[0].photos);
        assert!(in_set.len() > 500);
        assert_eq!(
            in_set.iter().filter(|p| p.is_primary == Some(true)).count(),
            1
        );
    }

    #[tokio::test]
    async fn emu_photo_edits_are_visible_through_the_api() {
        let w = World::new();
        let c = w.client();
        let id = w.add_photo("plain", &[]);
        let before = c.photo_info(&id).await.unwrap();

        c.set_meta(&id, "New title", "New description")
            .await
            .unwrap();
        c.set_tags(&id, &["one".into(), "two words".into()])
            .await
            .unwrap();
        c.add_tags(&id, &["flickrfs:sha1=feed".into()])
            .await
            .unwrap();
        c.set_perms(
            &id,
            Visibility {
                is_public: true,
                is_friend: false,
                is_family: false,
            },
        )
        .await
        .unwrap();
        let taken = TakenAt::parse("1999-12-31 23:59:58").unwrap();
        c.set_dates(&id, Some((&taken, Granularity::Month)), None)
            .await
            .unwrap();

        let info = c.photo_info(&id).await.unwrap();
        assert_eq!(info.title, "New title");
        assert_eq!(info.description, "New description");
        let raw: BTreeSet<_> = info.tags.iter().map(|t| t.raw.clone()).collect();
        assert!(raw.contains("one") && raw.contains("two words"), "{raw:?}");
        assert!(raw.contains("flickrfs:sha1=feed"), "{raw:?}");
        assert!(info.visibility.is_public);
        assert_eq!(info.taken, Some(taken));
        assert_eq!(info.taken_granularity, Granularity::Month);
        assert_eq!(info.media, Media::Photo);

        // Found by its machine tag, and as recently updated.
        let found = c
            .find_by_machine_tag("flickrfs:sha1=feed", &[Extra::MachineTags])
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, id);
        assert_eq!(found[0].machine_tags, vec!["flickrfs:sha1=feed".to_owned()]);
        let since = before.last_update.unwrap_or(0);
        let recent = c.list_recently_updated(since, &[]).await.unwrap();
        assert!(recent.iter().any(|p| p.id == id));
        let q = SearchQuery {
            min_upload_date: Some(0),
            ..Default::default()
        };
        assert_eq!(c.search_all(&q, &[]).await.unwrap().len(), 1);

        // Sizes list real URLs on the emulator.
        let sizes = c.photo_sizes(&id).await.unwrap();
        assert!(sizes.iter().any(|s| s.label == "Original"));
        assert!(sizes
            .iter()
            .all(|s| s.source.starts_with(&w.emu.base_url())));
    }

    #[tokio::test]
    async fn emu_photoset_lifecycle() {
        let w = World::new();
        let c = w.client();
        let a = w.add_photo("a", &[]);
        let b = w.add_photo("bb", &[]);
        let d = w.add_photo("ccc", &[]);
        assert_eq!(c.list_not_in_set(&[]).await.unwrap().len(), 3);

        let set = c.create_photoset("Trip", "Summer", &a).await.unwrap();
        assert_eq!(
            c.add_to_set(&set, &b).await.unwrap(),
            AddToSetOutcome::Added
        );
        assert_eq!(
            c.add_to_set(&set, &b).await.unwrap(),
            AddToSetOutcome::AlreadyInSet
        );
        c.add_to_set(&set, &d).await.unwrap();
        let sets = c.list_all_photosets().await.unwrap();
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].title, "Trip");
        assert_eq!(sets[0].description, "Summer");
        assert_eq!(sets[0].photos, 3);
        assert_eq!(sets[0].primary, Some(a.clone()));
        let ids: Vec<_> = c
            .list_all_set_photos(&set, &[])
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids, vec![a.clone(), b.clone(), d.clone()]);

        let ctx = c.all_contexts(&b).await.unwrap();
        assert_eq!(ctx.sets, vec![(set.clone(), "Trip".to_owned())]);
        assert!(c.list_not_in_set(&[]).await.unwrap().is_empty());

        c.edit_set_meta(&set, "Trip 2024", "").await.unwrap();
        c.edit_set_photos(&set, &d, &[d.clone(), b.clone(), a.clone()])
            .await
            .unwrap();
        let emu_set = &w.emu.photosets(w.nsid.as_str())[0];
        assert_eq!(emu_set.title, "Trip 2024");
        assert_eq!(emu_set.primary, d.as_str());
        assert_eq!(emu_set.photos, vec![d.0.clone(), b.0.clone(), a.0.clone()]);

        c.remove_from_set(&set, &b).await.unwrap();
        c.remove_photos_from_set(&set, std::slice::from_ref(&a))
            .await
            .unwrap();
        assert_eq!(
            w.emu.photosets(w.nsid.as_str())[0].photos,
            vec![d.0.clone()]
        );
        c.delete_photoset(&set).await.unwrap();
        assert!(c.list_all_photosets().await.unwrap().is_empty());
        assert_eq!(w.emu.photos(w.nsid.as_str()).len(), 3, "photos stay");
        let gone = c.add_to_set(&SetId::new("1"), &a).await.unwrap_err();
        assert_eq!(gone.code(), Some(1), "{gone}");
    }

    #[tokio::test]
    async fn emu_groups_and_pools() {
        let w = World::new();
        let c = w.client();
        let g = w.emu.create_group("Cats").unwrap();
        w.emu.join_group(&g.nsid, w.nsid.as_str()).unwrap();
        let p = w.add_photo("cat", &[]);
        let groups = c.list_groups(&w.nsid).await.unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].id, GroupId::new(g.nsid.clone()));
        assert_eq!(groups[0].name, "Cats");
        let gid = groups[0].id.clone();
        use flickrfs::flickr::PoolAddOutcome;
        assert_eq!(
            c.add_to_pool(&p, &gid).await.unwrap(),
            PoolAddOutcome::Added
        );
        assert_eq!(
            c.add_to_pool(&p, &gid).await.unwrap(),
            PoolAddOutcome::AlreadyInPool
        );
        let pool = c
            .list_all_pool_photos(&gid, Some(&w.nsid), &[])
            .await
            .unwrap();
        assert_eq!(pool.len(), 1);
        assert_eq!(c.all_contexts(&p).await.unwrap().pools.len(), 1);
        c.remove_from_pool(&p, &gid).await.unwrap();
        assert!(w.emu.pool_photos(&g.nsid, w.nsid.as_str()).is_empty());
        // Removing it again (a retry whose reply was lost): Flickr says 2
        // "Photo not in pool", which is where the call would put it.
        c.remove_from_pool(&p, &gid).await.unwrap();
        // An unknown group is an error (1 "Group not found").
        let err = c
            .remove_from_pool(&p, &GroupId::new("999@N20"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(1), "{err}");
        assert_eq!(c.all_contexts(&p).await.unwrap().pools.len(), 0);
    }

    #[tokio::test]
    async fn emu_wrong_secret_is_an_invalid_signature_error_and_not_retried() {
        let w = World::new();
        let bad = Client::new(
            Endpoints::local(&w.emu.base_url()),
            ApiCredentials::new(w.api.key.clone(), "not-the-secret"),
            Some(w.token.clone()),
            fast_options(),
        )
        .unwrap();
        let err = bad.test_login().await.unwrap_err();
        assert_eq!(err.code(), Some(96), "{err}");
        let text = err.to_string();
        assert!(text.contains("flickr.test.login"), "{text}");
        assert!(text.to_lowercase().contains("invalid signature"), "{text}");
        assert!(!text.contains("not-the-secret") && !text.contains(&w.token.secret));
        assert_eq!(w.emu.call_counts().get("flickr.test.login"), Some(&1));

        let wrong_token = Client::new(
            Endpoints::local(&w.emu.base_url()),
            w.api.clone(),
            Some(AccessToken::new(w.token.token.clone(), "wrong")),
            fast_options(),
        )
        .unwrap();
        assert_eq!(wrong_token.test_login().await.unwrap_err().code(), Some(96));
    }

    #[tokio::test]
    async fn emu_budget_paces_calls_and_is_shared_by_clients_of_a_key() {
        let w = World::start(EmulatorConfig {
            // The emulator would refuse a 31st call within the hour.
            faults: FaultConfig {
                rate_limit_per_hour: 30,
                ..Default::default()
            },
            ..Default::default()
        });
        let paced = ClientOptions {
            rate_limit: RateLimit {
                calls_per_hour: 36_000, // 10 a second
                burst: 2,
            },
            ..fast_options()
        };
        let a = w.client_with(paced.clone());
        let b = w.client_with(paced);
        assert!(Arc::ptr_eq(a.limiter(), b.limiter()));
        let start = Instant::now();
        let (ra, rb) = tokio::join!(
            async {
                for _ in 0..6 {
                    a.test_login().await.unwrap();
                }
            },
            async {
                for _ in 0..6 {
                    b.test_login().await.unwrap();
                }
            }
        );
        let _ = (ra, rb);
        // 12 calls, 2 at once then 10 a second, across both clients: ≥ 1 s.
        assert!(
            start.elapsed() >= Duration::from_millis(950),
            "{:?}",
            start.elapsed()
        );
        assert!(w.emu.request_log().iter().all(|c| c.ok));

        // A budget as small as the emulator's: the 31st call waits in the
        // client instead of being refused. (Another key, so a fresh bucket:
        // the same key would share, and tighten, the bucket used above.)
        let key = w.emu.create_api_key().unwrap();
        let tok = w
            .emu
            .issue_token(&key.key, w.nsid.as_str(), "read")
            .unwrap();
        let tight = Client::new(
            Endpoints::local(&w.emu.base_url()),
            ApiCredentials::new(key.key, key.secret),
            Some(AccessToken::new(tok.token, tok.secret)),
            ClientOptions {
                rate_limit: RateLimit {
                    calls_per_hour: 30,
                    burst: 30 - 12,
                },
                ..fast_options()
            },
        )
        .unwrap();
        for _ in 0..18 {
            tight.test_login().await.unwrap();
        }
        let waited = tokio::time::timeout(Duration::from_millis(500), tight.test_login()).await;
        assert!(waited.is_err(), "the call should be waiting for budget");
        assert!(
            w.emu.request_log().iter().all(|c| c.http_status != 429),
            "the client never went over the emulator's limit"
        );
    }

    #[tokio::test]
    async fn emu_every_call_succeeds_through_20_percent_faults() {
        let w = World::new();
        let c = w.client();
        let dir = tempfile::tempdir().unwrap();
        let seeded: Vec<PhotoId> = (0..3)
            .map(|i| w.add_photo(&"x".repeat(i + 1), &[]))
            .collect();
        w.emu.set_faults(FaultConfig {
            error_rate: 0.2,
            ..Default::default()
        });
        for round in 0..4 {
            c.test_login().await.unwrap();
            c.list_all_photos(Extra::SYNC).await.unwrap();
            let path = dir.path().join(format!("p{round}.jpg"));
            std::fs::write(
                &path,
                jpeg_with_exif_date(100 + round, "2022:02:02 02:02:02"),
            )
            .unwrap();
            let up = c
                .upload(
                    &path,
                    &UploadOptions {
                        dedup_check: Some(DedupCheck::Check),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            let UploadOutcome::Uploaded { id, .. } = up else {
                panic!("{up:?}")
            };
            let set = c
                .create_photoset(&format!("Set {round}"), "", &id)
                .await
                .unwrap();
            for p in &seeded {
                c.add_to_set(&set, p).await.unwrap();
            }
            c.set_meta(&id, "t", "d").await.unwrap();
            c.photo_info(&id).await.unwrap();
            let url = c.original_url(&id).await.unwrap();
            c.download_to(&url, &dir.path().join(format!("d{round}.jpg")))
                .await
                .unwrap();
        }
        let log = w.emu.request_log();
        let faults = log.iter().filter(|c| c.fault.is_some()).count();
        assert!(faults > 5, "only {faults} faults were injected");
        assert_eq!(
            w.emu.photosets(w.nsid.as_str()).len(),
            4,
            "no set made twice"
        );
        assert_eq!(
            w.emu.photos(w.nsid.as_str()).len(),
            3 + 4,
            "no photo made twice"
        );
    }

    #[tokio::test]
    async fn emu_lost_replies_of_safe_calls_are_retried() {
        let w = World::new();
        let c = w.client();
        let p = w.add_photo("p", &[]);
        let set = c.create_photoset("S", "", &p).await.unwrap();
        let q = w.add_photo("q", &[]);
        w.emu.set_faults(FaultConfig {
            reset_rate: 0.3,
            ..Default::default()
        });
        for _ in 0..5 {
            c.list_all_photos(&[]).await.unwrap();
            c.add_to_set(&set, &q).await.unwrap();
            c.set_meta(&q, "again", "").await.unwrap();
        }
        assert!(w
            .emu
            .request_log()
            .iter()
            .any(|c| c.fault.as_deref() == Some("reset")));
    }

    #[tokio::test]
    async fn emu_check_tickets_of_an_async_upload() {
        let w = World::new();
        let c = w.client();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jpg");
        std::fs::write(&path, jpeg_with_exif_date(1, "2020:01:01 00:00:00")).unwrap();
        let out = c
            .upload(
                &path,
                &UploadOptions {
                    async_upload: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let UploadOutcome::Ticket(ticket) = out else {
            panic!("{out:?}")
        };
        let mut done = None;
        for _ in 0..20 {
            let status = c
                .check_tickets(std::slice::from_ref(&ticket))
                .await
                .unwrap();
            assert_eq!(status.len(), 1);
            if status[0].state == flickrfs::flickr::TicketState::Done {
                done = status[0].photo_id.clone();
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let id = done.expect("ticket completes");
        assert!(w
            .emu
            .photos(w.nsid.as_str())
            .iter()
            .any(|p| p.id == id.as_str()));
    }

    #[tokio::test]
    async fn emu_seeded_set_add_via_helper_is_listed() {
        let w = World::new();
        let a = w.add_photo("a", &[]);
        let set = w
            .emu
            .add_photoset(
                w.nsid.as_str(),
                NewEmuSet {
                    title: "From the web".into(),
                    description: String::new(),
                    photo_ids: vec![a.0.clone()],
                },
            )
            .unwrap();
        let sets = w.client().list_all_photosets().await.unwrap();
        assert_eq!(sets[0].id, SetId::new(set));
        assert_eq!(sets[0].title, "From the web");
    }
}
