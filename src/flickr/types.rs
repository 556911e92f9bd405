//! Typed replies of the Flickr methods flickrfs uses, decoded from Flickr's
//! quirky JSON into the project's small types (`PhotoId`, `Visibility`,
//! `TakenAt`...). Also the small option types of requests (extras, upload
//! options, outcomes).
//!
//! The raw wire shapes stay private here; callers only see the clean types.

use serde::{Deserialize, Deserializer};

use super::decode::*;
use crate::model::{Granularity, GroupId, Nsid, PhotoId, SetId, TakenAt, Visibility};

/// An `extras` value of the listing methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Extra {
    Description,
    DateUpload,
    DateTaken,
    LastUpdate,
    OriginalFormat,
    ODims,
    Tags,
    MachineTags,
    Media,
    UrlO,
    UrlT,
    UrlQ,
    UrlM,
}

impl Extra {
    pub fn as_str(self) -> &'static str {
        match self {
            Extra::Description => "description",
            Extra::DateUpload => "date_upload",
            Extra::DateTaken => "date_taken",
            Extra::LastUpdate => "last_update",
            Extra::OriginalFormat => "original_format",
            Extra::ODims => "o_dims",
            Extra::Tags => "tags",
            Extra::MachineTags => "machine_tags",
            Extra::Media => "media",
            Extra::UrlO => "url_o",
            Extra::UrlT => "url_t",
            Extra::UrlQ => "url_q",
            Extra::UrlM => "url_m",
        }
    }

    /// Everything sync needs to describe a photo without calling getInfo.
    pub const SYNC: &'static [Extra] = &[
        Extra::Description,
        Extra::DateUpload,
        Extra::DateTaken,
        Extra::LastUpdate,
        Extra::OriginalFormat,
        Extra::ODims,
        Extra::Tags,
        Extra::MachineTags,
        Extra::Media,
        Extra::UrlO,
    ];

    /// The comma-separated wire form.
    pub fn join(extras: &[Extra]) -> String {
        extras
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// `photo` or `video` (anything else is kept as given).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Media {
    #[default]
    Photo,
    Video,
    Other(String),
}

impl Media {
    fn parse(s: &str) -> Self {
        match s {
            "photo" => Media::Photo,
            "video" => Media::Video,
            other => Media::Other(other.to_owned()),
        }
    }
}

fn taken_at(s: Option<String>) -> Option<TakenAt> {
    let s = s?;
    if s.starts_with("0000") {
        return None;
    }
    TakenAt::parse(&s)
}

