//! The sync planner: a pure function from (local state, last-synced base,
//! Flickr's state, options) to a [`Plan`], the list of [`Action`]s a sync
//! would perform, with conflicts, skipped items, counts and an API-call
//! estimate.
//!
//! It is a three-way merge (the Dropbox "three trees" method): a change on one
//! side since the base propagates to the other; a removal on one side is not
//! undone by the other; when both sides changed the same field differently,
//! Flickr's value is kept and a [`Conflict`] is reported. Set memberships,
//! pool memberships and tags merge element by element, so they never
//! conflict.
//!
//! What it never does: there is no action that deletes a photo from Flickr,
//! and none that deletes a user's file. A synced photo that disappears
//! locally becomes *ignored*; a photo deleted on Flickr leaves the
//! collection (its file stays on disk, and it can be uploaded again). Sets
//! are deleted online only when the user removed the folder locally.
//! Flickr's date taken only comes down (it is read-only in the mount).
//!
//! It does no I/O: the executor (`execute.rs`) carries the plan out, and
//! [`next_base`] computes the merge base to record afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use super::snapshot::{
    BasePhoto, BaseSet, BaseSnapshot, Checksum, DateTaken, FileState, LocalKey, LocalPhoto,
    LocalSetKey, LocalSnapshot, Media, PhotoMeta, PhotoRef, RemotePhoto, RemoteSnapshot, SetRef,
};
use crate::model::{Direction, GroupId, PhotoId, Privacy, SetId};

/// Which side an action changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The catalog (and the default folder).
    Local,
    /// Flickr.
    Remote,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Local => "local",
            Side::Remote => "Flickr",
        })
    }
}

/// New values for some of a photo's fields. On the remote side, when either
/// the title or the description changes both are given (Flickr's `setMeta`
/// takes both).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MetaEdit {
    pub title: Option<String>,
    pub description: Option<String>,
    pub tags: Option<BTreeSet<String>>,
    pub privacy: Option<Privacy>,
    /// Local side only: Flickr's new date taken (read-only in the mount).
    pub taken: Option<DateTaken>,
}

impl MetaEdit {
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.description.is_none()
            && self.tags.is_none()
            && self.privacy.is_none()
            && self.taken.is_none()
    }

    /// REST calls it costs on `side`: on Flickr `setMeta`, `setTags`,
    /// `setPerms`; new tags on either side also read the photo's tags as
    /// their owner wrote them (`photos.getInfo`: Flickr lists them only
    /// normalised, "summer light" as `summerlight`).
    pub fn api_calls(&self, side: Side) -> u64 {
        let info = u64::from(self.tags.is_some());
        match side {
            Side::Local => info,
            Side::Remote => {
                u64::from(self.title.is_some() || self.description.is_some())
                    + info
                    + u64::from(self.tags.is_some())
                    + u64::from(self.privacy.is_some())
            }
        }
    }

    /// Writes the new values into `meta`.
    pub fn apply_to(&self, meta: &mut PhotoMeta) {
        if let Some(t) = &self.title {
            meta.title = t.clone();
        }
        if let Some(d) = &self.description {
            meta.description = d.clone();
        }
        if let Some(t) = &self.tags {
            meta.tags = t.clone();
        }
        if let Some(p) = self.privacy {
            meta.privacy = p;
        }
    }
}

/// One step of a plan. There is deliberately no variant that deletes a photo
/// from Flickr or a file from disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Record that a local photo and a Flickr photo are the same (found by
    /// the `flickrfs:sha1=` machine tag, e.g. an upload that landed before a crash).
    LinkPhoto { local: LocalKey, remote: PhotoId },
    /// Record that a local folder made with mkdir and a new Flickr set with
    /// the same title are the same set (several of one title pair up in
    /// creation order).
    LinkSet { local: LocalSetKey, remote: SetId },
    /// A synced photo was removed locally: mark it ignored (never downloaded
    /// again; restorable with the CLI). Nothing is deleted anywhere.
    Ignore { photo: PhotoId, title: String },
    /// The photo was deleted on Flickr: it leaves the collection, its file
    /// stays on disk (`Catalog::forget_deleted_on_flickr`).
    ForgetLocal {
        local: LocalKey,
        remote: PhotoId,
        title: String,
    },
    /// A photoset new on Flickr becomes a local folder.
    CreateLocalSet {
        set: SetId,
        title: String,
        description: String,
    },
    /// Upload a local photo with these fields (plus the checksum machine tag).
    Upload {
        photo: LocalKey,
        meta: PhotoMeta,
        checksum: Option<Checksum>,
        media: Media,
    },
    /// Fetch a photo's original into the default folder. `into` is the
    /// existing record that lacks its file; `None` makes a new record with
    /// `meta`, in `sets` and `pools`.
    Download {
        photo: PhotoId,
        into: Option<LocalKey>,
        meta: PhotoMeta,
        sets: BTreeSet<SetId>,
        pools: BTreeSet<GroupId>,
    },
    /// Create a photoset online for a folder made locally, with `primary`
    /// (its first photo) in it.
    CreateRemoteSet {
        set: LocalSetKey,
        title: String,
        description: String,
        primary: PhotoRef,
    },
    RenameSet {
        side: Side,
        set: SetId,
        title: String,
    },
    Edit {
        side: Side,
        photo: PhotoId,
        edit: MetaEdit,
    },
    AddToSet {
        side: Side,
        photo: PhotoRef,
        set: SetRef,
    },
    RemoveFromSet {
        side: Side,
        photo: PhotoRef,
        set: SetRef,
    },
    AddToPool {
        side: Side,
        photo: PhotoRef,
        group: GroupId,
    },
    RemoveFromPool {
        side: Side,
        photo: PhotoRef,
        group: GroupId,
    },
    /// Delete a photoset on Flickr whose folder the user removed (rmdir).
    /// Its photos stay.
    DeleteRemoteSet { set: SetId, title: String },
    /// A photoset deleted on Flickr: remove the local folder (its photos stay
    /// in the catalog and on disk).
    DropLocalSet {
        set: LocalSetKey,
        remote: SetId,
        title: String,
    },
}

impl Action {
    /// Execution phase: actions run in ascending phase order, so that links
    /// and new photos and sets exist before anything refers to them, and
    /// additions come before removals (a move never leaves a photo setless).
    pub fn phase(&self) -> u8 {
        match self {
            Action::LinkPhoto { .. } | Action::LinkSet { .. } => 0,
            Action::Ignore { .. } | Action::ForgetLocal { .. } => 1,
            Action::CreateLocalSet { .. } => 2,
            Action::Upload { .. } => 3,
            Action::Download { .. } => 4,
            Action::CreateRemoteSet { .. } => 5,
            Action::RenameSet { .. } | Action::Edit { .. } => 6,
            Action::AddToSet { .. } | Action::AddToPool { .. } => 7,
            Action::RemoveFromSet { .. } | Action::RemoveFromPool { .. } => 8,
            Action::DeleteRemoteSet { .. } | Action::DropLocalSet { .. } => 9,
        }
    }

    /// The side it changes (links and ignores are local bookkeeping).
    pub fn side(&self) -> Side {
        match self {
            Action::Upload { .. }
            | Action::CreateRemoteSet { .. }
            | Action::DeleteRemoteSet { .. } => Side::Remote,
            Action::LinkPhoto { .. }
            | Action::LinkSet { .. }
            | Action::Ignore { .. }
            | Action::ForgetLocal { .. }
            | Action::CreateLocalSet { .. }
            | Action::Download { .. }
            | Action::DropLocalSet { .. } => Side::Local,
            Action::RenameSet { side, .. }
            | Action::Edit { side, .. }
            | Action::AddToSet { side, .. }
            | Action::RemoveFromSet { side, .. }
            | Action::AddToPool { side, .. }
            | Action::RemoveFromPool { side, .. } => *side,
        }
    }

    /// Flickr REST/upload calls this action costs (file downloads from the
    /// photo host are counted apart).
    pub fn api_calls(&self) -> u64 {
        match self {
            Action::Edit { side, edit, .. } => edit.api_calls(*side),
            Action::Upload { .. }
            | Action::CreateRemoteSet { .. }
            | Action::DeleteRemoteSet { .. } => 1,
            Action::RenameSet {
                side: Side::Remote, ..
            }
            | Action::AddToSet {
                side: Side::Remote, ..
            }
            | Action::RemoveFromSet {
                side: Side::Remote, ..
            }
            | Action::AddToPool {
                side: Side::Remote, ..
            }
            | Action::RemoveFromPool {
                side: Side::Remote, ..
            } => 1,
            _ => 0,
        }
    }
}

