//! Two-way sync between the catalog and Flickr: fetch Flickr's state, identify
//! local files for online photos, plan (a pure three-way merge against the
//! last-synced base), and execute the plan with a journal.
//!
//! This module never touches FUSE; the mount and the CLI call its entry points.

pub mod download;
mod effects;
mod error;
pub mod execute;
pub mod fetch;
pub mod identify;
mod incremental;
pub mod plan;
pub mod restrict;
pub mod setedit;
pub mod snapshot;
pub mod state;

pub use error::{ExecError, SyncError};
pub use execute::{ExecReport, MetaDefaults, NoProgress, Progress};
pub use plan::{
    merge_field, merge_member, next_base, plan, Action, Conflict, ConflictField, Merge, MetaEdit,
    Plan, PlanError, PlanOptions, PlanSummary, PlanTotals, PoolFilter, RemovalCause, SafetyConcern,
    SafetyLimits, SetFilter, SetRemovals, Side, SkipReason, Skipped, Subject, Threshold,
};
pub use snapshot::{
    normalize_tag, BasePhoto, BaseSet, BaseSnapshot, Checksum, DateTaken, FileState, LocalKey,
    LocalPhoto, LocalSet, LocalSetKey, LocalSnapshot, Media, PhotoMeta, PhotoRef, RemotePhoto,
    RemoteSet, RemoteSnapshot, SetRef,
};

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::catalog::{AccountId, Catalog, ProblemKind};
use crate::flickr::Client;
use crate::model::{Direction, PhotoId};

pub use fetch::{FetchOptions, FetchReport};
pub use identify::Identification;
pub use state::SyncStore;

/// How to run one account's sync.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncOptions {
    pub plan: PlanOptions,
    /// Plan only: neither the catalog nor Flickr is changed.
    pub dry_run: bool,
    /// Upload settings a photo leaves to the preferences.
    pub defaults: MetaDefaults,
    /// A full reconciliation now instead of the incremental check.
    pub full: bool,
    /// When full reconciliations happen by themselves.
    pub fetch: FetchOptions,
    /// Uploads and downloads in flight at once.
    pub parallelism: usize,
    /// Look for local files of online photos before downloading them.
    pub identify: bool,
    /// Folders searched besides the default folder (`--search DIR`).
    pub search: Vec<PathBuf>,
    /// Download the originals not on disk (`download = all`); without it
    /// the mount fetches one when it is opened (`on-demand`).
    pub download_originals: bool,
    /// Photos whose download is skipped by this sync only (unticked in the
    /// review's download step).
    pub skip_downloads: std::collections::BTreeSet<crate::model::PhotoId>,
    /// After an incremental fetch, plan only the photos that changed (and
    /// those the planner compares them with, [`restrict`]); the other
    /// photos are known to plan to nothing. Without it the whole account
    /// is loaded and planned (the interactive review, which plans again
    /// from the snapshots).
    pub incremental: bool,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            plan: PlanOptions::default(),
            dry_run: false,
            defaults: MetaDefaults::default(),
            full: false,
            fetch: FetchOptions::default(),
            parallelism: 4,
            identify: true,
            search: Vec::new(),
            download_originals: true,
            skip_downloads: Default::default(),
            incremental: true,
        }
    }
}

impl SyncOptions {
    /// The options an account's preferences ask for, in `direction`.
    pub fn from_prefs(prefs: &crate::config::Prefs, direction: Direction) -> SyncOptions {
        use crate::config::Selection;
        let sets = match &prefs.sets {
            Selection::All => SetFilter::All,
            Selection::Only(list) => SetFilter::Only {
                ids: list
                    .iter()
                    .map(|s| crate::model::SetId::new(s.clone()))
                    .collect(),
                titles: list.iter().cloned().collect(),
            },
            Selection::Except { except } => SetFilter::Except {
                ids: except
                    .iter()
                    .map(|s| crate::model::SetId::new(s.clone()))
                    .collect(),
                titles: except.iter().cloned().collect(),
            },
        };
        let pools = match &prefs.pools {
            Selection::All => PoolFilter::All,
            Selection::Only(list) => PoolFilter::Only {
                ids: list
                    .iter()
                    .map(|s| crate::model::GroupId::new(s.clone()))
                    .collect(),
                names: list.iter().cloned().collect(),
            },
            Selection::Except { except } => PoolFilter::Except {
                ids: except
                    .iter()
                    .map(|s| crate::model::GroupId::new(s.clone()))
                    .collect(),
                names: except.iter().cloned().collect(),
            },
        };
        SyncOptions {
            plan: PlanOptions {
                direction,
                sets,
                pools,
                ..PlanOptions::default()
            },
            defaults: MetaDefaults {
                privacy: prefs.privacy,
                safety_level: prefs.safety_level,
                resize: prefs.resize,
            },
            parallelism: prefs.parallelism.clamp(1, 32) as usize,
            identify: prefs.identify,
            download_originals: prefs.download == crate::config::DownloadMode::All,
            ..SyncOptions::default()
        }
    }
}

