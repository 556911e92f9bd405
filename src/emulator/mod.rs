//! A local, faithful emulator of the Flickr API subset flickrfs uses, so
//! tests, benchmarks and the demo never reach the internet.
//!
//! One HTTP server (axum on tokio, 127.0.0.1 by default) serves the REST
//! endpoint (JSON in Flickr's shapes), the upload and replace endpoints
//! (XML), the three OAuth 1.0a endpoints with real HMAC-SHA1 checks on every
//! request and a clickable authorisation page, photo files of every size,
//! and `/admin` endpoints for faults and the request log. State lives in
//! SQLite (WAL) plus a folder of originals under `state_dir`, so a restart
//! keeps keys, users, tokens and photos.
//!
//! Tests use [`Emulator::start`], which runs the server on its own thread
//! and runtime so that synchronous code can use it; the CLI uses
//! [`serve_forever`]. The emulator builds its replies from its own state and
//! shares no types with the client (`crate::flickr`): a wrong decoder and a
//! wrong emulator cannot agree by construction.
//!
//! Module map: `state` (SQLite), `oauth` (signatures), `authflow` (OAuth
//! endpoints), `rest` (methods), `upload`, `files` (photo bytes and sizes),
//! `faults` (fault injection, request log), `seed` (demo and synthetic
//! accounts), `admin`.

mod admin;
mod authflow;
mod faults;
mod files;
mod oauth;
mod rest;
mod seed;
mod state;
mod upload;
mod xml;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use axum::Router;
use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use sha1::{Digest, Sha1};

pub use faults::{FaultConfig, LoggedCall, SetChange};
pub use state::EmptySetRule;

use state::{PhotoRow, StateError, Store};

/// How to run an emulator.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// SQLite database and original files live here (created if missing).
    pub state_dir: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// `GET /services/oauth/authorize` approves at once (as `user=` or the
    /// default user) instead of showing the Approve/Deny page.
    pub auto_approve: bool,
    /// Create the demo account (user `demo`, sets, groups, ~10 photos) on first start.
    pub seed_demo: bool,
    /// Create this many synthetic photos for `seed_user` on first start.
    pub seed_photos: u64,
    /// ... spread over this many sets.
    pub seed_sets: u64,
    /// Owner of the synthetic photos (created if missing).
    pub seed_user: String,
    /// User who approves OAuth requests that name nobody (else `demo`, else the first user).
    pub default_user: Option<String>,
    /// Faults injected from the start (all off by default).
    pub faults: FaultConfig,
    /// Seed of the fault dice, so runs repeat.
    pub fault_seed: u64,
    /// What removing the last photo of a set does.
    pub empty_set_rule: EmptySetRule,
    /// Base URL put in photo URLs; default `http://{bind address}`.
    pub public_url: Option<String>,
    /// Users (by name) who are free accounts, not Pro: `people.getInfo`
    /// says `ispro=0`, `people.getLimits` gives 1024 px, uploads stop at
    /// 1,000 photos, sizes over 1024 px (the original too) are not served.
    pub free_accounts: Vec<String>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            state_dir: PathBuf::from("flickrfs-emulator"),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            auto_approve: false,
            seed_demo: false,
            seed_photos: 0,
            seed_sets: 0,
            seed_user: "demo".into(),
            default_user: None,
            faults: FaultConfig::default(),
            fault_seed: 42,
            empty_set_rule: EmptySetRule::default(),
            public_url: None,
            free_accounts: Vec::new(),
        }
    }
}

/// Errors starting, running or inspecting an emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("emulator: binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("emulator: starting the runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("emulator: serving: {0}")]
    Serve(#[source] std::io::Error),
    #[error("emulator: {what} not found: {id}")]
    NotFound { what: &'static str, id: String },
    #[error("emulator: {0}")]
    Invalid(String),
    #[error("emulator: writing {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// An API key and its secret (the OAuth consumer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    pub key: String,
    pub secret: String,
}

/// A Flickr account in the emulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmuUser {
    pub nsid: String,
    pub username: String,
    pub fullname: String,
}

/// An OAuth access token and its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessToken {
    pub token: String,
    pub secret: String,
}

/// Who may see a photo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EmuVisibility {
    pub is_public: bool,
    pub is_friend: bool,
    pub is_family: bool,
}

/// A photo as the emulator holds it (for test assertions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmuPhoto {
    pub id: String,
    pub owner: String,
    pub title: String,
    pub description: String,
    /// Plain tags, raw (as given).
    pub tags: Vec<String>,
    /// Machine tags, raw (`ns:pred=value`).
    pub machine_tags: Vec<String>,
    pub visibility: EmuVisibility,
    /// `YYYY-MM-DD HH:MM:SS`.
    pub date_taken: String,
    pub date_taken_granularity: i64,
    pub date_taken_unknown: bool,
    pub date_upload: i64,
    pub last_update: i64,
    /// SHA-1 (hex) of the original bytes.
    pub sha1: String,
    /// `jpg`, `png` or `gif`.
    pub original_format: String,
    pub width: u32,
    pub height: u32,
}

/// A photoset (for test assertions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmuSet {
    pub id: String,
    pub owner: String,
    pub title: String,
    pub description: String,
    pub primary: String,
    /// Photo ids in set order.
    pub photos: Vec<String>,
    pub date_create: i64,
    pub date_update: i64,
}

/// A group (for test assertions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmuGroup {
    pub nsid: String,
    pub name: String,
    pub description: String,
    pub members: i64,
    pub pool_count: i64,
}

