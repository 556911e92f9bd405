//! The mount: the catalog as a folder tree through FUSE.
//!
//! This module only translates kernel requests into catalog operations and
//! file I/O on backing files; what an operation *means* is the catalog's.
//! It never calls Flickr and never deletes or changes a user's file.
//!
//! - [`mount`]: `flickrfs mount` (daemonises unless `foreground`, unmounts
//!   cleanly on SIGINT/SIGTERM/SIGHUP); [`unmount`]: `flickrfs unmount`.
//! - [`spawn_mount`]: an in-process mount for tests, the demo and embedding,
//!   unmounted when its [`MountHandle`] is dropped.
//! - [`SyncRequest`] / [`SyncHook`] / [`StatusBoard`]: what a write to
//!   `/.flickrfs/sync` hands to the sync engine, and the status it shows.
//!
//! Layout: `tree.rs` (node kinds and name rules), `inodes.rs`, `ops.rs` (the
//! core), `adapter.rs` (the `fuser::Filesystem` edge), `io.rs` (read and
//! write paths), `control.rs`, `xattr.rs`, `invalidate.rs`, `prefetch.rs`
//! (listing the next set folder ahead of a walker).
//!
//! # Semantics at the FUSE edge
//!
//! | system call | what the mount does |
//! | --- | --- |
//! | `read` | kernel passthrough to the backing file (root, Linux 6.9+), else `pread` into a buffer kept per FUSE thread (the kernel asks for 128 KiB at a time, its readahead window for FUSE, which only root could widen) with `FOPEN_KEEP_CACHE` while the file's size and mtime are unchanged; a file changed behind the mount drops the kernel's pages and size at the next open; a missing file is `EIO` plus a status line |
//! | `create` + `write` | a new real file in the account's default folder (`name`, `name (1)`...; never replacing one), registered at once, fsynced with its folder and finished in the catalog at `flush`/`fsync`/`release`; content the catalog already has becomes that photo (this mount's redundant copy is removed, nothing else) |
//! | `write`/`truncate` of an existing entry | copy-on-write: the first change copies the entry's file into the default folder (or starts empty with `O_TRUNC`) and the photo refers to the copy from then on; the original file is never modified. Files the mount created in this session are written in place |
//! | `utimens` | passed to the entry's current file |
//! | `symlink` | `ln -s /abs/path`: a reference without a copy (relative targets, targets inside the mount and non-regular files: `EINVAL`). The kernel insists the new inode be a symlink, so the reply is a zero-TTL stub and the next lookup shows the plain file |
//! | `link`, `rename`, `unlink`, `mkdir`, `rmdir` | [`crate::catalog::Catalog::link`], `rename` (`rename_set` for set folders), `unlink`, `mkdir`, `rmdir`; `RENAME_EXCHANGE`: `EINVAL`; across accounts: `EXDEV` |
//! | `setxattr`/`getxattr`/`listxattr`/`removexattr` | `user.flickr.*` settings (validated: `EINVAL`), read-only facts (`EPERM`), other `user.*` names `ENODATA`, other namespaces (`security.*`, ACLs) `ENOTSUP`, which `ls -l` caches per device |
//! | `chmod`/`chown` | accepted and ignored (entries are references) |
//! | `statfs` | the filesystem of the default folder |
//! | names | non-UTF-8: `EILSEQ`; over 255 bytes: `ENAMETOOLONG`; both with a status line |
//!
//! Inode numbers are per node (a photo in one folder; a photo's several
//! names in one folder are links of one inode) and stable while mounted.
//! Entry and attribute timeouts are long; listings come from the catalog
//! (recorded size and mtime, one query per folder), are cached by the
//! kernel, and the next set folder of a walk is listed ahead. Folders
//! report a 1 MiB block size, which makes readdir(3) ask for whole sets
//! at once. The change watcher polls the catalog's generation every second
//! and invalidates what changed; after an operation with side effects in
//! other folders it runs at once, before the system call returns.

