//! Uploads and replacements: a signed multipart POST with the photo streamed
//! from disk, and the hand-parsed XML reply (`<photoid>`, `<ticketid>`, or
//! `<err code msg duplicate_photo_id>`).
//!
//! Every form field except `photo` is covered by the OAuth signature.

use std::path::Path;

use reqwest::multipart::{Form, Part};

use super::error::{snippet, FlickrError, Result};
use super::retry::Repeat;
use super::sign::{self, OAuthExtras};
use super::types::{UploadOptions, UploadOutcome};
use super::Client;
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
        self.post_file(UPLOAD, &url, path, upload_fields(opts), repeat)
            .await
    }

    /// Replaces the file of an existing photo (`photo_id` + `photo`).
    pub async fn replace(&self, photo: &PhotoId, path: &Path) -> Result<UploadOutcome> {
        let url = self.inner.endpoints.replace.clone();
        let fields = vec![("photo_id".to_owned(), photo.to_string())];
        self.post_file(REPLACE, &url, path, fields, Repeat::Safe)
            .await
    }

    async fn post_file(
        &self,
        what: &str,
        url: &str,
        path: &Path,
        fields: Vec<(String, String)>,
        repeat: Repeat,
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
                let result = self.post_file_once(what, url, path, fields).await;
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
    ) -> Result<UploadOutcome> {
        let signed = sign::signed_form("POST", url, self.keys(), OAuthExtras::default(), fields);
        let mut form = Form::new();
        for (k, v) in sign::form_pairs(&signed) {
            form = form.text(k, v);
        }
        let part = Part::file(path)
            .await
            .map_err(|e| FlickrError::io(format!("{what}: opening {}", path.display()), e))?;
        form = form.part("photo", part);
        let response = self
            .inner
            .http
            .post(url)
            .multipart(form)
            .send()
            .await
            .map_err(|e| FlickrError::network(what, e))?;
        let status = response.status().as_u16();
        let retry_after = super::retry_after(response.headers());
        let body = response
            .text()
            .await
            .map_err(|e| FlickrError::network(what, e))?;
        if status == 429 || status >= 500 {
            return Err(FlickrError::Http {
                method: what.to_owned(),
                status,
                retry_after,
                body: snippet(&body, 200),
            });
        }
        match parse_upload_reply(what, &body) {
            Err(FlickrError::Decode { .. }) if !(200..300).contains(&status) => {
                Err(FlickrError::Http {
                    method: what.to_owned(),
                    status,
                    retry_after,
                    body: snippet(&body, 200),
                })
            }
            other => other,
        }
    }
}

/// Parses the XML reply of upload/replace.
pub fn parse_upload_reply(method: &str, body: &str) -> Result<UploadOutcome> {
    let bad = |why: &str| FlickrError::decode(method, format!("{why}: {}", snippet(body, 160)));
    let rsp = find_element(body, "rsp").ok_or_else(|| bad("no <rsp> element"))?;
    match rsp.attr("stat") {
        Some("ok") => {
            if let Some(photo) = find_element(body, "photoid") {
                let id = photo.text.trim();
                if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("bad <photoid>"));
                }
                Ok(UploadOutcome::Uploaded {
                    id: PhotoId::new(id),
                    secret: photo.attr("secret").map(str::to_owned),
                    original_secret: photo.attr("originalsecret").map(str::to_owned),
                })
            } else if let Some(ticket) = find_element(body, "ticketid") {
                let t = ticket.text.trim();
                if t.is_empty() {
                    return Err(bad("empty <ticketid>"));
                }
                Ok(UploadOutcome::Ticket(t.to_owned()))
            } else {
                Err(bad("stat=ok without <photoid> or <ticketid>"))
            }
        }
        Some("fail") => {
            let err = find_element(body, "err").ok_or_else(|| bad("stat=fail without <err>"))?;
            let code = err
                .attr("code")
                .and_then(|c| c.trim().parse::<i64>().ok())
                .unwrap_or(-1);
            if let Some(dup) = err.attr("duplicate_photo_id").filter(|s| !s.is_empty()) {
                return Ok(UploadOutcome::Duplicate {
                    existing: PhotoId::new(dup),
                });
            }
            Err(FlickrError::Api {
                method: method.to_owned(),
                code,
                message: err.attr("msg").unwrap_or("(no message)").to_owned(),
            })
        }
        Some(other) => Err(bad(&format!("unknown stat {other:?}"))),
        None => Err(bad("<rsp> has no stat")),
    }
}

/// One element found by [`find_element`]: its attributes and inner text.
struct Element {
    attrs: Vec<(String, String)>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Finds the first `<name ...>` element. Good enough for Flickr's tiny,
/// flat upload replies; not a general XML parser.
fn find_element(xml: &str, name: &str) -> Option<Element> {
    let open = format!("<{name}");
    let mut from = 0;
    let start = loop {
        let i = from + xml[from..].find(&open)?;
        let after = xml[i + open.len()..].chars().next()?;
        if after.is_whitespace() || after == '>' || after == '/' {
            break i + open.len();
        }
        from = i + open.len();
    };
    // The end of the start tag, skipping quoted attribute values.
    let bytes = xml.as_bytes();
    let mut quote: Option<u8> = None;
    let mut end = None;
    for (j, &b) in bytes.iter().enumerate().skip(start) {
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' => quote = Some(b),
            None if b == b'>' => {
                end = Some(j);
                break;
            }
            None => {}
        }
    }
    let end = end?;
    let tag = &xml[start..end];
    let self_closing = tag.trim_end().ends_with('/');
    let attrs = parse_attrs(tag.trim_end().trim_end_matches('/'));
    let text = if self_closing {
        String::new()
    } else {
        let close = format!("</{name}>");
        let rest = &xml[end + 1..];
        let stop = rest.find(&close)?;
        unescape(&rest[..stop])
    };
    Some(Element { attrs, text })
}

fn parse_attrs(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim_start();
    while let Some(eq) = rest.find('=') {
        let name = rest[..eq].trim().to_owned();
        let after = rest[eq + 1..].trim_start();
        let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            break;
        };
        let Some(close) = after[1..].find(q) else {
            break;
        };
        out.push((name, unescape(&after[1..1 + close])));
        rest = after[close + 2..].trim_start();
    }
    out
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(semi) = tail.find(';').filter(|n| *n <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
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
        let e = find_element("<photoidx>1</photoidx><photoid>2</photoid>", "photoid").unwrap();
        assert_eq!(e.text, "2");
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
