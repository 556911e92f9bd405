//! Media helpers shared by the catalog, the mount and the sync: content
//! checksums, content sniffing, EXIF facts (shooting time, pixel size), the
//! junk-name rule, and a resize that keeps the original EXIF block.
//!
//! Nothing here knows about the catalog, FUSE or Flickr; every function works
//! on bytes or on a path and never modifies its input.

mod checksum;
mod error;
mod exif;
mod facts;
mod junk;
mod kind;
mod resize;
mod sniff;
pub mod testdata;
mod walk;

pub use checksum::{sha1_bytes, sha1_file, Checksum};
pub use error::MediaError;
pub use exif::{read_exif, read_exif_bytes, ExifInfo};
pub use facts::{mtime_ns, FileFacts};
pub use junk::is_junk_name;
pub use kind::MediaKind;
pub use resize::resize_keep_exif;
pub use sniff::{sniff, sniff_file, SNIFF_LEN};
pub use walk::{is_fuse, Walker};
