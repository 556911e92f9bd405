//! The catalog: one SQLite file (WAL) holding accounts, collections (account
//! root, photosets, pools), photos with their local and Flickr sides,
//! memberships with their entry names, per-photo settings, the merge base of
//! the last sync, the sync journal, the status problems, and a change counter.
//!
//! It also holds what each file operation of the mount *means*
//! ([`Catalog::add_file`], [`Catalog::rename`], [`Catalog::unlink`]...), as
//! plain functions the FUSE layer only translates to and the tests call
//! directly. The catalog never deletes a user's file, and never talks to
//! Flickr or FUSE.
//!
//! Each thread (the mount, a running sync) opens its own [`Catalog`]: separate
//! connections, short `IMMEDIATE` transactions, a 5 s busy timeout.
//!
//! Invariant kept by every operation: a photo that is in no photoset (pools
//! don't count) and not ignored is listed in its account's root; a photo in
//! at least one photoset is not.

mod dirty;
mod error;
mod file;
mod handle;
pub mod names;
mod ops;
mod query;
mod schema;
mod store;
mod syncapi;
mod trash;
mod types;
mod xattr;

pub use dirty::{BaseCounts, DirtyMarks, Settled};
pub use error::{CatalogError, Result};
pub use file::{live_connections, CatalogConnection, LiveToken};
pub use handle::{Catalog, BUSY_TIMEOUT, FLICKR_PHOTO_PAGES};
pub use names::EntryName;
pub use ops::{WriteOutcome, Written};
pub use store::POOLS_DIR;
pub use trash::{TrashId, Trashed};
pub use types::*;
pub use xattr::{format_tags, parse_tags, Xattr};

#[cfg(test)]
mod tests;