/// `text` cut to `max` characters, with "…" when cut.
pub(crate) fn abbreviate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((at, _)) => format!("{}…", &text[..at]),
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::LinkPhoto { local, remote } => write!(f, "link {local} to photo {remote}"),
            Action::LinkSet { local, remote } => write!(f, "link {local} to set {remote}"),
            Action::Ignore { photo, title } => {
                write!(f, "ignore photo {photo} {title:?} (removed locally)")
            }
            Action::ForgetLocal {
                local,
                remote,
                title,
            } => write!(
                f,
                "forget {local} {title:?}: photo {remote} was deleted on Flickr (file kept)"
            ),
            Action::CreateLocalSet { set, title, .. } => {
                write!(f, "create folder {title:?} for set {set}")
            }
            Action::Upload { photo, meta, .. } => {
                write!(f, "upload {photo} as {:?} ({})", meta.title, meta.privacy)
            }
            Action::Download { photo, meta, .. } => {
                write!(f, "download photo {photo} {:?}", meta.title)
            }
            Action::CreateRemoteSet {
                set,
                title,
                primary,
                ..
            } => write!(f, "create set {title:?} on Flickr for {set} with {primary}"),
            Action::RenameSet { side, set, title } => {
                write!(f, "rename set {set} to {title:?} ({side})")
            }
            Action::Edit { side, photo, edit } => {
                // Values are abbreviated: this line is logged and shown in
                // reports, and a value may be 60 KB.
                write!(f, "edit photo {photo} ({side}):")?;
                if let Some(t) = &edit.title {
                    write!(f, " title={:?}", abbreviate(t, 80))?;
                }
                if let Some(d) = &edit.description {
                    write!(f, " description={:?}", abbreviate(d, 80))?;
                }
                if let Some(t) = &edit.tags {
                    const SHOWN: usize = 10;
                    let tags: Vec<String> =
                        t.iter().take(SHOWN).map(|t| abbreviate(t, 40)).collect();
                    write!(f, " tags=[{}", tags.join(" "))?;
                    if t.len() > SHOWN {
                        write!(f, " … {} tags in all", t.len())?;
                    }
                    write!(f, "]")?;
                }
                if let Some(p) = edit.privacy {
                    write!(f, " privacy={p}")?;
                }
                if let Some(t) = &edit.taken {
                    write!(f, " date taken={t}")?;
                }
                Ok(())
            }
            Action::AddToSet { side, photo, set } => write!(f, "add {photo} to {set} ({side})"),
            Action::RemoveFromSet { side, photo, set } => {
                write!(f, "remove {photo} from {set} ({side})")
            }
            Action::AddToPool { side, photo, group } => {
                write!(f, "add {photo} to pool {group} ({side})")
            }
            Action::RemoveFromPool { side, photo, group } => {
                write!(f, "remove {photo} from pool {group} ({side})")
            }
            Action::DeleteRemoteSet { set, title } => write!(
                f,
                "delete set {set} {title:?} on Flickr (folder removed locally; photos stay)"
            ),
            Action::DropLocalSet { set, title, .. } => write!(
                f,
                "remove folder {set} {title:?} (set deleted on Flickr; photos stay)"
            ),
        }
    }
}

/// What a conflict or a skipped item is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    Photo(PhotoRef),
    Set(SetRef),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Photo(p) => p.fmt(f),
            Subject::Set(s) => s.fmt(f),
        }
    }
}

/// The field both sides changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ConflictField {
    Title,
    Description,
    Privacy,
    SetTitle,
}

/// Both sides changed one field differently since the last sync; Flickr's
/// value is kept (copied to the local side when the direction allows).
/// The values are plain text (a privacy as its word).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    pub subject: Subject,
    pub field: ConflictField,
    pub base: String,
    pub local: String,
    pub remote: String,
}

impl fmt::Display for ConflictField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConflictField::Title => "title",
            ConflictField::Description => "description",
            ConflictField::Privacy => "privacy",
            ConflictField::SetTitle => "set title",
        })
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The values are plain text: quoted once here, never twice.
        write!(
            f,
            "{}: {} changed on both sides (was {:?}; local {:?}; Flickr {:?}): Flickr's value kept",
            self.subject,
            self.field,
            abbreviate(&self.base, 80),
            abbreviate(&self.local, 80),
            abbreviate(&self.remote, 80)
        )
    }
}

/// Why an item that would otherwise move is left alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Video originals cannot be fetched through the API: download by hand.
    VideoDownload,
    /// Not a photo or video Flickr accepts.
    NotMedia,
    /// The backing file is missing (moved or deleted outside the mount).
    MissingFile,
    /// The same content is already online or already being uploaded.
    DuplicateContent { of: PhotoRef },
    /// Two local records claim the same Flickr photo or set.
    DuplicateLink,
    /// A folder made locally with no photo that is or will be online: Flickr
    /// cannot create an empty set.
    EmptyNewSet,
    /// The account is not a member of this group.
    NotAPoolMember(GroupId),
    /// Several local files may be this photo: listed, not downloaded.
    AmbiguousLocalFile,
    /// Unticked in the review's download step: not downloaded by this sync
    /// (the next one lists it again).
    SkippedThisSync,
    /// A free account holds at most 1,000 photos: this upload would pass
    /// that, so it is held (not sent to fail).
    FreeAccountLimit,
    /// A free account is served nothing over `max_px` (people.getLimits
    /// `maxdisplaypx`), originals included, and this original is larger:
    /// not downloaded (never stored as a reduced copy), to fetch by hand.
    OriginalNotServed { max_px: u32 },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::VideoDownload => f.write_str("video: download the original by hand"),
            SkipReason::NotMedia => f.write_str("not a photo or video: not uploadable"),
            SkipReason::MissingFile => f.write_str("backing file is missing"),
            SkipReason::DuplicateContent { of } => write!(f, "same content as {of}"),
            SkipReason::DuplicateLink => f.write_str("linked twice to the same Flickr item"),
            SkipReason::EmptyNewSet => {
                f.write_str("new folder holds no photo that is online: set not created yet")
            }
            SkipReason::NotAPoolMember(g) => write!(f, "not a member of group {g}"),
            SkipReason::AmbiguousLocalFile => f.write_str(
                "several local files may be this photo: identify it by hand (flickrfs identify)",
            ),
            SkipReason::SkippedThisSync => {
                f.write_str("download skipped for this sync (the next sync lists it again)")
            }
            SkipReason::FreeAccountLimit => f.write_str(
                "held: a free Flickr account keeps at most 1,000 photos and this upload would pass that",
            ),
            SkipReason::OriginalNotServed { max_px } => write!(
                f,
                "original over {} px: Flickr serves a free account nothing larger; not stored as a \
                 reduced copy: download it by hand from Flickr",
                thousands(u64::from(*max_px))
            ),
        }
    }
}

/// An item left alone, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub subject: Subject,
    pub reason: SkipReason,
}

/// Which photosets take part in a sync.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum SetFilter {
    #[default]
    All,
    /// Only sets with one of these ids or titles (on either side); photos
    /// take part when they are in at least one selected set.
    Only {
        ids: BTreeSet<SetId>,
        titles: BTreeSet<String>,
    },
    /// Every set but those with one of these ids or titles (sets created
    /// later take part).
    Except {
        ids: BTreeSet<SetId>,
        titles: BTreeSet<String>,
    },
}

impl SetFilter {
    pub fn is_all(&self) -> bool {
        matches!(self, SetFilter::All)
    }

    fn matches<'t>(&self, id: Option<&SetId>, mut titles: impl Iterator<Item = &'t str>) -> bool {
        match self {
            SetFilter::All => true,
            SetFilter::Only { ids, titles: want } => {
                id.is_some_and(|i| ids.contains(i)) || titles.any(|t| want.contains(t))
            }
            SetFilter::Except { ids, titles: want } => {
                !(id.is_some_and(|i| ids.contains(i)) || titles.any(|t| want.contains(t)))
            }
        }
    }
}

/// Which group pools take part in a sync: all of them, or the ones named
/// by group id or name. Memberships of other pools are left alone on both
/// sides.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum PoolFilter {
    #[default]
    All,
    Only {
        ids: BTreeSet<GroupId>,
        names: BTreeSet<String>,
    },
    /// Every pool but those named.
    Except {
        ids: BTreeSet<GroupId>,
        names: BTreeSet<String>,
    },
}

impl PoolFilter {
    pub fn matches(&self, id: &GroupId, name: Option<&str>) -> bool {
        match self {
            PoolFilter::All => true,
            PoolFilter::Only { ids, names } => {
                ids.contains(id) || name.is_some_and(|n| names.contains(n))
            }
            PoolFilter::Except { ids, names } => {
                !(ids.contains(id) || name.is_some_and(|n| names.contains(n)))
            }
        }
    }
}