/// An online photo and the local files that may be it.
pub type Candidates = (PhotoId, Vec<PathBuf>);
/// An online photo and the local file found to be it.
pub type Identified = (PhotoId, PathBuf);

/// Photos changed beyond which a sync plans the whole account rather than
/// look each up (and beyond a tenth of the account).
const WHOLE_PAST: u64 = 5_000;

/// What a sync did.
#[derive(Debug)]
pub struct SyncReport {
    pub plan: Plan,
    /// What the fetch did (incremental or full) and what it found.
    pub fetch: FetchReport,
    /// Online photos matched to local files instead of being downloaded.
    pub identified: Vec<(PhotoId, PathBuf)>,
    /// Online photos with several candidate files: listed, not downloaded.
    pub ambiguous: Vec<(PhotoId, Vec<PathBuf>)>,
    /// `None` for a dry run.
    pub executed: Option<ExecReport>,
}

/// A planned sync, ready to execute.
pub struct Planned {
    pub plan: Plan,
    /// The options the plan was made with (for a free account, with its
    /// upload quota): a plan made again from the same snapshots uses them.
    pub plan_opts: plan::PlanOptions,
    /// What a free account held and says in the plan, for the same reason.
    pub free_account: Option<FreeAccount>,
    pub fetched: fetch::Fetched,
    pub local: LocalSnapshot,
    pub base: BaseSnapshot,
    pub identified: Vec<(PhotoId, PathBuf)>,
    pub ambiguous: Vec<(PhotoId, Vec<PathBuf>)>,
    /// Only the photos that changed were loaded and planned (the snapshots
    /// hold those and what the planner compares them with).
    pub partial: bool,
    /// The dirty marks this plan accounted for (`None`: a dry run).
    pub settled: Option<crate::catalog::Settled>,
}

/// Records what a fetch learnt: the catalog first (new photos become
/// records; its triggers mark what changed dirty), then the photos Flickr
/// changed in ways no catalog write shows (set and pool memberships) are
/// marked dirty, then the sync's cache remembers the fetch, then the
/// cursor moves. A full listing is let go once the cache holds it.
fn record(
    cat: &Catalog,
    account: AccountId,
    fetched: &mut fetch::Fetched,
    store: &mut SyncStore,
) -> Result<(), SyncError> {
    link_created_sets(cat, account, fetched)?;
    execute::record_fetched(cat, account, fetched)?;
    let changed: Vec<String> = fetched
        .changed
        .iter()
        .map(|id| restrict::Item::Remote(id.clone()).encode())
        .collect();
    cat.mark_dirty(account, &changed)?;
    let t = std::time::Instant::now();
    fetch::commit(store, account, fetched)?;
    tracing::debug!("sync phase: save the cache {:?}", t.elapsed());
    cat.set_sync_cursor(account, fetched.delta.state.cursor)?;
    if fetched.delta.full {
        fetched.release_listing();
    }
    Ok(())
}

/// The Flickr photos of `remote` the catalog holds no record of (e.g.
/// listed by a dry run), recorded: returns whether there were any.
fn record_unknown(
    cat: &Catalog,
    account: AccountId,
    fetched: &fetch::Fetched,
    store: &SyncStore,
    local: &LocalSnapshot,
    remote: &RemoteSnapshot,
) -> Result<bool, SyncError> {
    let known: BTreeSet<&PhotoId> = local
        .photos
        .values()
        .filter_map(|p| p.remote.as_ref())
        .chain(local.ignored.iter())
        .collect();
    let mut missing: Vec<crate::catalog::RemotePhoto> = Vec::new();
    for id in remote.photos.keys() {
        if known.contains(id) {
            continue;
        }
        if let Some(s) = fetched.summary(store, account, id)? {
            missing.push(fetch::catalog_remote(&s));
        }
    }
    if missing.is_empty() {
        return Ok(false);
    }
    cat.upsert_remote_photos(account, &missing)?;
    Ok(true)
}

