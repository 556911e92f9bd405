//! `MediaKind`: what a file's first bytes say it is, and its stable text.

use serde::{Deserialize, Serialize};

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
