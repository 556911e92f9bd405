//! Flickr's state for one account, as a [`RemoteSnapshot`] for the planner
//! plus the raw listings the executor and the catalog need (URLs of
//! originals, formats, dates).
//!
//! A full fetch costs: people.getPhotos with every sync extra in pages of
//! 500; photosets.getList, then photosets.getPhotos per set (ids only);
//! people.getGroups, then groups.pools.getPhotos per group limited to the
//! member. Incremental fetching (only sets whose `date_update` moved, photos
//! from photos.recentlyUpdated) is not written yet: every fetch is a full
//! reconciliation.

use std::collections::BTreeMap;

use super::snapshot::{
    normalize_tag, Checksum, Media, PhotoMeta, RemotePhoto, RemoteSet, RemoteSnapshot,
};
use crate::catalog;
use crate::flickr::{self, Client, Extra, FlickrError, Group, PhotoSummary, Photoset};
use crate::model::{Nsid, PhotoId, Privacy};

/// Everything one fetch learnt.
#[derive(Clone, Debug, Default)]
pub struct Fetched {
    pub snapshot: RemoteSnapshot,
    pub photos: BTreeMap<PhotoId, PhotoSummary>,
    pub sets: Vec<Photoset>,
    pub groups: Vec<Group>,
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
    }
}

/// The catalog's record of a listed photo's Flickr side.
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
        checksum_tag: r
            .checksum
            .and_then(|c| crate::media::Checksum::parse(c.as_str())),
    }
}

/// Lists everything of `user` (the caller) on Flickr.
pub async fn fetch_full(client: &Client, user: &Nsid) -> Result<Fetched, FlickrError> {
    let mut out = Fetched::default();
    for s in client.list_all_photos(Extra::SYNC).await? {
        out.snapshot.photos.insert(s.id.clone(), remote_photo(&s));
        out.photos.insert(s.id.clone(), s);
    }
    out.sets = client.list_all_photosets().await?;
    for set in &out.sets {
        out.snapshot.sets.insert(
            set.id.clone(),
            RemoteSet {
                id: set.id.clone(),
                title: set.title.clone(),
                description: set.description.clone(),
            },
        );
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
