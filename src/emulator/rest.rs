//! The REST endpoint (`/services/rest/`): request parsing, the OAuth checks
//! every call goes through (parameters from the Authorization header, the
//! query string or the body), method dispatch, and replies in Flickr's
//! shapes with its quirks (numbers as strings in places, `_content`
//! wrappers, `perpage` next to `per_page`).
//!
//! Every reply is built here from the emulator's own rows with `json!`;
//! nothing is shared with the client's decoders. `xml.rs` sends it in the
//! format asked for: XML by default, JSON (wrapped in `jsonFlickrApi(...)`
//! unless `nojsoncallback=1`).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::Response;
use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use serde_json::{json, Map, Value};

use super::faults::{self, Injected, LoggedCall};
use super::files;
use super::oauth::{self, SignedParams};
use super::state::{
    self, EmptySetRule, GroupRow, MachinePattern, Order, Perms, PhotoQuery, PhotoRow, Removal,
    SetRow, StateError, TagRow, TokenRow, UserRow,
};
use super::xml::Format;
use super::App;

/// A Flickr API error: the code and message Flickr would send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: i64,
    pub message: String,
}

impl ApiError {
    pub fn new(code: i64, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

impl From<StateError> for ApiError {
    fn from(e: StateError) -> Self {
        tracing::error!("emulator state error: {e}");
        ApiError::new(106, "Write operation failed")
    }
}

type ApiResult = Result<Map<String, Value>, ApiError>;

/// How much a method needs from the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Need {
    /// Works anonymously; a signed call with a token sees more.
    Optional,
    Perm(Perms),
}

/// Every method the emulator knows, with the permission it requires.
const METHODS: &[(&str, Need)] = &[
    ("flickr.test.login", Need::Perm(Perms::Read)),
    ("flickr.test.echo", Need::Optional),
    ("flickr.auth.oauth.checkToken", Need::Optional),
    ("flickr.people.getInfo", Need::Optional),
    ("flickr.people.getLimits", Need::Perm(Perms::Read)),
    ("flickr.people.getPhotos", Need::Optional),
    ("flickr.people.getGroups", Need::Perm(Perms::Read)),
    ("flickr.photos.search", Need::Optional),
    ("flickr.photos.recentlyUpdated", Need::Perm(Perms::Read)),
    ("flickr.photos.getNotInSet", Need::Perm(Perms::Read)),
    ("flickr.photos.getInfo", Need::Optional),
    ("flickr.photos.getSizes", Need::Optional),
    ("flickr.photos.getExif", Need::Optional),
    ("flickr.photos.getAllContexts", Need::Optional),
    ("flickr.photos.setMeta", Need::Perm(Perms::Write)),
    ("flickr.photos.setTags", Need::Perm(Perms::Write)),
    ("flickr.photos.addTags", Need::Perm(Perms::Write)),
    ("flickr.photos.removeTag", Need::Perm(Perms::Write)),
    ("flickr.photos.setPerms", Need::Perm(Perms::Write)),
    ("flickr.photos.setDates", Need::Perm(Perms::Write)),
    ("flickr.photos.setSafetyLevel", Need::Perm(Perms::Write)),
    ("flickr.photos.delete", Need::Perm(Perms::Delete)),
    ("flickr.photos.upload.checkTickets", Need::Perm(Perms::Read)),
    ("flickr.photosets.getList", Need::Optional),
    ("flickr.photosets.getInfo", Need::Optional),
    ("flickr.photosets.getPhotos", Need::Optional),
    ("flickr.photosets.create", Need::Perm(Perms::Write)),
    ("flickr.photosets.addPhoto", Need::Perm(Perms::Write)),
    ("flickr.photosets.removePhoto", Need::Perm(Perms::Write)),
    ("flickr.photosets.removePhotos", Need::Perm(Perms::Write)),
    ("flickr.photosets.editMeta", Need::Perm(Perms::Write)),
    ("flickr.photosets.editPhotos", Need::Perm(Perms::Write)),
    ("flickr.photosets.setPrimaryPhoto", Need::Perm(Perms::Write)),
    ("flickr.photosets.reorderPhotos", Need::Perm(Perms::Write)),
    ("flickr.photosets.orderSets", Need::Perm(Perms::Write)),
    ("flickr.photosets.delete", Need::Perm(Perms::Write)),
    ("flickr.groups.pools.getPhotos", Need::Optional),
    ("flickr.groups.pools.add", Need::Perm(Perms::Write)),
    ("flickr.groups.pools.remove", Need::Perm(Perms::Write)),
];

// ---------------------------------------------------------------- request parsing

/// The parts of an HTTP request the checks need.
pub struct Incoming {
    pub http_method: String,
    /// The URL as the base string wants it (no query).
    pub url: String,
    /// Query and form parameters, decoded, in order.
    pub pairs: Vec<(String, String)>,
    pub authorization: Option<String>,
}

/// The URL a client signed: scheme + Host header + path.
pub fn request_url(headers: &HeaderMap, path: &str, fallback_host: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or(fallback_host);
    oauth::normalized_url("http", host, path)
}

/// Reads the parameters of a REST call, in the three shapes Flickr takes:
/// the query string (GET or POST), a urlencoded body, and a
/// `multipart/form-data` body (as Flickr's JavaScript SDK sends its write
/// calls). A multipart field with a file name is a file, which OAuth does
/// not sign and no REST method takes: it is left out.
pub async fn read_incoming(req: Request, fallback_host: &str) -> Result<Incoming, ApiError> {
    let (parts, body) = req.into_parts();
    let mut pairs = parts.uri.query().map(oauth::parse_form).unwrap_or_default();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = axum::body::to_bytes(body, 16 * 1024 * 1024)
        .await
        .map_err(|_| ApiError::new(116, "Bad URL found"))?;
    match content_type {
        Some(ct) if ct.starts_with("multipart/") => {
            pairs.extend(multipart_fields(&ct, bytes).await?);
        }
        _ if !bytes.is_empty() => {
            pairs.extend(oauth::parse_form(&String::from_utf8_lossy(&bytes)));
        }
        _ => {}
    }
    Ok(Incoming {
        http_method: parts.method.as_str().to_owned(),
        url: request_url(&parts.headers, parts.uri.path(), fallback_host),
        authorization: parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        pairs,
    })
}

/// The non-file fields of a `multipart/form-data` body, in order.
async fn multipart_fields(
    content_type: &str,
    body: axum::body::Bytes,
) -> Result<Vec<(String, String)>, ApiError> {
    use axum::extract::{FromRequest, Multipart};
    let bad = |why: String| {
        tracing::debug!("emulator REST: bad multipart body: {why}");
        ApiError::new(116, "Bad URL found: a malformed multipart/form-data body")
    };
    let req = Request::builder()
        .method("POST")
        .header(header::CONTENT_TYPE, content_type)
        .body(axum::body::Body::from(body))
        .map_err(|e| bad(e.to_string()))?;
    let mut mp = Multipart::from_request(req, &())
        .await
        .map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    while let Some(field) = mp.next_field().await.map_err(|e| bad(e.to_string()))? {
        let file = field.file_name().is_some();
        let name = field.name().unwrap_or_default().to_owned();
        let data = field.bytes().await.map_err(|e| bad(e.to_string()))?;
        if !file {
            out.push((name, String::from_utf8_lossy(&data).into_owned()));
        }
    }
    Ok(out)
}

/// Who is calling, once the signature checks passed.
#[derive(Clone, Debug)]
pub struct Caller {
    pub token: Option<TokenRow>,
    pub user: Option<UserRow>,
}

/// The OAuth checks every REST and upload call goes through.
/// `need_token`: whether an anonymous (unsigned or token-less) call is refused.
pub fn authenticate(
    app: &App,
    c: &Connection,
    inc: &Incoming,
    extra_signed: &[(String, String)],
    need: Option<Perms>,
) -> Result<Caller, ApiError> {
    let mut all = inc.pairs.clone();
    all.extend(extra_signed.iter().cloned());
    let sp = SignedParams::gather(&all, inc.authorization.as_deref());
    let consumer = sp.get("oauth_consumer_key");
    let api_key = sp.get("api_key");
    let key = match (consumer, api_key) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::new(100, "Invalid API Key (Key not found)"))
        }
        (Some(k), _) | (None, Some(k)) => k.to_owned(),
        (None, None) => {
            return Err(ApiError::new(
                100,
                "Invalid API Key (Key has invalid format)",
            ))
        }
    };
    let Some(consumer_secret) = state::api_key_secret(c, &key)? else {
        return Err(ApiError::new(100, "Invalid API Key (Key not found)"));
    };
    let Some(signature) = sp.signature.clone() else {
        if sp.get("oauth_token").is_some() {
            return Err(ApiError::new(97, "Missing signature"));
        }
        // Flickr answers a token-less call to a method that needs one with
        // 99, not 97/98 (some clients discard their token on 98).
        if let Some(need) = need {
            return Err(insufficient(need, "none"));
        }
        return Ok(Caller {
            token: None,
            user: None,
        });
    };
    let token = match sp.get("oauth_token") {
        Some(t) if !t.is_empty() => match state::token(c, t)? {
            Some(row) if row.api_key == key => Some(row),
            _ => return Err(ApiError::new(98, "Invalid auth token")),
        },
        _ => None,
    };
    if sp.get("oauth_signature_method") != Some("HMAC-SHA1") {
        return Err(ApiError::new(
            96,
            "Invalid signature (only HMAC-SHA1 is supported)",
        ));
    }
    let base = oauth::base_string(&inc.http_method, &inc.url, &sp.signed);
    let token_secret = token.as_ref().map(|t| t.secret.as_str()).unwrap_or("");
    if !oauth::verify(&base, &consumer_secret, token_secret, &signature) {
        tracing::debug!("emulator: bad signature; base string was {base}");
        return Err(ApiError::new(96, "Invalid signature"));
    }
    let now = state::now();
    let ts = sp
        .get("oauth_timestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| ApiError::new(96, "Invalid signature (missing oauth_timestamp)"))?;
    if (now - ts).abs() > oauth::MAX_CLOCK_SKEW_SECS {
        return Err(ApiError::new(
            96,
            "Invalid signature (oauth_timestamp is more than 10 minutes off)",
        ));
    }
    let nonce = sp
        .get("oauth_nonce")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::new(96, "Invalid signature (missing oauth_nonce)"))?;
    let token_name = token.as_ref().map(|t| t.token.as_str()).unwrap_or("");
    if !app
        .nonces
        .check_and_insert(&key, token_name, nonce, ts, now)
    {
        return Err(ApiError::new(
            96,
            "Invalid signature (oauth_nonce was already used)",
        ));
    }
    if let Some(need) = need {
        let Some(tok) = &token else {
            return Err(insufficient(need, "none"));
        };
        if tok.perms < need {
            return Err(insufficient(need, tok.perms.as_str()));
        }
    }
    let user = match &token {
        Some(t) => state::user(c, &t.nsid)?,
        None => None,
    };
    Ok(Caller { token, user })
}

