//! Set membership on Flickr in as few calls as the API allows, without
//! ever dropping a member someone else added.
//!
//! Additions to one set go in one `photosets.editPhotos` (the whole new
//! list) when that is cheaper than one `addPhoto` each: the set is read
//! right before the edit and the new list is what was read plus the new
//! photos, so every member that existed at the read is kept (for the sets
//! this run created, one `photosets.getList` for all of them stands for
//! that read when it shows a set unchanged since its creation); the set is
//! read again after the edit, and when it is not exactly what was written
//! (someone changed it meanwhile) the photos of ours that are missing are
//! added one by one. Removals go in one `photosets.removePhotos`, which only
//! ever removes the listed photos and so needs no read. Any failure of a
//! batched call falls back to the per-photo calls, which are idempotent.
//!
//! What no Flickr call can show: a photo added by someone else in the
//! instant between the read and the edit (one round trip) is not in the
//! list written, and the verify read cannot tell it was ever there.
//!
//! Not for the catalog: the executor records outcomes; this module only
//! talks to Flickr. Different sets are edited concurrently by the caller.

use std::collections::BTreeMap;

use crate::flickr::{Client, FlickrError};
use crate::model::{PhotoId, SetId};

/// Photos per page of photosets.getPhotos.
const PAGE: usize = 500;

/// How the additions to one set were made (for tests and logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddPath {
    /// One addPhoto per photo (few photos, or a batched call failed).
    PerPhoto,
    /// read, editPhotos, verify read: the set was as written.
    Edited,
    /// read, editPhotos, verify read showed a change: the missing photos of
    /// ours were then added one by one.
    EditedThenRepaired,
}

/// Calls of read + edit + verify for a set of `members` photos growing by
/// `adding` (without the read when the members are known already).
fn batch_cost(members: usize, adding: usize, read: bool) -> usize {
    let pages = |n: usize| n.div_ceil(PAGE).max(1);
    (if read { pages(members) } else { 0 }) + 1 + pages(members + adding)
}

/// The sets this run created whose state, in one `photosets.getList` read
/// right before the edits, shows no change since their creation: still
/// their one photo, `date_update` equal to `date_create`. Their members are
/// known (the primary they were created with), so they need no read of
/// their own. `created`: set → the primary it was created with.
pub async fn unchanged_new_sets(
    client: &Client,
    created: &BTreeMap<SetId, PhotoId>,
) -> BTreeMap<SetId, Vec<PhotoId>> {
    let mut out = BTreeMap::new();
    if created.is_empty() {
        return out;
    }
    let Ok(sets) = client.list_all_photosets().await else {
        // Each set is then read on its own.
        return out;
    };
    for s in sets {
        let Some(primary) = created.get(&s.id) else {
            continue;
        };
        let untouched = s.photos + s.videos == 1
            && s.date_create.is_some()
            && s.date_update == s.date_create
            && s.primary.as_ref() == Some(primary);
        if untouched {
            out.insert(s.id, vec![primary.clone()]);
        }
    }
    out
}

/// The calls the plan expects for `add` additions to and `remove` removals
/// from one set (a set of up to 500 photos; a larger one reads more pages).
pub fn planned_calls(add: usize, remove: usize) -> u64 {
    let add = add.min(batch_cost(0, add, true));
    let remove = remove.min(1);
    (add + remove) as u64
}

