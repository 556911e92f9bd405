//! Uploads and replacements: a signed multipart POST with the photo streamed
//! from disk, and the XML reply (`<photoid>`, `<ticketid>`, or
//! `<err code msg duplicate_photo_id>`), parsed with roxmltree.
//!
//! Every form field except `photo` is covered by the OAuth signature.

use std::path::Path;
use std::sync::{Arc, Mutex};

use reqwest::multipart::{Form, Part};

use super::client::{Client, Reply};
use super::error::{snippet, FlickrError, Result};
use super::retry::Repeat;
use super::sign::{self, OAuthExtras};
use super::types::{UploadOptions, UploadOutcome};
use crate::model::PhotoId;

const UPLOAD: &str = "upload";
const REPLACE: &str = "replace";

/// Tags on the wire: space-separated, a tag holding spaces in double quotes
/// (double quotes inside a tag cannot be expressed and are dropped).
pub fn quote_tags(tags: &[String]) -> String {
    tags.iter()
        .map(|t| t.replace('"', ""))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .map(|t| {
            if t.chars().any(char::is_whitespace) {
                format!("\"{t}\"")
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn upload_fields(opts: &UploadOptions) -> Vec<(String, String)> {
    let mut f = Vec::new();
    let mut push = |k: &str, v: String| f.push((k.to_owned(), v));
    if let Some(t) = &opts.title {
        push("title", t.clone());
    }
    if let Some(d) = &opts.description {
        push("description", d.clone());
    }
    if !opts.tags.is_empty() {
        push("tags", quote_tags(&opts.tags));
    }
    if let Some(v) = opts.visibility {
        push("is_public", u8::from(v.is_public).to_string());
        push("is_friend", u8::from(v.is_friend).to_string());
        push("is_family", u8::from(v.is_family).to_string());
    }
    if let Some(s) = opts.safety_level {
        push("safety_level", (s as u8).to_string());
    }
    if let Some(c) = opts.content_type {
        push("content_type", (c as u8).to_string());
    }
    if let Some(h) = opts.hidden {
        push("hidden", if h { "2" } else { "1" }.to_owned());
    }
    if let Some(d) = opts.dedup_check {
        push("dedup_check", (d as u8).to_string());
    }
    if opts.async_upload {
        push("async", "1".to_owned());
    }
    f
}

impl Client {
    /// Uploads the file at `path` (streamed from disk) with `opts`.
    ///
    /// Retried on transient failures; a reply lost after sending is retried
    /// only with `dedup_check` set (otherwise the photo could be made twice,
    /// and the error is returned for the caller to look for it).
    pub async fn upload(&self, path: &Path, opts: &UploadOptions) -> Result<UploadOutcome> {
        let url = self.inner.endpoints.upload.clone();
        // Sending the file again after a lost reply would make a second photo,
        // unless Flickr's own duplicate check is on (it then names the first).
        let repeat = if opts.dedup_check.is_some() {
            Repeat::Safe
        } else {
            Repeat::OnlyIfNotApplied
        };
        let expect = opts.expect_sha1.as_deref();
        self.post_file(UPLOAD, &url, path, upload_fields(opts), repeat, expect)
            .await
    }

    /// Replaces the file of an existing photo (`photo_id` + `photo`).
    pub async fn replace(&self, photo: &PhotoId, path: &Path) -> Result<UploadOutcome> {
        let url = self.inner.endpoints.replace.clone();
        let fields = vec![("photo_id".to_owned(), photo.to_string())];
        self.post_file(REPLACE, &url, path, fields, Repeat::Safe, None)
            .await
    }

    async fn post_file(
        &self,
        what: &str,
        url: &str,
        path: &Path,
        fields: Vec<(String, String)>,
        repeat: Repeat,
        expect: Option<&str>,
    ) -> Result<UploadOutcome> {
        self.require_token(what)?;
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| FlickrError::io(format!("{what} {}", path.display()), e))?;
        if !meta.is_file() {
            return Err(FlickrError::io(
                format!("{what} {}", path.display()),
                std::io::Error::other("not a regular file"),
            ));
        }
        let fields = &fields;
        self.inner
            .options
            .retry
            .run_with(what, repeat, |_| async move {
                self.inner.limiter.acquire(what).await;
                self.count_call();
                let result = self.post_file_once(what, url, path, fields, expect).await;
                self.note_overload(&result);
                result
            })
            .await
    }

    async fn post_file_once(
        &self,
        what: &str,
        url: &str,
        path: &Path,
        fields: &[(String, String)],
        expect: Option<&str>,
    ) -> Result<UploadOutcome> {
        let signed = sign::signed_form("POST", url, self.keys(), OAuthExtras::default(), fields);
        let mut form = Form::new();
        for (k, v) in sign::form_pairs(&signed) {
            form = form.text(k, v);
        }
        let opening = |e| FlickrError::io(format!("{what}: opening {}", path.display()), e);
        let mismatch = Arc::new(Mutex::new(None));
        let part = match expect {
            None => Part::file(path).await.map_err(opening)?,
            Some(sha1) => verified_part(path, sha1, mismatch.clone())
                .await
                .map_err(opening)?,
        };
        form = form.part("photo", part);
        let sent = self.inner.http.post(url).multipart(form).send().await;
        if let Some(found) = mismatch.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(FlickrError::ContentChanged {
                path: path.to_path_buf(),
                expected: expect.unwrap_or_default().to_owned(),
                found,
            });
        }
        let response = sent.map_err(|e| FlickrError::network(what, e))?;
        let reply = Reply::read(what, response).await?;
        if reply.overloaded() {
            return Err(reply.http_error(what));
        }
        match parse_upload_reply(what, &reply.body) {
            Err(FlickrError::Decode { .. }) if !reply.is_success() => Err(reply.http_error(what)),
            other => other,
        }
    }
}

/// The `photo` part streamed from `path` and hashed on the way: when the
/// bytes read do not hash to `sha1`, the stream fails at its end instead of
/// finishing, so the request never completes (the closing boundary is never
/// sent and Flickr makes no photo), and `mismatch` holds the SHA-1 found.
async fn verified_part(
    path: &Path,
    sha1: &str,
    mismatch: Arc<Mutex<Option<String>>>,
) -> std::io::Result<Part> {
    use sha1::{Digest, Sha1};
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path).await?;
    let len = file.metadata().await?.len();
    struct Reading {
        file: tokio::fs::File,
        hasher: Sha1,
        expect: String,
        mismatch: Arc<Mutex<Option<String>>>,
        done: bool,
    }
    let start = Reading {
        file,
        hasher: Sha1::new(),
        expect: sha1.to_ascii_lowercase(),
        mismatch,
        done: false,
    };
    let stream = futures_util::stream::unfold(start, |mut r| async move {
        if r.done {
            return None;
        }
        let mut buf = vec![0u8; 256 * 1024];
        match r.file.read(&mut buf).await {
            Ok(0) => {
                r.done = true;
                let found: String = r
                    .hasher
                    .finalize_reset()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if found == r.expect {
                    return None;
                }
                *r.mismatch.lock().unwrap_or_else(|p| p.into_inner()) = Some(found);
                Some((
                    Err(std::io::Error::other("the file changed while it was read")),
                    r,
                ))
            }
            Ok(n) => {
                buf.truncate(n);
                r.hasher.update(&buf);
                Some((Ok(buf), r))
            }
            Err(e) => {
                r.done = true;
                Some((Err(e), r))
            }
        }
    });
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "photo".into());
    let mime = mime_of(&name);
    Part::stream_with_length(reqwest::Body::wrap_stream(stream), len)
        .file_name(name)
        .mime_str(mime)
        .map_err(std::io::Error::other)
}

