//! Incremental planning: which part of an account's three snapshots a plan
//! must see when only some photos changed, so that [`super::plan::plan`]
//! run on that part gives exactly the plan it gives on the whole account.
//!
//! A photo is *dirty* when one of the planner's inputs changed for it since
//! the last plan (the catalog's triggers note local changes, the fetch notes
//! Flickr's delta) or when the last plan gave it an outcome (an action, a
//! conflict, a skipped item): see [`outcome_items`]. Every other photo is
//! known to plan to nothing. The part loaded is the dirty photos closed
//! under what the planner compares across photos:
//! - a local record and the Flickr photo it is linked to (and its base);
//! - every local record and every Flickr photo with the same checksum
//!   (linking by machine tag, duplicate content);
//! - every member of a folder made locally (its primary, when it is created).
//!
//! What the closure does not cover makes the caller plan the whole account
//! instead ([`needs_whole_account`]): a change of the sets, pools or options
//! (see [`fingerprint`]), a set deleted on one side (its removals are counted
//! over all its members), a free account's upload quota (counted in key
//! order over all uploads). The safety thresholds' denominators come from
//! counts over the whole account ([`super::plan::PlanOptions::totals`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::plan::{Action, Plan, PlanOptions, Subject};
use super::snapshot::{
    BasePhoto, BaseSnapshot, Checksum, LocalKey, LocalPhoto, LocalSetKey, LocalSnapshot, PhotoRef,
    RemotePhoto, RemoteSnapshot,
};
use crate::model::PhotoId;

/// One photo as the dirty set names it: a catalog record or a Flickr photo.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Item {
    Local(LocalKey),
    Remote(PhotoId),
}

impl Item {
    /// How the catalog's `sync_dirty` table stores it: `#KEY` for a record,
    /// the Flickr id (digits) for a photo.
    pub fn encode(&self) -> String {
        match self {
            Item::Local(k) => format!("#{}", k.0),
            Item::Remote(id) => id.as_str().to_owned(),
        }
    }

    /// The inverse of [`Item::encode`] (`None` for an unreadable row).
    pub fn decode(s: &str) -> Option<Item> {
        match s.strip_prefix('#') {
            Some(k) => k.parse().ok().map(|k| Item::Local(LocalKey(k))),
            None if !s.is_empty() => Some(Item::Remote(PhotoId::new(s.to_owned()))),
            None => None,
        }
    }
}

/// A catalog record as the planner sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalRow {
    /// A record in the collection.
    Photo(LocalPhoto),
    /// A record the user ignored (or deleted), with the Flickr id it keeps.
    Ignored { remote: Option<PhotoId> },
}

/// Where a local record linked to a Flickr photo stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Linked {
    /// No record is linked to it.
    No,
    Photo(LocalKey),
    /// The record linked to it is ignored.
    Ignored,
}

/// Key lookups into the whole account (the catalog and the sync's cache of
/// Flickr, or whole snapshots in tests): never a scan.
pub trait Source {
    type Error;
    /// The record `key` (`None`: no such record).
    fn local(&mut self, key: LocalKey) -> Result<Option<LocalRow>, Self::Error>;
    /// The record linked to Flickr photo `id`.
    fn linked(&mut self, id: &PhotoId) -> Result<Linked, Self::Error>;
    /// Records whose file has checksum `c`.
    fn local_by_checksum(&mut self, c: &Checksum) -> Result<Vec<LocalKey>, Self::Error>;
    /// The merge base of Flickr photo `id` (kept with the record linked to it).
    fn base(&mut self, id: &PhotoId) -> Result<Option<BasePhoto>, Self::Error>;
    /// Flickr photo `id` with its set and pool memberships (`None`: not on Flickr).
    fn remote(&mut self, id: &PhotoId) -> Result<Option<RemotePhoto>, Self::Error>;
    /// Flickr photos whose machine tag carries checksum `c` (a superset is fine).
    fn remote_by_checksum(&mut self, c: &Checksum) -> Result<Vec<PhotoId>, Self::Error>;
    /// The records in local folder `set`.
    fn set_members(&mut self, set: LocalSetKey) -> Result<Vec<LocalKey>, Self::Error>;
}

