//! The upload and replace endpoints (`/services/upload/`,
//! `/services/replace/`): multipart parsing, the same OAuth checks as REST
//! (every form field but `photo` is signed), Flickr's checks on the file,
//! and its XML replies.
//!
//! An upload keeps the bytes exactly as sent, reads the EXIF
//! DateTimeOriginal for the date taken (else the upload time with
//! `datetakenunknown=1`), the pixel size and the format from the bytes, and
//! names an untitled photo after its file (without the extension).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use rusqlite::Connection;
use sha1::{Digest, Sha1};

use super::faults::{self, Injected, LoggedCall};
use super::files;
use super::rest::{self, ApiError, Incoming};
use super::state::{self, Perms, PhotoRow, StateError};
use super::App;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Upload,
    Replace,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Upload => "upload",
            Kind::Replace => "replace",
        }
    }
}

/// An upload failure: Flickr's code and message, plus the duplicate's id for error 9.
#[derive(Debug)]
struct UploadError {
    err: ApiError,
    duplicate: Option<i64>,
}

impl From<ApiError> for UploadError {
    fn from(err: ApiError) -> Self {
        UploadError {
            err,
            duplicate: None,
        }
    }
}

impl From<StateError> for UploadError {
    fn from(e: StateError) -> Self {
        tracing::error!("emulator upload state error: {e}");
        ApiError::new(3, "General upload failure").into()
    }
}

fn err(code: i64, msg: &str) -> UploadError {
    ApiError::new(code, msg).into()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn xml(body: String) -> Response {
    let mut r = Response::new(Body::from(format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n{body}\n"
    )));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    r
}

fn fail_xml(e: &UploadError) -> Response {
    let dup = e
        .duplicate
        .map(|d| format!(" duplicate_photo_id=\"{d}\""))
        .unwrap_or_default();
    xml(format!(
        "<rsp stat=\"fail\">\n\t<err code=\"{}\" msg=\"{}\"{dup} />\n</rsp>",
        e.err.code,
        xml_escape(&e.err.message)
    ))
}

/// `POST /services/upload/`.
pub async fn upload(State(app): State<Arc<App>>, req: Request) -> Response {
    handle(app, req, Kind::Upload).await
}

/// `POST /services/replace/`.
pub async fn replace(State(app): State<Arc<App>>, req: Request) -> Response {
    handle(app, req, Kind::Replace).await
}

struct Form {
    inc: Incoming,
    photo: Option<(Vec<u8>, Option<String>)>,
}

async fn read_form(app: &App, req: Request) -> Result<Form, UploadError> {
    let url = rest::request_url(req.headers(), req.uri().path(), &app.host);
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut pairs = req
        .uri()
        .query()
        .map(super::oauth::parse_form)
        .unwrap_or_default();
    let http_method = req.method().as_str().to_owned();
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|_| err(2, "No photo specified"))?;
    let mut photo = None;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                tracing::debug!("emulator upload: bad multipart: {e}");
                return Err(err(3, "General upload failure"));
            }
        };
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let data = field
            .bytes()
            .await
            .map_err(|_| err(3, "General upload failure"))?;
        if name == "photo" {
            photo = Some((data.to_vec(), file_name));
        } else {
            pairs.push((name, String::from_utf8_lossy(&data).into_owned()));
        }
    }
    Ok(Form {
        inc: Incoming {
            http_method,
            url,
            pairs,
            authorization,
        },
        photo,
    })
}

