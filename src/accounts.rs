//! Flickr accounts: the credential store and the OAuth dance behind
//! `flickrfs account add/list/remove`.
//!
//! The store is a small TOML file (its path comes from
//! `config::Paths::credentials_file()`), created with mode 0600 and replaced
//! atomically (temporary file + rename). It holds, per account, the Flickr
//! user id and names and the access token pair; the application's API key and
//! secret are resolved elsewhere (config) and passed in. Nothing here prints or
//! logs a token: the types holding one redact it in `Debug`/`Display`.
//!
//! Not in here: which folders an account syncs (config `Prefs`), or any call
//! beyond the dance and the `flickr.test.login` check.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::flickr::{
    AccessToken, ApiCredentials, Client, ClientOptions, Endpoints, FlickrError, RequestToken,
    RequestedPerms,
};
use crate::model::Nsid;

/// What can go wrong managing accounts.
#[derive(Debug, Error)]
pub enum AccountError {
    #[error(transparent)]
    Flickr(#[from] FlickrError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The credentials file is not valid TOML of the expected shape. (The
    /// message never quotes the file, which holds secrets.)
    #[error("{}: not a valid credentials file: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("no account named {name:?}; {}", known_list(known))]
    NotFound { name: String, known: Vec<String> },
    #[error("OAuth callback: {0}")]
    Callback(String),
    #[error("no answer from the browser within {0:?} (was the authorisation approved?)")]
    CallbackTimeout(Duration),
    #[error("no verifier was entered")]
    EmptyVerifier,
    #[error("the new token belongs to {got}, but the authorisation was for {expected}")]
    IdentityMismatch { expected: Nsid, got: Nsid },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "there are no accounts yet (add one with `flickrfs account add`)".to_owned()
    } else {
        format!("known accounts: {}", known.join(", "))
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> AccountError {
    let context = context.into();
    move |source| AccountError::Io { context, source }
}

/// One authorised Flickr account, as stored.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAccount {
    /// The name used on the command line and as the account's folder
    /// (the Flickr username unless it clashed).
    pub name: String,
    pub nsid: Nsid,
    pub username: String,
    #[serde(default)]
    pub fullname: String,
    /// The OAuth access token pair (secret).
    pub token: AccessToken,
    /// The application key the token was issued under: Flickr binds a token
    /// to its key, so an account added with `--api-key` other than the
    /// `[api]` one keeps signing with its own. Absent in older stores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<ApiCredentials>,
}

impl StoredAccount {
    /// The account without its token, safe to show.
    pub fn summary(&self) -> AccountSummary {
        AccountSummary {
            name: self.name.clone(),
            nsid: self.nsid.clone(),
            username: self.username.clone(),
            fullname: self.fullname.clone(),
        }
    }

    /// A client signing as this account. A token works only with the key
    /// it was issued under: when `api` (the configured or given key) is
    /// another key, the account's own is used; for the same key, `api`'s
    /// secret is (so a given `--api-secret` is what signs).
    pub fn client(
        &self,
        endpoints: Endpoints,
        api: ApiCredentials,
        options: ClientOptions,
    ) -> Result<Client, FlickrError> {
        let api = match &self.api {
            Some(own) if own.key != api.key => own.clone(),
            _ => api,
        };
        Client::new(endpoints, api, Some(self.token.clone()), options)
    }
}

impl fmt::Debug for StoredAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredAccount")
            .field("name", &self.name)
            .field("nsid", &self.nsid)
            .field("username", &self.username)
            .field("fullname", &self.fullname)
            .field("token", &self.token)
            .finish()
    }
}

impl fmt::Display for StoredAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.summary(), f)
    }
}

/// An account without its secrets: what `account list` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountSummary {
    pub name: String,
    pub nsid: Nsid,
    pub username: String,
    pub fullname: String,
}

impl fmt::Display for AccountSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.nsid)?;
        if !self.fullname.is_empty() {
            write!(f, " {}", self.fullname)?;
        }
        Ok(())
    }
}

