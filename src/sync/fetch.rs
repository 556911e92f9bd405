//! Flickr's state for one account, as a [`RemoteSnapshot`] for the planner
//! plus the raw listings the executor and the catalog need (URLs of
//! originals, formats, dates).
//!
//! A full fetch costs: people.getPhotos with every sync extra in pages of
//! 500; photosets.getList, then photosets.getPhotos per set (ids only);
//! people.getGroups, then groups.pools.getPhotos per group limited to the
//! member. An incremental fetch ([`fetch`]) lists only photos whose
//! `lastupdate` moved (photos.recentlyUpdated since the cursor) and sets
//! whose `date_update` moved, and notes what changed ([`Fetched::changed`]);
//! the sync remembers the rest ([`super::state`]), read by key by the
//! incremental plan ([`super::incremental`]), or whole when the whole
//! account is planned ([`complete_snapshot`]), so that the planner never
//! mistakes an unlisted photo for a vanished one. It compares Flickr's
//! photo count with the cache's (kept as a count, not counted) and lists
//! everything when they differ.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::snapshot::{
    normalize_tag, Checksum, DateTaken, Media, PhotoMeta, RemotePhoto, RemoteSet, RemoteSnapshot,
};
use super::state::{AccountState, CachedPhoto, StateError, SyncStore};
use crate::catalog;
use crate::flickr::{self, Client, Extra, FlickrError, Group, PhotoSummary, Photoset};
use crate::model::{Nsid, PhotoId, Privacy, SetId};

/// Everything one fetch learnt.
#[derive(Clone, Debug, Default)]
pub struct Fetched {
    pub snapshot: RemoteSnapshot,
    /// The photos listed this time: all of them after a full listing, only
    /// the changed ones after an incremental fetch (the others are in the
    /// sync's cache, see [`Fetched::summary`]). They are also what the
    /// cache must remember ([`commit`]).
    pub photos: BTreeMap<PhotoId, PhotoSummary>,
    /// The listing was let go after [`commit`] saved it in the sync's
    /// cache ([`Fetched::release_listing`]): read it there.
    pub released: bool,
    pub sets: Vec<Photoset>,
    pub groups: Vec<Group>,
    /// What this fetch did and found.
    pub report: FetchReport,
    /// What the sync's cache must remember.
    pub delta: CacheDelta,
    /// The snapshot holds no photos yet: an incremental fetch that was not
    /// asked for the whole snapshot leaves them to the incremental plan,
    /// which loads the ones it needs ([`super::incremental`]).
    pub partial: bool,
    /// What an incremental fetch saw change on Flickr: the photos listed
    /// and those that joined or left a set or a pool.
    pub changed: BTreeSet<PhotoId>,
    /// Photos on Flickr (the listing's `total`).
    pub total: u64,
}

impl Fetched {
    /// The listing of photo `id`, or the sync's cached copy of it when this
    /// fetch did not list it (an incremental fetch lists only what changed).
    pub fn summary(
        &self,
        store: &SyncStore,
        account: catalog::AccountId,
        id: &PhotoId,
    ) -> Result<Option<PhotoSummary>, StateError> {
        if let Some(s) = self.photos.get(id) {
            return Ok(Some(s.clone()));
        }
        if (self.delta.full && !self.released) || self.delta.gone.contains(id) {
            return Ok(None);
        }
        Ok(store
            .photo(account, id)?
            .map(|c| c.into_summary(id.clone())))
    }

    /// After [`commit`] saved a full listing in the sync's cache, let the
    /// in-memory copy go (at 100,000 photos it is the largest thing a sync
    /// holds); [`Fetched::summary`] reads the cache from then on.
    pub fn release_listing(&mut self) {
        self.photos = BTreeMap::new();
        self.released = true;
    }
}

fn is_machine_tag(tag: &str) -> bool {
    match tag.split_once(':') {
        Some((ns, rest)) => !ns.is_empty() && rest.contains('='),
        None => false,
    }
}

