//! `GET /v1/exports/download/{token}`: streams a finished export to whoever holds its
//! signed, expiring link (no bearer token): the parts one after the other for CSV and
//! NDJSON, the assembled file for Parquet, never the whole file in memory.

use axum::body::Body;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use chrono::Utc;
use futures::{StreamExt, TryStreamExt};

use crate::api::shared::download;
use crate::db;
use crate::db::exports::ExportRow;
use crate::domain::exports::{Compression, ExportFormat};
use crate::error::{Error, Result};
use crate::exports::Store;
use crate::exports::link::{self, ExportClaims, LinkError, Signed};
use crate::state::AppState;

/// Longer tokens are refused before any work: real ones are about 150 bytes.
const MAX_TOKEN_LEN: usize = 1024;

/// An export file, as the download route answers it (for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ExportFile(#[allow(dead_code)] Vec<u8>);

/// Downloads the export a link from `/v1/admin/exports/{id}` (or the job's result) points
/// to. The `Repr-Digest` header carries the file's sha256.
#[utoipa::path(get, path = "/v1/exports/download/{token}", tag = "admin",
    params(("token" = String, Path, description = "the last segment of an export's `download_url`")),
    responses((status = 200, content_type = "application/octet-stream", body = ExportFile),
              (status = 400, body = crate::error::Problem, description = "`export.link_malformed`"),
              (status = 403, body = crate::error::Problem, description = "`export.link_invalid`"),
              (status = 404, body = crate::error::Problem, description = "the export is gone or not finished"),
              (status = 410, body = crate::error::Problem, description = "`export.link_expired`")))]
pub async fn download_export(
    State(state): State<AppState>,
    ExportLink(claims): ExportLink,
) -> Result<Response> {
    let mut conn = state.db.acquire().await?;
    let export = db::exports::get(&mut conn, &claims.tenant_id, claims.export_id)
        .await?
        .filter(|e| e.finished_at.is_some())
        .ok_or_else(|| Error::not_found("export"))?;
    let keys = match &export.object_key {
        Some(whole) => vec![whole.clone()],
        None => db::exports::parts(&mut conn, &claims.tenant_id, claims.export_id)
            .await?
            .into_iter()
            .map(|p| p.object_key)
            .collect(),
    };
    let store = Store::open(&state.config.exports).map_err(Error::Internal)?;
    file_response(&export, objects(store, keys))
}

/// The objects of `keys`, one after the other, as they stream from the store.
pub(crate) fn objects(store: Store, keys: Vec<String>) -> Body {
    let stream = futures::stream::iter(keys)
        .then(move |key| {
            let store = store.clone();
            async move {
                let got = store.inner.get(&store.path(&key)).await?;
                Ok::<_, object_store::Error>(got.into_stream())
            }
        })
        .try_flatten();
    Body::from_stream(stream)
}

/// The file as a download named after the export, with its length and digest.
fn file_response(export: &ExportRow, body: Body) -> Result<Response> {
    let format = ExportFormat::parse(&export.format).unwrap_or(ExportFormat::Csv);
    let compression = Compression::parse(&export.compression).unwrap_or_default();
    let content_type = match compression {
        Compression::Gzip => "application/gzip",
        Compression::None => format.content_type(),
    };
    let ext = crate::exports::store::extension(format, compression);
    let file = StoredFile {
        content_type,
        filename: format!("orders-{}.{ext}", export.id),
        bytes: export.bytes,
        sha256: export.sha256.as_deref(),
    };
    file.response(body)
}

/// A stored file as a download: its type, name, and once known its length and sha256.
pub(crate) struct StoredFile<'a> {
    pub content_type: &'static str,
    /// Letters, digits, `-`, `_` and `.` only (it goes in `Content-Disposition` as is).
    pub filename: String,
    pub bytes: Option<i64>,
    /// Lower-case hex; repeated in `Repr-Digest`.
    pub sha256: Option<&'a str>,
}

impl StoredFile<'_> {
    pub(crate) fn response(self, body: Body) -> Result<Response> {
        let disposition = format!("attachment; filename=\"{}\"", self.filename);
        let internal = |e: axum::http::header::InvalidHeaderValue| Error::Internal(e.into());
        let mut res = download(
            body,
            HeaderValue::from_static(self.content_type),
            Some(HeaderValue::from_str(&disposition).map_err(internal)?),
        );
        let h = res.headers_mut();
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if let Some(bytes) = self.bytes {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes));
        }
        if let Some(raw) = self.sha256.and_then(|s| hex::decode(s).ok()) {
            let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
            let digest = format!("sha-256=:{b64}:");
            h.insert(
                "repr-digest",
                HeaderValue::from_str(&digest).map_err(internal)?,
            );
        }
        Ok(res)
    }
}

/// The claims of a valid export link of kind `C` (an orders export by default, or a
/// subject's archive), from the path's `{token}`.
pub struct ExportLink<C = ExportClaims>(pub C);

impl<C: Signed> FromRequestParts<AppState> for ExportLink<C> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self> {
        let axum::extract::Path(token) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| link_error(LinkError::Malformed))?;
        if token.len() > MAX_TOKEN_LEN {
            return Err(link_error(LinkError::Malformed));
        }
        let key = C::key(&state.config.download_secret);
        link::verify(&key, &token, Utc::now().timestamp())
            .map(ExportLink)
            .map_err(link_error)
    }
}

/// 410 `export.link_expired`, 403 `export.link_invalid`, 400 `export.link_malformed`.
pub(crate) fn link_error(e: LinkError) -> Error {
    match e {
        LinkError::Expired => Error::new(
            StatusCode::GONE,
            "export.link_expired",
            "this download link has expired",
        )
        .with_next_step("GET /v1/admin/exports/{id} for a fresh link"),
        LinkError::BadSignature => Error::forbidden(
            "export.link_invalid",
            "this download link was changed or was not signed by this server",
        ),
        LinkError::Malformed => Error::bad_request(
            "export.link_malformed",
            "this is not a download link of this server",
        ),
    }
}
