//! The typed REST methods: one async function per Flickr method flickrfs
//! uses, plus helpers that walk every page of a listing.
//!
//! Reads go out as signed GETs, writes as signed POSTs (see `Client::rest`).
//! Codes that mean "already done" (3 for photosets.addPhoto and
//! groups.pools.add) are outcomes, not errors.

use std::collections::HashSet;
use std::future::Future;

use serde_json::Value;

use super::client::{Client, Verb};
use super::decode::{self, lenient_text, page_of, typed, Page};
use super::error::{FlickrError, Result};
use super::retry::Repeat;
use super::types::*;
use super::upload::quote_tags;
use crate::model::{Granularity, GroupId, Nsid, PhotoId, SetId, TakenAt, Visibility};

/// The largest page Flickr serves.
pub const PER_PAGE_MAX: u32 = 500;

/// A guard against a server that keeps announcing more pages.
const MAX_PAGES: u32 = 100_000;

/// `machine_tag_mode` of photos.search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MachineTagMode {
    #[default]
    Any,
    All,
}

/// The filters of photos.search (always on the caller's own photos).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub tags: Vec<String>,
    /// e.g. `flickrfs:sha1=0123...`
    pub machine_tags: Vec<String>,
    pub machine_tag_mode: MachineTagMode,
    /// unix seconds.
    pub min_upload_date: Option<i64>,
}

fn p(k: &str, v: impl ToString) -> (String, String) {
    (k.to_owned(), v.to_string())
}

fn flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

fn extras_param(params: &mut Vec<(String, String)>, extras: &[Extra]) {
    if !extras.is_empty() {
        params.push(p("extras", Extra::join(extras)));
    }
}

fn paging(params: &mut Vec<(String, String)>, page: u32) {
    params.push(p("per_page", PER_PAGE_MAX));
    params.push(p("page", page.max(1)));
}

/// Fetches pages 1.. until the last one, dropping repeats (a photo may move
/// between pages while we walk them).
async fn all_pages<T, K, F, Fut>(method: &str, key: K, mut fetch: F) -> Result<Vec<T>>
where
    K: Fn(&T) -> String,
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<Page<T>>>,
{
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut page = 1;
    loop {
        let got = fetch(page).await?;
        let more = got.has_more();
        for item in got.items {
            if seen.insert(key(&item)) {
                out.push(item);
            }
        }
        if !more {
            return Ok(out);
        }
        page += 1;
        if page > MAX_PAGES {
            return Err(FlickrError::decode(
                method,
                format!("more than {MAX_PAGES} pages announced"),
            ));
        }
    }
}

fn photo_key(p: &PhotoSummary) -> String {
    p.id.0.clone()
}

impl Client {
    /// flickr.test.login: who the token belongs to.
    pub async fn test_login(&self) -> Result<UserIdentity> {
        const M: &str = "flickr.test.login";
        let v = self.rest(M, Verb::Read, vec![]).await?;
        let user = decode::field(M, &v, "user")?;
        identity(M, user, "id")
    }

    /// The account type of `user` (people.getInfo `ispro` and its photo
    /// count, people.getLimits `maxdisplaypx`): two calls.
    pub async fn account_kind(&self, user: &Nsid) -> Result<AccountKind> {
        const INFO: &str = "flickr.people.getInfo";
        let v = self
            .rest(INFO, Verb::Read, vec![p("user_id", user)])
            .await?;
        let person = decode::field(INFO, &v, "person")?;
        let pro = person
            .get("ispro")
            .and_then(decode::lenient_u64)
            .ok_or_else(|| FlickrError::decode(INFO, "no ispro"))?
            != 0;
        let photos = person
            .get("photos")
            .and_then(|p| p.get("count"))
            .and_then(|c| decode::lenient_u64(c).or_else(|| lenient_text(c)?.parse().ok()))
            .unwrap_or(0);
        const LIMITS: &str = "flickr.people.getLimits";
        let v = self.rest(LIMITS, Verb::Read, vec![]).await?;
        let max = decode::field(LIMITS, &v, "person")?
            .get("photos")
            .and_then(|p| p.get("maxdisplaypx"))
            .and_then(decode::lenient_u64)
            .unwrap_or(0);
        Ok(AccountKind {
            pro,
            photos,
            max_display_px: u32::try_from(max).ok().filter(|m| *m > 0),
        })
    }