/// Fills the photos of `local`, `base` and `remote` (whose sets and groups
/// the caller filled, whole) with the dirty `items` and everything the
/// planner compares them with (see the module's header).
pub fn restrict<S: Source>(
    src: &mut S,
    items: impl IntoIterator<Item = Item>,
    local: &mut LocalSnapshot,
    base: &mut BaseSnapshot,
    remote: &mut RemoteSnapshot,
) -> Result<(), S::Error> {
    let mut keys: VecDeque<LocalKey> = VecDeque::new();
    let mut ids: VecDeque<PhotoId> = VecDeque::new();
    let mut sums: VecDeque<Checksum> = VecDeque::new();
    for i in items {
        match i {
            Item::Local(k) => keys.push_back(k),
            Item::Remote(id) => ids.push_back(id),
        }
    }
    // Folders made locally: all their members (one becomes the primary).
    let new_sets: Vec<LocalSetKey> = local
        .sets
        .values()
        .filter(|s| s.remote.is_none())
        .map(|s| s.key)
        .collect();
    for s in new_sets {
        keys.extend(src.set_members(s)?);
    }
    let mut seen_keys: BTreeSet<LocalKey> = BTreeSet::new();
    let mut seen_ids: BTreeSet<PhotoId> = BTreeSet::new();
    let mut seen_sums: BTreeSet<Checksum> = BTreeSet::new();
    loop {
        if let Some(k) = keys.pop_front() {
            if !seen_keys.insert(k) {
                continue;
            }
            match src.local(k)? {
                None | Some(LocalRow::Ignored { remote: None }) => {}
                Some(LocalRow::Ignored { remote: Some(id) }) => {
                    local.ignored.insert(id.clone());
                    ids.push_back(id);
                }
                Some(LocalRow::Photo(photo)) => {
                    if let Some(id) = &photo.remote {
                        ids.push_back(id.clone());
                    }
                    if let Some(c) = &photo.checksum {
                        sums.push_back(c.clone());
                    }
                    local.photos.insert(k, photo);
                }
            }
        } else if let Some(id) = ids.pop_front() {
            if !seen_ids.insert(id.clone()) {
                continue;
            }
            match src.linked(&id)? {
                Linked::No => {}
                Linked::Photo(k) => keys.push_back(k),
                Linked::Ignored => {
                    local.ignored.insert(id.clone());
                }
            }
            if let Some(b) = src.base(&id)? {
                base.photos.insert(id.clone(), b);
            }
            if let Some(rp) = src.remote(&id)? {
                if let Some(c) = &rp.checksum {
                    sums.push_back(c.clone());
                }
                remote.photos.insert(id, rp);
            }
        } else if let Some(c) = sums.pop_front() {
            if !seen_sums.insert(c.clone()) {
                continue;
            }
            keys.extend(src.local_by_checksum(&c)?);
            ids.extend(src.remote_by_checksum(&c)?);
        } else {
            return Ok(());
        }
    }
}

fn photo_items(p: &PhotoRef, out: &mut BTreeSet<Item>) {
    out.insert(match p {
        PhotoRef::Remote(id) => Item::Remote(id.clone()),
        PhotoRef::Local(k) => Item::Local(*k),
    });
}

