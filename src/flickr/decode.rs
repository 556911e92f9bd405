//! Decoding Flickr's JSON quirks: numbers sent as strings or numbers, text
//! wrapped as `{"_content": ...}` or plain, empty lists left out, `perpage`
//! next to `per_page`, and the `stat` envelope.
//!
//! Every failure becomes a [`FlickrError`] naming the method and saying what
//! was wrong; nothing here panics on what a server sends.

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::Deserialize;
use serde_json::Value;

use super::error::{snippet, FlickrError, Result};

/// Parses a REST reply body and checks its `stat`. Returns the whole object.
pub(crate) fn envelope(method: &str, body: &str) -> Result<Value> {
    let value: Value = serde_json::from_str(body).map_err(|e| {
        let what = if body.trim().is_empty() {
            "empty body".to_owned()
        } else if e.is_eof() {
            format!("truncated JSON ({e}): {}", snippet(body, 120))
        } else {
            format!("not JSON ({e}): {}", snippet(body, 120))
        };
        FlickrError::decode(method, what)
    })?;
    let Value::Object(ref obj) = value else {
        return Err(FlickrError::decode(
            method,
            format!("expected a JSON object, got {}", snippet(body, 120)),
        ));
    };
    match obj.get("stat").and_then(Value::as_str) {
        Some("ok") => Ok(value),
        Some("fail") => Err(FlickrError::Api {
            method: method.to_owned(),
            code: obj.get("code").and_then(lenient_i64).unwrap_or(-1),
            message: obj
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("(no message)")
                .to_owned(),
        }),
        Some(other) => Err(FlickrError::decode(
            method,
            format!("unknown stat {other:?}"),
        )),
        None => Err(FlickrError::decode(
            method,
            format!("reply has no \"stat\": {}", snippet(body, 120)),
        )),
    }
}

/// The object under `key` in a reply, or a decode error naming it.
pub(crate) fn field<'v>(method: &str, value: &'v Value, key: &str) -> Result<&'v Value> {
    value
        .get(key)
        .ok_or_else(|| FlickrError::decode(method, format!("reply has no \"{key}\" object")))
}

/// Deserializes `value` as `T`, with an error naming the method and `what`.
pub(crate) fn typed<T: DeserializeOwned>(method: &str, what: &str, value: &Value) -> Result<T> {
    T::deserialize(value).map_err(|e| FlickrError::decode(method, format!("{what}: {e}")))
}

/// One page of a paged listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub page: u32,
    pub pages: u32,
    pub per_page: u32,
    pub total: u64,
    pub items: Vec<T>,
}

impl<T> Page<T> {
    /// Whether pages after this one exist.
    pub fn has_more(&self) -> bool {
        self.page < self.pages && !self.items.is_empty()
    }
}

/// Decodes a paged list object (`{"page":..,"pages":..,"perpage"|"per_page":..,
/// "total":.., "<list_key>":[...]}`); a missing list is an empty page.
pub(crate) fn page_of<T: DeserializeOwned>(
    method: &str,
    obj: &Value,
    list_key: &str,
) -> Result<Page<T>> {
    if !obj.is_object() {
        return Err(FlickrError::decode(
            method,
            format!("expected a paged object holding \"{list_key}\""),
        ));
    }
    let num = |k: &str| obj.get(k).and_then(lenient_u64);
    let items = match obj.get(list_key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, item)| typed(method, &format!("{list_key}[{i}]"), item))
            .collect::<Result<Vec<T>>>()?,
        // A single element sent as an object instead of a one-element list.
        Some(single @ Value::Object(_)) => vec![typed(method, list_key, single)?],
        Some(other) => {
            return Err(FlickrError::decode(
                method,
                format!(
                    "\"{list_key}\" is not a list: {}",
                    snippet(&other.to_string(), 80)
                ),
            ))
        }
    };
    let page = num("page").unwrap_or(1).min(u32::MAX as u64) as u32;
    let pages = num("pages").unwrap_or(page as u64).min(u32::MAX as u64) as u32;
    let per_page = num("perpage")
        .or_else(|| num("per_page"))
        .unwrap_or(items.len() as u64)
        .min(u32::MAX as u64) as u32;
    let total = num("total").unwrap_or(items.len() as u64);
    Ok(Page {
        page,
        pages,
        per_page,
        total,
        items,
    })
}

/// A number given as a JSON number or a numeric string.
pub(crate) fn lenient_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(u64::from(*b)),
        _ => None,
    }
}

pub(crate) fn lenient_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// Text given plainly or wrapped as `{"_content": "..."}`.
pub(crate) fn lenient_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("_content").and_then(lenient_text),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

// ---- serde `deserialize_with` helpers (use with `#[serde(default, ...)]`) ----

/// `u64` from a number or a numeric string; null or `""` give 0.
pub(crate) fn de_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(0),
        Value::String(s) if s.trim().is_empty() => Ok(0),
        _ => lenient_u64(&v).ok_or_else(|| D::Error::custom(format!("expected a number, got {v}"))),
    }
}