    /// flickr.auth.oauth.checkToken: the token's permissions and owner.
    pub async fn check_token(&self) -> Result<TokenCheck> {
        const M: &str = "flickr.auth.oauth.checkToken";
        // The token to check is the signed `oauth_token` itself.
        let v = self.rest(M, Verb::Read, vec![]).await?;
        let oauth = decode::field(M, &v, "oauth")?;
        let perms_text = oauth
            .get("perms")
            .and_then(lenient_text)
            .unwrap_or_default();
        let perms = Perms::parse(&perms_text)
            .ok_or_else(|| FlickrError::decode(M, format!("unknown perms {perms_text:?}")))?;
        let user = decode::field(M, oauth, "user")?;
        Ok(TokenCheck {
            perms,
            user: identity(M, user, "nsid")?,
        })
    }

    /// flickr.people.getPhotos for the caller, one page of up to 500.
    pub async fn photos_page(
        &self,
        extras: &[Extra],
        page: u32,
        min_upload_date: Option<i64>,
    ) -> Result<Page<PhotoSummary>> {
        const M: &str = "flickr.people.getPhotos";
        let mut params = vec![p("user_id", "me")];
        extras_param(&mut params, extras);
        if let Some(d) = min_upload_date {
            params.push(p("min_upload_date", d));
        }
        paging(&mut params, page);
        let v = self.rest(M, Verb::Read, params).await?;
        page_of(M, decode::field(M, &v, "photos")?, "photo")
    }

    /// Every photo of the caller (all pages of people.getPhotos).
    pub async fn list_all_photos(&self, extras: &[Extra]) -> Result<Vec<PhotoSummary>> {
        all_pages("flickr.people.getPhotos", photo_key, |page| {
            self.photos_page(extras, page, None)
        })
        .await
    }

    /// flickr.photos.search on the caller's photos, one page.
    pub async fn search_page(
        &self,
        query: &SearchQuery,
        extras: &[Extra],
        page: u32,
    ) -> Result<Page<PhotoSummary>> {
        const M: &str = "flickr.photos.search";
        let mut params = vec![p("user_id", "me")];
        if !query.tags.is_empty() {
            params.push(p("tags", query.tags.join(",")));
        }
        if !query.machine_tags.is_empty() {
            params.push(p("machine_tags", query.machine_tags.join(",")));
            params.push(p(
                "machine_tag_mode",
                match query.machine_tag_mode {
                    MachineTagMode::Any => "any",
                    MachineTagMode::All => "all",
                },
            ));
        }
        if let Some(d) = query.min_upload_date {
            params.push(p("min_upload_date", d));
        }
        extras_param(&mut params, extras);
        paging(&mut params, page);
        let v = self.rest(M, Verb::Read, params).await?;
        page_of(M, decode::field(M, &v, "photos")?, "photo")
    }

    /// Every result of a photos.search.
    pub async fn search_all(
        &self,
        query: &SearchQuery,
        extras: &[Extra],
    ) -> Result<Vec<PhotoSummary>> {
        all_pages("flickr.photos.search", photo_key, |page| {
            self.search_page(query, extras, page)
        })
        .await
    }

    /// The caller's photos carrying one machine tag (e.g. `flickrfs:sha1=...`).
    pub async fn find_by_machine_tag(
        &self,
        machine_tag: &str,
        extras: &[Extra],
    ) -> Result<Vec<PhotoSummary>> {
        let query = SearchQuery {
            machine_tags: vec![machine_tag.to_owned()],
            ..Default::default()
        };
        self.search_all(&query, extras).await
    }

    /// flickr.photos.recentlyUpdated, one page: photos changed at or after `min_date`.
    pub async fn recently_updated_page(
        &self,
        min_date: i64,
        extras: &[Extra],
        page: u32,
    ) -> Result<Page<PhotoSummary>> {
        const M: &str = "flickr.photos.recentlyUpdated";
        let mut params = vec![p("min_date", min_date)];
        extras_param(&mut params, extras);
        paging(&mut params, page);
        let v = self.rest(M, Verb::Read, params).await?;
        page_of(M, decode::field(M, &v, "photos")?, "photo")
    }