/// What a plan is made from, and which part of the account it covers.
struct Loaded {
    local: LocalSnapshot,
    base: BaseSnapshot,
    /// The dirty marks read (incremental) or `None` (the whole account).
    marks: Option<crate::catalog::DirtyMarks>,
    /// Marks up to this one are settled after the plan.
    seq: i64,
}

/// Loads the snapshots of the whole account, or (`part`) of its dirty
/// photos; `fetched.snapshot` then holds the matching Flickr photos.
fn load(
    cat: &Catalog,
    account: AccountId,
    fetched: &mut fetch::Fetched,
    store: &SyncStore,
    opts: &SyncOptions,
    part: bool,
) -> Result<Loaded, SyncError> {
    if !part {
        let seq = cat.dirty_seq()?;
        fetch::complete_snapshot(store, account, fetched)?;
        let (local, base) = execute::load_snapshots(cat, account, &opts.defaults)?;
        if !opts.dry_run && record_unknown(cat, account, fetched, store, &local, &fetched.snapshot)?
        {
            let (local, base) = execute::load_snapshots(cat, account, &opts.defaults)?;
            return Ok(Loaded {
                local,
                base,
                marks: None,
                seq,
            });
        }
        return Ok(Loaded {
            local,
            base,
            marks: None,
            seq,
        });
    }
    for _ in 0..2 {
        let marks = cat.dirty_marks(account)?;
        let mut items: BTreeSet<restrict::Item> = marks
            .items
            .iter()
            .filter_map(|s| restrict::Item::decode(s))
            .collect();
        items.extend(fetched.changed.iter().cloned().map(restrict::Item::Remote));
        let (local, base, remote) =
            incremental::load(cat, store, account, fetched, &opts.defaults, items)?;
        if !opts.dry_run && record_unknown(cat, account, fetched, store, &local, &remote)? {
            continue;
        }
        fetched.snapshot.photos = remote.photos;
        return Ok(Loaded {
            local,
            base,
            seq: marks.seq,
            marks: Some(marks),
        });
    }
    Err(SyncError::Exec(ExecError::Inconsistent(
        "Flickr photos just recorded in the catalog are still unknown to it".into(),
    )))
}

/// Whether a plan made on part of the account must be made again on the
/// whole of it ([`restrict::needs_whole_account`]).
fn needs_whole(r: &Result<Plan, PlanError>) -> bool {
    match r {
        Ok(p) => restrict::needs_whole_account(p),
        Err(PlanError::Unsafe { plan, .. }) => restrict::needs_whole_account(plan),
    }
}

/// Whether a plan trips (or, forced, reports) a safety threshold.
fn has_concerns(r: &Result<Plan, PlanError>) -> bool {
    match r {
        Ok(p) => !p.concerns.is_empty(),
        Err(PlanError::Unsafe { .. }) => true,
    }
}

/// A folder made locally whose set was created online by a sync that was
/// killed before recording it: the new Flickr set with the same title is
/// that folder's set (paired in creation order, as the planner does). Done
/// before the fetched sets are recorded, which would otherwise make a second
/// folder for it and leave the first to be created online again.
fn link_created_sets(
    cat: &Catalog,
    account: AccountId,
    fetched: &fetch::Fetched,
) -> Result<(), SyncError> {
    let folders = cat.sets(account)?;
    let known: BTreeSet<&crate::model::SetId> = folders.iter().filter_map(|c| c.set_id()).collect();
    let mut pending: BTreeMap<&str, Vec<crate::catalog::CollectionId>> = BTreeMap::new();
    for c in &folders {
        if c.set_id().is_none() && c.state == crate::catalog::CollectionState::Normal {
            pending.entry(c.title.as_str()).or_default().push(c.id);
        }
    }
    if pending.is_empty() {
        return Ok(());
    }
    let mut new: Vec<&crate::flickr::Photoset> = fetched
        .sets
        .iter()
        .filter(|s| !known.contains(&s.id))
        .collect();
    new.sort_by(|a, b| {
        (a.id.as_str().len(), a.id.as_str()).cmp(&(b.id.as_str().len(), b.id.as_str()))
    });
    for s in new {
        if let Some(list) = pending.get_mut(s.title.as_str()) {
            list.sort();
            if !list.is_empty() {
                let c = list.remove(0);
                cat.record_set_created(c, &s.id)?;
            }
        }
    }
    Ok(())
}

