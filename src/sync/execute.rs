//! Carrying a plan out against the catalog and Flickr, and the adapters
//! between the catalog's records and the planner's snapshots.
//!
//! Uploads are journaled in the catalog before they are sent and carry the
//! machine tag `flickrfs:sha1=<hex>`; an upload whose journal entry was left
//! open by an interrupted sync is first looked up by that tag, so a resumed
//! sync never uploads twice. Downloads go into the default folder (a
//! subfolder per set), through the client's temp-file + fsync + rename,
//! never over a different existing file. The catalog is updated as each
//! action completes, so the mount sees new photos at once; each success is
//! also applied to in-memory snapshots ([`super::effects`]) from which the
//! new merge base is written at the end. A failed action is reported, by
//! file, title and set title (never an internal key), and left for the next
//! sync. Phases run in plan order; within one, uploads, downloads and the
//! membership jobs of different sets run in parallel, and a set new in this
//! plan is created as soon as its first photo has landed. Additions to and
//! removals from one set are batched by [`super::setedit`]. An upload whose
//! reply was lost is looked up among the photos uploaded since it began
//! (people.getPhotos `min_upload_date`, then the machine tag) before it is
//! reported failed.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::effects::{apply_action, Minted};
pub use super::error::ExecError;
use super::fetch::{catalog_remote, Fetched};
use super::plan::{abbreviate, next_base_photo, next_base_sets, Action, MetaEdit, Plan, Side};
use super::snapshot::{
    BasePhoto, BaseSet, BaseSnapshot, Checksum, FileState, LocalKey, LocalPhoto, LocalSet,
    LocalSetKey, LocalSnapshot, Media, PhotoMeta, PhotoRef, RemoteSnapshot, SetRef,
};
use crate::catalog::{
    self, names, AccountId, Catalog, CatalogError, CollectionId, CollectionKind, Intent,
    MembershipChange, MetaField, PhotoKey, RefusedEdits, SyncedBase,
};
use crate::flickr::{
    Client, Extra, FlickrError, PhotoSummary, SafetyLevel, UploadOptions, UploadOutcome,
};
use crate::model::{GroupId, PhotoId, Privacy, Resize, SetId};

/// Why a resized upload did not start.
enum ResizeError {
    Media(crate::media::MediaError),
    /// The original no longer hashes to the recorded SHA-1 (the one found).
    Changed(String),
}

impl From<crate::media::MediaError> for ResizeError {
    fn from(e: crate::media::MediaError) -> Self {
        ResizeError::Media(e)
    }
}

/// Defaults for the upload settings a local photo leaves to the
/// preferences (per-photo settings from xattrs win).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaDefaults {
    pub privacy: Privacy,
    pub safety_level: crate::config::SafetyLevel,
    pub resize: Resize,
}

/// The folders of an account as the planner sees them (local sets, and the
/// base's set titles), without their photos: few rows.
pub fn load_sets(
    cat: &Catalog,
    account: AccountId,
) -> Result<(LocalSnapshot, BaseSnapshot), CatalogError> {
    let mut local = LocalSnapshot::default();
    let mut base = BaseSnapshot::default();
    for c in cat.sets(account)? {
        local.sets.insert(
            LocalSetKey(c.id.0),
            LocalSet {
                key: LocalSetKey(c.id.0),
                remote: c.set_id().cloned(),
                title: c.title,
                description: c.description,
            },
        );
    }
    for c in cat.collections(account)? {
        if let (Some(id), Some(t)) = (c.set_id(), &c.synced_title) {
            base.sets.insert(id.clone(), BaseSet { title: t.clone() });
        }
    }
    Ok((local, base))
}

/// Reads the catalog's view of an account (local side) and the merge base.
pub fn load_snapshots(
    cat: &Catalog,
    account: AccountId,
    defaults: &MetaDefaults,
) -> Result<(LocalSnapshot, BaseSnapshot), CatalogError> {
    let (mut local, mut base) = load_sets(cat, account)?;
    let collections = Collections::load(cat, account)?;
    let mut members: BTreeMap<PhotoKey, Vec<CollectionId>> = BTreeMap::new();
    // Every membership of the account in one query.
    for (photo, c) in cat.account_memberships(account)? {
        if collections.listed.contains(&c) {
            members.entry(photo).or_default().push(c);
        }
    }
    let mut bases = cat.synced_bases(account)?;
    let refused: std::collections::BTreeSet<PhotoKey> = cat
        .problems(Some(account))?
        .into_iter()
        .filter(|p| p.kind == catalog::ProblemKind::Refused)
        .filter_map(|p| p.photo)
        .collect();
    let refused_edits = cat.refused_edits(account)?;
    cat.for_each_photo(account, |p| {
        let remote = p.remote_id().cloned();
        if p.ignored {
            if let Some(id) = remote {
                local.ignored.insert(id);
            }
            return Ok(());
        }
        // Moved out of the catalog's rows: no second copy of every base.
        let b = bases.remove(&p.key);
        let (lp, b) = local_photo(
            &p,
            defaults,
            refused.contains(&p.key),
            members.get(&p.key).into_iter().flatten().copied(),
            &collections,
            b,
            refused_edits.get(&p.key),
        );
        if let (Some(id), Some(b)) = (remote, b) {
            base.photos.insert(id, b);
        }
        local.photos.insert(lp.key, lp);
        Ok(())
    })?;
    Ok((local, base))
}

/// The folders whose memberships count: the listed sets (not those pending
/// deletion) and the pools, with each pool's group.
pub(super) struct Collections {
    pub listed: BTreeSet<CollectionId>,
    pub pool_of: BTreeMap<CollectionId, GroupId>,
}

impl Collections {
    /// Read from the catalog (few rows: the account's folders).
    pub fn load(cat: &Catalog, account: AccountId) -> Result<Collections, CatalogError> {
        let mut out = Collections {
            listed: BTreeSet::new(),
            pool_of: BTreeMap::new(),
        };
        for c in cat.sets(account)? {
            out.listed.insert(c.id);
        }
        for c in cat.pools(account)? {
            if let CollectionKind::Pool(g) = c.kind {
                out.listed.insert(c.id);
                out.pool_of.insert(c.id, g);
            }
        }
        Ok(out)
    }
}

