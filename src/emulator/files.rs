//! Photo files: the original bytes exactly as uploaded, and real downscaled
//! JPEGs for every smaller size Flickr offers, generated on first request
//! and cached on disk. Also the byte-level facts the upload path needs:
//! format sniffing, pixel size, EXIF DateTimeOriginal, and the list of
//! sizes (`getSizes`) with their URLs.

use std::io::Cursor;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;

use super::faults::{self, LoggedCall};
use super::seed;
use super::state::{self, PhotoRow};
use super::App;

/// One of Flickr's photo sizes.
#[derive(Clone, Copy, Debug)]
pub struct SizeSpec {
    pub label: &'static str,
    /// URL suffix (`s`, `q`, `t`, ... ; empty for Medium 500).
    pub suffix: &'static str,
    /// The extra name used in `url_X` / `width_X` (`s`, `q`, `t`, `m`, ...).
    pub extra: &'static str,
    pub edge: u32,
    pub square: bool,
}

/// Flickr's sizes below the original, smallest first.
pub const SIZES: &[SizeSpec] = &[
    SizeSpec {
        label: "Square",
        suffix: "s",
        extra: "sq",
        edge: 75,
        square: true,
    },
    SizeSpec {
        label: "Large Square",
        suffix: "q",
        extra: "q",
        edge: 150,
        square: true,
    },
    SizeSpec {
        label: "Thumbnail",
        suffix: "t",
        extra: "t",
        edge: 100,
        square: false,
    },
    SizeSpec {
        label: "Small",
        suffix: "m",
        extra: "s",
        edge: 240,
        square: false,
    },
    SizeSpec {
        label: "Small 320",
        suffix: "n",
        extra: "n",
        edge: 320,
        square: false,
    },
    SizeSpec {
        label: "Small 400",
        suffix: "w",
        extra: "w",
        edge: 400,
        square: false,
    },
    SizeSpec {
        label: "Medium",
        suffix: "",
        extra: "m",
        edge: 500,
        square: false,
    },
    SizeSpec {
        label: "Medium 640",
        suffix: "z",
        extra: "z",
        edge: 640,
        square: false,
    },
    SizeSpec {
        label: "Medium 800",
        suffix: "c",
        extra: "c",
        edge: 800,
        square: false,
    },
    SizeSpec {
        label: "Large",
        suffix: "b",
        extra: "l",
        edge: 1024,
        square: false,
    },
    SizeSpec {
        label: "Large 1600",
        suffix: "h",
        extra: "h",
        edge: 1600,
        square: false,
    },
    SizeSpec {
        label: "Large 2048",
        suffix: "k",
        extra: "k",
        edge: 2048,
        square: false,
    },
    SizeSpec {
        label: "X-Large 3K",
        suffix: "3k",
        extra: "3k",
        edge: 3072,
        square: false,
    },
    SizeSpec {
        label: "X-Large 4K",
        suffix: "4k",
        extra: "4k",
        edge: 4096,
        square: false,
    },
    SizeSpec {
        label: "X-Large 5K",
        suffix: "5k",
        extra: "5k",
        edge: 5120,
        square: false,
    },
    SizeSpec {
        label: "X-Large 6K",
        suffix: "6k",
        extra: "6k",
        edge: 6144,
        square: false,
    },
];

/// The pixel size of a downscaled version: fits the longest edge to `edge`,
/// never larger than the original (a square is at most the short side).
pub fn scaled(w: u32, h: u32, spec: &SizeSpec) -> (u32, u32) {
    if spec.square {
        let e = spec.edge.min(w.min(h)).max(1);
        return (e, e);
    }
    let long = w.max(h).max(1);
    if spec.edge >= long {
        return (w.max(1), h.max(1));
    }
    let f = spec.edge as f64 / long as f64;
    (
        ((w as f64 * f).round() as u32).max(1),
        ((h as f64 * f).round() as u32).max(1),
    )
}

/// The sizes getSizes lists for a photo of `w`×`h` besides the original:
/// both squares (cropped, at most the short side), every size whose edge is
/// below the original's longest edge, and Medium (no suffix) always, at the
/// original's size when that is smaller: every Flickr photo has its
/// `{id}_{secret}.jpg`, and nothing is upscaled.
pub fn sizes_for(w: u32, h: u32) -> Vec<(SizeSpec, u32, u32)> {
    SIZES
        .iter()
        .filter(|s| s.square || s.suffix.is_empty() || s.edge < w.max(h))
        .map(|s| {
            let (sw, sh) = scaled(w, h, s);
            (*s, sw, sh)
        })
        .collect()
}