    /// Every photo changed at or after `min_date` (unix seconds).
    pub async fn list_recently_updated(
        &self,
        min_date: i64,
        extras: &[Extra],
    ) -> Result<Vec<PhotoSummary>> {
        all_pages("flickr.photos.recentlyUpdated", photo_key, |page| {
            self.recently_updated_page(min_date, extras, page)
        })
        .await
    }

    /// flickr.photos.getNotInSet, one page.
    pub async fn not_in_set_page(&self, extras: &[Extra], page: u32) -> Result<Page<PhotoSummary>> {
        const M: &str = "flickr.photos.getNotInSet";
        let mut params = vec![];
        extras_param(&mut params, extras);
        paging(&mut params, page);
        let v = self.rest(M, Verb::Read, params).await?;
        page_of(M, decode::field(M, &v, "photos")?, "photo")
    }

    /// Every photo of the caller that is in no set.
    pub async fn list_not_in_set(&self, extras: &[Extra]) -> Result<Vec<PhotoSummary>> {
        all_pages("flickr.photos.getNotInSet", photo_key, |page| {
            self.not_in_set_page(extras, page)
        })
        .await
    }

    /// flickr.photosets.getList, one page.
    pub async fn photosets_page(&self, page: u32) -> Result<Page<Photoset>> {
        const M: &str = "flickr.photosets.getList";
        let mut params = vec![];
        paging(&mut params, page);
        let v = self.rest(M, Verb::Read, params).await?;
        page_of(M, decode::field(M, &v, "photosets")?, "photoset")
    }

    /// Every set of the caller.
    pub async fn list_all_photosets(&self) -> Result<Vec<Photoset>> {
        all_pages(
            "flickr.photosets.getList",
            |s: &Photoset| s.id.0.clone(),
            |page| self.photosets_page(page),
        )
        .await
    }

    /// flickr.photosets.getPhotos, one page (photos carry `is_primary`).
    pub async fn set_photos_page(
        &self,
        set: &SetId,
        extras: &[Extra],
        page: u32,
    ) -> Result<Page<PhotoSummary>> {
        const M: &str = "flickr.photosets.getPhotos";
        let mut params = vec![p("photoset_id", set)];
        extras_param(&mut params, extras);
        paging(&mut params, page);
        let v = self.rest(M, Verb::Read, params).await?;
        page_of(M, decode::field(M, &v, "photoset")?, "photo")
    }

    /// Every photo of a set, in the set's order.
    pub async fn list_all_set_photos(
        &self,
        set: &SetId,
        extras: &[Extra],
    ) -> Result<Vec<PhotoSummary>> {
        all_pages("flickr.photosets.getPhotos", photo_key, |page| {
            self.set_photos_page(set, extras, page)
        })
        .await
    }

    /// flickr.photosets.create: a set needs a primary photo to exist.
    ///
    /// Not retried when the reply is lost after sending (the set may exist):
    /// the caller then re-lists sets before trying again.
    pub async fn create_photoset(
        &self,
        title: &str,
        description: &str,
        primary: &PhotoId,
    ) -> Result<SetId> {
        const M: &str = "flickr.photosets.create";
        let mut params = vec![p("title", title), p("primary_photo_id", primary)];
        if !description.is_empty() {
            params.push(p("description", description));
        }
        // A lost reply may hide a set that was created: never send it twice.
        let v = self
            .rest_with(M, Verb::Write, Repeat::OnlyIfNotApplied, params)
            .await?;
        let created: CreatedSet = typed(M, "photoset", decode::field(M, &v, "photoset")?)?;
        Ok(SetId(created.id))
    }

    /// flickr.photosets.addPhoto; "already in set" (3) is a success.
    pub async fn add_to_set(&self, set: &SetId, photo: &PhotoId) -> Result<AddToSetOutcome> {
        const M: &str = "flickr.photosets.addPhoto";
        let params = vec![p("photoset_id", set), p("photo_id", photo)];
        match self.rest(M, Verb::Write, params).await {
            Ok(_) => Ok(AddToSetOutcome::Added),
            Err(FlickrError::Api { code: 3, .. }) => Ok(AddToSetOutcome::AlreadyInSet),
            Err(e) => Err(e),
        }
    }

