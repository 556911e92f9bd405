//! EXIF facts from a file's header: the shooting time and the pixel size,
//! without decoding the image.

use std::io::{BufReader, Cursor, Read, Seek};
use std::path::Path;

use exif::{In, Tag, Value};
use serde::{Deserialize, Serialize};

use super::error::MediaError;
use super::kind::MediaKind;
use super::sniff::{sniff, SNIFF_LEN};
use crate::model::TakenAt;

/// Facts read from a file's header: shooting time and pixel size.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ExifInfo {
    /// EXIF DateTimeOriginal (or DateTimeDigitized, then DateTime).
    pub taken_at: Option<TakenAt>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// TIFF-like files keep their IFDs near the start; read at most this much of them.
const TIFF_HEAD: u64 = 4 * 1024 * 1024;

/// Reads the shooting time and pixel size of `path` from its header only.
/// A file with no EXIF (or not an image) gives an `ExifInfo` with `None`s;
/// only I/O failures are errors.
pub fn read_exif(path: &Path) -> Result<ExifInfo, MediaError> {
    let file = std::fs::File::open(path).map_err(|e| MediaError::io(path, e))?;
    let mut reader = BufReader::new(file);
    let mut head = Vec::with_capacity(SNIFF_LEN);
    (&mut reader)
        .take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| MediaError::io(path, e))?;
    let kind = sniff(&head);
    reader
        .seek(std::io::SeekFrom::Start(0))
        .map_err(|e| MediaError::io(path, e))?;
    let exif = match kind {
        MediaKind::Tiff | MediaKind::Raw => {
            let mut buf = Vec::new();
            (&mut reader)
                .take(TIFF_HEAD)
                .read_to_end(&mut buf)
                .map_err(|e| MediaError::io(path, e))?;
            exif::Reader::new().read_raw(buf).ok()
        }
        MediaKind::Jpeg | MediaKind::Png | MediaKind::Webp | MediaKind::Heif => {
            exif::Reader::new().read_from_container(&mut reader).ok()
        }
        _ => None,
    };
    let mut info = facts_from(exif.as_ref());
    if kind.is_decodable_image() || kind == MediaKind::Webp {
        if let Ok(dims) = image::ImageReader::open(path)
            .and_then(|r| r.with_guessed_format())
            .map_err(|_| ())
            .and_then(|r| r.into_dimensions().map_err(|_| ()))
        {
            info.width = Some(dims.0);
            info.height = Some(dims.1);
        }
    }
    Ok(info)
}

/// Like [`read_exif`] for bytes in memory.
pub fn read_exif_bytes(bytes: &[u8]) -> ExifInfo {
    let kind = sniff(&bytes[..bytes.len().min(SNIFF_LEN)]);
    let exif = match kind {
        MediaKind::Tiff | MediaKind::Raw => exif::Reader::new().read_raw(bytes.to_vec()).ok(),
        MediaKind::Jpeg | MediaKind::Png | MediaKind::Webp | MediaKind::Heif => exif::Reader::new()
            .read_from_container(&mut Cursor::new(bytes))
            .ok(),
        _ => None,
    };
    let mut info = facts_from(exif.as_ref());
    if kind.is_decodable_image() {
        if let Ok(dims) = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|_| ())
            .and_then(|r| r.into_dimensions().map_err(|_| ()))
        {
            info.width = Some(dims.0);
            info.height = Some(dims.1);
        }
    }
    info
}

fn facts_from(exif: Option<&exif::Exif>) -> ExifInfo {
    let Some(exif) = exif else {
        return ExifInfo::default();
    };
    let taken_at = [Tag::DateTimeOriginal, Tag::DateTimeDigitized, Tag::DateTime]
        .into_iter()
        .find_map(|tag| {
            let field = exif.get_field(tag, In::PRIMARY)?;
            match &field.value {
                Value::Ascii(parts) => parts
                    .first()
                    .and_then(|p| std::str::from_utf8(p).ok())
                    .and_then(TakenAt::parse)
                    .filter(|t| !t.as_str().starts_with("0000")),
                _ => None,
            }
        });
    let dim = |tags: [Tag; 2]| {
        tags.into_iter().find_map(|tag| {
            exif.get_field(tag, In::PRIMARY)
                .and_then(|f| f.value.get_uint(0))
                .filter(|&v| v > 0)
        })
    };
    ExifInfo {
        taken_at,
        width: dim([Tag::PixelXDimension, Tag::ImageWidth]),
        height: dim([Tag::PixelYDimension, Tag::ImageLength]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::testdata;

    #[test]
    fn reads_date_time_original_and_header_size_of_a_jpeg() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jpg");
        std::fs::write(
            &p,
            testdata::jpeg_with_exif(40, 30, Some("2021:07:04 18:30:01"), 1),
        )
        .unwrap();
        let info = read_exif(&p).unwrap();
        assert_eq!(info.taken_at.unwrap().as_str(), "2021-07-04 18:30:01");
        assert_eq!((info.width, info.height), (Some(40), Some(30)));
    }

    #[test]
    fn a_jpeg_without_exif_still_has_its_size() {
        let bytes = testdata::jpeg_with_exif(16, 9, None, 2);
        let info = read_exif_bytes(&bytes);
        assert_eq!(info.taken_at, None);
        assert_eq!((info.width, info.height), (Some(16), Some(9)));
    }

    #[test]
    fn non_images_give_no_facts_and_no_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.jpg");
        std::fs::write(&p, b"just some text").unwrap();
        assert_eq!(read_exif(&p).unwrap(), ExifInfo::default());
        assert!(read_exif(&dir.path().join("absent.jpg")).is_err());
    }
}
