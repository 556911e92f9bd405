//! The file operations the model test performs, on two systems under test:
//! [`KernelVfs`] through a real FUSE mount (std::fs and libc on the mounted
//! paths, the kernel in between), and [`CoreVfs`] straight into the
//! filesystem core in this process (`flickrfs::fs::FsCore`, no kernel), so
//! that the same model can run a hundred times more steps.
//!
//! `CoreVfs` does what the kernel's VFS does before it asks a filesystem,
//! no more: walk the path (`ENOENT`, `ENOTDIR`), refuse what it refuses on
//! its own (`EEXIST` for `O_EXCL`, `EISDIR`/`ENOTDIR` on the kinds in a
//! rename or unlink, the rename traps, `EPERM` for a hard link to a
//! folder), in the kernel's order; everything else is the core's answer.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ffi::{CString, OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use flickrfs::fs::{FsCore, Opened};
use fuser::{FileAttr, FileType, OpenFlags};

/// What a name is, as `readdir`/`lstat` tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Other => "other",
        }
    }
}

/// An errno.
pub type Errno = i32;

/// The file operations of the model test, on absolute paths under the
/// mount point (mounted or not).
pub trait Vfs {
    /// Whether names may stay in a kernel cache for a moment after they
    /// are gone (the harness then waits, bounded).
    fn has_kernel_caches(&self) -> bool;
    /// `open(O_CREAT|O_EXCL|O_WRONLY)`, write all, close.
    fn create_write(&self, p: &Path, bytes: &[u8]) -> Result<(), Errno>;
    /// `open(O_WRONLY|O_TRUNC)`, write all, close.
    fn overwrite(&self, p: &Path, bytes: &[u8]) -> Result<(), Errno>;
    /// `open(O_WRONLY|O_APPEND)`, write all, close.
    fn append(&self, p: &Path, bytes: &[u8]) -> Result<(), Errno>;
    /// `truncate(2)`.
    fn truncate(&self, p: &Path, len: u64) -> Result<(), Errno>;
    fn symlink(&self, target: &Path, p: &Path) -> Result<(), Errno>;
    fn hard_link(&self, from: &Path, to: &Path) -> Result<(), Errno>;
    fn rename(&self, from: &Path, to: &Path) -> Result<(), Errno>;
    fn remove_file(&self, p: &Path) -> Result<(), Errno>;
    fn create_dir(&self, p: &Path) -> Result<(), Errno>;
    fn remove_dir(&self, p: &Path) -> Result<(), Errno>;
    fn setxattr(&self, p: &Path, name: &str, value: &[u8]) -> Result<(), Errno>;
    fn getxattr(&self, p: &Path, name: &str) -> Result<Vec<u8>, Errno>;
    /// `lstat`: kind and size.
    fn stat(&self, p: &Path) -> Result<(Kind, u64), Errno>;
    /// The whole content.
    fn read(&self, p: &Path) -> Result<Vec<u8>, Errno>;
    /// The names in a folder (without `.` and `..`) and their kinds.
    fn list(&self, p: &Path) -> Result<BTreeMap<String, Kind>, Errno>;
}

fn errno(e: std::io::Error) -> Errno {
    e.raw_os_error().unwrap_or(-1)
}

fn cpath(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).expect("no NUL in test paths")
}

fn last_errno() -> Errno {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
}

// ----- through the kernel ---------------------------------------------------

/// A real FUSE mount, driven as any program drives it.
pub struct KernelVfs;

impl KernelVfs {
    fn write_with(
        &self,
        p: &Path,
        opts: &mut std::fs::OpenOptions,
        bytes: &[u8],
    ) -> Result<(), Errno> {
        (|| {
            let mut f = opts.open(p)?;
            f.write_all(bytes)?;
            f.flush()?;
            drop(f);
            Ok(())
        })()
        .map_err(errno)
    }
}

