//! Identify local files for online photos that have none: the sync's second
//! step, for the download direction.
//!
//! A [`FileIndex`] of the default folder and any `--search DIR` is built by
//! reading only each file's header (EXIF shooting time, pixel size), on a few
//! worker threads. [`identify`] then matches each online photo:
//! 1. by name: a file whose name without extension is the photo's title (or
//!    the title followed by ` (PHOTOID)`, the catalog's collision rule),
//!    compared case-insensitively with punctuation and spaces folded, with any
//!    image or video extension;
//! 2. otherwise by EXIF DateTimeOriginal equal to Flickr's date taken, only
//!    when Flickr's date is exact to the second and not "unknown".
//!
//! Several candidates are narrowed by pixel size (Flickr's original
//! dimensions) and by the expected byte size when known. What is still
//! ambiguous is listed ([`Identification::Ambiguous`]), never guessed; a file
//! that two photos would claim is ambiguous for both.
//!
//! Nothing here writes: the caller links what was found in the catalog.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::model::{Granularity, PhotoId, TakenAt};

/// Extensions (lower case) of files that can back a photo or video.
pub const MEDIA_EXTENSIONS: &[&str] = &[
    "jpg", "jpeg", "jpe", "png", "gif", "tif", "tiff", "webp", "heic", "heif", "avif", "bmp",
    "dng", "cr2", "cr3", "nef", "arw", "orf", "raf", "rw2", "mp4", "m4v", "mov", "avi", "3gp",
];

/// Errors building an index.
#[derive(Debug, thiserror::Error)]
pub enum IdentifyError {
    #[error("search folder {path}: {source}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What Flickr says about an online photo that has no local file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnlinePhoto {
    pub id: PhotoId,
    pub title: String,
    pub taken: Option<TakenAt>,
    pub granularity: Granularity,
    /// Flickr's `datetakenunknown`: the date is the upload time, not EXIF's.
    pub taken_unknown: bool,
    /// Original pixel size (`o_width`, `o_height`), when known.
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Expected size of the original in bytes, when known (e.g. from an
    /// earlier download recorded in the catalog).
    pub bytes: Option<u64>,
}

impl OnlinePhoto {
    /// Flickr's date taken when it can identify a file: exact and known.
    fn exact_taken(&self) -> Option<&TakenAt> {
        (self.granularity == Granularity::Exact && !self.taken_unknown)
            .then_some(self.taken.as_ref())
            .flatten()
    }
}

/// One file's header facts.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct HeaderFacts {
    pub taken: Option<TakenAt>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

/// A file found in a searched folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedFile {
    pub path: PathBuf,
    pub size: u64,
    pub facts: HeaderFacts,
}

/// How to build an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexOptions {
    /// Header-reading threads (at least 1).
    pub workers: usize,
    /// Files already backing a catalog photo: not candidates.
    pub exclude: BTreeSet<PathBuf>,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            workers: 4,
            exclude: BTreeSet::new(),
        }
    }
}

/// The media files of some folders, by folded name and by shooting time.
#[derive(Clone, Debug, Default)]
pub struct FileIndex {
    files: Vec<IndexedFile>,
    by_name: BTreeMap<String, Vec<usize>>,
    by_taken: BTreeMap<TakenAt, Vec<usize>>,
    /// Files whose header could not be read (they still match by name).
    pub unreadable: Vec<(PathBuf, String)>,
}

/// Folds a title or file stem for comparison: lower case, every run of
/// non-alphanumeric characters as one space, trimmed.
pub fn fold_name(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.extend(c.to_lowercase());
        } else {
            gap = true;
        }
    }
    out
}

fn media_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MEDIA_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// The shooting time and pixel size from a file's header, without decoding
/// the image: the media module's EXIF reader, which also knows TIFF and raw
/// files. Only I/O failures are errors.
pub fn read_header(path: &Path) -> std::io::Result<HeaderFacts> {
    let info = crate::media::read_exif(path).map_err(|e| match e {
        crate::media::MediaError::Io { source, .. } => source,
        other => std::io::Error::other(other.to_string()),
    })?;
    Ok(HeaderFacts {
        taken: info.taken_at,
        width: info.width,
        height: info.height,
    })
}

