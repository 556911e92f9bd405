//! The catalog's records and small named types: ids of rows, accounts,
//! collections (root, photosets, pools), photos with their local and remote
//! sides, entries (a photo's name in a folder), settings, the merge base,
//! journal intents and problems.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::media::{Checksum, ExifInfo, MediaKind};
use crate::model::{Granularity, GroupId, Nsid, PhotoId, Privacy, SetId, TakenAt, Visibility};

use super::names::EntryName;

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

row_id!(
    /// An account's catalog row id.
    AccountId
);
row_id!(
    /// A collection's catalog row id (account root, photoset or pool). Stable
    /// for the life of the collection: the mount may use it in inode numbers.
    CollectionId
);
row_id!(
    /// A photo's catalog row id. Stable for the life of the photo.
    PhotoKey
);
row_id!(
    /// A sync journal row id.
    JournalId
);
row_id!(
    /// A status/problem row id.
    ProblemId
);

/// The catalog's change counter: bumped by every write transaction.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Generation(pub i64);

/// A configured Flickr account as the catalog knows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub nsid: Nsid,
    pub username: String,
    /// The account's folder name in the mount (default: the username).
    pub collection_name: EntryName,
    /// Where downloads and bytes written into the mount are stored.
    pub default_folder: PathBuf,
    /// The account's root collection (photos in no set and no pool).
    pub root: CollectionId,
    /// Flickr `lastupdate` high-water mark of the last incremental fetch.
    pub sync_cursor: Option<i64>,
}

/// What kind of folder a collection is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CollectionKind {
    /// The account folder: photos in no photoset.
    Root,
    /// A photoset; `None` until it has been created online (pending).
    Photoset(Option<SetId>),
    /// A group pool.
    Pool(GroupId),
}

/// Local state of a collection relative to Flickr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CollectionState {
    #[default]
    Normal,
    /// Removed locally (rmdir): delete the set online at the next sync. Not
    /// listed in the mount.
    DeletePending,
}

/// A folder of the mount: account root, photoset or pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collection {
    pub id: CollectionId,
    pub account: AccountId,
    pub kind: CollectionKind,
    /// The folder's name (for the root: the account's collection name).
    pub name: EntryName,
    /// The set's or group's title as the user wants it.
    pub title: String,
    pub description: String,
    /// The set's primary photo, when known.
    pub primary: Option<PhotoKey>,
    pub state: CollectionState,
    /// The title both sides agreed at the last sync (merge base); `None` if
    /// never synced.
    pub synced_title: Option<String>,
}

impl Collection {
    pub fn is_root(&self) -> bool {
        matches!(self.kind, CollectionKind::Root)
    }
    pub fn is_set(&self) -> bool {
        matches!(self.kind, CollectionKind::Photoset(_))
    }
    pub fn is_pool(&self) -> bool {
        matches!(self.kind, CollectionKind::Pool(_))
    }
    /// The Flickr set id of a photoset created online.
    pub fn set_id(&self) -> Option<&SetId> {
        match &self.kind {
            CollectionKind::Photoset(id) => id.as_ref(),
            _ => None,
        }
    }
}

/// The local backing file of a photo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalFile {
    /// Absolute path of the real file (or of the symlink target).
    pub path: PathBuf,
    pub size: u64,
    pub mtime_ns: i64,
    /// `None` while the file is being written (create → write → release).
    pub checksum: Option<Checksum>,
    pub kind: MediaKind,
    pub exif: ExifInfo,
    /// The file was not found where the catalog expects it.
    pub missing: bool,
    /// Created through the mount and not yet finished (released).
    pub writing: bool,
}

/// The Flickr side of a photo, as last fetched.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemotePhoto {
    pub id: PhotoId,
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub visibility: Visibility,
    pub date_taken: Option<TakenAt>,
    pub granularity: Granularity,
    /// `jpg`, `png`, `mp4`...
    pub original_format: Option<String>,
    pub original_secret: Option<String>,
    pub secret: Option<String>,
    pub server: Option<String>,
    /// URL of the original (`url_o`) when Flickr gave one.
    pub url_original: Option<String>,
    /// Flickr's `lastupdate` (Unix seconds).
    pub lastupdate: i64,
    pub media_video: bool,
    /// The checksum machine tag Flickr carries for this photo, if any.
    pub checksum_tag: Option<Checksum>,
}