/// "More than `count` and more than `fraction` of the total".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    pub count: usize,
    pub fraction: f64,
}

impl Threshold {
    pub fn exceeded(&self, n: usize, total: usize) -> bool {
        n > self.count && (n as f64) > self.fraction * total as f64
    }
}

/// When a plan looks too destructive to run without `force`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SafetyLimits {
    /// Set memberships removed (on either side, including by set deletions),
    /// against the memberships at the last sync.
    pub membership_removals: Threshold,
    /// Photos known at the last sync missing from Flickr's listing.
    pub remote_photos_missing: Threshold,
    /// Sets known at the last sync missing from Flickr's listing.
    pub remote_sets_missing: Threshold,
    /// Photos known at the last sync missing from the catalog (they would all become ignored).
    pub local_photos_missing: Threshold,
}

impl Default for SafetyLimits {
    fn default() -> Self {
        SafetyLimits {
            membership_removals: Threshold {
                count: 50,
                fraction: 0.10,
            },
            remote_photos_missing: Threshold {
                count: 20,
                fraction: 0.10,
            },
            remote_sets_missing: Threshold {
                count: 3,
                fraction: 0.25,
            },
            local_photos_missing: Threshold {
                count: 20,
                fraction: 0.10,
            },
        }
    }
}

/// How to plan.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PlanOptions {
    pub direction: Direction,
    pub sets: SetFilter,
    pub pools: PoolFilter,
    /// Return the plan even when it trips a [`SafetyLimits`] threshold.
    pub force: bool,
    pub limits: SafetyLimits,
    /// How many photos may still be uploaded (a free account: 1,000 minus
    /// the photos it holds); the uploads past it are held
    /// ([`SkipReason::FreeAccountLimit`]). `None`: no limit (Pro).
    pub upload_quota: Option<usize>,
    /// The denominators of the safety thresholds, counted over the whole
    /// account, when the snapshots planned hold only part of it (an
    /// incremental plan, [`super::restrict`]). `None`: counted from the
    /// snapshots.
    pub totals: Option<PlanTotals>,
}

/// What the safety thresholds compare a plan's removals with: counts over
/// the whole merge base of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PlanTotals {
    /// Photo-in-set memberships of the base.
    pub set_memberships: usize,
    /// Photo-in-pool memberships of the base.
    pub pool_memberships: usize,
    /// Photos of the base that are not ignored.
    pub base_photos: usize,
}

impl PlanTotals {
    /// The counts of whole snapshots (what [`plan`] counts without
    /// [`PlanOptions::totals`]).
    pub fn of(local: &LocalSnapshot, base: &BaseSnapshot) -> PlanTotals {
        PlanTotals {
            set_memberships: base.photos.values().map(|p| p.sets.len()).sum(),
            pool_memberships: base.photos.values().map(|p| p.pools.len()).sum(),
            base_photos: base
                .photos
                .keys()
                .filter(|id| !local.ignored.contains(*id))
                .count(),
        }
    }
}

/// Where removals of set memberships come from, for the big-removal
/// guard's message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RemovalCause {
    /// Photos taken out of the set on this side (the other side follows).
    Removed(Side),
    /// The whole set went on this side: deleted on Flickr, or its folder
    /// removed locally.
    SetGone(Side),
}

impl fmt::Display for RemovalCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RemovalCause::Removed(Side::Remote) => "removed on Flickr, to be removed here",
            RemovalCause::Removed(Side::Local) => "removed locally, to be removed on Flickr",
            RemovalCause::SetGone(Side::Remote) => "the set was deleted on Flickr",
            RemovalCause::SetGone(Side::Local) => "its folder was removed locally",
        })
    }
}

/// The memberships one set would lose, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetRemovals {
    pub title: String,
    pub cause: RemovalCause,
    pub count: usize,
}

/// A reason to refuse a plan without `force`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SafetyConcern {
    /// `total`: the photo-in-set memberships both sides agreed on at the
    /// last sync; `sets`: where the removals are, most first.
    ManyMembershipRemovals {
        removals: usize,
        total: usize,
        sets: Vec<SetRemovals>,
    },
    RemotePhotosMissing {
        missing: usize,
        base: usize,
    },
    RemoteSetsMissing {
        missing: usize,
        base: usize,
    },
    LocalPhotosMissing {
        missing: usize,
        base: usize,
    },
    /// Photos to take out of group pools on Flickr (left in the mount),
    /// against the pool memberships both sides agreed on at the last sync
    /// (the same threshold as set memberships).
    ManyPoolRemovals {
        removals: usize,
        total: usize,
    },
}

impl fmt::Display for SafetyConcern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SafetyConcern::ManyMembershipRemovals {
                removals,
                total,
                sets,
            } => {
                write!(
                    f,
                    "the plan takes photos out of sets {removals} times at once, against {total} \
                     photo-in-set memberships at the last sync (the memberships both sides \
                     agreed on when they last matched)"
                )?;
                const SHOWN: usize = 10;
                for (i, s) in sets.iter().take(SHOWN).enumerate() {
                    let sep = if i == 0 { ": " } else { "; " };
                    write!(
                        f,
                        "{sep}{} from {:?} ({})",
                        s.count,
                        abbreviate(&s.title, 80),
                        s.cause
                    )?;
                }
                if sets.len() > SHOWN {
                    write!(f, "; and {} more sets", sets.len() - SHOWN)?;
                }
                Ok(())
            }
            SafetyConcern::RemotePhotosMissing { missing, base } => write!(
                f,
                "Flickr's listing shrank suspiciously: {missing} of the {base} photos of the last sync are missing"
            ),
            SafetyConcern::RemoteSetsMissing { missing, base } => write!(
                f,
                "Flickr's listing shrank suspiciously: {missing} of the {base} sets of the last sync are missing"
            ),
            SafetyConcern::LocalPhotosMissing { missing, base } => write!(
                f,
                "{missing} of the {base} photos of the last sync are gone from the catalog and would all become ignored"
            ),
            SafetyConcern::ManyPoolRemovals { removals, total } => write!(
                f,
                "the plan takes photos out of group pools on Flickr {removals} times at once, \
                 against {total} pool memberships at the last sync"
            ),
        }
    }
}

/// Why planning failed.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The plan trips a safety threshold; it is attached so it can be shown.
    /// It runs once confirmed ([`PlanOptions::force`]: `--force` on the
    /// command line, `DIRECTION force` in the control file).
    #[error("refusing this plan until it is confirmed: {}", concerns.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Unsafe {
        concerns: Vec<SafetyConcern>,
        plan: Box<Plan>,
    },
}

/// Counts shown before a sync runs.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PlanSummary {
    pub uploads: usize,
    pub downloads: usize,
    /// Photos whose sets change, counted per photo and side: a move from
    /// one set to another (an addition and a removal) is one reassignment;
    /// a photo joining two sets and leaving one counts two.
    pub set_reassignments: usize,
    /// Sets created on either side.
    pub set_creations: usize,
    pub set_renames: usize,
    pub set_deletions: usize,
    /// Pool memberships added or removed, both sides.
    pub pool_changes: usize,
    /// Of those, photos taken out of a pool on Flickr (left in the mount
    /// since the last sync): the one removal a sync makes on Flickr besides
    /// set memberships and sets deleted with `rmdir`.
    pub pool_removals_on_flickr: usize,
    /// Photo field edits, both sides.
    pub edits: usize,
    pub ignores: usize,
    pub forgets: usize,
    pub links: usize,
    pub conflicts: usize,
    pub skipped: usize,
    /// Local edits that bring Flickr's new date taken (counted in `edits` too).
    pub dates_taken: usize,
    /// Flickr REST and upload calls the plan will cost.
    pub api_calls: u64,
    /// Originals fetched from the photo host (paced apart from the API budget).
    pub file_downloads: u64,
    /// A free account (people.getInfo `ispro=0`): how many photos it holds
    /// on Flickr, said before acting ("free account: N of 1,000 photos").
    pub free_account_photos: Option<u64>,
    /// Downloads held because Flickr does not serve the original to a free
    /// account ([`SkipReason::OriginalNotServed`]), with that limit in px.
    pub originals_not_served: usize,
    pub max_display_px: Option<u32>,
    /// Calls spent fetching Flickr's state before this plan was made.
    pub fetch_calls: Option<u64>,
    /// Calls the whole sync made (fetch and execution), once it ran: the
    /// report shows these instead of the estimate.
    pub calls_made: Option<u64>,
}

