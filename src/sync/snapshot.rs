//! The planner's inputs: three plain, in-memory views of one account's
//! collection — what the catalog holds now ([`LocalSnapshot`]), what both sides
//! agreed on at the end of the last sync ([`BaseSnapshot`]) and what Flickr
//! holds now ([`RemoteSnapshot`]).
//!
//! These types know nothing of SQLite or HTTP: adapters fill them from the
//! catalog and from the fetched Flickr state, so that the planner stays a pure
//! function that tests can drive with hand-made or random states.
//!
//! Identity: a local photo is known by its catalog key ([`LocalKey`]) and, once
//! it is linked to Flickr, by its [`PhotoId`]; the base and Flickr only know
//! [`PhotoId`]s. Sets likewise: [`LocalSetKey`] and, once linked, [`SetId`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::model::{Granularity, GroupId, PhotoId, Privacy, SetId, TakenAt};

/// A photo's key in the local catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LocalKey(pub i64);

/// A set's (collection's) key in the local catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalSetKey(pub i64);

impl fmt::Display for LocalKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "local#{}", self.0)
    }
}

impl fmt::Display for LocalSetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "local-set#{}", self.0)
    }
}

/// A content checksum; it travels to Flickr as the machine tag
/// `flickrfs:sha1=<hex>` ([`Checksum::machine_tag`]).
pub use crate::media::Checksum;

/// What kind of media a photo record is, as far as sync cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Media {
    #[default]
    Photo,
    /// Uploadable; its original cannot be fetched through the API.
    Video,
    /// Not something Flickr accepts: never uploaded.
    NotMedia,
}

/// Whether a local record has its backing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum FileState {
    /// The backing file is where the catalog says.
    #[default]
    Present,
    /// The catalog has a path but the file was moved or deleted outside the mount.
    Missing,
    /// No backing file yet (an online photo the catalog knows but has not downloaded).
    Absent,
}

/// The user-editable fields of a photo that sync keeps equal on both sides.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PhotoMeta {
    pub title: String,
    pub description: String,
    /// Normalised tags (see [`normalize_tag`]); machine tags are not listed here.
    pub tags: BTreeSet<String>,
    pub privacy: Privacy,
}

impl PhotoMeta {
    /// A digest of one field's value as an edit would send it: how a value
    /// Flickr refused is recognised later without keeping the value.
    pub fn digest(&self, field: crate::catalog::MetaField) -> String {
        use crate::catalog::MetaField;
        use sha1::{Digest, Sha1};
        let mut h = Sha1::new();
        match field {
            MetaField::Title => h.update(self.title.as_bytes()),
            MetaField::Description => h.update(self.description.as_bytes()),
            MetaField::Tags => {
                for t in &self.tags {
                    h.update(t.as_bytes());
                    h.update([0]);
                }
            }
            MetaField::Privacy => h.update(self.privacy.as_str().as_bytes()),
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Takes `field`'s value from `other`.
    pub fn take_field(&mut self, other: &PhotoMeta, field: crate::catalog::MetaField) {
        use crate::catalog::MetaField;
        match field {
            MetaField::Title => self.title = other.title.clone(),
            MetaField::Description => self.description = other.description.clone(),
            MetaField::Tags => self.tags = other.tags.clone(),
            MetaField::Privacy => self.privacy = other.privacy,
        }
    }
}

/// Flickr's date taken and how precise it is: a fact the mount shows
/// (`user.flickr.date_taken`), read-only, so it only ever comes down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateTaken {
    pub at: TakenAt,
    pub granularity: Granularity,
}

impl fmt::Display for DateTaken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.at.as_str())?;
        if self.granularity != Granularity::Exact {
            write!(f, " ({})", self.granularity.as_str())?;
        }
        Ok(())
    }
}

/// Flickr's normal form of a tag (see [`crate::model::normalize_tag`]).
/// Adapters pass tags through it so that the three sides compare equal.
pub use crate::model::normalize_tag;

