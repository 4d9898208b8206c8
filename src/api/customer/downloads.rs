//! `GET /v1/downloads/{token}`: serves the document a presigned link names. No bearer
//! token: the signed, expiring link is the permission; the document is rendered from the
//! order as the read model holds it now (an invoice with Billing's credit notes and
//! adjustments, read live).

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Response, header};
use axum::response::IntoResponse;
use chrono::Utc;

use crate::api::customer::documents::seller_of;
use crate::api::customer::order_parts::{upstream_failure, upstream_knows_none};
use crate::api::shared::download;
use crate::db;
use crate::documents::signing::{self, LinkClaims, LinkError, LinkKey};
use crate::documents::{self, DocumentKind, DocumentRef};
use crate::domain::order::Order;
use crate::error::{Error, Result};
use crate::state::AppState;

/// Longer tokens are refused before any work: real ones are a few hundred bytes.
const MAX_TOKEN_LEN: usize = 2048;

/// A PDF file, as the download route answers it (for the OpenAPI document).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct PdfFile(#[allow(dead_code)] Vec<u8>);

/// Downloads the PDF a link from `/documents`, `/invoice` or `/label` points to (customs
/// documents too, while the shipment still crosses a border).
#[utoipa::path(get, path = "/v1/downloads/{token}", tag = "customer",
    params(("token" = String, Path, description = "the last segment of a download link's `url`")),
    responses((status = 200, content_type = "application/pdf", body = PdfFile),
              (status = 400, body = crate::error::Problem, description = "`download.malformed`"),
              (status = 403, body = crate::error::Problem, description = "`download.invalid_signature` or `download.expired`"),
              (status = 404, body = crate::error::Problem, description = "the order or shipment no longer exists")))]
pub async fn download_document(
    State(state): State<AppState>,
    DownloadLink(claims): DownloadLink,
) -> Result<Response<Body>> {
    let order = order_of(&state, &claims).await?;
    let seller = seller_of(&mut *state.db.acquire().await?, &claims.tenant_id).await?;
    let doc = DocumentRef {
        kind: claims.kind,
        shipment_id: claims.shipment_id,
    };
    let changes = invoice_changes(&state, &order, &doc).await?;
    let pdf = documents::render_with(&order, &seller, &doc, &changes)
        .ok_or_else(|| Error::not_found("document"))?;
    pdf_download(pdf, &documents::filename(&order, &doc))
}

/// The claims of a valid link, from the path's `{token}`: 400 `download.malformed`, 403
/// `download.invalid_signature` or `download.expired`.
pub struct DownloadLink(pub LinkClaims);

impl FromRequestParts<AppState> for DownloadLink {
    type Rejection = Response<Body>;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Response<Body>> {
        let Path(token) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let claims = if token.len() > MAX_TOKEN_LEN {
            Err(LinkError::Malformed)
        } else {
            let key = LinkKey::derive(&state.config.download_secret);
            signing::verify(&key, &token, Utc::now().timestamp())
        };
        claims
            .map(DownloadLink)
            .map_err(|e| link_error(e).into_response())
    }
}

/// The order the link names, as the read model holds it now; 404 when the order is gone.
async fn order_of(state: &AppState, claims: &LinkClaims) -> Result<Order> {
    let (tenant, customer) = (&claims.tenant_id, &claims.customer_id);
    let mut conn = state.db.acquire().await?;
    db::orders::get(&mut conn, tenant, &claims.order_id, Some(customer))
        .await?
        .ok_or_else(|| Error::not_found("document"))
}

/// Billing's credit notes and adjustments of the order's invoices, oldest first, when `doc`
/// is the invoice (no other document shows them).
async fn invoice_changes(
    state: &AppState,
    order: &Order,
    doc: &DocumentRef,
) -> Result<Vec<documents::InvoiceChange>> {
    if doc.kind != DocumentKind::Invoice {
        return Ok(vec![]);
    }
    let invoices = match state
        .upstream
        .invoices_of_order(&order.tenant_id, &order.id)
        .await
    {
        Ok(list) => list,
        Err(e) if upstream_knows_none(&e) => vec![],
        Err(e) => return Err(upstream_failure("invoices", &e)),
    };
    let mut changes: Vec<_> = invoices
        .into_iter()
        .flat_map(|i| i.credit_notes.into_iter().chain(i.adjustments))
        .collect();
    changes.sort_by_key(|c| c.created_at);
    Ok(changes
        .into_iter()
        .map(|c| documents::InvoiceChange {
            credit: c.kind == "credit_note",
            id: c.id,
            line_id: c.line_id,
            amount_minor: c.amount_minor,
        })
        .collect())
}

/// The PDF as a download named `filename`.
fn pdf_download(pdf: Vec<u8>, filename: &str) -> Result<Response<Body>> {
    let disposition = format!("attachment; filename=\"{filename}\"");
    let disposition = HeaderValue::from_str(&disposition).map_err(|e| Error::Internal(e.into()))?;
    let content_type = HeaderValue::from_static(documents::CONTENT_TYPE);
    let mut res = download(pdf, content_type, Some(disposition));
    // the token is in the URL: do not hand it to whatever the PDF links to
    res.headers_mut().insert(
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