/// The planner's view of one listed photo (memberships filled in later).
pub fn remote_photo(s: &PhotoSummary) -> RemotePhoto {
    let checksum = s
        .machine_tags
        .iter()
        .chain(&s.tags)
        .find_map(|t| Checksum::from_machine_tag(t));
    RemotePhoto {
        id: s.id.clone(),
        meta: PhotoMeta {
            title: s.title.clone(),
            description: s.description.clone().unwrap_or_default(),
            tags: s
                .tags
                .iter()
                .filter(|t| !is_machine_tag(t))
                .map(|t| normalize_tag(t))
                .filter(|t| !t.is_empty())
                .collect(),
            privacy: Privacy::from_flags(s.visibility),
        },
        sets: Default::default(),
        pools: Default::default(),
        checksum,
        media: match s.media {
            Some(flickr::Media::Video) => Media::Video,
            _ => Media::Photo,
        },
        taken: s.date_taken.clone().map(|at| DateTaken {
            at,
            granularity: s.taken_granularity.unwrap_or_default(),
        }),
    }
}

/// The catalog's record of a listed photo's Flickr side.
/// The planner's view of a photoset.
fn remote_set(s: &Photoset) -> RemoteSet {
    RemoteSet {
        id: s.id.clone(),
        title: s.title.clone(),
        description: s.description.clone(),
    }
}

pub fn catalog_remote(s: &PhotoSummary) -> catalog::RemotePhoto {
    let r = remote_photo(s);
    catalog::RemotePhoto {
        id: s.id.clone(),
        title: s.title.clone(),
        description: r.meta.description,
        tags: r.meta.tags.into_iter().collect(),
        visibility: s.visibility,
        date_taken: s.date_taken.clone(),
        granularity: s.taken_granularity.unwrap_or_default(),
        original_format: s.original_format.clone(),
        original_secret: s.original_secret.clone(),
        secret: Some(s.secret.clone()).filter(|x| !x.is_empty()),
        server: Some(s.server.clone()).filter(|x| !x.is_empty()),
        url_original: s.url_o.clone(),
        lastupdate: s.last_update.unwrap_or_default(),
        media_video: r.media == Media::Video,
        checksum_tag: r.checksum,
    }
}

/// When a fetch lists everything instead of only what changed.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchOptions {
    /// Full reconciliation now (`--full`).
    pub full: bool,
    /// A full reconciliation every this many syncs (0: never by count).
    pub full_every: u64,
    /// A full reconciliation when the last one is older than this.
    pub full_after: Duration,
    /// Pools (which have no `date_update`) are listed on every sync while
    /// the account is in at most this many groups; beyond, only on full
    /// reconciliations (the executor keeps the cache up to date with its own
    /// pool changes).
    pub pools_every_sync_up_to: usize,
    /// How far back of the cursor photos.recentlyUpdated looks
    /// ([`CURSOR_MARGIN_SECS`] by default).
    pub cursor_margin: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            full: false,
            full_every: 20,
            full_after: Duration::from_secs(7 * 86_400),
            pools_every_sync_up_to: 4,
            cursor_margin: Duration::from_secs(CURSOR_MARGIN_SECS as u64),
        }
    }
}

/// How far back of the cursor photos.recentlyUpdated looks, against clock
/// skew and a lagging index. Photos changed within it are listed again
/// (harmless: they merge as unchanged).
pub const CURSOR_MARGIN_SECS: i64 = 120;

/// What a fetch did and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchReport {
    /// Every photo, set and pool was listed.
    pub full: bool,
    /// Why it was full (or why an incremental fetch listed every photo).
    pub reason: Option<String>,
    /// Photos in the listings this time (all of them when full).
    pub photos_listed: usize,
    /// Photosets whose members were listed (new or changed `date_update`).
    pub sets_listed: usize,
    /// What a full reconciliation found that differs from what the sync
    /// remembered (photos new, gone or changed, sets changed), for people.
    pub found: Vec<String>,
}

impl std::fmt::Display for FetchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.full {
            write!(f, "full reconciliation")?;
        } else {
            write!(f, "incremental check")?;
        }
        if let Some(r) = &self.reason {
            write!(f, " ({r})")?;
        }
        write!(
            f,
            ": {} photos and {} sets listed",
            self.photos_listed, self.sets_listed
        )?;
        for x in &self.found {
            write!(f, "; {x}")?;
        }
        Ok(())
    }
}

