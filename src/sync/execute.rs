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
//! new merge base is written at the end. A failed action is reported and
//! left for the next sync. Actions run one at a time, in plan order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::effects::{apply_action, Minted};
use super::fetch::{catalog_remote, Fetched};
use super::plan::{next_base, Action, Plan, Side};
use super::snapshot::{
    BasePhoto, BaseSet, BaseSnapshot, Checksum, FileState, LocalKey, LocalPhoto, LocalSet,
    LocalSetKey, LocalSnapshot, Media, PhotoMeta, PhotoRef, RemoteSnapshot, SetRef,
};
use crate::catalog::{
    self, names, AccountId, Catalog, CatalogError, CollectionId, CollectionKind, Intent,
    MembershipChange, PhotoKey, SyncedBase,
};
use crate::flickr::{Client, Extra, FlickrError, UploadOptions, UploadOutcome};
use crate::model::{GroupId, PhotoId, Privacy, SetId};

/// Defaults for fields a local photo leaves to the preferences.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaDefaults {
    pub privacy: Privacy,
}

/// Why a sync step failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Flickr(#[from] FlickrError),
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    #[error("{0}")]
    Inconsistent(String),
}

/// Reads the catalog's view of an account (local side) and the merge base.
pub fn load_snapshots(
    cat: &Catalog,
    account: AccountId,
    defaults: &MetaDefaults,
) -> Result<(LocalSnapshot, BaseSnapshot), CatalogError> {
    let mut local = LocalSnapshot::default();
    let mut base = BaseSnapshot::default();
    let mut members: BTreeMap<PhotoKey, Vec<CollectionId>> = BTreeMap::new();
    let mut pool_of: BTreeMap<CollectionId, GroupId> = BTreeMap::new();
    for c in cat.sets(account)? {
        local.sets.insert(
            LocalSetKey(c.id.0),
            LocalSet {
                key: LocalSetKey(c.id.0),
                remote: c.set_id().cloned(),
                title: c.title.clone(),
                description: c.description.clone(),
            },
        );
        for e in cat.list(c.id)? {
            members.entry(e.photo).or_default().push(c.id);
        }
    }
    for c in cat.pools(account)? {
        if let CollectionKind::Pool(g) = &c.kind {
            pool_of.insert(c.id, g.clone());
            for e in cat.list(c.id)? {
                members.entry(e.photo).or_default().push(c.id);
            }
        }
    }
    for c in cat.collections(account)? {
        if let (Some(id), Some(t)) = (c.set_id(), &c.synced_title) {
            base.sets.insert(id.clone(), BaseSet { title: t.clone() });
        }
    }
    let bases = cat.synced_bases(account)?;
    for p in cat.photos(account)? {
        let remote = p.remote_id().cloned();
        if p.ignored {
            if let Some(id) = remote {
                local.ignored.insert(id);
            }
            continue;
        }
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
                    .map(|t| super::normalize_tag(t))
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
        lp.checksum = p
            .local
            .as_ref()
            .and_then(|f| f.checksum.as_ref())
            .and_then(|c| Checksum::parse(c.as_str()));
        lp.media = match (&p.local, &p.remote) {
            (Some(f), _) if f.kind.is_video() => Media::Video,
            (Some(f), _) if p.junk || p.meta.skip || !f.kind.is_media() => Media::NotMedia,
            (None, Some(r)) if r.media_video => Media::Video,
            _ => Media::Photo,
        };
        for c in members.get(&p.key).into_iter().flatten() {
            match pool_of.get(c) {
                Some(g) => {
                    lp.pools.insert(g.clone());
                }
                None => {
                    lp.sets.insert(LocalSetKey(c.0));
                }
            }
        }
        if let (Some(id), Some(b)) = (&remote, bases.get(&p.key)) {
            base.photos.insert(
                id.clone(),
                BasePhoto {
                    meta: PhotoMeta {
                        title: b.title.clone(),
                        description: b.description.clone(),
                        tags: b.tags.iter().map(|t| super::normalize_tag(t)).collect(),
                        privacy: b.privacy,
                    },
                    sets: b.sets.iter().cloned().collect(),
                    // The catalog keeps no pool base: pools merge as a union.
                    pools: Default::default(),
                },
            );
        }
        local.photos.insert(key, lp);
    }
    Ok((local, base))
}

