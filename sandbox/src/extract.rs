//! Extractors of the sandbox that answer bad input in the problem+json format.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// The `X-Tenant-ID` header; missing or empty → 400 `tenant.missing`.
pub struct Tenant(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        parts
            .headers
            .get("x-tenant-id")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| Tenant(v.to_string()))
            .ok_or_else(|| {
                Error::bad_request("tenant.missing", "the X-Tenant-ID header is required")
            })
    }
}

/// The optional `Idempotency-Key` header; over 255 bytes → 400 `idempotency.key_invalid`.
pub struct IdempotencyKey(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        let Some(value) = parts.headers.get("idempotency-key") else {
            return Ok(IdempotencyKey(None));
        };
        match value.to_str().map(str::trim) {
            Ok(key) if !key.is_empty() && key.len() <= 255 => {
                Ok(IdempotencyKey(Some(key.to_string())))
            }
            _ => Err(Error::bad_request(
                "idempotency.key_invalid",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )),
        }
    }
}

/// A JSON body; an empty body reads as `{}` (so bodies whose fields are all optional may be
/// left out). Malformed → 422 `request.invalid_body`.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| Error::unprocessable("request.invalid_body", e.body_text()))?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(text)
            .map(Body)
            .map_err(|e| Error::unprocessable("request.invalid_body", e.to_string()))
    }
}

/// Query parameters; malformed → 422 `request.invalid_query`.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Params(q))
            .map_err(|e| Error::unprocessable("request.invalid_query", e.body_text()))
    }
}
