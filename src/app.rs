//! The application layer: what a command needs from several modules at once.
//!
//! A [`Session`] ties the configuration, the stored credentials, the catalog
//! and the Flickr client together, so that the CLI (`main.rs`) and the mount
//! daemon (which runs syncs requested through `/.flickrfs/sync`) do the same
//! thing the same way. It holds no logic of its own beyond choosing accounts
//! and recording the last sync's result for `flickrfs status`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::accounts::{AccountError, CredentialStore, StoredAccount};
use crate::catalog::{Account, Catalog, CatalogError};
use crate::config::{resolve_api_key, Config, ConfigError, Endpoint, Paths, Prefs};
use crate::flickr::{ApiCredentials, Client, ClientOptions, Endpoints, FlickrError, RateLimit};
use crate::model::Direction;

/// Errors a session reports to the CLI.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Accounts(#[from] AccountError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Flickr(#[from] FlickrError),
    #[error(
        "no Flickr API key: pass --api-key and --api-secret, set FLICKRFS_API_KEY and \
         FLICKRFS_API_SECRET, or put key and secret under [api] in {0}"
    )]
    NoApiKey(PathBuf),
    #[error("no account named {name:?}: {known}")]
    UnknownAccount { name: String, known: String },
    #[error("no accounts yet: add one with `flickrfs account add`")]
    NoAccounts,
    #[error("{0}")]
    Other(String),
}

/// Command-line overrides of the configured endpoint and key.
#[derive(Clone, Debug, Default)]
pub struct ApiOverrides {
    pub api_key: Option<String>,
    pub api_secret: Option<String>,
    pub endpoint: Option<String>,
}

/// Everything a command needs to talk to Flickr for the configured accounts.
pub struct Session {
    pub paths: Paths,
    pub config: Config,
    pub endpoint: Endpoint,
    pub endpoints: Endpoints,
    api: Option<ApiCredentials>,
    store: CredentialStore,
}

/// One account a command works on: its credentials, its catalog record and
/// its preferences.
pub struct Target {
    pub stored: StoredAccount,
    pub account: Account,
    pub prefs: Prefs,
}

impl Session {
    pub fn open(paths: Paths, overrides: &ApiOverrides) -> Result<Session, AppError> {
        let config = Config::load(&paths.config_file())?;
        let endpoint = match &overrides.endpoint {
            Some(e) => Endpoint::parse(e)?,
            None => config.endpoint()?,
        };
        let endpoints = match &endpoint {
            Endpoint::Flickr => Endpoints::flickr(),
            Endpoint::Local(base) => Endpoints::local(base),
        };
        let api = resolve_api_key(
            overrides.api_key.as_deref(),
            overrides.api_secret.as_deref(),
            &config,
        );
        let store = CredentialStore::new(paths.credentials_file());
        Ok(Session {
            paths,
            config,
            endpoint,
            endpoints,
            api,
            store,
        })
    }

    /// The API key, or an error that says where to put one.
    pub fn api(&self) -> Result<&ApiCredentials, AppError> {
        self.api
            .as_ref()
            .ok_or_else(|| AppError::NoApiKey(self.paths.config_file()))
    }

    pub fn client_options(&self) -> ClientOptions {
        let mut opts = ClientOptions::default();
        match (self.config.api.rate_limit_per_hour, &self.endpoint) {
            (Some(per_hour), _) => opts.rate_limit.calls_per_hour = per_hour.max(1),
            // Flickr's budget protects Flickr's key; a local emulator has its
            // own (configurable) limit, and tests and the demo need speed.
            (None, Endpoint::Local(_)) => {
                opts.rate_limit = RateLimit {
                    calls_per_hour: 3_600_000,
                    burst: 1000,
                }
            }
            (None, Endpoint::Flickr) => {}
        }
        // Flickr counts calls per key per hour, across runs: so does the
        // budget (one small file per key, shared by every process).
        if self.endpoint == Endpoint::Flickr || self.config.api.rate_limit_per_hour.is_some() {
            if let Some(api) = &self.api {
                let tag: String = api
                    .key
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .take(16)
                    .collect();
                opts.budget_file = Some(self.paths.state_dir.join(format!("api-budget-{tag}")));
            }
        }
        opts
    }

    pub fn catalog(&self) -> Result<Catalog, AppError> {
        Ok(Catalog::open(&self.paths.catalog_db())?)
    }

    /// A client signing as `stored`.
    pub fn client(&self, stored: &StoredAccount) -> Result<Client, AppError> {
        Ok(stored.client(
            self.endpoints.clone(),
            self.api()?.clone(),
            self.client_options(),
        )?)
    }

