//! Resize for upload that keeps the original EXIF block: decode, scale to a
//! longest edge, encode JPEG, and splice the source's APP1 Exif segment back in
//! so that DateTimeOriginal (and identification by shooting time) survives.

use std::path::Path;

use image::imageops::FilterType;

use super::MediaError;

/// JPEG quality of resized uploads.
const QUALITY: u8 = 90;

/// Writes to `dst` a JPEG of `src` scaled so its longest edge is at most
/// `longest_edge` pixels (never enlarged), carrying `src`'s original APP1 Exif
/// segment when it has one. Returns the output's (width, height).
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
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode_image(&rgb)
        .map_err(|e| MediaError::Encode {
            path: dst.to_path_buf(),
            message: e.to_string(),
        })?;
    let out = match exif_segment(&bytes) {
        Some(seg) => insert_app1(&out, seg).map_err(|message| MediaError::NotJpeg {
            path: dst.to_path_buf(),
            message,
        })?,
        None => out,
    };
    std::fs::write(dst, &out).map_err(|e| MediaError::io(dst, e))?;
    Ok((rgb.width(), rgb.height()))
}

/// The whole APP1 Exif segment of a JPEG (marker `FF E1`, length, `Exif\0\0`
/// and the TIFF block), if it has one before the image data.
pub(crate) fn exif_segment(jpeg: &[u8]) -> Option<&[u8]> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        if marker == 0xFF {
            i += 1; // fill byte
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            return None; // start of scan / end of image
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        if len < 2 || i + 2 + len > jpeg.len() {
            return None;
        }
        let seg = &jpeg[i..i + 2 + len];
        if marker == 0xE1 && seg.len() >= 10 && &seg[4..10] == b"Exif\0\0" {
            return Some(seg);
        }
        i += 2 + len;
    }
    None
}

/// `jpeg` with `segment` (a complete APP1 segment) inserted after SOI and any
/// APP0 (JFIF) segment; any APP1 Exif segment `jpeg` already had is dropped.
pub(crate) fn insert_app1(jpeg: &[u8], segment: &[u8]) -> Result<Vec<u8>, String> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err("no SOI marker".into());
    }
    let mut out = Vec::with_capacity(jpeg.len() + segment.len());
    out.extend_from_slice(&jpeg[..2]);
    let mut i = 2;
    let mut inserted = false;
    while i + 4 <= jpeg.len() && jpeg[i] == 0xFF {
        let marker = jpeg[i + 1];
        if marker == 0xDA || !(0xE0..=0xEF).contains(&marker) && marker != 0xFE {
            break;
        }
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        if len < 2 || i + 2 + len > jpeg.len() {
            return Err(format!("truncated segment at byte {i}"));
        }
        let seg = &jpeg[i..i + 2 + len];
        let is_exif = marker == 0xE1 && seg.len() >= 10 && &seg[4..10] == b"Exif\0\0";
        if marker != 0xE0 && !inserted {
            out.extend_from_slice(segment);
            inserted = true;
        }
        if !is_exif {
            out.extend_from_slice(seg);
        }
        i += 2 + len;
    }
    if !inserted {
        out.extend_from_slice(segment);
    }
    out.extend_from_slice(&jpeg[i..]);
    Ok(out)
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
            exif_segment(&out),
            exif_segment(&original),
            "the original APP1 segment, byte for byte"
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
        assert!(exif_segment(&out).is_none());
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
    fn insert_app1_replaces_an_existing_exif_segment() {
        let a = testdata::jpeg_with_exif(8, 8, Some("2001:01:01 01:01:01"), 5);
        let b = testdata::jpeg_with_exif(8, 8, Some("2002:02:02 02:02:02"), 5);
        let seg_b = exif_segment(&b).unwrap().to_vec();
        let spliced = insert_app1(&a, &seg_b).unwrap();
        assert_eq!(exif_segment(&spliced).unwrap(), &seg_b[..]);
        assert_eq!(
            crate::media::read_exif_bytes(&spliced)
                .taken_at
                .unwrap()
                .as_str(),
            "2002-02-02 02:02:02"
        );
    }
}
