//! The three steps of Flickr's OAuth 1.0a dance, as client calls: get a
//! request token, build the URL where the user approves it, and exchange it
//! (with the verifier) for an access token.
//!
//! The orchestration (browser, callback listener, pasted verifier, storing the
//! result) lives in `crate::accounts`. flickrfs never asks for `delete`.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::client::{Client, Reply};
use super::credentials::{AccessToken, RequestToken};
use super::error::{snippet, FlickrError, Result};
use super::sign::{self, OAuthExtras, SigningKeys};
use super::types::{RequestedPerms, UserIdentity};
use crate::model::Nsid;

/// RFC 3986 unreserved characters stay as they are.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

impl Client {
    /// Step 1: a request token; `callback` is a URL or `oob` (the user then
    /// copies a verifier by hand).
    pub async fn request_token(&self, callback: &str) -> Result<RequestToken> {
        const STEP: &str = "request_token";
        let url = self.inner.endpoints.oauth_request_token.clone();
        let keys = SigningKeys {
            consumer_key: &self.inner.api.key,
            consumer_secret: &self.inner.api.secret,
            token: None,
        };
        let extras = OAuthExtras {
            callback: Some(callback),
            ..Default::default()
        };
        let pairs = self.oauth_step(STEP, &url, keys, extras).await?;
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (Some(token), Some(secret)) = (get("oauth_token"), get("oauth_token_secret")) else {
            return Err(missing(STEP, "oauth_token and oauth_token_secret"));
        };
        Ok(RequestToken {
            token,
            secret,
            callback_confirmed: get("oauth_callback_confirmed").as_deref() == Some("true"),
        })
    }

    /// Step 2: where the user approves the request token.
    pub fn authorize_url(&self, token: &RequestToken, perms: RequestedPerms) -> String {
        format!(
            "{}?oauth_token={}&perms={}",
            self.inner.endpoints.oauth_authorize,
            utf8_percent_encode(&token.token, COMPONENT),
            perms.as_str()
        )
    }

    /// Step 3: trades the approved request token and its verifier for an
    /// access token, and says whose it is.
    pub async fn access_token(
        &self,
        request: &RequestToken,
        verifier: &str,
    ) -> Result<(AccessToken, UserIdentity)> {
        const STEP: &str = "access_token";
        let url = self.inner.endpoints.oauth_access_token.clone();
        let keys = SigningKeys {
            consumer_key: &self.inner.api.key,
            consumer_secret: &self.inner.api.secret,
            token: Some((&request.token, &request.secret)),
        };
        let verifier = verifier.trim();
        let extras = OAuthExtras {
            verifier: Some(verifier),
            ..Default::default()
        };
        let pairs = self.oauth_step(STEP, &url, keys, extras).await?;
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (Some(token), Some(secret), Some(nsid)) = (
            get("oauth_token"),
            get("oauth_token_secret"),
            get("user_nsid"),
        ) else {
            return Err(missing(
                STEP,
                "oauth_token, oauth_token_secret and user_nsid",
            ));
        };
        Ok((
            AccessToken { token, secret },
            UserIdentity {
                nsid: Nsid(nsid),
                username: get("username").unwrap_or_default(),
                fullname: get("fullname").unwrap_or_default(),
            },
        ))
    }

    /// A signed GET to an OAuth endpoint; the reply is form-encoded.
    async fn oauth_step(
        &self,
        step: &str,
        url: &str,
        keys: SigningKeys<'_>,
        extras: OAuthExtras<'_>,
    ) -> Result<Vec<(String, String)>> {
        let what = format!("oauth.{step}");
        let what = what.as_str();
        self.inner
            .options
            .retry
            .run(what, |_| async move {
                self.inner.limiter.acquire(what).await;
                let form = sign::signed_form("GET", url, keys, extras, &[]);
                let response = self
                    .inner
                    .http
                    .get(format!("{url}?{form}"))
                    .timeout(self.inner.options.request_timeout)
                    .send()
                    .await
                    .map_err(|e| FlickrError::network(what, e))?;
                let reply = Reply::read(what, response).await?;
                if reply.overloaded() {
                    let e: Result<Vec<(String, String)>> = Err(reply.http_error(what));
                    self.note_overload(&e);
                    return e;
                }
                let pairs = sign::form_pairs(reply.body.trim());
                if !reply.is_success() {
                    return Err(refused(step, reply.status, &pairs, &reply.body));
                }
                Ok(pairs)
            })
            .await
    }
}

fn missing(step: &str, what: &str) -> FlickrError {
    FlickrError::OAuth {
        step: step.to_owned(),
        message: format!("the reply lacks {what}"),
    }
}

/// An OAuth refusal, naming Flickr's `oauth_problem` when there is one (the
/// `debug_sbs` echo of the base string is left out).
fn refused(step: &str, status: u16, pairs: &[(String, String)], body: &str) -> FlickrError {
    let problem = pairs
        .iter()
        .find(|(k, _)| k == "oauth_problem")
        .map(|(_, v)| v.clone());
    let message = match problem {
        Some(p) if p == "signature_invalid" => {
            format!("HTTP {status}: oauth_problem=signature_invalid (invalid signature: check the API secret)")
        }
        Some(p) => format!("HTTP {status}: oauth_problem={p}"),
        None => format!("HTTP {status}: {}", snippet(body, 160)),
    };
    FlickrError::OAuth {
        step: step.to_owned(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flickr::{ApiCredentials, ClientOptions, Endpoints};

    #[test]
    fn authorize_url_asks_for_write_and_encodes_the_token() {
        let c = Client::new(
            Endpoints::local("http://127.0.0.1:9"),
            ApiCredentials::new("k", "s"),
            None,
            ClientOptions::default(),
        )
        .unwrap();
        let t = RequestToken {
            token: "a b+c".into(),
            secret: "x".into(),
            callback_confirmed: true,
        };
        assert_eq!(
            c.authorize_url(&t, RequestedPerms::default()),
            "http://127.0.0.1:9/services/oauth/authorize?oauth_token=a%20b%2Bc&perms=write"
        );
    }

    #[test]
    fn refusals_name_the_problem_without_the_base_string() {
        let body = "oauth_problem=signature_invalid&debug_sbs=GET&http...oauth_token%3Dsecretish";
        let e = refused("request_token", 401, &sign::form_pairs(body), body);
        let s = e.to_string();
        assert!(s.contains("signature_invalid"), "{s}");
        assert!(!s.contains("debug_sbs"), "{s}");
    }
}