/// What the cache must remember after a fetch (see [`commit`]), besides
/// the listed photos themselves ([`Fetched::photos`]).
#[derive(Clone, Debug, Default)]
pub struct CacheDelta {
    /// Everything was listed: the cache forgets what it had first.
    pub full: bool,
    pub gone: Vec<PhotoId>,
    pub sets: Vec<(Photoset, Vec<PhotoId>)>,
    /// Sets whose listing and members are as the cache has them (only
    /// their place in the list is written again).
    pub sets_kept: BTreeSet<SetId>,
    pub pools: Vec<(Group, Vec<PhotoId>)>,
    pub state: AccountState,
}

pub(super) use super::state::now_secs;

fn ids(list: Vec<PhotoSummary>) -> Vec<PhotoId> {
    list.into_iter().map(|p| p.id).collect()
}

/// Flickr's state for `account` (the caller `user`): the photos, sets and
/// pools that changed since the last sync merged into what the sync
/// remembers, or everything when a full reconciliation is due or asked for.
/// An incremental fetch reads the cache by key and builds the snapshot's
/// photos only when `whole` asks for them ([`Fetched::partial`]).
///
/// A no-op incremental fetch costs photosets.getList, photos.recentlyUpdated,
/// one people.getPhotos page (its `total` detects deletions, which
/// recentlyUpdated cannot show), people.getGroups and one call per pool
/// (up to [`FetchOptions::pools_every_sync_up_to`]).
pub async fn fetch(
    client: &Client,
    store: &SyncStore,
    account: catalog::AccountId,
    user: &Nsid,
    opts: &FetchOptions,
    whole: bool,
) -> Result<Fetched, super::error::SyncError> {
    let started = now_secs();
    let prev = store.account(account)?;
    let mut cached = store.load_sets_and_pools(account)?;
    let cached_count = store.photo_count(account)?;
    let mut changed_ids: BTreeSet<PhotoId> = BTreeSet::new();
    let mut total = 0;
    let mut reason = if opts.full {
        Some("asked for".to_owned())
    } else {
        prev.full_due(started, opts.full_every, opts.full_after)
    };
    let had_cache = prev.last_full.is_some();
    let full = reason.is_some();
    let mut report = FetchReport::default();
    let mut delta = CacheDelta::default();

    // Photos.
    let mut photos: BTreeMap<PhotoId, PhotoSummary> = BTreeMap::new();
    let mut list_all = full;
    if !full {
        let since = prev.cursor.unwrap_or(0) - opts.cursor_margin.as_secs() as i64;
        let changed = client
            .list_recently_updated(since.max(0), Extra::SYNC)
            .await?;
        total = client.photos_page(&[], 1, None).await?.total;
        // The listing holds only what changed: the photos that did not
        // stay in the cache, from which the snapshot is built below (the
        // listing's readers fall back to the cache for them).
        report.photos_listed = changed.len();
        for s in changed {
            photos.insert(s.id.clone(), s);
        }
        let mut known = cached_count;
        for k in photos.keys() {
            changed_ids.insert(k.clone());
            if store.photo(account, k)?.is_none() {
                known += 1;
            }
        }
        if total != known as u64 {
            reason = Some(format!(
                "Flickr counts {total} photos, the sync knows {known}: listing them all"
            ));
            list_all = true;
        }
    }
    if list_all {
        let listed = client.list_all_photos(Extra::SYNC).await?;
        report.photos_listed = listed.len();
        let mut fresh = BTreeMap::new();
        for s in listed {
            fresh.insert(s.id.clone(), s);
        }
        total = fresh.len() as u64;
        if had_cache {
            // A full listing compares with the whole cache (it plans the
            // whole account too).
            cached.photos = store.load_photos(account)?;
            let base: BTreeMap<&PhotoId, Option<i64>> = if full {
                cached
                    .photos
                    .iter()
                    .map(|(k, v)| (k, v.last_update))
                    .collect()
            } else {
                let mut b: BTreeMap<&PhotoId, Option<i64>> = cached
                    .photos
                    .iter()
                    .map(|(k, v)| (k, v.last_update))
                    .collect();
                b.extend(photos.iter().map(|(k, v)| (k, v.last_update)));
                b
            };
            let new = fresh.keys().filter(|k| !base.contains_key(k)).count();
            let gone: Vec<PhotoId> = base
                .keys()
                .filter(|k| !fresh.contains_key(**k))
                .map(|k| (*k).clone())
                .collect();
            let changed = fresh
                .iter()
                .filter(|(k, v)| base.get(k).is_some_and(|lu| *lu != v.last_update))
                .count();
            if new + gone.len() + changed > 0 {
                report.found.push(format!(
                    "{new} photos new, {} gone and {changed} changed since the last sync",
                    gone.len()
                ));
            }
            delta.gone = gone;
        }
        delta.full = true;
        photos = fresh;
        cached.photos.clear();
    }

    // Sets.
    let sets = client.list_all_photosets().await?;
    // Each cached set is moved out as the listing names it: what stays
    // is the sets gone since.
    let mut cached_sets: BTreeMap<SetId, (Photoset, Vec<PhotoId>)> =
        std::mem::take(&mut cached.sets)
            .into_iter()
            .map(|e| (e.0.id.clone(), e))
            .collect();
    let mut changed_sets = 0;
    let mut new_sets = 0;
    for set in &sets {
        let known = cached_sets.remove(&set.id);
        new_sets += usize::from(known.is_none());
        let unchanged = known.as_ref().is_some_and(|(c, _)| {
            c.date_update.is_some()
                && c.date_update == set.date_update
                && c.photos == set.photos
                && c.videos == set.videos
        });
        let members = match known {
            Some((c, m)) if unchanged && !full => {
                if c == *set {
                    delta.sets_kept.insert(set.id.clone());
                }
                m
            }
            known => {
                report.sets_listed += 1;
                let m = ids(client.list_all_set_photos(&set.id, &[]).await?);
                if let Some((_, old)) = &known {
                    if unchanged && *old != m {
                        changed_sets += 1;
                    }
                }
                note_members(
                    &mut changed_ids,
                    known.as_ref().map(|(_, old)| old.as_slice()),
                    &m,
                );
                m
            }
        };
        delta.sets.push((set.clone(), members));
    }
    if changed_sets > 0 {
        report.found.push(format!(
            "{changed_sets} sets changed without Flickr saying so"
        ));
    }
    if had_cache && full {
        let gone_sets = cached_sets.len();
        if gone_sets + new_sets > 0 {
            report.found.push(format!(
                "{new_sets} sets new and {gone_sets} gone since the last sync"
            ));
        }
    }

    // Pools.
    let groups = client.list_groups(user).await?;
    let refresh_pools = full || groups.len() <= opts.pools_every_sync_up_to;
    for g in &groups {
        let known = cached.pools.iter().find(|(c, _)| c.id == g.id);
        let members = match known {
            Some((_, m)) if !refresh_pools => m.clone(),
            _ => {
                let m = ids(client.list_all_pool_photos(&g.id, Some(user), &[]).await?);
                note_members(&mut changed_ids, known.map(|(_, old)| old.as_slice()), &m);
                m
            }
        };
        delta.pools.push((g.clone(), members));
    }

    report.full = full;
    report.reason = reason;
    let full_reconciliation = full;
    delta.state = AccountState {
        syncs: prev.syncs + 1,
        since_full: if full_reconciliation {
            0
        } else {
            prev.since_full + 1
        },
        last_full: if full_reconciliation {
            Some(started)
        } else {
            prev.last_full
        },
        cursor: Some(started),
    };
    delta.full = full || list_all;

    // The planner's view.
    let mut out = Fetched::default();
    let partial = !delta.full && !whole;
    if !partial {
        for (id, s) in &photos {
            out.snapshot.photos.insert(id.clone(), remote_photo(s));
        }
    }
    // The unchanged photos (incremental fetch asked for the whole
    // snapshot): straight from the cache, consumed as it goes, with no
    // listing entry kept for them.
    if !delta.full && whole {
        cached.photos = store.load_photos(account)?;
    }
    for (id, c) in std::mem::take(&mut cached.photos) {
        if let std::collections::btree_map::Entry::Vacant(e) = out.snapshot.photos.entry(id) {
            let id = e.key().clone();
            e.insert(remote_photo(&c.into_summary(id)));
        }
    }
    for (set, members) in &delta.sets {
        out.snapshot.sets.insert(set.id.clone(), remote_set(set));
        for p in members {
            if let Some(rp) = out.snapshot.photos.get_mut(p) {
                rp.sets.insert(set.id.clone());
            }
        }
    }
    for (g, members) in &delta.pools {
        out.snapshot.groups.insert(g.id.clone(), g.name.clone());
        for p in members {
            if let Some(rp) = out.snapshot.photos.get_mut(p) {
                rp.pools.insert(g.id.clone());
            }
        }
    }
    out.photos = photos;
    out.partial = partial;
    out.changed = changed_ids;
    out.total = total;
    out.sets = sets;
    out.groups = groups;
    out.report = report;
    out.delta = delta;
    Ok(out)
}