/// A photo to put straight into the emulator (as if uploaded on flickr.com).
#[derive(Clone, Debug, Default)]
pub struct NewEmuPhoto {
    pub title: String,
    pub description: String,
    /// Raw tags; `ns:pred=value` ones become machine tags.
    pub tags: Vec<String>,
    /// The file; must be a JPEG, PNG or GIF.
    pub bytes: Vec<u8>,
    pub visibility: EmuVisibility,
    /// Upload time (Unix seconds); default now.
    pub date_upload: Option<i64>,
    /// Overrides the EXIF date (`YYYY-MM-DD HH:MM:SS`).
    pub date_taken: Option<String>,
}

/// A set to put straight into the emulator; the first photo is the primary.
#[derive(Clone, Debug, Default)]
pub struct NewEmuSet {
    pub title: String,
    pub description: String,
    pub photo_ids: Vec<String>,
}

/// The shared state of a running server.
pub(crate) struct App {
    store: Store,
    faults: faults::Faults,
    nonces: oauth::NonceCache,
    base_url: String,
    /// `host:port` used when a request has no Host header.
    host: String,
    auto_approve: bool,
    empty_set_rule: EmptySetRule,
    default_user: Option<String>,
}

/// What a start created or found: shown by the CLI.
#[derive(Clone, Debug)]
pub struct StartInfo {
    pub base_url: String,
    pub api_key: ApiKey,
    pub demo_user: Option<EmuUser>,
    pub demo_token: Option<AccessToken>,
}

impl StartInfo {
    /// A human summary: where the emulator is and how to use it.
    pub fn banner(&self) -> String {
        let mut s = format!(
            "flickrfs emulator listening on {base}\n  REST      {base}/services/rest/\n  upload    {base}/services/upload/\n  OAuth     {base}/services/oauth/{{request_token,authorize,access_token}}\n  admin     {base}/admin/faults, {base}/admin/log\n  API key    {}\n  API secret {}\n",
            self.api_key.key,
            self.api_key.secret,
            base = self.base_url
        );
        if let Some(u) = &self.demo_user {
            s.push_str(&format!(
                "  demo user  {} ({})  page {}/people/{}/\n",
                u.username, u.nsid, self.base_url, u.username
            ));
        }
        if let Some(t) = &self.demo_token {
            s.push_str(&format!(
                "  demo token {} secret {} (write)\n",
                t.token, t.secret
            ));
        }
        s
    }
}

fn to_emu_user(u: state::UserRow) -> EmuUser {
    EmuUser {
        nsid: u.nsid,
        username: u.username,
        fullname: u.fullname,
    }
}

fn parse_photo_id(id: &str) -> Result<i64, EmulatorError> {
    id.trim()
        .parse::<i64>()
        .map_err(|_| EmulatorError::NotFound {
            what: "photo",
            id: id.to_owned(),
        })
}

