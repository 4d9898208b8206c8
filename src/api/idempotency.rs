//! `Idempotency-Key` for mutations: same key + same body → the saved answer replayed with
//! `Idempotent-Replayed: true`; same key + another body → 422; a duplicate arriving while
//! the first is still being processed waits for it (bounded) and is then replayed, or gets
//! 409 if the first takes too long. The record is written in the handler's transaction.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

use crate::db::idempotency::{self as store, Claim};
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED: &str = "idempotent-replayed";
/// How long a request waits for another one in flight with its key before answering 409.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(5);

/// The `Idempotency-Key` header, validated when present.
pub struct IdempotencyKey(pub Option<String>);

impl IdempotencyKey {
    /// For endpoints that move money or destroy data: a missing key is a 400.
    pub fn required(self) -> Result<String> {
        self.0.ok_or_else(|| {
            Error::bad_request("idempotency.key_required", "this endpoint requires an Idempotency-Key header")
                .with_next_step("send a unique key (e.g. a UUID) per intended action, and the same key when retrying it")
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let Some(v) = parts.headers.get(HEADER) else {
            return Ok(IdempotencyKey(None));
        };
        let key = v
            .to_str()
            .ok()
            .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()));
        match key {
            Some(k) => Ok(IdempotencyKey(Some(k.to_string()))),
            None => Err(Error::bad_request(
                "idempotency.key_invalid",
                "Idempotency-Key must be 1 to 255 visible ASCII characters",
            )),
        }
    }
}

/// A claimed fresh key; [`Fresh::save`] stores the answer in the same transaction.
pub struct Fresh {
    tenant_id: TenantId,
    principal: String,
    key: String,
}

pub enum Begin {
    Fresh(Fresh),
    Replay(Response),
}

/// Hash of what the request asks for: the operation and its (typed, re-serialized) body.
pub fn fingerprint(operation: &str, body: &impl serde::Serialize) -> String {
    let mut h = Sha256::new();
    h.update(operation.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(body).unwrap_or_default());
    hex::encode(h.finalize())
}

/// Claims `key` for (tenant, principal) inside the caller's transaction.
pub async fn begin(
    tx: &mut PgConnection,
    tenant_id: &TenantId,
    principal: &str,
    key: &str,
    hash: &str,
) -> Result<Begin> {
    // A concurrent duplicate blocks on the unique index until the first commits; bound it.
    let claim = match store::claim(tx, tenant_id, principal, key, hash, IN_FLIGHT_WAIT).await {
        Ok(c) => c,
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {
            return Err(Error::conflict(
                "idempotency.in_flight",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            ));
        }
        Err(e) => return Err(e.into()),
    };
    match claim {
        Claim::Fresh => Ok(Begin::Fresh(Fresh {
            tenant_id: tenant_id.clone(),
            principal: principal.into(),
            key: key.into(),
        })),
        Claim::Used(saved) if saved.request_hash != hash => Err(Error::unprocessable(
            "idempotency.key_reused",
            "this Idempotency-Key was used with a different request",
        )
        .with_next_step("use a new key for a different request")),
        Claim::Used(saved) => {
            let status =
                StatusCode::from_u16(saved.response_status as u16).unwrap_or(StatusCode::OK);
            let mut headers = HeaderMap::new();
            for (k, v) in saved.response_headers.0 {
                if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
                    headers.insert(k, v);
                }
            }
            headers.insert(REPLAYED, HeaderValue::from_static("true"));
            Ok(Begin::Replay(
                (status, headers, saved.response_body).into_response(),
            ))
        }
    }
}

impl Fresh {
    /// Saves `status`, `headers` and the JSON `body` for replays and returns the response.
    pub async fn save(
        self,
        tx: &mut PgConnection,
        status: StatusCode,
        headers: Vec<(String, String)>,
        body: &impl serde::Serialize,
    ) -> Result<Response> {
        let bytes = serde_json::to_vec(body).map_err(anyhow::Error::from)?;
        let mut headers = headers;
        headers.push(("content-type".into(), "application/json".into()));
        store::complete(
            tx,
            &self.tenant_id,
            &self.principal,
            &self.key,
            status.as_u16(),
            &headers,
            &bytes,
        )
        .await?;
        let mut map = HeaderMap::new();
        for (k, v) in &headers {
            if let (Ok(k), Ok(v)) = (
                HeaderName::try_from(k.as_str()),
                HeaderValue::try_from(v.as_str()),
            ) {
                map.insert(k, v);
            }
        }
        Ok((status, map, bytes).into_response())
    }
}