fn split_tags(s: Option<String>) -> Vec<String> {
    s.map(|s| s.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// A photo as the listing methods return it (people.getPhotos,
/// photos.search, photosets.getPhotos, groups.pools.getPhotos...), with the
/// extras that were asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoSummary {
    pub id: PhotoId,
    pub owner: Option<Nsid>,
    pub secret: String,
    pub server: String,
    pub farm: u64,
    pub title: String,
    pub visibility: Visibility,
    /// extra `description`.
    pub description: Option<String>,
    /// extra `date_upload`: unix seconds.
    pub date_upload: Option<i64>,
    /// extra `date_taken`.
    pub date_taken: Option<TakenAt>,
    pub taken_granularity: Option<Granularity>,
    /// Flickr had no EXIF date and used the upload time.
    pub taken_unknown: bool,
    /// extra `last_update`: unix seconds.
    pub last_update: Option<i64>,
    /// extra `original_format`.
    pub original_secret: Option<String>,
    pub original_format: Option<String>,
    /// extra `o_dims` (or `width_o`/`height_o` with `url_o`).
    pub original_width: Option<u64>,
    pub original_height: Option<u64>,
    /// extra `tags`: normalised tags, machine tags included by Flickr.
    pub tags: Vec<String>,
    /// extra `machine_tags`.
    pub machine_tags: Vec<String>,
    pub media: Option<Media>,
    pub url_o: Option<String>,
    pub url_t: Option<String>,
    pub url_q: Option<String>,
    pub url_m: Option<String>,
    /// In photosets.getPhotos only: whether this is the set's primary photo.
    pub is_primary: Option<bool>,
}

#[derive(Deserialize)]
struct RawPhoto {
    #[serde(deserialize_with = "de_text")]
    id: String,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    owner: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    secret: String,
    #[serde(default, deserialize_with = "de_text")]
    server: String,
    #[serde(default, deserialize_with = "de_u64")]
    farm: u64,
    #[serde(default, deserialize_with = "de_text")]
    title: String,
    #[serde(default, deserialize_with = "de_flag")]
    ispublic: bool,
    #[serde(default, deserialize_with = "de_flag")]
    isfriend: bool,
    #[serde(default, deserialize_with = "de_flag")]
    isfamily: bool,
    #[serde(default, deserialize_with = "de_opt_text")]
    description: Option<String>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    dateupload: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    datetaken: Option<String>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    datetakengranularity: Option<i64>,
    #[serde(default, deserialize_with = "de_flag")]
    datetakenunknown: bool,
    #[serde(default, deserialize_with = "de_opt_i64")]
    lastupdate: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    originalsecret: Option<String>,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    originalformat: Option<String>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    o_width: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    o_height: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    width_o: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_u64")]
    height_o: Option<u64>,
    #[serde(default, deserialize_with = "de_opt_text")]
    tags: Option<String>,
    #[serde(default, deserialize_with = "de_opt_text")]
    machine_tags: Option<String>,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    media: Option<String>,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    url_o: Option<String>,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    url_t: Option<String>,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    url_q: Option<String>,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    url_m: Option<String>,
    #[serde(default, deserialize_with = "de_opt_flag")]
    isprimary: Option<bool>,
}

impl<'de> Deserialize<'de> for PhotoSummary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawPhoto::deserialize(d)?;
        Ok(PhotoSummary {
            id: PhotoId(r.id),
            owner: r.owner.map(Nsid),
            secret: r.secret,
            server: r.server,
            farm: r.farm,
            title: r.title,
            visibility: Visibility {
                is_public: r.ispublic,
                is_friend: r.isfriend,
                is_family: r.isfamily,
            },
            description: r.description,
            date_upload: r.dateupload,
            date_taken: taken_at(r.datetaken),
            taken_granularity: r.datetakengranularity.map(Granularity::from_code),
            taken_unknown: r.datetakenunknown,
            last_update: r.lastupdate,
            original_secret: r.originalsecret,
            original_format: r.originalformat,
            original_width: r.o_width.or(r.width_o),
            original_height: r.o_height.or(r.height_o),
            tags: split_tags(r.tags),
            machine_tags: split_tags(r.machine_tags),
            media: r.media.as_deref().map(Media::parse),
            url_o: r.url_o,
            url_t: r.url_t,
            url_q: r.url_q,
            url_m: r.url_m,
            is_primary: r.isprimary,
        })
    }
}

/// A photoset as photosets.getList returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Photoset {
    pub id: SetId,
    pub title: String,
    pub description: String,
    pub primary: Option<PhotoId>,
    pub photos: u64,
    pub videos: u64,
    /// unix seconds.
    pub date_create: Option<i64>,
    /// unix seconds; changes whenever the set changes.
    pub date_update: Option<i64>,
}

#[derive(Deserialize)]
struct RawPhotoset {
    #[serde(deserialize_with = "de_text")]
    id: String,
    #[serde(default, deserialize_with = "de_text")]
    title: String,
    #[serde(default, deserialize_with = "de_text")]
    description: String,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    primary: Option<String>,
    #[serde(default, deserialize_with = "de_u64")]
    photos: u64,
    #[serde(default, deserialize_with = "de_u64")]
    videos: u64,
    #[serde(default, deserialize_with = "de_opt_i64")]
    date_create: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    date_update: Option<i64>,
}

impl<'de> Deserialize<'de> for Photoset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawPhotoset::deserialize(d)?;
        Ok(Photoset {
            id: SetId(r.id),
            title: r.title,
            description: r.description,
            primary: r.primary.map(PhotoId),
            photos: r.photos,
            videos: r.videos,
            date_create: r.date_create,
            date_update: r.date_update,
        })
    }
}

/// What photosets.create returns.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct CreatedSet {
    #[serde(deserialize_with = "de_text")]
    pub id: String,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    pub url: Option<String>,
}

