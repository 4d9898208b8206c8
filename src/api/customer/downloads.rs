//! `GET /v1/downloads/{token}`: serves the document a presigned link names. No bearer
//! token: the signed, expiring link is the permission; the document is rendered from the
//! order as the read model holds it now.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Response, StatusCode, header};
use chrono::Utc;

use crate::db;
use crate::documents::signing::{self, LinkError, LinkKey};
use crate::documents::{self, DocumentRef};
use crate::error::{Error, Result};
use crate::state::AppState;

/// Longer tokens are refused before any work: real ones are a few hundred bytes.
const MAX_TOKEN_LEN: usize = 2048;

/// A PDF file, as the download route answers it (for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PdfFile(#[allow(dead_code)] Vec<u8>);

/// Downloads the PDF a link from `/documents`, `/invoice` or `/label` points to.
#[utoipa::path(get, path = "/v1/downloads/{token}", tag = "customer",
    params(("token" = String, Path, description = "the last segment of a download link's `url`")),
    responses((status = 200, content_type = "application/pdf", body = PdfFile),
              (status = 400, body = crate::error::Problem, description = "`download.malformed`"),
              (status = 403, body = crate::error::Problem, description = "`download.invalid_signature` or `download.expired`"),
              (status = 404, body = crate::error::Problem, description = "the order or shipment no longer exists")))]
pub async fn download_document(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response<Body>> {
    let claims = if token.len() > MAX_TOKEN_LEN {
        Err(LinkError::Malformed)
    } else {
        let key = LinkKey::derive(&state.config.download_secret);
        signing::verify(&key, &token, Utc::now().timestamp())
    }
    .map_err(link_error)?;

    let mut conn = state.db.acquire().await?;
    let order = db::orders::get(
        &mut conn,
        &claims.tenant_id,
        &claims.order_id,
        Some(&claims.customer_id),
    )
    .await?
    .ok_or_else(|| Error::not_found("document"))?;
    let seller = db::tenants::name(&mut conn, &claims.tenant_id)
        .await?
        .unwrap_or_else(|| claims.tenant_id.clone());
    drop(conn);

    let doc = DocumentRef {
        kind: claims.kind,
        shipment_id: claims.shipment_id,
    };
    let pdf =
        documents::render(&order, &seller, &doc).ok_or_else(|| Error::not_found("document"))?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        documents::filename(&order, &doc)
    );
    let mut res = Response::new(Body::from(pdf));
    *res.status_mut() = StatusCode::OK;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(documents::CONTENT_TYPE),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(|e| Error::Internal(e.into()))?,
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // the token is in the URL: do not hand it to whatever the PDF links to
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(res)
}

fn link_error(e: LinkError) -> Error {
    match e {
        LinkError::Malformed => Error::bad_request(
            "download.malformed",
            "this is not a download link; copy the whole `url` of a document",
        ),
        LinkError::BadSignature => Error::forbidden(
            "download.invalid_signature",
            "this download link was altered or was not issued by this service",
        )
        .with_next_step("ask for a new link at /v1/customer/orders/{order_id}/documents"),
        LinkError::Expired => {
            Error::forbidden("download.expired", "this download link has expired")
                .with_next_step("ask for a new link at /v1/customer/orders/{order_id}/documents")
        }
    }
}
