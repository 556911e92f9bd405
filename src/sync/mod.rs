//! Two-way sync between the catalog and Flickr: fetch Flickr's state, identify
//! local files for online photos, plan (a pure three-way merge against the
//! last-synced base), and execute the plan with a journal.
//!
//! This module never touches FUSE; the mount and the CLI call its entry points.

pub mod effects;
pub mod identify;
pub mod plan;
pub mod snapshot;

pub use plan::{
    merge_field, merge_member, next_base, plan, Action, Conflict, ConflictField, Merge, MetaEdit,
    Plan, PlanError, PlanOptions, PlanSummary, SafetyConcern, SafetyLimits, SetFilter, Side,
    SkipReason, Skipped, Subject, Threshold,
};
pub use snapshot::{
    normalize_tag, BasePhoto, BaseSet, BaseSnapshot, Checksum, FileState, LocalKey, LocalPhoto,
    LocalSet, LocalSetKey, LocalSnapshot, Media, PhotoMeta, PhotoRef, RemotePhoto, RemoteSet,
    RemoteSnapshot, SetRef,
};