/// Flickr's error 99 for a call without enough permissions.
fn insufficient(need: Perms, granted: &str) -> ApiError {
    ApiError::new(
        99,
        format!(
            "Insufficient permissions. Method requires {} privileges; {granted} granted.",
            need.as_str()
        ),
    )
}

// ---------------------------------------------------------------- the handler

fn fail_map(e: &ApiError) -> Map<String, Value> {
    obj(json!({"stat": "fail", "code": e.code, "message": e.message}))
}

/// `GET|POST /services/rest/`.
pub async fn handle(State(app): State<Arc<App>>, req: Request) -> Response {
    let inc = read_incoming(req, &app.host).await;
    let (method_name, format) = match &inc {
        Ok(inc) => {
            let get = |n: &str| {
                inc.pairs
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
            };
            (get("method").unwrap_or_default(), Format::from_params(get))
        }
        Err(_) => (String::new(), Format::Rest),
    };
    let logged_name = if method_name.is_empty() {
        "rest".to_owned()
    } else {
        method_name.clone()
    };
    if let Some(inj) = app.faults.before(true).await {
        let resp = match inj {
            Injected::Http(s) => faults::http_fault(s),
            Injected::RateLimited => {
                let mut r = faults::http_fault(429);
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
                r
            }
            Injected::Api105 => format.respond(&fail_map(&ApiError::new(
                105,
                "Service currently unavailable",
            ))),
        };
        app.faults.record(LoggedCall {
            method: logged_name,
            ok: false,
            code: (inj == Injected::Api105).then_some(105),
            http_status: resp.status().as_u16(),
            fault: Some(inj.label()),
        });
        return resp;
    }
    let result = match inc {
        Err(e) => Err(e),
        Ok(inc) => {
            let app2 = app.clone();
            match tokio::task::spawn_blocking(move || dispatch(&app2, &inc)).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!("emulator REST task failed: {e}");
                    Err(ApiError::new(105, "Service currently unavailable"))
                }
            }
        }
    };
    let (body, code) = match result {
        Ok(mut map) => {
            map.insert("stat".into(), json!("ok"));
            (map, None)
        }
        Err(e) => (fail_map(&e), Some(e.code)),
    };
    let resp = format.respond(&body);
    if app.faults.should_reset() {
        app.faults.record(LoggedCall {
            method: logged_name,
            ok: false,
            code,
            http_status: 200,
            fault: Some("reset".into()),
        });
        return faults::cut_off(resp).await;
    }
    app.faults.record(LoggedCall {
        method: logged_name,
        ok: code.is_none(),
        code,
        http_status: 200,
        fault: None,
    });
    resp
}

/// Checks format, method, auth and runs the method in one transaction.
fn dispatch(app: &App, inc: &Incoming) -> ApiResult {
    let p = Params(&inc.pairs);
    let name = p.get("method").unwrap_or("");
    if let Format::Unknown(f) = Format::from_params(|n| p.get(n).map(str::to_owned)) {
        return Err(ApiError::new(111, format!("Format \"{f}\" not found")));
    }
    if inc.http_method != Method::GET.as_str() && inc.http_method != Method::POST.as_str() {
        return Err(ApiError::new(
            116,
            format!(
                "Bad URL found: {} is not supported, use GET or POST",
                inc.http_method
            ),
        ));
    }
    let Some(&(_, need)) = METHODS.iter().find(|(n, _)| *n == name) else {
        return Err(ApiError::new(112, format!("Method \"{name}\" not found")));
    };
    app.store.tx(|c| {
        let need_perm = match need {
            Need::Optional => None,
            Need::Perm(p) => Some(p),
        };
        let caller = authenticate(app, c, inc, &[], need_perm)?;
        if matches!(need, Need::Perm(p) if p >= Perms::Write)
            && inc.http_method != Method::POST.as_str()
        {
            return Err(ApiError::new(
                116,
                "The POST method is now required for all setters.",
            ));
        }
        let ctx = Ctx {
            app,
            caller,
            p: Params(&inc.pairs),
        };
        let reply = run_method(&ctx, c, name)?;
        // The set the call named, or the one it created.
        let target = ctx
            .p
            .nonempty("photoset_id")
            .map(str::to_owned)
            .or_else(|| {
                reply
                    .get("photoset")
                    .and_then(|p| p.get("id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        if let Some(set) = target {
            if let Some(mut change) = app.faults.take_set_change(name, Some(&set)) {
                if change.photoset_id.is_empty() {
                    change.photoset_id = set;
                }
                apply_set_change(app, c, &change)?;
            }
        }
        Ok(reply)
    })
}

/// A fault knob: another client's change to a set, right after our call.
pub(super) fn apply_set_change(
    app: &App,
    c: &Connection,
    ch: &faults::SetChange,
) -> Result<(), ApiError> {
    let Some(set) = parse_id(Some(&ch.photoset_id)) else {
        return Ok(());
    };
    for id in ch.add.iter().filter_map(|p| parse_id(Some(p))) {
        state::add_to_set(c, set, id)?;
    }
    for id in ch.remove.iter().filter_map(|p| parse_id(Some(p))) {
        state::remove_from_set(c, set, id, app.empty_set_rule)?;
    }
    Ok(())
}

struct Params<'a>(&'a [(String, String)]);

impl Params<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn nonempty(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }
    fn int(&self, name: &str) -> Option<i64> {
        self.nonempty(name).and_then(|v| v.parse().ok())
    }
    fn flag(&self, name: &str) -> Option<bool> {
        self.int(name).map(|v| v != 0)
    }
}

struct Ctx<'a> {
    app: &'a App,
    caller: Caller,
    p: Params<'a>,
}