mod adapter;
pub mod control;
mod error;
mod fetching;
mod inodes;
mod invalidate;
mod io;
mod locks;
mod ops;
mod prefetch;
mod trash;
pub mod tree;
mod xattr;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use fuser::{BackgroundSession, Config, MountOption, Session, SessionACL};

use crate::catalog::{Catalog, CatalogError};

pub use control::{FetchHook, StatusBoard, SyncHook, SyncRequest, SyncResult};
pub use fetching::Fetching;

/// See [`MountOptions::on_serve`].
pub type OnServe = Arc<dyn Fn() + Send + Sync>;
pub use error::{FsError, FsResult};
pub use ops::{DirEntry, DirHandle, FsCore, Libraries, Opened};

/// How to mount.
#[derive(Clone)]
pub struct MountOptions {
    pub mountpoint: PathBuf,
    /// The catalog file (`Paths::catalog_db()`).
    pub catalog_path: PathBuf,
    /// Where the daemon writes its log (`Paths::log_dir()/mount.log`);
    /// required unless `foreground`.
    pub log_file: Option<PathBuf>,
    /// Stay in the foreground instead of daemonising.
    pub foreground: bool,
    /// Let other users see the mount (`allow_other`; needs `user_allow_other`
    /// in /etc/fuse.conf for non-root users). Off by default.
    pub allow_other: bool,
    /// Never use kernel passthrough: serve reads with `pread`.
    pub force_pread: bool,
    /// FUSE worker threads.
    pub threads: usize,
    /// How often the catalog's change counter is polled.
    pub poll_interval: Duration,
    /// Entry and attribute timeout given to the kernel.
    pub ttl: Duration,
    /// Receives each request written to `/.flickrfs/sync` (the sync engine
    /// running inside the daemon). Without it, requests are recorded and the
    /// status says no engine is attached.
    pub sync_hook: Option<SyncHook>,
    /// Brings down the original of a photo opened before it is on disk
    /// (photos on demand); without it such an open answers EIO.
    pub fetch_hook: Option<FetchHook>,
    /// Called once the mount serves (in the daemon, after it has forked):
    /// starts what runs beside it, such as auto-sync.
    pub on_serve: Option<OnServe>,
    /// The board `/.flickrfs/status` shows; pass one to share it with the
    /// sync engine (which sets `sync_state` and may add problems).
    pub status: Option<Arc<Mutex<StatusBoard>>>,
    /// Each account's library folders: a copy into the mount of a file
    /// found there becomes a reference to it. An account without one keeps
    /// every copy in its default folder.
    pub libraries: Libraries,
    /// Where photo pages live, for `user.flickr.url`: Flickr's
    /// ([`crate::catalog::FLICKR_PHOTO_PAGES`], the default) or the
    /// emulator's (`config::Endpoint::photo_pages`).
    pub photo_pages: String,
}

impl std::fmt::Debug for MountOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MountOptions")
            .field("mountpoint", &self.mountpoint)
            .field("catalog_path", &self.catalog_path)
            .field("log_file", &self.log_file)
            .field("foreground", &self.foreground)
            .field("allow_other", &self.allow_other)
            .field("force_pread", &self.force_pread)
            .field("threads", &self.threads)
            .field("sync_hook", &self.sync_hook.is_some())
            .field("fetch_hook", &self.fetch_hook.is_some())
            .field("libraries", &self.libraries)
            .finish()
    }
}

impl MountOptions {
    /// Defaults: daemonise, owner-only, passthrough when available, 2
    /// threads, 1 s polling, 1 h timeouts.
    pub fn new(mountpoint: impl Into<PathBuf>, catalog_path: impl Into<PathBuf>) -> Self {
        MountOptions {
            mountpoint: mountpoint.into(),
            catalog_path: catalog_path.into(),
            log_file: None,
            foreground: false,
            allow_other: false,
            force_pread: false,
            threads: 2,
            poll_interval: Duration::from_secs(1),
            ttl: Duration::from_secs(3600),
            sync_hook: None,
            fetch_hook: None,
            on_serve: None,
            status: None,
            libraries: Libraries::new(),
            photo_pages: crate::catalog::FLICKR_PHOTO_PAGES.to_owned(),
        }
    }
}

