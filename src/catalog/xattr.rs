//! Extended attributes of entries: per-photo settings the upload step uses
//! (`user.flickr.title`, `description`, `tags`, `privacy`, `resize`, `skip`)
//! and read-only facts (`user.flickr.id`, `url`, `state`, `user.flickrfs.source`).

use std::ffi::OsStr;

use super::error::Result;
use super::types::*;
use super::Catalog;

/// One extended attribute the mount knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Xattr {
    Title,
    Description,
    Tags,
    Privacy,
    Resize,
    Skip,
    /// Read-only: the Flickr photo id.
    Id,
    /// Read-only: the photo's page or original URL.
    Url,
    /// Read-only: [`PhotoState`] as text.
    State,
    /// Read-only: the backing file's path.
    Source,
}

impl Xattr {
    pub const ALL: [Xattr; 10] = [
        Xattr::Title,
        Xattr::Description,
        Xattr::Tags,
        Xattr::Privacy,
        Xattr::Resize,
        Xattr::Skip,
        Xattr::Id,
        Xattr::Url,
        Xattr::State,
        Xattr::Source,
    ];

    /// The attribute's full name (`user.flickr.title`...).
    pub fn name(self) -> &'static str {
        match self {
            Xattr::Title => "user.flickr.title",
            Xattr::Description => "user.flickr.description",
            Xattr::Tags => "user.flickr.tags",
            Xattr::Privacy => "user.flickr.privacy",
            Xattr::Resize => "user.flickr.resize",
            Xattr::Skip => "user.flickr.skip",
            Xattr::Id => "user.flickr.id",
            Xattr::Url => "user.flickr.url",
            Xattr::State => "user.flickr.state",
            Xattr::Source => "user.flickrfs.source",
        }
    }

    /// The attribute called `name`, if the mount knows it.
    pub fn parse(name: &OsStr) -> Option<Xattr> {
        let name = name.to_str()?;
        Xattr::ALL.into_iter().find(|x| x.name() == name)
    }

    /// Facts that `setxattr` refuses with EPERM.
    pub fn is_read_only(self) -> bool {
        matches!(self, Xattr::Id | Xattr::Url | Xattr::State | Xattr::Source)
    }
}

impl Catalog {
    /// The value of an attribute of `photo`; `Ok(None)` when it has none
    /// (the mount answers ENODATA).
    pub fn get_xattr(&self, photo: PhotoKey, attr: Xattr) -> Result<Option<String>> {
        let _ = (photo, attr);
        todo!()
    }

    /// Sets a setting. Read-only facts: `NotPermitted`; bad values
    /// (privacy, resize, skip): `InvalidValue`; not UTF-8: `InvalidValue`.
    pub fn set_xattr(&self, photo: PhotoKey, attr: Xattr, value: &[u8]) -> Result<()> {
        let _ = (photo, attr, value);
        todo!()
    }

    /// Removes a setting (back to the preference default). Title cannot be
    /// removed (`NotPermitted`); read-only facts: `NotPermitted`.
    pub fn remove_xattr(&self, photo: PhotoKey, attr: Xattr) -> Result<()> {
        let _ = (photo, attr);
        todo!()
    }

    /// The attributes `photo` currently has a value for.
    pub fn list_xattrs(&self, photo: PhotoKey) -> Result<Vec<Xattr>> {
        let _ = photo;
        todo!()
    }
}