/// A set or pool a photo belongs to (photos.getAllContexts).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ContextRef {
    #[serde(deserialize_with = "de_text")]
    pub id: String,
    #[serde(default, deserialize_with = "de_text")]
    pub title: String,
}

/// photos.getAllContexts: the sets and group pools a photo is in.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Contexts {
    pub sets: Vec<(SetId, String)>,
    pub pools: Vec<(GroupId, String)>,
}

/// A group the caller belongs to (people.getGroups).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub is_admin: bool,
}

#[derive(Deserialize)]
struct RawGroup {
    // Flickr sends both `nsid` and `id` (same value); either may be alone.
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    nsid: Option<String>,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    id: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    name: String,
    #[serde(default, deserialize_with = "de_flag")]
    admin: bool,
}

impl<'de> Deserialize<'de> for Group {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawGroup::deserialize(d)?;
        let id = r
            .nsid
            .or(r.id)
            .ok_or_else(|| serde::de::Error::missing_field("nsid"))?;
        Ok(Group {
            id: GroupId(id),
            name: r.name,
            is_admin: r.admin,
        })
    }
}

/// A tag of photos.getInfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    /// As the user typed it.
    pub raw: String,
    /// Flickr's normalised form.
    pub normalised: String,
    pub machine_tag: bool,
}

/// photos.getInfo, reduced to what flickrfs uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoInfo {
    pub id: PhotoId,
    pub owner: Option<Nsid>,
    pub secret: String,
    pub server: String,
    pub farm: u64,
    pub original_secret: Option<String>,
    pub original_format: Option<String>,
    pub title: String,
    pub description: String,
    pub visibility: Visibility,
    /// unix seconds.
    pub posted: Option<i64>,
    pub taken: Option<TakenAt>,
    pub taken_granularity: Granularity,
    pub taken_unknown: bool,
    /// unix seconds.
    pub last_update: Option<i64>,
    pub tags: Vec<Tag>,
    pub media: Media,
}

#[derive(Deserialize)]
struct RawInfo {
    #[serde(deserialize_with = "de_text")]
    id: String,
    #[serde(default)]
    owner: Option<RawOwner>,
    #[serde(default, deserialize_with = "de_text")]
    secret: String,
    #[serde(default, deserialize_with = "de_text")]
    server: String,
    #[serde(default, deserialize_with = "de_u64")]
    farm: u64,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    originalsecret: Option<String>,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    originalformat: Option<String>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    dateuploaded: Option<i64>,
    #[serde(default, deserialize_with = "de_text")]
    title: String,
    #[serde(default, deserialize_with = "de_text")]
    description: String,
    #[serde(default)]
    visibility: RawVisibility,
    #[serde(default)]
    dates: RawDates,
    #[serde(default)]
    tags: RawTags,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    media: Option<String>,
}

#[derive(Deserialize)]
struct RawOwner {
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    nsid: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawVisibility {
    #[serde(default, deserialize_with = "de_flag")]
    ispublic: bool,
    #[serde(default, deserialize_with = "de_flag")]
    isfriend: bool,
    #[serde(default, deserialize_with = "de_flag")]
    isfamily: bool,
}

#[derive(Deserialize, Default)]
struct RawDates {
    #[serde(default, deserialize_with = "de_opt_i64")]
    posted: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    taken: Option<String>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    takengranularity: Option<i64>,
    #[serde(default, deserialize_with = "de_flag")]
    takenunknown: bool,
    #[serde(default, deserialize_with = "de_opt_i64")]
    lastupdate: Option<i64>,
}

#[derive(Deserialize, Default)]
struct RawTags {
    #[serde(default)]
    tag: Vec<RawTag>,
}

#[derive(Deserialize)]
struct RawTag {
    #[serde(default, deserialize_with = "de_text")]
    raw: String,
    #[serde(default, rename = "_content", deserialize_with = "de_text")]
    content: String,
    #[serde(default, deserialize_with = "de_flag")]
    machine_tag: bool,
}

impl<'de> Deserialize<'de> for PhotoInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawInfo::deserialize(d)?;
        Ok(PhotoInfo {
            id: PhotoId(r.id),
            owner: r.owner.and_then(|o| o.nsid).map(Nsid),
            secret: r.secret,
            server: r.server,
            farm: r.farm,
            original_secret: r.originalsecret,
            original_format: r.originalformat,
            title: r.title,
            description: r.description,
            visibility: Visibility {
                is_public: r.visibility.ispublic,
                is_friend: r.visibility.isfriend,
                is_family: r.visibility.isfamily,
            },
            posted: r.dates.posted.or(r.dateuploaded),
            taken: taken_at(r.dates.taken),
            taken_granularity: Granularity::from_code(r.dates.takengranularity.unwrap_or(0)),
            taken_unknown: r.dates.takenunknown,
            last_update: r.dates.lastupdate,
            tags: r
                .tags
                .tag
                .into_iter()
                .map(|t| Tag {
                    raw: if t.raw.is_empty() {
                        t.content.clone()
                    } else {
                        t.raw
                    },
                    normalised: t.content,
                    machine_tag: t.machine_tag,
                })
                .collect(),
            media: r.media.as_deref().map(Media::parse).unwrap_or_default(),
        })
    }
}

