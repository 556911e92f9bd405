//! The thin `fuser::Filesystem` adapter: decode each kernel request, call
//! the matching `FsCore` method, and reply. Errors become an errno plus one
//! log line (and a status line when the user should see it). A panic in the
//! core is caught and answered with EIO: callbacks never unwind into fuser.

use std::ffi::OsStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, InitFlags, KernelConfig,
    LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr,
    Request, TimeOrNow, WriteFlags,
};

use super::error::{FsError, FsResult};
use super::ops::{FsCore, Opened};
use super::xattr;

pub struct Adapter {
    pub core: Arc<FsCore>,
}

const GEN: Generation = Generation(0);

impl Adapter {
    fn ttl(&self, ino: u64) -> Duration {
        self.core.ttl_of(ino)
    }

    /// Run a core call; a panic becomes EIO with a log line.
    fn guard<T>(&self, op: &str, f: impl FnOnce() -> FsResult<T>) -> FsResult<T> {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(r) => r,
            Err(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                Err(FsError::new(libc::EIO, format!("internal error in {op}: {msg}")).with_status())
            }
        }
    }

    /// Log an error once and turn it into the errno for the reply.
    fn fail(&self, op: &str, what: &dyn std::fmt::Display, e: FsError) -> Errno {
        if e.status {
            self.core.problem(format!("{op} {what}: {}", e.message));
        } else if e.message.is_empty() {
            tracing::debug!("{op} {what}: errno {}", e.errno);
        } else {
            tracing::warn!("{op} {what}: {} (errno {})", e.message, e.errno);
        }
        Errno::from_i32(e.errno)
    }
}

struct Name<'a>(&'a OsStr);
impl std::fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0.to_string_lossy())
    }
}