impl fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} uploads, {} downloads, {} set reassignments, {} set creations, {} edits, {} conflicts",
            self.uploads,
            self.downloads,
            self.set_reassignments,
            self.set_creations,
            self.edits + self.set_renames,
            self.conflicts,
        )?;
        // Rarer changes only when there are some: the first six counts
        // keep their places for whoever reads them.
        let extras = [
            (self.set_deletions, "set deletions"),
            (self.forgets, "deleted on Flickr"),
            (self.ignores, "ignored"),
            (self.dates_taken, "dates taken changed"),
        ];
        for (n, what) in extras {
            if n > 0 {
                write!(f, ", {n} {what}")?;
            }
        }
        if let Some(n) = self.free_account_photos {
            write!(
                f,
                ", free account: {} of {} photos",
                thousands(n),
                thousands(crate::flickr::AccountKind::FREE_MAX_PHOTOS)
            )?;
        }
        if self.originals_not_served > 0 {
            write!(
                f,
                ", {} originals over {} px Flickr does not serve a free account (download by hand)",
                self.originals_not_served,
                thousands(u64::from(self.max_display_px.unwrap_or(1024)))
            )?;
        }
        if self.pool_changes > 0 {
            write!(f, ", {} pool changes", self.pool_changes)?;
            if self.pool_removals_on_flickr > 0 {
                write!(
                    f,
                    " ({} leaving a pool on Flickr)",
                    self.pool_removals_on_flickr
                )?;
            }
        }
        match (self.calls_made, self.fetch_calls) {
            (Some(made), _) => write!(f, " ({made} API calls)"),
            (None, Some(fetch)) => write!(
                f,
                " ({fetch} API calls to read Flickr's state, {} more to run it)",
                self.api_calls
            ),
            (None, None) => write!(f, " ({} API calls)", self.api_calls),
        }
    }
}

/// What a sync would do now.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Plan {
    /// In execution order (see [`Action::phase`]).
    pub actions: Vec<Action>,
    pub conflicts: Vec<Conflict>,
    pub skipped: Vec<Skipped>,
    /// Thresholds tripped; present only when the plan was forced.
    pub concerns: Vec<SafetyConcern>,
    pub summary: PlanSummary,
}

impl Plan {
    /// The online photos this plan downloads.
    pub fn downloads(&self) -> impl Iterator<Item = &PhotoId> {
        self.actions.iter().filter_map(|a| match a {
            Action::Download { photo, .. } => Some(photo),
            _ => None,
        })
    }

    /// Nothing to do (conflicts and skipped items may still be listed).
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// How long the API calls take at `calls_per_hour` (Flickr: 3600 per key).
    pub fn estimated_duration(&self, calls_per_hour: u32) -> Duration {
        let per_hour = u64::from(calls_per_hour.max(1));
        Duration::from_secs(self.summary.api_calls.saturating_mul(3600) / per_hour)
    }

    /// Takes the downloads of `photos` out of the plan and lists each photo
    /// as skipped, ambiguous, in the order given: several local files may
    /// be it, so nothing is downloaded until the user settles which (the
    /// identify step and the review's replan both do this). Downloads cost
    /// no API call, so only the download counts change in the summary.
    pub fn hold_back_ambiguous<'a>(&mut self, photos: impl IntoIterator<Item = &'a PhotoId>) {
        self.hold_back_downloads(photos, SkipReason::AmbiguousLocalFile);
    }

    /// Drops the downloads of `photos`, recording them as skipped for
    /// `reason` (the photos stay as they are in the catalog).
    pub fn hold_back_downloads<'a>(
        &mut self,
        photos: impl IntoIterator<Item = &'a PhotoId>,
        reason: SkipReason,
    ) {
        let photos: Vec<&PhotoId> = photos.into_iter().collect();
        if photos.is_empty() {
            return;
        }
        let held: BTreeSet<&PhotoId> = photos.iter().copied().collect();
        let before = self.actions.len();
        self.actions
            .retain(|a| !matches!(a, Action::Download { photo, .. } if held.contains(photo)));
        self.summary.downloads -= before - self.actions.len();
        self.summary.file_downloads = self.summary.downloads as u64;
        for photo in photos {
            self.skipped.push(Skipped {
                subject: Subject::Photo(PhotoRef::Remote(photo.clone())),
                reason: reason.clone(),
            });
        }
        self.summary.skipped = self.skipped.len();
    }

    /// `download = on-demand`: the originals of photos the catalog already
    /// holds a record of are not downloaded; the mount fetches one when it
    /// is opened.
    pub fn leave_downloads_to_the_mount(&mut self) {
        let before = self.actions.len();
        self.actions
            .retain(|a| !matches!(a, Action::Download { into: Some(_), .. }));
        self.summary.downloads -= before - self.actions.len();
        self.summary.file_downloads = self.summary.downloads as u64;
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary)?;
        for a in &self.actions {
            writeln!(f, "  {a}")?;
        }
        for c in &self.conflicts {
            writeln!(f, "  conflict: {c}")?;
        }
        for s in &self.skipped {
            writeln!(f, "  skipped {}: {}", s.subject, s.reason)?;
        }
        for c in &self.concerns {
            writeln!(f, "  warning: {c}")?;
        }
        Ok(())
    }
}

/// The outcome of merging one value three ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Both sides agree.
    Equal,
    /// Only the local side changed: copy it to Flickr.
    PushLocal,
    /// Only Flickr changed (or there is no base): copy it to the local side.
    PullRemote,
    /// Both changed differently: Flickr's value wins, reported.
    Conflict,
}

/// Three-way merge of one field. With no base (a photo linked for the first
/// time) Flickr's value is taken without a conflict.
pub fn merge_field<T: PartialEq + ?Sized>(base: Option<&T>, local: &T, remote: &T) -> Merge {
    if local == remote {
        return Merge::Equal;
    }
    match base {
        None => Merge::PullRemote,
        Some(b) if b == local => Merge::PullRemote,
        Some(b) if b == remote => Merge::PushLocal,
        Some(_) => Merge::Conflict,
    }
}

/// Three-way merge of one membership (is the photo in this set / this tag on
/// the photo?). Never a conflict: one side always equals the base.
pub fn merge_member(base: bool, local: bool, remote: bool) -> Merge {
    if local == remote {
        Merge::Equal
    } else if local == base {
        Merge::PullRemote
    } else {
        Merge::PushLocal
    }
}

#[derive(Clone, Debug)]
struct SetState {
    selected: bool,
    active: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Status {
    /// On both sides: fields and memberships merge.
    Both(LocalKey, PhotoId),
    /// Local only, uploaded by this plan.
    Upload(LocalKey),
}

struct Planner<'a> {
    local: &'a LocalSnapshot,
    base: &'a BaseSnapshot,
    remote: &'a RemoteSnapshot,
    opts: &'a PlanOptions,
    up: bool,
    down: bool,
    set_of_local: BTreeMap<LocalSetKey, SetRef>,
    sets: BTreeMap<SetRef, SetState>,
    local_of_remote: BTreeMap<PhotoId, LocalKey>,
    unlinked: Vec<LocalKey>,
    status: Vec<Status>,
    primaries: BTreeMap<LocalSetKey, PhotoRef>,
    actions: Vec<Action>,
    conflicts: Vec<Conflict>,
    skipped: Vec<Skipped>,
    /// Memberships the plan removes, per set and cause (the guard).
    removals: BTreeMap<(SetRef, RemovalCause), usize>,
    /// Pool memberships this plan removes on Flickr.
    pool_removals: usize,
}

/// Computes what a sync would do. Pure: same inputs, same plan.
///
/// Fails with [`PlanError::Unsafe`] when the plan trips a safety threshold
/// and `opts.force` is not set.
pub fn plan(
    local: &LocalSnapshot,
    base: &BaseSnapshot,
    remote: &RemoteSnapshot,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    let mut p = Planner {
        local,
        base,
        remote,
        opts,
        up: opts.direction.uploads(),
        down: opts.direction.downloads(),
        set_of_local: BTreeMap::new(),
        sets: BTreeMap::new(),
        local_of_remote: BTreeMap::new(),
        unlinked: Vec::new(),
        status: Vec::new(),
        primaries: BTreeMap::new(),
        actions: Vec::new(),
        conflicts: Vec::new(),
        skipped: Vec::new(),
        removals: BTreeMap::new(),
        pool_removals: 0,
    };
    p.match_sets();
    p.decide_sets();
    p.match_photos();
    p.decide_photos();
    p.create_new_sets();
    p.merge_photos();
    p.finish()
}

impl<'a> Planner<'a> {
    fn skip(&mut self, subject: Subject, reason: SkipReason) {
        self.skipped.push(Skipped { subject, reason });
    }

    fn is_active(&self, s: &SetRef) -> bool {
        self.sets.get(s).is_some_and(|st| st.active)
    }