fn sha1_hex(bytes: &[u8]) -> String {
    Sha1::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Stores a photo given directly (seeding, tests). Returns its id.
fn insert_new_photo(
    store: &Store,
    c: &Connection,
    owner: &str,
    p: &NewEmuPhoto,
) -> Result<i64, EmulatorError> {
    if state::user(c, owner)?.is_none() {
        return Err(EmulatorError::NotFound {
            what: "user",
            id: owner.to_owned(),
        });
    }
    let format = files::sniff(&p.bytes)
        .ok_or_else(|| EmulatorError::Invalid("photo bytes are not a JPEG, PNG or GIF".into()))?;
    let (width, height) = files::dims(&p.bytes)
        .ok_or_else(|| EmulatorError::Invalid("photo bytes have no readable size".into()))?;
    let now = state::now();
    let upload = p.date_upload.unwrap_or(now);
    let (taken, unknown) = match p
        .date_taken
        .clone()
        .or_else(|| files::exif_date_taken(&p.bytes))
    {
        Some(t) => (t, false),
        None => (state::format_datetime(upload), true),
    };
    let id = state::reserve_ids(c, "photo", state::PHOTO_ID_BASE, 1)?;
    let row = PhotoRow {
        id,
        owner: owner.to_owned(),
        secret: state::random_hex(10),
        originalsecret: state::random_hex(10),
        server: state::SERVER.into(),
        farm: state::FARM,
        title: p.title.clone(),
        description: p.description.clone(),
        is_public: p.visibility.is_public,
        is_friend: p.visibility.is_friend,
        is_family: p.visibility.is_family,
        safety_level: 1,
        content_type: 1,
        hidden: 1,
        date_upload: upload,
        date_taken: taken,
        taken_granularity: 0,
        taken_unknown: unknown,
        lastupdate: upload.max(now),
        original_format: format.into(),
        width,
        height,
        sha1: Some(sha1_hex(&p.bytes)),
        size: p.bytes.len() as i64,
        synthetic: false,
    };
    let path = store.original_path(id, format);
    std::fs::write(&path, &p.bytes).map_err(|source| EmulatorError::Io { path, source })?;
    state::insert_photo(c, &row)?;
    state::add_tags(c, id, owner, &p.tags)?;
    Ok(id)
}

fn insert_new_set(c: &Connection, owner: &str, s: &NewEmuSet) -> Result<i64, EmulatorError> {
    let mut rows = Vec::new();
    for id in &s.photo_ids {
        let pid = parse_photo_id(id)?;
        match state::photo(c, pid)? {
            Some(p) if p.owner == owner => rows.push(p),
            _ => {
                return Err(EmulatorError::NotFound {
                    what: "photo of this user",
                    id: id.clone(),
                })
            }
        }
    }
    let Some(primary) = rows.first() else {
        return Err(EmulatorError::Invalid(
            "a set needs at least one photo".into(),
        ));
    };
    let set_id = state::create_set(c, owner, &s.title, &s.description, primary, state::now())?;
    for p in &rows[1..] {
        state::add_to_set(c, set_id, p.id)?;
    }
    Ok(set_id)
}

/// Creates the default key and the seeded accounts on a fresh state dir.
fn prepare(
    store: &Store,
    cfg: &EmulatorConfig,
    base_url: &str,
) -> Result<StartInfo, EmulatorError> {
    store.tx(|c| {
        let api_key = match (
            state::meta(c, "default_api_key")?,
            state::meta(c, "default_api_secret")?,
        ) {
            (Some(key), Some(secret)) => ApiKey { key, secret },
            _ => {
                let (key, secret) = state::create_api_key(c)?;
                state::meta_set(c, "default_api_key", &key)?;
                state::meta_set(c, "default_api_secret", &secret)?;
                ApiKey { key, secret }
            }
        };
        if cfg.seed_demo && state::meta(c, "seeded_demo")?.is_none() {
            seed_demo(store, c, &api_key)?;
            state::meta_set(c, "seeded_demo", "1")?;
        }
        if cfg.seed_photos > 0 && state::meta(c, "seeded_synthetic")?.is_none() {
            let owner = match state::user_by_name(c, &cfg.seed_user)? {
                Some(u) => u,
                None => state::create_user(c, &cfg.seed_user, &cfg.seed_user)?,
            };
            seed::seed_synthetic(c, &owner.nsid, cfg.seed_photos, cfg.seed_sets)?;
            state::meta_set(c, "seeded_synthetic", &cfg.seed_photos.to_string())?;
        }
        for name in &cfg.free_accounts {
            let u = match state::user_by_name(c, name)? {
                Some(u) => u,
                None => state::create_user(c, name, name)?,
            };
            state::set_free(c, &u.nsid, true)?;
        }
        let demo_user = state::user_by_name(c, "demo")?.map(to_emu_user);
        let demo_token = match (
            state::meta(c, "demo_token")?,
            state::meta(c, "demo_token_secret")?,
        ) {
            (Some(token), Some(secret)) => Some(AccessToken { token, secret }),
            _ => None,
        };
        Ok(StartInfo {
            base_url: base_url.to_owned(),
            api_key,
            demo_user,
            demo_token,
        })
    })
}

/// The demo account: user `demo` (and a friend `pal`), photos with EXIF
/// dates, sets, groups with pools, and a write token for the default key.
fn seed_demo(store: &Store, c: &Connection, key: &ApiKey) -> Result<(), EmulatorError> {
    let demo = match state::user_by_name(c, "demo")? {
        Some(u) => u,
        None => state::create_user(c, "demo", "Demo User")?,
    };
    let pal = match state::user_by_name(c, "pal")? {
        Some(u) => u,
        None => state::create_user(c, "pal", "A Pal")?,
    };
    let start = state::now() - 30 * 86_400;
    let mut ids = Vec::new();
    for (i, p) in seed::DEMO_PHOTOS.iter().enumerate() {
        let new = NewEmuPhoto {
            title: p.title.into(),
            description: p.description.into(),
            tags: state::split_tag_list(p.tags),
            bytes: seed::demo_bytes(i),
            visibility: EmuVisibility {
                is_public: p.public,
                is_friend: p.friend,
                is_family: p.family,
            },
            date_upload: Some(start + i as i64 * 3600),
            date_taken: None,
        };
        ids.push(insert_new_photo(store, c, &demo.nsid, &new)?);
    }
    let id = |i: usize| ids.get(i).map(|v| v.to_string()).unwrap_or_default();
    for (title, desc, members) in [
        ("Holidays 2023", "Summer by the sea.", vec![0, 1, 2, 3]),
        ("Garden", "", vec![4, 5, 6]),
        ("Winter", "", vec![8, 7]),
        ("Best of", "Favourites.", vec![0, 8, 5]),
    ] {
        insert_new_set(
            c,
            &demo.nsid,
            &NewEmuSet {
                title: title.into(),
                description: desc.into(),
                photo_ids: members.into_iter().map(id).collect(),
            },
        )?;
    }
    let mut pal_ids = Vec::new();
    for (i, title) in ["Pal's sunrise", "Pal's private note"].iter().enumerate() {
        let new = NewEmuPhoto {
            title: (*title).into(),
            bytes: seed::with_segments(
                &seed::draw_jpeg(320, 240, 5 + i as u32),
                &[seed::exif_app1("2023-05-01 06:00:00")],
            ),
            visibility: EmuVisibility {
                is_public: i == 0,
                ..Default::default()
            },
            date_upload: Some(start + 86_400 * (i as i64 + 1)),
            ..Default::default()
        };
        pal_ids.push(insert_new_photo(store, c, &pal.nsid, &new)?);
    }
    let testers = state::create_group(c, "Flickrfs Testers", "Photos uploaded while testing.")?;
    let garden = state::create_group(c, "Gardening Club", "Plants, flowers, vegetables.")?;
    let owls = state::create_group(c, "Night Owls", "After dark.")?;
    for g in [&testers, &garden] {
        state::join_group(c, &g.nsid, &demo.nsid)?;
    }
    state::join_group(c, &testers.nsid, &pal.nsid)?;
    state::join_group(c, &owls.nsid, &pal.nsid)?;
    for (g, photo) in [
        (&testers, ids[0]),
        (&testers, ids[4]),
        (&testers, pal_ids[0]),
        (&garden, ids[5]),
    ] {
        state::add_to_pool(c, &g.nsid, photo)?;
    }
    let tok = state::issue_token(c, &key.key, &demo.nsid, state::Perms::Write)?;
    state::meta_set(c, "demo_token", &tok.token)?;
    state::meta_set(c, "demo_token_secret", &tok.secret)?;
    Ok(())
}

fn router(app: Arc<App>) -> Router {
    let admin = Router::new()
        .route(
            "/admin/faults",
            get(admin::get_faults).post(admin::set_faults),
        )
        .route("/admin/log", get(admin::get_log))
        .route("/admin/log/reset", post(admin::reset_log))
        .route("/admin/api-keys", post(admin::create_api_key))
        .route("/admin/users", post(admin::create_user))
        .route("/admin/tokens", post(admin::create_token))
        .layer(axum::middleware::from_fn(admin::loopback_only));
    Router::new()
        .route("/services/rest/", any(rest::handle))
        .route("/services/rest", any(rest::handle))
        .route("/services/upload/", any(upload::upload))
        .route("/services/upload", any(upload::upload))
        .route("/services/replace/", any(upload::replace))
        .route("/services/replace", any(upload::replace))
        .route(
            "/services/oauth/request_token",
            get(authflow::request_token).post(authflow::request_token),
        )
        .route(
            "/services/oauth/authorize",
            get(authflow::authorize).post(authflow::authorize),
        )
        .route(
            "/services/oauth/access_token",
            get(authflow::access_token).post(authflow::access_token),
        )
        .route("/photos/{server}/{file}", get(files::serve))
        // A photo's page, `/photos/{nsid or username}/{id}/` as on Flickr
        // (the same segments as the photo files, told apart by the slash).
        .route("/photos/{server}/{file}/", get(photo_page))
        .route("/people/{username}/", get(people_page))
        .route("/", get(index_page))
        .merge(admin)
        .layer(DefaultBodyLimit::max(256 * 1024 * 1024))
        .with_state(app)
}

async fn index_page() -> axum::response::Html<&'static str> {
    axum::response::Html(
        "<!doctype html><html><body><h1>flickrfs emulator</h1><ul>\
         <li>REST: <code>/services/rest/</code></li><li>upload: <code>/services/upload/</code></li>\
         <li>OAuth: <code>/services/oauth/request_token</code>, <code>authorize</code>, <code>access_token</code></li>\
         <li>admin: <a href=\"/admin/log\">/admin/log</a>, <a href=\"/admin/faults\">/admin/faults</a></li></ul></body></html>",
    )
}