impl Ctx<'_> {
    fn me(&self) -> Option<&UserRow> {
        self.caller.user.as_ref()
    }
    fn me_id(&self) -> Option<&str> {
        self.me().map(|u| u.nsid.as_str())
    }
    fn base(&self) -> &str {
        &self.app.base_url
    }
}

fn run_method(ctx: &Ctx, c: &Connection, name: &str) -> ApiResult {
    match name {
        "flickr.test.login" => test_login(ctx),
        "flickr.test.echo" => Ok(ctx
            .p
            .0
            .iter()
            .filter(|(k, _)| !k.starts_with("oauth_"))
            .map(|(k, v)| (k.clone(), json!({ "_content": v })))
            .collect()),
        "flickr.auth.oauth.checkToken" => check_token(ctx),
        "flickr.people.getInfo" => people_get_info(ctx, c),
        "flickr.people.getLimits" => people_get_limits(ctx, c),
        "flickr.people.getPhotos" => people_get_photos(ctx, c),
        "flickr.people.getGroups" => people_get_groups(ctx, c),
        "flickr.photos.search" => photos_search(ctx, c),
        "flickr.photos.recentlyUpdated" => recently_updated(ctx, c),
        "flickr.photos.getNotInSet" => not_in_set(ctx, c),
        "flickr.photos.getInfo" => get_info(ctx, c),
        "flickr.photos.getSizes" => get_sizes(ctx, c),
        "flickr.photos.getExif" => get_exif(ctx, c),
        "flickr.photos.getAllContexts" => all_contexts(ctx, c),
        "flickr.photos.setMeta" => set_meta(ctx, c),
        "flickr.photos.setTags" => set_tags(ctx, c, true),
        "flickr.photos.addTags" => set_tags(ctx, c, false),
        "flickr.photos.removeTag" => remove_tag(ctx, c),
        "flickr.photos.setPerms" => set_perms(ctx, c),
        "flickr.photos.setDates" => set_dates(ctx, c),
        "flickr.photos.setSafetyLevel" => set_safety(ctx, c),
        "flickr.photos.delete" => delete_photo(ctx, c),
        "flickr.photos.upload.checkTickets" => check_tickets(ctx, c),
        "flickr.photosets.getList" => sets_get_list(ctx, c),
        "flickr.photosets.getInfo" => sets_get_info(ctx, c),
        "flickr.photosets.getPhotos" => sets_get_photos(ctx, c),
        "flickr.photosets.create" => sets_create(ctx, c),
        "flickr.photosets.addPhoto" => sets_add_photo(ctx, c),
        "flickr.photosets.removePhoto" => sets_remove(ctx, c, false),
        "flickr.photosets.removePhotos" => sets_remove(ctx, c, true),
        "flickr.photosets.editMeta" => sets_edit_meta(ctx, c),
        "flickr.photosets.editPhotos" => sets_edit_photos(ctx, c),
        "flickr.photosets.setPrimaryPhoto" => sets_set_primary(ctx, c),
        "flickr.photosets.reorderPhotos" => sets_reorder(ctx, c),
        "flickr.photosets.orderSets" => sets_order(ctx, c),
        "flickr.photosets.delete" => sets_delete(ctx, c),
        "flickr.groups.pools.getPhotos" => pool_photos(ctx, c),
        "flickr.groups.pools.add" => pool_add(ctx, c),
        "flickr.groups.pools.remove" => pool_remove(ctx, c),
        other => Err(ApiError::new(112, format!("Method \"{other}\" not found"))),
    }
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn content(s: &str) -> Value {
    json!({ "_content": s })
}

fn b01(b: bool) -> i64 {
    b as i64
}

// ---------------------------------------------------------------- lookups

fn parse_id(s: Option<&str>) -> Option<i64> {
    s.and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|v| *v > 0)
}

/// A photo the caller may see (owner, or public).
fn visible_photo(ctx: &Ctx, c: &Connection, param: &str) -> Result<PhotoRow, ApiError> {
    visible_photo_by(ctx, c, param, false)
}

/// With `by_secret`, also a photo whose `secret` the caller gives:
/// photos.getInfo and photos.getExif skip the permission check then, as
/// documented ("This enables the 'sharing' of individual photos by passing
/// around the id and secret").
fn visible_photo_by(
    ctx: &Ctx,
    c: &Connection,
    param: &str,
    by_secret: bool,
) -> Result<PhotoRow, ApiError> {
    let not_found = || ApiError::new(1, "Photo not found");
    let id = parse_id(ctx.p.get(param)).ok_or_else(not_found)?;
    let p = state::photo(c, id)?.ok_or_else(not_found)?;
    let shared = by_secret && ctx.p.nonempty("secret") == Some(p.secret.as_str());
    if p.is_public || shared || Some(p.owner.as_str()) == ctx.me_id() {
        Ok(p)
    } else {
        Err(not_found())
    }
}

/// A photo the caller owns, or the given error.
fn own_photo_id(
    ctx: &Ctx,
    c: &Connection,
    raw: Option<&str>,
    err: &ApiError,
) -> Result<PhotoRow, ApiError> {
    let id = parse_id(raw).ok_or_else(|| err.clone())?;
    match state::photo(c, id)? {
        Some(p) if Some(p.owner.as_str()) == ctx.me_id() => Ok(p),
        _ => Err(err.clone()),
    }
}

fn own_photo(ctx: &Ctx, c: &Connection, param: &str) -> Result<PhotoRow, ApiError> {
    own_photo_id(
        ctx,
        c,
        ctx.p.get(param),
        &ApiError::new(1, "Photo not found"),
    )
}

fn own_set(ctx: &Ctx, c: &Connection) -> Result<SetRow, ApiError> {
    let nf = || ApiError::new(1, "Photoset not found");
    let id = parse_id(ctx.p.get("photoset_id")).ok_or_else(nf)?;
    match state::set(c, id)? {
        Some(s) if Some(s.owner.as_str()) == ctx.me_id() => Ok(s),
        _ => Err(nf()),
    }
}

/// `user_id` (or `me`, or absent) → the user; `code` is the method's "unknown user" error.
fn target_user(ctx: &Ctx, c: &Connection, code: i64, msg: &str) -> Result<UserRow, ApiError> {
    match ctx.p.nonempty("user_id") {
        None | Some("me") => ctx.me().cloned().ok_or_else(|| ApiError::new(code, msg)),
        Some(id) => match state::user(c, id)? {
            Some(u) => Ok(u),
            None => state::user_by_name(c, id)?.ok_or_else(|| ApiError::new(code, msg)),
        },
    }
}

// ---------------------------------------------------------------- photo JSON

