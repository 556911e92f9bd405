//! OAuth 1.0a HMAC-SHA1 signing of Flickr requests, on top of the
//! `oauth1-request` crate.
//!
//! The output is a complete `x-www-form-urlencoded` string (the request's own
//! parameters plus every `oauth_*` parameter and the signature), used as the
//! query of a GET, the body of a POST, or split back into the text fields of a
//! multipart upload (where the `photo` part is deliberately left out of the
//! signature, as Flickr requires). Not for sending anything: see `transport`.

use std::num::NonZeroU64;

use oauth1_request as oauth;

/// Per-request OAuth options beyond the key pairs.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OAuthExtras<'a> {
    /// `oauth_callback` (request-token step only).
    pub callback: Option<&'a str>,
    /// `oauth_verifier` (access-token step only).
    pub verifier: Option<&'a str>,
    /// A fixed nonce, for test vectors only.
    pub nonce: Option<&'a str>,
    /// A fixed timestamp, for test vectors only.
    pub timestamp: Option<u64>,
}

/// Key pairs for one signature: the consumer pair and, when there is one,
/// the token pair (request token or access token).
#[derive(Clone, Copy)]
pub(crate) struct SigningKeys<'a> {
    pub consumer_key: &'a str,
    pub consumer_secret: &'a str,
    pub token: Option<(&'a str, &'a str)>,
}

/// Signs `params` for `http_method url` and returns the whole form string,
/// signature included. `url` must not carry a query.
pub(crate) fn signed_form(
    http_method: &str,
    url: &str,
    keys: SigningKeys<'_>,
    extras: OAuthExtras<'_>,
    params: &[(String, String)],
) -> String {
    let mut builder = oauth::Builder::<_, _, &str>::new(
        oauth::Credentials::new(keys.consumer_key, keys.consumer_secret),
        oauth::HmacSha1::new(),
    );
    if let Some((token, secret)) = keys.token {
        builder.token(oauth::Credentials::new(token, secret));
    }
    builder.callback(extras.callback);
    builder.verifier(extras.verifier);
    builder.nonce(extras.nonce);
    builder.timestamp(extras.timestamp.and_then(NonZeroU64::new));
    // Flickr's examples (and the spec's test vector) sign `oauth_version=1.0`.
    builder.version(true);
    let list: oauth::ParameterList<&str, &str> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // The builder signs every parameter but writes out only the `oauth_*`
    // ones; the request's own parameters are encoded separately.
    let oauth_part = builder.to_form(http_method, url, &list);
    let own_part = oauth::to_form(&list);
    if own_part.is_empty() {
        oauth_part
    } else {
        format!("{own_part}&{oauth_part}")
    }
}

/// Splits a form string back into decoded `(name, value)` pairs, in order
/// (`application/x-www-form-urlencoded`: `+` is a space, then percent-decoding).
pub(crate) fn form_pairs(form: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(form.as_bytes())
        .into_owned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OAuth Core 1.0, appendix A.5 (HMAC-SHA1): the specification's own example.
    #[test]
    fn reproduces_the_oauth_core_test_vector() {
        let params = vec![
            ("file".to_owned(), "vacation.jpg".to_owned()),
            ("size".to_owned(), "original".to_owned()),
        ];
        let form = signed_form(
            "GET",
            "http://photos.example.net/photos",
            SigningKeys {
                consumer_key: "dpf43f3p2l4k3l03",
                consumer_secret: "kd94hf93k423kf44",
                token: Some(("nnch734d00sl2jdk", "pfkkdhi9sl3r4s00")),
            },
            OAuthExtras {
                nonce: Some("kllo9940pd9333jh"),
                timestamp: Some(1191242096),
                ..Default::default()
            },
            &params,
        );
        let pairs = form_pairs(&form);
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("oauth_signature"), Some("tR3+Ty81lMeYAr/Fid0kMTYa/WM="));
        assert_eq!(get("oauth_signature_method"), Some("HMAC-SHA1"));
        assert_eq!(get("oauth_version"), Some("1.0"));
        assert_eq!(get("oauth_token"), Some("nnch734d00sl2jdk"));
        assert_eq!(get("file"), Some("vacation.jpg"));
        // The encoded form keeps the `+` and `/` of the signature escaped.
        assert!(form.contains("oauth_signature=tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D"));
    }

    #[test]
    fn callback_and_verifier_are_signed_parameters() {
        let keys = SigningKeys {
            consumer_key: "k",
            consumer_secret: "s",
            token: None,
        };
        let form = signed_form(
            "GET",
            "https://example.com/oauth/request_token",
            keys,
            OAuthExtras {
                callback: Some("http://127.0.0.1:1234/callback"),
                ..Default::default()
            },
            &[],
        );
        let pairs = form_pairs(&form);
        assert!(pairs
            .iter()
            .any(|(k, v)| k == "oauth_callback" && v == "http://127.0.0.1:1234/callback"));
        assert!(pairs.iter().any(|(k, _)| k == "oauth_nonce"));
        assert!(pairs.iter().any(|(k, _)| k == "oauth_timestamp"));
        assert!(!pairs.iter().any(|(k, _)| k == "oauth_token"));
    }

    #[test]
    fn unicode_and_reserved_characters_survive_the_round_trip() {
        let params = vec![("title".to_owned(), "Été & co/ +1 ~ok".to_owned())];
        let keys = SigningKeys {
            consumer_key: "k",
            consumer_secret: "s",
            token: Some(("t", "ts")),
        };
        let form = signed_form("POST", "https://x/", keys, OAuthExtras::default(), &params);
        let pairs = form_pairs(&form);
        assert!(pairs
            .iter()
            .any(|(k, v)| k == "title" && v == "Été & co/ +1 ~ok"));
    }

    #[test]
    fn form_pairs_decode_plus_as_space_and_keep_order() {
        assert_eq!(
            form_pairs("oauth_problem=token_rejected&x=a+b%2Bc&&flag&=v"),
            vec![
                ("oauth_problem".to_owned(), "token_rejected".to_owned()),
                ("x".to_owned(), "a b+c".to_owned()),
                ("flag".to_owned(), String::new()),
                (String::new(), "v".to_owned()),
            ]
        );
    }
}
