//! Open files: the read paths (kernel passthrough to the backing file, or
//! `pread` with the kernel's page cache kept across opens), the write path
//! (bytes land in a real file, fsynced with its directory), and control-file
//! buffers. Also where new files are placed in the default folder.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

use fuser::BackingId;

use crate::catalog::names::file_names_for;
use crate::catalog::{CollectionId, PhotoKey};

use super::fetching::Fetching;
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
    /// A photo whose original is still coming down (photos on demand):
    /// each read waits for its bytes.
    Fetching(Arc<Fetching>),
    /// A `.trashinfo` file of the trash: a plain real file.
    Info { file: File },
    /// A control file: content rendered at open, input parsed on write.
    Control {
        file: ControlFile,
        content: Vec<u8>,
        input: Mutex<Vec<u8>>,
    },
}

/// A writable handle. Bytes written into the mount never change a file
/// the mount did not create itself in this session: the first write (or
/// truncate) to such an entry copies it into the default folder and the
/// handle continues on the copy, which becomes the photo's file at
/// `finish`. The original stays untouched.
#[derive(Debug)]
pub struct WriteHandle {
    pub ino: u64,
    /// The entry this handle writes; may change when the catalog merges a
    /// written file into a photo it already had.
    pub target: Mutex<(CollectionId, PhotoKey)>,
    pub state: Mutex<WriteState>,
    /// Bytes changed since the last `finish` (fsync + catalog update).
    pub dirty: AtomicBool,
    /// The file was created by this handle (create/cp into the mount).
    pub created: bool,
    /// A write (or truncate, or the fsync of a flush) failed: the file is
    /// incomplete and is never finished in the catalog.
    pub failed: AtomicBool,
    /// The process (thread group) that created or last wrote the file;
    /// 0 when unknown.
    pub writer: AtomicU32,
    /// The thread id last seen writing (saves a `/proc` lookup per write).
    pub writer_tid: AtomicU32,
}

impl WriteHandle {
    /// A handle on `target` whose first writer (or creator) is thread `tid`.
    pub fn new(
        ino: u64,
        target: (CollectionId, PhotoKey),
        state: WriteState,
        dirty: bool,
        created: bool,
        tid: Option<u32>,
    ) -> Self {
        let w = WriteHandle {
            ino,
            target: Mutex::new(target),
            state: Mutex::new(state),
            dirty: AtomicBool::new(dirty),
            created,
            failed: AtomicBool::new(false),
            writer: AtomicU32::new(0),
            writer_tid: AtomicU32::new(0),
        };
        if let Some(t) = tid {
            w.note_writer(t);
        }
        w
    }

    /// Thread `tid` writes through this handle.
    pub fn note_writer(&self, tid: u32) {
        if tid != 0 && self.writer_tid.swap(tid, Ordering::Relaxed) != tid {
            self.writer.store(process_of(tid), Ordering::Relaxed);
        }
    }

    /// Whether a request from thread `tid` comes from the writing process
    /// (unknown writers count as the writer).
    pub fn is_writer(&self, tid: Option<u32>) -> bool {
        let w = self.writer.load(Ordering::Relaxed);
        match tid {
            None | Some(0) => true,
            Some(_) if w == 0 => true,
            Some(t) => t == self.writer_tid.load(Ordering::Relaxed) || process_of(t) == w,
        }
    }
}