fn extras(ctx: &Ctx, param: &str) -> BTreeSet<String> {
    ctx.p
        .get(param)
        .unwrap_or("")
        .split([',', ' '])
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The extras a list entry carries.
fn add_extras(
    base: &str,
    m: &mut Map<String, Value>,
    p: &PhotoRow,
    tags: &[TagRow],
    ex: &BTreeSet<String>,
    owner_name: Option<&str>,
) {
    let has = |k: &str| ex.contains(k);
    if has("description") {
        m.insert("description".into(), content(&p.description));
    }
    if has("license") {
        m.insert("license".into(), json!("0"));
    }
    if has("date_upload") {
        m.insert("dateupload".into(), json!(p.date_upload.to_string()));
    }
    if has("date_taken") {
        m.insert("datetaken".into(), json!(p.date_taken));
        m.insert("datetakengranularity".into(), json!(p.taken_granularity));
        m.insert(
            "datetakenunknown".into(),
            json!(if p.taken_unknown { "1" } else { "0" }),
        );
    }
    if has("owner_name") {
        m.insert("ownername".into(), json!(owner_name.unwrap_or("")));
    }
    if has("last_update") {
        m.insert("lastupdate".into(), json!(p.lastupdate.to_string()));
    }
    if has("original_format") {
        m.insert("originalsecret".into(), json!(p.originalsecret));
        m.insert("originalformat".into(), json!(p.original_format));
    }
    if has("o_dims") {
        m.insert("o_width".into(), json!(p.width.to_string()));
        m.insert("o_height".into(), json!(p.height.to_string()));
    }
    if has("views") {
        m.insert("views".into(), json!("0"));
    }
    if has("tags") {
        let t: Vec<&str> = tags.iter().map(|t| t.norm.as_str()).collect();
        m.insert("tags".into(), json!(t.join(" ")));
    }
    if has("machine_tags") {
        let t: Vec<&str> = tags
            .iter()
            .filter(|t| t.machine)
            .map(|t| t.norm.as_str())
            .collect();
        m.insert("machine_tags".into(), json!(t.join(" ")));
    }
    if has("media") {
        m.insert("media".into(), json!("photo"));
        m.insert("media_status".into(), json!("ready"));
    }
    for (spec, w, h) in files::sizes_for(p.width, p.height) {
        if has(&format!("url_{}", spec.extra)) {
            m.insert(
                format!("url_{}", spec.extra),
                json!(files::photo_url(base, p, spec.suffix)),
            );
            m.insert(format!("height_{}", spec.extra), json!(h));
            m.insert(format!("width_{}", spec.extra), json!(w));
        }
    }
    if has("url_o") {
        m.insert("url_o".into(), json!(files::photo_url(base, p, "o")));
        m.insert("height_o".into(), json!(p.height));
        m.insert("width_o".into(), json!(p.width));
    }
}

fn list_photo(
    base: &str,
    p: &PhotoRow,
    tags: &[TagRow],
    ex: &BTreeSet<String>,
    owner_name: Option<&str>,
) -> Value {
    let mut m = obj(json!({
        "id": p.id.to_string(),
        "owner": p.owner,
        "secret": p.secret,
        "server": p.server,
        "farm": p.farm,
        "title": p.title,
        "ispublic": b01(p.is_public),
        "isfriend": b01(p.is_friend),
        "isfamily": b01(p.is_family),
    }));
    add_extras(base, &mut m, p, tags, ex, owner_name);
    Value::Object(m)
}

fn owner_names(c: &Connection, rows: &[PhotoRow]) -> Result<HashMap<String, String>, ApiError> {
    let mut out = HashMap::new();
    for r in rows {
        if !out.contains_key(&r.owner) {
            if let Some(u) = state::user(c, &r.owner)? {
                out.insert(r.owner.clone(), u.username);
            }
        }
    }
    Ok(out)
}

fn photo_list(
    ctx: &Ctx,
    c: &Connection,
    rows: &[PhotoRow],
    ex: &BTreeSet<String>,
) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let tags = state::tags_for(c, &ids)?;
    let names = owner_names(c, rows)?;
    let mut free = HashMap::new();
    for r in rows {
        if !free.contains_key(&r.owner) {
            free.insert(r.owner.clone(), state::is_free(c, &r.owner)?);
        }
    }
    Ok(rows
        .iter()
        .map(|r| {
            let mut v = list_photo(
                ctx.base(),
                r,
                tags.get(&r.id).map(Vec::as_slice).unwrap_or(&[]),
                ex,
                names.get(&r.owner).map(String::as_str),
            );
            if free.get(&r.owner) == Some(&true) {
                if let Value::Object(m) = &mut v {
                    drop_sizes_over_free_limit(m);
                }
            }
            v
        })
        .collect())
}

/// A free account's photo: the `url_X` extras (with `width_X`/`height_X`)
/// of sizes over 1024 px, the original's among them, are not given.
fn drop_sizes_over_free_limit(m: &mut Map<String, Value>) {
    let num = |v: Option<&Value>| -> u64 {
        v.and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(0)
    };
    let too_big: Vec<String> = m
        .keys()
        .filter_map(|k| k.strip_prefix("url_"))
        .filter(|x| {
            num(m.get(&format!("width_{x}"))).max(num(m.get(&format!("height_{x}"))))
                > u64::from(state::FREE_MAX_DISPLAY_PX)
        })
        .map(str::to_owned)
        .collect();
    for x in too_big {
        for k in ["url", "width", "height"] {
            m.remove(&format!("{k}_{x}"));
        }
    }
}

/// (page, per_page) with Flickr's defaults and the 500 cap.
fn paging(ctx: &Ctx, default_per_page: i64) -> (i64, i64) {
    let per_page = ctx
        .p
        .int("per_page")
        .filter(|v| *v > 0)
        .unwrap_or(default_per_page)
        .min(500);
    let page = ctx.p.int("page").filter(|v| *v > 0).unwrap_or(1);
    (page, per_page)
}

fn pages(total: i64, per_page: i64) -> i64 {
    (total + per_page - 1) / per_page.max(1)
}

/// A date parameter: Unix seconds or a MySQL datetime.
fn unix_param(ctx: &Ctx, name: &str) -> Option<i64> {
    let v = ctx.p.nonempty(name)?;
    v.parse::<i64>().ok().or_else(|| state::parse_datetime(v))
}

/// A taken-date parameter as `YYYY-MM-DD HH:MM:SS`.
fn taken_param(ctx: &Ctx, name: &str) -> Option<String> {
    let v = ctx.p.nonempty(name)?;
    let ts = v.parse::<i64>().ok().or_else(|| state::parse_datetime(v))?;
    Some(state::format_datetime(ts))
}

/// The date filters, privacy filter and paging shared by listing methods.
fn common_query(ctx: &Ctx, owner: Option<&UserRow>) -> PhotoQuery {
    let is_owner = owner.is_some() && owner.map(|o| o.nsid.as_str()) == ctx.me_id();
    let (page, per_page) = paging(ctx, 100);
    PhotoQuery {
        owner: owner.map(|o| o.nsid.clone()),
        only_public: !is_owner,
        viewer: None,
        min_upload: unix_param(ctx, "min_upload_date"),
        max_upload: unix_param(ctx, "max_upload_date"),
        min_taken: taken_param(ctx, "min_taken_date"),
        max_taken: taken_param(ctx, "max_taken_date"),
        privacy: if is_owner {
            ctx.p.int("privacy_filter")
        } else {
            None
        },
        videos_only: videos_only(ctx),
        page,
        per_page,
        ..Default::default()
    }
}

/// `media`: `all` (the default), `photos` or `videos`, as the listing
/// methods take it.
fn videos_only(ctx: &Ctx) -> bool {
    ctx.p.nonempty("media") == Some("videos")
}

fn photos_page(
    ctx: &Ctx,
    c: &Connection,
    q: &PhotoQuery,
    ex: &BTreeSet<String>,
    total_as_string: bool,
) -> ApiResult {
    let (total, rows) = state::query_photos(c, q)?;
    let list = photo_list(ctx, c, &rows, ex)?;
    let total_v = if total_as_string {
        json!(total.to_string())
    } else {
        json!(total)
    };
    Ok(obj(json!({
        "photos": {
            "page": q.page,
            "pages": pages(total, q.per_page),
            "perpage": q.per_page,
            "total": total_v,
            "photo": list,
        }
    })))
}

// ---------------------------------------------------------------- methods: auth, people

fn test_login(ctx: &Ctx) -> ApiResult {
    let u = ctx
        .me()
        .ok_or_else(|| ApiError::new(98, "Invalid auth token"))?;
    Ok(obj(json!({
        "user": {"id": u.nsid, "username": content(&u.username), "path_alias": u.username}
    })))
}

fn check_token(ctx: &Ctx) -> ApiResult {
    // The token checked is the one the call was signed with, wherever its
    // OAuth parameters travelled (Authorization header, query or body).
    let (Some(t), Some(u)) = (&ctx.caller.token, ctx.me()) else {
        return Err(ApiError::new(98, "Invalid auth token"));
    };
    Ok(obj(json!({
        "oauth": {
            "token": content(&t.token),
            "perms": content(t.perms.as_str()),
            "user": {"nsid": u.nsid, "username": u.username, "fullname": u.fullname}
        }
    })))
}

/// flickr.people.getLimits: the caller's limits, as documented
/// (`<person nsid><photos maxdisplaypx maxupload/><videos maxduration
/// maxupload/></person>`). `maxdisplaypx` is 1024 for a free account, 0
/// (no limit) for Pro.
fn people_get_limits(ctx: &Ctx, c: &Connection) -> ApiResult {
    let me = ctx
        .me()
        .ok_or_else(|| ApiError::new(99, "Insufficient permissions"))?;
    let free = state::is_free(c, &me.nsid)?;
    Ok(obj(json!({
        "person": {
            "nsid": me.nsid,
            "photos": {
                "maxdisplaypx": if free { state::FREE_MAX_DISPLAY_PX.to_string() } else { "0".into() },
                "maxupload": "209715200",
            },
            "videos": {"maxduration": if free { "90" } else { "180" }, "maxupload": "1073741824"},
        }
    })))
}

