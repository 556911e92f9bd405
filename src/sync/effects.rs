//! What one executed [`Action`] does to the in-memory snapshots of both
//! sides. The executor applies each action that succeeded, with the ids
//! Flickr and the catalog minted, so that at the end of a sync
//! [`super::plan::next_base`] can record the new merge base without listing
//! Flickr again; the planner's property tests apply whole plans through the
//! same function. A failed action is simply not applied: the base keeps its
//! old value and the next sync plans it again.

use super::plan::{Action, Side};
use super::snapshot::{
    FileState, LocalKey, LocalPhoto, LocalSet, LocalSetKey, LocalSnapshot, PhotoRef, RemotePhoto,
    RemoteSet, RemoteSnapshot, SetRef,
};
use crate::model::{PhotoId, SetId};

/// Ids created while executing one action.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Minted {
    /// Flickr's id for an upload.
    pub photo: Option<PhotoId>,
    /// Flickr's id for a created set.
    pub set: Option<SetId>,
    /// The catalog key of a new local record (download into a new record).
    pub local_photo: Option<LocalKey>,
    /// The catalog key of a new local folder.
    pub local_set: Option<LocalSetKey>,
    /// The upload was found already on Flickr (an interrupted sync's).
    pub resumed: bool,
    /// The primary a set was created with, when it is not the planned one
    /// (that photo could not be uploaded).
    pub primary: Option<PhotoId>,
    /// Where the file of a photo deleted on Flickr stays.
    pub kept_file: Option<std::path::PathBuf>,
}

/// An action that does not fit the snapshots (a bug or a stale plan).
#[derive(Debug, thiserror::Error)]
#[error("cannot apply \"{action}\" to the snapshots: {reason}")]
pub struct EffectError {
    pub action: String,
    pub reason: String,
}

fn err(a: &Action, reason: impl Into<String>) -> EffectError {
    EffectError {
        action: a.to_string(),
        reason: reason.into(),
    }
}

fn local_key(local: &LocalSnapshot, p: &PhotoRef) -> Option<LocalKey> {
    match p {
        PhotoRef::Local(k) => Some(*k),
        PhotoRef::Remote(id) => local
            .photos
            .values()
            .find(|lp| lp.remote.as_ref() == Some(id))
            .map(|lp| lp.key),
    }
}

fn remote_id(local: &LocalSnapshot, p: &PhotoRef) -> Option<PhotoId> {
    match p {
        PhotoRef::Remote(id) => Some(id.clone()),
        PhotoRef::Local(k) => local.photos.get(k).and_then(|lp| lp.remote.clone()),
    }
}

fn local_set(local: &LocalSnapshot, s: &SetRef) -> Option<LocalSetKey> {
    match s {
        SetRef::Local(k) => Some(*k),
        SetRef::Remote(id) => local
            .sets
            .values()
            .find(|ls| ls.remote.as_ref() == Some(id))
            .map(|ls| ls.key),
    }
}

fn remote_set(local: &LocalSnapshot, s: &SetRef) -> Option<SetId> {
    match s {
        SetRef::Remote(id) => Some(id.clone()),
        SetRef::Local(k) => local.sets.get(k).and_then(|ls| ls.remote.clone()),
    }
}

