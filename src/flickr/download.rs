//! Downloading a photo file: streamed into a temporary file next to the
//! destination, fsynced, checked against Content-Length, then moved into
//! place without ever replacing a different existing file.
//!
//! File URLs come from Flickr's replies (`url_o`, getSizes) and are not
//! signed, nor counted against the API budget; transient failures are retried.

use std::path::{Path, PathBuf};

use reqwest::header::CONTENT_LENGTH;
use sha1::{Digest, Sha1};
use tokio::io::AsyncWriteExt;

use super::client::Client;
use super::error::{snippet, FlickrError, Result};
use super::types::DownloadOutcome;

const WHAT: &str = "download";

/// Follows a download while it happens: photos on demand serve a file's
/// bytes as they arrive.
pub trait DownloadWatch: Send + Sync {
    /// An attempt starts writing `file` (a handle on its temporary file,
    /// the whole body again), `expected` bytes long when the server said.
    fn started(&self, file: std::fs::File, expected: Option<u64>);
    /// The first `total` bytes of the attempt are in its file.
    fn wrote(&self, total: u64);
    /// The attempt's body is whole and as long as announced (it is not
    /// fsynced nor in place yet).
    fn complete(&self);
}

impl Client {
    /// Downloads `url` to `dest`. If `dest` already holds the same bytes the
    /// outcome is [`DownloadOutcome::AlreadyPresent`]; if it holds different
    /// bytes, [`FlickrError::DestinationExists`] and nothing is touched.
    pub async fn download_to(&self, url: &str, dest: &Path) -> Result<DownloadOutcome> {
        self.download_watched(url, dest, None).await
    }

    /// [`Client::download_to`], telling `watch` how it goes.
    pub async fn download_watched(
        &self,
        url: &str,
        dest: &Path,
        watch: Option<&dyn DownloadWatch>,
    ) -> Result<DownloadOutcome> {
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        self.inner
            .options
            .retry
            .run(WHAT, |_| self.download_once(url, dest, &dir, watch))
            .await
    }

    /// The bytes at `url`, at most `limit` of them: a small size of a
    /// photo (a thumbnail's source), kept in memory.
    pub async fn fetch_small(&self, url: &str, limit: usize) -> Result<Vec<u8>> {
        self.inner
            .options
            .retry
            .run(WHAT, |_| async {
                let mut response = self.get_ok(url).await?;
                let status = response.status().as_u16();
                let mut out = Vec::new();
                while let Some(chunk) = response
                    .chunk()
                    .await
                    .map_err(|e| FlickrError::network(WHAT, e))?
                {
                    if out.len() + chunk.len() > limit {
                        return Err(FlickrError::Http {
                            method: format!("{WHAT} {url}"),
                            status,
                            retry_after: None,
                            body: format!("more than {limit} bytes"),
                        });
                    }
                    out.extend_from_slice(&chunk);
                }
                Ok(out)
            })
            .await
    }

    /// The length of the file at `url` (a HEAD request: nothing is
    /// downloaded), when the server says.
    pub async fn file_size(&self, url: &str) -> Result<Option<u64>> {
        self.inner
            .options
            .retry
            .run(WHAT, |_| async {
                let response = self
                    .inner
                    .http
                    .head(url)
                    .send()
                    .await
                    .map_err(|e| FlickrError::network(WHAT, e))?;
                let status = response.status();
                if !status.is_success() {
                    return Err(FlickrError::Http {
                        method: format!("{WHAT} {url}"),
                        status: status.as_u16(),
                        retry_after: None,
                        body: String::new(),
                    });
                }
                Ok(response
                    .headers()
                    .get(CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok()))
            })
            .await
    }

    /// GET `url`: the response when its status is 2xx, else Flickr's HTTP
    /// error (with its `Retry-After`).
    async fn get_ok(&self, url: &str) -> Result<reqwest::Response> {
        let response = self
            .inner
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| FlickrError::network(WHAT, e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let retry_after = super::client::retry_after(response.headers());
            let body = response.text().await.unwrap_or_default();
            return Err(FlickrError::Http {
                method: format!("{WHAT} {url}"),
                status,
                retry_after,
                body: snippet(&body, 120),
            });
        }
        Ok(response)
    }

    async fn download_once(
        &self,
        url: &str,
        dest: &Path,
        dir: &Path,
        watch: Option<&dyn DownloadWatch>,
    ) -> Result<DownloadOutcome> {
        let mut response = self.get_ok(url).await?;
        let expected = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());