#[derive(Default, Serialize, Deserialize)]
struct CredentialFile {
    #[serde(default, rename = "account")]
    accounts: Vec<StoredAccount>,
}

const HEADER: &str =
    "# flickrfs account credentials: OAuth tokens. Keep this file private (mode 0600).\n\n";

/// The credentials file.
#[derive(Clone, Debug)]
pub struct CredentialStore {
    path: PathBuf,
}

impl CredentialStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        CredentialStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every stored account; none when the file does not exist yet.
    pub fn load(&self) -> Result<Vec<StoredAccount>, AccountError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(format!("reading {}", self.path.display()))(e)),
        };
        if let Ok(meta) = fs::metadata(&self.path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    path = %self.path.display(),
                    mode = format!("{mode:o}"),
                    "credentials file is readable by others; run `chmod 600` on it"
                );
            }
        }
        let file: CredentialFile = toml::from_str(&text).map_err(|e| AccountError::Parse {
            path: self.path.clone(),
            // `e.message()` only: the full Display quotes the offending line.
            message: e.message().to_owned(),
        })?;
        Ok(file.accounts)
    }

    /// Replaces the file's contents atomically; the file is mode 0600 from
    /// the moment it exists.
    pub fn save(&self, accounts: &[StoredAccount]) -> Result<(), AccountError> {
        let dir = self
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err(format!("creating {}", dir.display())))?;
        let body = toml::to_string_pretty(&CredentialFile {
            accounts: accounts.to_vec(),
        })
        .map_err(|e| AccountError::Parse {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "credentials".into());
        let tmp = dir.join(format!(
            ".{file_name}.tmp-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let write = || -> std::io::Result<()> {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(HEADER.as_bytes())?;
            f.write_all(body.as_bytes())?;
            f.sync_all()?;
            fs::rename(&tmp, &self.path)?;
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(())
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err(format!("writing {}", self.path.display()))(e)
        })
    }

    /// The account called `name` (or whose Flickr id is `name`).
    pub fn get(&self, name: &str) -> Result<StoredAccount, AccountError> {
        let accounts = self.load()?;
        find(&accounts, name)
            .cloned()
            .ok_or_else(|| not_found(name, &accounts))
    }

    /// Adds an account, or replaces the one with the same Flickr id (a
    /// re-authorisation). A name already taken by another user gets the id
    /// appended. Returns the stored account's name.
    pub fn upsert(&self, mut account: StoredAccount) -> Result<String, AccountError> {
        let mut accounts = self.load()?;
        if let Some(existing) = accounts.iter_mut().find(|a| a.nsid == account.nsid) {
            account.name = existing.name.clone();
            *existing = account.clone();
        } else {
            if account.name.is_empty() || accounts.iter().any(|a| a.name == account.name) {
                account.name = if account.name.is_empty() {
                    account.nsid.to_string()
                } else {
                    format!("{}-{}", account.name, account.nsid)
                };
            }
            accounts.push(account.clone());
        }
        self.save(&accounts)?;
        Ok(account.name)
    }

    /// Removes the account called `name` (or whose Flickr id is `name`).
    pub fn remove(&self, name: &str) -> Result<StoredAccount, AccountError> {
        let mut accounts = self.load()?;
        let Some(i) = accounts
            .iter()
            .position(|a| a.name == name || a.nsid.as_str() == name)
        else {
            return Err(not_found(name, &accounts));
        };
        let removed = accounts.remove(i);
        self.save(&accounts)?;
        Ok(removed)
    }
}

fn find<'a>(accounts: &'a [StoredAccount], name: &str) -> Option<&'a StoredAccount> {
    accounts
        .iter()
        .find(|a| a.name == name)
        .or_else(|| accounts.iter().find(|a| a.nsid.as_str() == name))
}

fn not_found(name: &str, accounts: &[StoredAccount]) -> AccountError {
    AccountError::NotFound {
        name: name.to_owned(),
        known: accounts.iter().map(|a| a.name.clone()).collect(),
    }
}