/// Adds `photos` (none of them known to be in the set) to `set`; one result
/// per photo, in order. `known_members` is the set's size as last listed,
/// used only to judge which way is cheaper.
///
/// `current`: the set's members as just read some other way (the primary
/// first), when known; the set is then not read again before the edit.
pub async fn add_photos(
    client: &Client,
    set: &SetId,
    photos: &[PhotoId],
    known_members: usize,
    current: Option<Vec<PhotoId>>,
) -> (AddPath, Vec<Result<(), FlickrError>>) {
    let cost = batch_cost(known_members, photos.len(), current.is_none());
    if photos.len() <= cost {
        return (AddPath::PerPhoto, one_by_one(client, set, photos).await);
    }
    match edit_in(client, set, photos, current).await {
        Ok(None) => (AddPath::Edited, photos.iter().map(|_| Ok(())).collect()),
        Ok(Some(missing)) => {
            tracing::info!(
                "set {set} changed while it was edited: adding {} photos one by one",
                missing.len()
            );
            // `missing` keeps the order of `photos`: results pair up in turn.
            let mut done = one_by_one(client, set, &missing).await.into_iter();
            let out = photos
                .iter()
                .map(|p| match missing.contains(p) {
                    true => done.next().unwrap_or(Ok(())),
                    false => Ok(()),
                })
                .collect();
            (AddPath::EditedThenRepaired, out)
        }
        Err(e) => {
            tracing::info!("batched edit of set {set} failed ({e}): adding photos one by one");
            (AddPath::PerPhoto, one_by_one(client, set, photos).await)
        }
    }
}

/// read → editPhotos(read + photos) → read. `None` when the set is exactly
/// what was written; else the photos of ours missing from it.
async fn edit_in(
    client: &Client,
    set: &SetId,
    photos: &[PhotoId],
    current: Option<Vec<PhotoId>>,
) -> Result<Option<Vec<PhotoId>>, FlickrError> {
    let (primary, mut list) = match current {
        Some(list) => (list.first().cloned(), list),
        None => {
            let before = client.list_all_set_photos(set, &[]).await?;
            let primary = before
                .iter()
                .find(|p| p.is_primary == Some(true))
                .or(before.first())
                .map(|p| p.id.clone());
            (primary, before.into_iter().map(|p| p.id).collect())
        }
    };
    for p in photos {
        if !list.contains(p) {
            list.push(p.clone());
        }
    }
    // An empty set read (it cannot be on Flickr) makes our first photo the primary.
    let primary = primary.unwrap_or_else(|| photos[0].clone());
    client.edit_set_photos(set, &primary, &list).await?;
    let after: Vec<PhotoId> = client
        .list_all_set_photos(set, &[])
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    if after == list {
        return Ok(None);
    }
    Ok(Some(
        photos
            .iter()
            .filter(|p| !after.contains(p))
            .cloned()
            .collect(),
    ))
}

async fn one_by_one(
    client: &Client,
    set: &SetId,
    photos: &[PhotoId],
) -> Vec<Result<(), FlickrError>> {
    let mut out = Vec::with_capacity(photos.len());
    for p in photos {
        out.push(client.add_to_set(set, p).await.map(drop));
    }
    out
}

/// Removes `photos` from `set`: one removePhotos, or one removePhoto each
/// when that fails (or there is only one).
pub async fn remove_photos(
    client: &Client,
    set: &SetId,
    photos: &[PhotoId],
) -> Vec<Result<(), FlickrError>> {
    if photos.len() > 1 {
        match client.remove_photos_from_set(set, photos).await {
            Ok(()) => return photos.iter().map(|_| Ok(())).collect(),
            Err(e) => {
                tracing::info!(
                    "removing {} photos from set {set} at once failed ({e}): one by one",
                    photos.len()
                );
            }
        }
    }
    let mut out = Vec::with_capacity(photos.len());
    for p in photos {
        out.push(client.remove_from_set(set, p).await);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editing_is_chosen_only_when_it_saves_calls() {
        // A new set (1 member): read + edit + verify = 3 calls.
        assert_eq!(batch_cost(1, 99, true), 3);
        assert_eq!(batch_cost(0, 3, true), 3);
        // A set whose members are known already: edit and verify only.
        assert_eq!(batch_cost(1, 99, false), 2);
        // 499 members + 2: the verify reads two pages.
        assert_eq!(batch_cost(499, 2, true), 4);
        assert_eq!(batch_cost(1200, 10, true), 7);
        assert_eq!(planned_calls(2, 0), 2);
        assert_eq!(planned_calls(99, 5), 4);
    }
}
