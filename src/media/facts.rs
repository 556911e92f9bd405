//! `FileFacts`: everything the catalog records about a local file, gathered in one pass.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::checksum::{sha1_file, Checksum};
use super::error::MediaError;
use super::exif::{read_exif, ExifInfo};
use super::kind::MediaKind;
use super::sniff::sniff_file;

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
    use crate::media::{sha1_bytes, testdata};

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