    /// Registers (or refreshes) an authorised account in the catalog so the
    /// mount shows it, creating its default folder.
    pub fn register(&self, stored: &StoredAccount) -> Result<Account, AppError> {
        let prefs = self.config.prefs(&stored.name);
        let folder_name = prefs
            .collection_name
            .clone()
            .unwrap_or_else(|| stored.name.clone());
        let default_folder = self.config.default_folder(&self.paths, &stored.name);
        std::fs::create_dir_all(&default_folder).map_err(|e| {
            AppError::Other(format!(
                "creating the default folder {}: {e}",
                default_folder.display()
            ))
        })?;
        let cat = self.catalog()?;
        Ok(cat.add_account(
            &stored.nsid,
            &stored.username,
            &folder_name,
            &default_folder,
        )?)
    }

    /// Whether the account's folder name or default folder in the catalog
    /// differs from what the preferences say now.
    pub fn folder_prefs_changed(&self, stored: &StoredAccount, account: &Account) -> bool {
        let prefs = self.config.prefs(&stored.name);
        let name = prefs.collection_name.as_deref().unwrap_or(&stored.name);
        account.collection_name.as_str() != name
            || account.default_folder != self.config.default_folder(&self.paths, &stored.name)
    }

    /// Takes the account's folder-name and default-folder preferences into
    /// the catalog when the account is registered there (a running mount
    /// renames the folder when it sees the change). `Ok(None)` when the
    /// account has no credentials or was never registered: the preferences
    /// apply at its first registration.
    pub fn apply_folder_prefs(&self, name: &str) -> Result<Option<Account>, AppError> {
        let Some(stored) = self.store.load()?.into_iter().find(|s| s.name == name) else {
            return Ok(None);
        };
        let cat = self.catalog()?;
        match cat.account_by_nsid(&stored.nsid)? {
            Some(a) if !self.folder_prefs_changed(&stored, &a) => Ok(Some(a)),
            Some(_) => self.register(&stored).map(Some),
            None => Ok(None),
        }
    }

