//! The freedesktop.org thumbnail cache, filled from Flickr's own small
//! sizes: a file manager opening a folder of photos that are on Flickr but
//! not downloaded yet shows their thumbnails without fetching an original.
//!
//! As the Thumbnail Managing Standard says: `$XDG_CACHE_HOME/thumbnails/`
//! `normal/` (at most 128 px) and `large/` (at most 256 px), each thumbnail
//! a PNG named by the MD5 of the file's URI, carrying `Thumb::URI` and
//! `Thumb::MTime` (the file's mtime as `stat` shows it through the mount),
//! written to a temporary file and renamed, folders 0700 and files 0600.
//! A thumbnail whose `Thumb::MTime` no longer matches is made again.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

/// The two sizes of the standard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThumbSize {
    Normal,
    Large,
}

impl ThumbSize {
    pub const ALL: [ThumbSize; 2] = [ThumbSize::Normal, ThumbSize::Large];

    pub fn pixels(self) -> u32 {
        match self {
            ThumbSize::Normal => 128,
            ThumbSize::Large => 256,
        }
    }

    fn dir(self) -> &'static str {
        match self {
            ThumbSize::Normal => "normal",
            ThumbSize::Large => "large",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ThumbError {
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("decoding Flickr's small image: {0}")]
    Decode(String),
    #[error("encoding a thumbnail: {0}")]
    Encode(String),
}

/// `$XDG_CACHE_HOME/thumbnails`, or `~/.cache/thumbnails`.
pub fn cache_root(home: &Path) -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(".cache"))
        .join("thumbnails")
}

/// The `file://` URI of `path` as GLib writes it (`g_filename_to_uri`):
/// bytes outside ASCII letters, digits and `!$&'()*+,-./:=@_~` escaped as
/// `%XX`. The thumbnail's name is the MD5 of exactly this string, so it
/// must match what the file manager computes.
pub fn file_uri(path: &Path) -> String {
    let mut out = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"!$&'()*+,-./:=@_~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where the thumbnail of `uri` at `size` lives.
pub fn thumb_path(root: &Path, size: ThumbSize, uri: &str) -> PathBuf {
    let digest = Md5::digest(uri.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    root.join(size.dir()).join(format!("{hex}.png"))
}

/// Whether a thumbnail of `uri` at `size` exists for the file as it is
/// now (its `Thumb::URI` and `Thumb::MTime` match).
pub fn is_fresh(root: &Path, size: ThumbSize, uri: &str, mtime: i64) -> bool {
    let Ok(file) = std::fs::File::open(thumb_path(root, size, uri)) else {
        return false;
    };
    let Ok(reader) = png::Decoder::new(std::io::BufReader::new(file)).read_info() else {
        return false;
    };
    let text = &reader.info().uncompressed_latin1_text;
    let key = |k: &str| text.iter().find(|t| t.keyword == k).map(|t| t.text.clone());
    key("Thumb::URI").as_deref() == Some(uri)
        && key("Thumb::MTime").as_deref() == Some(mtime.to_string().as_str())
}

/// Writes the thumbnails (both sizes) of the file at `uri`, last modified
/// at `mtime` (seconds), from `image` (Flickr's small JPEG).
pub fn write(root: &Path, uri: &str, mtime: i64, image: &[u8]) -> Result<(), ThumbError> {
    let img = image::load_from_memory(image).map_err(|e| ThumbError::Decode(e.to_string()))?;
    for size in ThumbSize::ALL {
        let px = size.pixels();
        // never enlarged: a smaller source stays its own size
        let t = if img.width() > px || img.height() > px {
            img.thumbnail(px, px)
        } else {
            img.clone()
        };
        let rgba = t.to_rgba8();
        let mut png_bytes = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut png_bytes, rgba.width(), rgba.height());
            enc.set_color(png::ColorType::Rgba);
            enc.set_depth(png::BitDepth::Eight);
            let enc_err = |e: png::EncodingError| ThumbError::Encode(e.to_string());
            enc.add_text_chunk("Thumb::URI".into(), uri.into())
                .map_err(enc_err)?;
            enc.add_text_chunk("Thumb::MTime".into(), mtime.to_string())
                .map_err(enc_err)?;
            enc.add_text_chunk("Software".into(), "flickrfs".into())
                .map_err(enc_err)?;
            let mut w = enc.write_header().map_err(enc_err)?;
            w.write_image_data(rgba.as_raw()).map_err(enc_err)?;
        }
        put(&thumb_path(root, size, uri), &png_bytes)?;
    }
    Ok(())
}

/// Temporary file in the same folder, 0600, then renamed: a reader never
/// sees half a thumbnail.
fn put(dest: &Path, bytes: &[u8]) -> Result<(), ThumbError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let io = |what, source| ThumbError::Io {
        what,
        path: dir.to_path_buf(),
        source,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| io("creating", e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".flickrfs-thumb-")
        .tempfile_in(dir)
        .map_err(|e| io("writing a thumbnail in", e))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| io("writing a thumbnail in", e))?;
    tmp.write_all(bytes)
        .map_err(|e| io("writing a thumbnail in", e))?;
    tmp.persist(dest)
        .map_err(|e| io("writing a thumbnail in", e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_escaped_as_glib_does() {
        assert_eq!(
            file_uri(Path::new("/mnt/alice/Trip 2024/Été #1.jpg")),
            "file:///mnt/alice/Trip%202024/%C3%89t%C3%A9%20%231.jpg"
        );
        // the digest GNOME computes for file:///home/jens/photos/me.png
        // (the standard's own example)
        let p = thumb_path(
            Path::new("/c"),
            ThumbSize::Normal,
            "file:///home/jens/photos/me.png",
        );
        assert_eq!(
            p,
            Path::new("/c/normal/c6ee772d9e49320e97ec29a7eb5b1697.png")
        );
    }

    #[test]
    fn thumbnails_carry_uri_and_mtime_and_fit_their_size() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("thumbnails");
        let img = image::RgbImage::from_fn(320, 240, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(
                &mut std::io::Cursor::new(&mut jpeg),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        let uri = "file:///m/alice/Trip/a.jpg";
        assert!(!is_fresh(&root, ThumbSize::Normal, uri, 1000));
        write(&root, uri, 1000, &jpeg).unwrap();
        for size in ThumbSize::ALL {
            assert!(is_fresh(&root, size, uri, 1000));
            assert!(!is_fresh(&root, size, uri, 1001), "another mtime");
            let p = thumb_path(&root, size, uri);
            let t = image::open(&p).unwrap();
            assert_eq!(t.width(), size.pixels().min(320));
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let mode = std::fs::metadata(root.join("normal"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
    }
}
