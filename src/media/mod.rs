//! Media helpers shared by the catalog, the mount and the sync: content
//! checksums, content sniffing, EXIF facts (shooting time, pixel size), the
//! junk-name rule, and a resize that keeps the original EXIF block.
//!
//! Nothing here knows about the catalog, FUSE or Flickr; every function works
//! on bytes or on a path and never modifies its input.

mod checksum;
mod exif;
mod junk;
mod resize;
mod sniff;
pub mod testdata;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::TakenAt;

pub use checksum::{sha1_bytes, sha1_file};
pub use exif::{read_exif, read_exif_bytes};
pub use junk::is_junk_name;
pub use resize::resize_keep_exif;
pub use sniff::{sniff, sniff_file, SNIFF_LEN};

/// Errors of the media helpers, each with the path it concerns.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("decoding image {path}: {message}")]
    Decode { path: PathBuf, message: String },
    #[error("encoding image {path}: {message}")]
    Encode { path: PathBuf, message: String },
}

impl MediaError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        MediaError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A SHA-1 content checksum as 40 lowercase hex digits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Checksum(pub String);

impl Checksum {
    /// The checksum of zero bytes (`da39a3ee...`): empty files share it, so it
    /// never identifies a photo.
    pub const EMPTY: &'static str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

    /// Accepts 40 hex digits (any case); returns it lowercased.
    pub fn parse(s: &str) -> Option<Checksum> {
        let s = s.trim();
        (s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Checksum(s.to_ascii_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// True for the checksum of an empty file.
    pub fn is_empty_content(&self) -> bool {
        self.0 == Self::EMPTY
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a file's first bytes say it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Jpeg,
    Png,
    Gif,
    Tiff,
    Webp,
    /// HEIC/HEIF/AVIF (ISO base media with an image brand).
    Heif,
    /// A camera raw format recognised by its header (CR2, CR3, NEF/ARW are TIFF-like, RAF, ORF, RW2...).
    Raw,
    /// MP4 / M4V / 3GP (ISO base media with a video brand).
    Mp4,
    /// QuickTime `.mov`.
    Mov,
    /// Other video containers Flickr accepts (AVI, MPEG, Matroska/WebM...).
    OtherVideo,
    /// Bytes that are not a photo or video Flickr accepts.
    NotMedia,
    /// Not known yet: an empty file, or one still being written.
    #[default]
    Unknown,
}

impl MediaKind {
    /// Flickr accepts it as a photo or video.
    pub fn is_media(self) -> bool {
        !matches!(self, MediaKind::NotMedia | MediaKind::Unknown)
    }
    /// A video (Flickr will not give its original back through the API).
    pub fn is_video(self) -> bool {
        matches!(
            self,
            MediaKind::Mp4 | MediaKind::Mov | MediaKind::OtherVideo
        )
    }
    /// The `image` crate can decode it (so resize is possible).
    pub fn is_decodable_image(self) -> bool {
        matches!(self, MediaKind::Jpeg | MediaKind::Png | MediaKind::Gif)
    }
    /// The usual file extension, without the dot (`None` when unknown).
    pub fn extension(self) -> Option<&'static str> {
        Some(match self {
            MediaKind::Jpeg => "jpg",
            MediaKind::Png => "png",
            MediaKind::Gif => "gif",
            MediaKind::Tiff => "tif",
            MediaKind::Webp => "webp",
            MediaKind::Heif => "heic",
            MediaKind::Mp4 => "mp4",
            MediaKind::Mov => "mov",
            MediaKind::Raw | MediaKind::OtherVideo | MediaKind::NotMedia | MediaKind::Unknown => {
                return None
            }
        })
    }
    /// Stable lowercase text, as stored in the catalog.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Jpeg => "jpeg",
            MediaKind::Png => "png",
            MediaKind::Gif => "gif",
            MediaKind::Tiff => "tiff",
            MediaKind::Webp => "webp",
            MediaKind::Heif => "heif",
            MediaKind::Raw => "raw",
            MediaKind::Mp4 => "mp4",
            MediaKind::Mov => "mov",
            MediaKind::OtherVideo => "othervideo",
            MediaKind::NotMedia => "notmedia",
            MediaKind::Unknown => "unknown",
        }
    }
    /// Inverse of [`MediaKind::as_str`]; unknown text gives `Unknown`.
    pub fn from_str_lossy(s: &str) -> MediaKind {
        match s {
            "jpeg" => MediaKind::Jpeg,
            "png" => MediaKind::Png,
            "gif" => MediaKind::Gif,
            "tiff" => MediaKind::Tiff,
            "webp" => MediaKind::Webp,
            "heif" => MediaKind::Heif,
            "raw" => MediaKind::Raw,
            "mp4" => MediaKind::Mp4,
            "mov" => MediaKind::Mov,
            "othervideo" => MediaKind::OtherVideo,
            "notmedia" => MediaKind::NotMedia,
            _ => MediaKind::Unknown,
        }
    }
}

/// Facts read from a file's header: shooting time and pixel size.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExifInfo {
    /// EXIF DateTimeOriginal (or DateTimeDigitized, then DateTime).
    pub taken_at: Option<TakenAt>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// Everything the catalog records about a local file, gathered in one pass
/// by [`FileFacts::scan`] (or supplied by a caller that already knows them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    pub size: u64,
    /// Modification time in nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
    pub checksum: Checksum,
    pub kind: MediaKind,
    pub exif: ExifInfo,
}

impl FileFacts {
    /// Stats, checksums, sniffs and reads the EXIF header of `path`
    /// (following symlinks). Reads the file once for the checksum and its
    /// head once more for the kind and EXIF.
    pub fn scan(path: &Path) -> Result<FileFacts, MediaError> {
        let meta = std::fs::metadata(path).map_err(|e| MediaError::io(path, e))?;
        let checksum = sha1_file(path)?;
        let kind = sniff_file(path)?;
        let exif = if kind.is_media() {
            read_exif(path)?
        } else {
            ExifInfo::default()
        };
        Ok(FileFacts {
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
            checksum,
            kind,
            exif,
        })
    }
}

/// A file's modification time in nanoseconds since the Unix epoch.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt;
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_gathers_size_checksum_kind_and_exif() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.bin");
        let bytes = testdata::jpeg_with_exif(20, 10, Some("2000:02:29 12:00:00"), 9);
        std::fs::write(&p, &bytes).unwrap();
        let f = FileFacts::scan(&p).unwrap();
        assert_eq!(f.size, bytes.len() as u64);
        assert_eq!(f.checksum, sha1_bytes(&bytes));
        assert_eq!(f.kind, MediaKind::Jpeg);
        assert_eq!(f.exif.taken_at.unwrap().as_str(), "2000-02-29 12:00:00");
        assert_eq!((f.exif.width, f.exif.height), (Some(20), Some(10)));
        assert!(f.mtime_ns > 0);
    }

    #[test]
    fn kinds_round_trip_through_text() {
        for k in [
            MediaKind::Jpeg,
            MediaKind::Png,
            MediaKind::Gif,
            MediaKind::Tiff,
            MediaKind::Webp,
            MediaKind::Heif,
            MediaKind::Raw,
            MediaKind::Mp4,
            MediaKind::Mov,
            MediaKind::OtherVideo,
            MediaKind::NotMedia,
            MediaKind::Unknown,
        ] {
            assert_eq!(MediaKind::from_str_lossy(k.as_str()), k);
        }
        assert!(Checksum::parse("A9993E364706816ABA3E25717850C26C9CD0D89D").is_some());
        assert!(Checksum::parse("xyz").is_none());
    }
}