/// The identify step: online photos without a local file are looked for in
/// the default folder and `opts.search`; found files become their backing
/// files; ambiguous ones are recorded as problems.
fn identify_step(
    cat: &Catalog,
    account: AccountId,
    fetched: &fetch::Fetched,
    store: &SyncStore,
    local: &LocalSnapshot,
    opts: &SyncOptions,
    progress: &mut dyn Progress,
) -> Result<(Vec<Identified>, Vec<Candidates>), SyncError> {
    let mut want = Vec::new();
    let mut key_of = BTreeMap::new();
    for lp in local.photos.values() {
        let Some(id) = &lp.remote else { continue };
        if lp.file != FileState::Absent || lp.media == Media::Video {
            continue;
        }
        let Some(s) = fetched.summary(store, account, id)? else {
            continue;
        };
        key_of.insert(id.clone(), lp.key);
        want.push(identify::OnlinePhoto {
            id: id.clone(),
            title: s.title.clone(),
            taken: s.date_taken.clone(),
            granularity: s.taken_granularity.unwrap_or_default(),
            taken_unknown: s.taken_unknown,
            width: s.original_width.map(|w| w as u32),
            height: s.original_height.map(|h| h as u32),
            bytes: None,
        });
    }
    if want.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let acct = cat.account(account)?;
    let mut folders = vec![acct.default_folder.clone()];
    folders.extend(opts.search.iter().cloned());
    folders.retain(|f| f.is_dir());
    let exclude: BTreeSet<PathBuf> = cat
        .photos(account)?
        .into_iter()
        .filter_map(|p| p.local.map(|f| f.path))
        .collect();
    let index = identify::FileIndex::build(
        &folders,
        &identify::IndexOptions {
            workers: opts.parallelism.clamp(1, 8),
            exclude,
        },
    )?;
    let mut found = Vec::new();
    let mut ambiguous = Vec::new();
    for r in identify::identify(&want, &index) {
        match r {
            Identification::Found { photo, path, .. } => {
                let Some(key) = key_of.get(&photo) else {
                    continue;
                };
                let facts = crate::media::FileFacts::scan(&path).map_err(ExecError::Media)?;
                cat.set_local_file(crate::catalog::PhotoKey(key.0), &path, &facts)?;
                found.push((photo, path));
            }
            Identification::Ambiguous { photo, candidates } => {
                if let Some(key) = key_of.get(&photo) {
                    let list: Vec<String> =
                        candidates.iter().map(|p| p.display().to_string()).collect();
                    cat.add_problem(
                        account,
                        Some(crate::catalog::PhotoKey(key.0)),
                        ProblemKind::Ambiguous,
                        &format!(
                            "several local files may be photo {photo}: {} (flickrfs identify {photo} FILE)",
                            list.join(", ")
                        ),
                    )?;
                }
                ambiguous.push((photo, candidates));
            }
            Identification::NotFound { .. } => {}
        }
    }
    if !found.is_empty() || !ambiguous.is_empty() {
        progress.note(&format!(
            "identified {} online photos with local files; {} ambiguous (listed, not downloaded)",
            found.len(),
            ambiguous.len()
        ));
    }
    Ok((found, ambiguous))
}