/// The content type of a photo part, by its extension (what `Part::file`
/// would send).
fn mime_of(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("tif" | "tiff") => "image/tiff",
        Some("webp") => "image/webp",
        Some("heic" | "heif") => "image/heif",
        Some("mp4" | "m4v") => "video/mp4",
        Some("mov") => "video/quicktime",
        _ => "application/octet-stream",
    }
}

/// Parses the XML reply of upload/replace with roxmltree: the first
/// `<photoid>`, `<ticketid>` or `<err>` under `<rsp>` decides.
pub fn parse_upload_reply(method: &str, body: &str) -> Result<UploadOutcome> {
    let bad = |why: &str| FlickrError::decode(method, format!("{why}: {}", snippet(body, 160)));
    let doc = roxmltree::Document::parse(body).map_err(|e| bad(&format!("not XML ({e})")))?;
    let rsp = doc.root_element();
    if !rsp.has_tag_name("rsp") {
        return Err(bad("no <rsp> element"));
    }
    let find = |name: &str| rsp.descendants().find(|n| n.has_tag_name(name));
    let text = |n: roxmltree::Node| n.text().unwrap_or("").trim().to_owned();
    match rsp.attribute("stat") {
        Some("ok") => {
            if let Some(photo) = find("photoid") {
                let id = text(photo);
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("bad <photoid>"));
                }
                Ok(UploadOutcome::Uploaded {
                    id: PhotoId::new(id),
                    secret: photo.attribute("secret").map(str::to_owned),
                    original_secret: photo.attribute("originalsecret").map(str::to_owned),
                })
            } else if let Some(ticket) = find("ticketid") {
                let t = text(ticket);
                if t.is_empty() {
                    return Err(bad("empty <ticketid>"));
                }
                Ok(UploadOutcome::Ticket(t))
            } else {
                Err(bad("stat=ok without <photoid> or <ticketid>"))
            }
        }
        Some("fail") => {
            let err = find("err").ok_or_else(|| bad("stat=fail without <err>"))?;
            let code = err
                .attribute("code")
                .and_then(|c| c.trim().parse::<i64>().ok())
                .unwrap_or(-1);
            if let Some(dup) = err
                .attribute("duplicate_photo_id")
                .filter(|s| !s.is_empty())
            {
                return Ok(UploadOutcome::Duplicate {
                    existing: PhotoId::new(dup),
                });
            }
            Err(FlickrError::Api {
                method: method.to_owned(),
                code,
                message: err.attribute("msg").unwrap_or("(no message)").to_owned(),
            })
        }
        Some(other) => Err(bad(&format!("unknown stat {other:?}"))),
        None => Err(bad("<rsp> has no stat")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flickr::types::{DedupCheck, SafetyLevel};
    use crate::model::Visibility;

    #[test]
    fn parses_a_plain_photoid() {
        let r = parse_upload_reply(
            "upload",
            "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<rsp stat=\"ok\">\n<photoid>1234</photoid>\n</rsp>",
        )
        .unwrap();
        assert_eq!(
            r,
            UploadOutcome::Uploaded {
                id: PhotoId::from("1234"),
                secret: None,
                original_secret: None
            }
        );
    }

    #[test]
    fn parses_photoid_secrets() {
        let r = parse_upload_reply(
            "upload",
            r#"<rsp stat="ok"><photoid secret="abc" originalsecret='def'>987</photoid></rsp>"#,
        )
        .unwrap();
        assert_eq!(
            r,
            UploadOutcome::Uploaded {
                id: PhotoId::from("987"),
                secret: Some("abc".into()),
                original_secret: Some("def".into())
            }
        );
    }

    #[test]
    fn parses_tickets() {
        let r = parse_upload_reply("upload", "<rsp stat=\"ok\"><ticketid>1-2</ticketid></rsp>");
        assert_eq!(r.unwrap(), UploadOutcome::Ticket("1-2".into()));
    }

    #[test]
    fn failure_becomes_api_error_with_message() {
        let e = parse_upload_reply(
            "upload",
            r#"<rsp stat="fail"><err code="5" msg="Filetype was not recognised &amp; rejected" /></rsp>"#,
        )
        .unwrap_err();
        match e {
            FlickrError::Api { code, message, .. } => {
                assert_eq!(code, 5);
                assert_eq!(message, "Filetype was not recognised & rejected");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn duplicate_is_an_outcome() {
        let r = parse_upload_reply(
            "upload",
            r#"<rsp stat="fail"><err code="9" msg="Duplicate photo" duplicate_photo_id="5555"/></rsp>"#,
        )
        .unwrap();
        assert_eq!(
            r,
            UploadOutcome::Duplicate {
                existing: PhotoId::from("5555")
            }
        );
    }

    #[test]
    fn malformed_replies_are_decode_errors_naming_the_method() {
        for body in [
            "",
            "{\"stat\":\"ok\"}",
            "<rsp stat=\"ok\"></rsp>",
            "<rsp stat=\"ok\"><photoid>12",
            "<rsp stat=\"ok\"><photoid>abc</photoid></rsp>",
            "<rsp stat=\"fail\"></rsp>",
            "<rsp><photoid>1</photoid></rsp>",
            "<rsp stat=\"ok\"><photoid secret=\"unterminated>1</photoid></rsp>",
        ] {
            let e = parse_upload_reply("upload", body).unwrap_err();
            assert!(matches!(e, FlickrError::Decode { .. }), "{body}: {e:?}");
            assert!(e.to_string().starts_with("upload:"), "{e}");
        }
    }

    #[test]
    fn element_search_skips_longer_names() {
        let r = parse_upload_reply(
            "upload",
            "<rsp stat=\"ok\"><photoidx>1</photoidx><photoid>2</photoid></rsp>",
        );
        assert_eq!(
            r.unwrap(),
            UploadOutcome::Uploaded {
                id: PhotoId::from("2"),
                secret: None,
                original_secret: None
            }
        );
    }

    #[test]
    fn tags_with_spaces_are_quoted() {
        let tags = vec![
            "beach".to_owned(),
            "New York".to_owned(),
            "say \"hi\"".to_owned(),
            "  ".to_owned(),
            "flickrfs:sha1=ab".to_owned(),
        ];
        assert_eq!(
            quote_tags(&tags),
            "beach \"New York\" \"say hi\" flickrfs:sha1=ab"
        );
    }

    #[test]
    fn upload_fields_cover_every_option() {
        let opts = UploadOptions {
            title: Some("T".into()),
            description: Some("D".into()),
            tags: vec!["a b".into()],
            visibility: Some(Visibility {
                is_public: false,
                is_friend: true,
                is_family: false,
            }),
            safety_level: Some(SafetyLevel::Moderate),
            content_type: Some(crate::flickr::ContentType::Photo),
            hidden: Some(true),
            dedup_check: Some(DedupCheck::IgnoreDeleted),
            async_upload: false,
            expect_sha1: None,
        };
        let f = upload_fields(&opts);
        let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("tags"), Some("\"a b\""));
        assert_eq!(get("is_public"), Some("0"));
        assert_eq!(get("is_friend"), Some("1"));
        assert_eq!(get("safety_level"), Some("2"));
        assert_eq!(get("content_type"), Some("1"));
        assert_eq!(get("hidden"), Some("2"));
        assert_eq!(get("dedup_check"), Some("2"));
        assert_eq!(get("async"), None);
        assert!(upload_fields(&UploadOptions::default()).is_empty());
    }
}