impl Filesystem for Adapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        let caps = config.capabilities();
        // ATOMIC_O_TRUNC: O_TRUNC arrives with open, so truncating an entry
        // can start a fresh copy instead of emptying someone's file
        let mut want = InitFlags::FUSE_ATOMIC_O_TRUNC
            | InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP;
        want &= caps;
        let _ = config.add_capabilities(want);
        // large requests: readahead as large as the kernel allows (it caps
        // what it offers), writes of 1 MiB
        match config.set_max_readahead(1024 * 1024) {
            Ok(_) => tracing::debug!("max readahead 1 MiB"),
            Err(max) => {
                let _ = config.set_max_readahead(max);
                tracing::debug!("max readahead {max} bytes (the kernel's limit)");
            }
        }
        let _ = config.set_max_write(1024 * 1024);
        let root = nix_euid_is_root();
        if self.core.cfg.want_passthrough {
            if !caps.contains(InitFlags::FUSE_PASSTHROUGH) {
                tracing::info!("kernel has no FUSE passthrough: reads use pread");
            } else if !root {
                tracing::info!("FUSE passthrough needs root (CAP_SYS_ADMIN): reads use pread");
            } else if config.add_capabilities(InitFlags::FUSE_PASSTHROUGH).is_ok()
                && config.set_max_stack_depth(2).is_ok()
            {
                self.core.passthrough.store(true, Ordering::Relaxed);
                tracing::info!("reads use kernel passthrough");
            }
        } else {
            tracing::info!("reads use pread (passthrough disabled by option)");
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.guard("lookup", || self.core.lookup(parent.0, name)) {
            Ok(attr) => reply.entry(&self.ttl(attr.ino.0), &attr, GEN),
            Err(e) => reply.error(self.fail("lookup", &Name(name), e)),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.guard("getattr", || self.core.getattr_fh(ino.0, fh.map(|f| f.0))) {
            Ok(attr) => reply.attr(&self.ttl(attr.ino.0), &attr),
            Err(e) => reply.error(self.fail("getattr", &ino.0, e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match self.guard("setattr", || {
            self.core
                .setattr(ino.0, size, atime, mtime, fh.map(|f| f.0))
        }) {
            Ok(attr) => reply.attr(&self.ttl(attr.ino.0), &attr),
            Err(e) => reply.error(self.fail("setattr", &ino.0, e)),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        match self.guard("mkdir", || self.core.mkdir(parent.0, name)) {
            Ok(attr) => reply.entry(&self.ttl(attr.ino.0), &attr, GEN),
            Err(e) => reply.error(self.fail("mkdir", &Name(name), e)),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.guard("unlink", || self.core.unlink(parent.0, name)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("unlink", &Name(name), e)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.guard("rmdir", || self.core.rmdir(parent.0, name)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("rmdir", &Name(name), e)),
        }
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        match self.guard("symlink", || self.core.symlink(parent.0, link_name, target)) {
            // zero timeouts: the next lookup replaces the stub by the entry
            Ok(attr) => reply.entry(&Duration::ZERO, &attr, GEN),
            Err(e) => reply.error(self.fail("symlink", &Name(link_name), e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.guard("readlink", || self.core.readlink(ino.0)) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(self.fail("readlink", &ino.0, e)),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let noreplace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        let exchange = flags.contains(RenameFlags::RENAME_EXCHANGE);
        match self.guard("rename", || {
            self.core
                .rename(parent.0, name, newparent.0, newname, noreplace, exchange)
        }) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("rename", &Name(name), e)),
        }
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        match self.guard("link", || self.core.link(ino.0, newparent.0, newname)) {
            Ok(attr) => reply.entry(&self.ttl(attr.ino.0), &attr, GEN),
            Err(e) => reply.error(self.fail("link", &Name(newname), e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.guard("open", || self.core.open(ino.0, flags)) {
            Ok(Opened::Plain(fh, fl)) => reply.opened(FileHandle(fh), fl),
            Ok(Opened::Backing { ino, file }) => {
                match self.guard("open", || {
                    self.core.attach_backing(ino, || reply.open_backing(&file))
                }) {
                    Ok((fh, id)) => {
                        reply.opened_passthrough(FileHandle(fh), FopenFlags::empty(), &id)
                    }
                    Err(e) => {
                        let (fh, fl) = self.core.fallback_to_pread(ino, file, &e);
                        reply.opened(FileHandle(fh), fl)
                    }
                }
            }
            Err(e) => reply.error(self.fail("open", &ino.0, e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        tracing::trace!("read fh {} offset {offset} size {size}", fh.0);
        // the reply is written from the core's buffer, inside the call
        let mut reply = Some(reply);
        let r = self.guard("read", || {
            self.core.read_with(fh.0, offset, size, |data| {
                if let Some(r) = reply.take() {
                    r.data(data)
                }
            })
        });
        if let (Err(e), Some(r)) = (r, reply.take()) {
            r.error(self.fail("read", &fh.0, e));
        }
    }

    fn write(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.guard("write", || self.core.write(fh.0, offset, data, req.pid())) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(self.fail("write", &fh.0, e)),
        }
    }

    fn flush(
        &self,
        req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        match self.guard("flush", || self.core.flush(fh.0, req.pid())) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("flush", &fh.0, e)),
        }
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        match self.guard("release", || self.core.release(fh.0)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("release", &fh.0, e)),
        }
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.guard("fsync", || self.core.fsync(fh.0)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("fsync", &fh.0, e)),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.guard("opendir", || self.core.opendir(ino.0)) {
            // the kernel keeps listings across opens; it drops them itself
            // when the directory changes through the mount, and the change
            // watcher drops them (inval_inode) when the catalog changes
            Ok(fh) if self.core.caches_listing(ino.0) => reply.opened(
                FileHandle(fh),
                FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE,
            ),
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(self.fail("opendir", &ino.0, e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        match self.guard("readdir", || self.core.dir_listing(fh.0)) {
            Ok(dir) => {
                for (i, c) in dir.children().iter().enumerate().skip(offset as usize) {
                    if reply.add(
                        INodeNo(c.ino),
                        (i + 1) as u64,
                        c.attr.kind,
                        OsStr::from_bytes_compat(&c.name),
                    ) {
                        break;
                    }
                }
                reply.ok()
            }
            Err(e) => reply.error(self.fail("readdir", &fh.0, e)),
        }
    }

    fn readdirplus(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        match self.guard("readdirplus", || self.core.dir_listing(fh.0)) {
            Ok(dir) => {
                for (i, c) in dir.children().iter().enumerate().skip(offset as usize) {
                    if reply.add(
                        INodeNo(c.ino),
                        (i + 1) as u64,
                        OsStr::from_bytes_compat(&c.name),
                        &self.ttl(c.ino),
                        &c.attr,
                        GEN,
                    ) {
                        break;
                    }
                }
                reply.ok()
            }
            Err(e) => reply.error(self.fail("readdirplus", &fh.0, e)),
        }
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        self.core.releasedir(fh.0);
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, ino: INodeNo, reply: ReplyStatfs) {
        let path = self.core.statfs_path(ino.0);
        match nix_statvfs(&path) {
            Ok(s) => reply.statfs(
                s.f_blocks,
                s.f_bfree,
                s.f_bavail,
                s.f_files,
                s.f_ffree,
                s.f_bsize as u32,
                255,
                s.f_frsize as u32,
            ),
            Err(e) => reply.error(self.fail(
                "statfs",
                &path.display(),
                FsError::from_io(e, "statvfs".into()),
            )),
        }
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        _flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        match self.guard("setxattr", || self.core.setxattr(ino.0, name, value)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("setxattr", &Name(name), e)),
        }
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        match self.guard("getxattr", || {
            let v = self.core.getxattr(ino.0, name)?;
            Ok((xattr::fits(v.len(), size)?, v))
        }) {
            Ok((None, v)) => reply.size(v.len() as u32),
            Ok((Some(()), v)) => reply.data(&v),
            Err(e) => reply.error(self.fail("getxattr", &Name(name), e)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        match self.guard("listxattr", || {
            let v = self.core.listxattr(ino.0)?;
            Ok((xattr::fits(v.len(), size)?, v))
        }) {
            Ok((None, v)) => reply.size(v.len() as u32),
            Ok((Some(()), v)) => reply.data(&v),
            Err(e) => reply.error(self.fail("listxattr", &ino.0, e)),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.guard("removexattr", || self.core.removexattr(ino.0, name)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(self.fail("removexattr", &Name(name), e)),
        }
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: ReplyCreate,
    ) {
        match self.guard("create", || self.core.create(parent.0, name, req.pid())) {
            Ok((attr, fh)) => reply.created(
                &self.ttl(attr.ino.0),
                &attr,
                GEN,
                FileHandle(fh),
                FopenFlags::FOPEN_DIRECT_IO,
            ),
            Err(e) => reply.error(self.fail("create", &Name(name), e)),
        }
    }
}

trait FromBytesCompat {
    fn from_bytes_compat(b: &[u8]) -> &OsStr;
}
impl FromBytesCompat for OsStr {
    fn from_bytes_compat(b: &[u8]) -> &OsStr {
        std::os::unix::ffi::OsStrExt::from_bytes(b)
    }
}

fn nix_euid_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn nix_statvfs(path: &Path) -> std::io::Result<libc::statvfs> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: valid C string and a properly sized out-pointer.
    let rc = unsafe { libc::statvfs(c.as_ptr(), s.as_mut_ptr()) };
    if rc == 0 {
        // SAFETY: statvfs succeeded and filled the struct.
        Ok(unsafe { s.assume_init() })
    } else {
        Err(std::io::Error::last_os_error())
    }
}