/// One entry of photos.getSizes.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Size {
    #[serde(deserialize_with = "de_text")]
    pub label: String,
    #[serde(default, deserialize_with = "de_u64")]
    pub width: u64,
    #[serde(default, deserialize_with = "de_u64")]
    pub height: u64,
    /// The file's URL (what to download).
    #[serde(deserialize_with = "de_text")]
    pub source: String,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    pub media: Option<String>,
}

/// One entry of photos.getExif.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ExifTag {
    #[serde(default, deserialize_with = "de_text")]
    pub tagspace: String,
    #[serde(default, deserialize_with = "de_text")]
    pub tag: String,
    #[serde(default, deserialize_with = "de_text")]
    pub label: String,
    #[serde(default, deserialize_with = "de_text")]
    pub raw: String,
}

/// A Flickr account's type and what it holds (people.getInfo,
/// people.getLimits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountKind {
    /// `ispro`: a Pro account; a free one keeps at most
    /// [`AccountKind::FREE_MAX_PHOTOS`] photos and is served nothing over
    /// `max_display_px`, originals included.
    pub pro: bool,
    /// How many photos the account holds.
    pub photos: u64,
    /// people.getLimits `maxdisplaypx` (`None`: 0, no limit).
    pub max_display_px: Option<u32>,
}

impl AccountKind {
    pub const FREE_MAX_PHOTOS: u64 = 1000;

    /// How many photos may still be uploaded: `None` for Pro (no limit).
    pub fn upload_quota(&self) -> Option<u64> {
        (!self.pro).then(|| Self::FREE_MAX_PHOTOS.saturating_sub(self.photos))
    }
}

/// Who a token belongs to (test.login, the access-token step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserIdentity {
    pub nsid: Nsid,
    pub username: String,
    pub fullname: String,
}

/// OAuth permission levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Perms {
    Read,
    Write,
    Delete,
}

impl Perms {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read" => Some(Perms::Read),
            "write" => Some(Perms::Write),
            "delete" => Some(Perms::Delete),
            _ => None,
        }
    }
}

/// The permission levels flickrfs may ask for: never `delete`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RequestedPerms {
    Read,
    #[default]
    Write,
}

impl RequestedPerms {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestedPerms::Read => "read",
            RequestedPerms::Write => "write",
        }
    }
}

/// auth.oauth.checkToken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenCheck {
    pub perms: Perms,
    pub user: UserIdentity,
}

/// What happened to photosets.addPhoto.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddToSetOutcome {
    Added,
    /// Error 3: the photo was already in the set (success).
    AlreadyInSet,
}

/// What happened to groups.pools.add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolAddOutcome {
    Added,
    /// Error 3: already in the pool (success).
    AlreadyInPool,
    /// Error 6: queued for the group admins' approval.
    Pending,
    /// Error 7: already queued.
    AlreadyPending,
}

/// `safety_level` of an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SafetyLevel {
    Safe = 1,
    Moderate = 2,
    Restricted = 3,
}

/// `content_type` of an upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentType {
    Photo = 1,
    Screenshot = 2,
    Other = 3,
}

/// `dedup_check` of an upload: ask Flickr to refuse a file it already has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DedupCheck {
    /// 1: may also report a deleted duplicate.
    Check = 1,
    /// 2: a deleted duplicate does not count.
    IgnoreDeleted = 2,
}