/// The local side's wanted metadata for a photo (pushed at the next sync),
/// plus upload options. `None` fields mean "use the account's preference".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LocalMeta {
    /// The title: from the entry name (rename = new title) or `user.flickr.title`.
    pub title: String,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub privacy: Option<Privacy>,
    pub resize: Option<Resize>,
    /// `user.flickr.skip`: never upload this photo.
    pub skip: bool,
}

pub use crate::model::Resize;

/// A photo: a catalog record with an optional local file and an optional
/// Flickr side. Its memberships are separate ([`Entry`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Photo {
    pub key: PhotoKey,
    pub account: AccountId,
    pub local: Option<LocalFile>,
    pub remote: Option<RemotePhoto>,
    pub meta: LocalMeta,
    /// Created under a junk name (editor temp file, `.DS_Store`...): never uploaded.
    pub junk: bool,
    /// Deleted from the account folder while on Flickr: never downloaded
    /// again, not listed; restorable with [`super::Catalog::unignore`].
    /// Also set (not listed) for a photo deleted on Flickr.
    pub ignored: bool,
    /// The Flickr id of a photo deleted on Flickr: it left the collection,
    /// its file stays; [`super::Catalog::unignore`] queues it for upload.
    pub deleted_on_flickr: Option<PhotoId>,
}

impl Photo {
    /// The Flickr id, once uploaded or fetched.
    pub fn remote_id(&self) -> Option<&PhotoId> {
        self.remote.as_ref().map(|r| &r.id)
    }
    /// The summary state shown in `user.flickr.state` and the status.
    pub fn state(&self) -> PhotoState {
        if self.ignored {
            return match self.deleted_on_flickr {
                Some(_) => PhotoState::DeletedOnFlickr,
                None => PhotoState::Ignored,
            };
        }
        match (&self.local, &self.remote) {
            (Some(l), _) if l.writing => PhotoState::Writing,
            (Some(l), _) if l.missing => PhotoState::Missing,
            (Some(_), Some(_)) => PhotoState::Synced,
            (None, Some(_)) => PhotoState::RemoteOnly,
            (Some(l), None) if self.junk || self.meta.skip || !l.kind.is_media() => {
                PhotoState::NotUploadable
            }
            (Some(_), None) | (None, None) => PhotoState::LocalOnly,
        }
    }

    /// Would the sync upload it: local, finished, media, not junk, not skipped, not on Flickr yet.
    pub fn is_uploadable(&self) -> bool {
        self.state() == PhotoState::LocalOnly && self.local.is_some()
    }
}

/// A photo's summary state, as `user.flickr.state` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhotoState {
    /// Being written through the mount.
    Writing,
    /// Local only, will be uploaded at the next sync.
    LocalOnly,
    /// Local only and never uploaded: a junk name, `skip`, or not media.
    NotUploadable,
    /// On Flickr with no local file yet (to download).
    RemoteOnly,
    /// On Flickr and local.
    Synced,
    /// The backing file is gone.
    Missing,
    /// Deleted locally, never downloaded again.
    Ignored,
    /// Deleted on Flickr: out of the collection, its file kept.
    DeletedOnFlickr,
}

impl PhotoState {
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoState::Writing => "writing",
            PhotoState::LocalOnly => "local-only",
            PhotoState::NotUploadable => "not-uploadable",
            PhotoState::RemoteOnly => "remote-only",
            PhotoState::Synced => "synced",
            PhotoState::Missing => "missing",
            PhotoState::Ignored => "ignored",
            PhotoState::DeletedOnFlickr => "deleted-on-flickr",
        }
    }
}

/// One name in one folder: a membership of a photo in a collection, joined
/// with what `getattr`/`readdirplus` need.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub collection: CollectionId,
    pub name: EntryName,
    pub photo: PhotoKey,
    /// Backing file path, when the photo has one.
    pub path: Option<PathBuf>,
    /// Local size in bytes (0 for remote-only photos).
    pub size: u64,
    pub mtime_ns: i64,
    pub missing: bool,
    pub writing: bool,
    pub remote_id: Option<PhotoId>,
}

/// What the mount must then do on disk, decided by the catalog. Only ever
/// about a file the mount wrote itself (an *own* file): never a user's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileAction {
    /// Delete this file: a copy the mount wrote that no photo refers to any
    /// more (the catalog has already forgotten it).
    Remove(PathBuf),
    /// Give `photo`'s file `from` the first free name made from `name` in
    /// its folder (an editor's temporary name must not stay), then record
    /// it with [`super::Catalog::moved_backing_file`].
    Rename {
        photo: PhotoKey,
        from: PathBuf,
        name: String,
    },
}