/// `Option<u64>`: missing, null or `""` give `None`.
pub(crate) fn de_opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        _ => lenient_u64(&v)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a number, got {v}"))),
    }
}

/// `Option<i64>`: missing, null or `""` give `None`.
pub(crate) fn de_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        _ => lenient_i64(&v)
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("expected a number, got {v}"))),
    }
}

/// A 0/1 flag as a number, a string or a boolean.
pub(crate) fn de_flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    match &v {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") || s.is_empty() => Ok(false),
        _ => lenient_i64(&v)
            .map(|n| n != 0)
            .ok_or_else(|| D::Error::custom(format!("expected a 0/1 flag, got {v}"))),
    }
}

/// `Option<bool>` flag: missing or null give `None`.
pub(crate) fn de_opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    de_flag(v).map(Some).map_err(D::Error::custom)
}

/// Text, plain or `{"_content"}`-wrapped; null gives `""`.
pub(crate) fn de_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(String::new());
    }
    lenient_text(&v).ok_or_else(|| D::Error::custom(format!("expected text, got {v}")))
}

/// Optional text: missing or null give `None` (an empty string stays `Some("")`).
pub(crate) fn de_opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    lenient_text(&v)
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("expected text, got {v}")))
}

/// Optional text where `""` also means absent.
pub(crate) fn de_opt_nonempty<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(de_opt_text(d)?.filter(|s| !s.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Quirky {
        #[serde(default, deserialize_with = "de_u64")]
        n: u64,
        #[serde(default, deserialize_with = "de_flag")]
        f: bool,
        #[serde(default, deserialize_with = "de_text")]
        t: String,
        #[serde(default, deserialize_with = "de_opt_u64")]
        o: Option<u64>,
    }

    fn quirky(v: Value) -> Quirky {
        serde_json::from_value(v).expect("decodes")
    }

    #[test]
    fn numbers_as_strings_or_numbers() {
        assert_eq!(quirky(json!({"n": "12"})).n, 12);
        assert_eq!(quirky(json!({"n": 12})).n, 12);
        assert_eq!(quirky(json!({"n": ""})).n, 0);
        assert_eq!(quirky(json!({})).n, 0);
        assert_eq!(quirky(json!({"o": ""})).o, None);
        assert_eq!(quirky(json!({"o": "7"})).o, Some(7));
        assert!(serde_json::from_value::<Quirky>(json!({"n": "twelve"})).is_err());
    }

    #[test]
    fn flags_as_numbers_strings_or_bools() {
        for v in [json!(1), json!("1"), json!(true)] {
            assert!(quirky(json!({ "f": v })).f);
        }
        for v in [json!(0), json!("0"), json!(false), json!(null)] {
            assert!(!quirky(json!({ "f": v })).f);
        }
    }

    #[test]
    fn text_plain_or_content_wrapped() {
        assert_eq!(quirky(json!({"t": "Trip"})).t, "Trip");
        assert_eq!(quirky(json!({"t": {"_content": "Trip"}})).t, "Trip");
        assert_eq!(quirky(json!({})).t, "");
    }

    #[test]
    fn envelope_turns_stat_fail_into_api_error() {
        let err = envelope(
            "flickr.photos.getInfo",
            r#"{"stat":"fail","code":"1","message":"Photo not found"}"#,
        )
        .unwrap_err();
        match err {
            FlickrError::Api {
                method,
                code,
                message,
            } => {
                assert_eq!(method, "flickr.photos.getInfo");
                assert_eq!(code, 1);
                assert_eq!(message, "Photo not found");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn envelope_reports_malformed_bodies_with_context() {
        for (body, needle) in [
            (r#"{"photos":{"page":1"#, "truncated"),
            ("<html>502 Bad Gateway</html>", "not JSON"),
            ("", "empty body"),
            ("[1,2]", "expected a JSON object"),
            (r#"{"photos":{}}"#, "stat"),
        ] {
            let err = envelope("flickr.people.getPhotos", body).unwrap_err();
            let s = err.to_string();
            assert!(s.contains("flickr.people.getPhotos"), "{s}");
            assert!(s.contains(needle), "{needle} not in {s}");
        }
    }

    #[test]
    fn pages_accept_both_per_page_spellings_and_missing_lists() {
        let a: Page<Value> = page_of(
            "m",
            &json!({"page":"2","pages":"3","perpage":"500","total":"1234","photo":[{"id":"1"}]}),
            "photo",
        )
        .unwrap();
        assert_eq!((a.page, a.pages, a.per_page, a.total), (2, 3, 500, 1234));
        assert_eq!(a.items.len(), 1);
        let b: Page<Value> = page_of(
            "m",
            &json!({"page":1,"pages":0,"per_page":500,"total":0}),
            "photo",
        )
        .unwrap();
        assert_eq!(b.per_page, 500);
        assert!(b.items.is_empty());
        assert!(!b.has_more());
        let err = page_of::<Value>("m", &json!({"photo": "x"}), "photo").unwrap_err();
        assert!(err.to_string().contains("not a list"));
    }
}