/// The accounts in the store, without secrets.
pub fn list_accounts(store_path: &Path) -> Result<Vec<AccountSummary>, AccountError> {
    Ok(CredentialStore::new(store_path)
        .load()?
        .iter()
        .map(StoredAccount::summary)
        .collect())
}

/// One stored account, token included (to build a [`Client`]).
pub fn load_account(store_path: &Path, name: &str) -> Result<StoredAccount, AccountError> {
    CredentialStore::new(store_path).get(name)
}

/// Forgets an account locally. (Its token stays valid on Flickr until the
/// user revokes it in their Flickr settings.)
pub fn remove_account(store_path: &Path, name: &str) -> Result<AccountSummary, AccountError> {
    Ok(CredentialStore::new(store_path).remove(name)?.summary())
}

/// Opens the authorisation URL for the user.
pub trait UrlOpener: Send + Sync {
    fn open(&self, url: &str) -> std::io::Result<()>;
}

impl<F: Fn(&str) -> std::io::Result<()> + Send + Sync> UrlOpener for F {
    fn open(&self, url: &str) -> std::io::Result<()> {
        self(url)
    }
}

/// The desktop's browser, through the `opener` crate: `xdg-open` (or the
/// copy of it that opener carries when the system has none, or WSL's
/// Windows browser), started detached and reaped. Does nothing useful on a
/// headless machine; the URL is printed anyway.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemBrowser;

impl UrlOpener for SystemBrowser {
    fn open(&self, url: &str) -> std::io::Result<()> {
        opener::open(url).map_err(|e| match e {
            opener::OpenError::Io(e) => e,
            other => std::io::Error::other(other),
        })
    }
}

/// Where the OAuth verifier comes from.
pub enum VerifierSource {
    /// Flickr redirects the browser to a one-shot listener on
    /// `127.0.0.1:<free port>/callback`.
    Callback,
    /// Flickr shows the verifier (`oob`) and the user pastes it here.
    Paste(Box<dyn BufRead + Send>),
}

impl fmt::Debug for VerifierSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifierSource::Callback => f.write_str("Callback"),
            VerifierSource::Paste(_) => f.write_str("Paste"),
        }
    }
}

/// How `add_account` talks to the user.
pub struct AddAccountOptions {
    pub opener: Box<dyn UrlOpener>,
    /// Where instructions (the URL, the prompt) are written.
    pub prompt: Box<dyn Write + Send>,
    /// How long the callback listener waits for the browser.
    pub callback_timeout: Duration,
    pub perms: RequestedPerms,
    pub client_options: ClientOptions,
}

impl Default for AddAccountOptions {
    fn default() -> Self {
        AddAccountOptions {
            opener: Box::new(SystemBrowser),
            prompt: Box::new(std::io::stderr()),
            callback_timeout: Duration::from_secs(600),
            perms: RequestedPerms::Write,
            client_options: ClientOptions::default(),
        }
    }
}