/// The URL of one size of a photo; `suffix` "o" is the original.
pub fn photo_url(base: &str, p: &PhotoRow, suffix: &str) -> String {
    match suffix {
        "o" => format!(
            "{base}/photos/{}/{}_{}_o.{}",
            p.server, p.id, p.originalsecret, p.original_format
        ),
        "" => format!("{base}/photos/{}/{}_{}.jpg", p.server, p.id, p.secret),
        s => format!("{base}/photos/{}/{}_{}_{s}.jpg", p.server, p.id, p.secret),
    }
}

/// Recognises JPEG, PNG and GIF from their first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("gif")
    } else {
        None
    }
}

/// Pixel size from the image header.
pub fn dims(bytes: &[u8]) -> Option<(u32, u32)> {
    image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

/// EXIF DateTimeOriginal as `YYYY-MM-DD HH:MM:SS`, seconds kept, zone and
/// sub-seconds dropped.
pub fn exif_date_taken(bytes: &[u8]) -> Option<String> {
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()?;
    let field = exif
        .get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)
        .or_else(|| exif.get_field(exif::Tag::DateTime, exif::In::PRIMARY))?;
    let exif::Value::Ascii(ref v) = field.value else {
        return None;
    };
    let text = String::from_utf8_lossy(v.first()?).into_owned();
    let ts = state::parse_datetime(&text)?;
    Some(state::format_datetime(ts))
}

/// All EXIF fields for `getExif`: (tagspace, tag name, label, raw value).
pub fn exif_fields(bytes: &[u8]) -> Vec<(String, String, String, String)> {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut Cursor::new(bytes)) else {
        return Vec::new();
    };
    exif.fields()
        .map(|f| {
            let space = match f.tag.context() {
                exif::Context::Tiff => "IFD0",
                exif::Context::Exif => "ExifIFD",
                exif::Context::Gps => "GPS",
                exif::Context::Interop => "InteropIFD",
                _ => "IFD0",
            };
            let raw = match &f.value {
                exif::Value::Ascii(v) => v
                    .first()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .unwrap_or_default(),
                _ => f.display_value().to_string(),
            };
            let label = f
                .tag
                .description()
                .map(str::to_owned)
                .unwrap_or_else(|| f.tag.to_string());
            (space.to_owned(), f.tag.to_string(), label, raw)
        })
        .collect()
}

/// Errors reading a photo's bytes.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("reading {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("decoding photo {id}: {message}")]
    Image { id: i64, message: String },
}

/// The original bytes of a photo.
pub fn original_bytes(app: &App, p: &PhotoRow) -> Result<Vec<u8>, FileError> {
    if p.synthetic {
        return Ok(seed::synthetic_original(p.id));
    }
    let path = app.store.original_path(p.id, &p.original_format);
    std::fs::read(&path).map_err(|source| FileError::Io { path, source })
}

/// A downscaled JPEG of one size, from the cache or made now.
fn sized_bytes(app: &App, p: &PhotoRow, spec: &SizeSpec) -> Result<Vec<u8>, FileError> {
    let cache = app
        .store
        .cache_path(p.id, spec.suffix_or_medium(), &p.secret);
    if let Ok(b) = std::fs::read(&cache) {
        return Ok(b);
    }
    let orig = original_bytes(app, p)?;
    let img = image::load_from_memory(&orig).map_err(|e| FileError::Image {
        id: p.id,
        message: e.to_string(),
    })?;
    let (w, h) = scaled(img.width(), img.height(), spec);
    let small = if spec.square {
        img.resize_to_fill(w, h, image::imageops::FilterType::Triangle)
    } else {
        img.thumbnail_exact(w, h)
    };
    let mut out = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
    small
        .to_rgb8()
        .write_with_encoder(enc)
        .map_err(|e| FileError::Image {
            id: p.id,
            message: e.to_string(),
        })?;
    // A failed cache write only costs a later re-encode.
    let tmp = cache.with_extension("tmp");
    if std::fs::write(&tmp, &out).is_ok() {
        let _ = std::fs::rename(&tmp, &cache);
    }
    Ok(out)
}

impl SizeSpec {
    fn suffix_or_medium(&self) -> &'static str {
        if self.suffix.is_empty() {
            "medium"
        } else {
            self.suffix
        }
    }
}

fn content_type(ext: &str) -> &'static str {
    match ext {
        "png" => "image/png",
        "gif" => "image/gif",
        _ => "image/jpeg",
    }
}

fn not_found() -> Response {
    let mut r = Response::new(Body::from("photo not found"));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

/// Parses `{id}_{secret}[_{suffix}].{ext}`.
fn parse_file_name(name: &str) -> Option<(i64, String, String, String)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let mut parts = stem.splitn(3, '_');
    let id = parts.next()?.parse().ok()?;
    let secret = parts.next()?.to_owned();
    let suffix = parts.next().unwrap_or("").to_owned();
    Some((id, secret, suffix, ext.to_ascii_lowercase()))
}