fn people_get_info(ctx: &Ctx, c: &Connection) -> ApiResult {
    let u = target_user(ctx, c, 1, "User not found")?;
    // What others may see: the owner counts every photo, others the public ones.
    let all = Some(u.nsid.as_str()) == ctx.me_id();
    let (count, first_upload, first_taken): (i64, Option<i64>, Option<String>) = c
        .query_row(
            "SELECT COUNT(*), MIN(date_upload), MIN(date_taken) FROM photos \
             WHERE owner=?1 AND (?2 OR is_public=1)",
            rusqlite::params![u.nsid, all],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(StateError::from)?;
    // Captured replies carry `count` as a number inside `_content`, the
    // dates as strings.
    Ok(obj(json!({
        "person": {
            "id": u.nsid, "nsid": u.nsid, "ispro": b01(!state::is_free(c, &u.nsid)?), "is_deleted": 0,
            "iconserver": "0", "iconfarm": 0,
            "path_alias": u.username,
            "has_stats": 0,
            "username": content(&u.username),
            "realname": content(&u.fullname),
            "location": content(""),
            "timezone": {"label": "Coordinated Universal Time", "offset": "+00:00", "timezone_id": "UTC"},
            "description": content(""),
            "photosurl": content(&format!("{}/photos/{}/", ctx.base(), u.username)),
            "profileurl": content(&format!("{}/people/{}/", ctx.base(), u.username)),
            "mobileurl": content(&format!("{}/photos/{}/?mobile=1", ctx.base(), u.username)),
            "photos": {
                "firstdatetaken": content(first_taken.as_deref().unwrap_or("")),
                "firstdate": content(&first_upload.map(|d| d.to_string()).unwrap_or_default()),
                "count": {"_content": count},
            }
        }
    })))
}

fn people_get_photos(ctx: &Ctx, c: &Connection) -> ApiResult {
    let u = target_user(ctx, c, 2, "Unknown user")?;
    let q = common_query(ctx, Some(&u));
    photos_page(ctx, c, &q, &extras(ctx, "extras"), false)
}

fn group_json(g: &GroupRow) -> Value {
    json!({
        "nsid": g.nsid, "id": g.nsid, "name": g.name,
        "iconfarm": 0, "iconserver": "0", "admin": 0, "eighteenplus": 0, "invitation_only": 0,
        "members": g.members.to_string(), "pool_count": g.pool_count.to_string(),
    })
}

fn people_get_groups(ctx: &Ctx, c: &Connection) -> ApiResult {
    let u = target_user(ctx, c, 1, "User not found")?;
    // The documented extras: privacy (3 = public), the posting throttle,
    // and what a pool accepts; the emulator's groups are open to all.
    let ex = extras(ctx, "extras");
    let groups: Vec<Value> = state::groups_of(c, &u.nsid)?
        .iter()
        .map(|g| {
            let mut m = obj(group_json(g));
            if ex.contains("privacy") {
                m.insert("privacy".into(), json!("3"));
            }
            if ex.contains("throttle") {
                m.insert("throttle".into(), json!({"mode": "none"}));
            }
            if ex.contains("restrictions") {
                m.insert(
                    "restrictions".into(),
                    json!({
                        "photos_ok": 1, "videos_ok": 1, "images_ok": 1, "screens_ok": 1,
                        "art_ok": 1, "virtual_ok": 1, "safe_ok": 1, "moderate_ok": 1,
                        "restricted_ok": 0, "has_geo": 0,
                    }),
                );
            }
            Value::Object(m)
        })
        .collect();
    Ok(obj(json!({ "groups": { "group": groups } })))
}

// ---------------------------------------------------------------- methods: listing

/// The parameters that make a search more than "everything": without one,
/// Flickr answers error 3.
const SEARCH_FILTERS: &[&str] = &[
    "user_id",
    "tags",
    "machine_tags",
    "text",
    "min_upload_date",
    "max_upload_date",
    "min_taken_date",
    "max_taken_date",
    "group_id",
    "license",
    "bbox",
    "lat",
    "lon",
    "place_id",
    "woe_id",
    "contacts",
    "camera",
    "in_gallery",
    "is_commons",
    "is_getty",
];

fn photos_search(ctx: &Ctx, c: &Connection) -> ApiResult {
    if SEARCH_FILTERS.iter().all(|f| ctx.p.nonempty(f).is_none()) {
        return Err(ApiError::new(
            3,
            "Parameterless searches have been disabled. Please use flickr.photos.getRecent instead.",
        ));
    }
    let owner = match ctx.p.nonempty("user_id") {
        None => None,
        Some(_) => Some(target_user(ctx, c, 2, "Unknown user")?),
    };
    let mut q = common_query(ctx, owner.as_ref());
    if owner.is_none() {
        // Without user_id Flickr searches public photos only, the caller's
        // own private ones included nowhere.
        q.only_public = true;
        q.viewer = None;
    }
    let lag = ctx.app.faults.config().search_lag_secs;
    if lag > 0 {
        // The search index lags behind new uploads (a fault knob).
        let cutoff = state::now() - lag as i64;
        q.max_upload = Some(q.max_upload.map_or(cutoff, |m| m.min(cutoff)));
    }
    q.tags = ctx
        .p
        .get("tags")
        .unwrap_or("")
        .split(',')
        .map(state::normalize_tag)
        .filter(|t| !t.is_empty())
        .collect();
    q.tags_all = ctx.p.get("tag_mode") == Some("all");
    let mut machine = Vec::new();
    for raw in ctx.p.get("machine_tags").unwrap_or("").split(',') {
        if raw.trim().is_empty() {
            continue;
        }
        match MachinePattern::parse(raw) {
            Some(m) => machine.push(m),
            None => {
                return Err(ApiError::new(
                    11,
                    "Invalid Machine Tag Search Syntax: the query syntax for the machine_tags argument did not validate.",
                ))
            }
        }
    }
    q.machine = machine;
    q.machine_all = ctx.p.get("machine_tag_mode") == Some("all");
    q.text = ctx.p.nonempty("text").map(str::to_owned);
    if let Some(sort) = ctx.p.nonempty("sort") {
        q.order = Order::parse(sort).unwrap_or_default();
    }
    photos_page(ctx, c, &q, &extras(ctx, "extras"), true)
}

fn recently_updated(ctx: &Ctx, c: &Connection) -> ApiResult {
    let me = ctx
        .me()
        .cloned()
        .ok_or_else(|| ApiError::new(98, "Invalid auth token"))?;
    let Some(min_date) = unix_param(ctx, "min_date") else {
        return Err(ApiError::new(1, "Required parameter missing: min_date"));
    };
    let mut q = common_query(ctx, Some(&me));
    q.min_lastupdate = Some(min_date);
    q.order = Order::UpdatedDesc;
    let mut ex = extras(ctx, "extras");
    ex.insert("last_update".into());
    photos_page(ctx, c, &q, &ex, false)
}

fn not_in_set(ctx: &Ctx, c: &Connection) -> ApiResult {
    let me = ctx
        .me()
        .cloned()
        .ok_or_else(|| ApiError::new(98, "Invalid auth token"))?;
    let mut q = common_query(ctx, Some(&me));
    q.not_in_set = true;
    photos_page(ctx, c, &q, &extras(ctx, "extras"), false)
}

// ---------------------------------------------------------------- methods: one photo

fn get_info(ctx: &Ctx, c: &Connection) -> ApiResult {
    let p = visible_photo_by(ctx, c, "photo_id", true)?;
    let owner = state::user(c, &p.owner)?;
    let tags = state::tags_for(c, &[p.id])?
        .remove(&p.id)
        .unwrap_or_default();
    let owner_name = owner
        .as_ref()
        .map(|u| u.username.clone())
        .unwrap_or_default();
    let tag_list: Vec<Value> = tags
        .iter()
        .map(|t| {
            json!({
                "id": format!("{}-{}-{}", p.owner.split('@').next().unwrap_or(""), p.id, t.id),
                "author": t.author,
                "authorname": owner_name,
                "raw": t.raw,
                "_content": t.norm,
                "machine_tag": b01(t.machine),
            })
        })
        .collect();
    let is_owner = Some(p.owner.as_str()) == ctx.me_id();
    Ok(obj(json!({
        "photo": {
            "id": p.id.to_string(),
            "secret": p.secret,
            "server": p.server,
            "farm": p.farm,
            "dateuploaded": p.date_upload.to_string(),
            "isfavorite": 0,
            "license": "0",
            "safety_level": (p.safety_level - 1).max(0).to_string(),
            "rotation": 0,
            "originalsecret": p.originalsecret,
            "originalformat": p.original_format,
            "owner": {
                "nsid": p.owner,
                "username": owner_name,
                "realname": owner.as_ref().map(|u| u.fullname.clone()).unwrap_or_default(),
                "location": "",
                "iconserver": "0",
                "iconfarm": 0,
                "path_alias": null,
            },
            "title": content(&p.title),
            "description": content(&p.description),
            "visibility": {"ispublic": b01(p.is_public), "isfriend": b01(p.is_friend), "isfamily": b01(p.is_family)},
            "dates": {
                "posted": p.date_upload.to_string(),
                "taken": p.date_taken,
                "takengranularity": p.taken_granularity,
                "takenunknown": if p.taken_unknown { "1" } else { "0" },
                "lastupdate": p.lastupdate.to_string(),
            },
            "views": "0",
            "editability": {"cancomment": b01(is_owner), "canaddmeta": b01(is_owner)},
            "publiceditability": {"cancomment": 1, "canaddmeta": 0},
            "usage": {"candownload": 1, "canblog": 0, "canprint": 0, "canshare": 1},
            "comments": content("0"),
            "notes": {"note": []},
            "people": {"haspeople": 0},
            "tags": {"tag": tag_list},
            "urls": {"url": [{"type": "photopage", "_content": format!("{}/photos/{}/{}/", ctx.base(), owner_name, p.id)}]},
            "media": "photo",
        }
    })))
}

fn get_sizes(ctx: &Ctx, c: &Connection) -> ApiResult {
    let p = visible_photo(ctx, c, "photo_id")?;
    let page = |suffix: &str| {
        let owner = state::user(c, &p.owner)
            .ok()
            .flatten()
            .map(|u| u.username)
            .unwrap_or_default();
        format!("{}/photos/{}/{}/sizes/{}/", ctx.base(), owner, p.id, suffix)
    };
    // Captured replies give Square and Thumbnail sizes as numbers and the
    // others as strings; the page URL names the size by its extras code
    // (sq, q, t, s, n, w, m, z, c, l, h, k, ...), not its file suffix.
    let mut sizes: Vec<Value> = files::sizes_for(p.width, p.height)
        .into_iter()
        .map(|(s, w, h)| {
            let (w, h) = if matches!(s.label, "Square" | "Thumbnail") {
                (json!(w), json!(h))
            } else {
                (json!(w.to_string()), json!(h.to_string()))
            };
            json!({
                "label": s.label, "width": w, "height": h,
                "source": files::photo_url(ctx.base(), &p, s.suffix),
                "url": page(s.extra),
                "media": "photo",
            })
        })
        .collect();
    sizes.push(json!({
        "label": "Original", "width": p.width.to_string(), "height": p.height.to_string(),
        "source": files::photo_url(ctx.base(), &p, "o"),
        "url": page("o"),
        "media": "photo",
    }));
    // A free account's photos are served up to 1024 px, the original too.
    if state::is_free(c, &p.owner)? {
        let edge = |s: &Value| {
            let n = |k: &str| {
                s[k].as_u64()
                    .or_else(|| s[k].as_str()?.parse().ok())
                    .unwrap_or(0)
            };
            n("width").max(n("height"))
        };
        sizes.retain(|s| edge(s) <= u64::from(state::FREE_MAX_DISPLAY_PX));
    }
    Ok(obj(json!({
        "sizes": {"canblog": 0, "canprint": 0, "candownload": 1, "size": sizes}
    })))
}

fn get_exif(ctx: &Ctx, c: &Connection) -> ApiResult {
    let p = visible_photo_by(ctx, c, "photo_id", true)?;
    let bytes = files::original_bytes(ctx.app, &p).map_err(|e| {
        tracing::error!("emulator getExif: {e}");
        ApiError::new(1, "Photo not found")
    })?;
    let fields = files::exif_fields(&bytes);
    let camera = {
        let get = |t: &str| {
            fields
                .iter()
                .find(|f| f.1 == t)
                .map(|f| f.3.clone())
                .unwrap_or_default()
        };
        format!("{} {}", get("Make"), get("Model"))
            .trim()
            .to_owned()
    };
    let exif: Vec<Value> = fields
        .into_iter()
        .map(|(space, tag, label, raw)| {
            json!({"tagspace": space, "tagspaceid": 0, "tag": tag, "label": label, "raw": content(&raw)})
        })
        .collect();
    Ok(obj(json!({
        "photo": {
            "id": p.id.to_string(), "secret": p.secret, "server": p.server, "farm": p.farm,
            "camera": camera, "exif": exif,
        }
    })))
}

fn all_contexts(ctx: &Ctx, c: &Connection) -> ApiResult {
    let p = visible_photo(ctx, c, "photo_id")?;
    let mut m = Map::new();
    let sets: Vec<Value> = state::sets_of_photo(c, p.id)?
        .iter()
        .map(|s| {
            json!({
                "id": s.id.to_string(), "title": s.title, "primary": s.primary.to_string(),
                "secret": s.secret, "server": s.server, "farm": s.farm,
                "view_count": 0, "comment_count": "0", "count_photo": s.count.to_string(), "count_video": "0",
            })
        })
        .collect();
    if !sets.is_empty() {
        m.insert("set".into(), Value::Array(sets));
    }
    let pools: Vec<Value> = state::pools_of_photo(c, p.id)?
        .iter()
        .map(|g| {
            json!({
                "id": g.nsid, "title": g.name,
                "url": format!("/groups/{}/pool/", g.nsid),
                "iconserver": "0", "iconfarm": 0,
                "members": g.members.to_string(), "pool_count": g.pool_count.to_string(),
            })
        })
        .collect();
    if !pools.is_empty() {
        m.insert("pool".into(), Value::Array(pools));
    }
    Ok(m)
}

fn set_meta(ctx: &Ctx, c: &Connection) -> ApiResult {
    let p = own_photo(ctx, c, "photo_id")?;
    if let Some(t) = ctx.p.get("title") {
        state::update_photo_field(c, p.id, "title", SqlValue::Text(t.to_owned()))?;
    }
    if let Some(d) = ctx.p.get("description") {
        state::update_photo_field(c, p.id, "description", SqlValue::Text(d.to_owned()))?;
    }
    Ok(Map::new())
}

const MAX_TAGS: usize = 75;

fn set_tags(ctx: &Ctx, c: &Connection, replace: bool) -> ApiResult {
    let p = own_photo(ctx, c, "photo_id")?;
    let list = match ctx.p.get("tags") {
        Some(l) => l,
        // setTags with no tags clears them; addTags needs something to add.
        None if replace => "",
        None => return Err(ApiError::new(1, "Required parameter missing: tags")),
    };
    let raws = state::split_tag_list(list);
    let existing = if replace {
        0
    } else {
        state::tags_for(c, &[p.id])?
            .get(&p.id)
            .map(Vec::len)
            .unwrap_or(0)
    };
    if existing + raws.len() > MAX_TAGS {
        return Err(ApiError::new(2, "Maximum number of tags reached"));
    }
    if replace {
        state::clear_tags(c, p.id)?;
    }
    state::add_tags(c, p.id, &p.owner, &raws)?;
    state::touch_photo(c, p.id)?;
    Ok(Map::new())
}

fn remove_tag(ctx: &Ctx, c: &Connection) -> ApiResult {
    let nf = || ApiError::new(1, "Tag not found");
    let tag_id = ctx
        .p
        .nonempty("tag_id")
        .and_then(|t| t.rsplit('-').next())
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(nf)?;
    let photo = state::tag_owner(c, tag_id)?.ok_or_else(nf)?;
    let p = own_photo_id(ctx, c, Some(&photo.to_string()), &nf())?;
    state::remove_tag(c, tag_id)?;
    state::touch_photo(c, p.id)?;
    Ok(Map::new())
}

fn set_perms(ctx: &Ctx, c: &Connection) -> ApiResult {
    let p = own_photo(ctx, c, "photo_id")?;
    let (Some(public), Some(friend), Some(family)) = (
        ctx.p.flag("is_public"),
        ctx.p.flag("is_friend"),
        ctx.p.flag("is_family"),
    ) else {
        return Err(ApiError::new(
            2,
            "Required arguments missing: is_public, is_friend and is_family",
        ));
    };
    for (col, v) in [
        ("is_public", public),
        ("is_friend", friend),
        ("is_family", family),
    ] {
        state::update_photo_field(c, p.id, col, SqlValue::Integer(v as i64))?;
    }
    Ok(obj(
        json!({"photoid": {"_content": p.id.to_string(), "secret": p.secret, "originalsecret": p.originalsecret}}),
    ))
}

fn set_dates(ctx: &Ctx, c: &Connection) -> ApiResult {
    let p = own_photo(ctx, c, "photo_id")?;
    let posted = match ctx.p.nonempty("date_posted") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|t| *t > 0 && *t <= state::now() + 86_400)
                .ok_or_else(|| ApiError::new(2, "Not a valid date"))?,
        ),
    };
    let taken = match ctx.p.nonempty("date_taken") {
        None => None,
        Some(v) => Some(
            state::parse_datetime(v)
                .map(state::format_datetime)
                .ok_or_else(|| ApiError::new(2, "Not a valid date"))?,
        ),
    };
    let gran = match ctx.p.nonempty("date_taken_granularity") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(g @ (0 | 4 | 6 | 8)) => Some(g),
            _ => return Err(ApiError::new(3, "Invalid granularity")),
        },
    };
    if let Some(t) = posted {
        state::update_photo_field(c, p.id, "date_upload", SqlValue::Integer(t))?;
    }
    if let Some(t) = taken {
        state::update_photo_field(c, p.id, "date_taken", SqlValue::Text(t))?;
        state::update_photo_field(c, p.id, "taken_unknown", SqlValue::Integer(0))?;
    }
    if let Some(g) = gran {
        state::update_photo_field(c, p.id, "taken_granularity", SqlValue::Integer(g))?;
    }
    Ok(Map::new())
}

