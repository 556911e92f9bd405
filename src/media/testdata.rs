//! Small real media generated in memory, for tests, demos and the emulator's
//! seeded photos: JPEGs whose Exif block, written with kamadak-exif's writer,
//! holds the shooting time and, when asked, the camera.
//!
//! The one EXIF writer of the crate. The emulator builds its photos with it:
//! this is media test data, not a type of the Flickr client, so the emulator
//! still shares nothing with `flickr`.

use std::io::Cursor;

use exif::experimental::Writer;
use exif::{Field, In, Tag, Value};
use image::ImageEncoder as _;

/// The camera a generated photo names in IFD0 (Make and Model).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Camera<'a> {
    pub make: &'a str,
    pub model: &'a str,
}

/// A `width`×`height` JPEG whose pixels depend on `seed` (different seeds,
/// different bytes), with an Exif block carrying DateTimeOriginal `taken`
/// (EXIF form `YYYY:MM:DD HH:MM:SS`) when given.
pub fn jpeg_with_exif(width: u32, height: u32, taken: Option<&str>, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width.max(1), height.max(1), |x, y| {
        image::Rgb([
            (x as u8).wrapping_mul(3).wrapping_add(seed),
            (y as u8).wrapping_mul(5).wrapping_add(seed.wrapping_mul(7)),
            seed,
        ])
    });
    let mut out = Vec::new();
    // `new` keeps quality 75, the one these test photos were always encoded with.
    let mut encoder = image::codecs::jpeg::JpegEncoder::new(&mut out);
    if let Some(t) = taken {
        // The JPEG encoder takes Exif data; the error is for formats that do not.
        if encoder.set_exif_metadata(exif_block(t, None)).is_err() {
            return Vec::new();
        }
    }
    if img.write_with_encoder(encoder).is_err() {
        return Vec::new();
    }
    out
}

/// An Exif block (the TIFF data a JPEG's APP1 segment carries after
/// `Exif\0\0`): IFD0 with Make and Model when `camera` is given, and an Exif
/// IFD with DateTimeOriginal and DateTimeDigitized = `taken`, given in EXIF's
/// form `YYYY:MM:DD HH:MM:SS` or as `YYYY-MM-DD HH:MM:SS`.
pub fn exif_block(taken: &str, camera: Option<Camera<'_>>) -> Vec<u8> {
    let ascii = |tag: Tag, text: &str| Field {
        tag,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![text.as_bytes().to_vec()]),
    };
    let date = taken.replacen('-', ":", 2);
    let mut fields = vec![
        ascii(Tag::DateTimeOriginal, &date),
        ascii(Tag::DateTimeDigitized, &date),
    ];
    if let Some(c) = camera {
        fields.push(ascii(Tag::Make, c.make));
        fields.push(ascii(Tag::Model, c.model));
    }
    let mut writer = Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut tiff = Cursor::new(Vec::new());
    // Writing ASCII fields to memory cannot fail; an empty block would read
    // as "no EXIF", which a test would notice.
    if writer.write(&mut tiff, false).is_err() {
        return Vec::new();
    }
    tiff.into_inner()
}

/// A complete JPEG APP1 segment (`FF E1`, length, `Exif\0\0`, then
/// [`exif_block`]), for splicing into a JPEG that is already encoded.
pub fn exif_app1(taken: &str, camera: Option<Camera<'_>>) -> Vec<u8> {
    let tiff = exif_block(taken, camera);
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&((2 + 6 + tiff.len()) as u16).to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(jpeg: &[u8]) -> exif::Exif {
        exif::Reader::new()
            .read_from_container(&mut Cursor::new(jpeg))
            .unwrap()
    }

    fn ascii(exif: &exif::Exif, tag: Tag) -> Option<String> {
        match &exif.get_field(tag, In::PRIMARY)?.value {
            Value::Ascii(v) => Some(String::from_utf8_lossy(&v[0]).into_owned()),
            _ => None,
        }
    }

    #[test]
    fn a_generated_jpeg_carries_its_shooting_time_and_decodes() {
        let jpeg = jpeg_with_exif(40, 30, Some("2021:07:04 18:30:01"), 1);
        let exif = read(&jpeg);
        assert_eq!(
            ascii(&exif, Tag::DateTimeOriginal).as_deref(),
            Some("2021:07:04 18:30:01")
        );
        assert_eq!(ascii(&exif, Tag::Make), None);
        let img = image::load_from_memory(&jpeg).unwrap();
        assert_eq!((img.width(), img.height()), (40, 30));
        assert_ne!(jpeg, jpeg_with_exif(40, 30, Some("2021:07:04 18:30:01"), 2));
    }

    #[test]
    fn the_block_names_the_camera_and_takes_either_date_form() {
        let camera = Camera {
            make: "flickrfs",
            model: "Test Camera",
        };
        let block = exif_block("2023-07-14 20:41:07", Some(camera));
        let exif = exif::Reader::new().read_raw(block).unwrap();
        for tag in [Tag::DateTimeOriginal, Tag::DateTimeDigitized] {
            assert_eq!(
                ascii(&exif, tag).as_deref(),
                Some("2023:07:14 20:41:07"),
                "{tag}"
            );
        }
        assert_eq!(ascii(&exif, Tag::Make).as_deref(), Some("flickrfs"));
        assert_eq!(ascii(&exif, Tag::Model).as_deref(), Some("Test Camera"));
    }

    #[test]
    fn the_app1_segment_frames_the_block() {
        let seg = exif_app1("2020:01:01 00:00:00", None);
        let block = exif_block("2020:01:01 00:00:00", None);
        assert_eq!(&seg[..2], &[0xFF, 0xE1]);
        assert_eq!(u16::from_be_bytes([seg[2], seg[3]]) as usize, seg.len() - 2);
        assert_eq!(&seg[4..10], b"Exif\0\0");
        assert_eq!(&seg[10..], &block[..]);
    }
}