async fn handle(app: Arc<App>, req: Request, kind: Kind) -> Response {
    let name = kind.name();
    if let Some(inj) = app.faults.before(true).await {
        let resp = match inj {
            Injected::Http(s) => faults::http_fault(s),
            Injected::RateLimited => faults::http_fault(429),
            Injected::Api105 => fail_xml(&err(105, "Service currently unavailable")),
        };
        app.faults.record(LoggedCall {
            method: name.into(),
            ok: false,
            code: (inj == Injected::Api105).then_some(105),
            http_status: resp.status().as_u16(),
            fault: Some(inj.label()),
        });
        return resp;
    }
    let result = match read_form(&app, req).await {
        Err(e) => Err(e),
        Ok(form) => {
            let app2 = app.clone();
            tokio::task::spawn_blocking(move || process(&app2, form, kind))
                .await
                .unwrap_or_else(|e| {
                    tracing::error!("emulator upload task failed: {e}");
                    Err(err(3, "General upload failure"))
                })
        }
    };
    let (resp, code) = match result {
        Ok(body) => (xml(body), None),
        Err(e) => (fail_xml(&e), Some(e.err.code)),
    };
    // "Stored, then the reply lost": only a successful upload counts down.
    let dropped = kind == Kind::Upload && code.is_none() && app.faults.take_upload_drop();
    if dropped || app.faults.should_reset() {
        app.faults.record(LoggedCall {
            method: name.into(),
            ok: false,
            code,
            http_status: 200,
            fault: Some(if dropped { "reply_dropped" } else { "reset" }.into()),
        });
        return faults::cut_off(resp).await;
    }
    app.faults.record(LoggedCall {
        method: name.into(),
        ok: code.is_none(),
        code,
        http_status: 200,
        fault: None,
    });
    resp
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A 0/1 flag; 9, empty or absent means "the account default".
fn flag(pairs: &[(String, String)], name: &str) -> Option<bool> {
    match get(pairs, name).map(str::trim) {
        Some("1") => Some(true),
        Some("0") => Some(false),
        _ => None,
    }
}

fn ranged(
    pairs: &[(String, String)],
    name: &str,
    range: std::ops::RangeInclusive<i64>,
    default: i64,
) -> i64 {
    get(pairs, name)
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| range.contains(v))
        .unwrap_or(default)
}

/// Facts read from an uploaded file.
struct FileFacts {
    format: &'static str,
    width: u32,
    height: u32,
    sha1: String,
}

fn inspect(bytes: &[u8]) -> Result<FileFacts, UploadError> {
    if bytes.is_empty() {
        return Err(err(4, "Filesize was zero"));
    }
    let format = files::sniff(bytes).ok_or_else(|| err(5, "Filetype was not recognised"))?;
    let (width, height) =
        files::dims(bytes).ok_or_else(|| err(5, "Filetype was not recognised"))?;
    let sha1 = Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(FileFacts {
        format,
        width,
        height,
        sha1,
    })
}

fn write_original(app: &App, id: i64, format: &str, bytes: &[u8]) -> Result<(), UploadError> {
    let path = app.store.original_path(id, format);
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            tracing::error!("emulator: writing {}: {e}", path.display());
            err(3, "General upload failure")
        })
}

fn process(app: &App, form: Form, kind: Kind) -> Result<String, UploadError> {
    app.store.tx(|c| {
        let caller = rest::authenticate(app, c, &form.inc, &[], Some(Perms::Write))?;
        let me = caller.user.ok_or_else(|| err(98, "Invalid auth token"))?;
        let pairs = &form.inc.pairs;
        let Some((bytes, file_name)) = &form.photo else {
            if kind == Kind::Replace && get(pairs, "photo_id").is_none() {
                return Err(err(1, "Photo not found"));
            }
            return Err(err(2, "No photo specified"));
        };
        match kind {
            Kind::Upload => {
                let reply = new_photo(app, c, &me.nsid, pairs, bytes, file_name.as_deref())?;
                if let Some(change) = app.faults.take_set_change("upload", None) {
                    rest::apply_set_change(app, c, &change)?;
                }
                Ok(reply)
            }
            Kind::Replace => replace_photo(app, c, &me.nsid, pairs, bytes),
        }
    })
}

fn photoid_xml(p_id: i64, secret: &str, originalsecret: &str) -> String {
    format!(
        "<rsp stat=\"ok\">\n<photoid secret=\"{secret}\" originalsecret=\"{originalsecret}\">{p_id}</photoid>\n</rsp>"
    )
}

