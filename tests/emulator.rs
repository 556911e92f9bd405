//! The Flickr API emulator over real HTTP on 127.0.0.1: OAuth checks, the
//! browser-less OAuth dance, REST replies, uploads, pagination, faults,
//! persistence and seeding.
//!
//! Requests are signed by a tiny OAuth 1.0a signer written here from the
//! spec, not the client's, so the emulator is tested on its own.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use flickrfs::emulator::{
    AccessToken, ApiKey, EmuUser, EmuVisibility, Emulator, EmulatorConfig, FaultConfig,
    NewEmuPhoto, NewEmuSet,
};
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;
use sha1::{Digest, Sha1};

// ---------------------------------------------------------------- a test-only signer

const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

static NONCE: AtomicU64 = AtomicU64::new(1);

type Pairs = Vec<(String, String)>;

fn pairs(p: &[(&str, &str)]) -> Pairs {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Signs `params` (plus oauth_* ones) for `method url`; returns all params
/// including `oauth_signature`.
fn signed(
    method: &str,
    url: &str,
    params: &Pairs,
    key: &ApiKey,
    token: Option<&AccessToken>,
    ts: i64,
) -> Pairs {
    let mut all = params.clone();
    all.push(("oauth_consumer_key".into(), key.key.clone()));
    all.push((
        "oauth_nonce".into(),
        format!(
            "n{}x{}",
            NONCE.fetch_add(1, Ordering::SeqCst),
            std::process::id()
        ),
    ));
    all.push(("oauth_signature_method".into(), "HMAC-SHA1".into()));
    all.push(("oauth_timestamp".into(), ts.to_string()));
    all.push(("oauth_version".into(), "1.0".into()));
    if let Some(t) = token {
        all.push(("oauth_token".into(), t.token.clone()));
    }
    let mut sorted: Vec<(String, String)> = all.iter().map(|(k, v)| (enc(k), enc(v))).collect();
    sorted.sort();
    let norm = sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!("{method}&{}&{}", enc(url), enc(&norm));
    let signing_key = format!(
        "{}&{}",
        enc(&key.secret),
        enc(token.map(|t| t.secret.as_str()).unwrap_or(""))
    );
    let mut mac = Hmac::<Sha1>::new_from_slice(signing_key.as_bytes()).unwrap();
    mac.update(base.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    all.push(("oauth_signature".into(), sig));
    all
}

fn form(p: &Pairs) -> String {
    p.iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn sha1_hex(b: &[u8]) -> String {
    Sha1::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

/// A signed caller of one emulator.
#[derive(Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    key: ApiKey,
    token: Option<AccessToken>,
}

impl Api {
    fn new(emu: &Emulator, key: &ApiKey, token: Option<&AccessToken>) -> Api {
        Api {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: emu.base_url(),
            key: key.clone(),
            token: token.cloned(),
        }
    }

    fn rest_url(&self) -> String {
        format!("{}/services/rest/", self.base)
    }

    fn params(method: &str, p: &[(&str, &str)]) -> Pairs {
        let mut all = pairs(&[
            ("method", method),
            ("format", "json"),
            ("nojsoncallback", "1"),
        ]);
        all.extend(pairs(p));
        all
    }

    async fn send(&self, http_method: &str, all: &Pairs) -> reqwest::Result<reqwest::Response> {
        let url = self.rest_url();
        if http_method == "GET" {
            self.http.get(format!("{url}?{}", form(all))).send().await
        } else {
            self.http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(all))
                .send()
                .await
        }
    }

    async fn json(&self, http_method: &str, all: &Pairs) -> Value {
        let r = self.send(http_method, all).await.unwrap();
        let text = r.text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }

    /// A signed GET.
    async fn get(&self, method: &str, p: &[(&str, &str)]) -> Value {
        let all = signed(
            "GET",
            &self.rest_url(),
            &Self::params(method, p),
            &self.key,
            self.token.as_ref(),
            now(),
        );
        self.json("GET", &all).await
    }

    /// A signed POST.
    async fn post(&self, method: &str, p: &[(&str, &str)]) -> Value {
        let all = signed(
            "POST",
            &self.rest_url(),
            &Self::params(method, p),
            &self.key,
            self.token.as_ref(),
            now(),
        );
        self.json("POST", &all).await
    }

    /// A signed multipart upload; returns the XML reply.
    async fn upload(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        photo: Option<(&[u8], &str)>,
    ) -> String {
        let url = format!("{}{path}", self.base);
        let all = signed(
            "POST",
            &url,
            &pairs(fields),
            &self.key,
            self.token.as_ref(),
            now(),
        );
        let mut f = reqwest::multipart::Form::new();
        for (k, v) in all {
            f = f.text(k, v);
        }
        if let Some((bytes, name)) = photo {
            f = f.part(
                "photo",
                reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_owned()),
            );
        }
        self.http
            .post(url)
            .multipart(f)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn fetch(&self, url: &str) -> Vec<u8> {
        let r = self.http.get(url).send().await.unwrap();
        assert!(r.status().is_success(), "GET {url}: {}", r.status());
        r.bytes().await.unwrap().to_vec()
    }
}

fn ok(v: &Value) -> &Value {
    assert_eq!(v["stat"], "ok", "expected ok, got {v}");
    v
}

fn code(v: &Value) -> i64 {
    assert_eq!(v["stat"], "fail", "expected a failure, got {v}");
    v["code"].as_i64().unwrap()
}

fn xml_photo_id(xml: &str) -> String {
    let start = xml
        .find("<photoid")
        .unwrap_or_else(|| panic!("no photoid in {xml}"));
    let rest = &xml[start..];
    let open_end = rest.find('>').unwrap() + 1;
    let close = rest.find("</photoid>").unwrap();
    rest[open_end..close].to_owned()
}

fn xml_err_code(xml: &str) -> i64 {
    let i = xml
        .find("code=\"")
        .unwrap_or_else(|| panic!("no error in {xml}"))
        + 6;
    xml[i..].split('"').next().unwrap().parse().unwrap()
}

struct World {
    _tmp: tempfile::TempDir,
    emu: Emulator,
    key: ApiKey,
    user: EmuUser,
    api: Api,
}

fn config(dir: &std::path::Path) -> EmulatorConfig {
    EmulatorConfig {
        state_dir: dir.join("emu"),
        bind: "127.0.0.1:0".parse().unwrap(),
        auto_approve: true,
        ..Default::default()
    }
}

fn world(cfg: impl FnOnce(EmulatorConfig) -> EmulatorConfig) -> World {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start(cfg(config(tmp.path()))).unwrap();
    let key = emu.create_api_key().unwrap();
    let user = emu.create_user("alice").unwrap();
    let tok = emu.issue_token(&key.key, &user.nsid, "write").unwrap();
    let api = Api::new(&emu, &key, Some(&tok));
    World {
        _tmp: tmp,
        emu,
        key,
        user,
        api,
    }
}

/// A real PNG (no EXIF) of the given size.
fn png(w: u32, h: u32, shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([shade, (x % 256) as u8, (y % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_keys_tokens_and_permissions_are_checked() {
    let w = world(|c| c);
    let login = w.api.get("flickr.test.login", &[]).await;
    assert_eq!(ok(&login)["user"]["id"], w.user.nsid);
    assert_eq!(login["user"]["username"]["_content"], "alice");

    // A wrong consumer secret: bad signature.
    let mut bad = w.api.clone();
    bad.key.secret = "not-the-secret".into();
    assert_eq!(code(&bad.get("flickr.test.login", &[]).await), 96);
    // A wrong token secret: bad signature too.
    let mut bad = w.api.clone();
    bad.token.as_mut().unwrap().secret = "nope".into();
    assert_eq!(code(&bad.get("flickr.test.login", &[]).await), 96);
    // Unknown key.
    let mut bad = w.api.clone();
    bad.key.key = "0123456789abcdef".into();
    let v = bad.get("flickr.test.login", &[]).await;
    assert_eq!(code(&v), 100);
    assert_eq!(v["message"], "Invalid API Key (Key not found)");
    // Unknown token.
    let mut bad = w.api.clone();
    bad.token.as_mut().unwrap().token = "72157-unknown".into();
    assert_eq!(code(&bad.get("flickr.test.login", &[]).await), 98);
    // No signature at all: a method that needs a token answers 99, as Flickr does.
    let unsigned = Api::params("flickr.test.login", &[("api_key", &w.key.key)]);
    assert_eq!(code(&w.api.json("GET", &unsigned).await), 99);
    // A token without a signature.
    let unsigned = Api::params(
        "flickr.test.login",
        &[("api_key", &w.key.key), ("oauth_token", "72157-x")],
    );
    assert_eq!(code(&w.api.json("GET", &unsigned).await), 97);
    // A parameter changed after signing.
    let mut all = signed(
        "GET",
        &w.api.rest_url(),
        &Api::params("flickr.test.login", &[]),
        &w.key,
        w.api.token.as_ref(),
        now(),
    );
    all.push(("extra".into(), "added later".into()));
    assert_eq!(code(&w.api.json("GET", &all).await), 96);
    // A replayed request: same nonce.
    let all = signed(
        "GET",
        &w.api.rest_url(),
        &Api::params("flickr.test.login", &[]),
        &w.key,
        w.api.token.as_ref(),
        now(),
    );
    ok(&w.api.json("GET", &all).await);
    assert_eq!(code(&w.api.json("GET", &all).await), 96);
    // A timestamp 11 minutes old.
    let all = signed(
        "GET",
        &w.api.rest_url(),
        &Api::params("flickr.test.login", &[]),
        &w.key,
        w.api.token.as_ref(),
        now() - 660,
    );
    assert_eq!(code(&w.api.json("GET", &all).await), 96);
    // The oauth params in the Authorization header instead of the query.
    let all = signed(
        "GET",
        &w.api.rest_url(),
        &Api::params("flickr.test.login", &[]),
        &w.key,
        w.api.token.as_ref(),
        now(),
    );
    let (oauth, rest): (Pairs, Pairs) = all.into_iter().partition(|(k, _)| k.starts_with("oauth_"));
    let header = format!(
        "OAuth realm=\"\", {}",
        oauth
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let r = w
        .api
        .http
        .get(format!("{}?{}", w.api.rest_url(), form(&rest)))
        .header("authorization", header)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(ok(&v)["user"]["id"], w.user.nsid);

    // A read token may read but not write.
    let read_tok = w.emu.issue_token(&w.key.key, &w.user.nsid, "read").unwrap();
    let reader = Api::new(&w.emu, &w.key, Some(&read_tok));
    ok(&reader
        .get("flickr.people.getPhotos", &[("user_id", "me")])
        .await);
    let photo = w
        .emu
        .add_photo(
            &w.user.nsid,
            NewEmuPhoto {
                title: "x".into(),
                bytes: png(40, 30, 1),
                ..Default::default()
            },
        )
        .unwrap();
    let v = reader
        .post(
            "flickr.photos.setMeta",
            &[("photo_id", &photo), ("title", "y")],
        )
        .await;
    assert_eq!(code(&v), 99);
    assert_eq!(
        v["message"],
        "Insufficient permissions. Method requires write privileges; read granted."
    );
    // Nobody may delete a photo with a write token; the attempt is logged.
    let v = w
        .api
        .post("flickr.photos.delete", &[("photo_id", &photo)])
        .await;
    assert_eq!(code(&v), 99);
    assert_eq!(w.emu.photos(&w.user.nsid).len(), 1);
    assert!(w
        .emu
        .request_log()
        .iter()
        .any(|c| c.method == "flickr.photos.delete" && !c.ok));
    assert_eq!(w.emu.call_counts().get("flickr.photos.delete"), Some(&1));
    // Unknown method, wrong format.
    assert_eq!(code(&w.api.get("flickr.photos.teleport", &[]).await), 112);
    let all = signed(
        "GET",
        &w.api.rest_url(),
        &pairs(&[
            ("method", "flickr.test.login"),
            ("format", "xml"),
            ("nojsoncallback", "1"),
        ]),
        &w.key,
        w.api.token.as_ref(),
        now(),
    );
    let text = w.api.send("GET", &all).await.unwrap().text().await.unwrap();
    assert_eq!(xml_err_code(&text), 111, "{text}");
    // Without nojsoncallback=1 the reply is wrapped like Flickr's JSONP.
    let all = signed(
        "GET",
        &w.api.rest_url(),
        &pairs(&[("method", "flickr.test.login"), ("format", "json")]),
        &w.key,
        w.api.token.as_ref(),
        now(),
    );
    let text = w.api.send("GET", &all).await.unwrap().text().await.unwrap();
    assert!(
        text.starts_with("jsonFlickrApi({") && text.ends_with("})"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_dance_gives_a_working_token() {
    let w = world(|c| c);
    let http = &w.api.http;
    let base = w.emu.base_url();
    // request_token with a callback URL.
    let url = format!("{base}/services/oauth/request_token");
    let all = signed(
        "GET",
        &url,
        &pairs(&[("oauth_callback", "http://127.0.0.1:9/cb")]),
        &w.key,
        None,
        now(),
    );
    let body = http
        .get(format!("{url}?{}", form(&all)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let reply: std::collections::HashMap<String, String> = body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        })
        .collect();
    assert_eq!(reply["oauth_callback_confirmed"], "true", "{body}");
    let rt = AccessToken {
        token: reply["oauth_token"].clone(),
        secret: reply["oauth_token_secret"].clone(),
    };
    // authorize (auto-approve, as alice): redirected to the callback with a verifier.
    let r = http
        .get(format!(
            "{base}/services/oauth/authorize?oauth_token={}&perms=write&user=alice",
            enc(&rt.token)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("http://127.0.0.1:9/cb?oauth_token="),
        "{location}"
    );
    let verifier = location.split("oauth_verifier=").nth(1).unwrap().to_owned();
    // access_token: signed with the request token.
    let url = format!("{base}/services/oauth/access_token");
    let all = signed(
        "POST",
        &url,
        &pairs(&[("oauth_verifier", &verifier)]),
        &w.key,
        Some(&rt),
        now(),
    );
    let body = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&all))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let reply: std::collections::HashMap<String, String> = body
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            (
                k.to_owned(),
                percent_encoding::percent_decode_str(v)
                    .decode_utf8_lossy()
                    .into_owned(),
            )
        })
        .collect();
    assert_eq!(reply["user_nsid"], w.user.nsid, "{body}");
    assert_eq!(reply["username"], "alice");
    assert!(reply.contains_key("fullname"));
    let tok = AccessToken {
        token: reply["oauth_token"].clone(),
        secret: reply["oauth_token_secret"].clone(),
    };
    let api = Api::new(&w.emu, &w.key, Some(&tok));
    ok(&api.get("flickr.test.login", &[]).await);
    let v = api
        .get(
            "flickr.auth.oauth.checkToken",
            &[("oauth_token", &tok.token)],
        )
        .await;
    assert_eq!(ok(&v)["oauth"]["perms"]["_content"], "write");
    // The request token cannot be exchanged twice.
    let all = signed(
        "POST",
        &url,
        &pairs(&[("oauth_verifier", &verifier)]),
        &w.key,
        Some(&rt),
        now(),
    );
    let r = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&all))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // oob: the page shows a 9-digit verifier.
    let url = format!("{base}/services/oauth/request_token");
    let all = signed(
        "POST",
        &url,
        &pairs(&[("oauth_callback", "oob")]),
        &w.key,
        None,
        now(),
    );
    let body = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&all))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = body
        .split("oauth_token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let page = http
        .get(format!(
            "{base}/services/oauth/authorize?oauth_token={token}&perms=read"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v = page
        .split("id=\"verifier\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    assert!(
        v.len() == 11
            && v.chars().enumerate().all(|(i, c)| if i == 3 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_page_without_auto_approve_has_approve_and_deny() {
    let w = world(|c| EmulatorConfig {
        auto_approve: false,
        ..c
    });
    let base = w.emu.base_url();
    let url = format!("{base}/services/oauth/request_token");
    let all = signed(
        "GET",
        &url,
        &pairs(&[("oauth_callback", "http://127.0.0.1:9/cb")]),
        &w.key,
        None,
        now(),
    );
    let body = w
        .api
        .http
        .get(format!("{url}?{}", form(&all)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = body
        .split("oauth_token=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let page = w
        .api
        .http
        .get(format!(
            "{base}/services/oauth/authorize?oauth_token={token}&perms=write"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("value=\"approve\"") && page.contains("value=\"deny\""),
        "{page}"
    );
    let r = w
        .api
        .http
        .post(format!("{base}/services/oauth/authorize"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "oauth_token={token}&perms=write&user={}&decision=approve",
            enc(&w.user.nsid)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .contains("oauth_verifier="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_keeps_bytes_and_exif_date_and_reports_flickr_errors() {
    let w = world(|c| EmulatorConfig {
        seed_demo: true,
        ..c
    });
    let demo = w.emu.demo_user().unwrap();
    // A real JPEG with EXIF DateTimeOriginal: the demo's "Sunset over the bay".
    let sunset = w
        .emu
        .photos(&demo.nsid)
        .into_iter()
        .find(|p| p.title == "Sunset over the bay")
        .unwrap();
    let jpeg = w.emu.photo_bytes(&sunset.id).unwrap();
    assert_eq!(sunset.date_taken, "2023-07-14 20:41:07");

    let xml = w
        .api
        .upload(
            "/services/upload/",
            &[
                ("tags", "beach \"New York\" flickrfs:sha1=abc123"),
                ("is_public", "0"),
            ],
            Some((&jpeg, "IMG_1234.JPG")),
        )
        .await;
    assert!(
        xml.contains("<rsp stat=\"ok\">") && xml.contains("originalsecret=\""),
        "{xml}"
    );
    let id = xml_photo_id(&xml);
    let info = w
        .api
        .get("flickr.photos.getInfo", &[("photo_id", &id)])
        .await;
    let photo = &ok(&info)["photo"];
    assert_eq!(
        photo["title"]["_content"], "IMG_1234",
        "no title: the file name without extension"
    );
    assert_eq!(photo["dates"]["taken"], "2023-07-14 20:41:07");
    assert_eq!(photo["dates"]["takenunknown"], "0");
    assert_eq!(photo["visibility"]["ispublic"], 0);
    assert_eq!(photo["originalformat"], "jpg");
    let raws: BTreeSet<String> = photo["tags"]["tag"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["raw"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        raws,
        ["New York", "beach", "flickrfs:sha1=abc123"]
            .into_iter()
            .map(String::from)
            .collect()
    );
    // The original comes back byte for byte.
    let list = w
        .api
        .get(
            "flickr.people.getPhotos",
            &[
                ("user_id", "me"),
                (
                    "extras",
                    "url_o,original_format,o_dims,date_taken,machine_tags,tags",
                ),
            ],
        )
        .await;
    let entry = ok(&list)["photos"]["photo"][0].clone();
    assert_eq!(entry["id"], id);
    assert_eq!(entry["machine_tags"], "flickrfs:sha1=abc123");
    assert_eq!(entry["datetakengranularity"], 0);
    let got = w.api.fetch(entry["url_o"].as_str().unwrap()).await;
    assert_eq!(sha1_hex(&got), sha1_hex(&jpeg));
    assert_eq!(entry["o_width"], "800");
    // Machine tags are searchable, wildcards too.
    for pattern in ["flickrfs:sha1=abc123", "flickrfs:sha1=", "flickrfs:"] {
        let v = w
            .api
            .get(
                "flickr.photos.search",
                &[("user_id", "me"), ("machine_tags", pattern)],
            )
            .await;
        assert_eq!(ok(&v)["photos"]["total"], "1", "{pattern}");
    }
    let v = w
        .api
        .get(
            "flickr.photos.search",
            &[("user_id", "me"), ("machine_tags", "flickrfs:sha1=other")],
        )
        .await;
    assert_eq!(ok(&v)["photos"]["total"], "0");
    // Smaller sizes are real downscaled JPEGs.
    let sizes = w
        .api
        .get("flickr.photos.getSizes", &[("photo_id", &id)])
        .await;
    let sizes = ok(&sizes)["sizes"]["size"].as_array().unwrap().clone();
    assert_eq!(sizes.last().unwrap()["label"], "Original");
    let thumb = sizes.iter().find(|s| s["label"] == "Thumbnail").unwrap();
    let img =
        image::load_from_memory(&w.api.fetch(thumb["source"].as_str().unwrap()).await).unwrap();
    assert_eq!((img.width(), img.height()), (100, 67));
    assert_eq!(
        (thumb["width"].as_u64(), thumb["height"].as_u64()),
        (Some(100), Some(67))
    );
    assert!(
        !sizes.iter().any(|s| s["label"] == "Large"),
        "no size beyond the 800px original"
    );

    // dedup_check finds the same bytes.
    let xml = w
        .api
        .upload(
            "/services/upload/",
            &[("dedup_check", "1")],
            Some((&jpeg, "again.jpg")),
        )
        .await;
    assert_eq!(xml_err_code(&xml), 9);
    assert!(
        xml.contains(&format!("duplicate_photo_id=\"{id}\"")),
        "{xml}"
    );
    // A PNG without EXIF: date taken unknown, the given title kept.
    let xml = w
        .api
        .upload(
            "/services/upload/",
            &[("title", "Scan"), ("async", "0")],
            Some((&png(64, 48, 9), "scan.png")),
        )
        .await;
    let pid = xml_photo_id(&xml);
    let info = w
        .api
        .get("flickr.photos.getInfo", &[("photo_id", &pid)])
        .await;
    assert_eq!(info["photo"]["dates"]["takenunknown"], "1");
    assert_eq!(info["photo"]["title"]["_content"], "Scan");
    assert_eq!(info["photo"]["originalformat"], "png");
    // Errors: empty, not an image, no photo, bad signature.
    assert_eq!(
        xml_err_code(
            &w.api
                .upload("/services/upload/", &[], Some((b"", "empty.jpg")))
                .await
        ),
        4
    );
    assert_eq!(
        xml_err_code(
            &w.api
                .upload(
                    "/services/upload/",
                    &[],
                    Some((b"just some text", "notes.txt"))
                )
                .await
        ),
        5
    );
    assert_eq!(
        xml_err_code(
            &w.api
                .upload("/services/upload/", &[("title", "x")], None)
                .await
        ),
        2
    );
    let mut bad = w.api.clone();
    bad.key.secret = "wrong".into();
    assert_eq!(
        xml_err_code(
            &bad.upload("/services/upload/", &[], Some((&jpeg, "a.jpg")))
                .await
        ),
        96
    );
    // Garbage that is not multipart at all.
    let r = w
        .api
        .http
        .post(format!("{}/services/upload/", w.api.base))
        .body("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("stat=\"fail\""));
    // async upload: a ticket that completes.
    let xml = w
        .api
        .upload(
            "/services/upload/",
            &[("async", "1")],
            Some((&png(10, 10, 3), "t.png")),
        )
        .await;
    let ticket = xml
        .split("<ticketid>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let mut done = None;
    for _ in 0..3 {
        let v = w
            .api
            .get("flickr.photos.upload.checkTickets", &[("tickets", &ticket)])
            .await;
        let t = &ok(&v)["uploader"]["ticket"][0];
        if t["complete"] == 1 {
            done = t["photoid"].as_str().map(str::to_owned);
            break;
        }
    }
    assert!(done.is_some());
    // Replace keeps the id and swaps the bytes.
    let new_bytes = png(30, 20, 200);
    let xml = w
        .api
        .upload(
            "/services/replace/",
            &[("photo_id", &pid)],
            Some((&new_bytes, "s.png")),
        )
        .await;
    assert_eq!(xml_photo_id(&xml), pid);
    let mine = w.emu.photos(&w.user.nsid);
    assert_eq!(
        mine.iter().find(|p| p.id == pid).unwrap().sha1,
        sha1_hex(&new_bytes)
    );
    assert_eq!(w.emu.call_counts().get("upload").copied(), Some(9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_page_through_more_than_500_photos() {
    let w = world(|c| EmulatorConfig {
        seed_photos: 1203,
        seed_sets: 3,
        seed_user: "bulk".into(),
        ..c
    });
    let bulk = w.emu.user_by_name("bulk").unwrap().unwrap();
    let tok = w.emu.issue_token(&w.key.key, &bulk.nsid, "read").unwrap();
    let api = Api::new(&w.emu, &w.key, Some(&tok));
    let mut seen = BTreeSet::new();
    let mut page = 1;
    loop {
        let v = api
            .get(
                "flickr.people.getPhotos",
                &[
                    ("user_id", "me"),
                    ("per_page", "1000"),
                    ("page", &page.to_string()),
                    ("extras", "date_upload,last_update"),
                ],
            )
            .await;
        let photos = &ok(&v)["photos"];
        assert_eq!(photos["perpage"], 500, "per_page is capped at 500");
        assert_eq!(photos["total"], 1203);
        assert_eq!(photos["pages"], 3);
        for p in photos["photo"].as_array().unwrap() {
            assert!(seen.insert(p["id"].as_str().unwrap().to_owned()));
            assert!(p["dateupload"].is_string());
        }
        if page >= photos["pages"].as_i64().unwrap() {
            break;
        }
        page += 1;
    }
    assert_eq!(seen.len(), 1203);
    // Sets and getNotInSet agree with the emulator's own state.
    let sets = w.emu.photosets(&bulk.nsid);
    assert_eq!(sets.len(), 3);
    let in_sets: BTreeSet<String> = sets.iter().flat_map(|s| s.photos.clone()).collect();
    let v = api
        .get("flickr.photos.getNotInSet", &[("per_page", "500")])
        .await;
    assert_eq!(
        ok(&v)["photos"]["total"].as_u64().unwrap() as usize,
        1203 - in_sets.len()
    );
    let v = api.get("flickr.photosets.getList", &[]).await;
    let list = ok(&v)["photosets"]["photoset"].as_array().unwrap().clone();
    assert_eq!(list.len(), 3);
    let first = &list[0];
    let set_total: usize = first["photos"].as_u64().unwrap() as usize;
    let mut got = Vec::new();
    for page in 1..=set_total.div_ceil(500) {
        let v = api
            .get(
                "flickr.photosets.getPhotos",
                &[
                    ("photoset_id", first["id"].as_str().unwrap()),
                    ("page", &page.to_string()),
                ],
            )
            .await;
        let s = &ok(&v)["photoset"];
        assert_eq!(s["total"], set_total.to_string());
        got.extend(
            s["photo"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned()),
        );
    }
    let set = sets.iter().find(|s| s.id == first["id"]).unwrap();
    assert_eq!(got, set.photos, "set order is kept");
    // A synthetic original is a real image, the same bytes each time.
    let v = api
        .get("flickr.photos.getSizes", &[("photo_id", &got[0])])
        .await;
    let url = ok(&v)["sizes"]["size"].as_array().unwrap().last().unwrap()["source"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = api.fetch(&url).await;
    assert_eq!(a, api.fetch(&url).await);
    image::load_from_memory(&a).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sets_pools_and_edits_behave_like_flickr() {
    let w = world(|c| c);
    let nsid = w.user.nsid.clone();
    let ids: Vec<String> = (0..3)
        .map(|i| {
            w.emu
                .add_photo(
                    &nsid,
                    NewEmuPhoto {
                        title: format!("p{i}"),
                        bytes: png(20, 20, i as u8),
                        visibility: EmuVisibility {
                            is_public: true,
                            ..Default::default()
                        },
                        ..Default::default()
                    },
                )
                .unwrap()
        })
        .collect();
    assert_eq!(
        code(
            &w.api
                .post("flickr.photosets.create", &[("title", "Trip")])
                .await
        ),
        2,
        "primary is required"
    );
    assert_eq!(
        code(
            &w.api
                .post("flickr.photosets.create", &[("primary_photo_id", &ids[0])])
                .await
        ),
        1,
        "title is required"
    );
    let v = w
        .api
        .post(
            "flickr.photosets.create",
            &[("title", "Trip"), ("primary_photo_id", &ids[0])],
        )
        .await;
    let set = ok(&v)["photoset"]["id"].as_str().unwrap().to_owned();
    ok(&w
        .api
        .post(
            "flickr.photosets.addPhoto",
            &[("photoset_id", &set), ("photo_id", &ids[1])],
        )
        .await);
    assert_eq!(
        code(
            &w.api
                .post(
                    "flickr.photosets.addPhoto",
                    &[("photoset_id", &set), ("photo_id", &ids[1])]
                )
                .await
        ),
        3
    );
    assert_eq!(
        code(
            &w.api
                .post(
                    "flickr.photosets.addPhoto",
                    &[("photoset_id", "999"), ("photo_id", &ids[1])]
                )
                .await
        ),
        1
    );
    assert_eq!(
        code(
            &w.api
                .post(
                    "flickr.photosets.addPhoto",
                    &[("photoset_id", &set), ("photo_id", "not-a-number")]
                )
                .await
        ),
        2
    );
    assert_eq!(code(&w.api.get("flickr.photos.getInfo", &[]).await), 1);
    let before = w.emu.photosets(&nsid)[0].date_update;
    // Removing the primary moves it.
    ok(&w
        .api
        .post(
            "flickr.photosets.removePhoto",
            &[("photoset_id", &set), ("photo_id", &ids[0])],
        )
        .await);
    let s = &w.emu.photosets(&nsid)[0];
    assert_eq!(s.primary, ids[1]);
    assert_eq!(s.photos, vec![ids[1].clone()]);
    assert!(s.date_update > before);
    ok(&w
        .api
        .post(
            "flickr.photosets.editPhotos",
            &[
                ("photoset_id", &set),
                ("primary_photo_id", &ids[2]),
                ("photo_ids", &format!("{},{}", ids[2], ids[0])),
            ],
        )
        .await);
    assert_eq!(
        w.emu.photosets(&nsid)[0].photos,
        vec![ids[2].clone(), ids[0].clone()]
    );
    ok(&w
        .api
        .post(
            "flickr.photosets.editMeta",
            &[
                ("photoset_id", &set),
                ("title", "Trip 2"),
                ("description", "d"),
            ],
        )
        .await);
    assert_eq!(w.emu.photosets(&nsid)[0].title, "Trip 2");
    let v = w
        .api
        .get("flickr.photos.getAllContexts", &[("photo_id", &ids[2])])
        .await;
    assert_eq!(ok(&v)["set"][0]["id"], set);
    assert!(v.get("pool").is_none(), "empty lists are omitted");
    // Edits bump lastupdate; recentlyUpdated finds them.
    let p0 = w.emu.photos(&nsid)[0].last_update;
    ok(&w
        .api
        .post(
            "flickr.photos.setMeta",
            &[("photo_id", &ids[0]), ("title", "new")],
        )
        .await);
    ok(&w
        .api
        .post(
            "flickr.photos.setTags",
            &[("photo_id", &ids[0]), ("tags", "a \"b c\"")],
        )
        .await);
    ok(&w
        .api
        .post(
            "flickr.photos.setPerms",
            &[
                ("photo_id", &ids[0]),
                ("is_public", "0"),
                ("is_friend", "1"),
                ("is_family", "0"),
            ],
        )
        .await);
    ok(&w
        .api
        .post(
            "flickr.photos.setDates",
            &[("photo_id", &ids[0]), ("date_taken", "2020-01-02 03:04:05")],
        )
        .await);
    let p = w
        .emu
        .photos(&nsid)
        .into_iter()
        .find(|p| p.id == ids[0])
        .unwrap();
    assert!(p.last_update >= p0 + 4);
    assert_eq!(
        (p.title.as_str(), p.date_taken.as_str()),
        ("new", "2020-01-02 03:04:05")
    );
    assert_eq!(p.tags, vec!["a", "b c"]);
    assert!(p.visibility.is_friend && !p.visibility.is_public);
    let v = w
        .api
        .get(
            "flickr.photos.recentlyUpdated",
            &[("min_date", &p.last_update.to_string())],
        )
        .await;
    assert_eq!(ok(&v)["photos"]["photo"][0]["id"], ids[0]);
    // Writes need POST.
    assert_eq!(
        code(
            &w.api
                .get(
                    "flickr.photos.setMeta",
                    &[("photo_id", &ids[0]), ("title", "x")]
                )
                .await
        ),
        116
    );
    // Pools: only for members; already-in-pool is error 3.
    let g = w.emu.create_group("Testers").unwrap();
    assert_eq!(
        code(
            &w.api
                .post(
                    "flickr.groups.pools.add",
                    &[("group_id", &g.nsid), ("photo_id", &ids[1])]
                )
                .await
        ),
        2
    );
    w.emu.join_group(&g.nsid, &nsid).unwrap();
    ok(&w
        .api
        .post(
            "flickr.groups.pools.add",
            &[("group_id", &g.nsid), ("photo_id", &ids[1])],
        )
        .await);
    assert_eq!(
        code(
            &w.api
                .post(
                    "flickr.groups.pools.add",
                    &[("group_id", &g.nsid), ("photo_id", &ids[1])]
                )
                .await
        ),
        3
    );
    let v = w
        .api
        .get(
            "flickr.groups.pools.getPhotos",
            &[("group_id", &g.nsid), ("user_id", &nsid)],
        )
        .await;
    assert_eq!(ok(&v)["photos"]["photo"][0]["id"], ids[1]);
    assert_eq!(w.emu.pool_photos(&g.nsid, &nsid), vec![ids[1].clone()]);
    let v = w
        .api
        .get("flickr.people.getGroups", &[("user_id", "me")])
        .await;
    assert_eq!(ok(&v)["groups"]["group"][0]["nsid"], g.nsid);
    ok(&w
        .api
        .post(
            "flickr.groups.pools.remove",
            &[("group_id", &g.nsid), ("photo_id", &ids[1])],
        )
        .await);
    assert!(w.emu.pool_photos(&g.nsid, &nsid).is_empty());
    // Deleting the set keeps its photos; removing the last photo deletes a set.
    ok(&w
        .api
        .post("flickr.photosets.delete", &[("photoset_id", &set)])
        .await);
    assert!(w.emu.photosets(&nsid).is_empty());
    assert_eq!(w.emu.photos(&nsid).len(), 3);
    let s2 = w
        .emu
        .add_photoset(
            &nsid,
            NewEmuSet {
                title: "One".into(),
                photo_ids: vec![ids[0].clone()],
                ..Default::default()
            },
        )
        .unwrap();
    ok(&w
        .api
        .post(
            "flickr.photosets.removePhotos",
            &[("photoset_id", &s2), ("photo_ids", &ids[0])],
        )
        .await);
    assert!(w.emu.photosets(&nsid).is_empty());
    // Another user's private photo is invisible.
    let bob = w.emu.create_user("bob").unwrap();
    let hidden = w
        .emu
        .add_photo(
            &bob.nsid,
            NewEmuPhoto {
                title: "secret".into(),
                bytes: png(8, 8, 1),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        code(
            &w.api
                .get("flickr.photos.getInfo", &[("photo_id", &hidden)])
                .await
        ),
        1
    );
    assert_eq!(
        code(
            &w.api
                .post(
                    "flickr.photos.setMeta",
                    &[("photo_id", &hidden), ("title", "x")]
                )
                .await
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_injected_and_logged() {
    let w = world(|c| EmulatorConfig {
        faults: FaultConfig {
            error_rate: 0.2,
            ..Default::default()
        },
        fault_seed: 7,
        ..c
    });
    let mut failed = 0;
    for _ in 0..100 {
        let all = signed(
            "GET",
            &w.api.rest_url(),
            &Api::params("flickr.test.login", &[]),
            &w.key,
            w.api.token.as_ref(),
            now(),
        );
        let r = w.api.send("GET", &all).await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        if status != 200 {
            assert!([500, 502, 503].contains(&status));
            failed += 1;
        } else if text.contains("\"code\":105") {
            failed += 1;
        } else {
            assert!(text.contains("\"stat\":\"ok\""), "{text}");
        }
    }
    let log = w.emu.request_log();
    assert_eq!(log.len(), 100);
    assert_eq!(log.iter().filter(|c| !c.ok).count(), failed);
    assert!((8..=35).contains(&failed), "about 20% fail: {failed}");
    assert!(log.iter().filter(|c| !c.ok).all(|c| c.fault.is_some()));
    assert_eq!(w.emu.call_counts()["flickr.test.login"], 100);

    // /admin is never faulted and can change the faults.
    let http = &w.api.http;
    let base = w.emu.base_url();
    for _ in 0..20 {
        assert!(http
            .get(format!("{base}/admin/log"))
            .send()
            .await
            .unwrap()
            .status()
            .is_success());
    }
    let r = http
        .post(format!("{base}/admin/faults"))
        .body(r#"{"reset_rate": 1.0}"#)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert_eq!(w.emu.faults().reset_rate, 1.0);
    let all = signed(
        "GET",
        &w.api.rest_url(),
        &Api::params("flickr.test.login", &[]),
        &w.key,
        w.api.token.as_ref(),
        now(),
    );
    let body = match w.api.send("GET", &all).await {
        Ok(r) => r.bytes().await.map(|b| b.to_vec()),
        Err(e) => Err(e),
    };
    assert!(body.is_err(), "the connection drops mid-body");
    assert_eq!(
        w.emu.request_log().last().unwrap().fault.as_deref(),
        Some("reset")
    );

    // A strict hourly limit: 429 beyond it.
    w.emu.set_faults(FaultConfig {
        rate_limit_per_hour: 3,
        ..Default::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let all = signed(
            "GET",
            &w.api.rest_url(),
            &Api::params("flickr.test.login", &[]),
            &w.key,
            w.api.token.as_ref(),
            now(),
        );
        statuses.push(w.api.send("GET", &all).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let log: Value = http
        .get(format!("{base}/admin/log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(log["calls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["fault"] == "rate_limited"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_survives_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (key, tok, user, id, bytes) = {
        let emu = Emulator::start(config(tmp.path())).unwrap();
        let key = emu.create_api_key().unwrap();
        let user = emu.create_user("carol").unwrap();
        let tok = emu.issue_token(&key.key, &user.nsid, "write").unwrap();
        let api = Api::new(&emu, &key, Some(&tok));
        let bytes = png(33, 22, 5);
        let id = xml_photo_id(
            &api.upload(
                "/services/upload/",
                &[("title", "kept")],
                Some((&bytes, "k.png")),
            )
            .await,
        );
        emu.stop();
        (key, tok, user, id, bytes)
    };
    let emu = Emulator::start(config(tmp.path())).unwrap();
    let api = Api::new(&emu, &key, Some(&tok));
    let v = api.get("flickr.test.login", &[]).await;
    assert_eq!(ok(&v)["user"]["id"], user.nsid);
    let photos = emu.photos(&user.nsid);
    assert_eq!(photos.len(), 1);
    assert_eq!(
        (photos[0].id.as_str(), photos[0].title.as_str()),
        (id.as_str(), "kept")
    );
    let v = api
        .get(
            "flickr.people.getPhotos",
            &[("user_id", "me"), ("extras", "url_o")],
        )
        .await;
    let got = api
        .fetch(ok(&v)["photos"]["photo"][0]["url_o"].as_str().unwrap())
        .await;
    assert_eq!(got, bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_account_is_seeded_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = EmulatorConfig {
        seed_demo: true,
        ..config(tmp.path())
    };
    let emu = Emulator::start(cfg.clone()).unwrap();
    let demo = emu.demo_user().unwrap();
    let photos = emu.photos(&demo.nsid);
    assert_eq!(photos.len(), 10);
    assert!(photos.iter().any(|p| p.title == "Sunset over the bay"));
    assert_eq!(photos.iter().filter(|p| p.title.is_empty()).count(), 1);
    assert_eq!(photos.iter().filter(|p| p.title == "Roses").count(), 2);
    assert!(photos.iter().any(|p| p.date_taken_unknown));
    assert!(photos
        .iter()
        .any(|p| p.machine_tags == vec!["camera:make=emulator"]));
    let titles: BTreeSet<String> = emu
        .photosets(&demo.nsid)
        .into_iter()
        .map(|s| s.title)
        .collect();
    assert!(titles.contains("Holidays 2023") && titles.contains("Garden"));
    assert_eq!(emu.groups_of(&demo.nsid).len(), 2);
    // The seeded token works with the default key.
    let api = Api::new(&emu, &emu.default_api_key(), emu.demo_token().as_ref());
    let v = api
        .get(
            "flickr.photosets.getList",
            &[("primary_photo_extras", "url_q")],
        )
        .await;
    let sets = ok(&v)["photosets"]["photoset"].as_array().unwrap().clone();
    assert_eq!(sets.len(), 4);
    assert!(sets[0]["title"]["_content"].is_string() && sets[0]["date_update"].is_string());
    assert!(sets[0]["primary_photo_extras"]["url_q"].is_string());
    let key = emu.default_api_key();
    drop(emu);
    let emu = Emulator::start(cfg).unwrap();
    assert_eq!(emu.default_api_key(), key);
    assert_eq!(emu.photos(&demo.nsid).len(), 10, "not seeded twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_photos_seed_in_seconds() {
    let tmp = tempfile::tempdir().unwrap();
    let t = Instant::now();
    let emu = Emulator::start(EmulatorConfig {
        seed_photos: 100_000,
        seed_sets: 300,
        seed_user: "big".into(),
        ..config(tmp.path())
    })
    .unwrap();
    let took = t.elapsed();
    eprintln!("seeding 100,000 photos and 300 sets took {took:?}");
    assert!(took.as_secs() < 60, "seeding took {took:?}");
    let big = emu.user_by_name("big").unwrap().unwrap();
    let key = emu.default_api_key();
    let tok = emu.issue_token(&key.key, &big.nsid, "read").unwrap();
    let api = Api::new(&emu, &key, Some(&tok));
    let v = api
        .get(
            "flickr.people.getPhotos",
            &[("user_id", "me"), ("per_page", "500"), ("page", "200")],
        )
        .await;
    assert_eq!(ok(&v)["photos"]["total"], 100_000);
    assert_eq!(v["photos"]["photo"].as_array().unwrap().len(), 500);
    let v = api.get("flickr.photosets.getList", &[]).await;
    assert_eq!(ok(&v)["photosets"]["total"], 300);
    // No image bytes are stored for synthetic photos.
    let originals = std::fs::read_dir(tmp.path().join("emu/originals"))
        .unwrap()
        .count();
    assert_eq!(originals, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_flickr_errors_not_500s() {
    let w = world(|c| c);
    let http = &w.api.http;
    let base = w.emu.base_url();
    // Wrong HTTP method on REST.
    let r = http
        .put(w.api.rest_url())
        .body("method=flickr.test.login&format=json&nojsoncallback=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(code(&v), 116);
    // Nonsense parameters.
    for (k, v) in [
        ("photo_id", "99999999999999999999999"),
        ("photo_id", "-1"),
        ("photo_id", "%ZZ"),
        ("photo_id", ""),
    ] {
        let got = w.api.get("flickr.photos.getInfo", &[(k, v)]).await;
        assert_eq!(code(&got), 1, "{k}={v}");
    }
    let v = w
        .api
        .get(
            "flickr.people.getPhotos",
            &[("user_id", "me"), ("page", "-5"), ("per_page", "abc")],
        )
        .await;
    assert_eq!(ok(&v)["photos"]["page"], 1);
    assert_eq!(v["photos"]["perpage"], 100);
    let v = w
        .api
        .get(
            "flickr.people.getPhotos",
            &[
                ("user_id", "me"),
                ("page", "9223372036854775807"),
                ("per_page", "500"),
            ],
        )
        .await;
    assert!(ok(&v)["photos"]["photo"].as_array().unwrap().is_empty());
    assert_eq!(
        code(
            &w.api
                .get("flickr.people.getPhotos", &[("user_id", "nobody@N00")])
                .await
        ),
        2
    );
    assert_eq!(
        code(
            &w.api
                .get("flickr.photosets.getPhotos", &[("photoset_id", "abc")])
                .await
        ),
        1
    );
    assert_eq!(
        code(&w.api.get("flickr.photos.recentlyUpdated", &[]).await),
        1
    );
    assert_eq!(
        code(
            &w.api
                .post("flickr.photos.setPerms", &[("photo_id", "1")])
                .await
        ),
        1
    );
    // No method at all.
    let all = signed(
        "GET",
        &w.api.rest_url(),
        &pairs(&[("format", "json"), ("nojsoncallback", "1")]),
        &w.key,
        w.api.token.as_ref(),
        now(),
    );
    assert_eq!(code(&w.api.json("GET", &all).await), 112);
    // Upload with GET, multipart garbage, bad photo file names.
    let r = http
        .get(format!("{base}/services/upload/"))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("stat=\"fail\""));
    let r = http
        .post(format!("{base}/services/upload/"))
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("--XYZ\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\nabc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("stat=\"fail\""));
    for path in [
        "/photos/65535/garbage.jpg",
        "/photos/65535/1_2_3_4.jpg",
        "/photos/x/53000000001_abc_o.jpg",
    ] {
        assert_eq!(
            http.get(format!("{base}{path}"))
                .send()
                .await
                .unwrap()
                .status(),
            404,
            "{path}"
        );
    }
    assert!(w.emu.request_log().iter().all(|c| c.http_status != 500));
}

#[test]
fn command_line_arguments_make_a_config() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: flickrfs::emulator::EmulatorArgs,
    }
    let cli = Cli::try_parse_from([
        "emulator",
        "--state-dir",
        "/tmp/x",
        "--bind",
        "127.0.0.1:0",
        "--seed-demo",
        "--seed-photos",
        "5",
        "--seed-sets",
        "2",
        "--error-rate",
        "0.1",
        "--rate-limit",
        "3600",
    ])
    .unwrap();
    let cfg = cli.args.into_config();
    assert!(cfg.seed_demo && cfg.seed_photos == 5 && cfg.seed_sets == 2);
    assert_eq!(cfg.faults.error_rate, 0.1);
    assert_eq!(cfg.faults.rate_limit_per_hour, 3600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_page_shows_photostream_albums_and_pools_with_real_thumbnails() {
    let w = world(|mut c| {
        c.seed_demo = true;
        c
    });
    let base = w.emu.base_url();
    let http = reqwest::Client::new();
    let page = http
        .get(format!("{base}/people/demo/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let demo = w.emu.user_by_name("demo").unwrap().unwrap();
    // Every photo, private ones included (the owner's view), every album and pool.
    let photos = w.emu.photos(&demo.nsid);
    assert!(
        page.contains(&format!("Photostream ({})", photos.len())),
        "{page}"
    );
    for set in w.emu.photosets(&demo.nsid) {
        assert!(page.contains(&set.title), "album {} missing", set.title);
    }
    for g in w.emu.groups_of(&demo.nsid) {
        assert!(page.contains(&g.name), "pool {} missing", g.name);
    }
    // The strangers' view leaves private photos out.
    let public = http
        .get(format!("{base}/people/demo/?public=1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(public.matches("<figure>").count() < page.matches("<figure>").count());
    // Thumbnails are real, small JPEGs.
    let src = page
        .split("<img src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let img = http.get(&src).send().await.unwrap();
    assert!(img.status().is_success(), "{src}");
    let bytes = img.bytes().await.unwrap();
    let decoded = image::load_from_memory(&bytes).unwrap();
    assert!(decoded.width() <= 150 && decoded.height() <= 150);
    // An unknown account is a 404, not a crash.
    let missing = http
        .get(format!("{base}/people/nobody/"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

// ---------------------------------------------------------------- fidelity (issues 15 and 17)

impl Api {
    /// A signed call with exactly these parameters (no format added); the raw body.
    async fn raw(&self, http_method: &str, p: &[(&str, &str)]) -> String {
        let all = signed(
            http_method,
            &self.rest_url(),
            &pairs(p),
            &self.key,
            self.token.as_ref(),
            now(),
        );
        self.send(http_method, &all)
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// A signed call whose OAuth parameters travel in the Authorization
    /// header, the method's own in the query (GET) or the body (POST).
    async fn in_header(&self, http_method: &str, p: &[(&str, &str)]) -> String {
        let url = self.rest_url();
        let all = signed(
            http_method,
            &url,
            &pairs(p),
            &self.key,
            self.token.as_ref(),
            now(),
        );
        let (oauth, rest): (Pairs, Pairs) =
            all.into_iter().partition(|(k, _)| k.starts_with("oauth_"));
        let header = format!(
            "OAuth {}",
            oauth
                .iter()
                .map(|(k, v)| format!("{}=\"{}\"", enc(k), enc(v)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let req = if http_method == "GET" {
            self.http.get(format!("{url}?{}", form(&rest)))
        } else {
            self.http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form(&rest))
        };
        req.header("authorization", header)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

fn photo_in(w: &World, title: &str, public: bool, shade: u8) -> String {
    w.emu
        .add_photo(
            &w.user.nsid,
            NewEmuPhoto {
                title: title.into(),
                bytes: png(40, 30, shade),
                visibility: EmuVisibility {
                    is_public: public,
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .unwrap()
}

/// An XML reply's `<rsp>` after checking `stat`.
fn rsp_ok(xml: &str) -> roxmltree::Document<'_> {
    let doc = roxmltree::Document::parse(xml).unwrap_or_else(|e| panic!("not XML ({e}): {xml}"));
    assert_eq!(doc.root_element().tag_name().name(), "rsp", "{xml}");
    assert_eq!(doc.root_element().attribute("stat"), Some("ok"), "{xml}");
    doc
}

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    n.children()
        .find(|c| c.has_tag_name(name))
        .unwrap_or_else(|| panic!("no <{name}> in <{}>", n.tag_name().name()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_answers_in_xml_by_default_and_json_is_its_mechanical_transform() {
    let w = world(|c| c);
    let id = photo_in(&w, "Tom & \"Jerry\"", false, 3);
    w.emu.set_tags(&id, &["summer light", "beach"]).unwrap();
    // No format, and format=rest: Flickr's XML.
    for p in [
        vec![
            ("method", "flickr.photos.getInfo"),
            ("photo_id", id.as_str()),
        ],
        vec![
            ("method", "flickr.photos.getInfo"),
            ("photo_id", id.as_str()),
            ("format", "rest"),
        ],
    ] {
        let xml = w.api.raw("GET", &p).await;
        let doc = rsp_ok(&xml);
        let photo = child(doc.root_element(), "photo");
        assert_eq!(photo.attribute("id"), Some(id.as_str()));
        let owner = child(photo, "owner");
        assert_eq!(owner.attribute("username"), Some("alice"));
        assert_eq!(child(photo, "title").text(), Some("Tom & \"Jerry\""));
        assert_eq!(child(photo, "visibility").attribute("ispublic"), Some("0"));
        let tags: Vec<_> = child(photo, "tags")
            .children()
            .filter(|t| t.has_tag_name("tag"))
            .map(|t| (t.attribute("raw").unwrap(), t.text().unwrap()))
            .collect();
        assert_eq!(tags, [("summer light", "summerlight"), ("beach", "beach")]);
    }
    // The same reply in JSON: attributes are keys, text is `_content`.
    let v = w
        .api
        .get("flickr.photos.getInfo", &[("photo_id", &id)])
        .await;
    let p = &ok(&v)["photo"];
    assert_eq!(p["title"]["_content"], "Tom & \"Jerry\"");
    assert_eq!(p["tags"]["tag"][0]["raw"], "summer light");
    assert_eq!(p["tags"]["tag"][0]["_content"], "summerlight");
    // JSON without nojsoncallback is wrapped; a named callback is honoured.
    let text = w
        .api
        .raw(
            "GET",
            &[("method", "flickr.test.login"), ("format", "json")],
        )
        .await;
    let inner = text
        .strip_prefix("jsonFlickrApi(")
        .and_then(|t| t.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{text}"));
    let v: Value = serde_json::from_str(inner).unwrap();
    assert_eq!(ok(&v)["user"]["username"]["_content"], "alice");
    // The same reply in XML, as Flickr writes it: <user id path_alias><username>.
    let xml = w.api.raw("GET", &[("method", "flickr.test.login")]).await;
    let doc = rsp_ok(&xml);
    let user = child(doc.root_element(), "user");
    assert_eq!(user.attribute("id"), Some(w.user.nsid.as_str()));
    assert_eq!(user.attribute("path_alias"), Some("alice"));
    assert_eq!(child(user, "username").text(), Some("alice"));
    let text = w
        .api
        .raw(
            "GET",
            &[
                ("method", "flickr.test.login"),
                ("format", "json"),
                ("jsoncallback", "cb_1"),
            ],
        )
        .await;
    assert!(text.starts_with("cb_1({") && text.ends_with("})"), "{text}");
    // Lists: repeated elements; failures: <err code msg/> in the asked format.
    let xml = w
        .api
        .raw(
            "GET",
            &[("method", "flickr.people.getPhotos"), ("user_id", "me")],
        )
        .await;
    let doc = rsp_ok(&xml);
    let photos = child(doc.root_element(), "photos");
    assert_eq!(photos.attribute("total"), Some("1"));
    assert_eq!(child(photos, "photo").attribute("id"), Some(id.as_str()));
    let xml = w
        .api
        .raw(
            "GET",
            &[("method", "flickr.photos.getInfo"), ("photo_id", "1")],
        )
        .await;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    assert_eq!(doc.root_element().attribute("stat"), Some("fail"));
    let err = child(doc.root_element(), "err");
    assert_eq!(err.attribute("code"), Some("1"));
    assert_eq!(err.attribute("msg"), Some("Photo not found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_parameters_are_read_from_the_header_query_or_body_on_every_endpoint() {
    let w = world(|c| c);
    let tok = w.api.token.clone().unwrap();
    // checkToken with the token only in the Authorization header.
    for m in ["GET", "POST"] {
        let xml = w
            .api
            .in_header(m, &[("method", "flickr.auth.oauth.checkToken")])
            .await;
        let doc = rsp_ok(&xml);
        let oauth = child(doc.root_element(), "oauth");
        assert_eq!(child(oauth, "token").text(), Some(tok.token.as_str()));
        assert_eq!(child(oauth, "perms").text(), Some("write"));
        assert_eq!(
            child(oauth, "user").attribute("nsid"),
            Some(w.user.nsid.as_str())
        );
    }
    // A write with OAuth in the header and the method's parameters in the body.
    let id = photo_in(&w, "old", true, 4);
    let xml = w
        .api
        .in_header(
            "POST",
            &[
                ("method", "flickr.photos.setMeta"),
                ("photo_id", &id),
                ("title", "new"),
            ],
        )
        .await;
    rsp_ok(&xml);
    assert_eq!(w.emu.photos(&w.user.nsid)[0].title, "new");
    // The same with everything in the query string of a POST.
    let all = signed(
        "POST",
        &w.api.rest_url(),
        &pairs(&[
            ("method", "flickr.photos.setMeta"),
            ("photo_id", &id),
            ("title", "newer"),
        ]),
        &w.key,
        Some(&tok),
        now(),
    );
    let r = w
        .api
        .http
        .post(format!("{}?{}", w.api.rest_url(), form(&all)))
        .send()
        .await
        .unwrap();
    rsp_ok(&r.text().await.unwrap());
    assert_eq!(w.emu.photos(&w.user.nsid)[0].title, "newer");
    // An upload whose OAuth parameters are in the header only.
    let url = format!("{}/services/upload/", w.api.base);
    let all = signed(
        "POST",
        &url,
        &pairs(&[("title", "from header")]),
        &w.key,
        Some(&tok),
        now(),
    );
    let (oauth, rest): (Pairs, Pairs) = all.into_iter().partition(|(k, _)| k.starts_with("oauth_"));
    let header = format!(
        "OAuth {}",
        oauth
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut f = reqwest::multipart::Form::new();
    for (k, v) in rest {
        f = f.text(k, v);
    }
    f = f.part(
        "photo",
        reqwest::multipart::Part::bytes(png(20, 20, 9)).file_name("x.png"),
    );
    let xml = w
        .api
        .http
        .post(url)
        .header("authorization", header)
        .multipart(f)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let new_id = xml_photo_id(&xml);
    assert!(w
        .emu
        .photos(&w.user.nsid)
        .iter()
        .any(|p| p.id == new_id && p.title == "from header"));
}

/// Flickr takes REST calls as `multipart/form-data` too, with the OAuth
/// signature over the fields, as its JavaScript SDK sends its write calls:
/// the OAuth parameters among the fields, or in the Authorization header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_rest_calls_signed_by_a_third_party_client_are_accepted() {
    let w = world(|c| c);
    let tok = w.api.token.clone().unwrap();
    let id = photo_in(&w, "before", true, 4);
    let url = w.api.rest_url();
    let multipart = |fields: &Pairs| {
        let mut f = reqwest::multipart::Form::new();
        for (k, v) in fields {
            f = f.text(k.clone(), v.clone());
        }
        f
    };
    let post = |f: reqwest::multipart::Form, auth: Option<String>| {
        let mut r = w.api.http.post(url.clone()).multipart(f);
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        async move { r.send().await.unwrap().text().await.unwrap() }
    };
    // Everything in the fields; a file field (which OAuth does not sign)
    // rides along unsigned.
    let all = signed(
        "POST",
        &url,
        &pairs(&[
            ("method", "flickr.photosets.create"),
            ("title", "Made by the SDK"),
            ("description", "multipart & signed"),
            ("primary_photo_id", &id),
            ("format", "json"),
            ("nojsoncallback", "1"),
        ]),
        &w.key,
        Some(&tok),
        now(),
    );
    let f = multipart(&all).part(
        "attachment",
        reqwest::multipart::Part::bytes(b"not signed".to_vec()).file_name("x.bin"),
    );
    let text = post(f, None).await;
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let set_id = ok(&v)["photoset"]["id"].as_str().unwrap().to_owned();
    let sets = w.emu.photosets(&w.user.nsid);
    assert_eq!(sets.len(), 1);
    assert_eq!(
        (
            sets[0].id.as_str(),
            sets[0].title.as_str(),
            sets[0].description.as_str()
        ),
        (set_id.as_str(), "Made by the SDK", "multipart & signed")
    );
    // OAuth in the header, the method's parameters as multipart fields; the
    // reply in Flickr's default XML.
    let all = signed(
        "POST",
        &url,
        &pairs(&[
            ("method", "flickr.photos.setMeta"),
            ("photo_id", &id),
            ("title", "after"),
        ]),
        &w.key,
        Some(&tok),
        now(),
    );
    let (oauth, rest): (Pairs, Pairs) = all.into_iter().partition(|(k, _)| k.starts_with("oauth_"));
    let header = format!(
        "OAuth {}",
        oauth
            .iter()
            .map(|(k, v)| format!("{}=\"{}\"", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    rsp_ok(&post(multipart(&rest), Some(header)).await);
    assert_eq!(w.emu.photos(&w.user.nsid)[0].title, "after");
    // The signature covers the fields: one changed after signing is refused.
    let mut all = signed(
        "POST",
        &url,
        &pairs(&[
            ("method", "flickr.photos.setMeta"),
            ("photo_id", &id),
            ("title", "signed"),
            ("format", "json"),
            ("nojsoncallback", "1"),
        ]),
        &w.key,
        Some(&tok),
        now(),
    );
    for (k, v) in &mut all {
        if k == "title" {
            *v = "tampered".into();
        }
    }
    let v: Value = serde_json::from_str(&post(multipart(&all), None).await).unwrap();
    assert_eq!(code(&v), 96, "{v}");
    assert_eq!(w.emu.photos(&w.user.nsid)[0].title, "after");
    // A body that claims to be multipart and is not: Flickr's error, not a 500.
    let r = w
        .api
        .http
        .post(url.clone())
        .header("content-type", "multipart/form-data; boundary=XYZ")
        .body("garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("stat=\"fail\""));
}

/// A free account (the emulator's `free_accounts`, `--free-account`):
/// people.getInfo says `ispro=0`, people.getLimits 1024 px, the 1,001st
/// photo is refused (upload error 6), and nothing over 1024 px is served,
/// the original included; a Pro account beside it is served everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_free_account_is_told_by_the_api_and_limited_like_flickr() {
    let tmp = tempfile::tempdir().unwrap();
    let emu = Emulator::start(EmulatorConfig {
        seed_photos: 999,
        seed_user: "frugal".into(),
        free_accounts: vec!["frugal".into()],
        ..config(tmp.path())
    })
    .unwrap();
    let key = emu.create_api_key().unwrap();
    let free = emu.user_by_name("frugal").unwrap().unwrap();
    let pro = emu.create_user("patron").unwrap();
    let as_user = |u: &EmuUser| {
        let tok = emu.issue_token(&key.key, &u.nsid, "write").unwrap();
        Api::new(&emu, &key, Some(&tok))
    };
    let (fa, pa) = (as_user(&free), as_user(&pro));
    for (api, u, ispro, maxpx) in [(&fa, &free, 0, "1024"), (&pa, &pro, 1, "0")] {
        let v = api
            .get("flickr.people.getInfo", &[("user_id", &u.nsid)])
            .await;
        assert_eq!(ok(&v)["person"]["ispro"], ispro, "{v}");
        let v = api.get("flickr.people.getLimits", &[]).await;
        assert_eq!(ok(&v)["person"]["nsid"], u.nsid.as_str());
        assert_eq!(v["person"]["photos"]["maxdisplaypx"], maxpx, "{v}");
    }
    // The 1,000th photo lands; the 1,001st is refused.
    let big = png(1500, 1000, 3);
    let id = xml_photo_id(
        &fa.upload(
            "/services/upload/",
            &[("title", "big")],
            Some((&big, "big.png")),
        )
        .await,
    );
    let xml = fa
        .upload(
            "/services/upload/",
            &[("title", "one too many")],
            Some((&png(20, 20, 4), "x.png")),
        )
        .await;
    assert_eq!(xml_err_code(&xml), 6, "{xml}");
    assert_eq!(emu.photos(&free.nsid).len(), 1000);
    // Nothing over 1024 px of the free account's photo: no Original size,
    // no url_o in listings; the Pro account's photo has them.
    let pro_id = xml_photo_id(
        &pa.upload(
            "/services/upload/",
            &[("title", "big")],
            Some((&big, "big.png")),
        )
        .await,
    );
    let labels_and_edge = |v: &Value| -> (Vec<String>, u64) {
        let sizes = ok(v)["sizes"]["size"].as_array().unwrap().clone();
        let n = |x: &Value| x.as_u64().or_else(|| x.as_str()?.parse().ok()).unwrap();
        (
            sizes
                .iter()
                .map(|s| s["label"].as_str().unwrap().to_owned())
                .collect(),
            sizes
                .iter()
                .map(|s| n(&s["width"]).max(n(&s["height"])))
                .max()
                .unwrap(),
        )
    };
    let (labels, edge) =
        labels_and_edge(&fa.get("flickr.photos.getSizes", &[("photo_id", &id)]).await);
    assert!(!labels.iter().any(|l| l == "Original"), "{labels:?}");
    assert!(labels.iter().any(|l| l == "Large"), "{labels:?}");
    assert_eq!(edge, 1024);
    let (labels, edge) = labels_and_edge(
        &pa.get("flickr.photos.getSizes", &[("photo_id", &pro_id)])
            .await,
    );
    assert!(labels.iter().any(|l| l == "Original"), "{labels:?}");
    assert_eq!(edge, 1500);
    for (api, u, pid, has_o) in [(&fa, &free, &id, false), (&pa, &pro, &pro_id, true)] {
        let v = api
            .get(
                "flickr.photos.search",
                &[
                    ("user_id", &u.nsid),
                    ("extras", "url_o,url_l,url_m"),
                    ("per_page", "500"),
                ],
            )
            .await;
        let photos = ok(&v)["photos"]["photo"].as_array().unwrap().clone();
        let p = photos
            .iter()
            .find(|p| p["id"] == pid.as_str())
            .expect("listed");
        assert_eq!(p.get("url_o").is_some(), has_o, "{p}");
        assert!(p.get("url_l").is_some() && p.get("url_m").is_some(), "{p}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_less_calls_get_99_and_get_setters_get_116() {
    let w = world(|c| c);
    let anon = Api::new(&w.emu, &w.key, None);
    for (m, need) in [
        ("flickr.test.login", "read"),
        ("flickr.people.getGroups", "read"),
        ("flickr.photos.recentlyUpdated", "read"),
        ("flickr.photos.setMeta", "write"),
    ] {
        // Signed without a token, and not signed at all.
        let v = anon.post(m, &[]).await;
        assert_eq!(code(&v), 99, "{m}: {v}");
        assert_eq!(
            v["message"],
            format!("Insufficient permissions. Method requires {need} privileges; none granted.")
        );
        let unsigned = Api::params(m, &[("api_key", &w.key.key)]);
        assert_eq!(code(&w.api.json("POST", &unsigned).await), 99, "{m}");
    }
    // Setters need POST.
    let id = photo_in(&w, "x", true, 5);
    let v = w
        .api
        .get(
            "flickr.photos.setMeta",
            &[("photo_id", &id), ("title", "y")],
        )
        .await;
    assert_eq!(code(&v), 116);
    assert_eq!(
        v["message"],
        "The POST method is now required for all setters."
    );
    assert_eq!(w.emu.photos(&w.user.nsid)[0].title, "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_get_info_has_the_documented_fields() {
    let w = world(|c| c);
    photo_in(&w, "a", true, 1);
    photo_in(&w, "b", false, 2);
    let v = w
        .api
        .get("flickr.people.getInfo", &[("user_id", &w.user.nsid)])
        .await;
    let p = &ok(&v)["person"];
    assert_eq!(p["nsid"], w.user.nsid);
    assert_eq!(p["path_alias"], "alice");
    assert_eq!(p["username"]["_content"], "alice");
    for k in [
        "location",
        "description",
        "mobileurl",
        "photosurl",
        "profileurl",
    ] {
        assert!(p[k]["_content"].is_string(), "{k}: {p}");
    }
    assert!(p["timezone"]["offset"].is_string(), "{p}");
    assert_eq!(p["photos"]["count"]["_content"], 2);
    assert!(!p["photos"]["firstdate"]["_content"]
        .as_str()
        .unwrap()
        .is_empty());
    assert_eq!(
        p["photos"]["firstdatetaken"]["_content"]
            .as_str()
            .unwrap()
            .len(),
        19
    );
    // A stranger counts only the public photos.
    let anon = Api::new(&w.emu, &w.key, None);
    let v = anon
        .get("flickr.people.getInfo", &[("user_id", &w.user.nsid)])
        .await;
    assert_eq!(ok(&v)["person"]["photos"]["count"]["_content"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_search_fails_where_flickr_fails_and_shows_what_the_viewer_may_see() {
    let w = world(|c| c);
    let public = photo_in(&w, "public", true, 1);
    let private = photo_in(&w, "private", false, 2);
    for id in [&public, &private] {
        w.emu.set_tags(id, &["sea"]).unwrap();
    }
    // No parameters at all: error 3.
    let v = w.api.get("flickr.photos.search", &[]).await;
    assert_eq!(code(&v), 3);
    assert!(v["message"]
        .as_str()
        .unwrap()
        .starts_with("Parameterless searches have been disabled"));
    // A machine tag query that does not validate: error 11.
    for bad in ["1ns:pred=x", "no colon", "ns-x:pred=1"] {
        let v = w
            .api
            .get(
                "flickr.photos.search",
                &[("user_id", "me"), ("machine_tags", bad)],
            )
            .await;
        assert_eq!(code(&v), 11, "{bad}: {v}");
    }
    let ids = |v: &Value| -> BTreeSet<String> {
        ok(v)["photos"]["photo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    // Without user_id: public photos only, even the caller's own private ones are left out.
    let v = w.api.get("flickr.photos.search", &[("tags", "sea")]).await;
    assert_eq!(ids(&v), BTreeSet::from([public.clone()]));
    // With user_id=me: everything of the caller's.
    let v = w
        .api
        .get(
            "flickr.photos.search",
            &[("tags", "sea"), ("user_id", "me")],
        )
        .await;
    assert_eq!(ids(&v), BTreeSet::from([public.clone(), private.clone()]));
    // Pools: a stranger sees the public photos, the owner also their own private ones.
    let g = w.emu.create_group("Sea").unwrap();
    w.emu.join_group(&g.nsid, &w.user.nsid).unwrap();
    w.emu.add_to_pool(&g.nsid, &public).unwrap();
    w.emu.add_to_pool(&g.nsid, &private).unwrap();
    let v = w
        .api
        .get("flickr.groups.pools.getPhotos", &[("group_id", &g.nsid)])
        .await;
    assert_eq!(ids(&v), BTreeSet::from([public.clone(), private.clone()]));
    let stranger = Api::new(&w.emu, &w.key, None);
    let v = stranger
        .get("flickr.groups.pools.getPhotos", &[("group_id", &g.nsid)])
        .await;
    assert_eq!(ids(&v), BTreeSet::from([public.clone()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_primary_photo_contexts_group_extras_and_small_sizes() {
    let w = world(|c| c);
    let a = photo_in(&w, "a", true, 1);
    let b = photo_in(&w, "b", true, 2);
    let c = photo_in(&w, "c", true, 3);
    let set = w
        .emu
        .add_photoset(
            &w.user.nsid,
            NewEmuSet {
                title: "Trip".into(),
                photo_ids: vec![a.clone(), b.clone()],
                ..Default::default()
            },
        )
        .unwrap();
    // setPrimaryPhoto: a member becomes the primary; others are refused.
    let v = w
        .api
        .post(
            "flickr.photosets.setPrimaryPhoto",
            &[("photoset_id", &set), ("photo_id", &b)],
        )
        .await;
    ok(&v);
    assert_eq!(w.emu.photosets(&w.user.nsid)[0].primary, b);
    assert_eq!(
        w.emu.photosets(&w.user.nsid)[0].photos,
        [a.clone(), b.clone()]
    );
    let v = w
        .api
        .post(
            "flickr.photosets.setPrimaryPhoto",
            &[("photoset_id", &set), ("photo_id", &c)],
        )
        .await;
    assert_eq!(code(&v), 3);
    let v = w
        .api
        .post(
            "flickr.photosets.setPrimaryPhoto",
            &[("photoset_id", "1"), ("photo_id", &a)],
        )
        .await;
    assert_eq!(code(&v), 1);
    // getAllContexts: sets and pools in XML as in JSON.
    let g = w.emu.create_group("Pool").unwrap();
    w.emu.join_group(&g.nsid, &w.user.nsid).unwrap();
    w.emu.add_to_pool(&g.nsid, &a).unwrap();
    let xml = w
        .api
        .raw(
            "GET",
            &[("method", "flickr.photos.getAllContexts"), ("photo_id", &a)],
        )
        .await;
    let doc = rsp_ok(&xml);
    let s = child(doc.root_element(), "set");
    assert_eq!(s.attribute("id"), Some(set.as_str()));
    assert_eq!(s.attribute("title"), Some("Trip"));
    let p = child(doc.root_element(), "pool");
    assert_eq!(p.attribute("id"), Some(g.nsid.as_str()));
    assert_eq!(p.attribute("title"), Some("Pool"));
    let v = w
        .api
        .get("flickr.photos.getAllContexts", &[("photo_id", &c)])
        .await;
    assert!(
        ok(&v).get("set").is_none() && v.get("pool").is_none(),
        "{v}"
    );
    // people.getGroups extras.
    let v = w
        .api
        .get(
            "flickr.people.getGroups",
            &[
                ("user_id", &w.user.nsid),
                ("extras", "privacy,throttle,restrictions"),
            ],
        )
        .await;
    let grp = &ok(&v)["groups"]["group"][0];
    assert_eq!(grp["nsid"], g.nsid);
    assert_eq!(grp["privacy"], "3");
    assert_eq!(grp["throttle"]["mode"], "none");
    assert_eq!(grp["restrictions"]["photos_ok"], 1);
    let v = w
        .api
        .get("flickr.people.getGroups", &[("user_id", &w.user.nsid)])
        .await;
    assert!(ok(&v)["groups"]["group"][0].get("privacy").is_none());
    // getSizes of a 40×30 original: squares at its short side, Thumbnail and
    // Small never upscaled are absent, Medium at the original's size.
    let v = w
        .api
        .get("flickr.photos.getSizes", &[("photo_id", &a)])
        .await;
    let sizes: Vec<(String, String, String)> = ok(&v)["sizes"]["size"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let n = |k: &str| match &s[k] {
                Value::String(x) => x.clone(),
                other => other.to_string(),
            };
            (n("label"), n("width"), n("height"))
        })
        .collect();
    let want = |l: &str, w: &str, h: &str| (l.to_owned(), w.to_owned(), h.to_owned());
    assert_eq!(
        sizes,
        [
            want("Square", "30", "30"),
            want("Large Square", "30", "30"),
            want("Medium", "40", "30"),
            want("Original", "40", "30"),
        ]
    );
    // Every listed size is served at the size it claims.
    for s in ok(&v)["sizes"]["size"].as_array().unwrap() {
        let bytes = w.api.fetch(s["source"].as_str().unwrap()).await;
        let img = image::load_from_memory(&bytes).unwrap();
        let as_u32 = |x: &Value| match x {
            Value::String(t) => t.parse::<u32>().unwrap(),
            other => other.as_u64().unwrap() as u32,
        };
        assert_eq!(
            (img.width(), img.height()),
            (as_u32(&s["width"]), as_u32(&s["height"])),
            "{s}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edit_and_remove_photos_replace_and_trim_a_set_like_flickr() {
    let w = world(|c| c);
    let ids: Vec<String> = (0..4).map(|i| photo_in(&w, "p", true, i)).collect();
    let set = w
        .emu
        .add_photoset(
            &w.user.nsid,
            NewEmuSet {
                title: "S".into(),
                photo_ids: vec![ids[0].clone()],
                ..Default::default()
            },
        )
        .unwrap();
    let list = format!("{},{},{}", ids[2], ids[0], ids[1]);
    // Errors first: the primary must be in the list, the list not empty.
    let e = |v: Value| code(&v);
    assert_eq!(
        e(w.api
            .post(
                "flickr.photosets.editPhotos",
                &[
                    ("photoset_id", &set),
                    ("primary_photo_id", &ids[3]),
                    ("photo_ids", &list)
                ],
            )
            .await),
        4
    );
    assert_eq!(
        e(w.api
            .post(
                "flickr.photosets.editPhotos",
                &[
                    ("photoset_id", &set),
                    ("primary_photo_id", &ids[0]),
                    ("photo_ids", "")
                ],
            )
            .await),
        5
    );
    ok(&w
        .api
        .post(
            "flickr.photosets.editPhotos",
            &[
                ("photoset_id", &set),
                ("primary_photo_id", &ids[2]),
                ("photo_ids", &list),
            ],
        )
        .await);
    let s = &w.emu.photosets(&w.user.nsid)[0];
    assert_eq!(s.photos, [ids[2].clone(), ids[0].clone(), ids[1].clone()]);
    assert_eq!(s.primary, ids[2]);
    // removePhotos: many at once; the primary moves to a remaining photo.
    ok(&w
        .api
        .post(
            "flickr.photosets.removePhotos",
            &[
                ("photoset_id", &set),
                ("photo_ids", &format!("{},{}", ids[2], ids[1])),
            ],
        )
        .await);
    let s = &w.emu.photosets(&w.user.nsid)[0];
    assert_eq!(s.photos, [ids[0].clone()]);
    assert_eq!(s.primary, ids[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_knobs_drop_stored_upload_replies_lag_the_search_and_change_sets() {
    let w = world(|c| c);
    w.emu.set_faults(FaultConfig {
        drop_upload_replies: 1,
        search_lag_secs: 3600,
        ..Default::default()
    });
    // The first upload lands, but its reply is cut off.
    let url = format!("{}/services/upload/", w.api.base);
    let all = signed(
        "POST",
        &url,
        &pairs(&[("tags", "flickrfs:sha1=abc")]),
        &w.key,
        w.api.token.as_ref(),
        now(),
    );
    let mut f = reqwest::multipart::Form::new();
    for (k, v) in all {
        f = f.text(k, v);
    }
    f = f.part(
        "photo",
        reqwest::multipart::Part::bytes(png(20, 20, 7)).file_name("lost.png"),
    );
    let reply = async {
        w.api
            .http
            .post(&url)
            .multipart(f)
            .send()
            .await?
            .text()
            .await
    }
    .await;
    assert!(
        reply.is_err() || !reply.as_ref().unwrap().contains("</rsp>"),
        "{reply:?}"
    );
    assert_eq!(w.emu.photos(&w.user.nsid).len(), 1);
    assert_eq!(w.emu.faults().drop_upload_replies, 0);
    let log = w.emu.request_log();
    assert_eq!(log.last().unwrap().fault.as_deref(), Some("reply_dropped"));
    // The next one is answered.
    let xml = w
        .api
        .upload("/services/upload/", &[], Some((&png(20, 20, 8), "ok.png")))
        .await;
    let second = xml_photo_id(&xml);
    // The search index has not seen either yet; people.getPhotos with
    // min_upload_date has.
    let v = w
        .api
        .get(
            "flickr.photos.search",
            &[("user_id", "me"), ("machine_tags", "flickrfs:sha1=abc")],
        )
        .await;
    assert_eq!(ok(&v)["photos"]["total"], "0");
    let since = (now() - 60).to_string();
    let v = w
        .api
        .get(
            "flickr.people.getPhotos",
            &[
                ("user_id", "me"),
                ("min_upload_date", &since),
                ("extras", "machine_tags"),
            ],
        )
        .await;
    let listed = ok(&v)["photos"]["photo"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2);
    assert!(listed
        .iter()
        .any(|p| p["machine_tags"] == "flickrfs:sha1=abc"));
    // A set change by "someone else", once, right after a given call.
    let a = photo_in(&w, "a", true, 1);
    let set = w
        .emu
        .add_photoset(
            &w.user.nsid,
            NewEmuSet {
                title: "S".into(),
                photo_ids: vec![a.clone()],
                ..Default::default()
            },
        )
        .unwrap();
    w.emu.set_faults(FaultConfig {
        set_changes: vec![flickrfs::emulator::SetChange {
            after: "flickr.photosets.getPhotos".into(),
            photoset_id: set.clone(),
            add: vec![second.clone()],
            remove: vec![],
        }],
        ..Default::default()
    });
    let members = |v: &Value| -> Vec<String> {
        ok(v)["photoset"]["photo"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = w
        .api
        .get("flickr.photosets.getPhotos", &[("photoset_id", &set)])
        .await;
    assert_eq!(members(&first), [a.as_str()]);
    let again = w
        .api
        .get("flickr.photosets.getPhotos", &[("photoset_id", &set)])
        .await;
    assert_eq!(members(&again), [a.clone(), second.clone()]);
    assert!(w.emu.faults().set_changes.is_empty());
}

/// Documented parameters the emulator honours (the fidelity re-read,
/// SEMANTICS.md "The emulator against Flickr's documentation"): `secret`
/// on photos.getInfo and photos.getExif shares a private photo by id and
/// secret (getSizes takes no secret); `media` on the listing methods
/// (`photos`, `videos`, `all`; the emulator holds photos only, so `videos`
/// lists none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_secret_and_the_media_filter_work_as_documented() {
    let w = world(|c| c);
    let id = w
        .emu
        .add_photo(
            &w.user.nsid,
            NewEmuPhoto {
                title: "private".into(),
                bytes: png(30, 20, 1),
                visibility: EmuVisibility::default(),
                ..Default::default()
            },
        )
        .unwrap();
    w.emu
        .add_photoset(
            &w.user.nsid,
            NewEmuSet {
                title: "Trip".into(),
                photo_ids: vec![id.clone()],
                ..Default::default()
            },
        )
        .unwrap();
    let info = w
        .api
        .get("flickr.photos.getInfo", &[("photo_id", &id)])
        .await;
    let secret = ok(&info)["photo"]["secret"].as_str().unwrap().to_owned();
    let bob = w.emu.create_user("bob").unwrap();
    let tok = w.emu.issue_token(&w.key.key, &bob.nsid, "read").unwrap();
    let b = Api::new(&w.emu, &w.key, Some(&tok));
    for method in ["flickr.photos.getInfo", "flickr.photos.getExif"] {
        assert_eq!(
            code(&b.get(method, &[("photo_id", &id)]).await),
            1,
            "{method}"
        );
        let wrong = b
            .get(method, &[("photo_id", &id), ("secret", "0123456789")])
            .await;
        assert_eq!(code(&wrong), 1, "{method}: a wrong secret");
        let shared = b
            .get(method, &[("photo_id", &id), ("secret", &secret)])
            .await;
        assert_eq!(ok(&shared)["photo"]["id"], id.as_str(), "{method}");
    }
    let sizes = b
        .get(
            "flickr.photos.getSizes",
            &[("photo_id", &id), ("secret", &secret)],
        )
        .await;
    assert_eq!(code(&sizes), 1, "getSizes takes no secret");

    let set_id = w.emu.photosets(&w.user.nsid)[0].id.clone();
    type Listing<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let listings: [Listing; 5] = [
        ("flickr.people.getPhotos", vec![("user_id", "me")], "photos"),
        ("flickr.photos.search", vec![("user_id", "me")], "photos"),
        ("flickr.photos.getNotInSet", vec![], "photos"),
        (
            "flickr.photos.recentlyUpdated",
            vec![("min_date", "1")],
            "photos",
        ),
        (
            "flickr.photosets.getPhotos",
            vec![("photoset_id", &set_id)],
            "photoset",
        ),
    ];
    for (method, params, root) in listings {
        let count = |v: &Value| ok(v)[root]["photo"].as_array().unwrap().len();
        let mut with = params.clone();
        with.push(("media", "videos"));
        assert_eq!(count(&w.api.get(method, &with).await), 0, "{method} videos");
        let mut with = params.clone();
        with.push(("media", "photos"));
        let want = usize::from(method != "flickr.photos.getNotInSet");
        assert_eq!(
            count(&w.api.get(method, &with).await),
            want,
            "{method} photos"
        );
        assert_eq!(count(&w.api.get(method, &params).await), want, "{method}");
    }
}

/// photos.setSafetyLevel checks what it is given as documented: a safety
/// level other than 1, 2 or 3 is error 2, a `hidden` other than 0 or 1
/// error 3; valid values land (getInfo shows the level, 0-based).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_safety_level_checks_its_values_as_documented() {
    let w = world(|c| c);
    let id = w
        .emu
        .add_photo(
            &w.user.nsid,
            NewEmuPhoto {
                title: "s".into(),
                bytes: png(20, 20, 2),
                ..Default::default()
            },
        )
        .unwrap();
    let set = |p: Vec<(&'static str, &'static str)>| {
        let mut all = vec![("photo_id", id.as_str())];
        all.extend(p);
        let api = w.api.clone();
        async move { api.post("flickr.photos.setSafetyLevel", &all).await }
    };
    assert_eq!(code(&set(vec![("safety_level", "4")]).await), 2);
    assert_eq!(code(&set(vec![("safety_level", "moderate")]).await), 2);
    assert_eq!(code(&set(vec![("hidden", "2")]).await), 3);
    ok(&set(vec![("safety_level", "2"), ("hidden", "1")]).await);
    let info = w
        .api
        .get("flickr.photos.getInfo", &[("photo_id", &id)])
        .await;
    assert_eq!(ok(&info)["photo"]["safety_level"], "1", "{info}");
}
