//! `flickrfs relocate`: finds again, by content, the backing files that
//! were moved or deleted outside the mount, and points the catalog at them.
//!
//! First every recorded file is checked with `stat` (a file gone since the
//! mount last looked is flagged missing, as a read would have flagged it).
//! Then the folders given (the default folder, the library folders, each
//! `--search DIR`) are walked once with `stat` only, keeping the files whose
//! size is the size of a missing file; only those are hashed, each at most
//! once, and a file whose checksum is a missing photo's becomes its backing
//! file again ([`Catalog::mark_found`]). Symbolic links are not followed,
//! hidden folders and other FUSE file systems (a flickrfs mount among them)
//! are not entered.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::catalog::{AccountId, Catalog, CatalogError, PhotoKey};
use crate::media::{is_fuse, sha1_file, Checksum, Walker};

/// A missing file found again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    pub photo: PhotoKey,
    pub title: String,
    /// Where the catalog expected it.
    pub was: PathBuf,
    /// Where it is now (the catalog says so from now on).
    pub now: PathBuf,
}

/// A missing file not found in any folder searched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotFound {
    pub photo: PhotoKey,
    pub title: String,
    pub was: PathBuf,
}

/// What one relocation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub found: Vec<Found>,
    pub not_found: Vec<NotFound>,
    /// Files seen by the walk.
    pub files_seen: usize,
    /// Files read to compute a checksum (only those of a wanted size).
    pub files_hashed: usize,
}

/// Finds the missing backing files of `account`'s photos under `folders`
/// and records where they are now. Folders that do not exist are skipped.
pub fn relocate_missing(
    cat: &Catalog,
    account: AccountId,
    folders: &[PathBuf],
) -> Result<Report, CatalogError> {
    // Files gone since the mount last looked are missing too.
    for p in cat.photos_with_files(account)? {
        if let Some(l) = &p.local {
            if !l.writing
                && std::fs::symlink_metadata(&l.path)
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
            {
                cat.mark_missing(p.key)?;
            }
        }
    }
    let missing = cat.missing_photos(account)?;
    let mut report = Report::default();
    if missing.is_empty() {
        return Ok(report);
    }
    let sizes: HashSet<u64> = missing
        .iter()
        .filter_map(|p| p.local.as_ref())
        .filter(|l| l.checksum.is_some() && l.size > 0)
        .map(|l| l.size)
        .collect();
    let mut by_size: HashMap<u64, Vec<PathBuf>> = HashMap::new();
    let mut walker = Walker::new();
    for folder in folders {
        let folder = std::fs::canonicalize(folder).unwrap_or_else(|_| folder.clone());
        if is_fuse(&folder) {
            continue;
        }
        let walked = walker.walk(
            &folder,
            |_| true,
            |path, m| {
                if !m.is_file() {
                    return;
                }
                report.files_seen += 1;
                if sizes.contains(&m.len()) {
                    by_size.entry(m.len()).or_default().push(path);
                }
            },
        );
        if let Err(e) = walked {
            tracing::debug!("relocate: not searching {}: {e}", folder.display());
        }
    }
    let mut hashed: HashMap<PathBuf, Option<Checksum>> = HashMap::new();
    let mut claimed: HashSet<PathBuf> = HashSet::new();
    for p in missing {
        let Some(l) = &p.local else { continue };
        let title = p.meta.title.clone();
        let mut now = None;
        if let Some(want) = &l.checksum {
            for cand in by_size.get(&l.size).into_iter().flatten() {
                if claimed.contains(cand) {
                    continue;
                }
                let sum = hashed.entry(cand.clone()).or_insert_with(|| {
                    report.files_hashed += 1;
                    sha1_file(cand).ok()
                });
                if sum.as_ref() == Some(want) {
                    now = Some(cand.clone());
                    break;
                }
            }
        }
        match now {
            Some(now) => {
                cat.mark_found(p.key, &now, None)?;
                claimed.insert(now.clone());
                report.found.push(Found {
                    photo: p.key,
                    title,
                    was: l.path.clone(),
                    now,
                });
            }
            None => report.not_found.push(NotFound {
                photo: p.key,
                title,
                was: l.path.clone(),
            }),
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::EntryName;
    use crate::media::testdata;
    use crate::model::Nsid;

    #[test]
    fn moved_files_are_found_by_content_and_only_same_size_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("Pictures/alice");
        let elsewhere = dir.path().join("elsewhere");
        let hidden = elsewhere.join(".cache");
        for d in [&folder, &elsewhere, &hidden] {
            std::fs::create_dir_all(d).unwrap();
        }
        let cat = Catalog::open(&dir.path().join("catalog.db")).unwrap();
        let acct = cat
            .add_account(&Nsid::new("1@N01"), "alice", "alice", &folder)
            .unwrap();
        let add = |name: &str, seed: u8| {
            let p = folder.join(name);
            std::fs::write(&p, testdata::jpeg_with_exif(8, 6, None, seed)).unwrap();
            let e = cat
                .add_file(acct.root, &EntryName::new(name).unwrap(), &p, None)
                .unwrap();
            (e.entry().unwrap().photo, p)
        };
        let (beach, beach_path) = add("beach.jpg", 1);
        let (dunes, dunes_path) = add("dunes.jpg", 2);
        let (kept, kept_path) = add("kept.jpg", 3);
        // Beach moved into a subfolder of the search folder, dunes into a
        // hidden folder (not searched); both gone from where they were.
        let beach_now = elsewhere.join("2024/b.jpg");
        std::fs::create_dir_all(beach_now.parent().unwrap()).unwrap();
        std::fs::rename(&beach_path, &beach_now).unwrap();
        std::fs::rename(&dunes_path, hidden.join("d.jpg")).unwrap();
        // Files of another size are never read; one of the same size and
        // other bytes is read and not taken.
        std::fs::write(elsewhere.join("big.bin"), vec![7u8; 100_000]).unwrap();
        let size = std::fs::metadata(&beach_now).unwrap().len() as usize;
        std::fs::write(elsewhere.join("same-size.bin"), vec![1u8; size]).unwrap();

        let r = relocate_missing(&cat, acct.id, &[folder.clone(), elsewhere.clone()]).unwrap();
        assert_eq!(
            r.found,
            vec![Found {
                photo: beach,
                title: "beach".into(),
                was: beach_path.clone(),
                now: std::fs::canonicalize(&beach_now).unwrap(),
            }]
        );
        assert_eq!(
            r.not_found,
            vec![NotFound {
                photo: dunes,
                title: "dunes".into(),
                was: dunes_path.clone(),
            }]
        );
        // Seen: kept.jpg, b.jpg, big.bin, same-size.bin (the hidden folder
        // is not entered); read: the three of the missing files' size (the
        // photos' test JPEGs are all of one size), each once; big.bin never.
        assert_eq!((r.files_seen, r.files_hashed), (4, 3), "{r:?}");
        let p = cat.photo(beach).unwrap();
        let l = p.local.unwrap();
        assert!(!l.missing);
        assert_eq!(l.path, std::fs::canonicalize(&beach_now).unwrap());
        assert!(cat.photo(dunes).unwrap().local.unwrap().missing);
        assert_eq!(cat.photo(kept).unwrap().local.unwrap().path, kept_path);
        // A second run finds nothing more and changes nothing.
        let again = relocate_missing(&cat, acct.id, &[elsewhere]).unwrap();
        assert!(again.found.is_empty());
        assert_eq!(again.not_found.len(), 1);
    }
}
