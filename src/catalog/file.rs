//! The catalog's file on disk, and the only way a connection to it is made.
//!
//! SQLite's WAL mode relies on POSIX advisory locks, which Linux keeps per
//! *process* and drops all at once when the process closes *any* descriptor
//! of the file. So nothing here (nor anywhere in flickrfs) opens
//! `catalog.sqlite`, its `-wal` or its `-shm` other than through SQLite:
//! the file is created by SQLite and made private with `chmod` by path. If
//! it were not, another process (`sqlite3`, `flickrfs plan`) closing its
//! connection would believe it was the last user and delete the WAL the
//! mount is still writing to (SQLite's "How To Corrupt", section 2.2).
//!
//! Also refused here, with a message that says what to do: a catalog on a
//! network filesystem (WAL needs shared memory and working locks on one
//! host, section 2.1) and a catalog file with several hard links (each name
//! would get its own WAL, section 2.5). [`live_connections`] lets the mount
//! refuse to fork while a connection is open (section 2.6).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use super::error::{CatalogError, Result};

/// Connections to the catalog file open in this process.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many catalog connections this process holds now. The mount daemon
/// forks only when this is zero: a connection carried across `fork()`
/// shares its locks with the parent and corrupts the WAL.
pub fn live_connections() -> usize {
    LIVE.load(Ordering::SeqCst)
}

/// A connection to the catalog file, counted in [`live_connections`] until
/// dropped.
pub struct CatalogConnection {
    pub conn: Connection,
    /// Keeps the connection counted; move it beside `conn`.
    pub _live: LiveToken,
}

/// Counts one connection in [`live_connections`] until dropped.
pub struct LiveToken(());

impl Drop for LiveToken {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

impl CatalogConnection {
    /// Opens the catalog file at `path`, creating it (and its folder, 0700)
    /// if needed, through SQLite alone. A file created here is made 0600
    /// before anything is written into it; SQLite gives the `-wal` and
    /// `-shm` files the database file's mode.
    pub fn open(path: &Path) -> Result<CatalogConnection> {
        let open_err = |source: std::io::Error| CatalogError::Open {
            path: path.to_path_buf(),
            source,
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(open_err)?;
            set_mode(dir, 0o700).map_err(open_err)?;
        }
        refuse_network_filesystem(path, dir)?;
        let existed = match std::fs::symlink_metadata(path) {
            Ok(meta) => {
                refuse_hard_links(path, &meta)?;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(open_err(e)),
        };
        // The default unix VFS: POSIX locks, the protocol `sqlite3` and every
        // other SQLite program use, so they all take part in WAL locking.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(CatalogError::db(format!("opening {}", path.display())))?;
        LIVE.fetch_add(1, Ordering::SeqCst);
        // Plans that do not depend on bound values: otherwise SQLite marks
        // statements it planned by peeking at a parameter (a partial index,
        // a LIKE) to be compiled again at every new binding, and a cached
        // lookup costs a parse each time (measured: 45 µs → a few).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(CatalogError::db("keeping query plans stable"))?;
        // Room for every statement of the catalog: a statement pushed out
        // of the cache is parsed again.
        conn.set_prepared_statement_cache_capacity(256);
        let opened = CatalogConnection {
            conn,
            _live: LiveToken(()),
        };
        if !existed {
            // SQLite created it empty: private before the first byte.
            set_mode(path, 0o600).map_err(open_err)?;
        }
        Ok(opened)
    }
}

/// `chmod` by path: never a descriptor of the file (see the module doc).
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

fn refuse_hard_links(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    if meta.is_file() && meta.nlink() > 1 {
        return Err(CatalogError::UnsafeLocation {
            path: path.to_path_buf(),
            reason: format!(
                "the file has {} hard links; SQLite would keep a separate journal for each \
                 name and corrupt it. Keep one name (remove the other links) and try again",
                meta.nlink()
            ),
        });
    }
    Ok(())
}

/// Filesystems whose locks or shared memory do not work for SQLite's WAL,
/// by `statfs` magic (linux/magic.h).
const NETWORK_FILESYSTEMS: &[(i64, &str)] = &[
    (0x6969, "NFS"),
    (0x517B, "SMB"),
    (0xFF53_4D42, "CIFS"),
    (0xFE53_4D42, "SMB2"),
    (0x0102_1997, "9P"),
    (0x5346_414F, "AFS"),
    (0x6B41_4653, "AFS"),
    (0x00C3_6400, "Ceph"),
    (0x7375_7245, "Coda"),
    (0x564C, "NCP"),
    (0x0BD0_0BD0, "Lustre"),
    (0x4750_4653, "GPFS"),
];

fn refuse_network_filesystem(path: &Path, dir: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return Ok(());
    };
    // SAFETY: statfs fills the zeroed struct from a valid C string path.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return Ok(()); // the open that follows reports a real problem
    }
    let magic = st.f_type as i64 & 0xFFFF_FFFF;
    if let Some((_, name)) = NETWORK_FILESYSTEMS.iter().find(|(m, _)| *m == magic) {
        return Err(CatalogError::UnsafeLocation {
            path: path.to_path_buf(),
            reason: format!(
                "its folder is on a network filesystem ({name}), where SQLite's write-ahead log \
                 and locks are not safe. Put the catalog on a local disk: set XDG_DATA_HOME \
                 to a local folder (the catalog goes to $XDG_DATA_HOME/flickrfs/)"
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The locks this process holds on `path`'s inode, from /proc/locks.
    fn my_locks_on(path: &Path) -> Vec<String> {
        use std::os::unix::fs::MetadataExt;
        let ino = std::fs::metadata(path).expect("stat").ino();
        let pid = std::process::id().to_string();
        std::fs::read_to_string("/proc/locks")
            .expect("/proc/locks")
            .lines()
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // "1: POSIX  ADVISORY  READ 1234 08:01:5678 1073741826 1073742335"
                f.len() >= 6
                    && f[4] == pid
                    && f[5].rsplit(':').next() == Some(ino.to_string().as_str())
            })
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn opening_more_connections_keeps_the_first_ones_locks() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("catalog.sqlite");
        let first = crate::catalog::Catalog::open(&path).expect("open");
        first.generation().expect("read");
        let held = my_locks_on(&path);
        assert!(
            !held.is_empty(),
            "a WAL connection holds a shared lock on the database file"
        );
        let second = crate::catalog::Catalog::open(&path).expect("open again");
        second.generation().expect("read");
        drop(second);
        assert_eq!(
            my_locks_on(&path).len(),
            held.len(),
            "opening and closing another connection dropped the first one's locks"
        );
        drop(first);
    }

    #[test]
    fn a_new_catalog_is_private_and_counted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("sub").join("catalog.sqlite");
        let cat = crate::catalog::Catalog::open(&path).expect("open");
        assert!(live_connections() > 0);
        for p in [
            path.clone(),
            path.with_file_name("catalog.sqlite-wal"),
            path.with_file_name("catalog.sqlite-shm"),
        ] {
            let mode = std::fs::metadata(&p).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
        }
        let mode = std::fs::metadata(dir.path().join("sub"))
            .expect("stat")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
        drop(cat);
    }

    #[test]
    fn a_catalog_with_two_hard_links_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("catalog.sqlite");
        drop(crate::catalog::Catalog::open(&path).expect("open"));
        std::fs::hard_link(&path, dir.path().join("other.sqlite")).expect("link");
        let err = crate::catalog::Catalog::open(&path).expect_err("refused");
        assert!(err.to_string().contains("hard links"), "{err}");
    }
}