/// Records Flickr's listings in the catalog: new photos become remote-only
/// records, new sets and pools become folders.
pub fn record_fetched(cat: &Catalog, account: AccountId, f: &Fetched) -> Result<(), CatalogError> {
    let photos: Vec<catalog::RemotePhoto> = f.photos.values().map(catalog_remote).collect();
    cat.upsert_remote_photos(account, &photos)?;
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
    /// Called before action `index` (0-based) of `total`.
    fn starting(&mut self, _index: usize, _total: usize, _action: &Action) {}
    /// Called after it, with its outcome.
    fn finished(&mut self, _action: &Action, _result: Result<(), &ExecError>) {}
}

/// A progress sink that ignores everything.
pub struct NoProgress;
impl Progress for NoProgress {}

/// What an execution did.
#[derive(Debug, Default)]
pub struct ExecReport {
    pub done: usize,
    pub failed: Vec<(Action, String)>,
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
}

impl Executor<'_> {
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
                .ok_or_else(|| ExecError::Inconsistent(format!("{k} is not on Flickr yet"))),
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
                .ok_or_else(|| ExecError::Inconsistent(format!("{k} is not on Flickr yet"))),
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

    async fn upload(
        &self,
        photo: LocalKey,
        meta: &PhotoMeta,
        sum: Option<&Checksum>,
    ) -> Result<PhotoId, ExecError> {
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
                let c = crate::media::sha1_file(&path)?;
                Checksum::parse(c.as_str())
                    .ok_or_else(|| ExecError::Inconsistent("bad checksum".into()))?
            }
        };
        let media_sum = crate::media::Checksum::parse(checksum.as_str())
            .ok_or_else(|| ExecError::Inconsistent("bad checksum".into()))?;
        // An open intent for this photo: a previous sync may have uploaded it.
        let interrupted = self
            .cat
            .journal_open(self.account)?
            .into_iter()
            .any(|j| matches!(&j.intent, Intent::UploadStarted { photo: p, .. } if *p == key));
        if interrupted {
            let found = self
                .client
                .find_by_machine_tag(&checksum.machine_tag(), Extra::SYNC)
                .await?;
            if let Some(s) = found.first() {
                self.cat.record_upload(key, &catalog_remote(s))?;
                return Ok(s.id.clone());
            }
        }
        let journal = self.cat.journal_begin(
            self.account,
            &Intent::UploadStarted {
                photo: key,
                checksum: media_sum,
            },
        )?;
        let mut tags: Vec<String> = meta.tags.iter().cloned().collect();
        tags.push(checksum.machine_tag());
        let opts = UploadOptions {
            title: Some(meta.title.clone()),
            description: Some(meta.description.clone()).filter(|d| !d.is_empty()),
            tags,
            visibility: Some(meta.privacy.flags()),
            ..UploadOptions::default()
        };
        let id = match self.client.upload(&path, &opts).await? {
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
            checksum_tag: crate::media::Checksum::parse(checksum.as_str()),
        };
        remote.media_video = record.local.as_ref().is_some_and(|f| f.kind.is_video());
        self.cat.record_upload(key, &remote)?;
        self.cat.journal_finish(journal)?;
        Ok(id)
    }

    async fn download(&self, photo: &PhotoId, into: LocalKey) -> Result<(), ExecError> {
        let summary = self.fetched.photos.get(photo);
        let url = match summary.and_then(|s| s.url_o.clone()) {
            Some(u) => u,
            None => self.client.original_url(photo).await?,
        };
        let ext = summary
            .and_then(|s| s.original_format.clone())
            .unwrap_or_else(|| "jpg".into());
        let title = summary.map(|s| s.title.clone()).unwrap_or_default();
        let mut dir = self.default_folder.clone();
        let first_set = self
            .remote
            .photos
            .get(photo)
            .and_then(|p| p.sets.iter().next())
            .and_then(|s| self.remote.sets.get(s));
        if let Some(set) = first_set {
            dir.push(names::sanitize_title(&set.title).unwrap_or_else(|| set.id.to_string()));
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| ExecError::Inconsistent(format!("creating {}: {e}", dir.display())))?;
        let name = names::name_for_title(&title, Some(&ext), photo.as_str());
        let mut dest = dir.join(name.as_str());
        let journal = self.cat.journal_begin(
            self.account,
            &Intent::DownloadStarted {
                id: photo.clone(),
                dest: dest.clone(),
            },
        )?;
        match self.client.download_to(&url, &dest).await {
            Err(FlickrError::DestinationExists { .. }) => {
                dest = dir.join(names::with_suffix(&name, photo.as_str()).as_str());
                self.client.download_to(&url, &dest).await?;
            }
            other => {
                other?;
            }
        }
        let facts = crate::media::FileFacts::scan(&dest)?;
        self.cat.set_local_file(PhotoKey(into.0), &dest, &facts)?;
        self.cat.journal_finish(journal)?;
        Ok(())
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
                // The photo is gone from Flickr: hide its record (the file stays).
                self.cat.ignore(PhotoKey(local.0))?;
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
            } => minted.photo = Some(self.upload(*photo, meta, checksum.as_ref()).await?),
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
                let primary = self.id_of(primary)?;
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
                        meta.tags = Some(t.iter().cloned().collect());
                    }
                    if let Some(p) = edit.privacy {
                        meta.privacy = Some(p);
                    }
                    self.cat.set_meta(key, &meta)?;
                }
                Side::Remote => {
                    if let (Some(t), Some(d)) = (&edit.title, &edit.description) {
                        self.client.set_meta(photo, t, d).await?;
                    }
                    if let Some(tags) = &edit.tags {
                        // setTags replaces every tag: keep the checksum tag.
                        let mut all: Vec<String> = tags.iter().cloned().collect();
                        if let Some(c) = self
                            .remote
                            .photos
                            .get(photo)
                            .and_then(|p| p.checksum.as_ref())
                        {
                            all.push(c.machine_tag());
                        }
                        self.client.set_tags(photo, &all).await?;
                    }
                    if let Some(p) = edit.privacy {
                        self.client.set_perms(photo, p.flags()).await?;
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
                        if add {
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

    /// Runs the plan's actions in order, then records the new merge base.
    pub async fn run(
        &mut self,
        plan: &Plan,
        progress: &mut dyn Progress,
    ) -> Result<ExecReport, ExecError> {
        let mut report = ExecReport::default();
        let total = plan.actions.len();
        for (i, a) in plan.actions.iter().enumerate() {
            progress.starting(i, total, a);
            match self.perform(a).await {
                Ok(minted) => {
                    if let Err(e) = apply_action(&mut self.local, &mut self.remote, a, &minted) {
                        tracing::warn!("{e}");
                    }
                    report.done += 1;
                    progress.finished(a, Ok(()));
                }
                Err(e) => {
                    tracing::warn!("{a}: {e}");
                    progress.finished(a, Err(&e));
                    report.failed.push((a.clone(), e.to_string()));
                }
            }
        }
        self.write_base()?;
        Ok(report)
    }

    fn write_base(&self) -> Result<(), ExecError> {
        let new = next_base(&self.base, &self.local, &self.remote);
        let mut rows = Vec::new();
        for lp in self.local.photos.values() {
            let Some(id) = &lp.remote else { continue };
            let Some(b) = new.photos.get(id) else {
                continue;
            };
            rows.push((
                PhotoKey(lp.key.0),
                SyncedBase {
                    title: b.meta.title.clone(),
                    description: b.meta.description.clone(),
                    tags: b.meta.tags.iter().cloned().collect(),
                    privacy: b.meta.privacy,
                    sets: b.sets.iter().cloned().collect(),
                    checksum: lp
                        .checksum
                        .as_ref()
                        .and_then(|c| crate::media::Checksum::parse(c.as_str())),
                },
            ));
        }
        self.cat.set_synced_bases(&rows)?;
        for ls in self.local.sets.values() {
            if let Some(id) = &ls.remote {
                if let Some(b) = new.sets.get(id) {
                    self.cat
                        .set_synced_title(CollectionId(ls.key.0), Some(&b.title))?;
                }
            }
        }
        Ok(())
    }
}

/// The folder a download of `photo` would go to (for display).
pub fn download_dir(default_folder: &Path, set_title: Option<&str>) -> PathBuf {
    match set_title.and_then(names::sanitize_title) {
        Some(t) => default_folder.join(t),
        None => default_folder.to_path_buf(),
    }
}