/// The photos `plan` gives an outcome (an action, a conflict, a skipped
/// item): they stay dirty. Sets are planned whole every time.
pub fn outcome_items(plan: &Plan) -> BTreeSet<Item> {
    let mut out = BTreeSet::new();
    for a in &plan.actions {
        match a {
            Action::LinkPhoto { local, remote } | Action::ForgetLocal { local, remote, .. } => {
                out.insert(Item::Local(*local));
                out.insert(Item::Remote(remote.clone()));
            }
            Action::Ignore { photo, .. } | Action::Download { photo, .. } => {
                out.insert(Item::Remote(photo.clone()));
                if let Action::Download { into: Some(k), .. } = a {
                    out.insert(Item::Local(*k));
                }
            }
            Action::Upload { photo, .. } => {
                out.insert(Item::Local(*photo));
            }
            Action::CreateRemoteSet { primary, .. } => photo_items(primary, &mut out),
            Action::Edit { photo, .. } => {
                out.insert(Item::Remote(photo.clone()));
            }
            Action::AddToSet { photo, .. }
            | Action::RemoveFromSet { photo, .. }
            | Action::AddToPool { photo, .. }
            | Action::RemoveFromPool { photo, .. } => photo_items(photo, &mut out),
            Action::LinkSet { .. }
            | Action::CreateLocalSet { .. }
            | Action::RenameSet { .. }
            | Action::DeleteRemoteSet { .. }
            | Action::DropLocalSet { .. } => {}
        }
    }
    let subjects = plan
        .conflicts
        .iter()
        .map(|c| &c.subject)
        .chain(plan.skipped.iter().map(|s| &s.subject));
    for s in subjects {
        if let Subject::Photo(p) = s {
            photo_items(p, &mut out);
        }
    }
    out
}

/// The photos that must stay dirty after `plan` was made from these
/// snapshots: those it gives an outcome ([`outcome_items`]); those of the
/// base missing from Flickr, which the big-removal guard counts even when
/// they plan to nothing (a one-way sync up leaves them so); and those
/// whose merge base the sync would write ([`base_writes`]): until it is
/// written (the executor then settles them), a later change would merge
/// against the old one.
pub fn keep_dirty(
    plan: &Plan,
    local: &LocalSnapshot,
    base: &BaseSnapshot,
    remote: &RemoteSnapshot,
) -> BTreeSet<Item> {
    let mut out = outcome_items(plan);
    for id in base.photos.keys() {
        if !remote.photos.contains_key(id) && !local.ignored.contains(id) {
            out.insert(Item::Remote(id.clone()));
        }
    }
    for (k, id) in base_writes(local, base, remote) {
        out.insert(Item::Local(k));
        out.insert(Item::Remote(id));
    }
    out
}

/// The photos whose merge base differs from the one a sync records after
/// planning nothing for them ([`super::plan::next_base_photo`]).
pub fn base_writes(
    local: &LocalSnapshot,
    base: &BaseSnapshot,
    remote: &RemoteSnapshot,
) -> Vec<(LocalKey, PhotoId)> {
    let mut first: BTreeMap<&PhotoId, &LocalPhoto> = BTreeMap::new();
    for lp in local.photos.values() {
        if let Some(id) = &lp.remote {
            first.entry(id).or_insert(lp);
        }
    }
    let mut out = Vec::new();
    for lp in local.photos.values() {
        let Some(id) = &lp.remote else { continue };
        if local.ignored.contains(id) {
            continue;
        }
        let Some(rp) = remote.photos.get(id) else {
            continue;
        };
        let linked = first.get(id).copied().unwrap_or(lp);
        let prev = base.photos.get(id);
        if prev != Some(&super::plan::next_base_photo(prev, linked, rp, local)) {
            out.push((lp.key, id.clone()));
        }
    }
    out
}

/// Every item the snapshots hold (what a plan of them looked at).
pub fn items_of(
    local: &LocalSnapshot,
    base: &BaseSnapshot,
    remote: &RemoteSnapshot,
) -> BTreeSet<Item> {
    let mut out: BTreeSet<Item> = local.photos.keys().map(|k| Item::Local(*k)).collect();
    for lp in local.photos.values() {
        if let Some(id) = &lp.remote {
            out.insert(Item::Remote(id.clone()));
        }
    }
    out.extend(local.ignored.iter().cloned().map(Item::Remote));
    out.extend(remote.photos.keys().cloned().map(Item::Remote));
    out.extend(base.photos.keys().cloned().map(Item::Remote));
    out
}

