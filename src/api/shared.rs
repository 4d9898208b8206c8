//! What several handlers share: the request's metadata for audit records, pages and their
//! cursors, `Prefer: wait`, and answering a file as a download.

use std::time::Duration;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::client_ip::ClientIp;
use crate::db::audit::Actor;
use crate::error::{Error, Result};

/// Request id, client IP and correlation id, for audit records.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub correlation_id: Option<String>,
    /// Seconds from `Prefer: wait=N` (at most 30).
    pub wait: Option<Duration>,
}

pub const MAX_WAIT_SECS: u64 = 30;

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let h = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        // Resolved by the `client_ip` middleware, which alone knows whether to trust
        // X-Forwarded-For; without it (a bare router) the peer address.
        let ip = match parts.extensions.get::<ClientIp>() {
            Some(ClientIp(ip)) => ip.map(|ip| ip.to_string()),
            None => parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string()),
        };
        let request_id = h("x-request-id");
        // a request that names no correlation starts its own: its request id
        let correlation_id = match h("x-correlation-id") {
            None => request_id.clone(),
            Some(c) if (1..=128).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_graphic()) => {
                Some(c)
            }
            Some(_) => {
                return Err(Error::bad_request(
                    "request.invalid_correlation_id",
                    "X-Correlation-ID holds 1 to 128 visible ASCII characters",
                ));
            }
        };
        Ok(RequestMeta {
            request_id,
            ip,
            correlation_id,
            wait: h("prefer")
                .map(|p| parse_prefer_wait(&p))
                .transpose()?
                .flatten(),
        })
    }
}

/// `Prefer: wait=N` (RFC 7240); other preferences are ignored.
fn parse_prefer_wait(header: &str) -> Result<Option<Duration>> {
    for pref in header.split([',', ';']) {
        if let Some(v) = pref.trim().strip_prefix("wait=") {
            let secs: u64 = v.trim().parse().map_err(|_| {
                Error::bad_request(
                    "request.invalid_prefer",
                    "Prefer: wait must be a whole number of seconds",
                )
            })?;
            if secs > MAX_WAIT_SECS {
                return Err(Error::bad_request(
                    "request.invalid_prefer",
                    format!("Prefer: wait is at most {MAX_WAIT_SECS} seconds"),
                ));
            }
            return Ok(Some(Duration::from_secs(secs)));
        }
    }
    Ok(None)
}

impl RequestMeta {
    /// The audit actor for a principal of `kind` with `id` and `roles`.
    pub fn actor(&self, kind: &'static str, id: &str, roles: Vec<String>) -> Actor {
        Actor {
            kind,
            id: id.to_string(),
            roles,
            on_behalf_of: None,
            ip: self.ip.clone(),
            request_id: self.request_id.clone(),
            correlation_id: self.correlation_id.clone(),
        }
    }
}

/// `limit` bounded to 1..=max, default `default`.
pub fn bounded_limit(limit: Option<i64>, default: i64, max: i64) -> Result<i64> {
    match limit {
        None => Ok(default),
        Some(l) if (1..=max).contains(&l) => Ok(l),
        Some(_) => Err(Error::validation(vec![crate::error::FieldError {
            field: "limit".into(),
            message: format!("must be between 1 and {max}"),
        }])),
    }
}

/// A page asked for: its size and the sort key of the last row already seen.
pub struct PageIn<K> {
    pub limit: i64,
    pub after: Option<K>,
}

impl<K: DeserializeOwned> PageIn<K> {
    /// `limit` bounded to 1..=`max` (default `default`), then `cursor` decoded.
    pub fn parse(limit: Option<i64>, cursor: Option<&str>, default: i64, max: i64) -> Result<Self> {
        let limit = bounded_limit(limit, default, max)?;
        let after = cursor.map(decode_cursor).transpose()?;
        Ok(PageIn { limit, after })
    }
}

impl<K> PageIn<K> {
    /// How many rows to read: one more than the page, to learn whether another follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

/// A validated list query: the filter to read with (it asks for one row more than the
/// page) and the page size.
pub struct Listing<F> {
    pub filter: F,
    pub limit: i64,
}

/// `rows`, read with one more than `limit`, cut to the page; with the cursor of the next
/// page (the key of the page's last row) when more follow.
pub fn page_of<T, K: Serialize>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl FnOnce(&T) -> K,
) -> (Vec<T>, Option<String>) {
    if rows.len() as i64 <= limit {
        return (rows, None);
    }
    rows.truncate(limit as usize);
    let next = rows.last().map(|row| encode_cursor(&key(row)));
    (rows, next)
}

/// An opaque cursor: base64url of the JSON of the last row's sort key.
pub fn encode_cursor(key: &impl Serialize) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

pub fn decode_cursor<T: DeserializeOwned>(cursor: &str) -> Result<T> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            Error::bad_request(
                "request.invalid_cursor",
                "the cursor is not one this API returned",
            )
        })
}

/// A file answered as a download: saved, never rendered, sniffed or kept by a cache.
/// `disposition` names the file; each caller adds what its kind of file needs more.
pub fn download(
    content: impl Into<Body>,
    content_type: HeaderValue,
    disposition: Option<HeaderValue>,
) -> Response {
    let mut res = Response::new(content.into());
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    if let Some(disposition) = disposition {
        h.insert(header::CONTENT_DISPOSITION, disposition);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefer_wait_is_bounded() {
        assert_eq!(
            parse_prefer_wait("wait=5").unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_prefer_wait("respond-async, wait=0").unwrap(),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_prefer_wait("return=minimal").unwrap(), None);
        assert_eq!(
            parse_prefer_wait("wait=31").unwrap_err().code(),
            "request.invalid_prefer"
        );
        assert_eq!(
            parse_prefer_wait("wait=x").unwrap_err().code(),
            "request.invalid_prefer"
        );
    }

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = encode_cursor(&("2026-01-01T00:00:00Z", "ord_1"));
        let (page, next) = page_of(vec![1, 2, 3], 2, |n| *n);
        assert_eq!(
            (
                page,
                next.as_deref()
                    .map(decode_cursor::<i32>)
                    .transpose()
                    .unwrap()
            ),
            (vec![1, 2], Some(2))
        );
        assert_eq!(page_of(vec![1, 2], 2, |n| *n), (vec![1, 2], None));
        let back: (String, String) = decode_cursor(&c).unwrap();
        assert_eq!(back.1, "ord_1");
        assert_eq!(
            decode_cursor::<(String, String)>("!!").unwrap_err().code(),
            "request.invalid_cursor"
        );
    }
}
