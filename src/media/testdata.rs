//! Small real media generated in memory, for tests and demos: JPEGs with a
//! hand-written EXIF segment (a minimal little-endian TIFF block whose Exif
//! IFD holds DateTimeOriginal).

use std::io::Cursor;

/// A `width`×`height` JPEG whose pixels depend on `seed` (different seeds,
/// different bytes), with an APP1 Exif segment carrying DateTimeOriginal
/// `taken` (EXIF form `YYYY:MM:DD HH:MM:SS`) when given.
pub fn jpeg_with_exif(width: u32, height: u32, taken: Option<&str>, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width.max(1), height.max(1), |x, y| {
        image::Rgb([
            (x as u8).wrapping_mul(3).wrapping_add(seed),
            (y as u8).wrapping_mul(5).wrapping_add(seed.wrapping_mul(7)),
            seed,
        ])
    });
    let mut out = Vec::new();
    if image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .is_err()
    {
        return out;
    }
    match taken {
        Some(t) => super::resize::insert_app1(&out, &exif_app1(t)).unwrap_or(out),
        None => out,
    }
}

/// A complete APP1 segment (`FF E1`, length, `Exif\0\0`, TIFF block) with
/// IFD0 → Exif IFD → DateTimeOriginal = `taken` (truncated/padded to 19 chars).
pub fn exif_app1(taken: &str) -> Vec<u8> {
    let mut date = taken.as_bytes().to_vec();
    date.resize(19, b' ');
    date.push(0);
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II\x2a\x00");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    // IFD0 at 8: one entry, ExifIFDPointer (0x8769, LONG) → 26.
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x8769u16.to_le_bytes());
    tiff.extend_from_slice(&4u16.to_le_bytes());
    tiff.extend_from_slice(&1u32.to_le_bytes());
    tiff.extend_from_slice(&26u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    // Exif IFD at 26: one entry, DateTimeOriginal (0x9003, ASCII, 20) → 44.
    tiff.extend_from_slice(&1u16.to_le_bytes());
    tiff.extend_from_slice(&0x9003u16.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    tiff.extend_from_slice(&20u32.to_le_bytes());
    tiff.extend_from_slice(&44u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(&date);
    let len = (2 + 6 + tiff.len()) as u16;
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&len.to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&tiff);
    seg
}