impl FileIndex {
    /// Indexes the media files under `folders` (recursively, skipping hidden
    /// entries and not following linked folders), reading only each file's
    /// header on `opts.workers` threads. A folder that cannot be read is an
    /// error; a file that cannot be read is listed in `unreadable`.
    pub fn build(folders: &[PathBuf], opts: &IndexOptions) -> Result<FileIndex, IdentifyError> {
        let mut found = Vec::new();
        let mut walker = crate::media::Walker::new();
        for f in folders {
            walker
                .walk(
                    f,
                    |_| true,
                    |path, m| {
                        if !media_extension(&path) {
                            return;
                        }
                        // a linked file counts (a linked folder is not entered)
                        let meta = if m.file_type().is_symlink() {
                            fs::metadata(&path).ok()
                        } else {
                            Some(m.clone())
                        };
                        if let Some(meta) = meta.filter(|m| m.is_file()) {
                            found.push((path, meta.len()));
                        }
                    },
                )
                .map_err(|source| IdentifyError::Folder {
                    path: f.clone(),
                    source,
                })?;
        }
        found.sort();
        found.dedup();
        found.retain(|(p, _)| !opts.exclude.contains(p));
        let next = AtomicUsize::new(0);
        let workers = opts.workers.clamp(1, 64).min(found.len().max(1));
        let mut results: Vec<(usize, Result<HeaderFacts, String>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    s.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some((path, _)) = found.get(i) else { break };
                            mine.push((i, read_header(path).map_err(|e| e.to_string())));
                        }
                        mine
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        results.sort_by_key(|(i, _)| *i);
        let mut index = FileIndex::default();
        let mut facts_of: BTreeMap<usize, HeaderFacts> = BTreeMap::new();
        for (i, r) in results {
            match r {
                Ok(f) => {
                    facts_of.insert(i, f);
                }
                Err(e) => {
                    if let Some((p, _)) = found.get(i) {
                        index.unreadable.push((p.clone(), e));
                    }
                }
            }
        }
        for (i, (path, size)) in found.into_iter().enumerate() {
            let facts = facts_of.remove(&i).unwrap_or_default();
            index.push(IndexedFile { path, size, facts });
        }
        Ok(index)
    }

    /// Builds an index from files whose facts are already known.
    pub fn from_files(files: impl IntoIterator<Item = IndexedFile>) -> FileIndex {
        let mut index = FileIndex::default();
        for f in files {
            index.push(f);
        }
        index
    }

    fn push(&mut self, file: IndexedFile) {
        let i = self.files.len();
        let stem = file
            .path
            .file_stem()
            .map(|s| fold_name(&s.to_string_lossy()))
            .unwrap_or_default();
        if !stem.is_empty() {
            self.by_name.entry(stem).or_default().push(i);
        }
        if let Some(t) = &file.facts.taken {
            self.by_taken.entry(t.clone()).or_default().push(i);
        }
        self.files.push(file);
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn files(&self) -> &[IndexedFile] {
        &self.files
    }

    fn named(&self, photo: &OnlinePhoto) -> Vec<usize> {
        let title = fold_name(&photo.title);
        if title.is_empty() {
            return Vec::new();
        }
        let with_id = fold_name(&format!("{} ({})", photo.title, photo.id));
        let mut out: Vec<usize> = [title, with_id]
            .iter()
            .filter_map(|k| self.by_name.get(k))
            .flatten()
            .copied()
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    fn taken(&self, photo: &OnlinePhoto) -> Vec<usize> {
        photo
            .exact_taken()
            .and_then(|t| self.by_taken.get(t))
            .cloned()
            .unwrap_or_default()
    }
}

/// How a file was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchedBy {
    Name,
    TakenAt,
}

/// The outcome for one online photo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identification {
    Found {
        photo: PhotoId,
        path: PathBuf,
        by: MatchedBy,
    },
    /// Several files fit: listed for the user (`flickrfs identify PHOTO FILE`).
    Ambiguous {
        photo: PhotoId,
        candidates: Vec<PathBuf>,
    },
    NotFound {
        photo: PhotoId,
    },
}