/// Makes a partial fetch's snapshot whole (a sync that plans the whole
/// account after an incremental fetch): every photo the cache holds, this
/// fetch's listing over it, with their set and pool memberships.
pub fn complete_snapshot(
    store: &SyncStore,
    account: catalog::AccountId,
    fetched: &mut Fetched,
) -> Result<(), StateError> {
    if !fetched.partial {
        return Ok(());
    }
    let mut photos = BTreeMap::new();
    for (id, c) in store.load_photos(account)? {
        if !fetched.photos.contains_key(&id) && !fetched.delta.gone.contains(&id) {
            let rp = remote_photo(&c.into_summary(id.clone()));
            photos.insert(id, rp);
        }
    }
    for (id, s) in &fetched.photos {
        photos.insert(id.clone(), remote_photo(s));
    }
    for (set, members) in &fetched.delta.sets {
        for p in members {
            if let Some(rp) = photos.get_mut(p) {
                rp.sets.insert(set.id.clone());
            }
        }
    }
    for (g, members) in &fetched.delta.pools {
        for p in members {
            if let Some(rp) = photos.get_mut(p) {
                rp.pools.insert(g.id.clone());
            }
        }
    }
    fetched.snapshot.photos = photos;
    fetched.partial = false;
    Ok(())
}

