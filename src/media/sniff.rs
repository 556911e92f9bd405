//! Content sniffing: what a file is, judged by its first bytes, never by its name.

use std::io::Read;
use std::path::Path;

use super::error::MediaError;
use super::kind::MediaKind;

/// How many leading bytes [`sniff`] looks at at most.
pub const SNIFF_LEN: usize = 64;

/// The kind of media the leading bytes announce (`NotMedia` for anything
/// else, `Unknown` for no bytes at all).
pub fn sniff(bytes: &[u8]) -> MediaKind {
    let b = bytes;
    if b.is_empty() {
        return MediaKind::Unknown;
    }
    if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return MediaKind::Jpeg;
    }
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return MediaKind::Png;
    }
    if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        return MediaKind::Gif;
    }
    if b.starts_with(b"FUJIFILMCCD-RAW") {
        return MediaKind::Raw;
    }
    if b.starts_with(b"IIRO") || b.starts_with(b"IIRS") || b.starts_with(b"IIU\0") {
        // Olympus ORF, Panasonic RW2.
        return MediaKind::Raw;
    }
    if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
        // Canon CR2 marks itself at offset 8; NEF/ARW/DNG look like TIFF.
        if b.len() >= 10 && &b[8..10] == b"CR" {
            return MediaKind::Raw;
        }
        return MediaKind::Tiff;
    }
    if b.len() >= 12 && b.starts_with(b"RIFF") {
        return match &b[8..12] {
            b"WEBP" => MediaKind::Webp,
            b"AVI " => MediaKind::OtherVideo,
            _ => MediaKind::NotMedia,
        };
    }
    if b.len() >= 12 && &b[4..8] == b"ftyp" {
        return match &b[8..12] {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"hevm" | b"hevs"
            | b"mif1" | b"msf1" | b"avif" | b"avis" => MediaKind::Heif,
            b"qt  " => MediaKind::Mov,
            b"crx " => MediaKind::Raw,
            _ => MediaKind::Mp4,
        };
    }
    if b.len() >= 8 && matches!(&b[4..8], b"moov" | b"mdat" | b"wide" | b"free" | b"pnot") {
        return MediaKind::Mov;
    }
    if b.starts_with(&[0x00, 0x00, 0x01, 0xBA]) || b.starts_with(&[0x00, 0x00, 0x01, 0xB3]) {
        return MediaKind::OtherVideo;
    }
    if b.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return MediaKind::OtherVideo;
    }
    MediaKind::NotMedia
}

/// Reads the first [`SNIFF_LEN`] bytes of `path` and sniffs them.
pub fn sniff_file(path: &Path) -> Result<MediaKind, MediaError> {
    let file = std::fs::File::open(path).map_err(|e| MediaError::io(path, e))?;
    let mut head = Vec::with_capacity(SNIFF_LEN);
    file.take(SNIFF_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| MediaError::io(path, e))?;
    Ok(sniff(&head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 0x18];
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(brand);
        v.extend_from_slice(&[0; 8]);
        v
    }

    #[test]
    fn recognises_images_by_magic() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]), MediaKind::Jpeg);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), MediaKind::Png);
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), MediaKind::Gif);
        assert_eq!(sniff(b"II*\0\x08\0\0\0\0\0"), MediaKind::Tiff);
        assert_eq!(sniff(b"MM\0*\0\0\0\x08"), MediaKind::Tiff);
        assert_eq!(sniff(b"II*\0\x10\0\0\0CR\x02\0"), MediaKind::Raw);
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), MediaKind::Webp);
        assert_eq!(sniff(&ftyp(b"heic")), MediaKind::Heif);
        assert_eq!(sniff(&ftyp(b"avif")), MediaKind::Heif);
    }

    #[test]
    fn recognises_videos() {
        assert_eq!(sniff(&ftyp(b"isom")), MediaKind::Mp4);
        assert_eq!(sniff(&ftyp(b"mp42")), MediaKind::Mp4);
        assert_eq!(sniff(&ftyp(b"qt  ")), MediaKind::Mov);
        assert_eq!(sniff(b"\0\0\0\x08wide\0\0\0\0mdat"), MediaKind::Mov);
        assert_eq!(sniff(b"RIFF\0\0\0\0AVI LIST"), MediaKind::OtherVideo);
        assert_eq!(sniff(&[0x1A, 0x45, 0xDF, 0xA3, 1]), MediaKind::OtherVideo);
    }

    #[test]
    fn judges_bytes_not_names() {
        assert_eq!(sniff(b"hello, this is text"), MediaKind::NotMedia);
        assert_eq!(sniff(b"%PDF-1.7"), MediaKind::NotMedia);
        assert_eq!(sniff(&[0xFF, 0xD8]), MediaKind::NotMedia);
        assert_eq!(sniff(b""), MediaKind::Unknown);
    }

    #[test]
    fn sniff_file_reads_only_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("photo.txt");
        let mut data = vec![0xFF, 0xD8, 0xFF, 0xE0];
        data.resize(100_000, 7);
        std::fs::write(&p, &data).unwrap();
        assert_eq!(sniff_file(&p).unwrap(), MediaKind::Jpeg);
    }
}
