//! The three OAuth 1.0a endpoints a person goes through once:
//! `request_token` (signed by the consumer), `authorize` (a page in the
//! browser with Approve/Deny, or an immediate approval in auto-approve
//! mode), and `access_token` (exchanges the verifier for a token).
//!
//! Failures answer HTTP 401 with an `oauth_problem=...` form body, as OAuth
//! providers (Flickr among them) do on these endpoints.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use rand::Rng as _;
use rusqlite::Connection;

use super::faults::{self, LoggedCall};
use super::oauth::{self, encode, SignedParams};
use super::rest::{self, Incoming};
use super::state::{self, Perms, RequestTokenRow, StateError, UserRow};
use super::App;

/// How long a request token may wait for approval.
const REQUEST_TOKEN_TTL_SECS: i64 = 3600;

fn text(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>flickrfs emulator</title>\
         <style>body{{font-family:sans-serif;max-width:36em;margin:3em auto}}button{{font-size:1.1em;margin-right:1em}}\
         .verifier{{font-size:2em;font-family:monospace}}</style></head><body>{body}</body></html>"
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn redirect(location: &str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// An OAuth endpoint failure: `oauth_problem` and an optional detail.
struct Problem(String);

impl From<StateError> for Problem {
    fn from(e: StateError) -> Self {
        tracing::error!("emulator oauth state error: {e}");
        Problem("service_unavailable".into())
    }
}

/// Checks key, signature, timestamp and nonce of a token-endpoint request.
/// With `with_token`, the request must carry a request token (access_token step).
fn check(
    app: &App,
    c: &Connection,
    inc: &Incoming,
    with_token: bool,
) -> Result<(SignedParams, String, Option<RequestTokenRow>), Problem> {
    let sp = SignedParams::gather(&inc.pairs, inc.authorization.as_deref());
    let key = sp
        .get("oauth_consumer_key")
        .ok_or_else(|| {
            Problem("parameter_absent&oauth_parameters_absent=oauth_consumer_key".into())
        })?
        .to_owned();
    let consumer_secret =
        state::api_key_secret(c, &key)?.ok_or_else(|| Problem("consumer_key_unknown".into()))?;
    let signature = sp.signature.clone().ok_or_else(|| {
        Problem("parameter_absent&oauth_parameters_absent=oauth_signature".into())
    })?;
    if sp.get("oauth_signature_method") != Some("HMAC-SHA1") {
        return Err(Problem("signature_method_rejected".into()));
    }
    let rt = if with_token {
        let t = sp.get("oauth_token").ok_or_else(|| {
            Problem("parameter_absent&oauth_parameters_absent=oauth_token".into())
        })?;
        match state::request_token(c, t)? {
            Some(r) if r.api_key == key => Some(r),
            _ => return Err(Problem("token_rejected".into())),
        }
    } else {
        None
    };
    let base = oauth::base_string(&inc.http_method, &inc.url, &sp.signed);
    let token_secret = rt.as_ref().map(|r| r.secret.as_str()).unwrap_or("");
    if !oauth::verify(&base, &consumer_secret, token_secret, &signature) {
        return Err(Problem(format!(
            "signature_invalid&debug_sbs={}",
            encode(&base)
        )));
    }
    let now = state::now();
    let ts = sp
        .get("oauth_timestamp")
        .and_then(|t| t.parse::<i64>().ok())
        .ok_or_else(|| {
            Problem("parameter_absent&oauth_parameters_absent=oauth_timestamp".into())
        })?;
    if (now - ts).abs() > oauth::MAX_CLOCK_SKEW_SECS {
        return Err(Problem("timestamp_refused".into()));
    }
    let nonce = sp
        .get("oauth_nonce")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| Problem("parameter_absent&oauth_parameters_absent=oauth_nonce".into()))?;
    let tok = rt.as_ref().map(|r| r.token.as_str()).unwrap_or("");
    if !app.nonces.check_and_insert(&key, tok, nonce, ts, now) {
        return Err(Problem("nonce_used".into()));
    }
    Ok((sp, key, rt))
}

async fn faulted(app: &App, name: &str) -> Option<Response> {
    let inj = app.faults.before(true).await?;
    let status = match inj {
        faults::Injected::Http(s) => s,
        faults::Injected::Api105 => 503,
        faults::Injected::RateLimited => 429,
    };
    app.faults.record(LoggedCall {
        method: name.into(),
        ok: false,
        code: None,
        http_status: status,
        fault: Some(inj.label()),
    });
    Some(faults::http_fault(status))
}

fn log(app: &App, name: &str, resp: &Response) {
    let status = resp.status().as_u16();
    app.faults.record(LoggedCall {
        method: name.into(),
        ok: status < 400,
        code: None,
        http_status: status,
        fault: None,
    });
}

fn problem_response(p: Problem) -> Response {
    text(StatusCode::UNAUTHORIZED, format!("oauth_problem={}", p.0))
}

/// The frame of the two token endpoints: faults, the request read (a
/// malformed one is `parameter_rejected`), the request log.
async fn token_endpoint(
    app: &Arc<App>,
    name: &str,
    req: Request,
    answer: impl FnOnce(&rest::Incoming) -> Response,
) -> Response {
    if let Some(r) = faulted(app, name).await {
        return r;
    }
    let resp = match rest::read_incoming(req, &app.host).await {
        Err(_) => text(
            StatusCode::BAD_REQUEST,
            "oauth_problem=parameter_rejected".into(),
        ),
        Ok(inc) => answer(&inc),
    };
    log(app, name, &resp);
    resp
}

/// `GET|POST /services/oauth/request_token`.
pub async fn request_token(State(app): State<Arc<App>>, req: Request) -> Response {
    token_endpoint(&app, "oauth.request_token", req, |inc| {
        let r = app.store.tx(|c| {
            let (sp, key, _) = check(&app, c, inc, false)?;
            let callback = sp
                .get("oauth_callback")
                .filter(|cb| !cb.is_empty())
                .ok_or_else(|| {
                    Problem("parameter_absent&oauth_parameters_absent=oauth_callback".into())
                })?;
            if callback != "oob"
                && !callback.starts_with("http://")
                && !callback.starts_with("https://")
            {
                return Err(Problem(
                    "parameter_rejected&oauth_parameters_rejected=oauth_callback".into(),
                ));
            }
            Ok(state::create_request_token(c, &key, callback)?)
        });
        match r {
            Ok(rt) => text(
                StatusCode::OK,
                format!(
                    "oauth_callback_confirmed=true&oauth_token={}&oauth_token_secret={}",
                    encode(&rt.token),
                    encode(&rt.secret)
                ),
            ),
            Err(p) => problem_response(p),
        }
    })
    .await
}

/// The user who approves when the request does not name one.
fn default_user(app: &App, c: &Connection) -> Result<Option<UserRow>, StateError> {
    if let Some(name) = &app.default_user {
        if let Some(u) = state::user_by_name(c, name)? {
            return Ok(Some(u));
        }
    }
    if let Some(u) = state::user_by_name(c, "demo")? {
        return Ok(Some(u));
    }
    Ok(state::users(c)?.into_iter().next())
}

fn find_user(c: &Connection, who: &str) -> Result<Option<UserRow>, StateError> {
    match state::user(c, who)? {
        Some(u) => Ok(Some(u)),
        None => state::user_by_name(c, who),
    }
}

fn new_verifier(oob: bool) -> String {
    let mut rng = rand::rng();
    if oob {
        format!(
            "{:03}-{:03}-{:03}",
            rng.random_range(0..1000),
            rng.random_range(0..1000),
            rng.random_range(0..1000)
        )
    } else {
        state::random_hex(16)
    }
}

/// Approves a request token for `user` and sends the browser on.
fn approve(app: &App, rt: &RequestTokenRow, user: &UserRow, perms: Perms) -> Response {
    let oob = rt.callback == "oob";
    let verifier = new_verifier(oob);
    if let Err(e) = app
        .store
        .read(|c| state::approve_request_token(c, &rt.token, &user.nsid, perms, &verifier))
    {
        tracing::error!("emulator authorize: {e}");
        return html(
            StatusCode::INTERNAL_SERVER_ERROR,
            "<p>Could not record the approval.</p>".into(),
        );
    }
    if oob {
        return html(
            StatusCode::OK,
            format!(
                "<h1>Access granted</h1><p><b>{}</b> allowed this application <b>{}</b> access.</p>\
                 <p>Type this code into the application:</p><p class=\"verifier\" id=\"verifier\">{}</p>",
                html_escape(&user.username),
                perms.as_str(),
                html_escape(&verifier)
            ),
        );
    }
    let sep = if rt.callback.contains('?') { '&' } else { '?' };
    redirect(&format!(
        "{}{sep}oauth_token={}&oauth_verifier={}",
        rt.callback,
        encode(&rt.token),
        encode(&verifier)
    ))
}

fn deny(rt: &RequestTokenRow) -> Response {
    if rt.callback == "oob" {
        return html(
            StatusCode::OK,
            "<h1>Access denied</h1><p>You can close this page.</p>".into(),
        );
    }
    let sep = if rt.callback.contains('?') { '&' } else { '?' };
    redirect(&format!(
        "{}{sep}oauth_token={}&oauth_problem=user_refused",
        rt.callback,
        encode(&rt.token)
    ))
}

/// `GET|POST /services/oauth/authorize`: the approval page.
pub async fn authorize(State(app): State<Arc<App>>, req: Request) -> Response {
    const NAME: &str = "oauth.authorize";
    if let Some(r) = faulted(&app, NAME).await {
        return r;
    }
    let is_post = req.method() == axum::http::Method::POST;
    let resp = match rest::read_incoming(req, &app.host).await {
        Err(_) => html(StatusCode::BAD_REQUEST, "<p>Bad request.</p>".into()),
        Ok(inc) => authorize_inner(&app, &inc, is_post),
    };
    log(&app, NAME, &resp);
    resp
}

fn authorize_inner(app: &App, inc: &Incoming, is_post: bool) -> Response {
    let get = |n: &str| {
        inc.pairs
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let bad = |msg: &str| {
        html(
            StatusCode::BAD_REQUEST,
            format!("<h1>Oops</h1><p>{}</p>", html_escape(msg)),
        )
    };
    let Some(token) = get("oauth_token") else {
        return bad("No oauth_token was given.");
    };
    let looked = app.store.read(|c| {
        let rt = state::request_token(c, token)?;
        let who = match get("user").filter(|u| !u.is_empty()) {
            Some(u) => find_user(c, u)?,
            None => default_user(app, c)?,
        };
        Ok((rt, who, state::users(c)?))
    });
    let (rt, who, users) = match looked {
        Ok(v) => v,
        Err(e) => {
            tracing::error!("emulator authorize: {e}");
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<p>Internal error.</p>".into(),
            );
        }
    };
    let Some(rt) = rt.filter(|r| !r.used && state::now() - r.created <= REQUEST_TOKEN_TTL_SECS)
    else {
        return bad(
            "This request token is unknown, used or expired. Start again from the application.",
        );
    };
    let perms = get("perms").and_then(Perms::parse).unwrap_or(Perms::Read);
    if is_post {
        if get("decision") != Some("approve") {
            return deny(&rt);
        }
        let Some(user) = who else {
            return bad("Unknown user.");
        };
        return approve(app, &rt, &user, perms);
    }
    if app.auto_approve {
        let Some(user) = who else {
            return bad("There is no user to approve as: create one first.");
        };
        return approve(app, &rt, &user, perms);
    }
    let options: String = users
        .iter()
        .map(|u| {
            let sel = if who.as_ref().map(|w| &w.nsid) == Some(&u.nsid) {
                " selected"
            } else {
                ""
            };
            format!(
                "<option value=\"{}\"{sel}>{} ({})</option>",
                html_escape(&u.nsid),
                html_escape(&u.username),
                html_escape(&u.nsid)
            )
        })
        .collect();
    html(
        StatusCode::OK,
        format!(
            "<h1>Authorise an application</h1>\
             <p>An application using API key <code>{}</code> asks for <b>{}</b> access to your photos.</p>\
             <form method=\"post\" action=\"/services/oauth/authorize\">\
             <input type=\"hidden\" name=\"oauth_token\" value=\"{}\">\
             <input type=\"hidden\" name=\"perms\" value=\"{}\">\
             <p><label>Signed in as <select name=\"user\">{options}</select></label></p>\
             <button type=\"submit\" name=\"decision\" value=\"approve\">OK, I'll authorise it</button>\
             <button type=\"submit\" name=\"decision\" value=\"deny\">No thanks</button>\
             </form>",
            html_escape(&rt.api_key),
            perms.as_str(),
            html_escape(&rt.token),
            perms.as_str()
        ),
    )
}

/// `GET|POST /services/oauth/access_token`.
pub async fn access_token(State(app): State<Arc<App>>, req: Request) -> Response {
    token_endpoint(&app, "oauth.access_token", req, |inc| {
        let r = app.store.tx(|c| {
            let (sp, key, rt) = check(&app, c, inc, true)?;
            let rt = rt.ok_or_else(|| Problem("token_rejected".into()))?;
            if rt.used {
                return Err(Problem("token_used".into()));
            }
            if state::now() - rt.created > REQUEST_TOKEN_TTL_SECS {
                return Err(Problem("token_expired".into()));
            }
            let verifier = sp.get("oauth_verifier").ok_or_else(|| {
                Problem("parameter_absent&oauth_parameters_absent=oauth_verifier".into())
            })?;
            let (Some(expected), Some(nsid), Some(perms)) = (&rt.verifier, &rt.nsid, rt.perms)
            else {
                return Err(Problem("permission_unknown".into()));
            };
            if verifier != expected {
                return Err(Problem("verifier_invalid".into()));
            }
            let user = state::user(c, nsid)?.ok_or_else(|| Problem("permission_denied".into()))?;
            state::mark_request_token_used(c, &rt.token)?;
            let tok = state::issue_token(c, &key, nsid, perms)?;
            Ok((tok, user))
        });
        match r {
            Ok((tok, user)) => text(
                StatusCode::OK,
                format!(
                    "fullname={}&oauth_token={}&oauth_token_secret={}&user_nsid={}&username={}",
                    encode(&user.fullname),
                    encode(&tok.token),
                    encode(&tok.secret),
                    encode(&user.nsid),
                    encode(&user.username)
                ),
            ),
            Err(p) => problem_response(p),
        }
    })
    .await
}