    fn is_selected(&self, s: &SetRef) -> bool {
        match self.sets.get(s) {
            Some(st) => st.selected,
            None => match s {
                SetRef::Remote(id) => self.opts.sets.matches(Some(id), std::iter::empty()),
                SetRef::Local(_) => false,
            },
        }
    }

    /// Links local sets to Flickr sets: by their recorded id, else by title
    /// among the sets that are new on both sides.
    fn match_sets(&mut self) {
        let mut linked: BTreeMap<&SetId, LocalSetKey> = BTreeMap::new();
        let mut unlinked = Vec::new();
        for (k, ls) in &self.local.sets {
            match &ls.remote {
                Some(id) if linked.contains_key(id) => {
                    self.skip(Subject::Set(SetRef::Local(*k)), SkipReason::DuplicateLink)
                }
                Some(id) => {
                    linked.insert(id, *k);
                    self.set_of_local.insert(*k, SetRef::Remote(id.clone()));
                }
                None => unlinked.push(*k),
            }
        }
        let mut remote_by_title: BTreeMap<&str, Vec<&SetId>> = BTreeMap::new();
        for (id, rs) in &self.remote.sets {
            if !linked.contains_key(id) && !self.base.sets.contains_key(id) {
                remote_by_title.entry(&rs.title).or_default().push(id);
            }
        }
        let mut local_by_title: BTreeMap<&str, Vec<LocalSetKey>> = BTreeMap::new();
        for k in &unlinked {
            if let Some(ls) = self.local.sets.get(k) {
                local_by_title.entry(&ls.title).or_default().push(*k);
            }
        }
        // Same title on both sides: pair them in creation order (catalog key,
        // Flickr set id); the rest are created on the other side.
        for (title, keys) in local_by_title {
            let ids = remote_by_title
                .get(title)
                .map(Vec::as_slice)
                .unwrap_or_default();
            for (i, k) in keys.into_iter().enumerate() {
                match ids.get(i) {
                    Some(id) => {
                        let id = (*id).clone();
                        self.actions.push(Action::LinkSet {
                            local: k,
                            remote: id.clone(),
                        });
                        self.set_of_local.insert(k, SetRef::Remote(id));
                    }
                    None => {
                        self.set_of_local.insert(k, SetRef::Local(k));
                    }
                }
            }
        }
    }

    /// A set's title for people: the local folder's, else Flickr's, else
    /// the last synced one.
    fn title_of_set(&self, s: &SetRef) -> String {
        let local = |k: &LocalSetKey| self.local.sets.get(k).map(|l| l.title.clone());
        let title = match s {
            SetRef::Local(k) => local(k),
            SetRef::Remote(id) => self
                .set_of_local
                .iter()
                .find(|(_, r)| *r == s)
                .and_then(|(k, _)| local(k))
                .or_else(|| self.remote.sets.get(id).map(|r| r.title.clone()))
                .or_else(|| self.base.sets.get(id).map(|b| b.title.clone())),
        };
        title.unwrap_or_else(|| s.to_string())
    }

    fn local_set_members(&self, k: LocalSetKey) -> usize {
        self.local
            .photos
            .values()
            .filter(|p| p.sets.contains(&k))
            .count()
    }

    fn decide_sets(&mut self) {
        let mut local_of: BTreeMap<SetRef, LocalSetKey> = BTreeMap::new();
        for (k, r) in &self.set_of_local {
            local_of.insert(r.clone(), *k);
        }
        let mut ids: BTreeSet<&SetId> = self.base.sets.keys().collect();
        ids.extend(self.remote.sets.keys());
        for r in local_of.keys() {
            if let SetRef::Remote(id) = r {
                ids.insert(id);
            }
        }
        for id in ids {
            let sref = SetRef::Remote(id.clone());
            let lk = local_of.get(&sref).copied();
            let ls = lk.and_then(|k| self.local.sets.get(&k));
            let rs = self.remote.sets.get(id);
            let bs = self.base.sets.get(id);
            let titles = [
                ls.map(|s| s.title.as_str()),
                rs.map(|s| s.title.as_str()),
                bs.map(|s| s.title.as_str()),
            ];
            let selected = self
                .opts
                .sets
                .matches(Some(id), titles.iter().flatten().copied());
            let mut active = false;
            if selected {
                match (ls, rs, bs) {
                    (Some(ls), Some(rs), bs) => {
                        active = true;
                        let base_title = bs.map(|b| b.title.as_str());
                        let outcome = merge_field(base_title, ls.title.as_str(), rs.title.as_str());
                        self.set_title(id, outcome, base_title, &ls.title, &rs.title);
                    }
                    (Some(ls), None, _) => {
                        if self.down {
                            let n = self.local_set_members(ls.key);
                            *self
                                .removals
                                .entry((sref.clone(), RemovalCause::SetGone(Side::Remote)))
                                .or_default() += n;
                            self.actions.push(Action::DropLocalSet {
                                set: ls.key,
                                remote: id.clone(),
                                title: ls.title.clone(),
                            });
                        }
                    }
                    (None, Some(rs), Some(_)) => {
                        if self.up {
                            let n = self
                                .remote
                                .photos
                                .values()
                                .filter(|p| p.sets.contains(id))
                                .count();
                            *self
                                .removals
                                .entry((sref.clone(), RemovalCause::SetGone(Side::Local)))
                                .or_default() += n;
                            self.actions.push(Action::DeleteRemoteSet {
                                set: id.clone(),
                                title: rs.title.clone(),
                            });
                        }
                    }
                    (None, Some(rs), None) => {
                        active = true;
                        if self.down {
                            self.actions.push(Action::CreateLocalSet {
                                set: id.clone(),
                                title: rs.title.clone(),
                                description: rs.description.clone(),
                            });
                        }
                    }
                    (None, None, _) => {}
                }
            }
            self.sets.insert(sref, SetState { selected, active });
        }
        // Folders made locally: selected by title; made active when created.
        for (k, r) in &self.set_of_local {
            if let SetRef::Local(_) = r {
                let title = self.local.sets.get(k).map(|s| s.title.as_str());
                let selected = self.opts.sets.matches(None, title.into_iter());
                self.sets.insert(
                    r.clone(),
                    SetState {
                        selected,
                        active: false,
                    },
                );
            }
        }
    }

    fn set_title(&mut self, id: &SetId, outcome: Merge, base: Option<&str>, l: &str, r: &str) {
        match outcome {
            Merge::Equal => {}
            Merge::PushLocal => {
                if self.up {
                    self.actions.push(Action::RenameSet {
                        side: Side::Remote,
                        set: id.clone(),
                        title: l.to_owned(),
                    });
                }
            }
            Merge::PullRemote | Merge::Conflict => {
                if outcome == Merge::Conflict {
                    self.conflicts.push(Conflict {
                        subject: Subject::Set(SetRef::Remote(id.clone())),
                        field: ConflictField::SetTitle,
                        base: base.unwrap_or_default().to_owned(),
                        local: l.to_owned(),
                        remote: r.to_owned(),
                    });
                }
                if self.down {
                    self.actions.push(Action::RenameSet {
                        side: Side::Local,
                        set: id.clone(),
                        title: r.to_owned(),
                    });
                }
            }
        }
    }

    /// Links local photos to Flickr photos: by their recorded id, else by
    /// the checksum machine tag (an upload that landed but was never recorded).
    fn match_photos(&mut self) {
        let mut unlinked = Vec::new();
        for (k, lp) in &self.local.photos {
            match &lp.remote {
                Some(id) if self.local.ignored.contains(id) => {}
                Some(id) if self.local_of_remote.contains_key(id) => self.skip(
                    Subject::Photo(PhotoRef::Local(*k)),
                    SkipReason::DuplicateLink,
                ),
                Some(id) => {
                    self.local_of_remote.insert(id.clone(), *k);
                }
                None => unlinked.push(*k),
            }
        }
        let mut by_sum: BTreeMap<&Checksum, Vec<&PhotoId>> = BTreeMap::new();
        for (id, rp) in &self.remote.photos {
            if let Some(c) = &rp.checksum {
                if !self.local_of_remote.contains_key(id) && !self.local.ignored.contains(id) {
                    by_sum.entry(c).or_default().push(id);
                }
            }
        }
        for k in unlinked {
            let sum = self.local.photos.get(&k).and_then(|p| p.checksum.as_ref());
            let candidate = sum
                .and_then(|c| by_sum.get(c))
                .filter(|ids| ids.len() == 1)
                .map(|ids| ids[0]);
            match candidate {
                Some(id) if !self.local_of_remote.contains_key(id) => {
                    self.local_of_remote.insert(id.clone(), k);
                    self.actions.push(Action::LinkPhoto {
                        local: k,
                        remote: id.clone(),
                    });
                }
                _ => self.unlinked.push(k),
            }
        }
    }

