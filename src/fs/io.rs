//! Open files: the read paths (kernel passthrough to the backing file, or
//! `pread` with the kernel's page cache kept across opens), the write path
//! (bytes land in a real file, fsynced with its directory), and control-file
//! buffers. Also where new files are placed in the default folder.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use fuser::BackingId;

use crate::catalog::{CollectionId, PhotoKey};

use super::tree::ControlFile;

/// One open file handle.
#[derive(Debug)]
pub enum Handle {
    /// Reads served by `pread` on the backing file.
    Read { file: File },
    /// Reads served by the kernel from the backing file; we only keep the
    /// backing id alive until release.
    Passthrough { _backing: Arc<BackingId> },
    /// A writable handle on a backing file (new or existing).
    Write(WriteHandle),
    /// A control file: content rendered at open, input parsed on write.
    Control {
        file: ControlFile,
        content: Vec<u8>,
        input: Mutex<Vec<u8>>,
    },
}

#[derive(Debug)]
pub struct WriteHandle {
    pub file: File,
    pub ino: u64,
    /// The entry this handle writes; may change when the catalog merges a
    /// written file into a photo it already had.
    pub target: Mutex<(CollectionId, PhotoKey)>,
    pub path: PathBuf,
    /// Bytes changed since the last `finish` (fsync + catalog update).
    pub dirty: AtomicBool,
    /// The mount created this file (create/cp into the mount).
    pub created: bool,
}

impl WriteHandle {
    pub fn write_at(&self, data: &[u8], offset: u64) -> io::Result<usize> {
        self.file.write_all_at(data, offset)?;
        self.dirty.store(true, Ordering::SeqCst);
        Ok(data.len())
    }
}

/// Read up to `size` bytes at `offset` (short only at end of file).
pub fn pread(file: &File, offset: u64, size: u32) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; size as usize];
    let mut done = 0usize;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    buf.truncate(done);
    Ok(buf)
}

/// fsync a file and the directory holding it, so that a new file survives
/// a crash once `fsync`/`release` returns.
pub fn sync_file_and_dir(file: &File, path: &Path) -> io::Result<()> {
    file.sync_all()?;
    if let Some(dir) = path.parent() {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Create a new file for `name` in `folder` without ever replacing an
/// existing one: `name`, then `stem (1).ext`, `stem (2).ext`...
pub fn create_unique(folder: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    std::fs::create_dir_all(folder)?;
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    for n in 0u32..10_000 {
        let candidate = if n == 0 {
            name.to_owned()
        } else {
            // keep under NAME_MAX: shorten the stem on a char boundary
            let suffix = format!(" ({n}){ext}");
            let mut s = stem.to_owned();
            while s.len() + suffix.len() > super::tree::NAME_MAX {
                s.pop();
            }
            format!("{s}{suffix}")
        };
        let path = folder.join(&candidate);
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&path)
        {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no free name for {name:?} in {}", folder.display()),
    ))
}

/// Backing ids shared by every passthrough open of one inode (the kernel
/// requires one backing file per inode at a time), dropped with the last
/// handle that uses them.
#[derive(Debug, Default)]
pub struct BackingCache {
    by_ino: Mutex<HashMap<u64, Weak<BackingId>>>,
}

impl BackingCache {
    pub fn get_or(
        &self,
        ino: u64,
        create: impl FnOnce() -> io::Result<BackingId>,
    ) -> io::Result<Arc<BackingId>> {
        let mut map = self.by_ino.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(id) = map.get(&ino).and_then(Weak::upgrade) {
            return Ok(id);
        }
        let id = Arc::new(create()?);
        map.insert(ino, Arc::downgrade(&id));
        map.retain(|_, w| w.strong_count() > 0);
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_unique_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.jpg"), b"user's").unwrap();
        let (p1, _) = create_unique(dir.path(), "a.jpg").unwrap();
        let (p2, _) = create_unique(dir.path(), "a.jpg").unwrap();
        assert_eq!(p1.file_name().unwrap(), "a (1).jpg");
        assert_eq!(p2.file_name().unwrap(), "a (2).jpg");
        assert_eq!(std::fs::read(dir.path().join("a.jpg")).unwrap(), b"user's");
        let long = format!("{}.jpg", "x".repeat(251));
        create_unique(dir.path(), &long).unwrap();
        let (p3, _) = create_unique(dir.path(), &long).unwrap();
        assert!(p3.file_name().unwrap().len() <= 255);
    }
}