/// photos.setSafetyLevel: `safety_level` 1, 2 or 3 and `hidden` 0 or 1,
/// both optional; a value given and not one of those is error 2 or 3, as
/// documented ("Invalid or missing safety level", "Invalid hidden value").
fn set_safety(ctx: &Ctx, c: &Connection) -> ApiResult {
    let p = own_photo(ctx, c, "photo_id")?;
    let level = match ctx.p.nonempty("safety_level") {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|l| (1..=3).contains(l))
                .ok_or_else(|| ApiError::new(2, "Invalid or missing safety level"))?,
        ),
    };
    if let Some(v) = ctx.p.nonempty("hidden") {
        if !matches!(v.trim(), "0" | "1") {
            return Err(ApiError::new(3, "Invalid hidden value"));
        }
    }
    if let Some(level) = level {
        state::update_photo_field(c, p.id, "safety_level", SqlValue::Integer(level))?;
    }
    Ok(Map::new())
}

fn delete_photo(ctx: &Ctx, c: &Connection) -> ApiResult {
    let p = own_photo(ctx, c, "photo_id")?;
    state::delete_photo(c, p.id)?;
    let _ = std::fs::remove_file(ctx.app.store.original_path(p.id, &p.original_format));
    Ok(Map::new())
}

fn check_tickets(ctx: &Ctx, c: &Connection) -> ApiResult {
    let me = ctx.me_id().unwrap_or("").to_owned();
    let mut out = Vec::new();
    for t in ctx.p.get("tickets").unwrap_or("").split(',') {
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        match t
            .parse::<i64>()
            .ok()
            .map(|id| state::poll_ticket(c, id, &me))
        {
            Some(Ok(Some((complete, photo)))) => {
                let mut m = obj(json!({"id": t, "complete": complete}));
                if let Some(pid) = photo {
                    m.insert("photoid".into(), json!(pid.to_string()));
                }
                out.push(Value::Object(m));
            }
            Some(Err(e)) => return Err(e.into()),
            _ => out.push(json!({"id": t, "invalid": 1})),
        }
    }
    Ok(obj(json!({"uploader": {"ticket": out}})))
}