/// Why mounting or unmounting failed, for people.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("mount point {0} does not exist; create an empty folder first")]
    MissingMountpoint(PathBuf),
    #[error("mount point {0} is not a folder")]
    NotADirectory(PathBuf),
    #[error("mount point {0} is not empty (or already mounted); use an empty folder")]
    NotEmpty(PathBuf),
    #[error("opening the catalog {path}: {source}")]
    Catalog {
        path: PathBuf,
        #[source]
        source: CatalogError,
    },
    #[error("mounting FUSE at {path}: {source} (is /dev/fuse present and fusermount3 installed?)")]
    Fuse {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the daemon needs a log file (MountOptions::log_file) unless --foreground")]
    NoLogFile,
    #[error("starting the daemon: {0}")]
    Daemon(String),
    #[error("unmounting {path}: {message}")]
    Unmount { path: PathBuf, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

fn check_mountpoint(p: &Path) -> Result<PathBuf, MountError> {
    let meta = std::fs::metadata(p).map_err(|_| MountError::MissingMountpoint(p.to_path_buf()))?;
    if !meta.is_dir() {
        return Err(MountError::NotADirectory(p.to_path_buf()));
    }
    let mut rd = std::fs::read_dir(p).map_err(|e| MountError::Io {
        context: format!("reading mount point {}", p.display()),
        source: e,
    })?;
    if rd.next().is_some() {
        return Err(MountError::NotEmpty(p.to_path_buf()));
    }
    std::fs::canonicalize(p).map_err(|e| MountError::Io {
        context: format!("resolving {}", p.display()),
        source: e,
    })
}

fn fuse_config(opts: &MountOptions) -> Config {
    let mut cfg = Config::default();
    cfg.mount_options = vec![
        MountOption::FSName("flickrfs".into()),
        MountOption::Subtype("flickrfs".into()),
        MountOption::NoAtime,
        MountOption::NoDev,
        MountOption::NoSuid,
    ];
    if opts.allow_other {
        cfg.acl = SessionACL::All;
        cfg.mount_options.push(MountOption::DefaultPermissions);
    }
    cfg.n_threads = Some(opts.threads.max(1));
    cfg.clone_fd = opts.threads > 1;
    cfg
}

/// The core and the watcher's side, built in dependency order: what the
/// core shares with the change watcher first, then the core, complete; the
/// watcher starts once the kernel session exists.
struct Built {
    core: Arc<ops::FsCore>,
    shared: invalidate::Shared,
    kicks: std::sync::mpsc::Receiver<invalidate::Kick>,
}

/// Starts the change watcher, once the kernel session it notifies exists.
fn start_watcher(
    shared: invalidate::Shared,
    kicks: std::sync::mpsc::Receiver<invalidate::Kick>,
    opts: &MountOptions,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<()>, MountError> {
    invalidate::spawn(
        shared,
        opts.catalog_path.clone(),
        opts.poll_interval,
        stop,
        kicks,
    )
    .map_err(|e| MountError::Io {
        context: "starting the change watcher".into(),
        source: e,
    })
}

fn build_core(opts: &MountOptions, mountpoint: &Path) -> Result<Built, MountError> {
    let mut catalog = Catalog::open(&opts.catalog_path).map_err(|source| MountError::Catalog {
        path: opts.catalog_path.clone(),
        source,
    })?;
    catalog.set_photo_pages(&opts.photo_pages);
    // Files a killed mount left half-written are never shown as photos
    // nor uploaded; their bytes stay on disk and the status lists them.
    match catalog.settle_unfinished() {
        Ok(paths) => {
            for p in paths {
                tracing::warn!(
                    "{}: was being written when the mount stopped; not uploaded",
                    p.display()
                );
            }
        }
        Err(e) => tracing::warn!("settling files left being written: {e}"),
    }
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let cfg = ops::CoreConfig {
        mountpoint: mountpoint.to_path_buf(),
        uid,
        gid,
        want_passthrough: !opts.force_pread,
        ttl: opts.ttl,
        trash_info: opts
            .catalog_path
            .parent()
            .unwrap_or(Path::new("."))
            .join("trash-info"),
    };
    let shared = invalidate::Shared::new(
        opts.status
            .clone()
            .unwrap_or_else(|| Arc::new(Mutex::new(StatusBoard::default()))),
    );
    let (kicker, kicks) = invalidate::kicker();
    let core = Arc::new(ops::FsCore::new(
        cfg,
        catalog,
        shared.clone(),
        ops::Hooks {
            sync: opts.sync_hook.clone(),
            fetch: opts.fetch_hook.clone(),
            libraries: opts.libraries.clone(),
        },
        kicker,
        prefetch::Prefetcher::start(&opts.catalog_path),
    ));
    Ok(Built {
        core,
        shared,
        kicks,
    })
}

/// The filesystem core without a kernel mount: every operation of the mount
/// as a method call (`lookup`, `create`, `write`, `rename`...), for tests
/// that drive it in-process. `opts.mountpoint` is only used to refuse `ln -s`
/// targets inside it.
pub fn unmounted_core(opts: &MountOptions) -> Result<Arc<ops::FsCore>, MountError> {
    Ok(build_core(opts, &opts.mountpoint)?.core)
}

/// A mount running in this process (tests, embedding). Dropping it
/// unmounts.
pub struct MountHandle {
    session: Option<BackgroundSession>,
    poller: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    mountpoint: PathBuf,
    core: Arc<ops::FsCore>,
}

impl std::fmt::Debug for MountHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MountHandle")
            .field("mountpoint", &self.mountpoint)
            .finish()
    }
}

impl MountHandle {
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }
    /// Whether reads use kernel passthrough in this mount.
    pub fn passthrough(&self) -> bool {
        self.core.passthrough.load(Ordering::Relaxed)
    }
    /// The status board (what `/.flickrfs/status` shows).
    pub fn status(&self) -> Arc<Mutex<StatusBoard>> {
        self.core.status().clone()
    }
    /// Unmount and wait for the FUSE threads.
    pub fn unmount(mut self) -> Result<(), MountError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), MountError> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(p) = self.poller.take() {
            let _ = p.join();
        }
        if let Some(s) = self.session.take() {
            s.umount_and_join().map_err(|e| MountError::Unmount {
                path: self.mountpoint.clone(),
                message: e.to_string(),
            })?;
        }
        Ok(())
    }
}