    /// The accounts named (by account name, username or collection folder
    /// name), or all of them when `names` is empty.
    pub fn targets(&self, names: &[String]) -> Result<Vec<Target>, AppError> {
        let stored = self.store.load()?;
        if stored.is_empty() {
            return Err(AppError::NoAccounts);
        }
        let cat = self.catalog()?;
        let mut out = Vec::new();
        for s in &stored {
            let wanted = names.is_empty()
                || names.iter().any(|n| {
                    n == &s.name
                        || n == &s.username
                        || self.config.prefs(&s.name).collection_name.as_deref() == Some(n)
                });
            if !wanted {
                continue;
            }
            // The folder name and default folder follow the preferences:
            // a changed preference is taken here, at the next sync, even
            // when config.toml was edited by hand.
            let account = match cat.account_by_nsid(&s.nsid)? {
                Some(a) if !self.folder_prefs_changed(s, &a) => a,
                _ => self.register(s)?,
            };
            out.push(Target {
                stored: s.clone(),
                prefs: self.config.prefs(&s.name),
                account,
            });
        }
        for n in names {
            let found = out.iter().any(|t| {
                &t.stored.name == n
                    || &t.stored.username == n
                    || t.account.collection_name.as_str() == n
            });
            if !found {
                return Err(AppError::UnknownAccount {
                    name: n.clone(),
                    known: stored
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        Ok(out)
    }

    /// The lock file that keeps syncs of one account from overlapping.
    pub fn sync_lock_path(&self, nsid: &crate::model::Nsid) -> PathBuf {
        let name: String = nsid
            .as_str()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        self.paths.state_dir.join(format!("sync-{name}.lock"))
    }

    /// Where the last sync's result is kept for `flickrfs status`.
    pub fn last_sync_file(&self) -> PathBuf {
        self.paths.state_dir.join("last-sync.json")
    }
}

/// The lines of `flickrfs sets` for one account: the defaults for sets and
/// pools that appear later, then each set and pool the catalog holds with
/// whether it takes part (`yes`/`no`), its title and its Flickr id.
pub fn set_list(
    cat: &Catalog,
    name: &str,
    account: crate::catalog::AccountId,
    prefs: &Prefs,
) -> Result<Vec<String>, AppError> {
    let default = |takes: bool| {
        if takes {
            "take part"
        } else {
            "do not take part"
        }
    };
    let mut out = vec![format!(
        "{name}: photosets created later {}, pools joined later {}",
        default(prefs.sets.new_ones_take_part()),
        default(prefs.pools.new_ones_take_part())
    )];
    let sets = cat.sets(account)?;
    let pools = cat.pools(account)?;
    if sets.is_empty() && pools.is_empty() {
        out.push("  (no photosets or pools yet: the first sync fills the list in)".into());
    }
    for (kind, list, sel) in [("set", &sets, &prefs.sets), ("pool", &pools, &prefs.pools)] {
        for c in list.iter() {
            let id = collection_remote_id(c);
            let takes = sel.includes(&c.title, id.as_deref());
            out.push(format!(
                "  {:<4} {:<4} {}{}",
                if takes { "yes" } else { "no" },
                kind,
                c.title,
                id.map(|i| format!(" ({i})")).unwrap_or_default()
            ));
        }
    }
    Ok(out)
}

/// A set's or pool's id on Flickr (none for a set not created there yet).
pub fn collection_remote_id(c: &crate::catalog::Collection) -> Option<String> {
    use crate::catalog::CollectionKind;
    match &c.kind {
        CollectionKind::Photoset(Some(id)) => Some(id.to_string()),
        CollectionKind::Pool(g) => Some(g.to_string()),
        _ => None,
    }
}

/// The outcome of one account's sync, as `flickrfs status` shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AccountResult {
    pub account: String,
    pub direction: Direction,
    pub dry_run: bool,
    /// The plan's one-line summary.
    pub summary: String,
    pub done: usize,
    /// What failed, one line each.
    pub failed: Vec<String>,
    pub conflicts: Vec<String>,
    /// Photos deleted on Flickr that left the collection, and where their
    /// files stay, one line each.
    #[serde(default)]
    pub deleted_on_flickr: Vec<String>,
    /// Set when the sync stopped before executing (refused plan, network...).
    pub error: Option<String>,
    /// The plan was refused by the big-removal guard (`error` says why and
    /// how to confirm it); nothing was done.
    #[serde(default)]
    pub refused: bool,
}

/// The last sync of all accounts.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Default)]
pub struct LastSync {
    /// Seconds since the epoch.
    pub finished_at: u64,
    pub accounts: Vec<AccountResult>,
}

impl LastSync {
    pub fn ok(&self) -> bool {
        self.accounts
            .iter()
            .all(|a| a.error.is_none() && a.failed.is_empty())
    }

    pub fn load(path: &Path) -> Option<LastSync> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn save(&self, path: &Path) -> Result<(), AppError> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| AppError::Other(format!("encoding the sync result: {e}")))?;
        crate::config::write_private(path, &text)?;
        Ok(())
    }

    pub fn text(&self) -> String {
        let mut s = String::new();
        for a in &self.accounts {
            s.push_str(&format!(
                "{}: {} sync{}: {}\n",
                a.account,
                a.direction,
                if a.dry_run { " (dry run)" } else { "" },
                a.summary
            ));
            if let Some(e) = &a.error {
                s.push_str(&format!("  stopped: {e}\n"));
            } else if !a.dry_run {
                s.push_str(&format!("  {} done, {} failed\n", a.done, a.failed.len()));
            }
            for d in &a.deleted_on_flickr {
                s.push_str(&format!("  deleted on Flickr: {d}\n"));
            }
            for f in &a.failed {
                s.push_str(&format!("  failed: {f}\n"));
            }
            for c in &a.conflicts {
                s.push_str(&format!("  conflict: {c}\n"));
            }
        }
        s
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An exclusive `flock` on a per-account lock file, held for a whole sync
/// and released when dropped (or when the process dies, even by SIGKILL).
pub struct SyncLock {
    _file: std::fs::File,
}

impl SyncLock {
    /// Waits until no other sync of the account runs, then holds the lock.
    pub fn acquire(path: &Path) -> Result<SyncLock, AppError> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let err = |e: std::io::Error| {
            AppError::Other(format!("locking {} for the sync: {e}", path.display()))
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        // SAFETY: flock on a file descriptor we own for the lock's lifetime.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            tracing::info!("another sync of this account is running; waiting for it to finish");
            // SAFETY: as above; this call blocks until the other holder ends.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(err(std::io::Error::last_os_error()));
            }
        }
        Ok(SyncLock { _file: file })
    }
}

/// Who asked for a sync: a refused plan is confirmed differently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Requester {
    /// `flickrfs sync`: confirmed with `--force`.
    #[default]
    Cli,
    /// A write to `MOUNT/.flickrfs/sync` (or auto-sync): confirmed by
    /// writing the direction followed by `force` there.
    ControlFile,
}