    fn participates(
        &self,
        lp: Option<&LocalPhoto>,
        rp: Option<&RemotePhoto>,
        bp: Option<&BasePhoto>,
    ) -> bool {
        if self.opts.sets.is_all() {
            return true;
        }
        let local = lp
            .into_iter()
            .flat_map(|p| p.sets.iter())
            .filter_map(|k| self.set_of_local.get(k));
        let remote = rp
            .into_iter()
            .flat_map(|p| p.sets.iter())
            .chain(bp.into_iter().flat_map(|p| p.sets.iter()))
            .map(|id| SetRef::Remote(id.clone()));
        local.cloned().chain(remote).any(|s| self.is_selected(&s))
    }

    fn decide_photos(&mut self) {
        let mut ids: BTreeSet<&PhotoId> = self.base.photos.keys().collect();
        ids.extend(self.remote.photos.keys());
        let linked: Vec<PhotoId> = self.local_of_remote.keys().cloned().collect();
        let mut all: BTreeSet<PhotoId> = ids.into_iter().cloned().collect();
        all.extend(linked);
        for id in all {
            if self.local.ignored.contains(&id) {
                continue;
            }
            let lk = self.local_of_remote.get(&id).copied();
            let lp = lk.and_then(|k| self.local.photos.get(&k));
            let rp = self.remote.photos.get(&id);
            let bp = self.base.photos.get(&id);
            if !self.participates(lp, rp, bp) {
                continue;
            }
            match (lp, rp) {
                (Some(lp), Some(rp)) => {
                    self.status.push(Status::Both(lp.key, id.clone()));
                    if lp.file == FileState::Absent && self.down {
                        if rp.media == Media::Video {
                            self.skip(
                                Subject::Photo(PhotoRef::Remote(id.clone())),
                                SkipReason::VideoDownload,
                            );
                        } else {
                            self.actions.push(Action::Download {
                                photo: id.clone(),
                                into: Some(lp.key),
                                meta: rp.meta.clone(),
                                sets: BTreeSet::new(),
                                pools: BTreeSet::new(),
                            });
                        }
                    }
                }
                (Some(lp), None) => {
                    if self.down {
                        self.actions.push(Action::ForgetLocal {
                            local: lp.key,
                            remote: id.clone(),
                            title: lp.meta.title.clone(),
                        });
                    }
                }
                (None, Some(rp)) => {
                    if bp.is_some() {
                        self.actions.push(Action::Ignore {
                            photo: id.clone(),
                            title: rp.meta.title.clone(),
                        });
                    } else if self.down {
                        if rp.media == Media::Video {
                            self.skip(
                                Subject::Photo(PhotoRef::Remote(id.clone())),
                                SkipReason::VideoDownload,
                            );
                        } else {
                            let sets = rp
                                .sets
                                .iter()
                                .filter(|s| self.is_active(&SetRef::Remote((*s).clone())))
                                .cloned()
                                .collect();
                            self.actions.push(Action::Download {
                                photo: id.clone(),
                                into: None,
                                meta: rp.meta.clone(),
                                sets,
                                pools: rp.pools.clone(),
                            });
                        }
                    }
                }
                (None, None) => {}
            }
        }
        if !self.up {
            return;
        }
        // Content already online or claimed: never uploaded twice.
        let mut seen: BTreeMap<Checksum, PhotoRef> = BTreeMap::new();
        for rp in self.remote.photos.values() {
            if let Some(c) = &rp.checksum {
                seen.entry(c.clone())
                    .or_insert_with(|| PhotoRef::Remote(rp.id.clone()));
            }
        }
        // (Photos deleted on Flickr are being forgotten: their content no
        // longer counts as online.)
        for (id, k) in &self.local_of_remote {
            if !self.remote.photos.contains_key(id) {
                continue;
            }
            if let Some(c) = self.local.photos.get(k).and_then(|p| p.checksum.as_ref()) {
                seen.entry(c.clone())
                    .or_insert_with(|| PhotoRef::Remote(id.clone()));
            }
        }
        let mut quota = self.opts.upload_quota;
        for k in self.unlinked.clone() {
            let Some(lp) = self.local.photos.get(&k) else {
                continue;
            };
            if !self.participates(Some(lp), None, None) {
                continue;
            }
            let subject = Subject::Photo(PhotoRef::Local(k));
            if lp.media == Media::NotMedia {
                self.skip(subject, SkipReason::NotMedia);
                continue;
            }
            if lp.file != FileState::Present {
                self.skip(subject, SkipReason::MissingFile);
                continue;
            }
            if let Some(c) = &lp.checksum {
                if let Some(of) = seen.get(c) {
                    let of = of.clone();
                    self.skip(subject, SkipReason::DuplicateContent { of });
                    continue;
                }
                seen.insert(c.clone(), PhotoRef::Local(k));
            }
            match &mut quota {
                Some(0) => {
                    self.skip(subject, SkipReason::FreeAccountLimit);
                    continue;
                }
                Some(q) => *q -= 1,
                None => {}
            }
            self.actions.push(Action::Upload {
                photo: k,
                meta: lp.meta.clone(),
                checksum: lp.checksum.clone(),
                media: lp.media,
            });
            self.status.push(Status::Upload(k));
        }
    }

    /// Folders made locally become sets online, with their first photo that
    /// is (or is about to be) online as primary.
    fn create_new_sets(&mut self) {
        if !self.up {
            return;
        }
        let online: BTreeMap<LocalKey, PhotoRef> = self
            .status
            .iter()
            .map(|s| match s {
                Status::Both(k, id) => (*k, PhotoRef::Remote(id.clone())),
                Status::Upload(k) => (*k, PhotoRef::Local(*k)),
            })
            .collect();
        let new_sets: Vec<(SetRef, LocalSetKey)> = self
            .sets
            .iter()
            .filter_map(|(r, st)| match r {
                SetRef::Local(k) if st.selected => Some((r.clone(), *k)),
                _ => None,
            })
            .collect();
        for (sref, k) in new_sets {
            let Some(ls) = self.local.sets.get(&k) else {
                continue;
            };
            let primary = self
                .local
                .photos
                .values()
                .filter(|p| p.sets.contains(&k))
                .find_map(|p| online.get(&p.key));
            match primary {
                Some(primary) => {
                    self.actions.push(Action::CreateRemoteSet {
                        set: k,
                        title: ls.title.clone(),
                        description: ls.description.clone(),
                        primary: primary.clone(),
                    });
                    self.primaries.insert(k, primary.clone());
                    if let Some(st) = self.sets.get_mut(&sref) {
                        st.active = true;
                    }
                }
                None => self.skip(Subject::Set(sref), SkipReason::EmptyNewSet),
            }
        }
    }

    fn is_primary(&self, set: &SetRef, photo: &PhotoRef) -> bool {
        match set {
            SetRef::Local(k) => self.primaries.get(k) == Some(photo),
            SetRef::Remote(_) => false,
        }
    }

    fn merge_photos(&mut self) {
        for st in std::mem::take(&mut self.status) {
            match st {
                Status::Both(k, id) => {
                    let (Some(lp), Some(rp)) =
                        (self.local.photos.get(&k), self.remote.photos.get(&id))
                    else {
                        continue;
                    };
                    let bp = self.base.photos.get(&id);
                    self.merge_meta(&id, lp, rp, bp);
                    self.merge_sets(&id, lp, rp, bp);
                    self.merge_pools(&id, lp, rp, bp);
                }
                Status::Upload(k) => {
                    let Some(lp) = self.local.photos.get(&k) else {
                        continue;
                    };
                    let photo = PhotoRef::Local(k);
                    for ls in &lp.sets {
                        let Some(s) = self.set_of_local.get(ls).cloned() else {
                            continue;
                        };
                        if self.is_active(&s) && !self.is_primary(&s, &photo) {
                            self.actions.push(Action::AddToSet {
                                side: Side::Remote,
                                photo: photo.clone(),
                                set: s,
                            });
                        }
                    }
                    for g in &lp.pools {
                        if !self.pool_selected(g) {
                            continue;
                        }
                        if self.remote.groups.contains_key(g) {
                            self.actions.push(Action::AddToPool {
                                side: Side::Remote,
                                photo: photo.clone(),
                                group: g.clone(),
                            });
                        } else {
                            self.skip(
                                Subject::Photo(photo.clone()),
                                SkipReason::NotAPoolMember(g.clone()),
                            );
                        }
                    }
                }
            }
        }
    }