// ---------------------------------------------------------------- methods: sets

fn set_json(
    ctx: &Ctx,
    c: &Connection,
    s: &SetRow,
    owner: &UserRow,
    primary_ex: &BTreeSet<String>,
) -> Result<Value, ApiError> {
    let mut m = obj(json!({
        "id": s.id.to_string(),
        "owner": s.owner,
        "username": owner.username,
        "primary": s.primary.to_string(),
        "secret": s.secret,
        "server": s.server,
        "farm": s.farm,
        "count_views": "0",
        "count_comments": "0",
        "count_photos": s.count,
        "count_videos": 0,
        "title": content(&s.title),
        "description": content(&s.description),
        "can_comment": 0,
        "date_create": s.date_create.to_string(),
        "date_update": s.date_update.to_string(),
        "photos": s.count,
        "videos": 0,
        "visibility_can_see_set": 1,
        "needs_interstitial": 0,
    }));
    if !primary_ex.is_empty() {
        if let Some(p) = state::photo(c, s.primary)? {
            let tags = state::tags_for(c, &[p.id])?
                .remove(&p.id)
                .unwrap_or_default();
            let mut pm = Map::new();
            add_extras(
                ctx.base(),
                &mut pm,
                &p,
                &tags,
                primary_ex,
                Some(&owner.username),
            );
            m.insert("primary_photo_extras".into(), Value::Object(pm));
        }
    }
    Ok(Value::Object(m))
}

fn sets_get_list(ctx: &Ctx, c: &Connection) -> ApiResult {
    let u = target_user(ctx, c, 1, "User not found")?;
    let all = state::sets_of(c, &u.nsid)?;
    let total = all.len() as i64;
    let unpaged = ctx.p.nonempty("page").is_none() && ctx.p.nonempty("per_page").is_none();
    let (page, per_page) = if unpaged {
        (1, total.max(1))
    } else {
        paging(ctx, 500)
    };
    let ex = extras(ctx, "primary_photo_extras");
    let list = all
        .iter()
        .skip(((page - 1) * per_page) as usize)
        .take(per_page as usize)
        .map(|s| set_json(ctx, c, s, &u, &ex))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(obj(json!({
        "photosets": {
            "page": page,
            "pages": pages(total, per_page),
            "perpage": per_page,
            "total": total,
            "cancreate": 1,
            "photoset": list,
        }
    })))
}

fn any_set(ctx: &Ctx, c: &Connection) -> Result<(SetRow, UserRow), ApiError> {
    let nf = || ApiError::new(1, "Photoset not found");
    let id = parse_id(ctx.p.get("photoset_id")).ok_or_else(nf)?;
    let s = state::set(c, id)?.ok_or_else(nf)?;
    let owner = state::user(c, &s.owner)?.ok_or_else(nf)?;
    Ok((s, owner))
}

fn sets_get_info(ctx: &Ctx, c: &Connection) -> ApiResult {
    let (s, owner) = any_set(ctx, c)?;
    Ok(obj(
        json!({"photoset": set_json(ctx, c, &s, &owner, &BTreeSet::new())?}),
    ))
}

fn sets_get_photos(ctx: &Ctx, c: &Connection) -> ApiResult {
    let (s, owner) = any_set(ctx, c)?;
    let mut q = common_query(ctx, Some(&owner));
    let (page, per_page) = paging(ctx, 500);
    q.page = page;
    q.per_page = per_page;
    q.in_set = Some(s.id);
    let (total, rows) = state::query_photos(c, &q)?;
    let mut list = photo_list(ctx, c, &rows, &extras(ctx, "extras"))?;
    for (v, r) in list.iter_mut().zip(&rows) {
        if let Value::Object(m) = v {
            m.insert(
                "isprimary".into(),
                json!(if r.id == s.primary { "1" } else { "0" }),
            );
        }
    }
    Ok(obj(json!({
        "photoset": {
            "id": s.id.to_string(),
            "primary": s.primary.to_string(),
            "owner": s.owner,
            "ownername": owner.username,
            "photo": list,
            "page": page,
            "per_page": per_page,
            "perpage": per_page,
            "pages": pages(total, per_page),
            "title": s.title,
            "total": total.to_string(),
        }
    })))
}

fn sets_create(ctx: &Ctx, c: &Connection) -> ApiResult {
    let me = ctx
        .me()
        .cloned()
        .ok_or_else(|| ApiError::new(98, "Invalid auth token"))?;
    let Some(title) = ctx.p.nonempty("title") else {
        return Err(ApiError::new(1, "No title specified"));
    };
    let primary = own_photo_id(
        ctx,
        c,
        ctx.p.get("primary_photo_id"),
        &ApiError::new(2, "Photo not found"),
    )?;
    let desc = ctx.p.get("description").unwrap_or("");
    let id = state::create_set(c, &me.nsid, title, desc, &primary, state::now())?;
    Ok(obj(json!({
        "photoset": {"id": id.to_string(), "url": format!("{}/photos/{}/sets/{}/", ctx.base(), me.username, id)}
    })))
}

