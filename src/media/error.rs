//! The media helpers' error: what failed, on which path.

use std::path::{Path, PathBuf};

/// Errors of the media helpers, each with the path it concerns.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("reading {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("decoding image {path}: {message}")]
    Decode { path: PathBuf, message: String },
    #[error("encoding image {path}: {message}")]
    Encode { path: PathBuf, message: String },
}

impl MediaError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        MediaError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
