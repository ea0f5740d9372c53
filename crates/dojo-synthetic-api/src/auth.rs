//! Who may read tasks: every served task carries the ground truth a miner must not see.
//!
//! The service listens on loopback unless told otherwise; a non-loopback listen address needs an
//! [`ApiKey`], which every route except `/healthz` then demands as `Authorization: Bearer <key>`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Shortest key accepted: a guessable key would make the check decorative.
pub const MIN_KEY_LEN: usize = 16;

/// A shared secret callers present as a bearer token.
#[derive(Clone)]
pub struct ApiKey {
    /// SHA-256 of the key: comparing digests takes the same time whatever the presented token's
    /// length, and the key itself is not kept around in memory dumps of the config.
    digest: [u8; 32],
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "the API key is {len} characters after trimming whitespace; at least {MIN_KEY_LEN} are required"
    )]
    TooShort { len: usize },
    #[error("the API key contains whitespace or control characters inside it")]
    BadCharacters,
}

impl ApiKey {
    /// Builds a key from its text (a key file's contents: surrounding whitespace, such as the
    /// trailing newline, is ignored).
    pub fn new(text: &str) -> Result<Self, KeyError> {
        let key = text.trim();
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(KeyError::BadCharacters);
        }
        let len = key.chars().count();
        if len < MIN_KEY_LEN {
            return Err(KeyError::TooShort { len });
        }
        Ok(Self {
            digest: Sha256::digest(key.as_bytes()).into(),
        })
    }

    /// Whether `presented` is this key, in time independent of where they differ.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let d: [u8; 32] = Sha256::digest(presented).into();
        bool::from(self.digest.ct_eq(&d))
    }
}

/// Whether `ip` only reaches this machine (IPv4-mapped IPv6 loopback counts).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Refuses to serve ground truth beyond this machine without a key.
pub fn check_exposure(addr: SocketAddr, key: Option<&ApiKey>) -> Result<(), ExposureError> {
    if key.is_none() && !is_loopback(addr.ip()) {
        return Err(ExposureError { addr });
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to listen on {addr} without an API key: served tasks carry their ground truth; \
     listen on a loopback address such as 127.0.0.1, or configure an API key"
)]
pub struct ExposureError {
    pub addr: SocketAddr,
}

fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let v = headers.get(header::AUTHORIZATION)?.as_bytes();
    let scheme = v.get(..7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| v[7..].trim_ascii())
}

/// Middleware: 401 unless the request carries the key. `/healthz` stays open so load balancers
/// and supervisors can probe without the secret; it reveals no task.
pub(crate) async fn require_key(
    State(key): State<Arc<ApiKey>>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path() == "/healthz" {
        return next.run(req).await;
    }
    match bearer(req.headers()) {
        Some(token) if key.matches(token) => next.run(req).await,
        presented => {
            tracing::warn!(
                path = %req.uri().path(),
                token_present = presented.is_some(),
                "rejected a request without the right API key"
            );
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                axum::Json(crate::wire::ErrorBody {
                    success: false,
                    error: "missing or wrong API key (send Authorization: Bearer <key>)".to_owned(),
                }),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_matches_only_itself() {
        let k = ApiKey::new("  0123456789abcdef\n").expect("key");
        assert!(k.matches(b"0123456789abcdef"));
        assert!(!k.matches(b"0123456789abcdeF"));
        assert!(!k.matches(b"0123456789abcdef0"));
        assert!(!k.matches(b""));
    }

    #[test]
    fn weak_keys_are_refused() {
        assert_eq!(
            ApiKey::new("short\n").unwrap_err(),
            KeyError::TooShort { len: 5 }
        );
        assert_eq!(
            ApiKey::new("0123456789 abcdef").unwrap_err(),
            KeyError::BadCharacters
        );
        assert!(format!("{:?}", ApiKey::new("0123456789abcdef").expect("k")).contains("redacted"));
    }

    #[test]
    fn loopback_needs_no_key_anything_else_does() {
        let k = ApiKey::new("0123456789abcdef").expect("key");
        for ok in [
            "127.0.0.1:5003",
            "[::1]:5003",
            "[::ffff:127.0.0.1]:1",
            "127.8.9.1:2",
        ] {
            assert!(
                check_exposure(ok.parse().expect("addr"), None).is_ok(),
                "{ok}"
            );
        }
        for exposed in [
            "0.0.0.0:5003",
            "[::]:5003",
            "10.0.0.2:1",
            "[::ffff:10.0.0.2]:1",
        ] {
            let addr = exposed.parse().expect("addr");
            assert!(check_exposure(addr, None).is_err(), "{exposed}");
            assert!(check_exposure(addr, Some(&k)).is_ok(), "{exposed}");
        }
    }

    #[test]
    fn bearer_parsing() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc ".parse().expect("v"));
        assert_eq!(bearer(&h), Some(&b"abc"[..]));
        h.insert(header::AUTHORIZATION, "bearer abc".parse().expect("v"));
        assert_eq!(bearer(&h), Some(&b"abc"[..]));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().expect("v"));
        assert_eq!(bearer(&h), None);
    }
}