/// The planner's view of one catalog record that is not ignored, in the
/// `collections` given (its memberships), and of its merge base `base`.
pub(super) fn local_photo(
    p: &catalog::Photo,
    defaults: &MetaDefaults,
    refused: bool,
    collections: impl Iterator<Item = CollectionId>,
    folders: &Collections,
    base: Option<SyncedBase>,
    refused_edits: Option<&RefusedEdits>,
) -> (LocalPhoto, Option<BasePhoto>) {
    let remote = p.remote_id().cloned();
    let key = LocalKey(p.key.0);
    let mut lp = LocalPhoto {
        key,
        remote: remote.clone(),
        meta: PhotoMeta {
            title: p.meta.title.clone(),
            description: p.meta.description.clone().unwrap_or_default(),
            tags: p
                .meta
                .tags
                .iter()
                .flatten()
                .map(|t| super::snapshot::normalize_tag(t))
                .filter(|t| !t.is_empty())
                .collect(),
            privacy: p.meta.privacy.unwrap_or(defaults.privacy),
        },
        ..LocalPhoto::default()
    };
    match &p.local {
        None => lp.file = FileState::Absent,
        Some(f) if f.missing || f.writing => lp.file = FileState::Missing,
        Some(_) => lp.file = FileState::Present,
    }
    lp.checksum = p.local.as_ref().and_then(|f| f.checksum.clone());
    lp.taken = p.remote.as_ref().and_then(|r| {
        r.date_taken.clone().map(|at| super::snapshot::DateTaken {
            at,
            granularity: r.granularity,
        })
    });
    lp.media = match (&p.local, &p.remote) {
        (Some(f), _) if f.kind.is_video() => Media::Video,
        (Some(f), _) if p.junk || p.meta.skip || !f.kind.is_media() => Media::NotMedia,
        (Some(_), None) if refused => Media::NotMedia,
        (None, Some(r)) if r.media_video => Media::Video,
        _ => Media::Photo,
    };
    for c in collections.filter(|c| folders.listed.contains(c)) {
        match folders.pool_of.get(&c) {
            Some(g) => {
                lp.pools.insert(g.clone());
            }
            None => {
                lp.sets.insert(LocalSetKey(c.0));
            }
        }
    }
    let base = match (remote, base) {
        (Some(_), Some(b)) => {
            let b = BasePhoto {
                meta: PhotoMeta {
                    title: b.title,
                    description: b.description,
                    tags: b
                        .tags
                        .iter()
                        .map(|t| super::snapshot::normalize_tag(t))
                        .collect(),
                    privacy: b.privacy,
                },
                sets: b.sets.into_iter().collect(),
                pools: b.pools.into_iter().collect(),
            };
            // A value Flickr refused is not a local change until it changes
            // again: it was reported once, it is not retried at every sync.
            for (field, digest) in refused_edits.into_iter().flatten() {
                if lp.meta.digest(*field) == *digest {
                    lp.meta.take_field(&b.meta, *field);
                }
            }
            Some(b)
        }
        _ => None,
    };
    (lp, base)
}

/// Records Flickr's listings in the catalog: new photos become remote-only
/// records, new sets and pools become folders.
pub fn record_fetched(cat: &Catalog, account: AccountId, f: &Fetched) -> Result<(), CatalogError> {
    // An incremental fetch rebuilds the listing from the sync's cache, which
    // the catalog already holds (it is recorded before the cache is saved):
    // only what this fetch saw change is written. Photos the catalog does
    // not know at all are added by the caller.
    // The listing holds exactly those; converted one at a time, never a
    // second copy of a 100,000-photo listing.
    cat.upsert_remote_photos(account, f.photos.values().map(catalog_remote))?;
    let sets: Vec<catalog::RemoteSet> = f
        .sets
        .iter()
        .map(|s| catalog::RemoteSet {
            id: s.id.clone(),
            title: s.title.clone(),
            description: s.description.clone(),
            primary: s.primary.clone(),
        })
        .collect();
    cat.upsert_remote_sets(account, &sets)?;
    let pools: Vec<catalog::RemotePool> = f
        .groups
        .iter()
        .map(|g| catalog::RemotePool {
            id: g.id.clone(),
            name: g.name.clone(),
        })
        .collect();
    cat.upsert_pools(account, &pools)?;
    Ok(())
}

/// Progress of an execution.
pub trait Progress {
    /// Called before action `index` (0-based) of `total`; `what` names it
    /// for people (files, titles and set titles, never internal keys).
    fn starting(&mut self, _index: usize, _total: usize, _action: &Action, _what: &str) {}
    /// Called after it, with its outcome.
    fn finished(&mut self, _action: &Action, _result: Result<(), &ExecError>) {}
    /// A message for people about the sync as a whole (the fetch's
    /// findings, identification, waiting for the API budget).
    fn note(&mut self, _message: &str) {}
    /// An action failed: the line names the file or title and the set's
    /// title, never an internal key, then the reason.
    fn failed(&mut self, _line: &str) {}
}

/// A unit of work of one phase: one action, or the membership changes of
/// one Flickr set (batched by [`super::setedit`]).
enum Job {
    One(usize),
    SetMembers { add: bool, items: Vec<usize> },
}

impl Job {
    fn indices(&self) -> Vec<usize> {
        match self {
            Job::One(k) => vec![*k],
            Job::SetMembers { items, .. } => items.clone(),
        }
    }
}

/// A progress sink that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What an execution did.
#[derive(Debug, Default)]
pub struct ExecReport {
    pub done: usize,
    /// Each failed action with one line for people: what (by file, title
    /// and set title) and why.
    pub failed: Vec<(Action, String)>,
    /// Uploads found already on Flickr (by their checksum machine tag) after
    /// an interrupted sync, instead of being sent again.
    pub resumed_uploads: usize,
    /// Photos deleted on Flickr that left the collection, one line each:
    /// which, and where its file stays.
    pub deleted_on_flickr: Vec<String>,
}

/// The executor's working state for one account.
pub struct Executor<'a> {
    pub cat: &'a Catalog,
    pub client: &'a Client,
    pub account: AccountId,
    pub default_folder: PathBuf,
    pub fetched: &'a Fetched,
    pub local: LocalSnapshot,
    pub remote: RemoteSnapshot,
    pub base: BaseSnapshot,
    pub defaults: MetaDefaults,
    /// Uploads and downloads in flight at once (at least 1).
    pub parallelism: usize,
    /// Photos uploaded since an interrupted sync began, by checksum (filled
    /// by [`Executor::prepare_resume`]).
    pub recent_uploads: BTreeMap<Checksum, PhotoSummary>,
    /// Open upload intents per photo (from an interrupted sync).
    pub open_uploads: BTreeMap<PhotoKey, Vec<catalog::JournalId>>,
    /// The dirty marks the plan accounted for: a photo that planned
    /// nothing and whose base is written is then clean
    /// ([`super::restrict::keep_dirty`]). `None`: left dirty.
    pub settled: Option<catalog::Settled>,
}

