//! Streaming SHA-1 of files and byte slices, as lowercase hex.

use std::io::Read;
use std::path::Path;

use sha1::{Digest, Sha1};

use serde::{Deserialize, Serialize};

use super::error::MediaError;

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

    /// The machine-tag namespace and predicate flickrfs uses to carry a
    /// checksum to Flickr.
    pub const MACHINE_TAG_PREFIX: &'static str = "flickrfs:sha1=";

    /// `flickrfs:sha1=<hex>`.
    pub fn machine_tag(&self) -> String {
        format!("{}{}", Self::MACHINE_TAG_PREFIX, self.0)
    }

    /// Reads a checksum back from one machine tag (Flickr lower-cases tags
    /// and may quote the value).
    pub fn from_machine_tag(tag: &str) -> Option<Checksum> {
        let tag = tag.trim();
        let lower = tag.to_ascii_lowercase();
        let rest = lower.strip_prefix(Self::MACHINE_TAG_PREFIX)?;
        Checksum::parse(rest.trim_matches('"'))
    }

    /// The first flickrfs checksum among Flickr's space-separated
    /// `machine_tags` extra.
    pub fn from_machine_tags(tags: &str) -> Option<Checksum> {
        tags.split_whitespace().find_map(Checksum::from_machine_tag)
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

const BLOCK: usize = 256 * 1024;

/// The SHA-1 of a file's bytes, read in 256 KiB blocks (memory stays flat
/// whatever the size).
pub fn sha1_file(path: &Path) -> Result<Checksum, MediaError> {
    let mut file = std::fs::File::open(path).map_err(|e| MediaError::io(path, e))?;
    let mut hasher = Sha1::new();
    let mut buf = vec![0u8; BLOCK];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(MediaError::io(path, e)),
        };
        hasher.update(&buf[..n]);
    }
    Ok(to_hex(&hasher.finalize()))
}

/// The SHA-1 of bytes already in memory.
pub fn sha1_bytes(bytes: &[u8]) -> Checksum {
    to_hex(&Sha1::digest(bytes))
}

fn to_hex(digest: &[u8]) -> Checksum {
    use std::fmt::Write;
    let mut s = String::with_capacity(40);
    for b in digest {
        let _ = write!(s, "{b:02x}");
    }
    Checksum(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(sha1_bytes(b"").as_str(), Checksum::EMPTY);
        assert_eq!(
            sha1_bytes(b"abc").as_str(),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn file_checksum_equals_bytes_checksum_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.bin");
        let data: Vec<u8> = (0..(BLOCK * 2 + 17))
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        std::fs::write(&p, &data).unwrap();
        assert_eq!(sha1_file(&p).unwrap(), sha1_bytes(&data));
    }

    #[test]
    fn missing_file_is_an_io_error_naming_the_path() {
        let err = sha1_file(Path::new("/nonexistent/x.jpg")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.jpg"));
    }
}