    /// One scalar field: returns (value for the local side, value for Flickr).
    fn field<T: Clone + PartialEq + fmt::Display>(
        &mut self,
        id: &PhotoId,
        field: ConflictField,
        base: Option<&T>,
        local: &T,
        remote: &T,
    ) -> (Option<T>, Option<T>) {
        match merge_field(base, local, remote) {
            Merge::Equal => (None, None),
            Merge::PushLocal => (None, self.up.then(|| local.clone())),
            Merge::PullRemote => (self.down.then(|| remote.clone()), None),
            Merge::Conflict => {
                let show = |v: Option<&T>| v.map(ToString::to_string).unwrap_or_default();
                self.conflicts.push(Conflict {
                    subject: Subject::Photo(PhotoRef::Remote(id.clone())),
                    field,
                    base: show(base),
                    local: show(Some(local)),
                    remote: show(Some(remote)),
                });
                (self.down.then(|| remote.clone()), None)
            }
        }
    }

    fn merge_meta(
        &mut self,
        id: &PhotoId,
        lp: &LocalPhoto,
        rp: &RemotePhoto,
        bp: Option<&BasePhoto>,
    ) {
        let (l, r) = (&lp.meta, &rp.meta);
        let b = bp.map(|b| &b.meta);
        let mut to_local = MetaEdit::default();
        let mut to_remote = MetaEdit::default();
        (to_local.title, to_remote.title) = self.field(
            id,
            ConflictField::Title,
            b.map(|b| &b.title),
            &l.title,
            &r.title,
        );
        (to_local.description, to_remote.description) = self.field(
            id,
            ConflictField::Description,
            b.map(|b| &b.description),
            &l.description,
            &r.description,
        );
        (to_local.privacy, to_remote.privacy) = self.field(
            id,
            ConflictField::Privacy,
            b.map(|b| &b.privacy),
            &l.privacy,
            &r.privacy,
        );
        let mut local_tags = l.tags.clone();
        let mut remote_tags = r.tags.clone();
        let all: BTreeSet<&String> = l.tags.iter().chain(&r.tags).collect();
        for t in all {
            let in_base = b.is_some_and(|b| b.tags.contains(t));
            let (il, ir) = (l.tags.contains(t), r.tags.contains(t));
            match merge_member(in_base, il, ir) {
                Merge::PullRemote if self.down => toggle(&mut local_tags, t, ir),
                Merge::PushLocal if self.up => toggle(&mut remote_tags, t, il),
                _ => {}
            }
        }
        if local_tags != l.tags {
            to_local.tags = Some(local_tags);
        }
        if remote_tags != r.tags {
            to_remote.tags = Some(remote_tags);
        }
        // Flickr's date taken only comes down; a date not known locally
        // yet (a fresh upload's) is filled in by the fetch, not counted.
        if self.down && lp.taken.is_some() && rp.taken.is_some() && lp.taken != rp.taken {
            to_local.taken = rp.taken.clone();
        }
        if to_remote.title.is_some() || to_remote.description.is_some() {
            to_remote.title.get_or_insert_with(|| r.title.clone());
            to_remote
                .description
                .get_or_insert_with(|| r.description.clone());
        }
        for (side, edit) in [(Side::Local, to_local), (Side::Remote, to_remote)] {
            if !edit.is_empty() {
                self.actions.push(Action::Edit {
                    side,
                    photo: id.clone(),
                    edit,
                });
            }
        }
    }

    fn merge_sets(
        &mut self,
        id: &PhotoId,
        lp: &LocalPhoto,
        rp: &RemotePhoto,
        bp: Option<&BasePhoto>,
    ) {
        let l: BTreeSet<SetRef> = lp
            .sets
            .iter()
            .filter_map(|k| self.set_of_local.get(k).cloned())
            .collect();
        let r: BTreeSet<SetRef> = rp.sets.iter().map(|s| SetRef::Remote(s.clone())).collect();
        let b: BTreeSet<SetRef> = bp
            .into_iter()
            .flat_map(|b| b.sets.iter())
            .map(|s| SetRef::Remote(s.clone()))
            .collect();
        let photo = PhotoRef::Remote(id.clone());
        let all: BTreeSet<&SetRef> = l.iter().chain(&r).chain(&b).collect();
        for s in all {
            if !self.is_active(s) {
                continue;
            }
            let (il, ir) = (l.contains(s), r.contains(s));
            let action = match merge_member(b.contains(s), il, ir) {
                Merge::PullRemote if self.down => Some((Side::Local, ir)),
                Merge::PushLocal if self.up => Some((Side::Remote, il)),
                _ => None,
            };
            let Some((side, add)) = action else { continue };
            if add && side == Side::Remote && self.is_primary(s, &photo) {
                continue;
            }
            let (photo, set) = (photo.clone(), s.clone());
            self.actions.push(if add {
                Action::AddToSet { side, photo, set }
            } else {
                // Applied on `side`: it comes from the other one.
                let from = match side {
                    Side::Local => Side::Remote,
                    Side::Remote => Side::Local,
                };
                *self
                    .removals
                    .entry((set.clone(), RemovalCause::Removed(from)))
                    .or_default() += 1;
                Action::RemoveFromSet { side, photo, set }
            });
        }
    }

    fn pool_selected(&self, g: &GroupId) -> bool {
        self.opts
            .pools
            .matches(g, self.remote.groups.get(g).map(String::as_str))
    }

    fn merge_pools(
        &mut self,
        id: &PhotoId,
        lp: &LocalPhoto,
        rp: &RemotePhoto,
        bp: Option<&BasePhoto>,
    ) {
        let photo = PhotoRef::Remote(id.clone());
        let b: BTreeSet<&GroupId> = bp.into_iter().flat_map(|b| b.pools.iter()).collect();
        let all: BTreeSet<&GroupId> = lp
            .pools
            .iter()
            .chain(&rp.pools)
            .chain(b.iter().copied())
            .collect();
        for g in all {
            if !self.pool_selected(g) {
                continue;
            }
            let (il, ir) = (lp.pools.contains(g), rp.pools.contains(g));
            let action = match merge_member(b.contains(g), il, ir) {
                Merge::PullRemote if self.down => Some((Side::Local, ir)),
                Merge::PushLocal if self.up => Some((Side::Remote, il)),
                _ => None,
            };
            let Some((side, add)) = action else { continue };
            if add && side == Side::Remote && !self.remote.groups.contains_key(g) {
                self.skip(
                    Subject::Photo(photo.clone()),
                    SkipReason::NotAPoolMember(g.clone()),
                );
                continue;
            }
            if !add && side == Side::Remote {
                self.pool_removals += 1;
            }
            let (photo, group) = (photo.clone(), g.clone());
            self.actions.push(if add {
                Action::AddToPool { side, photo, group }
            } else {
                Action::RemoveFromPool { side, photo, group }
            });
        }
    }

    fn concerns(&self) -> Vec<SafetyConcern> {
        let limits = &self.opts.limits;
        let mut out = Vec::new();
        let totals = self
            .opts
            .totals
            .unwrap_or_else(|| PlanTotals::of(self.local, self.base));
        let (total, pool_total) = (totals.set_memberships, totals.pool_memberships);
        if limits
            .membership_removals
            .exceeded(self.pool_removals, pool_total)
        {
            out.push(SafetyConcern::ManyPoolRemovals {
                removals: self.pool_removals,
                total: pool_total,
            });
        }
        let removals: usize = self.removals.values().sum();
        if limits.membership_removals.exceeded(removals, total) {
            let mut sets: Vec<SetRemovals> = self
                .removals
                .iter()
                .map(|((s, cause), n)| SetRemovals {
                    title: self.title_of_set(s),
                    cause: *cause,
                    count: *n,
                })
                .collect();
            sets.sort_by(|a, b| b.count.cmp(&a.count).then(a.title.cmp(&b.title)));
            out.push(SafetyConcern::ManyMembershipRemovals {
                removals,
                total,
                sets,
            });
        }
        let base_photos: Vec<&PhotoId> = self
            .base
            .photos
            .keys()
            .filter(|id| !self.local.ignored.contains(*id))
            .collect();
        let missing = base_photos
            .iter()
            .filter(|id| !self.remote.photos.contains_key(**id))
            .count();
        let base_total = totals.base_photos;
        if limits.remote_photos_missing.exceeded(missing, base_total) {
            out.push(SafetyConcern::RemotePhotosMissing {
                missing,
                base: base_total,
            });
        }
        let missing_sets = self
            .base
            .sets
            .keys()
            .filter(|id| !self.remote.sets.contains_key(*id))
            .count();
        if limits
            .remote_sets_missing
            .exceeded(missing_sets, self.base.sets.len())
        {
            out.push(SafetyConcern::RemoteSetsMissing {
                missing: missing_sets,
                base: self.base.sets.len(),
            });
        }
        let ignores = self
            .actions
            .iter()
            .filter(|a| matches!(a, Action::Ignore { .. }))
            .count();
        if limits.local_photos_missing.exceeded(ignores, base_total) {
            out.push(SafetyConcern::LocalPhotosMissing {
                missing: ignores,
                base: base_total,
            });
        }
        out
    }