impl Executor<'_> {
    /// After an edit call: when Flickr refused the value for good (an error
    /// of the method itself, codes below 95, not a transient or account
    /// one), remember the value so later syncs do not send it again, and
    /// say so once in the status. The error still fails this action.
    fn note_refusal(
        &self,
        photo: &PhotoId,
        edit: &MetaEdit,
        fields: &[MetaField],
        result: Result<(), FlickrError>,
    ) -> Result<(), ExecError> {
        let Err(e) = result else { return Ok(()) };
        if !matches!(e.code(), Some(1..=94)) {
            return Err(e.into());
        }
        let sent = PhotoMeta {
            title: edit.title.clone().unwrap_or_default(),
            description: edit.description.clone().unwrap_or_default(),
            tags: edit.tags.clone().unwrap_or_default(),
            privacy: edit.privacy.unwrap_or_default(),
        };
        let refused: RefusedEdits = fields.iter().map(|f| (*f, sent.digest(*f))).collect();
        let key = self.key_of(&PhotoRef::Remote(photo.clone()))?;
        let title = self.cat.photo(key)?.meta.title;
        let names: Vec<&str> = fields.iter().map(|f| f.as_str()).collect();
        self.cat.record_refused_edit(
            self.account,
            key,
            &refused,
            &format!(
                "Flickr refused the new {} of '{}' (photo {photo}): {e}; not sent again until you change it",
                names.join(" and "),
                abbreviate(&title, 80),
            ),
        )?;
        Err(e.into())
    }

    fn key_of(&self, p: &PhotoRef) -> Result<PhotoKey, ExecError> {
        match p {
            PhotoRef::Local(k) => Ok(PhotoKey(k.0)),
            PhotoRef::Remote(id) => self
                .cat
                .photo_by_remote_id(self.account, id)?
                .map(|p| p.key)
                .ok_or_else(|| {
                    ExecError::Inconsistent(format!("no catalog record for photo {id}"))
                }),
        }
    }

    fn id_of(&self, p: &PhotoRef) -> Result<PhotoId, ExecError> {
        match p {
            PhotoRef::Remote(id) => Ok(id.clone()),
            PhotoRef::Local(k) => self
                .cat
                .photo(PhotoKey(k.0))?
                .remote_id()
                .cloned()
                .ok_or_else(|| {
                    ExecError::Inconsistent(format!(
                        "{} is not on Flickr (its upload did not succeed)",
                        self.photo_name(p)
                    ))
                }),
        }
    }

    fn collection_of(&self, s: &SetRef) -> Result<CollectionId, ExecError> {
        match s {
            SetRef::Local(k) => Ok(CollectionId(k.0)),
            SetRef::Remote(id) => self
                .cat
                .set_by_remote_id(self.account, id)?
                .map(|c| c.id)
                .ok_or_else(|| ExecError::Inconsistent(format!("no folder for set {id}"))),
        }
    }

    fn set_id_of(&self, s: &SetRef) -> Result<SetId, ExecError> {
        match s {
            SetRef::Remote(id) => Ok(id.clone()),
            SetRef::Local(k) => self
                .cat
                .collection(CollectionId(k.0))?
                .set_id()
                .cloned()
                .ok_or_else(|| {
                    ExecError::Inconsistent(format!(
                        "{} is not on Flickr (it was not created)",
                        self.set_name(s)
                    ))
                }),
        }
    }

    fn pool_collection(&self, g: &GroupId) -> Result<CollectionId, ExecError> {
        self.cat
            .pools(self.account)?
            .into_iter()
            .find(|c| matches!(&c.kind, CollectionKind::Pool(x) if x == g))
            .map(|c| c.id)
            .ok_or_else(|| ExecError::Inconsistent(format!("no folder for pool {g}")))
    }

    /// The first photo of local folder `set` that is on Flickr (uploaded
    /// before or during this sync).
    fn online_member(&self, set: LocalSetKey) -> Option<PhotoId> {
        self.local
            .photos
            .values()
            .filter(|p| p.sets.contains(&set))
            .find_map(|p| p.remote.clone())
    }

    /// Looks for an upload of `checksum` that already landed: among the
    /// photos uploaded since the interrupted sync began, among those
    /// uploaded since `since` (people.getPhotos with `min_upload_date`, which
    /// lists a new upload at once), then by the machine tag (photos.search,
    /// whose index may lag behind new uploads).
    async fn find_landed(
        &self,
        checksum: &Checksum,
        since: Option<i64>,
    ) -> Result<Option<PhotoSummary>, ExecError> {
        if let Some(s) = self.recent_uploads.get(checksum) {
            return Ok(Some(s.clone()));
        }
        let carries = |s: &PhotoSummary| {
            s.machine_tags
                .iter()
                .chain(&s.tags)
                .any(|t| Checksum::from_machine_tag(t).as_ref() == Some(checksum))
        };
        if let Some(since) = since {
            let mut page = 1;
            loop {
                let got = self
                    .client
                    .photos_page(Extra::SYNC, page, Some(since))
                    .await?;
                let more = got.has_more();
                if let Some(s) = got.items.into_iter().find(|s| carries(s)) {
                    return Ok(Some(s));
                }
                if !more {
                    break;
                }
                page += 1;
            }
        }
        let found = self
            .client
            .find_by_machine_tag(&checksum.machine_tag(), Extra::SYNC)
            .await?;
        Ok(found.into_iter().find(|s| {
            s.machine_tags
                .iter()
                .chain(&s.tags)
                .any(|t| Checksum::from_machine_tag(t).as_ref() == Some(checksum))
        }))
    }

    async fn upload(
        &self,
        photo: LocalKey,
        meta: &PhotoMeta,
        sum: Option<&Checksum>,
    ) -> Result<(PhotoId, bool), ExecError> {
        let key = PhotoKey(photo.0);
        let record = self.cat.photo(key)?;
        let path = record
            .local
            .as_ref()
            .map(|f| f.path.clone())
            .ok_or_else(|| ExecError::Inconsistent(format!("{photo} has no file")))?;
        let checksum = match sum {
            Some(c) => c.clone(),
            None => {
                let p = path.clone();
                let c = tokio::task::spawn_blocking(move || crate::media::sha1_file(&p))
                    .await
                    .map_err(|e| ExecError::Inconsistent(format!("checksum task: {e}")))??;
                c
            }
        };
        let media_sum = checksum.clone();
        let earlier = self.open_uploads.get(&key).cloned().unwrap_or_default();
        let finish = |journal: &[catalog::JournalId]| -> Result<(), ExecError> {
            for j in journal {
                self.cat.journal_finish(*j)?;
            }
            Ok(())
        };
        // An open intent for this photo: a previous sync may have uploaded it.
        if !earlier.is_empty() {
            if let Some(s) = self.find_landed(&checksum, None).await? {
                self.cat.record_upload(key, &catalog_remote(&s))?;
                finish(&earlier)?;
                return Ok((s.id.clone(), true));
            }
        }
        let journal = self.cat.journal_begin(
            self.account,
            &Intent::UploadStarted {
                photo: key,
                checksum: media_sum,
            },
        )?;
        // in the user's wording ("summer light", not `summerlight`)
        let local_tags = record.meta.tags.clone().unwrap_or_default();
        let mut tags = worded_tags(&meta.tags, &[], &local_tags);
        tags.push(checksum.machine_tag());
        let opts = UploadOptions {
            title: Some(meta.title.clone()),
            description: Some(meta.description.clone()).filter(|d| !d.is_empty()),
            tags,
            visibility: Some(meta.privacy.flags()),
            safety_level: Some(match self.defaults.safety_level {
                crate::config::SafetyLevel::Safe => SafetyLevel::Safe,
                crate::config::SafetyLevel::Moderate => SafetyLevel::Moderate,
                crate::config::SafetyLevel::Restricted => SafetyLevel::Restricted,
            }),
            ..UploadOptions::default()
        };
        // Resized copies keep the original's EXIF block; the checksum tag is
        // always the original file's.
        let resize = record.meta.resize.unwrap_or(self.defaults.resize);
        let is_image = record
            .local
            .as_ref()
            .is_some_and(|f| f.kind.is_decodable_image());
        let resized = match resize {
            Resize::LongestEdge(edge) if is_image => {
                let src = path.clone();
                let expect = checksum.clone();
                let tmp = tokio::task::spawn_blocking(move || {
                    // the original must still be the bytes recorded
                    let found = crate::media::sha1_file(&src)?;
                    if found.as_str() != expect.as_str() {
                        return Err(ResizeError::Changed(found.as_str().to_owned()));
                    }
                    let tmp = tempfile::Builder::new()
                        .prefix(".flickrfs-resized-")
                        .suffix(".jpg")
                        .tempfile()
                        .map_err(|e| crate::media::MediaError::io(&src, e))?;
                    crate::media::resize_keep_exif(&src, edge, tmp.path())?;
                    Ok::<_, ResizeError>(tmp)
                })
                .await
                .map_err(|e| ExecError::Inconsistent(format!("resize task: {e}")))?;
                match tmp {
                    Ok(tmp) => Some(tmp),
                    Err(ResizeError::Media(e)) => return Err(e.into()),
                    Err(ResizeError::Changed(found)) => {
                        let e = FlickrError::ContentChanged {
                            path: path.clone(),
                            expected: checksum.as_str().to_owned(),
                            found,
                        };
                        self.content_changed(key, &path, &meta.title)?;
                        self.cat.journal_finish(journal)?;
                        return Err(e.into());
                    }
                }
            }
            _ => None,
        };
        let send = resized.as_ref().map(|t| t.path()).unwrap_or(&path);
        // the bytes sent must be those recorded when the file was finished
        // (a crash can leave a copy altered without the catalog knowing)
        let opts = UploadOptions {
            expect_sha1: resized.is_none().then(|| checksum.as_str().to_owned()),
            ..opts
        };
        // Clocks differ: look a few minutes further back than this upload.
        let began = unix_now() - 300;
        let outcome = match self.client.upload(send, &opts).await {
            Ok(o) => o,
            Err(e @ FlickrError::ContentChanged { .. }) => {
                self.content_changed(key, &path, &meta.title)?;
                self.cat.journal_finish(journal)?;
                return Err(e.into());
            }
            Err(e) => {
                // The reply may have been lost after the photo landed.
                if let Ok(Some(s)) = self.find_landed(&checksum, Some(began)).await {
                    self.cat.record_upload(key, &catalog_remote(&s))?;
                    finish(&earlier)?;
                    self.cat.journal_finish(journal)?;
                    return Ok((s.id.clone(), true));
                }
                if matches!(e.code(), Some(4) | Some(5)) {
                    // Flickr will refuse these bytes every time: say so once
                    // and leave the file out of later plans until it changes.
                    self.cat.journal_finish(journal)?;
                    self.cat.add_problem(
                        self.account,
                        Some(key),
                        catalog::ProblemKind::Refused,
                        &format!(
                            "Flickr refused '{}' ({}): {e}; it is not uploaded again unless the file changes",
                            meta.title,
                            path.display()
                        ),
                    )?;
                }
                return Err(e.into());
            }
        };
        drop(resized);
        let id = match outcome {
            UploadOutcome::Uploaded { id, .. } | UploadOutcome::Duplicate { existing: id } => id,
            UploadOutcome::Ticket(t) => {
                return Err(ExecError::Inconsistent(format!(
                    "asynchronous upload ticket {t} not expected"
                )))
            }
        };
        let mut remote = catalog::RemotePhoto {
            id: id.clone(),
            title: meta.title.clone(),
            description: meta.description.clone(),
            tags: meta.tags.iter().cloned().collect(),
            visibility: meta.privacy.flags(),
            date_taken: None,
            granularity: Default::default(),
            original_format: None,
            original_secret: None,
            secret: None,
            server: None,
            url_original: None,
            lastupdate: 0,
            media_video: false,
            checksum_tag: Some(checksum.clone()),
        };
        remote.media_video = record.local.as_ref().is_some_and(|f| f.kind.is_video());
        self.cat.record_upload(key, &remote)?;
        self.cat.journal_finish(journal)?;
        finish(&earlier)?;
        Ok((id, false))
    }

    /// `photo`'s file no longer holds the bytes recorded: it is not
    /// uploaded. A copy the mount wrote was altered behind its back (what
    /// a crash or power loss can leave): it stays out of uploads until it
    /// is written again. A user's own file was edited: its new content is
    /// recorded, to be uploaded by the next sync.
    fn content_changed(&self, photo: PhotoKey, path: &Path, title: &str) -> Result<(), ExecError> {
        if self.cat.is_own_file(path)? {
            let facts = crate::media::FileFacts::scan(path).ok();
            self.cat.mark_incomplete(
                photo,
                facts.as_ref(),
                "its bytes changed behind the mount's back after the copy finished, as a crash or \
                 power loss can leave them",
            )?;
        } else {
            self.cat.refresh_local(photo)?;
            self.cat.add_problem(
                self.account,
                Some(photo),
                catalog::ProblemKind::Other,
                &format!(
                    "'{title}' ({}) changed while it was being uploaded: not uploaded; its new \
                     content goes up with the next sync",
                    path.display()
                ),
            )?;
        }
        Ok(())
    }

    /// Before executing after an interrupted sync: closes intents that are
    /// settled (uploads recorded, downloads in place), removes temporary
    /// download files left by a kill, and lists the photos uploaded since
    /// the interrupted sync began so that open uploads are matched by their
    /// checksum instead of being sent again.
    pub async fn prepare_resume(&mut self, progress: &mut dyn Progress) -> Result<(), ExecError> {
        let open = self.cat.journal_open(self.account)?;
        if open.is_empty() {
            return Ok(());
        }
        let mut earliest: Option<i64> = None;
        for j in open {
            match &j.intent {
                Intent::UploadStarted { photo, .. } => {
                    let done = self
                        .cat
                        .photo(*photo)
                        .map(|p| p.remote.is_some())
                        .unwrap_or(true);
                    if done {
                        self.cat.journal_finish(j.id)?;
                    } else {
                        earliest = Some(earliest.map_or(j.started_at, |e| e.min(j.started_at)));
                        self.open_uploads.entry(*photo).or_default().push(j.id);
                    }
                }
                Intent::DownloadStarted { dest, .. } => {
                    if let Some(dir) = dest.parent() {
                        remove_partial_downloads(dir);
                    }
                    self.cat.journal_finish(j.id)?;
                }
                _ => self.cat.journal_finish(j.id)?,
            }
        }
        if let Some(since) = earliest {
            progress.note(&format!(
                "resuming an interrupted sync: looking for {} uploads that may have landed",
                self.open_uploads.len()
            ));
            let mut page = 1;
            loop {
                let got = self
                    .client
                    .photos_page(Extra::SYNC, page, Some(since - 300))
                    .await?;
                let more = got.has_more();
                for s in got.items {
                    if let Some(c) = s
                        .machine_tags
                        .iter()
                        .chain(&s.tags)
                        .find_map(|t| Checksum::from_machine_tag(t))
                    {
                        self.recent_uploads.entry(c).or_insert(s);
                    }
                }
                if !more {
                    break;
                }
                page += 1;
            }
        }
        Ok(())
    }

    async fn download(&self, photo: &PhotoId, into: LocalKey) -> Result<(), ExecError> {
        let summary = self.fetched.photos.get(photo);
        let set_title = self
            .remote
            .photos
            .get(photo)
            .and_then(|p| p.sets.iter().next())
            .and_then(|s| self.remote.sets.get(s))
            .map(|s| s.title.clone());
        super::download::download_original(
            self.cat,
            self.client,
            self.account,
            &self.default_folder,
            super::download::Original {
                photo,
                into: PhotoKey(into.0),
                url: summary.and_then(|s| s.url_o.clone()),
                ext: summary
                    .and_then(|s| s.original_format.clone())
                    .unwrap_or_else(|| "jpg".into()),
                title: summary.map(|s| s.title.clone()).unwrap_or_default(),
                set_title,
                watch: None,
            },
        )
        .await
        .map(|_| ())
    }

    /// Performs one action on the catalog and Flickr; returns the ids it minted.
    pub async fn perform(&self, a: &Action) -> Result<Minted, ExecError> {
        let mut minted = Minted::default();
        match a {
            Action::LinkPhoto { local, remote } => {
                let s = self.fetched.photos.get(remote).ok_or_else(|| {
                    ExecError::Inconsistent(format!("photo {remote} not in the listing"))
                })?;
                self.cat
                    .record_upload(PhotoKey(local.0), &catalog_remote(s))?;
            }
            Action::LinkSet { local, remote } => {
                self.cat.record_set_created(CollectionId(local.0), remote)?
            }
            Action::Ignore { photo, .. } => {
                let key = self.key_of(&PhotoRef::Remote(photo.clone()))?;
                self.cat.ignore(key)?;
            }
            Action::ForgetLocal { local, .. } => {
                // Gone from Flickr: out of the collection, the file stays
                // (not "ignored": the user did not choose it).
                minted.kept_file = self.cat.forget_deleted_on_flickr(PhotoKey(local.0))?;
            }
            Action::CreateLocalSet {
                set,
                title,
                description,
            } => {
                let ids = self.cat.upsert_remote_sets(
                    self.account,
                    &[catalog::RemoteSet {
                        id: set.clone(),
                        title: title.clone(),
                        description: description.clone(),
                        primary: None,
                    }],
                )?;
                minted.local_set = ids.first().map(|c| LocalSetKey(c.0));
            }
            Action::Upload {
                photo,
                meta,
                checksum,
                ..
            } => {
                let (id, resumed) = self.upload(*photo, meta, checksum.as_ref()).await?;
                minted.photo = Some(id);
                minted.resumed = resumed;
            }
            Action::Download { photo, into, .. } => {
                let into = into.ok_or_else(|| {
                    ExecError::Inconsistent(format!("photo {photo} has no catalog record"))
                })?;
                self.download(photo, into).await?;
            }
            Action::CreateRemoteSet {
                set,
                title,
                description,
                primary,
            } => {
                // The planned primary may have failed to upload: any member
                // that is on Flickr by now will do; the others join after.
                let primary = match self.id_of(primary) {
                    Ok(id) => id,
                    Err(e) => {
                        let other = self.online_member(*set).ok_or_else(|| {
                            ExecError::Inconsistent(format!(
                                "set {title:?} not created: none of its photos is on Flickr ({e})"
                            ))
                        })?;
                        minted.primary = Some(other.clone());
                        other
                    }
                };
                let id = self
                    .client
                    .create_photoset(title, description, &primary)
                    .await?;
                self.cat.record_set_created(CollectionId(set.0), &id)?;
                minted.set = Some(id);
            }
            Action::RenameSet { side, set, title } => match side {
                Side::Local => {
                    let c = self.collection_of(&SetRef::Remote(set.clone()))?;
                    self.cat.set_collection_title(c, title)?;
                }
                Side::Remote => {
                    let desc = self
                        .remote
                        .sets
                        .get(set)
                        .map(|s| s.description.clone())
                        .unwrap_or_default();
                    self.client.edit_set_meta(set, title, &desc).await?;
                }
            },
            Action::Edit { side, photo, edit } => match side {
                Side::Local => {
                    let key = self.key_of(&PhotoRef::Remote(photo.clone()))?;
                    let mut meta = self.cat.photo(key)?.meta;
                    if let Some(t) = &edit.title {
                        meta.title = t.clone();
                    }
                    if let Some(d) = &edit.description {
                        meta.description = Some(d.clone());
                    }
                    if let Some(t) = &edit.tags {
                        let flickr = self.client.photo_info(photo).await?.tags;
                        let local = meta.tags.clone().unwrap_or_default();
                        meta.tags = Some(worded_tags(t, &flickr, &local));
                    }
                    if let Some(p) = edit.privacy {
                        meta.privacy = Some(p);
                    }
                    // A title from Flickr renames the entries, as a local
                    // rename sets the title.
                    self.cat.take_flickr_meta(key, &meta)?;
                    if let Some(t) = &edit.taken {
                        self.cat.set_date_taken(key, &t.at, t.granularity)?;
                    }
                }
                Side::Remote => {
                    if let (Some(t), Some(d)) = (&edit.title, &edit.description) {
                        let r = self.client.set_meta(photo, t, d).await;
                        let fields = [MetaField::Title, MetaField::Description];
                        self.note_refusal(photo, edit, &fields, r)?;
                    }
                    if let Some(tags) = &edit.tags {
                        // setTags replaces every tag: the ones Flickr keeps
                        // keep their wording there, new ones take the
                        // user's, and the checksum tag stays.
                        let flickr = self.client.photo_info(photo).await?.tags;
                        let key = self.key_of(&PhotoRef::Remote(photo.clone()))?;
                        let local = self.cat.photo(key)?.meta.tags.unwrap_or_default();
                        let mut all = worded_tags(tags, &flickr, &local);
                        if let Some(c) = self
                            .remote
                            .photos
                            .get(photo)
                            .and_then(|p| p.checksum.as_ref())
                        {
                            all.push(c.machine_tag());
                        }
                        let r = self.client.set_tags(photo, &all).await;
                        self.note_refusal(photo, edit, &[MetaField::Tags], r)?;
                    }
                    if let Some(p) = edit.privacy {
                        let r = self.client.set_perms(photo, p.flags()).await;
                        self.note_refusal(photo, edit, &[MetaField::Privacy], r)?;
                    }
                }
            },
            Action::AddToSet { side, photo, set } | Action::RemoveFromSet { side, photo, set } => {
                let add = matches!(a, Action::AddToSet { .. });
                match side {
                    Side::Local => {
                        let (photo, collection) = (self.key_of(photo)?, self.collection_of(set)?);
                        let change = if add {
                            MembershipChange::Add { photo, collection }
                        } else {
                            MembershipChange::Remove { photo, collection }
                        };
                        self.cat.apply_memberships(&[change])?;
                    }
                    Side::Remote => {
                        let (photo, set) = (self.id_of(photo)?, self.set_id_of(set)?);
                        let already = self
                            .remote
                            .photos
                            .get(&photo)
                            .is_some_and(|p| p.sets.contains(&set));
                        if add && already {
                            // e.g. the primary a new set was created with
                        } else if add {
                            self.client.add_to_set(&set, &photo).await?;
                        } else {
                            self.client.remove_from_set(&set, &photo).await?;
                        }
                    }
                }
            }
            Action::AddToPool { side, photo, group }
            | Action::RemoveFromPool { side, photo, group } => {
                let add = matches!(a, Action::AddToPool { .. });
                match side {
                    Side::Local => {
                        let (photo, collection) =
                            (self.key_of(photo)?, self.pool_collection(group)?);
                        let change = if add {
                            MembershipChange::Add { photo, collection }
                        } else {
                            MembershipChange::Remove { photo, collection }
                        };
                        self.cat.apply_memberships(&[change])?;
                    }
                    Side::Remote => {
                        let photo = self.id_of(photo)?;
                        if add {
                            self.client.add_to_pool(&photo, group).await?;
                        } else {
                            self.client.remove_from_pool(&photo, group).await?;
                        }
                    }
                }
            }
            Action::DeleteRemoteSet { set, .. } => {
                let journal = self
                    .cat
                    .journal_begin(self.account, &Intent::SetDeleted { id: set.clone() })?;
                self.client.delete_photoset(set).await?;
                if let Some(c) = self.cat.set_by_remote_id(self.account, set)? {
                    self.cat.forget_collection(c.id)?;
                }
                self.cat.journal_finish(journal)?;
            }
            Action::DropLocalSet { set, .. } => {
                self.cat.forget_collection(CollectionId(set.0))?;
            }
        }
        Ok(minted)
    }

    /// Splits a phase's actions into jobs: the additions to (or removals
    /// from) one Flickr set form one job, every other action its own.
    fn jobs(plan: &Plan, indices: &[usize]) -> Vec<Job> {
        let mut adds: BTreeMap<&SetRef, Vec<usize>> = BTreeMap::new();
        let mut removes: BTreeMap<&SetRef, Vec<usize>> = BTreeMap::new();
        let mut jobs = Vec::new();
        for &k in indices {
            match &plan.actions[k] {
                Action::AddToSet {
                    side: Side::Remote,
                    set,
                    ..
                } => adds.entry(set).or_default().push(k),
                Action::RemoveFromSet {
                    side: Side::Remote,
                    set,
                    ..
                } => removes.entry(set).or_default().push(k),
                _ => jobs.push(Job::One(k)),
            }
        }
        jobs.extend(
            adds.into_values()
                .map(|items| Job::SetMembers { add: true, items }),
        );
        jobs.extend(
            removes
                .into_values()
                .map(|items| Job::SetMembers { add: false, items }),
        );
        jobs
    }

    async fn run_job(
        &self,
        plan: &Plan,
        job: Job,
        known: &BTreeMap<SetId, Vec<PhotoId>>,
    ) -> Vec<(usize, Result<Minted, ExecError>)> {
        match job {
            Job::One(k) => vec![(k, self.perform(&plan.actions[k]).await)],
            Job::SetMembers { add, items } => self.set_members(plan, add, &items, known).await,
        }
    }

    /// The additions to or removals from one Flickr set, batched
    /// ([`super::setedit`]); one result per action.
    async fn set_members(
        &self,
        plan: &Plan,
        add: bool,
        items: &[usize],
        known: &BTreeMap<SetId, Vec<PhotoId>>,
    ) -> Vec<(usize, Result<Minted, ExecError>)> {
        let mut out: Vec<(usize, Result<Minted, ExecError>)> = Vec::new();
        let Some(Action::AddToSet { set, .. } | Action::RemoveFromSet { set, .. }) =
            items.first().map(|k| &plan.actions[*k])
        else {
            return out;
        };
        let set_id = match self.set_id_of(set) {
            Ok(id) => id,
            Err(e) => {
                let why = e.to_string();
                return items
                    .iter()
                    .map(|k| (*k, Err(ExecError::Inconsistent(why.clone()))))
                    .collect();
            }
        };
        let mut send: Vec<(usize, PhotoId)> = Vec::new();
        for &k in items {
            let (Action::AddToSet { photo, .. } | Action::RemoveFromSet { photo, .. }) =
                &plan.actions[k]
            else {
                continue;
            };
            match self.id_of(photo) {
                Err(e) => out.push((k, Err(e))),
                Ok(id) => {
                    let member = self
                        .remote
                        .photos
                        .get(&id)
                        .is_some_and(|p| p.sets.contains(&set_id));
                    if add && member {
                        // e.g. the primary a new set was created with
                        out.push((k, Ok(Minted::default())));
                    } else {
                        send.push((k, id));
                    }
                }
            }
        }
        if send.is_empty() {
            return out;
        }
        let ids: Vec<PhotoId> = send.iter().map(|(_, id)| id.clone()).collect();
        let results = if add {
            let members = self
                .remote
                .photos
                .values()
                .filter(|p| p.sets.contains(&set_id))
                .count();
            let current = known.get(&set_id).cloned();
            let (path, r) =
                super::setedit::add_photos(self.client, &set_id, &ids, members, current).await;
            tracing::debug!("added {} photos to set {set_id}: {path:?}", ids.len());
            r
        } else {
            super::setedit::remove_photos(self.client, &set_id, &ids).await
        };
        for ((k, _), r) in send.into_iter().zip(results) {
            out.push((k, r.map(|()| Minted::default()).map_err(ExecError::from)));
        }
        out
    }

    /// Runs the plan's actions in order, then records the new merge base.
    /// Uploads and downloads run up to [`Executor::parallelism`] at once; so
    /// do the jobs of set membership, one job per set. A set created by
    /// this plan is created as soon as its first photo has landed, while
    /// the other uploads go on. The catalog is only ever touched from this
    /// task.
    pub async fn run(
        &mut self,
        plan: &Plan,
        progress: &mut dyn Progress,
    ) -> Result<ExecReport, ExecError> {
        let mut report = ExecReport::default();
        let total = plan.actions.len();
        // Waits for the API budget are reported as progress, never failures.
        let mut waits = self.client.limiter().waits();
        waits.borrow_and_update();
        let mut noted: Option<u64> = None;
        let par = self.parallelism.max(1);
        // Set creations already run during the uploads.
        let mut early: BTreeSet<usize> = BTreeSet::new();
        // Sets this run created, with the primary each was created with.
        let mut created: BTreeMap<SetId, PhotoId> = BTreeMap::new();
        let mut i = 0;
        while i < total {
            let first = &plan.actions[i];
            let batchable = matches!(
                first,
                Action::Upload { .. }
                    | Action::Download { .. }
                    | Action::AddToSet { .. }
                    | Action::RemoveFromSet { .. }
            );
            let mut j = i + 1;
            if batchable {
                while j < total && plan.actions[j].phase() == first.phase() {
                    j += 1;
                }
            }
            let indices: Vec<usize> = (i..j).filter(|k| !early.contains(k)).collect();
            // A new set waits for its planned primary's upload, not for all of them.
            let mut gated: BTreeMap<LocalKey, Vec<usize>> = BTreeMap::new();
            if matches!(first, Action::Upload { .. }) {
                for (k, a) in plan.actions.iter().enumerate().skip(j) {
                    if let Action::CreateRemoteSet {
                        primary: PhotoRef::Local(p),
                        ..
                    } = a
                    {
                        gated.entry(*p).or_default().push(k);
                    }
                }
            }
            // Members of this run's new sets, when one read shows them untouched.
            let adds_to_new = indices.iter().any(|k| {
                matches!(&plan.actions[*k], Action::AddToSet { side: Side::Remote, set, .. }
                    if self.set_id_of(set).is_ok_and(|id| created.contains_key(&id)))
            });
            let known = if adds_to_new {
                super::setedit::unchanged_new_sets(self.client, &created).await
            } else {
                BTreeMap::new()
            };
            let mut results: Vec<(usize, Result<Minted, ExecError>)> = Vec::new();
            {
                let this = &*self;
                let known = &known;
                let mut queue = Self::jobs(plan, &indices).into_iter();
                let mut ready: VecDeque<Job> = VecDeque::new();
                let mut running = FuturesUnordered::new();
                loop {
                    while running.len() < par {
                        let Some(job) = ready.pop_front().or_else(|| queue.next()) else {
                            break;
                        };
                        for k in job.indices() {
                            let a = &plan.actions[k];
                            progress.starting(k, total, a, &this.describe(a));
                        }
                        running.push(this.run_job(plan, job, known));
                    }
                    if running.is_empty() {
                        break;
                    }
                    let done = tokio::select! {
                        Some(done) = running.next() => done,
                        Ok(()) = waits.changed() => {
                            let secs = waits
                                .borrow_and_update()
                                .map(|w| w.as_secs_f64().ceil() as u64);
                            if let Some(n) = secs.filter(|n| noted != Some(*n)) {
                                progress.note(&format!("waiting for API budget ({n} s)"));
                            }
                            noted = secs;
                            continue;
                        }
                    };
                    for (k, r) in &done {
                        let a = &plan.actions[*k];
                        progress.finished(a, r.as_ref().map(|_| ()));
                        if let (Ok(_), Action::Upload { photo, .. }) = (r, a) {
                            for c in gated.remove(photo).unwrap_or_default() {
                                early.insert(c);
                                ready.push_back(Job::One(c));
                            }
                        }
                    }
                    results.extend(done);
                }
            }
            results.sort_by_key(|(k, _)| *k);
            for (k, r) in results {
                let a = &plan.actions[k];
                match r {
                    Ok(minted) => {
                        if minted.resumed {
                            report.resumed_uploads += 1;
                        }
                        if let Action::ForgetLocal { remote, title, .. } = a {
                            report.deleted_on_flickr.push(deleted_line(
                                remote,
                                title,
                                minted.kept_file.as_deref(),
                            ));
                        }
                        if let (Action::CreateRemoteSet { primary, .. }, Some(set)) =
                            (a, &minted.set)
                        {
                            let primary = match &minted.primary {
                                Some(p) => Some(p.clone()),
                                None => self.id_of(primary).ok(),
                            };
                            if let Some(p) = primary {
                                created.insert(set.clone(), p);
                            }
                        }
                        if let Err(e) = apply_action(&mut self.local, &mut self.remote, a, &minted)
                        {
                            tracing::warn!("{e}");
                        }
                        report.done += 1;
                    }
                    Err(e) => {
                        let line = format!("{}: {e}", self.describe(a));
                        tracing::warn!("{line}");
                        progress.failed(&line);
                        report.failed.push((a.clone(), line));
                    }
                }
            }
            i = j;
            while early.contains(&i) {
                i += 1;
            }
        }
        self.write_base(plan)?;
        Ok(report)
    }

    /// A photo as a person knows it: its file, else its title (and Flickr id).
    fn photo_name(&self, p: &PhotoRef) -> String {
        let record = match p {
            PhotoRef::Local(k) => self.cat.photo(PhotoKey(k.0)).ok(),
            PhotoRef::Remote(id) => self.cat.photo_by_remote_id(self.account, id).ok().flatten(),
        };
        let id = match p {
            PhotoRef::Remote(id) => format!(" (photo {id})"),
            PhotoRef::Local(_) => String::new(),
        };
        match record {
            Some(r) => match &r.local {
                Some(f) => format!("'{}'{id}", f.path.display()),
                None => format!("{:?}{id}", abbreviate(&r.meta.title, 80)),
            },
            None => match p {
                PhotoRef::Remote(id) => format!("photo {id}"),
                PhotoRef::Local(_) => "a photo no longer in the catalog".into(),
            },
        }
    }

    /// A set as a person knows it: its title.
    fn set_name(&self, s: &SetRef) -> String {
        let title = match s {
            SetRef::Local(k) => self.cat.collection(CollectionId(k.0)).ok().map(|c| c.title),
            SetRef::Remote(id) => self
                .remote
                .sets
                .get(id)
                .map(|x| x.title.clone())
                .or_else(|| {
                    self.cat
                        .set_by_remote_id(self.account, id)
                        .ok()
                        .flatten()
                        .map(|c| c.title)
                }),
        };
        match title {
            Some(t) => format!("set {:?}", abbreviate(&t, 80)),
            None => s.to_string(),
        }
    }

    /// An action for reports and errors, naming files, titles and set
    /// titles instead of the plan's internal keys.
    pub fn describe(&self, a: &Action) -> String {
        match a {
            Action::Upload { photo, meta, .. } => format!(
                "upload {} as {:?}",
                self.photo_name(&PhotoRef::Local(*photo)),
                abbreviate(&meta.title, 80)
            ),
            Action::CreateRemoteSet { set, title, .. } => format!(
                "create set {:?} on Flickr (folder {})",
                abbreviate(title, 80),
                self.set_name(&SetRef::Local(*set))
            ),
            Action::AddToSet { side, photo, set } => format!(
                "add {} to {} ({side})",
                self.photo_name(photo),
                self.set_name(set)
            ),
            Action::RemoveFromSet { side, photo, set } => format!(
                "remove {} from {} ({side})",
                self.photo_name(photo),
                self.set_name(set)
            ),
            Action::AddToPool { side, photo, group } => {
                format!("add {} to pool {group} ({side})", self.photo_name(photo))
            }
            Action::RemoveFromPool { side, photo, group } => format!(
                "remove {} from pool {group} ({side})",
                self.photo_name(photo)
            ),
            Action::LinkPhoto { local, remote } => format!(
                "link {} to photo {remote}",
                self.photo_name(&PhotoRef::Local(*local))
            ),
            Action::LinkSet { local, remote } => format!(
                "link folder {} to set {remote}",
                self.set_name(&SetRef::Local(*local))
            ),
            Action::ForgetLocal { local, remote, .. } => format!(
                "forget {}: photo {remote} was deleted on Flickr (file kept)",
                self.photo_name(&PhotoRef::Local(*local))
            ),
            Action::DropLocalSet { title, remote, .. } => format!(
                "remove folder {:?} (set {remote} deleted on Flickr; photos stay)",
                abbreviate(title, 80)
            ),
            other => other.to_string(),
        }
    }

    fn write_base(&self, plan: &Plan) -> Result<(), ExecError> {
        use super::restrict::Item;
        let outcome = super::restrict::outcome_items(plan);
        let mut settle = Vec::new();
        // The new base one photo at a time (as `next_base` computes it),
        // compared with the old: no second whole base is built, and
        // unchanged bases are not rewritten (a no-op sync of a large
        // library writes nothing).
        let mut first: BTreeMap<&PhotoId, &LocalPhoto> = BTreeMap::new();
        for lp in self.local.photos.values() {
            if let Some(id) = &lp.remote {
                first.entry(id).or_insert(lp);
            }
        }
        let mut rows = Vec::new();
        for lp in self.local.photos.values() {
            let Some(id) = &lp.remote else { continue };
            if self.local.ignored.contains(id) {
                continue;
            }
            // Not on Flickr: the old base stays as it is.
            let Some(rp) = self.remote.photos.get(id) else {
                continue;
            };
            let linked = first.get(id).copied().unwrap_or(lp);
            let prev = self.base.photos.get(id);
            let b = next_base_photo(prev, linked, rp, &self.local);
            if prev == Some(&b) {
                continue;
            }
            let (k, i) = (Item::Local(lp.key), Item::Remote(id.clone()));
            if !outcome.contains(&k) && !outcome.contains(&i) {
                settle.push(k.encode());
                settle.push(i.encode());
            }
            rows.push((
                PhotoKey(lp.key.0),
                SyncedBase {
                    title: b.meta.title,
                    description: b.meta.description,
                    tags: b.meta.tags.into_iter().collect(),
                    privacy: b.meta.privacy,
                    sets: b.sets.into_iter().collect(),
                    pools: b.pools.into_iter().collect(),
                    checksum: lp.checksum.clone(),
                },
            ));
        }
        self.cat.set_synced_bases_settling(
            &rows,
            &settle,
            self.settled.map(|s| (self.account, s)),
        )?;
        let new_sets = next_base_sets(&self.base, &self.local, &self.remote);
        for ls in self.local.sets.values() {
            if let Some(id) = &ls.remote {
                if let Some(b) = new_sets
                    .get(id)
                    .filter(|b| self.base.sets.get(id) != Some(*b))
                {
                    self.cat
                        .set_synced_title(CollectionId(ls.key.0), Some(&b.title))?;
                }
            }
        }
        Ok(())
    }
}