/// The process (thread group) of thread `tid`, as the kernel names the
/// sender of a FUSE request by its thread id; `tid` itself when `/proc`
/// does not say (the thread has exited).
pub fn process_of(tid: u32) -> u32 {
    std::fs::read_to_string(format!("/proc/{tid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Tgid:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(tid)
}

#[derive(Debug)]
pub enum WriteState {
    /// Writes go to a file the mount created (`path`).
    Own { file: File, path: PathBuf },
    /// Nothing written yet to someone else's file: reads come from it; the
    /// first change makes a copy in `folder` (empty when `truncated`).
    Borrowed {
        original: File,
        original_path: PathBuf,
        folder: PathBuf,
        name: String,
        truncated: bool,
    },
    /// The copy made at the first change; becomes the photo's file.
    Copied { file: File, path: PathBuf },
}

impl WriteState {
    /// The file and path changes go to, copying on first use.
    pub fn writable(&mut self) -> io::Result<(&File, &Path)> {
        if let WriteState::Borrowed {
            original,
            folder,
            name,
            truncated,
            ..
        } = self
        {
            let (path, mut file) = create_unique(folder, name)?;
            if !*truncated {
                let mut src = original.try_clone()?;
                std::io::Seek::seek(&mut src, std::io::SeekFrom::Start(0))?;
                std::io::copy(&mut src, &mut file)?;
            }
            *self = WriteState::Copied { file, path };
        }
        match self {
            WriteState::Own { file, path } | WriteState::Copied { file, path } => Ok((file, path)),
            WriteState::Borrowed { .. } => Err(io::Error::other("copy-on-write did not happen")),
        }
    }

    /// The file this handle wrote was removed (its content belongs to a
    /// photo the catalog already had): keep reading it through the open
    /// descriptor, and copy it again if the handle writes once more.
    pub fn demote(&mut self) -> io::Result<()> {
        if let WriteState::Own { file, path } | WriteState::Copied { file, path } = self {
            let original = file.try_clone()?;
            let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "photo".into());
            *self = WriteState::Borrowed {
                original,
                original_path: path.clone(),
                folder,
                name,
                truncated: false,
            };
        }
        Ok(())
    }

    /// The file reads come from.
    pub fn readable(&self) -> (&File, &Path) {
        match self {
            WriteState::Own { file, path } | WriteState::Copied { file, path } => (file, path),
            WriteState::Borrowed {
                original,
                original_path,
                ..
            } => (original, original_path),
        }
    }
}

impl WriteHandle {
    pub fn write_at(&self, data: &[u8], offset: u64) -> io::Result<usize> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.dirty.store(true, Ordering::SeqCst);
        let r = st
            .writable()
            .and_then(|(file, _)| file.write_all_at(data, offset));
        if r.is_err() {
            self.failed.store(true, Ordering::SeqCst);
        }
        r.map(|()| data.len())
    }

    pub fn set_len(&self, size: u64) -> io::Result<()> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        self.dirty.store(true, Ordering::SeqCst);
        let r = st.writable().and_then(|(file, _)| file.set_len(size));
        if r.is_err() {
            self.failed.store(true, Ordering::SeqCst);
        }
        r
    }

    /// Reads up to `size` bytes at `offset` into `buf` (see [`pread_into`]).
    pub fn read_into(&self, offset: u64, size: u32, buf: &mut Vec<u8>) -> io::Result<()> {
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        pread_into(st.readable().0, offset, size, buf)
    }
}

/// Read up to `size` bytes at `offset` (short only at end of file) into
/// `buf`, replacing its content. The buffer is not zero-filled first, and a
/// caller that keeps it (one per FUSE thread) reads every request into the
/// same memory: no allocation, no page faults, per request.
pub fn pread_into(file: &File, offset: u64, size: u32, buf: &mut Vec<u8>) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let size = size as usize;
    buf.clear();
    buf.reserve(size);
    let mut done = 0usize;
    while done < size {
        let spare = &mut buf.spare_capacity_mut()[..size - done];
        // SAFETY: `spare` is writable memory of `size - done` bytes owned by
        // `buf`; pread writes at most that many and reports how many.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                spare.as_mut_ptr().cast(),
                spare.len(),
                (offset + done as u64) as libc::off_t,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            break;
        }
        done += n as usize;
        // SAFETY: the first `done` bytes have been written by pread.
        unsafe { buf.set_len(done) };
    }
    Ok(())
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
    for candidate in file_names_for(name, super::tree::NAME_MAX) {
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

/// Renames `from` to the first free name derived from `name` in the same
/// folder, never replacing a file (`RENAME_NOREPLACE`). Returns the new path.
pub fn rename_unique(from: &Path, name: &str) -> io::Result<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let folder = from.parent().unwrap_or(Path::new("."));
    let c_from = std::ffi::CString::new(from.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    for candidate in file_names_for(name, super::tree::NAME_MAX) {
        let to = folder.join(&candidate);
        let c_to = std::ffi::CString::new(to.as_os_str().as_bytes())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: two valid C strings; AT_FDCWD with absolute or cwd-relative paths.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                c_from.as_ptr(),
                libc::AT_FDCWD,
                c_to.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if rc == 0 {
            return Ok(to);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::AlreadyExists {
            return Err(e);
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

    #[test]
    fn rename_unique_never_replaces() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.jpg"), b"user's").unwrap();
        let tmp = dir.path().join(".mine.jpg.tmp");
        std::fs::write(&tmp, b"new").unwrap();
        let to = rename_unique(&tmp, "mine.jpg").unwrap();
        assert_eq!(to.file_name().unwrap(), "mine (1).jpg");
        assert_eq!(std::fs::read(&to).unwrap(), b"new");
        assert_eq!(
            std::fs::read(dir.path().join("mine.jpg")).unwrap(),
            b"user's"
        );
        assert!(!tmp.exists());
    }
}