impl Vfs for KernelVfs {
    fn has_kernel_caches(&self) -> bool {
        true
    }
    fn create_write(&self, p: &Path, bytes: &[u8]) -> Result<(), Errno> {
        self.write_with(
            p,
            std::fs::OpenOptions::new().write(true).create_new(true),
            bytes,
        )
    }
    fn overwrite(&self, p: &Path, bytes: &[u8]) -> Result<(), Errno> {
        self.write_with(
            p,
            std::fs::OpenOptions::new().write(true).truncate(true),
            bytes,
        )
    }
    fn append(&self, p: &Path, bytes: &[u8]) -> Result<(), Errno> {
        self.write_with(p, std::fs::OpenOptions::new().append(true), bytes)
    }
    fn truncate(&self, p: &Path, len: u64) -> Result<(), Errno> {
        let cp = cpath(p);
        // SAFETY: a valid C string.
        if unsafe { libc::truncate(cp.as_ptr(), len as libc::off_t) } < 0 {
            return Err(last_errno());
        }
        Ok(())
    }
    fn symlink(&self, target: &Path, p: &Path) -> Result<(), Errno> {
        std::os::unix::fs::symlink(target, p).map_err(errno)
    }
    fn hard_link(&self, from: &Path, to: &Path) -> Result<(), Errno> {
        std::fs::hard_link(from, to).map_err(errno)
    }
    fn rename(&self, from: &Path, to: &Path) -> Result<(), Errno> {
        std::fs::rename(from, to).map_err(errno)
    }
    fn remove_file(&self, p: &Path) -> Result<(), Errno> {
        std::fs::remove_file(p).map_err(errno)
    }
    fn create_dir(&self, p: &Path) -> Result<(), Errno> {
        std::fs::create_dir(p).map_err(errno)
    }
    fn remove_dir(&self, p: &Path) -> Result<(), Errno> {
        std::fs::remove_dir(p).map_err(errno)
    }
    fn setxattr(&self, p: &Path, name: &str, value: &[u8]) -> Result<(), Errno> {
        let (cp, cn) = (cpath(p), CString::new(name).expect("attr name"));
        // SAFETY: valid C strings and a value buffer of the given length.
        let r = unsafe {
            libc::setxattr(
                cp.as_ptr(),
                cn.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        if r < 0 {
            return Err(last_errno());
        }
        Ok(())
    }
    fn getxattr(&self, p: &Path, name: &str) -> Result<Vec<u8>, Errno> {
        let (cp, cn) = (cpath(p), CString::new(name).expect("attr name"));
        let mut buf = vec![0u8; 4096];
        // SAFETY: valid C strings and a buffer of the given length.
        let n =
            unsafe { libc::getxattr(cp.as_ptr(), cn.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            return Err(last_errno());
        }
        buf.truncate(n as usize);
        Ok(buf)
    }
    fn stat(&self, p: &Path) -> Result<(Kind, u64), Errno> {
        let md = std::fs::symlink_metadata(p).map_err(errno)?;
        Ok((kind_of(md.file_type()), md.len()))
    }
    fn read(&self, p: &Path) -> Result<Vec<u8>, Errno> {
        std::fs::read(p).map_err(errno)
    }
    fn list(&self, p: &Path) -> Result<BTreeMap<String, Kind>, Errno> {
        let mut out = BTreeMap::new();
        for e in std::fs::read_dir(p).map_err(errno)? {
            let e = e.map_err(errno)?;
            let ft = e.file_type().map_err(errno)?;
            out.insert(e.file_name().to_string_lossy().into_owned(), kind_of(ft));
        }
        Ok(out)
    }
}

fn kind_of(ft: std::fs::FileType) -> Kind {
    if ft.is_dir() {
        Kind::Dir
    } else if ft.is_file() {
        Kind::File
    } else if ft.is_symlink() {
        Kind::Symlink
    } else {
        Kind::Other
    }
}

// ----- straight into the core -----------------------------------------------

/// The filesystem core of an unmounted `flickrfs::fs`, driven in-process.
pub struct CoreVfs {
    pub core: Arc<FsCore>,
    /// The mount point the paths are under (nothing is mounted there).
    pub mnt: PathBuf,
    /// Folders already walked to, as a kernel's dentry cache keeps them;
    /// forgotten at every operation that changes anything.
    dirs: RefCell<HashMap<Vec<OsString>, FileAttr>>,
}

impl CoreVfs {
    pub fn new(core: Arc<FsCore>, mnt: PathBuf) -> CoreVfs {
        CoreVfs {
            core,
            mnt,
            dirs: RefCell::default(),
        }
    }

    /// Before any change: the folders walked to may be other ones now.
    fn changing(&self) {
        self.dirs.borrow_mut().clear();
    }
}

const ROOT: u64 = 1;

fn ftype(a: &FileAttr) -> Kind {
    match a.kind {
        FileType::Directory => Kind::Dir,
        FileType::RegularFile => Kind::File,
        FileType::Symlink => Kind::Symlink,
        _ => Kind::Other,
    }
}

fn tid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

impl CoreVfs {
    fn names<'p>(&self, p: &'p Path) -> Vec<&'p OsStr> {
        p.strip_prefix(&self.mnt)
            .expect("a path under the mount point")
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n),
                _ => None,
            })
            .collect()
    }

    fn lookup(&self, dir: u64, name: &OsStr) -> Result<FileAttr, Errno> {
        self.core.lookup(dir, name).map_err(|e| e.errno)
    }

    /// Path walk to the inode of `names` (the root for none).
    fn walk_names(&self, names: &[&OsStr]) -> Result<(u64, Kind, FileAttr), Errno> {
        let key = |n: &[&OsStr]| n.iter().map(|s| s.to_os_string()).collect::<Vec<_>>();
        // start from the deepest folder already walked to
        let mut start = 0;
        let mut attr = None;
        for i in (1..names.len()).rev() {
            if let Some(a) = self.dirs.borrow().get(&key(&names[..i])) {
                attr = Some(*a);
                start = i;
                break;
            }
        }
        let mut attr = match attr {
            Some(a) => a,
            None => self.core.getattr(ROOT).map_err(|e| e.errno)?,
        };
        for (i, n) in names.iter().enumerate().skip(start) {
            if ftype(&attr) != Kind::Dir {
                return Err(libc::ENOTDIR);
            }
            attr = self.lookup(attr.ino.0, n)?;
            if ftype(&attr) == Kind::Dir {
                self.dirs.borrow_mut().insert(key(&names[..=i]), attr);
            }
        }
        Ok((attr.ino.0, ftype(&attr), attr))
    }

    fn walk(&self, p: &Path) -> Result<(u64, Kind, FileAttr), Errno> {
        self.walk_names(&self.names(p))
    }

    /// The parent folder's inode and the last name.
    fn parent<'p>(&self, p: &'p Path) -> Result<(u64, &'p OsStr), Errno> {
        let names = self.names(p);
        let (last, dirs) = names.split_last().expect("a path below the mount point");
        let (ino, kind, _) = self.walk_names(dirs)?;
        if kind != Kind::Dir {
            return Err(libc::ENOTDIR);
        }
        Ok((ino, last))
    }

    /// What `name` is in `dir`, if anything.
    fn child(&self, dir: u64, name: &OsStr) -> Result<Option<(u64, Kind)>, Errno> {
        match self.lookup(dir, name) {
            Ok(a) => Ok(Some((a.ino.0, ftype(&a)))),
            Err(libc::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Open for writing, write `bytes` at `offset` (None: at the end),
    /// close as a program does (flush, then release).
    fn write_open(&self, ino: u64, flags: i32, bytes: &[u8], at_end: bool) -> Result<(), Errno> {
        let fh = match self.core.open(ino, OpenFlags(flags)).map_err(|e| e.errno)? {
            Opened::Plain(fh, _) => fh,
            Opened::Backing { .. } => panic!("a write open is never passthrough"),
        };
        self.write_close(ino, fh, bytes, at_end)
    }

    fn write_close(&self, ino: u64, fh: u64, bytes: &[u8], at_end: bool) -> Result<(), Errno> {
        let mut result = Ok(());
        if !bytes.is_empty() {
            let offset = if at_end {
                self.core
                    .getattr_fh(ino, Some(fh))
                    .map(|a| a.size)
                    .unwrap_or(0)
            } else {
                0
            };
            result = self
                .core
                .write(fh, offset, bytes, tid())
                .map(|_| ())
                .map_err(|e| e.errno);
        }
        let flushed = self.core.flush(fh, tid()).map_err(|e| e.errno);
        let released = self.core.release(fh).map_err(|e| e.errno);
        result.and(flushed).and(released)
    }
}

impl Vfs for CoreVfs {
    fn has_kernel_caches(&self) -> bool {
        false
    }
    fn create_write(&self, p: &Path, bytes: &[u8]) -> Result<(), Errno> {
        self.changing();
        let (dir, name) = self.parent(p)?;
        if self.child(dir, name)?.is_some() {
            return Err(libc::EEXIST);
        }
        let (attr, fh) = self.core.create(dir, name, tid()).map_err(|e| e.errno)?;
        self.write_close(attr.ino.0, fh, bytes, false)
    }
    fn overwrite(&self, p: &Path, bytes: &[u8]) -> Result<(), Errno> {
        self.changing();
        let (ino, kind, _) = self.walk(p)?;
        if kind == Kind::Dir {
            return Err(libc::EISDIR);
        }
        self.write_open(ino, libc::O_WRONLY | libc::O_TRUNC, bytes, false)
    }
    fn append(&self, p: &Path, bytes: &[u8]) -> Result<(), Errno> {
        self.changing();
        let (ino, kind, _) = self.walk(p)?;
        if kind == Kind::Dir {
            return Err(libc::EISDIR);
        }
        self.write_open(ino, libc::O_WRONLY | libc::O_APPEND, bytes, true)
    }
    fn truncate(&self, p: &Path, len: u64) -> Result<(), Errno> {
        self.changing();
        let (ino, kind, _) = self.walk(p)?;
        if kind == Kind::Dir {
            return Err(libc::EISDIR);
        }
        self.core
            .setattr(ino, Some(len), None, None, None)
            .map(|_| ())
            .map_err(|e| e.errno)
    }
    fn symlink(&self, target: &Path, p: &Path) -> Result<(), Errno> {
        self.changing();
        let (dir, name) = self.parent(p)?;
        if self.child(dir, name)?.is_some() {
            return Err(libc::EEXIST);
        }
        self.core
            .symlink(dir, name, target)
            .map(|_| ())
            .map_err(|e| e.errno)
    }
    fn hard_link(&self, from: &Path, to: &Path) -> Result<(), Errno> {
        self.changing();
        // linkat: the source, then the destination's folder and name, and
        // a folder is refused last (vfs_link)
        let (ino, kind, _) = self.walk(from)?;
        let (dir, name) = self.parent(to)?;
        if self.child(dir, name)?.is_some() {
            return Err(libc::EEXIST);
        }
        if kind == Kind::Dir {
            return Err(libc::EPERM);
        }
        self.core
            .link(ino, dir, name)
            .map(|_| ())
            .map_err(|e| e.errno)
    }
    fn rename(&self, from: &Path, to: &Path) -> Result<(), Errno> {
        self.changing();
        // renameat2: both parent folders, then the source, then the traps
        // and the kinds (vfs_rename), then the filesystem
        let (sdir, sname) = self.parent(from)?;
        let (ddir, dname) = self.parent(to)?;
        let Some((sino, skind)) = self.child(sdir, sname)? else {
            return Err(libc::ENOENT);
        };
        // lock_rename's traps, between two different folders only
        if sdir != ddir {
            if skind == Kind::Dir && to.starts_with(from) {
                return Err(libc::EINVAL);
            }
            if from.starts_with(to) {
                return Err(libc::ENOTEMPTY);
            }
        }
        if let Some((tino, tkind)) = self.child(ddir, dname)? {
            if tino == sino {
                return Ok(());
            }
            match (skind == Kind::Dir, tkind == Kind::Dir) {
                (true, false) => return Err(libc::ENOTDIR),
                (false, true) => return Err(libc::EISDIR),
                _ => {}
            }
        }
        self.core
            .rename(sdir, sname, ddir, dname, false, false)
            .map_err(|e| e.errno)
    }
    fn remove_file(&self, p: &Path) -> Result<(), Errno> {
        self.changing();
        let (dir, name) = self.parent(p)?;
        match self.child(dir, name)? {
            None => Err(libc::ENOENT),
            Some((_, Kind::Dir)) => Err(libc::EISDIR),
            Some(_) => self.core.unlink(dir, name).map_err(|e| e.errno),
        }
    }
    fn create_dir(&self, p: &Path) -> Result<(), Errno> {
        self.changing();
        let (dir, name) = self.parent(p)?;
        if self.child(dir, name)?.is_some() {
            return Err(libc::EEXIST);
        }
        self.core.mkdir(dir, name).map(|_| ()).map_err(|e| e.errno)
    }
    fn remove_dir(&self, p: &Path) -> Result<(), Errno> {
        self.changing();
        let (dir, name) = self.parent(p)?;
        match self.child(dir, name)? {
            None => Err(libc::ENOENT),
            Some((_, k)) if k != Kind::Dir => Err(libc::ENOTDIR),
            Some(_) => self.core.rmdir(dir, name).map_err(|e| e.errno),
        }
    }
    fn setxattr(&self, p: &Path, name: &str, value: &[u8]) -> Result<(), Errno> {
        self.changing();
        let (ino, _, _) = self.walk(p)?;
        self.core
            .setxattr(ino, OsStr::new(name), value)
            .map_err(|e| e.errno)
    }
    fn getxattr(&self, p: &Path, name: &str) -> Result<Vec<u8>, Errno> {
        let (ino, _, _) = self.walk(p)?;
        self.core
            .getxattr(ino, OsStr::new(name))
            .map_err(|e| e.errno)
    }
    fn stat(&self, p: &Path) -> Result<(Kind, u64), Errno> {
        let (_, kind, attr) = self.walk(p)?;
        Ok((kind, attr.size))
    }
    fn read(&self, p: &Path) -> Result<Vec<u8>, Errno> {
        let (ino, kind, _) = self.walk(p)?;
        if kind == Kind::Dir {
            return Err(libc::EISDIR);
        }
        let fh = match self
            .core
            .open(ino, OpenFlags(libc::O_RDONLY))
            .map_err(|e| e.errno)?
        {
            Opened::Plain(fh, _) => fh,
            // the core turns passthrough on only when a kernel says it can
            Opened::Backing { .. } => panic!("passthrough without a kernel"),
        };
        let mut out = Vec::new();
        let result = loop {
            match self.core.read(fh, out.len() as u64, 1 << 20) {
                Ok(chunk) if chunk.is_empty() => break Ok(()),
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(e) => break Err(e.errno),
            }
        };
        let _ = self.core.release(fh);
        result.map(|()| out)
    }
    fn list(&self, p: &Path) -> Result<BTreeMap<String, Kind>, Errno> {
        let (ino, _, _) = self.walk(p)?;
        let fh = self.core.opendir(ino).map_err(|e| e.errno)?;
        let listed = self.core.dir_listing(fh).map_err(|e| e.errno);
        let out = listed.map(|d| {
            d.children()
                .iter()
                .filter(|c| c.name != b"." && c.name != b"..")
                .map(|c| {
                    (
                        String::from_utf8_lossy(&c.name).into_owned(),
                        ftype(&c.attr),
                    )
                })
                .collect()
        });
        self.core.releasedir(fh);
        out
    }
}
