//! The one walk of a user's folders, shared by the library index, the
//! identify step and `flickrfs relocate`: depth first with `lstat` only (no
//! file is opened), hidden entries skipped, symbolic links never followed
//! into folders, each folder entered once however it is reached (by device
//! and inode), and no descent into another FUSE file system below the
//! starting folder (a flickrfs mount must never be walked by the process
//! that serves it, nor a slow network mount by accident).

use std::collections::HashSet;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The FUSE file systems' `statfs` magic.
const FUSE_SUPER_MAGIC: i64 = 0x6573_5546;

/// Whether `path` is on a FUSE file system (false when it cannot be told).
pub fn is_fuse(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid C string and a zeroed statfs to fill.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return false;
    }
    #[allow(clippy::unnecessary_cast)]
    let magic = st.f_type as i64;
    magic == FUSE_SUPER_MAGIC
}

/// Walks folders; remembers the folders it entered, so that several
/// starting folders (one inside another, or reached twice through a bind
/// mount) are each read once.
#[derive(Debug, Default)]
pub struct Walker {
    entered: HashSet<(u64, u64)>,
}

impl Walker {
    pub fn new() -> Walker {
        Walker::default()
    }

    /// Walks `root`. `enter` is asked before each folder is read (`root`
    /// included) and may refuse it; `entry` gets every other non-hidden
    /// entry with its `lstat` metadata (regular files, and symbolic links
    /// and special files for the caller to judge). Only `root` failing to
    /// be read is an error; a folder below it that cannot be read is
    /// skipped.
    pub fn walk(
        &mut self,
        root: &Path,
        mut enter: impl FnMut(&Path) -> bool,
        mut entry: impl FnMut(PathBuf, &Metadata),
    ) -> std::io::Result<()> {
        let meta = std::fs::metadata(root)?;
        if !meta.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                format!("{} is not a folder", root.display()),
            ));
        }
        if !self.entered.insert((meta.dev(), meta.ino())) || !enter(root) {
            return Ok(());
        }
        let mut stack = vec![(root.to_path_buf(), meta.dev(), true)];
        while let Some((dir, dev, top)) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if top => return Err(e),
                Err(e) => {
                    tracing::debug!("walk: skipping {}: {e}", dir.display());
                    continue;
                }
            };
            for e in entries.flatten() {
                if e.file_name().as_bytes().first() == Some(&b'.') {
                    continue;
                }
                let path = e.path();
                let Ok(m) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if m.is_dir() {
                    let other_fuse = m.dev() != dev && is_fuse(&path);
                    if !other_fuse && self.entered.insert((m.dev(), m.ino())) && enter(&path) {
                        stack.push((path, m.dev(), false));
                    }
                } else {
                    entry(path, &m);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_found_once_hidden_entries_and_linked_folders_are_not() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("Pictures");
        std::fs::create_dir_all(root.join("2024/summer")).unwrap();
        std::fs::create_dir_all(root.join(".cache")).unwrap();
        std::fs::write(root.join("a.jpg"), b"a").unwrap();
        std::fs::write(root.join("2024/summer/b.jpg"), b"b").unwrap();
        std::fs::write(root.join(".hidden.jpg"), b"h").unwrap();
        std::fs::write(root.join(".cache/c.jpg"), b"c").unwrap();
        std::os::unix::fs::symlink(root.join("2024"), root.join("loop")).unwrap();
        std::os::unix::fs::symlink(root.join("a.jpg"), root.join("link.jpg")).unwrap();
        let mut w = Walker::new();
        let (mut files, mut links, mut dirs) = (Vec::new(), Vec::new(), Vec::new());
        let mut visit = |p: PathBuf, m: &Metadata| {
            let name = p.strip_prefix(&root).unwrap().to_owned();
            if m.is_file() {
                files.push(name)
            } else if m.file_type().is_symlink() {
                links.push(name)
            }
        };
        w.walk(
            &root,
            |p| {
                dirs.push(p.to_owned());
                true
            },
            &mut visit,
        )
        .unwrap();
        // a second start inside the first is not read again
        w.walk(&root.join("2024"), |_| true, &mut visit).unwrap();
        files.sort();
        links.sort();
        assert_eq!(files, [PathBuf::from("2024/summer/b.jpg"), "a.jpg".into()]);
        assert_eq!(links, [PathBuf::from("link.jpg"), "loop".into()]);
        assert_eq!(dirs.len(), 3, "{dirs:?}");
    }

    #[test]
    fn a_refused_folder_is_not_read_and_a_missing_root_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("skip")).unwrap();
        std::fs::write(d.path().join("skip/x.jpg"), b"x").unwrap();
        std::fs::write(d.path().join("y.jpg"), b"y").unwrap();
        let mut seen = Vec::new();
        Walker::new()
            .walk(
                d.path(),
                |p| !p.ends_with("skip"),
                |p, _| seen.push(p.file_name().unwrap().to_owned()),
            )
            .unwrap();
        assert_eq!(seen, ["y.jpg"]);
        let err = Walker::new()
            .walk(&d.path().join("none"), |_| true, |_, _| {})
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
