//! Where an import's lines come from, by the request's `Content-Type`: NDJSON in the body
//! (`application/x-ndjson`), or a pointer (`application/json`) to an object under the
//! caller's tenant's own `imports/` prefix of the exports store, streamed from there.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::IMPORT_BODY_LIMIT;
use super::lines::ByteSource;
use crate::api::extract::{Valid, Validate, invalid};
use crate::domain::bulk::ImportSource;
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use crate::exports::Store;
use crate::exports::store::import_key;
use crate::state::AppState;

/// An import read from an object in storage.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportFromIn {
    pub source: ImportSourceIn,
}

/// The object to read.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportSourceIn {
    /// The key under the tenant's own `imports/` prefix (the object
    /// `{tenant}/imports/{object}`): at most 512 bytes; no `..`, leading `/`, empty
    /// segment, backslash or control character.
    pub object: String,
}

impl Validate for ImportFromIn {
    type Checked = ImportSource;

    fn validate(&self) -> Result<ImportSource> {
        match ImportSource::key_problem(&self.source.object) {
            Some(problem) => Err(invalid("source.object", problem)),
            None => Ok(ImportSource {
                object: self.source.object.clone(),
            }),
        }
    }
}

/// The import's bytes, as the request's `Content-Type` says where they are (415 for any
/// other than NDJSON or a JSON pointer).
pub enum ImportFrom {
    Body(Body),
    Object(ImportSource),
}

impl FromRequest<AppState> for ImportFrom {
    type Rejection = Error;

    async fn from_request(req: Request, state: &AppState) -> Result<Self> {
        let mime = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        match mime.as_deref() {
            Some("application/x-ndjson") => Ok(ImportFrom::Body(req.into_body())),
            Some("application/json") => {
                let Valid { checked, .. } = Valid::<ImportFromIn>::from_request(req, state).await?;
                Ok(ImportFrom::Object(checked))
            }
            _ => Err(Error::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.content_type",
                "send the lines as application/x-ndjson, or a pointer to an object as application/json",
            )),
        }
    }
}

type Chunks = BoxStream<'static, Result<Bytes>>;

/// The body as the line reader takes it: the route's limit cuts it off (413).
pub(super) fn body_bytes(body: Body) -> ByteSource<Chunks> {
    ByteSource {
        stream: body.into_data_stream().map_err(|_| too_large()).boxed(),
        limit: IMPORT_BODY_LIMIT,
        too_large,
        drain: true,
    }
}

/// The tenant's object `source`, streamed from the exports store. Its size is checked
/// before a byte is read (and the bytes counted anyway, should it grow meanwhile):
/// 422 `import.object_not_found`, 422 `import.object_too_large`, 503
/// `import.storage_unavailable`.
pub(super) async fn object_bytes(
    state: &AppState,
    tenant: &TenantId,
    source: &ImportSource,
) -> Result<ByteSource<Chunks>> {
    let store = Store::open(&state.config.exports).map_err(storage_failed)?;
    let path = store.path(&import_key(tenant, &source.object));
    let meta = store.inner.head(&path).await.map_err(object_error)?;
    if meta.size > IMPORT_BODY_LIMIT as u64 {
        return Err(object_too_large());
    }
    let got = store.inner.get(&path).await.map_err(object_error)?;
    Ok(ByteSource {
        stream: got.into_stream().map_err(object_error).boxed(),
        limit: IMPORT_BODY_LIMIT,
        too_large: object_too_large,
        drain: false,
    })
}

pub(super) fn too_large() -> Error {
    Error::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request.too_large",
        format!("an import is at most {IMPORT_BODY_LIMIT} bytes"),
    )
}

fn object_too_large() -> Error {
    Error::unprocessable(
        "import.object_too_large",
        format!("an import's object is at most {IMPORT_BODY_LIMIT} bytes"),
    )
}

/// A missing object is the caller's mistake (the route exists: not a 404); any other
/// failure is the store's, answered without its paths or hosts.
fn object_error(e: object_store::Error) -> Error {
    match e {
        object_store::Error::NotFound { .. } => Error::unprocessable(
            "import.object_not_found",
            "no such object under this tenant's imports/ prefix",
        ),
        e => storage_failed(e),
    }
}

fn storage_failed(e: impl std::fmt::Display) -> Error {
    tracing::warn!(error = %e, "import object store failed");
    Error::unavailable(
        "import.storage_unavailable",
        "the object store cannot be read now; retry later",
    )
}