    /// flickr.photosets.removePhoto.
    pub async fn remove_from_set(&self, set: &SetId, photo: &PhotoId) -> Result<()> {
        const M: &str = "flickr.photosets.removePhoto";
        let params = vec![p("photoset_id", set), p("photo_id", photo)];
        self.rest(M, Verb::Write, params).await.map(drop)
    }

    /// flickr.photosets.removePhotos (several at once).
    pub async fn remove_photos_from_set(&self, set: &SetId, photos: &[PhotoId]) -> Result<()> {
        const M: &str = "flickr.photosets.removePhotos";
        let params = vec![p("photoset_id", set), p("photo_ids", join_ids(photos))];
        self.rest(M, Verb::Write, params).await.map(drop)
    }

    /// flickr.photosets.editMeta.
    pub async fn edit_set_meta(&self, set: &SetId, title: &str, description: &str) -> Result<()> {
        const M: &str = "flickr.photosets.editMeta";
        let params = vec![
            p("photoset_id", set),
            p("title", title),
            p("description", description),
        ];
        self.rest(M, Verb::Write, params).await.map(drop)
    }

    /// flickr.photosets.editPhotos: the set's whole new list, in order.
    pub async fn edit_set_photos(
        &self,
        set: &SetId,
        primary: &PhotoId,
        photos: &[PhotoId],
    ) -> Result<()> {
        const M: &str = "flickr.photosets.editPhotos";
        let params = vec![
            p("photoset_id", set),
            p("primary_photo_id", primary),
            p("photo_ids", join_ids(photos)),
        ];
        self.rest(M, Verb::Write, params).await.map(drop)
    }

    /// flickr.photosets.delete: the set only; its photos stay.
    pub async fn delete_photoset(&self, set: &SetId) -> Result<()> {
        const M: &str = "flickr.photosets.delete";
        self.rest(M, Verb::Write, vec![p("photoset_id", set)])
            .await
            .map(drop)
    }