impl Drop for MountHandle {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::warn!("{e}");
            let _ = unmount(&self.mountpoint);
        }
    }
}

/// Mount in this process, serving requests on background threads.
pub fn spawn_mount(opts: MountOptions) -> Result<MountHandle, MountError> {
    let mountpoint = check_mountpoint(&opts.mountpoint)?;
    let Built {
        core,
        shared,
        kicks,
    } = build_core(&opts, &mountpoint)?;
    let session = Session::new(
        adapter::Adapter { core: core.clone() },
        &mountpoint,
        &fuse_config(&opts),
    )
    .map_err(|source| MountError::Fuse {
        path: mountpoint.clone(),
        source,
    })?;
    shared.kernel.attach(session.notifier());
    let bg = session.spawn().map_err(|source| MountError::Fuse {
        path: mountpoint.clone(),
        source,
    })?;
    let stop = Arc::new(AtomicBool::new(false));
    let poller = start_watcher(shared, kicks, &opts, stop.clone())?;
    tracing::info!("mounted flickrfs at {}", mountpoint.display());
    if let Some(f) = &opts.on_serve {
        f();
    }
    Ok(MountHandle {
        session: Some(bg),
        poller: Some(poller),
        stop,
        mountpoint,
        core,
    })
}

/// `flickrfs mount`: mount and serve until unmounted (by `flickrfs
/// unmount`, `fusermount3 -u`, SIGINT or SIGTERM). Daemonises unless
/// `opts.foreground`: the call then returns in the parent once the mount
/// is up (or with the child's error).
pub fn mount(opts: MountOptions) -> Result<(), MountError> {
    let mountpoint = check_mountpoint(&opts.mountpoint)?;
    if !opts.foreground {
        let log = opts.log_file.clone().ok_or(MountError::NoLogFile)?;
        return daemon::daemonise(&log, || serve(&opts, &mountpoint));
    }
    serve(&opts, &mountpoint).map(|_| ())
}