/// A small human page of an account as its owner sees it on flickr.com:
/// its photostream, each album and each group pool, as thumbnails with
/// titles and privacy, so a person can see what a sync did. It reloads
/// itself every few seconds. (`?public=1` shows what strangers see.)
/// A photo's page: `/photos/{user}/{id}/`, the user named by nsid or
/// username as Flickr's own links do; 404 when the photo is not that
/// user's. The owner's view (as the people page).
async fn photo_page(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    axum::extract::Path((user, id)): axum::extract::Path<(String, String)>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let not_found = || (axum::http::StatusCode::NOT_FOUND, "no such photo").into_response();
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let data = app.store.read(|c| {
        let owner = match state::user(c, &user)? {
            Some(u) => Some(u),
            None => state::user_by_name(c, &user)?,
        };
        let Some(owner) = owner else {
            return Ok(None);
        };
        Ok(state::photo(c, id)?
            .filter(|p| p.owner == owner.nsid)
            .map(|p| (owner, p)))
    });
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    match data {
        Ok(Some((u, p))) => axum::response::Html(format!(
            "<!doctype html><html><head><meta charset=utf-8>\
             <title>{title} | {name} on the flickrfs emulator</title></head><body>\
             <h1>{title}</h1><p>by <a href=\"/people/{username}/\">{name}</a> · photo {id} · taken {taken}</p>\
             <p><a href=\"{o}\"><img src=\"{z}\" alt=\"\"></a></p><p>{description}</p></body></html>",
            title = if p.title.is_empty() { "untitled".to_owned() } else { esc(&p.title) },
            name = esc(&u.fullname),
            username = esc(&u.username),
            id = p.id,
            taken = esc(&p.date_taken),
            o = files::photo_url(&app.base_url, &p, "o"),
            z = files::photo_url(&app.base_url, &p, "z"),
            description = esc(&p.description),
        ))
        .into_response(),
        Ok(None) => not_found(),
        Err(e) => (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("emulator state: {e}"),
        )
            .into_response(),
    }
}