    /// flickr.photos.getAllContexts: the sets and pools holding a photo.
    pub async fn all_contexts(&self, photo: &PhotoId) -> Result<Contexts> {
        const M: &str = "flickr.photos.getAllContexts";
        let v = self.rest(M, Verb::Read, vec![p("photo_id", photo)]).await?;
        let list = |key: &str| -> Result<Vec<ContextRef>> {
            match v.get(key) {
                None | Some(Value::Null) => Ok(vec![]),
                Some(Value::Array(items)) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| typed(M, &format!("{key}[{i}]"), item))
                    .collect(),
                Some(_) => Err(FlickrError::decode(M, format!("\"{key}\" is not a list"))),
            }
        };
        Ok(Contexts {
            sets: list("set")?
                .into_iter()
                .map(|c| (SetId(c.id), c.title))
                .collect(),
            pools: list("pool")?
                .into_iter()
                .map(|c| (GroupId(c.id), c.title))
                .collect(),
        })
    }

    /// flickr.people.getGroups: the groups `user` belongs to.
    pub async fn list_groups(&self, user: &Nsid) -> Result<Vec<Group>> {
        const M: &str = "flickr.people.getGroups";
        let v = self.rest(M, Verb::Read, vec![p("user_id", user)]).await?;
        let page: Page<Group> = page_of(M, decode::field(M, &v, "groups")?, "group")?;
        Ok(page.items)
    }

    /// flickr.groups.pools.getPhotos, one page; `member` limits it to one
    /// member's photos.
    pub async fn pool_photos_page(
        &self,
        group: &GroupId,
        member: Option<&Nsid>,
        extras: &[Extra],
        page: u32,
    ) -> Result<Page<PhotoSummary>> {
        const M: &str = "flickr.groups.pools.getPhotos";
        let mut params = vec![p("group_id", group)];
        if let Some(m) = member {
            params.push(p("user_id", m));
        }
        extras_param(&mut params, extras);
        paging(&mut params, page);
        let v = self.rest(M, Verb::Read, params).await?;
        page_of(M, decode::field(M, &v, "photos")?, "photo")
    }

    /// Every photo of a group pool (optionally only one member's).
    pub async fn list_all_pool_photos(
        &self,
        group: &GroupId,
        member: Option<&Nsid>,
        extras: &[Extra],
    ) -> Result<Vec<PhotoSummary>> {
        all_pages("flickr.groups.pools.getPhotos", photo_key, |page| {
            self.pool_photos_page(group, member, extras, page)
        })
        .await
    }

    /// flickr.groups.pools.add: 3 (already in pool) is a success; 6 and 7
    /// (moderation queue) are reported as pending.
    pub async fn add_to_pool(&self, photo: &PhotoId, group: &GroupId) -> Result<PoolAddOutcome> {
        const M: &str = "flickr.groups.pools.add";
        let params = vec![p("photo_id", photo), p("group_id", group)];
        match self.rest(M, Verb::Write, params).await {
            Ok(_) => Ok(PoolAddOutcome::Added),
            Err(FlickrError::Api { code: 3, .. }) => Ok(PoolAddOutcome::AlreadyInPool),
            Err(FlickrError::Api { code: 6, .. }) => Ok(PoolAddOutcome::Pending),
            Err(FlickrError::Api { code: 7, .. }) => Ok(PoolAddOutcome::AlreadyPending),
            Err(e) => Err(e),
        }
    }

    /// flickr.groups.pools.remove. A photo that is not in the pool (error
    /// 2: a retry whose first reply was lost, or a removal made elsewhere
    /// meanwhile) is already where the call would put it: success.
    pub async fn remove_from_pool(&self, photo: &PhotoId, group: &GroupId) -> Result<()> {
        const M: &str = "flickr.groups.pools.remove";
        let params = vec![p("photo_id", photo), p("group_id", group)];
        match self.rest(M, Verb::Write, params).await {
            Ok(_) | Err(FlickrError::Api { code: 2, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// flickr.photos.getInfo.
    pub async fn photo_info(&self, photo: &PhotoId) -> Result<PhotoInfo> {
        const M: &str = "flickr.photos.getInfo";
        let v = self.rest(M, Verb::Read, vec![p("photo_id", photo)]).await?;
        typed(M, "photo", decode::field(M, &v, "photo")?)
    }

    /// flickr.photos.getSizes: every rendition and its URL.
    pub async fn photo_sizes(&self, photo: &PhotoId) -> Result<Vec<Size>> {
        const M: &str = "flickr.photos.getSizes";
        let v = self.rest(M, Verb::Read, vec![p("photo_id", photo)]).await?;
        let page: Page<Size> = page_of(M, decode::field(M, &v, "sizes")?, "size")?;
        Ok(page.items)
    }

    /// The URL of the original file, from getSizes.
    pub async fn original_url(&self, photo: &PhotoId) -> Result<String> {
        let sizes = self.photo_sizes(photo).await?;
        sizes
            .into_iter()
            .find(|s| s.label == "Original")
            .map(|s| s.source)
            .ok_or_else(|| {
                FlickrError::decode("flickr.photos.getSizes", "no \"Original\" size listed")
            })
    }

    /// flickr.photos.getExif.
    pub async fn photo_exif(&self, photo: &PhotoId) -> Result<Vec<ExifTag>> {
        const M: &str = "flickr.photos.getExif";
        let v = self.rest(M, Verb::Read, vec![p("photo_id", photo)]).await?;
        let page: Page<ExifTag> = page_of(M, decode::field(M, &v, "photo")?, "exif")?;
        Ok(page.items)
    }

    /// flickr.photos.setMeta.
    pub async fn set_meta(&self, photo: &PhotoId, title: &str, description: &str) -> Result<()> {
        const M: &str = "flickr.photos.setMeta";
        let params = vec![
            p("photo_id", photo),
            p("title", title),
            p("description", description),
        ];
        self.rest(M, Verb::Write, params).await.map(drop)
    }

    /// flickr.photos.setTags: replaces all tags (tags with spaces are quoted).
    pub async fn set_tags(&self, photo: &PhotoId, tags: &[String]) -> Result<()> {
        const M: &str = "flickr.photos.setTags";
        let params = vec![p("photo_id", photo), p("tags", quote_tags(tags))];
        self.rest(M, Verb::Write, params).await.map(drop)
    }

    /// flickr.photos.addTags.
    pub async fn add_tags(&self, photo: &PhotoId, tags: &[String]) -> Result<()> {
        const M: &str = "flickr.photos.addTags";
        let params = vec![p("photo_id", photo), p("tags", quote_tags(tags))];
        self.rest(M, Verb::Write, params).await.map(drop)
    }

    /// flickr.photos.setPerms.
    pub async fn set_perms(&self, photo: &PhotoId, visibility: Visibility) -> Result<()> {
        const M: &str = "flickr.photos.setPerms";
        let params = vec![
            p("photo_id", photo),
            p("is_public", flag(visibility.is_public)),
            p("is_friend", flag(visibility.is_friend)),
            p("is_family", flag(visibility.is_family)),
        ];
        self.rest(M, Verb::Write, params).await.map(drop)
    }

    /// flickr.photos.setDates: any of taken (with its granularity) and posted.
    pub async fn set_dates(
        &self,
        photo: &PhotoId,
        taken: Option<(&TakenAt, Granularity)>,
        posted: Option<i64>,
    ) -> Result<()> {
        const M: &str = "flickr.photos.setDates";
        let mut params = vec![p("photo_id", photo)];
        if let Some((t, g)) = taken {
            params.push(p("date_taken", t.as_str()));
            params.push(p("date_taken_granularity", g.code()));
        }
        if let Some(posted) = posted {
            params.push(p("date_posted", posted));
        }
        self.rest(M, Verb::Write, params).await.map(drop)
    }

    /// flickr.photos.upload.checkTickets.
    pub async fn check_tickets(&self, tickets: &[String]) -> Result<Vec<TicketStatus>> {
        const M: &str = "flickr.photos.upload.checkTickets";
        let v = self
            .rest(M, Verb::Read, vec![p("tickets", tickets.join(","))])
            .await?;
        let page: Page<RawTicket> = page_of(M, decode::field(M, &v, "uploader")?, "ticket")?;
        Ok(page.items.into_iter().map(TicketStatus::from).collect())
    }
}

fn join_ids(ids: &[PhotoId]) -> String {
    ids.iter()
        .map(PhotoId::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

/// A user object (`{"id"|"nsid", "username": text, "fullname"?: text}`).
fn identity(method: &str, user: &Value, id_key: &str) -> Result<UserIdentity> {
    let nsid = user
        .get(id_key)
        .or_else(|| user.get("nsid"))
        .or_else(|| user.get("id"))
        .and_then(lenient_text)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| FlickrError::decode(method, "user has no id"))?;
    let text = |k: &str| user.get(k).and_then(lenient_text).unwrap_or_default();
    Ok(UserIdentity {
        nsid: Nsid(nsid),
        username: text("username"),
        fullname: text("fullname"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn identity_reads_wrapped_and_plain_usernames() {
        let u = identity(
            "flickr.test.login",
            &json!({"id": "1@N01", "username": {"_content": "alice"}}),
            "id",
        )
        .unwrap();
        assert_eq!(u.nsid, Nsid::from("1@N01"));
        assert_eq!(u.username, "alice");
        let u = identity(
            "m",
            &json!({"nsid": "2@N01", "username": "bob", "fullname": "Bob B"}),
            "nsid",
        )
        .unwrap();
        assert_eq!((u.username.as_str(), u.fullname.as_str()), ("bob", "Bob B"));
        assert!(identity("m", &json!({"username": "x"}), "id").is_err());
    }

    #[tokio::test]
    async fn all_pages_walks_until_the_last_page_and_drops_repeats() {
        let pages = [vec!["1", "2"], vec!["2", "3"], vec!["4"]];
        let got = all_pages(
            "m",
            |s: &String| s.clone(),
            |n| {
                let items: Vec<String> = pages[(n - 1) as usize]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                async move {
                    Ok(Page {
                        page: n,
                        pages: 3,
                        per_page: 2,
                        total: 5,
                        items,
                    })
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(got, vec!["1", "2", "3", "4"]);
    }
}