/// The tags `wanted` (in Flickr's normal form) as people wrote them:
/// Flickr's raw form when the photo carries the tag there, else the
/// catalog's (`local`), else the normal form. So "summer light" stays
/// "summer light" through a round trip instead of becoming `summerlight`.
fn worded_tags(
    wanted: &BTreeSet<String>,
    flickr: &[crate::flickr::Tag],
    local: &[String],
) -> Vec<String> {
    let flickr = flickr
        .iter()
        .filter(|t| !t.machine_tag)
        .map(|t| (super::snapshot::normalize_tag(&t.normalised), t.raw.clone()));
    let local = local
        .iter()
        .map(|t| (super::snapshot::normalize_tag(t), t.trim().to_owned()));
    let mut worded: BTreeMap<String, String> = BTreeMap::new();
    // Flickr's wording first: the first form of each tag wins.
    for (norm, raw) in flickr.chain(local) {
        if wanted.contains(&norm) {
            worded.entry(norm).or_insert(raw);
        }
    }
    wanted
        .iter()
        .map(|t| worded.remove(t).unwrap_or_else(|| t.clone()))
        .collect()
}

/// One line for a photo deleted on Flickr: which, and where its file is.
fn deleted_line(id: &PhotoId, title: &str, file: Option<&Path>) -> String {
    let title = abbreviate(title, 80);
    match file {
        Some(f) => format!(
            "photo {id} {title:?}: file kept at {} (`flickrfs restore {id}` uploads it again)",
            f.display()
        ),
        None => format!("photo {id} {title:?}: it was never downloaded, nothing is on disk"),
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The folder a download of `photo` would go to (for display).
pub fn download_dir(default_folder: &Path, set_title: Option<&str>) -> PathBuf {
    match set_title.and_then(names::sanitize_title) {
        Some(t) => default_folder.join(t),
        None => default_folder.to_path_buf(),
    }
}

/// Removes `.flickrfs-download-*.part` files a killed sync left in `dir`
/// (the client writes downloads there before renaming them into place).
pub fn remove_partial_downloads(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(".flickrfs-download-") && name.ends_with(".part") {
            if let Err(err) = std::fs::remove_file(e.path()) {
                tracing::warn!("removing {}: {err}", e.path().display());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::{Catalog, EntryName};
    use crate::emulator::{Emulator, EmulatorConfig};
    use crate::flickr::{AccessToken, ApiCredentials, Client, ClientOptions, Endpoints, RateLimit};
    use crate::model::Direction;
    use crate::sync::{run_sync, PlanOptions, Progress, SyncOptions};

    #[derive(Default)]
    struct Notes(Vec<String>);
    impl Progress for Notes {
        fn note(&mut self, message: &str) {
            self.0.push(message.to_owned());
        }
    }

    #[test]
    fn tags_keep_the_wording_flickr_or_the_user_gave_them() {
        let tag = |raw: &str, norm: &str, machine| crate::flickr::Tag {
            raw: raw.into(),
            normalised: norm.into(),
            machine_tag: machine,
        };
        let wanted: std::collections::BTreeSet<String> =
            ["summerlight", "newyork", "sea", "flickrfs:sha1=ab"]
                .into_iter()
                .map(String::from)
                .collect();
        let flickr = [
            tag("Summer light", "summerlight", false),
            tag("flickrfs:sha1=ab", "flickrfs:sha1=ab", true),
        ];
        let local = ["summer light".to_owned(), "New York".to_owned()];
        assert_eq!(
            super::worded_tags(&wanted, &flickr, &local),
            vec!["flickrfs:sha1=ab", "New York", "sea", "Summer light"]
        );
    }

    #[test]
    fn a_sync_short_of_api_budget_says_it_waits_and_does_not_fail() {
        let tmp = tempfile::tempdir().expect("tmp");
        let emu = Emulator::start(EmulatorConfig {
            state_dir: tmp.path().join("emu"),
            bind: "127.0.0.1:0".parse().expect("addr"),
            auto_approve: true,
            ..Default::default()
        })
        .expect("emulator");
        let key = emu.create_api_key().expect("key");
        let user = emu.create_user("waiter").expect("user");
        let tok = emu.issue_token(&key.key, &user.nsid, "write").expect("tok");
        let client = Client::new(
            Endpoints::local(&emu.base_url()),
            ApiCredentials {
                key: key.key.clone(),
                secret: key.secret.clone(),
            },
            Some(AccessToken {
                token: tok.token.clone(),
                secret: tok.secret.clone(),
            }),
            ClientOptions {
                // 10 calls a second, one at a time: every call after the
                // first waits about 100 ms.
                rate_limit: RateLimit {
                    calls_per_hour: 36_000,
                    burst: 1,
                },
                ..ClientOptions::default()
            },
        )
        .expect("client");
        let folder = tmp.path().join("Pictures");
        std::fs::create_dir_all(&folder).expect("dir");
        let cat = Catalog::open(&tmp.path().join("c.db")).expect("catalog");
        let acct = cat
            .add_account(
                &crate::model::Nsid::new(user.nsid.clone()),
                "waiter",
                "waiter",
                &folder,
            )
            .expect("account");
        for i in 0..3u8 {
            let name = format!("P{i}.jpg");
            let p = folder.join(&name);
            std::fs::write(
                &p,
                crate::media::testdata::jpeg_with_exif(32, 24, None, 40 + i),
            )
            .expect("write");
            cat.add_file(acct.root, &EntryName::new(&name).expect("name"), &p, None)
                .expect("add");
        }
        let opts = SyncOptions {
            plan: PlanOptions {
                direction: Direction::Up,
                ..Default::default()
            },
            ..SyncOptions::default()
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let mut notes = Notes::default();
        let report = rt
            .block_on(run_sync(&cat, &client, acct.id, &opts, &mut notes))
            .expect("the sync waits, it does not fail");
        let executed = report.executed.expect("executed");
        assert!(executed.failed.is_empty(), "{:?}", executed.failed);
        assert_eq!(emu.photos(&user.nsid).len(), 3);
        assert!(
            notes
                .0
                .iter()
                .any(|n| n.starts_with("waiting for API budget (") && n.ends_with(" s)")),
            "{:?}",
            notes.0
        );
    }
}