/// Optional fields of an upload. Unset fields are not sent, so Flickr uses
/// the account's defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadOptions {
    pub title: Option<String>,
    pub description: Option<String>,
    /// Tags as the user means them; ones holding spaces are quoted on the wire.
    pub tags: Vec<String>,
    pub visibility: Option<Visibility>,
    pub safety_level: Option<SafetyLevel>,
    pub content_type: Option<ContentType>,
    /// `Some(true)` hides the photo from public searches.
    pub hidden: Option<bool>,
    pub dedup_check: Option<DedupCheck>,
    /// Ask for an asynchronous upload (a ticket to poll with `check_tickets`).
    pub async_upload: bool,
    /// The SHA-1 (hex) the file's bytes must have. Checked while they are
    /// sent: on a mismatch the request is abandoned before its end (so
    /// Flickr makes no photo) and the upload fails with
    /// [`super::FlickrError::ContentChanged`].
    pub expect_sha1: Option<String>,
}

/// What an upload produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadOutcome {
    Uploaded {
        id: PhotoId,
        secret: Option<String>,
        original_secret: Option<String>,
    },
    /// `dedup_check` found the same file already in the account.
    Duplicate { existing: PhotoId },
    /// `async=1`: poll `check_tickets`.
    Ticket(String),
}

/// The state of an asynchronous upload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketState {
    Pending,
    Done,
    Failed,
}

/// One ticket of photos.upload.checkTickets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TicketStatus {
    pub id: String,
    pub state: TicketState,
    pub photo_id: Option<PhotoId>,
}

#[derive(Deserialize)]
pub(crate) struct RawTicket {
    #[serde(deserialize_with = "de_text")]
    pub id: String,
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub complete: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_nonempty")]
    pub photoid: Option<String>,
    #[serde(default, deserialize_with = "de_flag")]
    pub invalid: bool,
}

impl From<RawTicket> for TicketStatus {
    fn from(t: RawTicket) -> Self {
        TicketStatus {
            id: t.id,
            state: match (t.invalid, t.complete) {
                (true, _) | (_, Some(2)) => TicketState::Failed,
                (_, Some(1)) => TicketState::Done,
                _ => TicketState::Pending,
            },
            photo_id: t.photoid.map(PhotoId),
        }
    }
}

