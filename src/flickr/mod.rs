//! The Flickr API client: OAuth 1.0a signing, typed REST calls, uploads,
//! downloads, a per-key call budget and retries.
//!
//! [`Client`] is cheap to clone and safe to share between tasks. Every
//! endpoint is configurable through [`Endpoints`], so the same client talks to
//! the real Flickr or to the local emulator. Not in here: deciding what to
//! sync (`sync`), storing accounts (`accounts`), or anything about files
//! beyond the one being uploaded or downloaded.
//!
//! ```no_run
//! # async fn demo() -> Result<(), flickrfs::flickr::FlickrError> {
//! use flickrfs::flickr::{AccessToken, ApiCredentials, Client, ClientOptions, Endpoints, Extra};
//! let client = Client::new(
//!     Endpoints::flickr(),
//!     ApiCredentials::new("key", "secret"),
//!     Some(AccessToken::new("token", "token secret")),
//!     ClientOptions::default(),
//! )?;
//! let me = client.test_login().await?;
//! let photos = client.list_all_photos(Extra::SYNC).await?;
//! # let _ = (me, photos); Ok(()) }
//! ```

mod client;
mod credentials;
mod decode;
mod download;
pub use download::DownloadWatch;
mod error;
mod methods;
mod oauth;
mod ratelimit;
mod retry;
mod sign;
mod types;
mod upload;

pub use client::{Client, ClientOptions, Endpoints};
pub use credentials::{AccessToken, ApiCredentials, Credentials, RequestToken};
pub use decode::Page;
pub use error::{FlickrError, Result, AUTH_CODES, TRANSIENT_CODES};
pub use methods::{MachineTagMode, SearchQuery, PER_PAGE_MAX};
pub use ratelimit::{RateLimit, RateLimiter};
pub use retry::{Repeat, RetryPolicy};
pub use types::*;
pub use upload::{parse_upload_reply, quote_tags};
