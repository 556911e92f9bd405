//! Two-way sync between the catalog and Flickr: fetch Flickr's state, identify
//! local files for online photos, plan (a pure three-way merge against the
//! last-synced base), and execute the plan with a journal.
//!
//! This module never touches FUSE; the mount and the CLI call its entry points.

pub mod effects;
pub mod execute;
pub mod fetch;
pub mod identify;
pub mod plan;
pub mod snapshot;

pub use execute::{ExecError, ExecReport, MetaDefaults, NoProgress, Progress};
pub use plan::{
    merge_field, merge_member, next_base, plan, Action, Conflict, ConflictField, Merge, MetaEdit,
    Plan, PlanError, PlanOptions, PlanSummary, SafetyConcern, SafetyLimits, SetFilter, Side,
    SkipReason, Skipped, Subject, Threshold,
};
pub use snapshot::{
    normalize_tag, BasePhoto, BaseSet, BaseSnapshot, Checksum, FileState, LocalKey, LocalPhoto,
    LocalSet, LocalSetKey, LocalSnapshot, Media, PhotoMeta, PhotoRef, RemotePhoto, RemoteSet,
    RemoteSnapshot, SetRef,
};

use crate::catalog::{AccountId, Catalog};
use crate::flickr::Client;

/// How to run one account's sync.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncOptions {
    pub plan: PlanOptions,
    /// Plan only: neither the catalog nor Flickr is changed.
    pub dry_run: bool,
    pub defaults: MetaDefaults,
}

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("fetching Flickr's state: {0}")]
    Fetch(#[from] crate::flickr::FlickrError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
}

/// What a sync did.
#[derive(Debug)]
pub struct SyncReport {
    pub plan: Plan,
    /// `None` for a dry run.
    pub executed: Option<ExecReport>,
}

/// Fetches Flickr's state, records it in the catalog (unless `dry_run`) and
/// plans. Returns the plan with what the executor needs.
pub async fn plan_sync(
    cat: &Catalog,
    client: &Client,
    account: AccountId,
    opts: &SyncOptions,
) -> Result<(Plan, fetch::Fetched, LocalSnapshot, BaseSnapshot), SyncError> {
    let acct = cat.account(account)?;
    let fetched = fetch::fetch_full(client, &acct.nsid).await?;
    if !opts.dry_run {
        execute::record_fetched(cat, account, &fetched)?;
    }
    let (local, base) = execute::load_snapshots(cat, account, &opts.defaults)?;
    let plan = plan::plan(&local, &base, &fetched.snapshot, &opts.plan)?;
    Ok((plan, fetched, local, base))
}

/// Plans and (unless `dry_run`) executes one account's sync.
pub async fn run_sync(
    cat: &Catalog,
    client: &Client,
    account: AccountId,
    opts: &SyncOptions,
    progress: &mut dyn Progress,
) -> Result<SyncReport, SyncError> {
    let (plan, fetched, local, base) = plan_sync(cat, client, account, opts).await?;
    if opts.dry_run {
        return Ok(SyncReport {
            plan,
            executed: None,
        });
    }
    let acct = cat.account(account)?;
    let mut exec = execute::Executor {
        cat,
        client,
        account,
        default_folder: acct.default_folder.clone(),
        fetched: &fetched,
        local,
        remote: fetched.snapshot.clone(),
        base,
    };
    let report = exec.run(&plan, progress).await?;
    Ok(SyncReport {
        plan,
        executed: Some(report),
    })
}