async fn people_page(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    axum::extract::Path(username): axum::extract::Path<String>,
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let only_public = params.get("public").is_some_and(|v| v == "1");
    let data = app.store.read(|c| {
        let Some(u) = state::user_by_name(c, &username)? else {
            return Ok(None);
        };
        let all = |extra: &dyn Fn(&mut state::PhotoQuery)| {
            let mut q = state::PhotoQuery {
                owner: Some(u.nsid.clone()),
                only_public,
                page: 1,
                per_page: 500,
                ..Default::default()
            };
            extra(&mut q);
            state::query_photos(c, &q)
        };
        let stream = all(&|_| {})?;
        let mut albums = Vec::new();
        for set in state::sets_of(c, &u.nsid)? {
            let id = set.id;
            albums.push((set.title.clone(), all(&|q| q.in_set = Some(id))?));
        }
        let mut pools = Vec::new();
        for g in state::groups_of(c, &u.nsid)? {
            let nsid = g.nsid.clone();
            pools.push((g.name.clone(), all(&|q| q.in_pool = Some(nsid.clone()))?));
        }
        Ok(Some((u, stream, albums, pools)))
    });
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let grid = |html: &mut String, (total, rows): &(i64, Vec<state::PhotoRow>)| {
        html.push_str("<div class=grid>");
        for p in rows {
            let privacy = match (p.is_public, p.is_friend, p.is_family) {
                (true, _, _) => "public",
                (false, true, true) => "friends+family",
                (false, true, false) => "friends",
                (false, false, true) => "family",
                _ => "private",
            };
            html.push_str(&format!(
                "<figure><a href=\"{o}\"><img src=\"{t}\" width=150 height=150 alt=\"\"></a>\
                 <figcaption>{title}<br><small>{id} · {privacy} · taken {taken}</small></figcaption></figure>",
                o = files::photo_url(&app.base_url, p, "o"),
                t = files::photo_url(&app.base_url, p, "q"),
                title = if p.title.is_empty() { "<i>untitled</i>".to_owned() } else { esc(&p.title) },
                id = p.id,
                taken = esc(&p.date_taken),
            ));
        }
        if *total as usize > rows.len() {
            html.push_str(&format!(
                "<p>… and {} more</p>",
                *total as usize - rows.len()
            ));
        }
        html.push_str("</div>");
    };
    match data {
        Ok(Some((u, stream, albums, pools))) => {
            let mut html = format!(
                "<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content=5>\
                 <title>{name} on the flickrfs emulator</title><style>\
                 body{{font-family:sans-serif;margin:2em}} .grid{{display:flex;flex-wrap:wrap;gap:8px}}\
                 figure{{margin:0;width:150px}} figcaption{{font-size:13px}} small{{color:#666}}</style></head><body>\
                 <h1>{name} <small>({nsid})</small></h1><p>{view} · reloads every 5 s</p><h2>Photostream ({n})</h2>",
                name = esc(&u.fullname),
                nsid = esc(&u.nsid),
                view = if only_public { "what everyone sees (<a href=\"?\">owner's view</a>)" } else { "the owner's view (<a href=\"?public=1\">what everyone sees</a>)" },
                n = stream.0,
            );
            grid(&mut html, &stream);
            html.push_str(&format!("<h2>Albums ({})</h2>", albums.len()));
            for (title, photos) in &albums {
                html.push_str(&format!("<h3>{} ({} photos)</h3>", esc(title), photos.0));
                grid(&mut html, photos);
            }
            html.push_str(&format!("<h2>Group pools ({})</h2>", pools.len()));
            for (name, photos) in &pools {
                html.push_str(&format!(
                    "<h3>{} ({} of {}'s photos)</h3>",
                    esc(name),
                    photos.0,
                    esc(&u.username)
                ));
                grid(&mut html, photos);
            }
            html.push_str("</body></html>");
            axum::response::Html(html).into_response()
        }
        Ok(None) => (axum::http::StatusCode::NOT_FOUND, "no such user").into_response(),
        Err(e) => (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("emulator state: {e}"),
        )
            .into_response(),
    }
}

fn build_app(cfg: &EmulatorConfig, store: Store, addr: SocketAddr) -> App {
    let host_ip = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        addr.ip().to_string()
    };
    let host = if addr.is_ipv6() {
        format!("[{host_ip}]:{}", addr.port())
    } else {
        format!("{host_ip}:{}", addr.port())
    };
    App {
        store,
        faults: faults::Faults::new(cfg.faults.clone(), cfg.fault_seed),
        nonces: oauth::NonceCache::default(),
        base_url: cfg
            .public_url
            .clone()
            .map(|u| u.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{host}")),
        host,
        auto_approve: cfg.auto_approve,
        empty_set_rule: cfg.empty_set_rule,
        default_user: cfg.default_user.clone(),
    }
}

/// The `flickrfs emulator` command line, ready to `#[command(flatten)]`.
#[derive(Clone, Debug, clap::Args)]
pub struct EmulatorArgs {
    /// Folder for the emulator's SQLite database and photo files (created if missing).
    #[arg(long)]
    pub state_dir: PathBuf,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:8765")]
    pub bind: SocketAddr,
    /// Approve OAuth requests without showing the Approve/Deny page.
    #[arg(long)]
    pub auto_approve: bool,
    /// Create the demo account (user `demo`) on first start.
    #[arg(long)]
    pub seed_demo: bool,
    /// Create this many synthetic photos on first start.
    #[arg(long, default_value_t = 0)]
    pub seed_photos: u64,
    /// ... in this many sets.
    #[arg(long, default_value_t = 0)]
    pub seed_sets: u64,
    /// Owner of the synthetic photos.
    #[arg(long, default_value = "demo")]
    pub seed_user: String,
    /// Probability that a request fails with HTTP 500/502/503 or Flickr error 105.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Delay added to every request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Probability that a reply is cut off mid-body.
    #[arg(long, default_value_t = 0.0)]
    pub reset_rate: f64,
    /// Requests allowed per rolling hour before HTTP 429 (0: unlimited).
    #[arg(long, default_value_t = 0)]
    pub rate_limit: u64,
    /// Base URL to put in photo URLs (when behind a proxy).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Make this user a free account, not Pro (repeatable): at most 1,000
    /// photos, nothing over 1024 px served, originals included.
    #[arg(long = "free-account", value_name = "USER")]
    pub free_accounts: Vec<String>,
}