    fn finish(mut self) -> Result<Plan, PlanError> {
        self.actions.sort_by_key(Action::phase);
        let concerns = self.concerns();
        let mut s = PlanSummary {
            conflicts: self.conflicts.len(),
            skipped: self.skipped.len(),
            ..PlanSummary::default()
        };
        // Remote membership changes are batched per set (sync/setedit.rs).
        let mut per_set: BTreeMap<&SetRef, (usize, usize)> = BTreeMap::new();
        for a in &self.actions {
            match a {
                Action::AddToSet {
                    side: Side::Remote,
                    set,
                    ..
                } => per_set.entry(set).or_default().0 += 1,
                Action::RemoveFromSet {
                    side: Side::Remote,
                    set,
                    ..
                } => per_set.entry(set).or_default().1 += 1,
                _ => s.api_calls += a.api_calls(),
            }
        }
        s.api_calls += per_set
            .values()
            .map(|(add, remove)| super::setedit::planned_calls(*add, *remove))
            .sum::<u64>();
        // (additions, removals) of each photo's sets, per side
        let mut moves: BTreeMap<(Side, &PhotoRef), (usize, usize)> = BTreeMap::new();
        for a in &self.actions {
            match a {
                Action::AddToSet { side, photo, .. } => {
                    moves.entry((*side, photo)).or_default().0 += 1
                }
                Action::RemoveFromSet { side, photo, .. } => {
                    moves.entry((*side, photo)).or_default().1 += 1
                }
                _ => {}
            }
        }
        s.set_reassignments = moves.values().map(|(add, rm)| (*add).max(*rm)).sum();
        for a in &self.actions {
            match a {
                Action::LinkPhoto { .. } | Action::LinkSet { .. } => s.links += 1,
                Action::Ignore { .. } => s.ignores += 1,
                Action::ForgetLocal { .. } => s.forgets += 1,
                Action::CreateLocalSet { .. } | Action::CreateRemoteSet { .. } => {
                    s.set_creations += 1
                }
                Action::Upload { .. } => s.uploads += 1,
                Action::Download { .. } => {
                    s.downloads += 1;
                    s.file_downloads += 1;
                }
                Action::RenameSet { .. } => s.set_renames += 1,
                Action::Edit { edit, .. } => {
                    s.edits += 1;
                    s.dates_taken += usize::from(edit.taken.is_some());
                }
                Action::AddToSet { .. } | Action::RemoveFromSet { .. } => {}
                Action::AddToPool { .. } => s.pool_changes += 1,
                Action::RemoveFromPool { side, .. } => {
                    s.pool_changes += 1;
                    s.pool_removals_on_flickr += usize::from(*side == Side::Remote);
                }
                Action::DeleteRemoteSet { .. } | Action::DropLocalSet { .. } => {
                    s.set_deletions += 1
                }
            }
        }
        let mut plan = Plan {
            actions: self.actions,
            conflicts: self.conflicts,
            skipped: self.skipped,
            concerns: Vec::new(),
            summary: s,
        };
        if concerns.is_empty() {
            Ok(plan)
        } else if self.opts.force {
            plan.concerns = concerns;
            Ok(plan)
        } else {
            Err(PlanError::Unsafe {
                concerns,
                plan: Box::new(plan),
            })
        }
    }
}

fn toggle(set: &mut BTreeSet<String>, item: &str, present: bool) {
    if present {
        set.insert(item.to_owned());
    } else {
        set.remove(item);
    }
}

/// `1234567` as `1,234,567`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Base value of one field after a sync: the agreed value when both sides
/// agree; otherwise the old base (so the pending change is still seen as a
/// change next time); with no old base, the local value (so Flickr's value
/// is still pulled next time).
fn base_value<T: Clone + PartialEq>(old: Option<&T>, local: &T, remote: &T) -> T {
    if local == remote {
        local.clone()
    } else {
        old.unwrap_or(local).clone()
    }
}

/// Base of one membership-like collection, element by element.
fn base_members<T: Ord + Clone>(
    old: Option<&BTreeSet<T>>,
    local: &BTreeSet<T>,
    remote: &BTreeSet<T>,
) -> BTreeSet<T> {
    let all: BTreeSet<&T> = local
        .iter()
        .chain(remote)
        .chain(old.into_iter().flatten())
        .collect();
    all.into_iter()
        .filter(|x| {
            let (l, r) = (local.contains(*x), remote.contains(*x));
            if l == r {
                l
            } else {
                old.is_some_and(|o| o.contains(*x))
            }
        })
        .cloned()
        .collect()
}

/// The merge base to record after a sync, from the states of both sides
/// afterwards: what they agree on, and the old base wherever they still
/// differ (a one-way sync leaves the other way's changes pending). Items
/// present on neither side, and ignored photos, leave the base.
pub fn next_base(
    old: &BaseSnapshot,
    local: &LocalSnapshot,
    remote: &RemoteSnapshot,
) -> BaseSnapshot {
    let mut out = BaseSnapshot {
        sets: next_base_sets(old, local, remote),
        ..BaseSnapshot::default()
    };
    let mut photo_links: BTreeMap<&PhotoId, &LocalPhoto> = BTreeMap::new();
    for lp in local.photos.values() {
        if let Some(id) = &lp.remote {
            photo_links.entry(id).or_insert(lp);
        }
    }
    let mut ids: BTreeSet<&PhotoId> = old.photos.keys().collect();
    ids.extend(remote.photos.keys());
    ids.extend(photo_links.keys().copied());
    for id in ids {
        if local.ignored.contains(id) {
            continue;
        }
        let lp = photo_links.get(id);
        let rp = remote.photos.get(id);
        let prev = old.photos.get(id);
        let entry = match (lp, rp) {
            (Some(lp), Some(rp)) => Some(next_base_photo(prev, lp, rp, local)),
            (None, None) => None,
            _ => prev.cloned(),
        };
        if let Some(e) = entry {
            out.photos.insert(id.clone(), e);
        }
    }
    out
}

/// The sets part of [`next_base`].
pub fn next_base_sets(
    old: &BaseSnapshot,
    local: &LocalSnapshot,
    remote: &RemoteSnapshot,
) -> BTreeMap<SetId, BaseSet> {
    let mut set_links: BTreeMap<&SetId, LocalSetKey> = BTreeMap::new();
    for (k, ls) in &local.sets {
        if let Some(id) = &ls.remote {
            set_links.entry(id).or_insert(*k);
        }
    }
    let mut out = BTreeMap::new();
    let mut set_ids: BTreeSet<&SetId> = old.sets.keys().collect();
    set_ids.extend(remote.sets.keys());
    for id in set_ids {
        let ls = set_links.get(id).and_then(|k| local.sets.get(k));
        let rs = remote.sets.get(id);
        let prev = old.sets.get(id);
        let entry = match (ls, rs) {
            (Some(ls), Some(rs)) => Some(BaseSet {
                title: base_value(prev.map(|p| &p.title), &ls.title, &rs.title),
            }),
            (None, None) => None,
            _ => prev.cloned(),
        };
        if let Some(e) = entry {
            out.insert(id.clone(), e);
        }
    }
    out
}

/// The base [`next_base`] records for a photo linked on both sides (`lp`
/// is the first local photo linked to `rp`, `prev` its old base): one photo
/// at a time, so that a caller can compare it with the old base without
/// building a whole new snapshot.
pub fn next_base_photo(
    prev: Option<&BasePhoto>,
    lp: &LocalPhoto,
    rp: &RemotePhoto,
    local: &LocalSnapshot,
) -> BasePhoto {
    let lsets: BTreeSet<SetId> = lp
        .sets
        .iter()
        .filter_map(|k| local.sets.get(k).and_then(|s| s.remote.clone()))
        .collect();
    let pm = prev.map(|p| &p.meta);
    BasePhoto {
        meta: PhotoMeta {
            title: base_value(pm.map(|m| &m.title), &lp.meta.title, &rp.meta.title),
            description: base_value(
                pm.map(|m| &m.description),
                &lp.meta.description,
                &rp.meta.description,
            ),
            tags: base_members(pm.map(|m| &m.tags), &lp.meta.tags, &rp.meta.tags),
            privacy: base_value(pm.map(|m| &m.privacy), &lp.meta.privacy, &rp.meta.privacy),
        },
        sets: base_members(prev.map(|p| &p.sets), &lsets, &rp.sets),
        pools: base_members(prev.map(|p| &p.pools), &lp.pools, &rp.pools),
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