/// Applies one executed action to both snapshots.
pub fn apply_action(
    local: &mut LocalSnapshot,
    remote: &mut RemoteSnapshot,
    a: &Action,
    minted: &Minted,
) -> Result<(), EffectError> {
    match a {
        Action::LinkPhoto {
            local: k,
            remote: id,
        } => {
            let lp = local.photos.get_mut(k).ok_or_else(|| err(a, "no record"))?;
            lp.remote = Some(id.clone());
        }
        Action::LinkSet {
            local: k,
            remote: id,
        } => {
            let ls = local.sets.get_mut(k).ok_or_else(|| err(a, "no folder"))?;
            ls.remote = Some(id.clone());
        }
        Action::Ignore { photo, .. } => {
            local.ignored.insert(photo.clone());
        }
        Action::ForgetLocal { local: k, .. } => {
            local.photos.remove(k);
        }
        Action::CreateLocalSet {
            set,
            title,
            description,
        } => {
            let k = minted
                .local_set
                .ok_or_else(|| err(a, "no folder key minted"))?;
            local.sets.insert(
                k,
                LocalSet {
                    key: k,
                    remote: Some(set.clone()),
                    title: title.clone(),
                    description: description.clone(),
                },
            );
        }
        Action::Upload {
            photo,
            meta,
            checksum,
            media,
        } => {
            let id = minted.photo.clone().ok_or_else(|| err(a, "no id minted"))?;
            let lp = local
                .photos
                .get_mut(photo)
                .ok_or_else(|| err(a, "no record"))?;
            lp.remote = Some(id.clone());
            remote.photos.insert(
                id.clone(),
                RemotePhoto {
                    id,
                    meta: meta.clone(),
                    sets: Default::default(),
                    pools: Default::default(),
                    checksum: checksum.clone(),
                    media: *media,
                    taken: None,
                },
            );
        }
        Action::Download {
            photo,
            into,
            meta,
            sets,
            pools,
        } => {
            let rp = remote
                .photos
                .get(photo)
                .ok_or_else(|| err(a, "not on Flickr"))?;
            match into {
                Some(k) => {
                    let lp = local.photos.get_mut(k).ok_or_else(|| err(a, "no record"))?;
                    lp.file = FileState::Present;
                }
                None => {
                    let key = minted
                        .local_photo
                        .ok_or_else(|| err(a, "no record key minted"))?;
                    let mut lsets = std::collections::BTreeSet::new();
                    for s in sets {
                        let k = local_set(local, &SetRef::Remote(s.clone()))
                            .ok_or_else(|| err(a, format!("no folder for set {s}")))?;
                        lsets.insert(k);
                    }
                    local.photos.insert(
                        key,
                        LocalPhoto {
                            key,
                            remote: Some(photo.clone()),
                            meta: meta.clone(),
                            sets: lsets,
                            pools: pools.clone(),
                            checksum: rp.checksum.clone(),
                            file: FileState::Present,
                            media: rp.media,
                            taken: rp.taken.clone(),
                        },
                    );
                }
            }
        }
        Action::CreateRemoteSet {
            set,
            title,
            description,
            primary,
        } => {
            let id = minted
                .set
                .clone()
                .ok_or_else(|| err(a, "no set id minted"))?;
            let p = minted
                .primary
                .clone()
                .or_else(|| remote_id(local, primary))
                .ok_or_else(|| err(a, "primary not online"))?;
            remote.sets.insert(
                id.clone(),
                RemoteSet {
                    id: id.clone(),
                    title: title.clone(),
                    description: description.clone(),
                },
            );
            remote
                .photos
                .get_mut(&p)
                .ok_or_else(|| err(a, "primary not online"))?
                .sets
                .insert(id.clone());
            let ls = local.sets.get_mut(set).ok_or_else(|| err(a, "no folder"))?;
            ls.remote = Some(id);
        }
        Action::RenameSet { side, set, title } => match side {
            Side::Local => {
                let k = local_set(local, &SetRef::Remote(set.clone()))
                    .ok_or_else(|| err(a, "no folder"))?;
                if let Some(ls) = local.sets.get_mut(&k) {
                    ls.title = title.clone();
                }
            }
            Side::Remote => {
                let rs = remote.sets.get_mut(set).ok_or_else(|| err(a, "no set"))?;
                rs.title = title.clone();
            }
        },
        Action::Edit { side, photo, edit } => match side {
            Side::Local => {
                let k = local_key(local, &PhotoRef::Remote(photo.clone()))
                    .ok_or_else(|| err(a, "no record"))?;
                if let Some(lp) = local.photos.get_mut(&k) {
                    edit.apply_to(&mut lp.meta);
                    if let Some(t) = &edit.taken {
                        lp.taken = Some(t.clone());
                    }
                }
            }
            Side::Remote => {
                let rp = remote
                    .photos
                    .get_mut(photo)
                    .ok_or_else(|| err(a, "not on Flickr"))?;
                edit.apply_to(&mut rp.meta);
            }
        },
        Action::AddToSet { side, photo, set } | Action::RemoveFromSet { side, photo, set } => {
            let add = matches!(a, Action::AddToSet { .. });
            match side {
                Side::Local => {
                    let k = local_key(local, photo).ok_or_else(|| err(a, "no record"))?;
                    let s = local_set(local, set).ok_or_else(|| err(a, "no folder"))?;
                    let sets = &mut local
                        .photos
                        .get_mut(&k)
                        .ok_or_else(|| err(a, "no record"))?
                        .sets;
                    if add {
                        sets.insert(s);
                    } else {
                        sets.remove(&s);
                    }
                }
                Side::Remote => {
                    let id = remote_id(local, photo).ok_or_else(|| err(a, "not online"))?;
                    let s = remote_set(local, set).ok_or_else(|| err(a, "set not online"))?;
                    let sets = &mut remote
                        .photos
                        .get_mut(&id)
                        .ok_or_else(|| err(a, "not on Flickr"))?
                        .sets;
                    if add {
                        sets.insert(s);
                    } else {
                        sets.remove(&s);
                    }
                }
            }
        }
        Action::AddToPool { side, photo, group }
        | Action::RemoveFromPool { side, photo, group } => {
            let add = matches!(a, Action::AddToPool { .. });
            let pools = match side {
                Side::Local => {
                    let k = local_key(local, photo).ok_or_else(|| err(a, "no record"))?;
                    &mut local
                        .photos
                        .get_mut(&k)
                        .ok_or_else(|| err(a, "no record"))?
                        .pools
                }
                Side::Remote => {
                    let id = remote_id(local, photo).ok_or_else(|| err(a, "not online"))?;
                    &mut remote
                        .photos
                        .get_mut(&id)
                        .ok_or_else(|| err(a, "not on Flickr"))?
                        .pools
                }
            };
            if add {
                pools.insert(group.clone());
            } else {
                pools.remove(group);
            }
        }
        Action::DeleteRemoteSet { set, .. } => {
            remote.sets.remove(set);
            for rp in remote.photos.values_mut() {
                rp.sets.remove(set);
            }
        }
        Action::DropLocalSet { set, .. } => {
            local.sets.remove(set);
            for lp in local.photos.values_mut() {
                lp.sets.remove(set);
            }
        }
    }
    Ok(())
}
