//! Bringing one original down from Flickr into the default folder: a
//! subfolder per (first) set, the title as name (the photo id added when a
//! different file has that name), through a temporary file, fsync and
//! rename (`Client::download_to`), journaled, then recorded as the photo's
//! file. The sync's downloads and the mount's photos on demand
//! ([`fetch_on_demand`]) both come here.

use std::path::{Path, PathBuf};

use crate::catalog::{names, AccountId, Catalog, CollectionKind, Intent, PhotoKey, ProblemKind};
use crate::flickr::{Client, DownloadWatch, FlickrError};
use crate::model::PhotoId;

use super::error::ExecError;

/// What to download and where.
pub struct Original<'a> {
    pub photo: &'a PhotoId,
    /// The catalog record that gets the file.
    pub into: PhotoKey,
    /// `url_o` when the listing gave it; else asked for (`getSizes`).
    pub url: Option<String>,
    /// `jpg`, `png`... (Flickr's `originalformat`).
    pub ext: String,
    pub title: String,
    /// The title of the set whose subfolder it goes in, if any.
    pub set_title: Option<String>,
    /// Told how the download goes (photos on demand read it as it comes).
    pub watch: Option<&'a dyn DownloadWatch>,
}

/// Downloads `o` into `default_folder` and records it; returns its path.
pub async fn download_original(
    cat: &Catalog,
    client: &Client,
    account: AccountId,
    default_folder: &Path,
    o: Original<'_>,
) -> Result<PathBuf, ExecError> {
    let url = match o.url {
        Some(u) => u,
        None => {
            let sizes = client.photo_sizes(o.photo).await?;
            match sizes.iter().find(|s| s.label == "Original") {
                Some(s) => s.source.clone(),
                None => return Err(original_not_served(cat, account, &o, &sizes)?),
            }
        }
    };
    let mut dir = default_folder.to_path_buf();
    if let Some(set) = &o.set_title {
        dir.push(names::sanitize_title(set).unwrap_or_else(|| o.photo.to_string()));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| ExecError::Inconsistent(format!("creating {}: {e}", dir.display())))?;
    let name = names::name_for_title(&o.title, Some(&o.ext), o.photo.as_str());
    let mut dest = dir.join(name.as_str());
    let journal = cat.journal_begin(
        account,
        &Intent::DownloadStarted {
            id: o.photo.clone(),
            dest: dest.clone(),
        },
    )?;
    match client.download_watched(&url, &dest, o.watch).await {
        Err(FlickrError::DestinationExists { .. }) => {
            dest = dir.join(names::with_suffix(&name, o.photo.as_str()).as_str());
            client.download_watched(&url, &dest, o.watch).await?;
        }
        other => {
            other?;
        }
    }
    // reading the file again (checksum, kind, EXIF) is blocking work: off
    // the runtime, so that the other transfers in flight go on meanwhile
    let facts = {
        let dest = dest.clone();
        tokio::task::spawn_blocking(move || crate::media::FileFacts::scan(&dest))
            .await
            .map_err(|e| ExecError::Inconsistent(format!("scanning a download: {e}")))??
    };
    cat.set_local_file(o.into, &dest, &facts)?;
    cat.journal_finish(journal)?;
    Ok(dest)
}

/// Flickr lists sizes of the photo but not its original: a free account
/// is served nothing over 1,024 px since 2025. The largest size served is
/// never stored in place of the original: the photo is reported (once as
/// a status problem, and as this sync's failed item) and left to be
/// downloaded by hand.
fn original_not_served(
    cat: &Catalog,
    account: AccountId,
    o: &Original<'_>,
    sizes: &[crate::flickr::Size],
) -> Result<ExecError, ExecError> {
    let largest = sizes
        .iter()
        .map(|s| s.width.max(s.height))
        .max()
        .unwrap_or(0);
    let message = format!(
        "photo {} {:?}: Flickr does not serve its original (a free account is served nothing over \
         1,024 px; the largest size listed is {largest} px); not stored as a reduced copy: \
         download it by hand from Flickr",
        o.photo, o.title
    );
    let known = cat
        .problems(Some(account))?
        .into_iter()
        .any(|p| p.kind == ProblemKind::DownloadByHand && p.photo == Some(o.into));
    if !known {
        cat.add_problem(account, Some(o.into), ProblemKind::DownloadByHand, &message)?;
    }
    Ok(ExecError::Inconsistent(message))
}

/// The mount opened `photo`, which is on Flickr and not on disk: its
/// original comes down now, as a sync would bring it, into the default
/// folder of its account (`default_folder`).
pub async fn fetch_on_demand(
    cat: &Catalog,
    client: &Client,
    photo: PhotoKey,
    default_folder: &Path,
    watch: &dyn DownloadWatch,
) -> Result<PathBuf, ExecError> {
    let p = cat.photo(photo)?;
    if let Some(l) = p.local.as_ref().filter(|l| !l.missing) {
        return Ok(l.path.clone());
    }
    let r = p
        .remote
        .as_ref()
        .ok_or_else(|| ExecError::Inconsistent(format!("'{}' is not on Flickr", p.meta.title)))?;
    if r.media_video {
        return Err(ExecError::Inconsistent(format!(
            "'{}' is a video: Flickr gives no video original through the API; download it by hand",
            p.meta.title
        )));
    }
    let set_title = cat
        .memberships(photo)?
        .into_iter()
        .filter_map(|c| cat.collection(c).ok())
        .find(|c| matches!(c.kind, CollectionKind::Photoset(_)))
        .map(|c| c.title);
    download_original(
        cat,
        client,
        p.account,
        default_folder,
        Original {
            photo: &r.id,
            into: photo,
            url: r.url_original.clone(),
            ext: r.original_format.clone().unwrap_or_else(|| "jpg".into()),
            title: r.title.clone(),
            set_title,
            watch: Some(watch),
        },
    )
    .await
}