/// Fetches Flickr's state (incrementally when it can), records it in the
/// catalog, identifies local files (unless `dry_run`) and plans: after an
/// incremental fetch, only the photos that changed (see [`restrict`]),
/// unless the sets, pools or options changed since the last plan or the
/// plan needs the whole account; then, and after a full fetch, the whole
/// account. The dirty set is settled (unless `dry_run`) before it returns.
pub async fn plan_sync(
    cat: &Catalog,
    client: &Client,
    account: AccountId,
    opts: &SyncOptions,
    progress: &mut dyn Progress,
) -> Result<Planned, SyncError> {
    let acct = cat.account(account)?;
    let calls_before = client.calls_made();
    let mut store = SyncStore::open(cat.path())?;
    let fetch_opts = FetchOptions {
        full: opts.full || opts.fetch.full,
        ..opts.fetch.clone()
    };
    let t = std::time::Instant::now();
    let mut fetched = fetch::fetch(
        client,
        &store,
        account,
        &acct.nsid,
        &fetch_opts,
        !opts.incremental,
    )
    .await?;
    tracing::debug!("sync phase: fetch {:?}", t.elapsed());
    let fetch_calls = client.calls_made().saturating_sub(calls_before);
    progress.note(&fetched.report.to_string());
    let t = std::time::Instant::now();
    if !opts.dry_run {
        record(cat, account, &mut fetched, &mut store)?;
        tracing::debug!("sync phase: record {:?}", t.elapsed());
    }
    // The photos left clean by the last plan are clean only if everything
    // else it depended on is as it was.
    let print = {
        let (local_sets, base_sets) = execute::load_sets(cat, account)?;
        let extra = format!("{:?} {}", opts.defaults, opts.download_originals);
        restrict::fingerprint(
            &local_sets,
            &base_sets,
            &fetched.snapshot,
            &opts.plan,
            &extra,
        )
    };
    let mut part =
        fetched.partial && store.plan_fingerprint(account)?.as_deref() == Some(print.as_str());
    if part {
        // Many photos changed (a first sync's bases to record, a bulk
        // edit): one pass over everything costs less than a lookup each.
        let dirty = cat.dirty_count(account)? + fetched.changed.len() as u64;
        part = dirty <= WHOLE_PAST.max(fetched.total / 10);
    }
    let with_fetch_calls = |e: PlanError| {
        let PlanError::Unsafe { concerns, mut plan } = e;
        plan.summary.fetch_calls = Some(fetch_calls);
        PlanError::Unsafe { concerns, plan }
    };
    let (loaded, identified, ambiguous, mut plan, plan_opts, free_account) = loop {
        let t = std::time::Instant::now();
        let mut loaded = load(cat, account, &mut fetched, &store, opts, part)?;
        let (mut identified, mut ambiguous) = (Vec::new(), Vec::new());
        if !opts.dry_run && opts.identify && opts.plan.direction.downloads() {
            (identified, ambiguous) = identify_step(
                cat,
                account,
                &fetched,
                &store,
                &loaded.local,
                opts,
                progress,
            )?;
            if !identified.is_empty() {
                loaded = load(cat, account, &mut fetched, &store, opts, part)?;
            }
        }
        tracing::debug!(
            "sync phase: load {} photos ({}) {:?}",
            loaded.local.photos.len(),
            if part { "dirty ones" } else { "all" },
            t.elapsed()
        );
        let t = std::time::Instant::now();
        let mut plan_opts = opts.plan.clone();
        let make = |o: &PlanOptions| plan::plan(&loaded.local, &loaded.base, &fetched.snapshot, o);
        let mut result = make(&plan_opts);
        if part && has_concerns(&result) {
            // Counted over part of the account, the thresholds' totals
            // are too low: the whole account's, counted.
            let c = cat.base_counts(account)?;
            plan_opts.totals = Some(PlanTotals {
                set_memberships: c.set_memberships as usize,
                pool_memberships: c.pool_memberships as usize,
                base_photos: c.photos as usize,
            });
            result = make(&plan_opts);
        }
        if part && needs_whole(&result) {
            part = false;
            continue;
        }
        let mut plan = result.map_err(with_fetch_calls)?;
        let mut free_account = None;
        // The account's type: asked once and remembered, asked again at a full
        // reconciliation (an upgrade to Pro shows there) and whenever this
        // plan's uploads could pass a free account's 1,000 photos (the count
        // must be fresh then). Two calls each time.
        let uploads = plan.summary.uploads as u64;
        let online = if fetched.partial {
            fetched.total
        } else {
            fetched.snapshot.photos.len() as u64
        };
        let could_pass =
            uploads > 0 && online + uploads > crate::flickr::AccountKind::FREE_MAX_PHOTOS;
        let mut kind = store.account_kind(account)?;
        let mut fresh = false;
        if kind.is_none() || fetched.report.full || could_pass {
            let k = client.account_kind(&acct.nsid).await?;
            if !opts.dry_run {
                store.save_account_kind(account, &k)?;
            }
            kind = Some(k);
            fresh = true;
        }
        if let Some(k) = kind.as_ref().filter(|k| !k.pro) {
            // Only a count just asked for decides what is held.
            if let Some(quota) = k.upload_quota().filter(|_| fresh && could_pass) {
                if part {
                    // The quota is spent in key order over every upload.
                    part = false;
                    continue;
                }
                progress.note(&format!(
                    "free Flickr account: {} of its 1,000 photos; originals over {} px are not served to it",
                    plan::thousands(online),
                    plan::thousands(u64::from(k.max_display_px.unwrap_or(1024)))
                ));
                let held = uploads.saturating_sub(quota);
                progress.note(&format!(
                    "{held} upload{} held: a free account keeps at most 1,000 photos",
                    if held == 1 { "" } else { "s" }
                ));
                plan_opts.upload_quota = Some(quota as usize);
                plan = make(&plan_opts).map_err(with_fetch_calls)?;
            } else {
                progress.note(&format!(
                    "free Flickr account: {} of its 1,000 photos; originals over {} px are not served to it",
                    plan::thousands(online),
                    plan::thousands(u64::from(k.max_display_px.unwrap_or(1024)))
                ));
            }
            let free = FreeAccount {
                photos: online,
                max_display_px: k.max_display_px,
                held_originals: match k.max_display_px {
                    Some(max_px) => originals_not_served(&plan, &fetched, &store, account, max_px)?,
                    None => Vec::new(),
                },
            };
            free.apply(&mut plan);
            free_account = Some(free);
        }
        tracing::debug!("sync phase: plan {:?}", t.elapsed());
        break (loaded, identified, ambiguous, plan, plan_opts, free_account);
    };
    plan.summary.fetch_calls = Some(fetch_calls);
    plan.hold_back_ambiguous(ambiguous.iter().map(|(p, _)| p));
    plan.hold_back_downloads(&opts.skip_downloads, SkipReason::SkippedThisSync);
    if !opts.download_originals {
        plan.leave_downloads_to_the_mount();
    }
    let mut settled = None;
    if !opts.dry_run {
        note_videos(cat, account, &plan)?;
        settled = Some(settle(
            cat, &store, account, &loaded, &fetched, &plan, &print,
        )?);
    }
    let Loaded { local, base, .. } = loaded;
    Ok(Planned {
        plan,
        plan_opts,
        free_account,
        fetched,
        local,
        base,
        identified,
        ambiguous,
        partial: part,
        settled,
    })
}