/// A body whose first `hold` bytes go at once and the rest once the fault
/// `hold_file_bodies_after` is lifted.
fn held_body(app: Arc<App>, bytes: Vec<u8>, hold: usize) -> Body {
    let rest = bytes[hold..].to_vec();
    let mut first = bytes;
    first.truncate(hold);
    let parts = futures_util::stream::unfold((Some(first), Some(rest)), move |(first, rest)| {
        let app = app.clone();
        async move {
            if let Some(first) = first {
                return Some((Ok::<_, std::io::Error>(first), (None, rest)));
            }
            let rest = rest?;
            while app.faults.config().hold_file_bodies_after > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            Some((Ok(rest), (None, None)))
        }
    });
    Body::from_stream(parts)
}

/// `GET /photos/{server}/{file}`: serves one size of one photo.
pub async fn serve(
    State(app): State<Arc<App>>,
    Path((server, file)): Path<(String, String)>,
) -> Response {
    let log = |ok: bool, status: u16, fault: Option<String>| {
        app.faults.record(LoggedCall {
            method: "photo_file".into(),
            ok,
            code: None,
            http_status: status,
            fault,
        })
    };
    if let Some(inj) = app.faults.before(false).await {
        let status = match inj {
            faults::Injected::Http(s) => s,
            faults::Injected::Api105 => 503,
            faults::Injected::RateLimited => 429,
        };
        log(false, status, Some(inj.label()));
        return faults::http_fault(status);
    }
    let app2 = app.clone();
    let result = tokio::task::spawn_blocking(move || find_and_render(&app2, &server, &file)).await;
    let (bytes, ext) = match result {
        Ok(Some(Ok(v))) => v,
        Ok(Some(Err(e))) => {
            tracing::warn!("emulator photo file: {e}");
            log(false, 500, None);
            let mut r = Response::new(Body::from(e.to_string()));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return r;
        }
        _ => {
            log(false, 404, None);
            return not_found();
        }
    };
    let len = bytes.len();
    let hold = app.faults.config().hold_file_bodies_after as usize;
    let body = if hold > 0 && len > hold {
        held_body(app.clone(), bytes, hold)
    } else {
        Body::from(bytes)
    };
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&ext)),
    );
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    if app.faults.should_reset() {
        log(false, 200, Some("reset".into()));
        return faults::cut_off(r).await;
    }
    log(true, 200, None);
    r
}

type Rendered = Result<(Vec<u8>, String), FileError>;

fn find_and_render(app: &App, server: &str, file: &str) -> Option<Rendered> {
    let (id, secret, suffix, ext) = parse_file_name(file)?;
    let p = app.store.read(|c| state::photo(c, id)).ok().flatten()?;
    if p.server != server {
        return None;
    }
    if suffix == "o" {
        if secret != p.originalsecret || ext != p.original_format {
            return None;
        }
        return Some(original_bytes(app, &p).map(|b| (b, ext)));
    }
    if secret != p.secret || ext != "jpg" {
        return None;
    }
    let spec = sizes_for(p.width, p.height)
        .into_iter()
        .find(|(s, _, _)| s.suffix == suffix)?
        .0;
    Some(sized_bytes(app, &p, &spec).map(|b| (b, ext)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_never_exceed_the_original() {
        let s = sizes_for(1200, 800);
        let labels: Vec<_> = s.iter().map(|(x, _, _)| x.label).collect();
        assert_eq!(
            labels,
            [
                "Square",
                "Large Square",
                "Thumbnail",
                "Small",
                "Small 320",
                "Small 400",
                "Medium",
                "Medium 640",
                "Medium 800",
                "Large"
            ]
        );
        let (_, w, h) = s.iter().find(|(x, _, _)| x.label == "Medium").unwrap();
        assert_eq!((*w, *h), (500, 333));
    }

    #[test]
    fn a_small_original_keeps_its_size_in_medium_and_squares() {
        let s = sizes_for(300, 60);
        let got: Vec<_> = s.iter().map(|(x, w, h)| (x.label, *w, *h)).collect();
        assert_eq!(
            got,
            [
                ("Square", 60, 60),
                ("Large Square", 60, 60),
                ("Thumbnail", 100, 20),
                ("Small", 240, 48),
                ("Medium", 300, 60)
            ]
        );
    }

    #[test]
    fn file_names_parse() {
        assert_eq!(
            parse_file_name("123_abc_o.png"),
            Some((123, "abc".into(), "o".into(), "png".into()))
        );
        assert_eq!(
            parse_file_name("123_abc.jpg"),
            Some((123, "abc".into(), "".into(), "jpg".into()))
        );
        assert!(parse_file_name("x_y.jpg").is_none());
    }

    #[test]
    fn sniffing_knows_the_three_formats() {
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("jpg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("png"));
        assert_eq!(sniff(b"GIF89a...."), Some("gif"));
        assert_eq!(sniff(b"hello"), None);
    }
}
