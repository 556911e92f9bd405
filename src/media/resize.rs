//! Resize for upload that keeps the original EXIF block: decode, scale to a
//! longest edge, and encode a JPEG that carries the source's Exif data
//! unchanged, so that DateTimeOriginal (and identification by shooting time)
//! survives.
//!
//! Nothing here walks JPEG segments: kamadak-exif finds the source's Exif
//! block (the same reader `exif.rs` identifies photos with, so the block kept
//! is the one whose date identification reads), and the `image` crate's JPEG
//! encoder writes it as the APP1 segment after the JFIF header.

use std::io::Cursor;
use std::path::Path;

use image::imageops::FilterType;
use image::ImageEncoder as _;

use super::error::MediaError;

/// JPEG quality of resized uploads.
const QUALITY: u8 = 90;

/// Writes to `dst` a JPEG of `src` scaled so its longest edge is at most
/// `longest_edge` pixels (never enlarged), carrying `src`'s original Exif
/// block when `src` is a JPEG that has one. Returns the output's (width, height).
///
/// A JPEG already small enough is copied byte for byte.
pub fn resize_keep_exif(
    src: &Path,
    longest_edge: u32,
    dst: &Path,
) -> Result<(u32, u32), MediaError> {
    let bytes = std::fs::read(src).map_err(|e| MediaError::io(src, e))?;
    let img = image::load_from_memory(&bytes).map_err(|e| MediaError::Decode {
        path: src.to_path_buf(),
        message: e.to_string(),
    })?;
    let (w, h) = (img.width(), img.height());
    let edge = longest_edge.max(1);
    let is_jpeg = bytes.starts_with(&[0xFF, 0xD8]);
    if w.max(h) <= edge && is_jpeg {
        std::fs::write(dst, &bytes).map_err(|e| MediaError::io(dst, e))?;
        return Ok((w, h));
    }
    let scaled = if w.max(h) > edge {
        img.resize(edge, edge, FilterType::Lanczos3)
    } else {
        img
    };
    let rgb = scaled.to_rgb8();
    let encode_error = |message: String| MediaError::Encode {
        path: dst.to_path_buf(),
        message,
    };
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY);
    if let Some(exif) = exif_block(&bytes) {
        encoder
            .set_exif_metadata(exif)
            .map_err(|e| encode_error(e.to_string()))?;
    }
    encoder
        .encode_image(&rgb)
        .map_err(|e| encode_error(e.to_string()))?;
    std::fs::write(dst, &out).map_err(|e| MediaError::io(dst, e))?;
    Ok((rgb.width(), rgb.height()))
}

/// The Exif block of a JPEG (the TIFF data that follows `Exif\0\0` in its
/// first APP1 Exif segment), byte for byte and unparsed, if it has one.
pub(crate) fn exif_block(jpeg: &[u8]) -> Option<Vec<u8>> {
    exif::get_exif_attr_from_jpeg(&mut Cursor::new(jpeg)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{read_exif, testdata};

    #[test]
    fn resize_scales_to_the_longest_edge_and_keeps_date_time_original() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("big.jpg");
        let dst = dir.path().join("small.jpg");
        let original = testdata::jpeg_with_exif(400, 300, Some("2019:12:31 23:59:58"), 3);
        std::fs::write(&src, &original).unwrap();
        let (w, h) = resize_keep_exif(&src, 100, &dst).unwrap();
        assert_eq!((w, h), (100, 75));
        let info = read_exif(&dst).unwrap();
        assert_eq!(info.taken_at.unwrap().as_str(), "2019-12-31 23:59:58");
        assert_eq!((info.width, info.height), (Some(100), Some(75)));
        let out = std::fs::read(&dst).unwrap();
        assert_eq!(
            exif_block(&out),
            exif_block(&original),
            "the original Exif block, byte for byte"
        );
        assert!(image::load_from_memory(&out).is_ok());
        // The source is untouched.
        assert_eq!(std::fs::read(&src).unwrap(), original);
    }

    #[test]
    fn a_small_jpeg_is_copied_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("s.jpg");
        let dst = dir.path().join("d.jpg");
        let original = testdata::jpeg_with_exif(50, 20, Some("2020:01:01 00:00:00"), 4);
        std::fs::write(&src, &original).unwrap();
        assert_eq!(resize_keep_exif(&src, 1024, &dst).unwrap(), (50, 20));
        assert_eq!(std::fs::read(&dst).unwrap(), original);
    }

    #[test]
    fn a_png_is_resized_to_jpeg_without_exif() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("p.png");
        let dst = dir.path().join("p.jpg");
        image::RgbImage::from_fn(64, 128, |x, y| image::Rgb([x as u8, y as u8, 7]))
            .save(&src)
            .unwrap();
        assert_eq!(resize_keep_exif(&src, 32, &dst).unwrap(), (16, 32));
        let out = std::fs::read(&dst).unwrap();
        assert!(out.starts_with(&[0xFF, 0xD8]));
        assert!(exif_block(&out).is_none());
    }

    #[test]
    fn undecodable_input_is_a_decode_error() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("x.jpg");
        std::fs::write(&src, b"not an image").unwrap();
        let err = resize_keep_exif(&src, 100, &dir.path().join("y.jpg")).unwrap_err();
        assert!(matches!(err, MediaError::Decode { .. }), "{err}");
    }

    #[test]
    fn a_large_jpeg_without_exif_is_resized_without_exif() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("n.jpg");
        let dst = dir.path().join("m.jpg");
        std::fs::write(&src, testdata::jpeg_with_exif(90, 60, None, 6)).unwrap();
        assert_eq!(resize_keep_exif(&src, 30, &dst).unwrap(), (30, 20));
        let out = std::fs::read(&dst).unwrap();
        assert!(exif_block(&out).is_none());
        assert_eq!(read_exif(&dst).unwrap().taken_at, None);
    }

    #[test]
    fn the_exif_segment_follows_the_jfif_header() {
        // Where the hand-written splice put it: SOI, APP0 (JFIF), APP1 (Exif).
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("big.jpg");
        let dst = dir.path().join("small.jpg");
        let original = testdata::jpeg_with_exif(64, 64, Some("2003:03:03 03:03:03"), 8);
        std::fs::write(&src, &original).unwrap();
        resize_keep_exif(&src, 16, &dst).unwrap();
        let out = std::fs::read(&dst).unwrap();
        assert_eq!(&out[..4], &[0xFF, 0xD8, 0xFF, 0xE0]);
        let app0_len = u16::from_be_bytes([out[4], out[5]]) as usize;
        let app1 = &out[4 + app0_len..];
        assert_eq!(&app1[..2], &[0xFF, 0xE1]);
        assert_eq!(&app1[4..10], b"Exif\0\0");
    }
}