/// After a plan: the photos it gives an outcome stay dirty (or become so);
/// the others it looked at, marked before it loaded them, are clean; and
/// the digest they are clean for is remembered.
fn settle(
    cat: &Catalog,
    store: &SyncStore,
    account: AccountId,
    loaded: &Loaded,
    fetched: &fetch::Fetched,
    plan: &Plan,
    print: &str,
) -> Result<crate::catalog::Settled, SyncError> {
    let t = std::time::Instant::now();
    let keep = restrict::keep_dirty(plan, &loaded.local, &loaded.base, &fetched.snapshot);
    let dirty: Vec<String> = keep.iter().map(restrict::Item::encode).collect();
    let settled = match &loaded.marks {
        None => cat.settle_dirty(account, loaded.seq, None, &dirty)?,
        Some(marks) => {
            let mut clean: BTreeSet<String> =
                restrict::items_of(&loaded.local, &loaded.base, &fetched.snapshot)
                    .iter()
                    .filter(|i| !keep.contains(*i))
                    .map(restrict::Item::encode)
                    .collect();
            clean.extend(
                marks
                    .items
                    .iter()
                    .filter(|s| restrict::Item::decode(s).is_none_or(|i| !keep.contains(&i)))
                    .cloned(),
            );
            let clean: Vec<String> = clean.into_iter().collect();
            cat.settle_dirty(account, loaded.seq, Some(&clean), &dirty)?
        }
    };
    store.save_plan_fingerprint(account, Some(print))?;
    tracing::debug!(
        "sync phase: settle the dirty set ({} stay) {:?}",
        dirty.len(),
        t.elapsed()
    );
    Ok(settled)
}