impl Requester {
    /// How to run a refused plan anyway, for the person who asked.
    pub fn how_to_confirm(self, direction: Direction) -> String {
        match self {
            Requester::Cli => "to run it anyway, pass --force".into(),
            Requester::ControlFile => format!(
                "to run it anyway, write \"{direction} force\" to MOUNT/.flickrfs/sync \
                 (echo \"{direction} force\" > MOUNT/.flickrfs/sync)"
            ),
        }
    }
}

/// What a sync run was asked to do.
#[derive(Clone, Debug, Default)]
pub struct SyncRun {
    pub direction: Direction,
    /// Account names; empty means all.
    pub accounts: Vec<String>,
    pub dry_run: bool,
    /// Run a plan that trips a safety threshold.
    pub force: bool,
    /// List everything on Flickr instead of what changed since the last sync.
    pub full: bool,
    /// More folders where the identify step looks for local copies.
    pub search: Vec<PathBuf>,
    pub requester: Requester,
    /// Downloads unticked in the review: skipped by this run only.
    pub skip_downloads: std::collections::BTreeSet<crate::model::PhotoId>,
}

/// Builds one account's sync options from its preferences and the request.
pub fn sync_options(prefs: &Prefs, run: &SyncRun) -> crate::sync::SyncOptions {
    let mut opts = crate::sync::SyncOptions::from_prefs(prefs, run.direction);
    opts.plan.force = run.force;
    opts.dry_run = run.dry_run;
    opts.full = run.full;
    opts.search = run.search.clone();
    opts.skip_downloads = run.skip_downloads.clone();
    opts
}

/// Syncs each target in turn (one account's failure does not stop the
/// others), records the result for `flickrfs status`, and returns it.
pub async fn run_syncs(
    session: &Session,
    targets: &[Target],
    run: &SyncRun,
    progress: &mut dyn FnMut(&Target) -> Box<dyn crate::sync::Progress>,
) -> Result<LastSync, AppError> {
    let mut last = LastSync::default();
    for t in targets {
        let result = sync_one(session, t, run, progress(t).as_mut()).await;
        last.accounts.push(result);
    }
    last.finished_at = now_secs();
    if !run.dry_run {
        last.save(&session.last_sync_file())?;
    }
    Ok(last)
}

async fn sync_one(
    session: &Session,
    t: &Target,
    run: &SyncRun,
    progress: &mut dyn crate::sync::Progress,
) -> AccountResult {
    let mut result = AccountResult {
        account: t.stored.name.clone(),
        direction: run.direction,
        dry_run: run.dry_run,
        summary: String::new(),
        done: 0,
        failed: Vec::new(),
        conflicts: Vec::new(),
        deleted_on_flickr: Vec::new(),
        error: None,
        refused: false,
    };
    let outcome = async {
        // One sync per account at a time, whoever starts it (the CLI, the
        // mount daemon, a second terminal): two syncs planning from the same
        // state would upload the same new photos twice.
        let lock_path = session.sync_lock_path(&t.account.nsid);
        let _lock = tokio::task::spawn_blocking(move || SyncLock::acquire(&lock_path))
            .await
            .map_err(|e| AppError::Other(format!("waiting for the sync lock: {e}")))??;
        let cat = session.catalog()?;
        let client = session.client(&t.stored)?;
        let opts = sync_options(&t.prefs, run);
        crate::sync::run_sync(&cat, &client, t.account.id, &opts, progress)
            .await
            .map_err(SyncStop::Sync)
    }
    .await;
    match outcome {
        Err(SyncStop::Sync(crate::sync::SyncError::Plan(crate::sync::PlanError::Unsafe {
            concerns,
            plan,
        }))) => {
            // What it would have done, why it was refused, how to confirm.
            result.summary = plan.summary.to_string();
            result.refused = true;
            result.error = Some(format!(
                "refused: {}; {}",
                concerns
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
                run.requester.how_to_confirm(run.direction)
            ));
        }
        Ok(report) => {
            result.summary = report.plan.summary.to_string();
            result.conflicts = report
                .plan
                .conflicts
                .iter()
                .map(|c| c.to_string())
                .collect();
            if let Some(exec) = report.executed {
                result.done = exec.done;
                result.failed = exec.failed.iter().map(|(_, line)| line.clone()).collect();
                result.deleted_on_flickr = exec.deleted_on_flickr;
            }
        }
        Err(e) => result.error = Some(e.to_string()),
    }
    result
}

/// Why one account's sync stopped before it finished.
#[derive(Debug, thiserror::Error)]
enum SyncStop {
    #[error(transparent)]
    App(#[from] AppError),
    #[error(transparent)]
    Sync(crate::sync::SyncError),
}