fn sets_add_photo(ctx: &Ctx, c: &Connection) -> ApiResult {
    let s = own_set(ctx, c)?;
    let p = own_photo_id(
        ctx,
        c,
        ctx.p.get("photo_id"),
        &ApiError::new(2, "Photo not found"),
    )?;
    if !state::add_to_set(c, s.id, p.id)? {
        return Err(ApiError::new(3, "Photo already in set"));
    }
    Ok(Map::new())
}

fn id_list(raw: Option<&str>) -> Option<Vec<i64>> {
    raw.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<i64>().ok())
        .collect()
}

fn sets_remove(ctx: &Ctx, c: &Connection, many: bool) -> ApiResult {
    let s = own_set(ctx, c)?;
    let nf = ApiError::new(2, "Photo not found");
    let raw = if many {
        ctx.p.get("photo_ids")
    } else {
        ctx.p.get("photo_id")
    };
    let ids = id_list(raw).filter(|v| !v.is_empty()).ok_or(nf.clone())?;
    for id in &ids {
        own_photo_id(ctx, c, Some(&id.to_string()), &nf)?;
    }
    let rule = ctx.app.empty_set_rule;
    let members = state::set_photo_ids(c, s.id)?;
    if rule == EmptySetRule::Reject && members.iter().all(|m| ids.contains(m)) {
        return Err(ApiError::new(
            4,
            "Cannot remove the last photo of a set: delete the set instead",
        ));
    }
    for id in ids {
        match state::remove_from_set(c, s.id, id, rule)? {
            Removal::NotInSet if !many => return Err(ApiError::new(3, "Photo not in set")),
            Removal::SetDeleted => break,
            _ => {}
        }
    }
    Ok(Map::new())
}

fn sets_edit_meta(ctx: &Ctx, c: &Connection) -> ApiResult {
    let s = own_set(ctx, c)?;
    let Some(title) = ctx.p.nonempty("title") else {
        return Err(ApiError::new(2, "No title specified"));
    };
    state::edit_set_meta(c, s.id, title, ctx.p.get("description"))?;
    Ok(Map::new())
}

fn sets_edit_photos(ctx: &Ctx, c: &Connection) -> ApiResult {
    let s = own_set(ctx, c)?;
    let primary = own_photo_id(
        ctx,
        c,
        ctx.p.get("primary_photo_id"),
        &ApiError::new(3, "Primary photo not found"),
    )?;
    let ids = id_list(ctx.p.get("photo_ids")).ok_or(ApiError::new(2, "Photo not found"))?;
    if ids.is_empty() {
        return Err(ApiError::new(5, "Empty photos list"));
    }
    for id in &ids {
        own_photo_id(
            ctx,
            c,
            Some(&id.to_string()),
            &ApiError::new(2, "Photo not found"),
        )?;
    }
    if !ids.contains(&primary.id) {
        return Err(ApiError::new(4, "Primary photo not in list"));
    }
    state::replace_set_photos(c, s.id, primary.id, &ids)?;
    Ok(Map::new())
}

fn sets_set_primary(ctx: &Ctx, c: &Connection) -> ApiResult {
    let s = own_set(ctx, c)?;
    let p = own_photo_id(
        ctx,
        c,
        ctx.p.get("photo_id"),
        &ApiError::new(2, "Photo not found"),
    )?;
    let members = state::set_photo_ids(c, s.id)?;
    if !members.contains(&p.id) {
        return Err(ApiError::new(3, "Photo not in set"));
    }
    state::replace_set_photos(c, s.id, p.id, &members)?;
    Ok(Map::new())
}

fn sets_reorder(ctx: &Ctx, c: &Connection) -> ApiResult {
    let s = own_set(ctx, c)?;
    let ids = id_list(ctx.p.get("photo_ids")).ok_or(ApiError::new(2, "Photo not found"))?;
    let current = state::set_photo_ids(c, s.id)?;
    if let Some(bad) = ids.iter().find(|i| !current.contains(i)) {
        return Err(ApiError::new(2, format!("Photo not found: {bad}")));
    }
    let mut order: Vec<i64> = ids.clone();
    order.extend(current.iter().filter(|i| !ids.contains(i)));
    state::replace_set_photos(c, s.id, s.primary, &order)?;
    Ok(Map::new())
}

fn sets_order(ctx: &Ctx, c: &Connection) -> ApiResult {
    let me = ctx.me_id().unwrap_or("").to_owned();
    let ids = id_list(ctx.p.get("photoset_ids")).ok_or(ApiError::new(1, "Set not found"))?;
    let n = ids.len() as i64;
    for (i, id) in ids.iter().enumerate() {
        match state::set(c, *id)? {
            Some(s) if s.owner == me => {
                c.execute(
                    "UPDATE sets SET position=?2 WHERE id=?1",
                    rusqlite::params![id, n - i as i64 + 1_000_000],
                )
                .map_err(StateError::from)?;
            }
            _ => return Err(ApiError::new(1, "Set not found")),
        }
    }
    Ok(Map::new())
}

fn sets_delete(ctx: &Ctx, c: &Connection) -> ApiResult {
    let s = own_set(ctx, c)?;
    state::delete_set(c, s.id)?;
    Ok(Map::new())
}

// ---------------------------------------------------------------- methods: pools

fn pool_photos(ctx: &Ctx, c: &Connection) -> ApiResult {
    let nf = || ApiError::new(1, "Group not found");
    let gid = ctx.p.nonempty("group_id").ok_or_else(nf)?;
    let g = state::group(c, gid)?.ok_or_else(nf)?;
    let member = match ctx.p.nonempty("user_id") {
        None => None,
        Some(_) => Some(target_user(ctx, c, 1, "Group not found")?),
    };
    let (page, per_page) = paging(ctx, 100);
    let q = PhotoQuery {
        owner: member.map(|m| m.nsid),
        only_public: true,
        viewer: ctx.me_id().map(str::to_owned),
        in_pool: Some(g.nsid.clone()),
        videos_only: videos_only(ctx),
        page,
        per_page,
        ..Default::default()
    };
    let (total, rows) = state::query_photos(c, &q)?;
    let mut ex = extras(ctx, "extras");
    ex.insert("owner_name".into());
    let mut list = photo_list(ctx, c, &rows, &ex)?;
    for (v, r) in list.iter_mut().zip(&rows) {
        let added: i64 = c
            .query_row(
                "SELECT date_added FROM pool_photos WHERE group_id=?1 AND photo_id=?2",
                rusqlite::params![g.nsid, r.id],
                |row| row.get(0),
            )
            .map_err(StateError::from)?;
        if let Value::Object(m) = v {
            m.insert("dateadded".into(), json!(added.to_string()));
        }
    }
    Ok(obj(json!({
        "photos": {"page": page, "pages": pages(total, per_page), "perpage": per_page, "total": total.to_string(), "photo": list}
    })))
}

fn member_group(ctx: &Ctx, c: &Connection, code: i64) -> Result<GroupRow, ApiError> {
    let nf = || ApiError::new(code, "Group not found");
    let gid = ctx.p.nonempty("group_id").ok_or_else(nf)?;
    let g = state::group(c, gid)?.ok_or_else(nf)?;
    if !state::is_member(c, &g.nsid, ctx.me_id().unwrap_or(""))? {
        return Err(nf());
    }
    Ok(g)
}

fn pool_add(ctx: &Ctx, c: &Connection) -> ApiResult {
    let p = own_photo(ctx, c, "photo_id")?;
    let g = member_group(ctx, c, 2)?;
    if !state::add_to_pool(c, &g.nsid, p.id)? {
        return Err(ApiError::new(3, "Photo already in pool"));
    }
    Ok(Map::new())
}

fn pool_remove(ctx: &Ctx, c: &Connection) -> ApiResult {
    let g = member_group(ctx, c, 1)?;
    let p = own_photo_id(
        ctx,
        c,
        ctx.p.get("photo_id"),
        &ApiError::new(2, "Photo not in pool"),
    )?;
    if !state::remove_from_pool(c, &g.nsid, p.id)? {
        return Err(ApiError::new(2, "Photo not in pool"));
    }
    Ok(Map::new())
}