/// What [`super::Catalog::rename`] did: the entry at its new name, and what
/// to do on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renamed {
    pub entry: Entry,
    pub files: Vec<FileAction>,
}

/// What [`super::Catalog::add_file`] and [`super::Catalog::finish_write`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddOutcome {
    /// A new local photo.
    NewPhoto(Entry),
    /// The content was already in the account: the entry now refers to that
    /// photo (one more membership, no second upload).
    SamePhoto(Entry),
    /// The content belongs to a photo that is in photosets or pools, and the
    /// entry was made in the account folder (which lists only photos in no
    /// set and no pool): no entry is kept; the photo stays where it is. `redundant` is the backing
    /// file the caller wrote, which the catalog no longer references.
    AlreadyInSets {
        photo: PhotoKey,
        redundant: Option<PathBuf>,
    },
}

impl AddOutcome {
    /// The entry, when one is listed.
    pub fn entry(&self) -> Option<&Entry> {
        match self {
            AddOutcome::NewPhoto(e) | AddOutcome::SamePhoto(e) => Some(e),
            AddOutcome::AlreadyInSets { .. } => None,
        }
    }
}

/// What [`super::Catalog::unlink`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnlinkOutcome {
    /// Removed from a set or pool (or one of several names).
    RemovedFromCollection { photo: PhotoKey },
    /// Removed from its last set: now listed in the account folder under `name`.
    MovedToRoot { photo: PhotoKey, name: EntryName },
    /// A local-only photo left the catalog. Its file stays on disk at `path`.
    Forgotten {
        photo: PhotoKey,
        path: Option<PathBuf>,
    },
    /// A photo on Flickr became ignored (restorable).
    Ignored { photo: PhotoKey, id: PhotoId },
}

/// What [`super::Catalog::rmdir`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RmdirOutcome {
    /// A set never created online: gone.
    Dropped,
    /// A set on Flickr: deleted online at the next sync.
    DeletePending(SetId),
}

/// The merge base: what both sides agreed at the last sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SyncedBase {
    pub title: String,
    pub description: String,
    pub tags: Vec<String>,
    pub privacy: Privacy,
    /// Set memberships (Flickr ids), sorted.
    pub sets: Vec<SetId>,
    /// Group pool memberships (group ids), sorted.
    pub pools: Vec<GroupId>,
    /// Content checksum agreed (the local file's at the last sync).
    pub checksum: Option<Checksum>,
}

/// A photoset as Flickr lists it, for [`super::Catalog::upsert_remote_sets`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSet {
    pub id: SetId,
    pub title: String,
    pub description: String,
    pub primary: Option<PhotoId>,
}

/// A group pool the account is a member of.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemotePool {
    pub id: GroupId,
    pub name: String,
}

/// One membership change for [`super::Catalog::apply_memberships`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MembershipChange {
    Add {
        photo: PhotoKey,
        collection: CollectionId,
    },
    Remove {
        photo: PhotoKey,
        collection: CollectionId,
    },
}

/// A sync intent, journaled before the action and closed after it, so that a
/// killed sync can resume without duplicates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Intent {
    UploadStarted {
        photo: PhotoKey,
        checksum: Checksum,
    },
    Uploaded {
        photo: PhotoKey,
        id: PhotoId,
    },
    DownloadStarted {
        id: PhotoId,
        dest: PathBuf,
    },
    DownloadFinished {
        id: PhotoId,
        photo: PhotoKey,
        dest: PathBuf,
    },
    SetCreated {
        collection: CollectionId,
        id: SetId,
    },
    SetDeleted {
        id: SetId,
    },
    MetaPushed {
        photo: PhotoKey,
    },
    Other {
        what: String,
    },
}

/// A journal row.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub id: JournalId,
    pub account: AccountId,
    pub intent: Intent,
    /// Unix seconds.
    pub started_at: i64,
    /// `None` while open (the action may or may not have happened).
    pub finished_at: Option<i64>,
}

/// A field of a photo's text and privacy, as an edit sends it to Flickr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MetaField {
    Title,
    Description,
    Tags,
    Privacy,
}

impl MetaField {
    pub fn as_str(self) -> &'static str {
        match self {
            MetaField::Title => "title",
            MetaField::Description => "description",
            MetaField::Tags => "tags",
            MetaField::Privacy => "privacy",
        }
    }

    fn parse(s: &str) -> Option<MetaField> {
        [
            MetaField::Title,
            MetaField::Description,
            MetaField::Tags,
            MetaField::Privacy,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }
}

/// Values Flickr refused for one photo: field → digest of the value.
pub type RefusedEdits = std::collections::BTreeMap<MetaField, String>;