/// Runs the OAuth dance for a new account, checks the token with
/// `flickr.test.login`, stores it, and returns the stored account's summary.
pub async fn add_account(
    endpoints: &Endpoints,
    api: &ApiCredentials,
    store_path: &Path,
    verifier: VerifierSource,
    mut opts: AddAccountOptions,
) -> Result<AccountSummary, AccountError> {
    let client = Client::new(
        endpoints.clone(),
        api.clone(),
        None,
        opts.client_options.clone(),
    )?;
    let listener = match verifier {
        VerifierSource::Callback => Some(CallbackListener::bind().await?),
        VerifierSource::Paste(_) => None,
    };
    let callback = listener.as_ref().map_or("oob", |l| l.url());
    let request = client.request_token(callback).await?;
    let url = client.authorize_url(&request, opts.perms);
    say(
        &mut opts.prompt,
        &format!(
            "Authorise flickrfs ({} access; it never asks to delete) by opening:\n\n  {url}\n",
            opts.perms.as_str()
        ),
    );
    if let Err(e) = opts.opener.open(&url) {
        say(
            &mut opts.prompt,
            &format!("(could not open a browser: {e}; open the address above yourself)"),
        );
    }
    let verifier = match (listener, verifier) {
        (Some(listener), _) => {
            say(
                &mut opts.prompt,
                "Waiting for Flickr to send the browser back…",
            );
            tokio::time::timeout(opts.callback_timeout, listener.verifier(&request))
                .await
                .map_err(|_| AccountError::CallbackTimeout(opts.callback_timeout))??
        }
        (None, VerifierSource::Paste(mut input)) => {
            say(&mut opts.prompt, "Paste the code Flickr shows, then Enter:");
            let line = tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                input.read_line(&mut line).map(|_| line)
            })
            .await
            .map_err(|e| AccountError::Callback(format!("reading the verifier: {e}")))?
            .map_err(io_err("reading the verifier"))?;
            let v = line.trim().to_owned();
            if v.is_empty() {
                return Err(AccountError::EmptyVerifier);
            }
            v
        }
        (None, VerifierSource::Callback) => {
            return Err(AccountError::Callback("no listener".into()));
        }
    };
    let (token, identity) = client.access_token(&request, &verifier).await?;
    let me = client.with_token(token.clone()).test_login().await?;
    if me.nsid != identity.nsid {
        return Err(AccountError::IdentityMismatch {
            expected: identity.nsid,
            got: me.nsid,
        });
    }
    let username = if identity.username.is_empty() {
        me.username.clone()
    } else {
        identity.username.clone()
    };
    let account = StoredAccount {
        name: username.clone(),
        nsid: identity.nsid,
        username,
        fullname: identity.fullname,
        token,
        api: Some(api.clone()),
    };
    let store = CredentialStore::new(store_path);
    let name = store.upsert(account.clone())?;
    let summary = AccountSummary {
        name,
        ..account.summary()
    };
    tracing::info!(account = %summary, "account authorised and stored");
    Ok(summary)
}