impl Identification {
    pub fn photo(&self) -> &PhotoId {
        match self {
            Identification::Found { photo, .. }
            | Identification::Ambiguous { photo, .. }
            | Identification::NotFound { photo } => photo,
        }
    }
}

/// Keeps the candidates that agree with what Flickr knows (pixel size,
/// expected bytes, exact date taken); each test applies only when it leaves
/// at least one candidate.
fn narrow(index: &FileIndex, photo: &OnlinePhoto, mut c: Vec<usize>) -> Vec<usize> {
    type Test<'t> = &'t dyn Fn(&IndexedFile) -> Option<bool>;
    let tests: [Test; 3] = [
        &|f| {
            let (w, h) = (photo.width?, photo.height?);
            let (fw, fh) = (f.facts.width?, f.facts.height?);
            Some((fw, fh) == (w, h) || (fw, fh) == (h, w))
        },
        &|f| photo.bytes.map(|b| f.size == b),
        &|f| {
            let t = photo.exact_taken()?;
            Some(f.facts.taken.as_ref() == Some(t))
        },
    ];
    for test in tests {
        if c.len() <= 1 {
            break;
        }
        let kept: Vec<usize> = c
            .iter()
            .copied()
            .filter(|&i| test(&index.files[i]) == Some(true))
            .collect();
        if !kept.is_empty() {
            c = kept;
        }
    }
    c
}

