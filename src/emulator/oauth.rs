//! OAuth 1.0a on the emulator's side: collecting a request's parameters,
//! building the signature base string, checking HMAC-SHA1 signatures,
//! timestamps and nonces.
//!
//! This is written from the specification (RFC 5849 / OAuth Core 1.0a), on
//! purpose independent of the client's signer, so that a wrong signer and a
//! wrong verifier cannot agree by construction. Token storage lives in
//! `state.rs`; this module is pure apart from the nonce cache.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::Sha1;

/// RFC 3986 percent-encoding: everything except `A-Z a-z 0-9 - . _ ~`.
const OAUTH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How far a request's `oauth_timestamp` may be from the emulator's clock.
pub const MAX_CLOCK_SKEW_SECS: i64 = 600;

/// Percent-encodes per RFC 3986, as OAuth requires.
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, OAUTH_ENCODE).to_string()
}

/// Parses a query string or a form body (`application/x-www-form-urlencoded`)
/// into ordered name/value pairs.
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(s.as_bytes()).into_owned().collect()
}

/// Parses an `Authorization: OAuth k="v", ...` header into its parameters
/// (decoded). `realm` is dropped: it is not part of the signature.
pub fn parse_authorization(header: &str) -> Option<Vec<(String, String)>> {
    let rest = header.trim();
    let rest = rest
        .strip_prefix("OAuth ")
        .or_else(|| rest.strip_prefix("oauth "))?;
    let mut out = Vec::new();
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=')?;
        let v = v.trim().trim_matches('"');
        let k = percent_decode_str(k.trim())
            .decode_utf8_lossy()
            .into_owned();
        if k == "realm" {
            continue;
        }
        let v = percent_decode_str(v).decode_utf8_lossy().into_owned();
        out.push((k, v));
    }
    Some(out)
}

/// The signature base string: `METHOD&enc(url)&enc(sorted params)`.
/// `params` must not contain `oauth_signature`.
pub fn base_string(method: &str, url: &str, params: &[(String, String)]) -> String {
    let mut enc: Vec<(String, String)> =
        params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    enc.sort();
    let joined = enc
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        encode(url),
        encode(&joined)
    )
}

/// The HMAC-SHA1 signature (base64) of a base string.
#[cfg(test)]
pub fn sign(base: &str, consumer_secret: &str, token_secret: &str) -> String {
    let key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha1>::new_from_slice(key.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks `signature` (base64, as sent) against the base string, in constant time.
pub fn verify(base: &str, consumer_secret: &str, token_secret: &str, signature: &str) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(key.as_bytes()) else {
        return false;
    };
    mac.update(base.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// Normalises a request URL for the base string: lower-case scheme and host,
/// default port dropped, no query.
pub fn normalized_url(scheme: &str, host: &str, path: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let mut host = host.to_ascii_lowercase();
    if (scheme == "http" && host.ends_with(":80")) || (scheme == "https" && host.ends_with(":443"))
    {
        if let Some(i) = host.rfind(':') {
            host.truncate(i);
        }
    }
    format!("{scheme}://{host}{path}")
}

/// All the parameters of one request, split into what the signature covers.
#[derive(Debug, Default, Clone)]
pub struct SignedParams {
    /// Every parameter that takes part in the signature (query, form, header
    /// `oauth_*`), without `oauth_signature`.
    pub signed: Vec<(String, String)>,
    /// The signature as sent, if any.
    pub signature: Option<String>,
}

impl SignedParams {
    /// Gathers parameters from the query/form pairs and the Authorization header.
    pub fn gather(pairs: &[(String, String)], auth_header: Option<&str>) -> Self {
        let mut out = SignedParams::default();
        let header = auth_header
            .and_then(parse_authorization)
            .unwrap_or_default();
        for (k, v) in pairs.iter().chain(header.iter()) {
            if k == "oauth_signature" {
                out.signature = Some(v.clone());
            } else {
                out.signed.push((k.clone(), v.clone()));
            }
        }
        out
    }

    /// First value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.signed
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Remembers the nonces seen in the last few minutes so a replayed request is
/// refused. Kept in memory: after a restart the timestamp window still limits
/// replays to ten minutes.
#[derive(Default)]
pub struct NonceCache {
    seen: Mutex<HashMap<String, i64>>,
}

impl NonceCache {
    /// Records a nonce; false when it was already used with this key, token and timestamp.
    pub fn check_and_insert(
        &self,
        consumer: &str,
        token: &str,
        nonce: &str,
        ts: i64,
        now: i64,
    ) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return false;
        };
        if seen.len() > 50_000 {
            seen.retain(|_, t| (now - *t).abs() <= MAX_CLOCK_SKEW_SECS * 2);
        }
        let key = format!("{consumer}\u{0}{token}\u{0}{nonce}\u{0}{ts}");
        if seen.contains_key(&key) {
            return false;
        }
        seen.insert(key, ts);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn spec_test_vector_a5() {
        let params = vec![
            p("file", "vacation.jpg"),
            p("size", "original"),
            p("oauth_consumer_key", "dpf43f3p2l4k3l03"),
            p("oauth_token", "nnch734d00sl2jdk"),
            p("oauth_signature_method", "HMAC-SHA1"),
            p("oauth_timestamp", "1191242096"),
            p("oauth_nonce", "kllo9940pd9333jh"),
            p("oauth_version", "1.0"),
        ];
        let base = base_string("GET", "http://photos.example.net/photos", &params);
        assert_eq!(
            base,
            "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal"
        );
        let sig = sign(&base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00");
        assert_eq!(sig, "tR3+Ty81lMeYAr/Fid0kMTYa/WM=");
        assert!(verify(
            &base,
            "kd94hf93k423kf44",
            "pfkkdhi9sl3r4s00",
            "tR3+Ty81lMeYAr/Fid0kMTYa/WM="
        ));
        assert!(!verify(
            &base,
            "kd94hf93k423kf44",
            "wrong",
            "tR3+Ty81lMeYAr/Fid0kMTYa/WM="
        ));
    }

    #[test]
    fn authorization_header_is_parsed_and_realm_dropped() {
        let h = r#"OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_signature="tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D""#;
        let got = parse_authorization(h).unwrap();
        assert_eq!(
            got,
            vec![
                p("oauth_consumer_key", "dpf43f3p2l4k3l03"),
                p("oauth_signature", "tR3+Ty81lMeYAr/Fid0kMTYa/WM=")
            ]
        );
    }

    #[test]
    fn encoding_follows_rfc3986() {
        assert_eq!(encode("a b+c~d*e"), "a%20b%2Bc~d%2Ae");
        assert_eq!(encode("é"), "%C3%A9");
        assert_eq!(
            parse_form("a+b=c%20d+e%2B&&f&=g"),
            vec![p("a b", "c d e+"), p("f", ""), p("", "g")]
        );
        assert_eq!(
            normalized_url("HTTP", "Example.com:80", "/x"),
            "http://example.com/x"
        );
    }

    #[test]
    fn nonces_are_single_use() {
        let c = NonceCache::default();
        assert!(c.check_and_insert("k", "t", "n", 10, 10));
        assert!(!c.check_and_insert("k", "t", "n", 10, 10));
        assert!(c.check_and_insert("k", "t", "n2", 10, 10));
    }
}
