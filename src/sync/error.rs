//! The sync's errors: why a step failed ([`ExecError`]) and why a sync
//! stopped ([`SyncError`]).

use crate::catalog::CatalogError;
use crate::flickr::FlickrError;

use super::identify::IdentifyError;
use super::plan::PlanError;
use super::state::StateError;

/// Why a sync step failed.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Flickr(#[from] FlickrError),
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    #[error("{0}")]
    Inconsistent(String),
}

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Exec(#[from] ExecError),
    #[error("fetching Flickr's state: {0}")]
    Fetch(#[from] crate::flickr::FlickrError),
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("identifying local files: {0}")]
    Identify(#[from] IdentifyError),
}