pub(crate) fn meta_field(s: &str) -> Option<MetaField> {
    MetaField::parse(s)
}

/// A local change of a synced photo not yet sent to Flickr
/// ([`super::Catalog::pending_edits`]): each field, its value at the last
/// sync and its value now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingEdit {
    pub photo: PhotoKey,
    pub id: PhotoId,
    pub changes: Vec<(MetaField, String, String)>,
}

impl std::fmt::Display for PendingEdit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "photo {}:", self.id)?;
        for (i, (field, was, now)) in self.changes.iter().enumerate() {
            let cut = |s: &str| match s.char_indices().nth(80) {
                Some((at, _)) => format!("{}…", &s[..at]),
                None => s.to_owned(),
            };
            let sep = if i == 0 { " " } else { "; " };
            write!(f, "{sep}{} {:?} → {:?}", field.as_str(), cut(was), cut(now))?;
        }
        Ok(())
    }
}

/// Kinds of status problems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    MissingFile,
    NotUploadable,
    Conflict,
    Ambiguous,
    DownloadByHand,
    Duplicate,
    /// A file written through the mount that never completed (a write
    /// error, or the mount stopped while it was open): not uploaded; its
    /// bytes stay on disk.
    Incomplete,
    /// Flickr refused the file (not a format it recognises, or empty): not
    /// uploaded again until the file's content changes.
    Refused,
    /// The photo was deleted on Flickr: it left the collection, its file
    /// stays (the message says where and how to upload it again).
    DeletedOnFlickr,
    Other,
}

impl ProblemKind {
    pub const ALL: [ProblemKind; 10] = [
        ProblemKind::MissingFile,
        ProblemKind::NotUploadable,
        ProblemKind::Conflict,
        ProblemKind::Ambiguous,
        ProblemKind::DownloadByHand,
        ProblemKind::Duplicate,
        ProblemKind::Incomplete,
        ProblemKind::Refused,
        ProblemKind::DeletedOnFlickr,
        ProblemKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::MissingFile => "missing-file",
            ProblemKind::NotUploadable => "not-uploadable",
            ProblemKind::Conflict => "conflict",
            ProblemKind::Ambiguous => "ambiguous",
            ProblemKind::DownloadByHand => "download-by-hand",
            ProblemKind::Duplicate => "duplicate",
            ProblemKind::Incomplete => "incomplete",
            ProblemKind::Refused => "refused-by-flickr",
            ProblemKind::DeletedOnFlickr => "deleted-on-flickr",
            ProblemKind::Other => "other",
        }
    }
}

/// Where an account's local files come from
/// ([`crate::catalog::Catalog::file_origins`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FileOrigins {
    /// Photos whose file is the user's own (a library file a copy was
    /// matched to, an `ln -s` target, a file added by path).
    pub references: u64,
    pub reference_bytes: u64,
    /// Photos whose file is a copy the mount wrote into the default folder.
    pub copies: u64,
    pub copy_bytes: u64,
}

impl std::fmt::Display for FileOrigins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mb = |b: u64| format!("{:.1} MB", b as f64 / 1_000_000.0);
        write!(
            f,
            "{} {} to your own files ({} not duplicated); {} {} in the default folder ({})",
            self.references,
            if self.references == 1 {
                "photo refers"
            } else {
                "photos refer"
            },
            mb(self.reference_bytes),
            self.copies,
            if self.copies == 1 {
                "copy is kept"
            } else {
                "copies are kept"
            },
            mb(self.copy_bytes)
        )
    }
}

/// A status row: one problem with a message for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub id: ProblemId,
    pub account: AccountId,
    pub photo: Option<PhotoKey>,
    pub kind: ProblemKind,
    pub message: String,
    /// Unix seconds.
    pub at: i64,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

/// What changed since a generation ([`super::Catalog::changes_since`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Changes {
    /// The current generation (pass it next time).
    pub generation: Generation,
    /// Collections whose listing or entries changed (either way below).
    pub collections: Vec<CollectionId>,
    /// Of those, the ones changed as a whole (renamed, deleted, emptied):
    /// every name in them may have changed.
    pub whole: Vec<CollectionId>,
    /// (collection, photo) whose names or attributes changed there, in a
    /// collection not changed as a whole: only those names need a look.
    pub entries: Vec<(CollectionId, PhotoKey)>,
    /// Accounts whose folder list (sets, pools) changed or were added/removed.
    pub accounts: Vec<AccountId>,
    /// Too old to tell precisely: invalidate everything.
    pub everything: bool,
}