/// With `download = on-demand` the originals stay on Flickr, and the mount
/// lists each with the size Flickr announces for it (a HEAD request per
/// photo, once; not an API call): a file manager that copies `st_size`
/// bytes (KIO does) copies the whole photo. A size Flickr does not give
/// now is asked again at the next sync.
async fn learn_original_sizes(
    cat: &Catalog,
    client: &Client,
    account: AccountId,
    parallelism: usize,
) -> Result<(), SyncError> {
    use futures_util::StreamExt;
    let wanted = cat.originals_without_size(account)?;
    let mut sizes = futures_util::stream::iter(wanted)
        .map(|(photo, url)| async move { (photo, client.file_size(&url).await) })
        .buffer_unordered(parallelism.max(8));
    let mut known = Vec::new();
    while let Some((photo, size)) = sizes.next().await {
        match size {
            Ok(Some(size)) => known.push((photo, size)),
            Ok(None) => {}
            Err(e) => tracing::info!("the size of photo {}'s original: {e}", photo.0),
        }
        // one transaction per batch, not per photo
        if known.len() >= 500 {
            cat.set_announced_sizes(&std::mem::take(&mut known))?;
        }
    }
    cat.set_announced_sizes(&known)?;
    Ok(())
}

/// What a free account changes in a plan: the summary says so before
/// anything runs ("free account: N of 1,000 photos"), and the downloads of
/// originals Flickr does not serve it are held. Kept with the plan so that
/// a plan made again (the interactive review's) says and holds the same.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FreeAccount {
    /// Photos the account holds on Flickr.
    pub photos: u64,
    /// people.getLimits `maxdisplaypx`.
    pub max_display_px: Option<u32>,
    /// Photos whose originals are larger than that.
    pub held_originals: Vec<PhotoId>,
}

impl FreeAccount {
    /// Says so in `plan`'s summary and holds the downloads of the
    /// originals not served (listed as skipped, counted).
    pub fn apply(&self, plan: &mut Plan) {
        plan.summary.free_account_photos = Some(self.photos);
        let Some(max_px) = self.max_display_px else {
            return;
        };
        let downloads: BTreeSet<&PhotoId> = plan.downloads().collect();
        let held: Vec<PhotoId> = self
            .held_originals
            .iter()
            .filter(|id| downloads.contains(id))
            .cloned()
            .collect();
        plan.summary.max_display_px = Some(max_px);
        plan.summary.originals_not_served = held.len();
        plan.hold_back_downloads(&held, SkipReason::OriginalNotServed { max_px });
    }
}

/// A free account is served nothing over `max_px`, originals included:
/// the photos `plan` downloads whose originals are larger (their size from
/// the listing's `o_dims`), to hold at plan time, never sent to fail or
/// stored reduced. An original whose size the listing did not give is
/// tried, and reported if Flickr does not serve it
/// (`download::download_original`).
fn originals_not_served(
    plan: &Plan,
    fetched: &fetch::Fetched,
    store: &SyncStore,
    account: AccountId,
    max_px: u32,
) -> Result<Vec<PhotoId>, SyncError> {
    let mut held = Vec::new();
    for a in &plan.actions {
        let Action::Download { photo, .. } = a else {
            continue;
        };
        let Some(s) = fetched.summary(store, account, photo)? else {
            continue;
        };
        let longest = s.original_width.max(s.original_height).unwrap_or(0);
        if longest > u64::from(max_px) {
            held.push(photo.clone());
        }
    }
    Ok(held)
}

/// Videos cannot be downloaded through the API, nor a free account's
/// originals over its size limit: each is recorded once as a "download by
/// hand" problem (not an error on every run).
fn note_videos(cat: &Catalog, account: AccountId, plan: &Plan) -> Result<(), SyncError> {
    let by_hand: Vec<(&PhotoId, &SkipReason)> = plan
        .skipped
        .iter()
        .filter(|s| {
            matches!(
                s.reason,
                SkipReason::VideoDownload | SkipReason::OriginalNotServed { .. }
            )
        })
        .filter_map(|s| match &s.subject {
            Subject::Photo(PhotoRef::Remote(id)) => Some((id, &s.reason)),
            _ => None,
        })
        .collect();
    if by_hand.is_empty() {
        return Ok(());
    }
    let known: BTreeSet<crate::catalog::PhotoKey> = cat
        .problems(Some(account))?
        .into_iter()
        .filter(|p| p.kind == ProblemKind::DownloadByHand)
        .filter_map(|p| p.photo)
        .collect();
    for (id, reason) in by_hand {
        if let Some(p) = cat.photo_by_remote_id(account, id)? {
            if !known.contains(&p.key) {
                let message = match reason {
                    SkipReason::OriginalNotServed { max_px } => format!(
                        "photo {id} {:?}: Flickr does not serve its original (a free account is served \
                         nothing over {} px); not stored as a reduced copy: download it by hand from Flickr",
                        p.meta.title,
                        plan::thousands(u64::from(*max_px))
                    ),
                    _ => format!(
                        "video {id} {:?}: Flickr does not serve video originals through the API; download it by hand",
                        p.meta.title
                    ),
                };
                cat.add_problem(account, Some(p.key), ProblemKind::DownloadByHand, &message)?;
            }
        }
    }
    Ok(())
}