fn say(out: &mut Box<dyn Write + Send>, text: &str) {
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// The one-shot HTTP listener Flickr sends the browser back to, bound to
/// 127.0.0.1 only (never another interface) on a free port.
struct CallbackListener {
    listener: TcpListener,
    url: String,
}

/// What the callback route needs: the request token it waits for, and where
/// to hand Flickr's answer.
struct CallbackState {
    token: String,
    outcome: mpsc::Sender<Result<String, AccountError>>,
}

/// How long the last page may take to reach the browser once the verifier
/// is in. The server waits for open connections on shutdown; a stray one
/// that never finishes its request must not hold the dance up.
const CALLBACK_DRAIN: Duration = Duration::from_secs(5);

impl CallbackListener {
    async fn bind() -> Result<CallbackListener, AccountError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(io_err("listening for the OAuth callback on 127.0.0.1"))?;
        let port = listener
            .local_addr()
            .map_err(io_err("OAuth callback listener"))?
            .port();
        Ok(CallbackListener {
            listener,
            url: format!("http://127.0.0.1:{port}/callback"),
        })
    }

    /// The `oauth_callback` URL to give Flickr.
    fn url(&self) -> &str {
        &self.url
    }

    /// Serves `/callback` until Flickr's redirect for `request` arrives;
    /// returns its verifier. Other paths get a 404, a different token a 400,
    /// and both keep the listener waiting; the right token without a
    /// verifier (a refusal) is an error. Connections are served side by side,
    /// so a stray one cannot hold up the redirect.
    async fn verifier(self, request: &RequestToken) -> Result<String, AccountError> {
        let (outcome, mut answers) = mpsc::channel(1);
        let state = Arc::new(CallbackState {
            token: request.token.clone(),
            outcome,
        });
        let app = Router::new()
            .route("/callback", get(callback).fallback(bad_request))
            .fallback(page_not_found)
            .with_state(state);
        // Dropping `stop` (this future given up on a timeout) stops the server too.
        let (stop, stopped) = oneshot::channel::<()>();
        let server = axum::serve(self.listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        let mut server = std::pin::pin!(std::future::IntoFuture::into_future(server));
        let answer = tokio::select! {
            answer = answers.recv() => answer,
            ended = &mut server => {
                ended.map_err(io_err("OAuth callback listener"))?;
                None
            }
        };
        let _ = stop.send(());
        let _ = tokio::time::timeout(CALLBACK_DRAIN, server).await;
        answer.unwrap_or_else(|| Err(AccountError::Callback("the listener stopped".into())))
    }
}

/// `GET /callback?oauth_token=…&oauth_verifier=…`, Flickr's redirect.
async fn callback(
    State(state): State<Arc<CallbackState>>,
    RawQuery(query): RawQuery,
) -> (StatusCode, Html<String>) {
    let query = query.unwrap_or_default();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if get("oauth_token") != Some(state.token.as_str()) {
        return page(
            StatusCode::BAD_REQUEST,
            "This answer is for another authorisation request; flickrfs is still waiting.",
        );
    }
    // Capacity one: the first answer for our token is the one that counts.
    match get("oauth_verifier").filter(|v| !v.is_empty()) {
        Some(v) => {
            let _ = state.outcome.try_send(Ok(v.to_owned()));
            page(
                StatusCode::OK,
                "flickrfs is now authorised. You can close this window.",
            )
        }
        None => {
            let _ = state.outcome.try_send(Err(AccountError::Callback(
                "Flickr redirected back without a verifier (authorisation refused?)".into(),
            )));
            page(
                StatusCode::BAD_REQUEST,
                "Flickr did not approve the request.",
            )
        }
    }
}

/// Any other method on `/callback`.
async fn bad_request() -> (StatusCode, Html<String>) {
    page(StatusCode::BAD_REQUEST, "Bad request.")
}

async fn page_not_found() -> (StatusCode, Html<String>) {
    page(StatusCode::NOT_FOUND, "Not found.")
}

fn page(status: StatusCode, message: &str) -> (StatusCode, Html<String>) {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>flickrfs</title></head>\
             <body><p>{message}</p></body></html>"
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str, nsid: &str) -> StoredAccount {
        StoredAccount {
            name: name.into(),
            nsid: Nsid::from(nsid),
            username: name.into(),
            fullname: format!("{name} Full"),
            token: AccessToken::new(format!("tok-{name}"), format!("sec-{name}")),
            api: None,
        }
    }

    #[test]
    fn store_round_trips_with_mode_0600() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("sub").join("credentials.toml");
        let store = CredentialStore::new(&path);
        assert!(store.load().unwrap().is_empty());
        store.upsert(account("alice", "1@N01")).unwrap();
        store.upsert(account("bob", "2@N01")).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let loaded = store.load().unwrap();
        assert_eq!(
            loaded,
            vec![account("alice", "1@N01"), account("bob", "2@N01")]
        );
        // No temporary files left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }

    #[test]
    fn reauthorising_replaces_and_name_clashes_are_disambiguated() {
        let d = tempfile::tempdir().unwrap();
        let store = CredentialStore::new(d.path().join("c.toml"));
        store.upsert(account("alice", "1@N01")).unwrap();
        let mut again = account("alice", "1@N01");
        again.token = AccessToken::new("new", "newsec");
        assert_eq!(store.upsert(again.clone()).unwrap(), "alice");
        assert_eq!(store.load().unwrap(), vec![again]);
        let other = store.upsert(account("alice", "9@N01")).unwrap();
        assert_eq!(other, "alice-9@N01");
    }

    #[test]
    fn remove_names_the_known_accounts_when_missing() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("c.toml");
        let err = remove_account(&path, "carol").unwrap_err().to_string();
        assert!(err.contains("no accounts yet"), "{err}");
        let store = CredentialStore::new(&path);
        store.upsert(account("alice", "1@N01")).unwrap();
        store.upsert(account("bob", "2@N01")).unwrap();
        let err = remove_account(&path, "carol").unwrap_err().to_string();
        assert!(err.contains("carol") && err.contains("alice, bob"), "{err}");
        assert_eq!(remove_account(&path, "2@N01").unwrap().name, "bob");
        assert_eq!(list_accounts(&path).unwrap().len(), 1);
    }

    #[test]
    fn nothing_shown_contains_a_secret() {
        let a = account("alice", "1@N01");
        let shown = format!(
            "{a:?} {a} {:?} {}",
            a.summary(),
            list_accounts_display(&[a.summary()])
        );
        assert!(
            !shown.contains("tok-alice") && !shown.contains("sec-alice"),
            "{shown}"
        );
        assert!(shown.contains("alice") && shown.contains("1@N01"));
    }

    fn list_accounts_display(list: &[AccountSummary]) -> String {
        list.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn parse_errors_do_not_quote_the_file() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("c.toml");
        fs::write(
            &path,
            "[[account]]\nname = \"a\"\ntoken = { token = \"SECRET-T\", secret = \"SECRET-S\" }\nbroken = \n",
        )
        .unwrap();
        let err = CredentialStore::new(&path).load().unwrap_err().to_string();
        assert!(!err.contains("SECRET"), "{err}");
        assert!(err.contains("not a valid credentials file"), "{err}");
    }

    fn request_token() -> RequestToken {
        RequestToken {
            token: "reqtok".into(),
            secret: "s".into(),
            callback_confirmed: true,
        }
    }

    /// Sends `(method, path and query)` to the listener one after the other;
    /// returns each answer's status and page.
    fn browser(
        base: String,
        requests: &[(&str, &str)],
    ) -> tokio::task::JoinHandle<Vec<(u16, String)>> {
        let requests: Vec<(reqwest::Method, String)> = requests
            .iter()
            .map(|(m, p)| (m.parse().unwrap(), format!("{base}{p}")))
            .collect();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut out = Vec::new();
            for (method, url) in requests {
                let r = http.request(method, url).send().await.unwrap();
                out.push((r.status().as_u16(), r.text().await.unwrap()));
            }
            out
        })
    }

    #[tokio::test]
    async fn callback_listener_ignores_strays_and_returns_the_verifier() {
        let listener = CallbackListener::bind().await.unwrap();
        let base = listener.url().trim_end_matches("/callback").to_owned();
        let client = browser(
            base,
            &[
                ("GET", "/favicon.ico"),
                ("GET", "/callback?oauth_token=other&oauth_verifier=x"),
                ("POST", "/callback?oauth_token=reqtok&oauth_verifier=x"),
                (
                    "GET",
                    "/callback?oauth_token=reqtok&oauth_verifier=123-456%2B789+0",
                ),
            ],
        );
        let v = listener.verifier(&request_token()).await.unwrap();
        assert_eq!(v, "123-456+789 0");
        let answers = client.await.unwrap();
        let statuses: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
        assert_eq!(statuses, [404, 400, 400, 200]);
        assert!(answers[1].1.contains("another authorisation request"));
        assert!(answers[3].1.contains("You can close this window"));
    }

    #[tokio::test]
    async fn a_redirect_without_a_verifier_is_a_refusal() {
        let listener = CallbackListener::bind().await.unwrap();
        let base = listener.url().trim_end_matches("/callback").to_owned();
        let client = browser(base, &[("GET", "/callback?oauth_token=reqtok")]);
        let err = listener.verifier(&request_token()).await.unwrap_err();
        assert!(matches!(err, AccountError::Callback(_)), "{err:?}");
        let answers = client.await.unwrap();
        assert_eq!(answers[0].0, 400);
        assert!(answers[0].1.contains("did not approve"), "{}", answers[0].1);
    }

    #[tokio::test]
    async fn the_callback_listener_is_on_loopback_only() {
        let listener = CallbackListener::bind().await.unwrap();
        let addr = listener.listener.local_addr().unwrap();
        assert_eq!(addr.ip(), std::net::IpAddr::from(Ipv4Addr::LOCALHOST));
        assert_eq!(
            listener.url(),
            format!("http://127.0.0.1:{}/callback", addr.port())
        );
    }
}