impl EmulatorArgs {
    /// The configuration these arguments describe.
    pub fn into_config(self) -> EmulatorConfig {
        EmulatorConfig {
            state_dir: self.state_dir,
            bind: self.bind,
            auto_approve: self.auto_approve,
            seed_demo: self.seed_demo,
            seed_photos: self.seed_photos,
            seed_sets: self.seed_sets,
            seed_user: self.seed_user,
            faults: FaultConfig {
                error_rate: self.error_rate,
                latency_ms: self.latency_ms,
                reset_rate: self.reset_rate,
                rate_limit_per_hour: self.rate_limit,
                ..FaultConfig::default()
            },
            public_url: self.public_url,
            free_accounts: self.free_accounts,
            ..Default::default()
        }
    }
}

/// A running emulator on a background thread. Dropping it stops the server.
pub struct Emulator {
    app: Arc<App>,
    addr: SocketAddr,
    info: StartInfo,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Emulator {
    /// Opens the state, seeds it if asked, binds and starts serving. The
    /// server is reachable when this returns.
    pub fn start(cfg: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let store = Store::open(&cfg.state_dir)?;
        let (listener, addr) = bind(&cfg)?;
        let app = Arc::new(build_app(&cfg, store, addr));
        let info = prepare(&app.store, &cfg, &app.base_url)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("flickrfs-emulator")
            .enable_all()
            .build()
            .map_err(EmulatorError::Runtime)?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let router = router(app.clone());
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(|source| EmulatorError::Bind {
                addr: cfg.bind,
                source,
            })?
        };
        let thread = std::thread::Builder::new()
            .name("flickrfs-emulator".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let serve = axum::serve(
                        listener,
                        router.into_make_service_with_connect_info::<SocketAddr>(),
                    );
                    tokio::select! {
                        r = serve => if let Err(e) = r { tracing::error!("emulator server stopped: {e}") },
                        _ = rx => {}
                    }
                });
                runtime.shutdown_timeout(std::time::Duration::from_secs(2));
            })
            .map_err(EmulatorError::Runtime)?;
        Ok(Emulator {
            app,
            addr,
            info,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        self.app.base_url.clone()
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the state lives.
    pub fn state_dir(&self) -> &Path {
        self.app.store.dir()
    }

    /// The key created on first start (persisted), its user and token if seeded.
    pub fn start_info(&self) -> &StartInfo {
        &self.info
    }

    /// The API key created on first start and kept across restarts.
    pub fn default_api_key(&self) -> ApiKey {
        self.info.api_key.clone()
    }

    /// The demo user, when the state was seeded with `seed_demo`.
    pub fn demo_user(&self) -> Option<EmuUser> {
        self.info.demo_user.clone()
    }

    /// A write token of the demo user for the default key, when seeded.
    pub fn demo_token(&self) -> Option<AccessToken> {
        self.info.demo_token.clone()
    }

    /// A new API key and secret.
    pub fn create_api_key(&self) -> Result<ApiKey, EmulatorError> {
        let (key, secret) = self.app.store.read(state::create_api_key)?;
        Ok(ApiKey { key, secret })
    }

    /// A new user (full name = user name).
    pub fn create_user(&self, username: &str) -> Result<EmuUser, EmulatorError> {
        Ok(to_emu_user(
            self.app
                .store
                .read(|c| state::create_user(c, username, username))?,
        ))
    }

    /// Revokes every access token `nsid` granted: calls signed with them
    /// then fail as on Flickr (98, invalid token). Returns how many.
    pub fn revoke_tokens(&self, nsid: &str) -> Result<usize, EmulatorError> {
        Ok(self.app.store.tx(|c| state::revoke_tokens(c, nsid))?)
    }

    /// Makes `nsid` a free account (`true`) or a Pro one (`false`, the
    /// default); see [`EmulatorConfig::free_accounts`].
    pub fn set_free_account(&self, nsid: &str, free: bool) -> Result<(), EmulatorError> {
        Ok(self.app.store.tx(|c| state::set_free(c, nsid, free))?)
    }

    /// Looks a user up by user name.
    pub fn user_by_name(&self, username: &str) -> Result<Option<EmuUser>, EmulatorError> {
        Ok(self
            .app
            .store
            .read(|c| state::user_by_name(c, username))?
            .map(to_emu_user))
    }

    /// An access token for `nsid` under `api_key` with `perms` (`read`,
    /// `write` or `delete`), skipping the browser dance.
    pub fn issue_token(
        &self,
        api_key: &str,
        nsid: &str,
        perms: &str,
    ) -> Result<AccessToken, EmulatorError> {
        let perms = state::Perms::parse(perms)
            .ok_or_else(|| EmulatorError::Invalid(format!("unknown perms {perms:?}")))?;
        let t = self
            .app
            .store
            .read(|c| state::issue_token(c, api_key, nsid, perms))?;
        Ok(AccessToken {
            token: t.token,
            secret: t.secret,
        })
    }

    /// Replaces the fault configuration at run time.
    pub fn set_faults(&self, faults: FaultConfig) {
        self.app.faults.set_config(faults);
    }

    /// The current fault configuration.
    pub fn faults(&self) -> FaultConfig {
        self.app.faults.config()
    }

    /// Every request so far, in order.
    pub fn request_log(&self) -> Vec<LoggedCall> {
        self.app.faults.log()
    }

    /// Requests so far per method name (failed ones included).
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.app.faults.counts()
    }

    /// Empties the request log and counts.
    pub fn reset_request_log(&self) {
        self.app.faults.reset_log();
    }

    /// A user's photos, oldest id first. For test assertions.
    ///
    /// # Panics
    /// If the emulator's database cannot be read; use [`Emulator::try_photos`] to handle that.
    pub fn photos(&self, nsid: &str) -> Vec<EmuPhoto> {
        match self.try_photos(nsid) {
            Ok(v) => v,
            Err(e) => panic!("reading the emulator's photos: {e}"),
        }
    }

    /// A user's photos, oldest id first.
    pub fn try_photos(&self, nsid: &str) -> Result<Vec<EmuPhoto>, EmulatorError> {
        let (rows, tags) = self.app.store.read(|c| {
            let rows = state::photos_of(c, nsid)?;
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            Ok((rows, state::tags_for(c, &ids)?))
        })?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let t = tags.get(&r.id).cloned().unwrap_or_default();
                let sha1 = match &r.sha1 {
                    Some(s) => s.clone(),
                    None => sha1_hex(&seed::synthetic_original(r.id)),
                };
                EmuPhoto {
                    id: r.id.to_string(),
                    owner: r.owner,
                    title: r.title,
                    description: r.description,
                    tags: t
                        .iter()
                        .filter(|t| !t.machine)
                        .map(|t| t.raw.clone())
                        .collect(),
                    machine_tags: t
                        .iter()
                        .filter(|t| t.machine)
                        .map(|t| t.raw.clone())
                        .collect(),
                    visibility: EmuVisibility {
                        is_public: r.is_public,
                        is_friend: r.is_friend,
                        is_family: r.is_family,
                    },
                    date_taken: r.date_taken,
                    date_taken_granularity: r.taken_granularity,
                    date_taken_unknown: r.taken_unknown,
                    date_upload: r.date_upload,
                    last_update: r.lastupdate,
                    sha1,
                    original_format: r.original_format,
                    width: r.width,
                    height: r.height,
                }
            })
            .collect())
    }

    /// The original bytes of a photo.
    pub fn photo_bytes(&self, photo_id: &str) -> Result<Vec<u8>, EmulatorError> {
        let id = parse_photo_id(photo_id)?;
        let row = self
            .app
            .store
            .read(|c| state::photo(c, id))?
            .ok_or_else(|| EmulatorError::NotFound {
                what: "photo",
                id: photo_id.to_owned(),
            })?;
        files::original_bytes(&self.app, &row).map_err(|e| EmulatorError::Invalid(e.to_string()))
    }

    /// A user's sets, newest first (Flickr's order). For test assertions.
    ///
    /// # Panics
    /// If the emulator's database cannot be read; see [`Emulator::try_photosets`].
    pub fn photosets(&self, nsid: &str) -> Vec<EmuSet> {
        match self.try_photosets(nsid) {
            Ok(v) => v,
            Err(e) => panic!("reading the emulator's sets: {e}"),
        }
    }

    /// A user's sets, newest first.
    pub fn try_photosets(&self, nsid: &str) -> Result<Vec<EmuSet>, EmulatorError> {
        Ok(self.app.store.read(|c| {
            let mut out = Vec::new();
            for s in state::sets_of(c, nsid)? {
                out.push(EmuSet {
                    id: s.id.to_string(),
                    owner: s.owner,
                    title: s.title,
                    description: s.description,
                    primary: s.primary.to_string(),
                    photos: state::set_photo_ids(c, s.id)?
                        .into_iter()
                        .map(|i| i.to_string())
                        .collect(),
                    date_create: s.date_create,
                    date_update: s.date_update,
                });
            }
            Ok(out)
        })?)
    }

    /// The groups a user belongs to.
    ///
    /// # Panics
    /// If the emulator's database cannot be read.
    pub fn groups_of(&self, nsid: &str) -> Vec<EmuGroup> {
        match self.app.store.read(|c| state::groups_of(c, nsid)) {
            Ok(v) => v
                .into_iter()
                .map(|g| EmuGroup {
                    nsid: g.nsid,
                    name: g.name,
                    description: g.description,
                    members: g.members,
                    pool_count: g.pool_count,
                })
                .collect(),
            Err(e) => panic!("reading the emulator's groups: {e}"),
        }
    }

    /// The ids of `nsid`'s photos in a group's pool, most recently added first.
    ///
    /// # Panics
    /// If the emulator's database cannot be read.
    pub fn pool_photos(&self, group: &str, nsid: &str) -> Vec<String> {
        let q = state::PhotoQuery {
            owner: Some(nsid.to_owned()),
            in_pool: Some(group.to_owned()),
            page: 1,
            per_page: i64::MAX / 2,
            ..Default::default()
        };
        match self.app.store.read(|c| state::query_photos(c, &q)) {
            Ok((_, rows)) => rows.into_iter().map(|r| r.id.to_string()).collect(),
            Err(e) => panic!("reading the emulator's pools: {e}"),
        }
    }

    /// Adds a photo as if uploaded on flickr.com; returns its id.
    pub fn add_photo(&self, nsid: &str, photo: NewEmuPhoto) -> Result<String, EmulatorError> {
        let store = &self.app.store;
        let id = store.tx(|c| insert_new_photo(store, c, nsid, &photo))?;
        Ok(id.to_string())
    }

    /// Adds a set (first photo is the primary); returns its id.
    pub fn add_photoset(&self, nsid: &str, set: NewEmuSet) -> Result<String, EmulatorError> {
        let id = self.app.store.tx(|c| insert_new_set(c, nsid, &set))?;
        Ok(id.to_string())
    }

    fn edit_photo(
        &self,
        photo_id: &str,
        column: &str,
        value: SqlValue,
    ) -> Result<(), EmulatorError> {
        let id = parse_photo_id(photo_id)?;
        self.app.store.tx(|c| {
            if state::photo(c, id)?.is_none() {
                return Err(EmulatorError::NotFound {
                    what: "photo",
                    id: photo_id.to_owned(),
                });
            }
            Ok(state::update_photo_field(c, id, column, value)?)
        })
    }

    /// Changes a title as if on flickr.com (bumps `lastupdate`).
    pub fn set_title(&self, photo_id: &str, title: &str) -> Result<(), EmulatorError> {
        self.edit_photo(photo_id, "title", SqlValue::Text(title.to_owned()))
    }

    /// Changes a description as if on flickr.com (bumps `lastupdate`).
    pub fn set_description(&self, photo_id: &str, description: &str) -> Result<(), EmulatorError> {
        self.edit_photo(
            photo_id,
            "description",
            SqlValue::Text(description.to_owned()),
        )
    }

    /// Changes the date taken as if on flickr.com (`YYYY-MM-DD HH:MM:SS`,
    /// granularity 0, 4, 6 or 8; bumps `lastupdate`).
    pub fn set_date_taken(
        &self,
        photo_id: &str,
        taken: &str,
        granularity: i64,
    ) -> Result<(), EmulatorError> {
        self.edit_photo(photo_id, "date_taken", SqlValue::Text(taken.to_owned()))?;
        self.edit_photo(photo_id, "taken_unknown", SqlValue::Integer(0))?;
        self.edit_photo(
            photo_id,
            "taken_granularity",
            SqlValue::Integer(granularity),
        )
    }

    /// Changes who may see a photo (bumps `lastupdate`).
    pub fn set_visibility(&self, photo_id: &str, v: EmuVisibility) -> Result<(), EmulatorError> {
        self.edit_photo(photo_id, "is_public", SqlValue::Integer(v.is_public as i64))?;
        self.edit_photo(photo_id, "is_friend", SqlValue::Integer(v.is_friend as i64))?;
        self.edit_photo(photo_id, "is_family", SqlValue::Integer(v.is_family as i64))
    }

    /// Replaces a photo's tags (bumps `lastupdate`).
    pub fn set_tags(&self, photo_id: &str, tags: &[&str]) -> Result<(), EmulatorError> {
        let id = parse_photo_id(photo_id)?;
        let raws: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        self.app.store.tx(|c| {
            let p = state::photo(c, id)?.ok_or_else(|| EmulatorError::NotFound {
                what: "photo",
                id: photo_id.to_owned(),
            })?;
            state::clear_tags(c, id)?;
            state::add_tags(c, id, &p.owner, &raws)?;
            Ok(state::touch_photo(c, id)?)
        })
    }

    /// Deletes a photo as if on flickr.com (its sets lose it).
    pub fn delete_photo(&self, photo_id: &str) -> Result<(), EmulatorError> {
        let id = parse_photo_id(photo_id)?;
        let row = self.app.store.tx(|c| {
            let p = state::photo(c, id)?;
            state::delete_photo(c, id)?;
            Ok::<_, EmulatorError>(p)
        })?;
        if let Some(p) = row.filter(|p| !p.synthetic) {
            let _ = std::fs::remove_file(self.app.store.original_path(id, &p.original_format));
        }
        Ok(())
    }

    /// Creates a group.
    pub fn create_group(&self, name: &str) -> Result<EmuGroup, EmulatorError> {
        let g = self.app.store.read(|c| state::create_group(c, name, ""))?;
        Ok(EmuGroup {
            nsid: g.nsid,
            name: g.name,
            description: g.description,
            members: 0,
            pool_count: 0,
        })
    }

    /// Makes a user a member of a group.
    pub fn join_group(&self, group: &str, nsid: &str) -> Result<(), EmulatorError> {
        Ok(self.app.store.read(|c| state::join_group(c, group, nsid))?)
    }

    /// Puts a photo in a group's pool.
    pub fn add_to_pool(&self, group: &str, photo_id: &str) -> Result<(), EmulatorError> {
        let id = parse_photo_id(photo_id)?;
        self.app.store.read(|c| state::add_to_pool(c, group, id))?;
        Ok(())
    }

    /// Takes a photo out of a group's pool, as flickr.com or another client
    /// would.
    pub fn remove_from_pool(&self, group: &str, photo_id: &str) -> Result<(), EmulatorError> {
        let id = parse_photo_id(photo_id)?;
        self.app
            .store
            .read(|c| state::remove_from_pool(c, group, id))?;
        Ok(())
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

/// Binds `cfg.bind` (non-blocking, for tokio) and says where it listens.
fn bind(cfg: &EmulatorConfig) -> Result<(std::net::TcpListener, SocketAddr), EmulatorError> {
    let bind_err = |source| EmulatorError::Bind {
        addr: cfg.bind,
        source,
    };
    let listener = std::net::TcpListener::bind(cfg.bind).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let addr = listener.local_addr().map_err(bind_err)?;
    Ok((listener, addr))
}

/// Runs the emulator on the current tokio runtime until Ctrl-C, printing
/// the base URL, the API key and the demo account on stdout first. For the
/// `flickrfs emulator` subcommand.
pub async fn serve_forever(cfg: EmulatorConfig) -> Result<(), EmulatorError> {
    let store = Store::open(&cfg.state_dir)?;
    let (listener, addr) = bind(&cfg)?;
    let listener =
        tokio::net::TcpListener::from_std(listener).map_err(|source| EmulatorError::Bind {
            addr: cfg.bind,
            source,
        })?;
    let app = Arc::new(build_app(&cfg, store, addr));
    let info = {
        let app = app.clone();
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || prepare(&app.store, &cfg, &app.base_url))
            .await
            .map_err(|e| EmulatorError::Invalid(format!("seeding task failed: {e}")))??
    };
    println!("{}", info.banner());
    axum::serve(
        listener,
        router(app).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(EmulatorError::Serve)
}