/// What `download_to` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DownloadOutcome {
    /// The file was written; its size and SHA-1 (hex).
    Written { bytes: u64, sha1: String },
    /// The destination already held exactly these bytes; nothing changed.
    AlreadyPresent { bytes: u64, sha1: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn photo_summary_accepts_numbers_as_strings_and_wrapped_text() {
        let p: PhotoSummary = serde_json::from_value(json!({
            "id": "5301", "owner": "12345678@N01", "secret": "abc", "server": "65535",
            "farm": 66, "title": "Beach", "ispublic": 1, "isfriend": "0", "isfamily": "1",
            "description": {"_content": "Sunset"}, "dateupload": "1600000000",
            "datetaken": "2021-07-04 18:30:01", "datetakengranularity": "0",
            "datetakenunknown": "0", "lastupdate": 1600000100,
            "originalsecret": "os1", "originalformat": "jpg", "o_width": "4000", "o_height": 3000,
            "tags": "beach sunset flickrfs:sha1=ab12", "machine_tags": "flickrfs:sha1=ab12",
            "media": "photo", "url_o": "http://x/o.jpg", "isprimary": "1"
        }))
        .unwrap();
        assert_eq!(p.id, PhotoId::from("5301"));
        assert_eq!(p.owner, Some(Nsid::from("12345678@N01")));
        assert_eq!(p.farm, 66);
        assert!(p.visibility.is_public && !p.visibility.is_friend && p.visibility.is_family);
        assert_eq!(p.description.as_deref(), Some("Sunset"));
        assert_eq!(p.date_upload, Some(1_600_000_000));
        assert_eq!(
            p.date_taken.as_ref().map(|t| t.as_str()),
            Some("2021-07-04 18:30:01")
        );
        assert_eq!(p.taken_granularity, Some(Granularity::Exact));
        assert_eq!(p.last_update, Some(1_600_000_100));
        assert_eq!(
            (p.original_width, p.original_height),
            (Some(4000), Some(3000))
        );
        assert_eq!(p.tags.len(), 3);
        assert_eq!(p.machine_tags, vec!["flickrfs:sha1=ab12".to_owned()]);
        assert_eq!(p.media, Some(Media::Photo));
        assert_eq!(p.is_primary, Some(true));
    }

    #[test]
    fn photo_summary_minimal_and_empty_values() {
        let p: PhotoSummary = serde_json::from_value(json!({
            "id": 42, "title": "", "ispublic": 0, "tags": "", "datetaken": "0000-00-00 00:00:00"
        }))
        .unwrap();
        assert_eq!(p.id.as_str(), "42");
        assert!(p.tags.is_empty());
        assert_eq!(p.date_taken, None);
        assert_eq!(p.owner, None);
        assert!(serde_json::from_value::<PhotoSummary>(json!({"title": "no id"})).is_err());
    }

    #[test]
    fn photoset_with_content_wrapped_title() {
        let s: Photoset = serde_json::from_value(json!({
            "id": "72157000", "primary": "5301", "secret": "s", "server": "1", "farm": 1,
            "photos": "12", "videos": 0, "title": {"_content": "Trip"},
            "description": {"_content": ""}, "date_create": "1500000000", "date_update": "1500000500"
        }))
        .unwrap();
        assert_eq!(s.id, SetId::from("72157000"));
        assert_eq!(s.title, "Trip");
        assert_eq!(s.photos, 12);
        assert_eq!(s.primary, Some(PhotoId::from("5301")));
        assert_eq!(s.date_update, Some(1_500_000_500));
    }

    #[test]
    fn photo_info_nested_shapes() {
        let i: PhotoInfo = serde_json::from_value(json!({
            "id": "1", "secret": "s", "server": "2", "farm": 3, "originalsecret": "o",
            "originalformat": "png", "dateuploaded": "100", "owner": {"nsid": "1@N01"},
            "title": {"_content": "T"}, "description": {"_content": "D"},
            "visibility": {"ispublic": 0, "isfriend": 1, "isfamily": 0},
            "dates": {"posted": "100", "taken": "2020-01-02 03:04:05", "takengranularity": 6,
                      "takenunknown": "1", "lastupdate": "200"},
            "tags": {"tag": [{"id": "x", "raw": "New York", "_content": "newyork", "machine_tag": 0},
                             {"raw": "a:b=c", "_content": "a:b=c", "machine_tag": "1"}]},
            "media": "video"
        }))
        .unwrap();
        assert_eq!(i.title, "T");
        assert_eq!(i.description, "D");
        assert!(i.visibility.is_friend);
        assert_eq!(i.taken_granularity, Granularity::Year);
        assert!(i.taken_unknown);
        assert_eq!(i.last_update, Some(200));
        assert_eq!(i.tags[0].raw, "New York");
        assert!(i.tags[1].machine_tag);
        assert_eq!(i.media, Media::Video);
        // Tags missing entirely.
        let j: PhotoInfo = serde_json::from_value(json!({"id": "2"})).unwrap();
        assert!(j.tags.is_empty());
    }

    #[test]
    fn groups_and_sizes() {
        let g: Group =
            serde_json::from_value(json!({"nsid": "1234@N20", "name": "Cats", "admin": 0}))
                .unwrap();
        assert_eq!(g.id, GroupId::from("1234@N20"));
        let both: Group = serde_json::from_value(
            json!({"nsid": "1@N20", "id": "1@N20", "name": "Dogs", "admin": "1"}),
        )
        .unwrap();
        assert_eq!((both.id.as_str(), both.is_admin), ("1@N20", true));
        let id_only: Group = serde_json::from_value(json!({"id": "2@N20"})).unwrap();
        assert_eq!(id_only.id.as_str(), "2@N20");
        assert!(serde_json::from_value::<Group>(json!({"name": "no id"})).is_err());
        let s: Size = serde_json::from_value(json!({
            "label": "Original", "width": "4000", "height": 3000, "source": "http://x/o.jpg",
            "media": "photo"
        }))
        .unwrap();
        assert_eq!((s.width, s.height), (4000, 3000));
    }
}
