//! Extended attributes at the FUSE edge: which names the mount answers,
//! and the `getxattr`/`listxattr` size protocol. Values, validation and
//! storage are the catalog's (`crate::catalog::Xattr`).

use std::ffi::OsStr;

use crate::catalog::Xattr;

use super::error::FsError;

/// The attribute named `name`, or the errno for a name the mount does not
/// keep. Reading: a `user.*` name the mount does not hold is ENODATA (the
/// namespace exists, the attribute does not); any other namespace
/// (`security.*`, `system.posix_acl_*`, `trusted.*`) is EOPNOTSUPP, the
/// truth, and it lets tools remember it per device: `ls -l` otherwise
/// probes SELinux labels and ACLs on every file, three round trips each.
/// Writing anything else is EOPNOTSUPP (we cannot store arbitrary
/// attributes).
pub fn known(name: &OsStr, writing: bool) -> Result<Xattr, FsError> {
    Xattr::parse(name).ok_or_else(|| {
        if writing {
            FsError::new(
                libc::EOPNOTSUPP,
                format!(
                    "extended attribute {:?} is not kept by flickrfs (only user.flickr.*)",
                    name.to_string_lossy()
                ),
            )
        } else if name.as_encoded_bytes().starts_with(b"user.") {
            FsError::quiet(libc::ENODATA)
        } else {
            FsError::quiet(libc::EOPNOTSUPP)
        }
    })
}

/// Refuse writes to the read-only facts with EPERM.
pub fn check_writable(attr: Xattr) -> Result<(), FsError> {
    if attr.is_read_only() {
        return Err(FsError::new(
            libc::EPERM,
            format!("{} is read-only", attr.name()),
        ));
    }
    Ok(())
}

/// The NUL-separated list `listxattr` returns.
pub fn encode_list(attrs: &[Xattr]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in attrs {
        out.extend_from_slice(a.name().as_bytes());
        out.push(0);
    }
    out
}

/// What to answer for a value of `len` bytes when the caller offered
/// `size` bytes: `Ok(None)` = reply with the size only, `Ok(Some(()))` =
/// reply with the data, `Err` = ERANGE.
pub fn fits(len: usize, size: u32) -> Result<Option<()>, FsError> {
    if size == 0 {
        Ok(None)
    } else if len > size as usize {
        Err(FsError::quiet(libc::ERANGE))
    } else {
        Ok(Some(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sizes() {
        assert!(known(OsStr::new("user.flickr.privacy"), true).is_ok());
        let read_errno = |n: &str| known(OsStr::new(n), false).unwrap_err().errno;
        assert_eq!(read_errno("security.selinux"), libc::EOPNOTSUPP);
        assert_eq!(read_errno("system.posix_acl_access"), libc::EOPNOTSUPP);
        assert_eq!(read_errno("trusted.overlay.opaque"), libc::EOPNOTSUPP);
        assert_eq!(read_errno("user.other"), libc::ENODATA);
        assert_eq!(
            known(OsStr::new("user.other"), true).unwrap_err().errno,
            libc::EOPNOTSUPP
        );
        assert!(check_writable(Xattr::Id).is_err());
        assert!(check_writable(Xattr::Title).is_ok());
        assert_eq!(encode_list(&[Xattr::Title]), b"user.flickr.title\0");
        assert!(fits(10, 4).is_err());
        assert_eq!(fits(10, 0).unwrap(), None);
    }
}