/// Matches each online photo to a local file (see the module doc).
pub fn identify(photos: &[OnlinePhoto], index: &FileIndex) -> Vec<Identification> {
    let mut title_count: BTreeMap<String, usize> = BTreeMap::new();
    for p in photos {
        *title_count.entry(fold_name(&p.title)).or_default() += 1;
    }
    let mut picks: Vec<(PhotoId, Vec<usize>, MatchedBy)> = Vec::with_capacity(photos.len());
    for p in photos {
        let mut by = MatchedBy::Name;
        let mut c = index.named(p);
        let shared_title = title_count.get(&fold_name(&p.title)).copied().unwrap_or(0) > 1;
        if shared_title && !c.is_empty() {
            // A title many photos share is not identity: it needs the date.
            let dated: Vec<usize> = index
                .taken(p)
                .into_iter()
                .filter(|i| c.contains(i))
                .collect();
            c = if dated.is_empty() && c.len() > 1 {
                c
            } else {
                dated
            };
        }
        if c.is_empty() {
            by = MatchedBy::TakenAt;
            c = index.taken(p);
        }
        let c = narrow(index, p, c);
        picks.push((p.id.clone(), c, by));
    }
    // A file claimed as the only candidate of two photos identifies neither.
    let mut claims: BTreeMap<usize, usize> = BTreeMap::new();
    for (_, c, _) in &picks {
        if let [one] = c.as_slice() {
            *claims.entry(*one).or_default() += 1;
        }
    }
    picks
        .into_iter()
        .map(|(photo, c, by)| match c.as_slice() {
            [] => Identification::NotFound { photo },
            [one] if claims.get(one).copied().unwrap_or(0) == 1 => Identification::Found {
                photo,
                path: index.files[*one].path.clone(),
                by,
            },
            _ => Identification::Ambiguous {
                photo,
                candidates: c.iter().map(|&i| index.files[i].path.clone()).collect(),
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn online(id: &str, title: &str, taken: Option<&str>) -> OnlinePhoto {
        OnlinePhoto {
            id: PhotoId::new(id),
            title: title.into(),
            taken: taken.and_then(TakenAt::parse),
            granularity: Granularity::Exact,
            taken_unknown: false,
            width: None,
            height: None,
            bytes: None,
        }
    }

    fn file(path: &str, size: u64, taken: Option<&str>, dims: Option<(u32, u32)>) -> IndexedFile {
        IndexedFile {
            path: PathBuf::from(path),
            size,
            facts: HeaderFacts {
                taken: taken.and_then(TakenAt::parse),
                width: dims.map(|d| d.0),
                height: dims.map(|d| d.1),
            },
        }
    }

    #[test]
    fn names_fold_case_and_punctuation() {
        assert_eq!(fold_name("IMG_0042"), "img 0042");
        assert_eq!(fold_name("  Sunset -- Beach! "), "sunset beach");
        assert_eq!(fold_name("Été"), "été");
        assert_eq!(fold_name("..."), "");
    }

    #[test]
    fn matches_title_with_any_extension_case_insensitively() {
        let index = FileIndex::from_files([
            file("/a/Sunset.JPG", 10, None, None),
            file("/a/other.png", 10, None, None),
            file("/a/Beach (555).jpeg", 10, None, None),
        ]);
        let r = identify(
            &[
                online("1", "sunset", None),
                online("555", "Beach", None),
                online("2", "nope", None),
            ],
            &index,
        );
        assert_eq!(
            r,
            vec![
                Identification::Found {
                    photo: PhotoId::new("1"),
                    path: "/a/Sunset.JPG".into(),
                    by: MatchedBy::Name
                },
                Identification::Found {
                    photo: PhotoId::new("555"),
                    path: "/a/Beach (555).jpeg".into(),
                    by: MatchedBy::Name
                },
                Identification::NotFound {
                    photo: PhotoId::new("2")
                },
            ]
        );
    }

    #[test]
    fn falls_back_to_exact_date_taken_only() {
        let index =
            FileIndex::from_files([file("/a/DSC1.jpg", 10, Some("2021:07:04 18:30:01"), None)]);
        let exact = online("1", "Renamed on Flickr", Some("2021-07-04 18:30:01"));
        let mut month = exact.clone();
        month.id = PhotoId::new("2");
        month.granularity = Granularity::Month;
        let mut unknown = exact.clone();
        unknown.id = PhotoId::new("3");
        unknown.taken_unknown = true;
        let r = identify(&[month, unknown], &index);
        assert!(r
            .iter()
            .all(|i| matches!(i, Identification::NotFound { .. })));
        let r = identify(&[exact], &index);
        assert_eq!(
            r,
            vec![Identification::Found {
                photo: PhotoId::new("1"),
                path: "/a/DSC1.jpg".into(),
                by: MatchedBy::TakenAt
            }]
        );
    }

    #[test]
    fn ties_are_broken_by_pixel_size_then_bytes_and_otherwise_listed() {
        let t = Some("2020:01:01 10:00:00");
        let index = FileIndex::from_files([
            file("/a/x1.jpg", 100, t, Some((4000, 3000))),
            file("/a/x2.jpg", 200, t, Some((1024, 768))),
            file("/b/x3.jpg", 300, t, Some((1024, 768))),
        ]);
        let mut p = online("1", "", Some("2020-01-01 10:00:00"));
        p.width = Some(4000);
        p.height = Some(3000);
        assert!(
            matches!(&identify(&[p.clone()], &index)[0], Identification::Found { path, .. } if path == Path::new("/a/x1.jpg"))
        );
        p.width = Some(1024);
        p.height = Some(768);
        assert_eq!(
            identify(&[p.clone()], &index),
            vec![Identification::Ambiguous {
                photo: PhotoId::new("1"),
                candidates: vec!["/a/x2.jpg".into(), "/b/x3.jpg".into()]
            }]
        );
        p.bytes = Some(300);
        assert!(
            matches!(&identify(&[p], &index)[0], Identification::Found { path, .. } if path == Path::new("/b/x3.jpg"))
        );
    }

    #[test]
    fn shared_titles_need_the_date_and_one_file_never_serves_two_photos() {
        let index = FileIndex::from_files([file(
            "/a/Untitled.jpg",
            10,
            Some("2020:01:01 10:00:00"),
            None,
        )]);
        // Two photos titled the same: only the one whose date agrees gets the file.
        let r = identify(
            &[
                online("1", "Untitled", Some("2020-01-01 10:00:00")),
                online("2", "Untitled", Some("2020-05-05 10:00:00")),
            ],
            &index,
        );
        assert!(matches!(&r[0], Identification::Found { .. }));
        assert_eq!(
            r[1],
            Identification::NotFound {
                photo: PhotoId::new("2")
            }
        );
        // Two photos that both claim the one file: neither is guessed.
        let r = identify(
            &[
                online("1", "Untitled", Some("2020-01-01 10:00:00")),
                online("2", "Other", Some("2020-01-01 10:00:00")),
            ],
            &index,
        );
        assert!(
            r.iter()
                .all(|i| matches!(i, Identification::Ambiguous { .. })),
            "{r:?}"
        );
    }

    #[test]
    fn index_reads_real_files_in_parallel_and_skips_hidden_and_excluded() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("Trip");
        fs::create_dir_all(&sub).unwrap();
        let img = image::RgbImage::from_pixel(12, 7, image::Rgb([10, 20, 30]));
        for name in ["a.jpg", "b.JPG", "c.png"] {
            let path = sub.join(name);
            let format = if name.ends_with("png") {
                image::ImageFormat::Png
            } else {
                image::ImageFormat::Jpeg
            };
            img.save_with_format(&path, format).unwrap();
        }
        fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        fs::write(dir.path().join(".hidden.jpg"), b"x").unwrap();
        fs::write(dir.path().join("broken.jpg"), b"not a jpeg").unwrap();
        let opts = IndexOptions {
            workers: 3,
            exclude: [sub.join("c.png")].into(),
        };
        let index = FileIndex::build(&[dir.path().to_path_buf()], &opts).unwrap();
        let names: Vec<String> = index
            .files()
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["a.jpg", "b.JPG", "broken.jpg"]);
        let a = &index.files()[0];
        assert_eq!((a.facts.width, a.facts.height), (Some(12), Some(7)));
        assert_eq!(index.files()[2].facts, HeaderFacts::default());
        let missing = FileIndex::build(&[dir.path().join("nope")], &opts);
        assert!(matches!(missing, Err(IdentifyError::Folder { .. })));
    }

    #[test]
    fn reads_exif_date_taken_from_a_jpeg_header() {
        // A minimal JPEG: SOI, an APP1 Exif segment with DateTimeOriginal, EOI.
        let date = b"2019:12:31 23:59:58\0";
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"II*\0");
        tiff.extend_from_slice(&8u32.to_le_bytes()); // IFD0 offset
                                                     // IFD0: one entry, ExifIFDPointer (0x8769) -> offset 26.
        tiff.extend_from_slice(&1u16.to_le_bytes());
        tiff.extend_from_slice(&0x8769u16.to_le_bytes());
        tiff.extend_from_slice(&4u16.to_le_bytes()); // LONG
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&26u32.to_le_bytes());
        tiff.extend_from_slice(&0u32.to_le_bytes()); // next IFD
                                                     // Exif IFD at 26: DateTimeOriginal (0x9003) ASCII 20 bytes at offset 44.
        tiff.extend_from_slice(&1u16.to_le_bytes());
        tiff.extend_from_slice(&0x9003u16.to_le_bytes());
        tiff.extend_from_slice(&2u16.to_le_bytes());
        tiff.extend_from_slice(&(date.len() as u32).to_le_bytes());
        tiff.extend_from_slice(&44u32.to_le_bytes());
        tiff.extend_from_slice(&0u32.to_le_bytes());
        tiff.extend_from_slice(date);
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
        let len = (2 + 6 + tiff.len()) as u16;
        jpeg.extend_from_slice(&len.to_be_bytes());
        jpeg.extend_from_slice(b"Exif\0\0");
        jpeg.extend_from_slice(&tiff);
        jpeg.extend_from_slice(&[0xFF, 0xD9]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.jpg");
        fs::write(&path, &jpeg).unwrap();
        let facts = read_header(&path).unwrap();
        assert_eq!(facts.taken, TakenAt::parse("2019-12-31 23:59:58"));
    }
}
