//! Flickr's REST reply formats: the default XML (`format=rest` or no
//! `format`) and JSON, with or without the `jsonFlickrApi(...)` wrapper.
//!
//! Every method builds its reply once, as the JSON object Flickr documents;
//! the XML form is derived from it by the rule Flickr's JSON itself follows
//! from its XML (the "mechanical transform", read backwards): a scalar
//! becomes an attribute, `_content` becomes the element's text, an object a
//! child element, and a list repeated child elements of the key's name.
//! `null` values are left out. Not for the upload endpoint, whose replies
//! are written in `upload.rs`.

use axum::body::Body;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde_json::{Map, Value};

/// The reply format a request asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// `format=rest` or none: `<rsp stat="ok">...</rsp>`.
    Rest,
    /// `format=json`: raw with `nojsoncallback=1`, else wrapped in the
    /// named callback (`jsonFlickrApi` by default).
    Json { callback: Option<String> },
    /// A format Flickr does not serve here; the error 111 is sent as XML.
    Unknown(String),
}

impl Format {
    /// Reads `format`, `nojsoncallback` and `jsoncallback` from the parameters.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Format {
        match get("format").as_deref() {
            None | Some("") | Some("rest") => Format::Rest,
            Some("json") => {
                let callback = if get("nojsoncallback").as_deref() == Some("1") {
                    None
                } else {
                    Some(
                        get("jsoncallback")
                            .filter(|c| {
                                !c.is_empty()
                                    && c.chars().all(|ch| {
                                        ch.is_ascii_alphanumeric() || ch == '_' || ch == '.'
                                    })
                            })
                            .unwrap_or_else(|| "jsonFlickrApi".into()),
                    )
                };
                Format::Json { callback }
            }
            Some(other) => Format::Unknown(other.to_owned()),
        }
    }

    /// The reply: `body` is the whole JSON object including `stat` (and
    /// `code`/`message` for a failure).
    pub fn respond(&self, body: &Map<String, Value>) -> Response {
        let (text, ctype) = match self {
            Format::Json { callback } => {
                let json = Value::Object(body.clone()).to_string();
                match callback {
                    Some(cb) => (format!("{cb}({json})"), "text/javascript; charset=utf-8"),
                    None => (json, "application/json; charset=utf-8"),
                }
            }
            Format::Rest | Format::Unknown(_) => (to_xml(body), "text/xml; charset=utf-8"),
        };
        let mut r = Response::new(Body::from(text));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
        r
    }
}

/// `<?xml ...?><rsp stat="...">` with the reply's elements, or
/// `<err code msg/>` for a failure.
pub fn to_xml(body: &Map<String, Value>) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n");
    let stat = body.get("stat").and_then(Value::as_str).unwrap_or("ok");
    out.push_str(&format!("<rsp stat=\"{}\">\n", escape(stat)));
    if stat == "fail" {
        let code = body.get("code").map(scalar).unwrap_or_default();
        let msg = body.get("message").map(scalar).unwrap_or_default();
        out.push_str(&format!(
            "\t<err code=\"{}\" msg=\"{}\" />\n",
            escape(&code),
            escape(&msg)
        ));
    } else {
        for (k, v) in body.iter().filter(|(k, _)| k.as_str() != "stat") {
            element(&mut out, k, v, 1);
        }
    }
    out.push_str("</rsp>\n");
    out
}

fn element(out: &mut String, name: &str, v: &Value, depth: usize) {
    let indent = "\t".repeat(depth);
    match v {
        Value::Null => {}
        Value::Array(items) => {
            for item in items {
                element(out, name, item, depth);
            }
        }
        Value::Object(m) => {
            out.push_str(&format!("{indent}<{name}"));
            for (k, a) in m {
                if k != "_content" && !matches!(a, Value::Object(_) | Value::Array(_) | Value::Null)
                {
                    out.push_str(&format!(" {k}=\"{}\"", escape(&scalar(a))));
                }
            }
            let text = m.get("_content").map(scalar);
            let children: Vec<(&String, &Value)> = m
                .iter()
                .filter(|(_, c)| matches!(c, Value::Object(_) | Value::Array(_)))
                .collect();
            match (text, children.is_empty()) {
                (None, true) => out.push_str(" />\n"),
                (Some(t), true) => out.push_str(&format!(">{}</{name}>\n", escape(&t))),
                (text, false) => {
                    out.push('>');
                    if let Some(t) = text {
                        out.push_str(&escape(&t));
                    }
                    out.push('\n');
                    for (k, c) in children {
                        element(out, k, c, depth + 1);
                    }
                    out.push_str(&format!("{indent}</{name}>\n"));
                }
            }
        }
        scalar_value => {
            out.push_str(&format!(
                "{indent}<{name}>{}</{name}>\n",
                escape(&scalar(scalar_value))
            ));
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => (*b as u8).to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            // Characters XML 1.0 cannot carry at all are dropped.
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn json_shapes_become_flickr_xml() {
        let body = map(json!({
            "photos": {"page": 1, "total": "2", "photo": [
                {"id": "1", "title": "A & B", "ispublic": 1},
                {"id": "2", "title": "", "ispublic": 0}
            ]},
            "stat": "ok"
        }));
        let xml = to_xml(&body);
        assert!(xml.contains("<rsp stat=\"ok\">"), "{xml}");
        assert!(xml.contains("<photos page=\"1\" total=\"2\">"), "{xml}");
        assert!(
            xml.contains("<photo id=\"1\" ispublic=\"1\" title=\"A &amp; B\" />"),
            "{xml}"
        );
        let person = to_xml(&map(json!({
            "person": {"nsid": "1@N01", "username": {"_content": "x<y"}, "path_alias": null},
            "stat": "ok"
        })));
        assert!(person.contains("<person nsid=\"1@N01\">"), "{person}");
        assert!(person.contains("<username>x&lt;y</username>"), "{person}");
        assert!(!person.contains("path_alias"), "{person}");
    }

    #[test]
    fn failures_are_err_elements() {
        let xml = to_xml(&map(
            json!({"stat": "fail", "code": 99, "message": "Insufficient \"permissions\""}),
        ));
        assert!(
            xml.contains("<err code=\"99\" msg=\"Insufficient &quot;permissions&quot;\" />"),
            "{xml}"
        );
    }

    #[test]
    fn format_parameters_pick_the_reply_format() {
        let f = |pairs: &'static [(&'static str, &'static str)]| {
            Format::from_params(move |n| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        assert_eq!(f(&[]), Format::Rest);
        assert_eq!(f(&[("format", "rest")]), Format::Rest);
        assert_eq!(
            f(&[("format", "json")]),
            Format::Json {
                callback: Some("jsonFlickrApi".into())
            }
        );
        assert_eq!(
            f(&[("format", "json"), ("nojsoncallback", "1")]),
            Format::Json { callback: None }
        );
        assert_eq!(f(&[("format", "php")]), Format::Unknown("php".into()));
    }
}