/// Notes the photos that joined or left a member list (all of a new one).
fn note_members(out: &mut BTreeSet<PhotoId>, old: Option<&[PhotoId]>, new: &[PhotoId]) {
    match old {
        None => out.extend(new.iter().cloned()),
        Some(old) => {
            let a: BTreeSet<&PhotoId> = old.iter().collect();
            let b: BTreeSet<&PhotoId> = new.iter().collect();
            out.extend(a.symmetric_difference(&b).map(|p| (*p).clone()));
        }
    }
}

/// Remembers what `fetched` learnt (after the catalog recorded it).
pub fn commit(
    store: &mut SyncStore,
    account: catalog::AccountId,
    fetched: &Fetched,
) -> Result<(), StateError> {
    let d = &fetched.delta;
    // every listed photo is one the cache must (re)write: built one at a
    // time from the listing, never a second copy of it
    let changed = fetched
        .photos
        .iter()
        .map(|(id, s)| (id, CachedPhoto::from_summary(s)));
    store.save(
        account,
        d.full,
        changed,
        &d.gone,
        (&d.sets, &d.sets_kept),
        &d.pools,
        &d.state,
    )
}

/// Lists everything of `user` (the caller) on Flickr, ignoring what the
/// sync remembers (used by tests and tools).
pub async fn fetch_full(client: &Client, user: &Nsid) -> Result<Fetched, FlickrError> {
    let mut out = Fetched::default();
    for s in client.list_all_photos(Extra::SYNC).await? {
        out.snapshot.photos.insert(s.id.clone(), remote_photo(&s));
        out.photos.insert(s.id.clone(), s);
    }
    out.sets = client.list_all_photosets().await?;
    for set in &out.sets {
        out.snapshot.sets.insert(set.id.clone(), remote_set(set));
        for p in client.list_all_set_photos(&set.id, &[]).await? {
            if let Some(rp) = out.snapshot.photos.get_mut(&p.id) {
                rp.sets.insert(set.id.clone());
            }
        }
    }
    out.groups = client.list_groups(user).await?;
    for g in &out.groups {
        out.snapshot.groups.insert(g.id.clone(), g.name.clone());
        for p in client.list_all_pool_photos(&g.id, Some(user), &[]).await? {
            if let Some(rp) = out.snapshot.photos.get_mut(&p.id) {
                rp.pools.insert(g.id.clone());
            }
        }
    }
    out.report.full = true;
    out.delta.full = true;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_tags_are_not_user_tags_and_carry_the_checksum() {
        assert!(is_machine_tag("flickrfs:sha1=abc"));
        assert!(!is_machine_tag("holiday"));
        assert!(!is_machine_tag("a:b"));
    }
}