fn new_photo(
    app: &App,
    c: &Connection,
    owner: &str,
    pairs: &[(String, String)],
    bytes: &[u8],
    file_name: Option<&str>,
) -> Result<String, UploadError> {
    let facts = inspect(bytes)?;
    if state::is_free(c, owner)? && state::photo_count(c, owner)? >= state::FREE_MAX_PHOTOS {
        return Err(err(6, "User exceeded upload limit"));
    }
    if matches!(get(pairs, "dedup_check").map(str::trim), Some("1" | "2")) {
        if let Some(dup) = state::photo_by_sha1(c, owner, &facts.sha1)? {
            return Err(UploadError {
                err: ApiError::new(9, "Duplicate photo"),
                duplicate: Some(dup),
            });
        }
    }
    let now = state::now();
    let (taken, unknown) = match files::exif_date_taken(bytes) {
        Some(t) => (t, false),
        None => (state::format_datetime(now), true),
    };
    let title = match get(pairs, "title").map(str::trim) {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => file_name
            .map(|f| {
                let base = f.rsplit(['/', '\\']).next().unwrap_or(f);
                match base.rsplit_once('.') {
                    Some((stem, _)) if !stem.is_empty() => stem.to_owned(),
                    _ => base.to_owned(),
                }
            })
            .unwrap_or_default(),
    };
    let id = state::reserve_ids(c, "photo", state::PHOTO_ID_BASE, 1)?;
    let row = PhotoRow {
        id,
        owner: owner.to_owned(),
        secret: state::random_hex(10),
        originalsecret: state::random_hex(10),
        server: state::SERVER.to_owned(),
        farm: state::FARM,
        title,
        description: get(pairs, "description").unwrap_or("").to_owned(),
        is_public: flag(pairs, "is_public").unwrap_or(true),
        is_friend: flag(pairs, "is_friend").unwrap_or(false),
        is_family: flag(pairs, "is_family").unwrap_or(false),
        safety_level: ranged(pairs, "safety_level", 1..=3, 1),
        content_type: ranged(pairs, "content_type", 1..=3, 1),
        hidden: ranged(pairs, "hidden", 1..=2, 1),
        date_upload: now,
        date_taken: taken,
        taken_granularity: 0,
        taken_unknown: unknown,
        lastupdate: now,
        original_format: facts.format.to_owned(),
        width: facts.width,
        height: facts.height,
        sha1: Some(facts.sha1),
        size: bytes.len() as i64,
        synthetic: false,
    };
    write_original(app, id, facts.format, bytes)?;
    state::insert_photo(c, &row)?;
    let tags = state::split_tag_list(get(pairs, "tags").unwrap_or(""));
    state::add_tags(c, id, owner, &tags)?;
    if get(pairs, "async").map(str::trim) == Some("1") {
        let ticket = state::create_ticket(c, owner, Some(id))?;
        return Ok(format!(
            "<rsp stat=\"ok\">\n<ticketid>{ticket}</ticketid>\n</rsp>"
        ));
    }
    Ok(photoid_xml(id, &row.secret, &row.originalsecret))
}

fn replace_photo(
    app: &App,
    c: &Connection,
    owner: &str,
    pairs: &[(String, String)],
    bytes: &[u8],
) -> Result<String, UploadError> {
    let id = get(pairs, "photo_id")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .ok_or_else(|| err(1, "Photo not found"))?;
    let old = match state::photo(c, id)? {
        Some(p) if p.owner == owner => p,
        _ => return Err(err(1, "Photo not found")),
    };
    let facts = inspect(bytes)?;
    let originalsecret = state::random_hex(10);
    write_original(app, id, facts.format, bytes)?;
    if old.original_format != facts.format && !old.synthetic {
        let _ = std::fs::remove_file(app.store.original_path(id, &old.original_format));
    }
    let secret = state::random_hex(10);
    state::replace_photo_file(
        c,
        id,
        facts.format,
        facts.width,
        facts.height,
        &facts.sha1,
        bytes.len() as i64,
        &secret,
        &originalsecret,
    )?;
    if get(pairs, "async").map(str::trim) == Some("1") {
        let ticket = state::create_ticket(c, owner, Some(id))?;
        return Ok(format!(
            "<rsp stat=\"ok\">\n<ticketid>{ticket}</ticketid>\n</rsp>"
        ));
    }
    Ok(photoid_xml(id, &secret, &originalsecret))
}
