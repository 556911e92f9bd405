//! `/admin/*`: JSON endpoints for tests, scripts and the demo to steer a
//! running emulator (faults, the request log, keys, users, tokens).
//! Only answered on loopback connections and never subject to faults.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::faults::FaultConfig;
use super::state::{self, Perms};
use super::App;

/// Refuses any `/admin` request that does not come from loopback.
pub async fn loopback_only(
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if !peer.ip().is_loopback() {
        return (StatusCode::FORBIDDEN, "admin is loopback only").into_response();
    }
    next.run(req).await
}

fn error(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": msg.to_string()}))).into_response()
}

/// `GET /admin/faults`.
pub async fn get_faults(State(app): State<Arc<App>>) -> Json<FaultConfig> {
    Json(app.faults.config())
}

/// `POST /admin/faults` with a JSON `FaultConfig` (missing fields are off).
pub async fn set_faults(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    match serde_json::from_slice::<FaultConfig>(&body) {
        Ok(cfg) => {
            app.faults.set_config(cfg.clone());
            Json(cfg).into_response()
        }
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

/// `GET /admin/log`: every call so far and the counts per method.
pub async fn get_log(State(app): State<Arc<App>>) -> Response {
    Json(json!({"calls": app.faults.log(), "counts": app.faults.counts()})).into_response()
}

/// `POST /admin/log/reset`.
pub async fn reset_log(State(app): State<Arc<App>>) -> Response {
    app.faults.reset_log();
    Json(json!({"ok": true})).into_response()
}

/// `POST /admin/api-keys`: a new API key and secret.
pub async fn create_api_key(State(app): State<Arc<App>>) -> Response {
    match app.store.read(state::create_api_key) {
        Ok((key, secret)) => Json(json!({"key": key, "secret": secret})).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

#[derive(Deserialize)]
pub struct NewUser {
    username: String,
    #[serde(default)]
    fullname: Option<String>,
}

/// `POST /admin/users` with `{"username": "...", "fullname": "..."}`.
pub async fn create_user(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let req: NewUser = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let full = req.fullname.unwrap_or_else(|| req.username.clone());
    match app
        .store
        .read(|c| state::create_user(c, &req.username, &full))
    {
        Ok(u) => Json(json!({"nsid": u.nsid, "username": u.username, "fullname": u.fullname}))
            .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}

#[derive(Deserialize)]
pub struct NewToken {
    api_key: String,
    /// An nsid or a user name.
    user: String,
    #[serde(default)]
    perms: Option<String>,
}

/// `POST /admin/tokens` with `{"api_key", "user", "perms"}`: an access token
/// without the browser dance.
pub async fn create_token(State(app): State<Arc<App>>, body: axum::body::Bytes) -> Response {
    let req: NewToken = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let Some(perms) = Perms::parse(req.perms.as_deref().unwrap_or("write")) else {
        return error(
            StatusCode::BAD_REQUEST,
            "perms must be read, write or delete",
        );
    };
    let r = app.store.read(|c| {
        let nsid = match state::user(c, &req.user)? {
            Some(u) => u.nsid,
            None => state::user_by_name(c, &req.user)?
                .map(|u| u.nsid)
                .unwrap_or(req.user.clone()),
        };
        state::issue_token(c, &req.api_key, &nsid, perms)
    });
    match r {
        Ok(t) => Json(json!({"token": t.token, "secret": t.secret, "user_nsid": t.nsid, "perms": t.perms.as_str()}))
            .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e),
    }
}
