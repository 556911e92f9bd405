//! Loading an incremental plan's snapshots: the account's dirty photos and
//! what the planner compares them with (which ones: [`super::restrict`]),
//! read by key from the catalog and the sync's cache of Flickr, never a
//! whole table. The sets, pools and groups are read whole (few rows).

use std::collections::HashMap;

use super::error::SyncError;
use super::execute::{load_sets, local_photo, Collections, MetaDefaults};
use super::fetch::{remote_photo, Fetched};
use super::restrict::{restrict, Item, Linked, LocalRow, Source};
use super::snapshot::{
    BasePhoto, BaseSnapshot, Checksum, LocalKey, LocalSetKey, LocalSnapshot, RemotePhoto,
    RemoteSnapshot,
};
use super::state::SyncStore;
use crate::catalog::{AccountId, Catalog, CollectionId, PhotoKey, ProblemKind};
use crate::model::PhotoId;

/// The catalog and the sync's cache (with this fetch's delta over it) as
/// a [`Source`].
struct CatalogSource<'a> {
    cat: &'a Catalog,
    store: &'a SyncStore,
    account: AccountId,
    fetched: &'a Fetched,
    defaults: &'a MetaDefaults,
    folders: Collections,
    /// Records read so far, with their bases.
    rows: HashMap<PhotoKey, Option<(LocalRow, Option<BasePhoto>)>>,
}

impl CatalogSource<'_> {
    fn row(&mut self, key: PhotoKey) -> Result<Option<&(LocalRow, Option<BasePhoto>)>, SyncError> {
        if !self.rows.contains_key(&key) {
            let row = match self.cat.photo_if_any(key)? {
                Some(p) if p.account != self.account => None,
                None => None,
                Some(p) if p.ignored => Some((
                    LocalRow::Ignored {
                        remote: p.remote_id().cloned(),
                    },
                    None,
                )),
                Some(p) => {
                    let refused = self.cat.has_problem(p.key, ProblemKind::Refused)?;
                    let collections = self.cat.memberships(p.key)?;
                    let base = match p.remote_id() {
                        Some(_) => self.cat.synced_base(p.key)?,
                        None => None,
                    };
                    let edits = self.cat.refused_edits_of(p.key)?;
                    let (lp, b) = local_photo(
                        &p,
                        self.defaults,
                        refused,
                        collections.into_iter(),
                        &self.folders,
                        base,
                        Some(&edits),
                    );
                    Some((LocalRow::Photo(lp), b))
                }
            };
            self.rows.insert(key, row);
        }
        Ok(self.rows.get(&key).and_then(Option::as_ref))
    }
}

impl Source for CatalogSource<'_> {
    type Error = SyncError;

    fn local(&mut self, key: LocalKey) -> Result<Option<LocalRow>, SyncError> {
        Ok(self.row(PhotoKey(key.0))?.map(|(r, _)| r.clone()))
    }

    fn base(&mut self, id: &PhotoId) -> Result<Option<BasePhoto>, SyncError> {
        let Some((key, false)) = self.cat.linked_record(self.account, id)? else {
            return Ok(None);
        };
        Ok(self.row(key)?.and_then(|(_, b)| b.clone()))
    }

    fn linked(&mut self, id: &PhotoId) -> Result<Linked, SyncError> {
        Ok(match self.cat.linked_record(self.account, id)? {
            None => Linked::No,
            Some((_, true)) => Linked::Ignored,
            Some((k, false)) => Linked::Photo(LocalKey(k.0)),
        })
    }

    fn local_by_checksum(&mut self, c: &Checksum) -> Result<Vec<LocalKey>, SyncError> {
        Ok(self
            .cat
            .photos_by_checksum(self.account, c)?
            .into_iter()
            .map(|k| LocalKey(k.0))
            .collect())
    }

    fn remote(&mut self, id: &PhotoId) -> Result<Option<RemotePhoto>, SyncError> {
        if let Some(s) = self.fetched.photos.get(id) {
            return Ok(Some(remote_photo(s)));
        }
        if self.fetched.delta.gone.contains(id) {
            return Ok(None);
        }
        Ok(self
            .store
            .photo(self.account, id)?
            .map(|c| remote_photo(&c.into_summary(id.clone()))))
    }

    fn remote_by_checksum(&mut self, c: &Checksum) -> Result<Vec<PhotoId>, SyncError> {
        let mut out = self.cat.remote_ids_by_checksum(self.account, c)?;
        // The delta, which a dry run does not record in the catalog.
        for (id, s) in &self.fetched.photos {
            if remote_photo(s).checksum.as_ref() == Some(c) {
                out.push(id.clone());
            }
        }
        Ok(out)
    }

    fn set_members(&mut self, set: LocalSetKey) -> Result<Vec<LocalKey>, SyncError> {
        Ok(self
            .cat
            .member_keys(CollectionId(set.0))?
            .into_iter()
            .map(|k| LocalKey(k.0))
            .collect())
    }
}

/// The snapshots of an incremental plan: the photos `items` name (the
/// dirty ones) and those the planner compares them with, and every set,
/// pool and group. The Flickr photos' set and pool memberships come from
/// the member lists `fetched` carries.
pub(super) fn load(
    cat: &Catalog,
    store: &SyncStore,
    account: AccountId,
    fetched: &Fetched,
    defaults: &MetaDefaults,
    items: impl IntoIterator<Item = Item>,
) -> Result<(LocalSnapshot, BaseSnapshot, RemoteSnapshot), SyncError> {
    let (mut local, mut base) = load_sets(cat, account)?;
    let mut remote = RemoteSnapshot {
        sets: fetched.snapshot.sets.clone(),
        groups: fetched.snapshot.groups.clone(),
        ..RemoteSnapshot::default()
    };
    let mut src = CatalogSource {
        cat,
        store,
        account,
        fetched,
        defaults,
        folders: Collections::load(cat, account)?,
        rows: HashMap::new(),
    };
    restrict(&mut src, items, &mut local, &mut base, &mut remote)?;
    for (set, members) in &fetched.delta.sets {
        for p in members {
            if let Some(rp) = remote.photos.get_mut(p) {
                rp.sets.insert(set.id.clone());
            }
        }
    }
    for (g, members) in &fetched.delta.pools {
        for p in members {
            if let Some(rp) = remote.photos.get_mut(p) {
                rp.pools.insert(g.id.clone());
            }
        }
    }
    Ok((local, base, remote))
}