/// Mount, tell a waiting parent, serve until unmounted.
fn serve(opts: &MountOptions, mountpoint: &Path) -> Result<(), MountError> {
    let Built {
        core,
        shared,
        kicks,
    } = build_core(opts, mountpoint)?;
    let mut session = Session::new(
        adapter::Adapter { core: core.clone() },
        mountpoint,
        &fuse_config(opts),
    )
    .map_err(|source| MountError::Fuse {
        path: mountpoint.to_path_buf(),
        source,
    })?;
    shared.kernel.attach(session.notifier());
    drop(core);
    let unmounter = session.unmount_callable();
    let stop = Arc::new(AtomicBool::new(false));
    let poller = start_watcher(shared, kicks, opts, stop.clone())?;
    signals::install(unmounter, mountpoint.to_path_buf()).map_err(|e| MountError::Io {
        context: "installing signal handlers".into(),
        source: e,
    })?;
    tracing::info!("mounted flickrfs at {}", mountpoint.display());
    eprintln!(
        "flickrfs: serving {} (pid {})",
        mountpoint.display(),
        std::process::id()
    );
    daemon::notify_ready();
    if let Some(f) = &opts.on_serve {
        f();
    }
    let res = session.run();
    stop.store(true, Ordering::Relaxed);
    let _ = poller.join();
    tracing::info!("unmounted {}", mountpoint.display());
    res.map_err(|source| MountError::Fuse {
        path: mountpoint.to_path_buf(),
        source,
    })
}