/// Whether a plan made on a restricted part cannot be trusted and the
/// whole account must be planned: a set deleted on one side (the
/// big-removal guard counts all its members).
pub fn needs_whole_account(plan: &Plan) -> bool {
    plan.actions.iter().any(|a| {
        matches!(
            a,
            Action::DeleteRemoteSet { .. } | Action::DropLocalSet { .. }
        )
    })
}

/// A digest of everything a photo's plan depends on besides the photo
/// itself: the sets on all three sides, the groups, the options (and
/// `extra`, the caller's own settings that change the snapshots or the
/// plan). Photos left clean by a plan are clean only for the same digest.
pub fn fingerprint(
    local: &LocalSnapshot,
    base: &BaseSnapshot,
    remote: &RemoteSnapshot,
    opts: &PlanOptions,
    extra: &str,
) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(format!("{:?}\n", local.sets));
    h.update(format!("{:?}\n", base.sets));
    h.update(format!("{:?}\n", remote.sets));
    h.update(format!("{:?}\n", remote.groups));
    h.update(format!(
        "{:?} {:?} {:?}\n",
        opts.direction, opts.sets, opts.pools
    ));
    h.update(extra.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whole snapshots as a [`Source`] (the tests' model of the catalog and
/// the cache).
#[cfg(test)]
pub struct Snapshots<'a> {
    pub local: &'a LocalSnapshot,
    pub base: &'a BaseSnapshot,
    pub remote: &'a RemoteSnapshot,
}

#[cfg(test)]
impl Source for Snapshots<'_> {
    type Error = std::convert::Infallible;
    fn local(&mut self, key: LocalKey) -> Result<Option<LocalRow>, Self::Error> {
        Ok(self.local.photos.get(&key).cloned().map(LocalRow::Photo))
    }
    fn base(&mut self, id: &PhotoId) -> Result<Option<BasePhoto>, Self::Error> {
        Ok(self.base.photos.get(id).cloned())
    }
    fn linked(&mut self, id: &PhotoId) -> Result<Linked, Self::Error> {
        if self.local.ignored.contains(id) {
            return Ok(Linked::Ignored);
        }
        Ok(self
            .local
            .photos
            .values()
            .find(|p| p.remote.as_ref() == Some(id))
            .map_or(Linked::No, |p| Linked::Photo(p.key)))
    }
    fn local_by_checksum(&mut self, c: &Checksum) -> Result<Vec<LocalKey>, Self::Error> {
        Ok(self
            .local
            .photos
            .values()
            .filter(|p| p.checksum.as_ref() == Some(c))
            .map(|p| p.key)
            .collect())
    }
    fn remote(&mut self, id: &PhotoId) -> Result<Option<RemotePhoto>, Self::Error> {
        Ok(self.remote.photos.get(id).cloned())
    }
    fn remote_by_checksum(&mut self, c: &Checksum) -> Result<Vec<PhotoId>, Self::Error> {
        Ok(self
            .remote
            .photos
            .values()
            .filter(|p| p.checksum.as_ref() == Some(c))
            .map(|p| p.id.clone())
            .collect())
    }
    fn set_members(&mut self, set: LocalSetKey) -> Result<Vec<LocalKey>, Self::Error> {
        Ok(self
            .local
            .photos
            .values()
            .filter(|p| p.sets.contains(&set))
            .map(|p| p.key)
            .collect())
    }
}