        let io =
            |what: &str, e| FlickrError::io(format!("{WHAT} to {}: {what}", dest.display()), e);
        let tmp = tempfile::Builder::new()
            .prefix(".flickrfs-download-")
            .suffix(".part")
            .tempfile_in(dir)
            .map_err(|e| io("creating a temporary file", e))?;
        let mut file = tokio::fs::File::from_std(
            tmp.as_file()
                .try_clone()
                .map_err(|e| io("temporary file", e))?,
        );
        if let Some(w) = watch {
            w.started(tmp.reopen().map_err(|e| io("temporary file", e))?, expected);
        }
        let mut hasher = Sha1::new();
        let mut got: u64 = 0;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FlickrError::network(WHAT, e))?
        {
            hasher.update(&chunk);
            got += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(|e| io("writing", e))?;
            if let Some(w) = watch {
                // tokio writes in the background: the bytes are in the
                // file (readable) once flushed
                file.flush().await.map_err(|e| io("writing", e))?;
                w.wrote(got);
            }
        }
        if let Some(expected) = expected {
            if expected != got {
                return Err(FlickrError::SizeMismatch {
                    url: url.to_owned(),
                    expected,
                    got,
                });
            }
        }
        if let Some(w) = watch {
            w.complete();
        }
        file.flush().await.map_err(|e| io("writing", e))?;
        file.sync_all().await.map_err(|e| io("fsync", e))?;
        drop(file);
        let sha1 = hex(&hasher.finalize());

        let dest_owned: PathBuf = dest.to_path_buf();
        let dir_owned = dir.to_path_buf();
        let sha = sha1.clone();
        tokio::task::spawn_blocking(move || place(tmp, &dest_owned, &dir_owned, got, sha))
            .await
            .map_err(|e| io("moving into place", std::io::Error::other(e.to_string())))?
    }
}

/// Moves the finished temporary file to `dest` unless something is there.
fn place(
    tmp: tempfile::NamedTempFile,
    dest: &Path,
    dir: &Path,
    bytes: u64,
    sha1: String,
) -> Result<DownloadOutcome> {
    match tmp.persist_noclobber(dest) {
        Ok(_) => {
            // Make the rename itself durable.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(DownloadOutcome::Written { bytes, sha1 })
        }
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            // The temporary file is removed when `e.file` drops.
            match file_sha1(dest) {
                Ok((len, existing)) if len == bytes && existing == sha1 => {
                    Ok(DownloadOutcome::AlreadyPresent { bytes, sha1 })
                }
                _ => Err(FlickrError::DestinationExists {
                    path: dest.to_path_buf(),
                }),
            }
        }
        Err(e) => Err(FlickrError::io(
            format!("{WHAT}: moving into {}", dest.display()),
            e.error,
        )),
    }
}

fn file_sha1(path: &Path) -> std::io::Result<(u64, String)> {
    let mut f = std::fs::File::open(path)?;
    let mut hasher = Sha1::new();
    let n = std::io::copy(&mut f, &mut hasher)?;
    Ok((n, hex(&hasher.finalize())))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tmp_with(dir: &Path, bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut t = tempfile::NamedTempFile::new_in(dir).unwrap();
        t.write_all(bytes).unwrap();
        t
    }

    fn sha(bytes: &[u8]) -> String {
        hex(&Sha1::digest(bytes))
    }

    #[test]
    fn place_writes_a_new_file() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("a.jpg");
        let out = place(tmp_with(d.path(), b"abc"), &dest, d.path(), 3, sha(b"abc")).unwrap();
        assert!(matches!(out, DownloadOutcome::Written { bytes: 3, .. }));
        assert_eq!(std::fs::read(&dest).unwrap(), b"abc");
    }

    #[test]
    fn place_never_overwrites_a_different_file() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("a.jpg");
        std::fs::write(&dest, b"mine").unwrap();
        let err = place(tmp_with(d.path(), b"abc"), &dest, d.path(), 3, sha(b"abc")).unwrap_err();
        assert!(matches!(err, FlickrError::DestinationExists { .. }));
        assert_eq!(std::fs::read(&dest).unwrap(), b"mine");
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn place_accepts_identical_existing_file() {
        let d = tempfile::tempdir().unwrap();
        let dest = d.path().join("a.jpg");
        std::fs::write(&dest, b"abc").unwrap();
        let out = place(tmp_with(d.path(), b"abc"), &dest, d.path(), 3, sha(b"abc")).unwrap();
        assert!(matches!(out, DownloadOutcome::AlreadyPresent { .. }));
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn hex_is_lowercase() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
    }
}