/// `flickrfs unmount MOUNTPOINT`: `fusermount3 -u`, falling back to `umount`.
pub fn unmount(path: &Path) -> Result<(), MountError> {
    let mut msgs = Vec::new();
    for (prog, args) in [
        ("fusermount3", vec!["-u"]),
        ("fusermount", vec!["-u"]),
        ("umount", vec![]),
    ] {
        match Command::new(prog).args(&args).arg(path).output() {
            Ok(out) if out.status.success() => return Ok(()),
            Ok(out) => msgs.push(format!(
                "{prog}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )),
            Err(e) => msgs.push(format!("{prog}: {e}")),
        }
    }
    Err(MountError::Unmount {
        path: path.to_path_buf(),
        message: msgs.join("; "),
    })
}

mod signals {
    //! SIGINT/SIGTERM/SIGHUP end the mount cleanly: a handler (whatever
    //! thread it runs on) writes a byte to a pipe, and a dedicated thread
    //! reading that pipe unmounts, which ends the session loop.
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicI32, Ordering};

    static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

    extern "C" fn on_signal(_sig: libc::c_int) {
        let fd = WAKE_FD.load(Ordering::Relaxed);
        if fd >= 0 {
            let b = 1u8;
            // SAFETY: write(2) is async-signal-safe; the buffer is valid.
            unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
        }
    }

    /// Install the handlers and the thread that unmounts on a signal.
    pub fn install(
        mut unmounter: fuser::SessionUnmounter,
        mountpoint: PathBuf,
    ) -> std::io::Result<()> {
        let mut fds = [0i32; 2];
        // SAFETY: valid out array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        WAKE_FD.store(fds[1], Ordering::Relaxed);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // SAFETY: installing a handler that only calls write(2).
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                sa.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
        let rd = fds[0];
        std::thread::Builder::new()
            .name("flickrfs-signals".into())
            .spawn(move || {
                let mut b = 0u8;
                loop {
                    // SAFETY: reading one byte into a valid buffer.
                    let n = unsafe { libc::read(rd, (&mut b as *mut u8).cast(), 1) };
                    if n == 1 {
                        break;
                    }
                    if n < 0
                        && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted
                    {
                        continue;
                    }
                    return;
                }
                tracing::info!("signal received: unmounting {}", mountpoint.display());
                eprintln!(
                    "flickrfs: signal received, unmounting {}",
                    mountpoint.display()
                );
                if let Err(e) = unmounter.unmount() {
                    tracing::warn!(
                        "unmount failed ({e}); trying fusermount3 -u, then a lazy unmount"
                    );
                    if super::unmount(&mountpoint).is_err() {
                        if let Ok(c) = std::ffi::CString::new(
                            std::os::unix::ffi::OsStrExt::as_bytes(mountpoint.as_os_str()),
                        ) {
                            // SAFETY: valid C string.
                            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
                        }
                    }
                }
            })?;
        Ok(())
    }
}

mod daemon {
    //! Daemonising: fork, `setsid`, stdio to the log file; the parent waits
    //! on a pipe until the child says the mount is up (or why it failed).
    //!
    //! The system calls are nix's. The `daemonize` crate is not used: its
    //! parent returns as soon as the child has forked (it cannot wait for
    //! "the mount is up" or carry the child's error back), it forks twice
    //! and it sets a umask of its own, each a change the callers would see.
    use std::fs::OpenOptions;
    use std::io::{Read, Write};
    use std::path::Path;
    use std::sync::Mutex;

    use nix::fcntl::OFlag;
    use nix::unistd::{dup2_stderr, dup2_stdin, dup2_stdout, fork, pipe2, setsid, ForkResult};

    use super::MountError;

    static READY: Mutex<Option<std::fs::File>> = Mutex::new(None);

    /// Tell the waiting parent the mount is up.
    pub fn notify_ready() {
        if let Some(mut f) = super::locks::lock(&READY).take() {
            let _ = f.write_all(b"ok");
        }
    }

    pub fn daemonise(
        log: &Path,
        run: impl FnOnce() -> Result<(), MountError>,
    ) -> Result<(), MountError> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| MountError::Io {
                context: format!("creating {}", dir.display()),
                source: e,
            })?;
        }
        let logf = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| MountError::Io {
                context: format!("opening log {}", log.display()),
                source: e,
            })?;
        let (rd, wr) = pipe2(OFlag::O_CLOEXEC).map_err(|e| MountError::Daemon(e.to_string()))?;
        // A catalog connection carried across fork() would share its POSIX
        // locks with the parent and corrupt the WAL: the child opens its own.
        let open = crate::catalog::live_connections();
        if open > 0 {
            return Err(MountError::Daemon(format!(
                "{open} catalog connection(s) open before daemonising; the daemon must open its own"
            )));
        }
        // SAFETY: fork in a process that has not started threads yet
        // (mount() is called before any thread is spawned).
        match unsafe { fork() }.map_err(|e| MountError::Daemon(e.to_string()))? {
            ForkResult::Parent { .. } => {
                drop(wr);
                let mut f = std::fs::File::from(rd);
                let mut msg = String::new();
                let _ = f.read_to_string(&mut msg);
                return if msg.starts_with("ok") {
                    Ok(())
                } else if msg.is_empty() {
                    Err(MountError::Daemon(format!(
                        "the daemon exited before mounting; see {}",
                        log.display()
                    )))
                } else {
                    Err(MountError::Daemon(msg))
                };
            }
            ForkResult::Child => {}
        }
        drop(rd);
        let _ = setsid();
        if let Ok(devnull) = OpenOptions::new().read(true).write(true).open("/dev/null") {
            let _ = dup2_stdin(&devnull);
        }
        let _ = dup2_stdout(&logf);
        let _ = dup2_stderr(&logf);
        let _ = std::env::set_current_dir("/");
        *super::locks::lock(&READY) = Some(std::fs::File::from(wr));
        let code = match run() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("flickrfs mount: {e}");
                if let Some(mut f) = super::locks::lock(&READY).take() {
                    let _ = f.write_all(e.to_string().as_bytes());
                }
                1
            }
        };
        std::process::exit(code);
    }
}