/// The items whose inputs differ between two states of the snapshots (what
/// the catalog's triggers and the fetch's delta note in the real thing).
#[cfg(test)]
pub fn changed_items(
    before: (&LocalSnapshot, &BaseSnapshot, &RemoteSnapshot),
    after: (&LocalSnapshot, &BaseSnapshot, &RemoteSnapshot),
) -> BTreeSet<Item> {
    let mut out = BTreeSet::new();
    let keys: BTreeSet<&LocalKey> = before
        .0
        .photos
        .keys()
        .chain(after.0.photos.keys())
        .collect();
    for k in keys {
        let (a, b) = (before.0.photos.get(k), after.0.photos.get(k));
        if a != b {
            out.insert(Item::Local(*k));
            for p in [a, b].into_iter().flatten() {
                if let Some(id) = &p.remote {
                    out.insert(Item::Remote(id.clone()));
                }
            }
        }
    }
    for id in before.0.ignored.symmetric_difference(&after.0.ignored) {
        out.insert(Item::Remote(id.clone()));
    }
    let ids: BTreeSet<&PhotoId> = before
        .1
        .photos
        .keys()
        .chain(after.1.photos.keys())
        .collect();
    for id in ids {
        if before.1.photos.get(id) != after.1.photos.get(id) {
            out.insert(Item::Remote(id.clone()));
        }
    }
    let ids: BTreeSet<&PhotoId> = before
        .2
        .photos
        .keys()
        .chain(after.2.photos.keys())
        .collect();
    for id in ids {
        if before.2.photos.get(id) != after.2.photos.get(id) {
            out.insert(Item::Remote(id.clone()));
        }
    }
    out
}

/// The part of whole snapshots an incremental plan loads.
#[cfg(test)]
pub type Part = (LocalSnapshot, BaseSnapshot, RemoteSnapshot);

/// The plan of the part of whole snapshots that `dirty` reaches, the way
/// an incremental sync makes it (the restricted snapshots planned with the
/// whole account's totals when a threshold could trip), and that part;
/// `None` when the whole account must be planned.
#[cfg(test)]
pub fn plan_incrementally(
    local: &LocalSnapshot,
    base: &BaseSnapshot,
    remote: &RemoteSnapshot,
    dirty: &BTreeSet<Item>,
    opts: &PlanOptions,
) -> Option<(Result<Plan, super::plan::PlanError>, Part)> {
    let mut l = LocalSnapshot {
        sets: local.sets.clone(),
        ..LocalSnapshot::default()
    };
    let mut b = BaseSnapshot {
        sets: base.sets.clone(),
        ..BaseSnapshot::default()
    };
    let mut r = RemoteSnapshot {
        sets: remote.sets.clone(),
        groups: remote.groups.clone(),
        ..RemoteSnapshot::default()
    };
    let mut src = Snapshots {
        local,
        base,
        remote,
    };
    let Ok(()) = restrict(&mut src, dirty.iter().cloned(), &mut l, &mut b, &mut r);
    let first = super::plan::plan(&l, &b, &r, opts);
    let suspicious = match &first {
        Ok(p) => !p.concerns.is_empty() || needs_whole_account(p),
        Err(super::plan::PlanError::Unsafe { .. }) => true,
    };
    if !suspicious {
        return Some((first, (l, b, r)));
    }
    let whole = PlanOptions {
        totals: Some(super::plan::PlanTotals::of(local, base)),
        ..opts.clone()
    };
    let again = super::plan::plan(&l, &b, &r, &whole);
    match &again {
        Ok(p) if needs_whole_account(p) => None,
        Err(super::plan::PlanError::Unsafe { plan, .. }) if needs_whole_account(plan) => None,
        _ => Some((again, (l, b, r))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_round_trip_through_their_text() {
        for i in [
            Item::Local(LocalKey(42)),
            Item::Remote(PhotoId::new("53123".to_owned())),
        ] {
            assert_eq!(Item::decode(&i.encode()), Some(i));
        }
        assert_eq!(Item::decode(""), None);
        assert_eq!(Item::decode("#x"), None);
    }
}