/// Plans and (unless `dry_run`) executes one account's sync.
pub async fn run_sync(
    cat: &Catalog,
    client: &Client,
    account: AccountId,
    opts: &SyncOptions,
    progress: &mut dyn Progress,
) -> Result<SyncReport, SyncError> {
    let calls_before = client.calls_made();
    let planned = plan_sync(cat, client, account, opts, progress).await?;
    let Planned {
        mut plan,
        mut fetched,
        local,
        base,
        identified,
        ambiguous,
        settled,
        ..
    } = planned;
    if opts.dry_run {
        return Ok(SyncReport {
            plan,
            fetch: fetched.report,
            identified,
            ambiguous,
            executed: None,
        });
    }
    let acct = cat.account(account)?;
    // The executor's copy of Flickr's state is updated as actions land;
    // the listing keeps only what downloads need (no second 100k-photo copy).
    let remote = std::mem::take(&mut fetched.snapshot);
    // Of the listing, the executor reads only the photos it downloads or
    // links: the rest (on a no-op, all of it) is let go before it runs.
    let wanted: BTreeSet<&PhotoId> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Download { photo, .. } => Some(photo),
            Action::LinkPhoto { remote, .. } => Some(remote),
            _ => None,
        })
        .collect();
    fetched.photos.retain(|id, _| wanted.contains(id));
    // An incremental fetch lists only what changed: the others it reads
    // come from the sync's cache.
    let store = SyncStore::open(cat.path())?;
    let mut from_cache = BTreeMap::new();
    for id in wanted {
        if !fetched.photos.contains_key(id) {
            if let Some(s) = fetched.summary(&store, account, id)? {
                from_cache.insert(id.clone(), s);
            }
        }
    }
    drop(store);
    fetched.photos.extend(from_cache);
    let mut exec = execute::Executor {
        cat,
        client,
        account,
        default_folder: acct.default_folder.clone(),
        fetched: &fetched,
        local,
        remote,
        base,
        defaults: opts.defaults.clone(),
        parallelism: opts.parallelism.max(1),
        recent_uploads: BTreeMap::new(),
        open_uploads: BTreeMap::new(),
        settled,
    };
    let t = std::time::Instant::now();
    exec.prepare_resume(progress).await?;
    let report = exec.run(&plan, progress).await?;
    tracing::debug!("sync phase: execute + write the base {:?}", t.elapsed());
    if !opts.download_originals {
        learn_original_sizes(cat, client, account, opts.parallelism.max(1)).await?;
    }
    // Pools have no date_update: remember our own changes to them.
    let pool_changes = plan.actions.iter().any(|a| {
        matches!(
            a,
            Action::AddToPool {
                side: Side::Remote,
                ..
            } | Action::RemoveFromPool {
                side: Side::Remote,
                ..
            }
        )
    });
    if pool_changes {
        // The executor's snapshot may hold only the photos this sync
        // planned: the cached members of the others stay as they are.
        let mut store = SyncStore::open(cat.path())?;
        let cached = store.load_sets_and_pools(account)?;
        let mut pools: BTreeMap<crate::model::GroupId, Vec<PhotoId>> = BTreeMap::new();
        for g in exec.remote.groups.keys() {
            let kept = cached
                .pools
                .iter()
                .find(|(c, _)| c.id == *g)
                .map(|(_, m)| m.as_slice())
                .unwrap_or_default()
                .iter()
                .filter(|id| !exec.remote.photos.contains_key(*id))
                .cloned()
                .collect();
            pools.insert(g.clone(), kept);
        }
        for (id, p) in &exec.remote.photos {
            for g in &p.pools {
                pools.entry(g.clone()).or_default().push(id.clone());
            }
        }
        store.save_pool_members(account, &pools)?;
    }
    plan.summary.calls_made = Some(client.calls_made().saturating_sub(calls_before));
    Ok(SyncReport {
        plan,
        fetch: fetched.report.clone(),
        identified,
        ambiguous,
        executed: Some(report),
    })
}