/// A photo as the catalog holds it now.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LocalPhoto {
    pub key: LocalKey,
    /// The Flickr photo this record is linked to (uploaded, downloaded or identified).
    pub remote: Option<PhotoId>,
    pub meta: PhotoMeta,
    /// Local sets this photo is in.
    pub sets: BTreeSet<LocalSetKey>,
    /// Group pools this photo is in.
    pub pools: BTreeSet<GroupId>,
    pub checksum: Option<Checksum>,
    pub file: FileState,
    pub media: Media,
    /// Flickr's date taken as the catalog shows it (`None`: not known yet).
    pub taken: Option<DateTaken>,
}

/// A set (folder) as the catalog holds it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalSet {
    pub key: LocalSetKey,
    /// The Flickr photoset it is linked to; `None` for a folder made locally (mkdir).
    pub remote: Option<SetId>,
    pub title: String,
    pub description: String,
}

/// The catalog's view of one account.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LocalSnapshot {
    pub photos: BTreeMap<LocalKey, LocalPhoto>,
    pub sets: BTreeMap<LocalSetKey, LocalSet>,
    /// Flickr photos the user chose to ignore (or deleted locally): never
    /// downloaded, edited or otherwise touched.
    pub ignored: BTreeSet<PhotoId>,
}

/// What both sides agreed on about one photo at the end of the last sync.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BasePhoto {
    pub meta: PhotoMeta,
    pub sets: BTreeSet<SetId>,
    pub pools: BTreeSet<GroupId>,
}

/// What both sides agreed on about one set at the end of the last sync.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BaseSet {
    pub title: String,
}

/// The last-synced state: the merge base.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct BaseSnapshot {
    pub photos: BTreeMap<PhotoId, BasePhoto>,
    pub sets: BTreeMap<SetId, BaseSet>,
}

/// A photo as Flickr holds it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemotePhoto {
    pub id: PhotoId,
    pub meta: PhotoMeta,
    pub sets: BTreeSet<SetId>,
    pub pools: BTreeSet<GroupId>,
    /// From the `flickrfs:sha1=` machine tag, when the photo carries one.
    pub checksum: Option<Checksum>,
    pub media: Media,
    pub taken: Option<DateTaken>,
}

/// A photoset as Flickr holds it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteSet {
    pub id: SetId,
    pub title: String,
    pub description: String,
}

/// Flickr's view of one account.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RemoteSnapshot {
    pub photos: BTreeMap<PhotoId, RemotePhoto>,
    pub sets: BTreeMap<SetId, RemoteSet>,
    /// Groups the account is a member of (id → name): pools it may add to.
    pub groups: BTreeMap<GroupId, String>,
}

/// A photo as the plan names it: by Flickr id once it has one, otherwise by
/// its catalog key (a photo that is only local, e.g. one about to be uploaded).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhotoRef {
    Remote(PhotoId),
    Local(LocalKey),
}

impl fmt::Display for PhotoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhotoRef::Remote(id) => write!(f, "photo {id}"),
            PhotoRef::Local(k) => write!(f, "{k}"),
        }
    }
}

/// A set as the plan names it: by Flickr id once it has one, otherwise by its
/// catalog key (a folder made locally, created online by this plan).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SetRef {
    Remote(SetId),
    Local(LocalSetKey),
}

impl fmt::Display for SetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetRef::Remote(id) => write!(f, "set {id}"),
            SetRef::Local(k) => write!(f, "{k}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_round_trips_through_its_machine_tag() {
        let c = Checksum::parse("DA39A3EE5E6B4B0D3255BFEF95601890AFD80709").unwrap();
        assert_eq!(c.as_str(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            Checksum::from_machine_tag(&c.machine_tag()),
            Some(c.clone())
        );
        assert_eq!(
            Checksum::from_machine_tags(&format!("foo:bar=1 {}", c.machine_tag())),
            Some(c)
        );
        assert_eq!(Checksum::from_machine_tag("flickrfs:sha1=xyz"), None);
        assert_eq!(Checksum::parse("abc"), None);
    }

    #[test]
    fn tags_normalise_like_flickr() {
        assert_eq!(normalize_tag("New York"), "newyork");
        assert_eq!(normalize_tag("\"Big Sur\""), "bigsur");
    }
}
