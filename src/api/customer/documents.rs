//! A customer's documents of an order — invoice, packing slips, shipping labels, customs
//! documents of a cross-border shipment — handed out as presigned, expiring download links
//! (downloaded through `downloads.rs`).

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::auth::Customer;
use crate::api::extract::Path;
use crate::db;
use crate::documents::signing::{self, LinkClaims, LinkKey};
use crate::documents::{self, DocumentKind, DocumentRef, Seller};
use crate::domain::ids::{OrderId, TenantId};
use crate::domain::order::Order;
use crate::error::{Error, Result};
use crate::state::AppState;

/// A link that downloads one document without a token until it expires.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadLinkOut {
    pub kind: DocumentKind,
    /// The shipment of a label or of a per-shipment packing slip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<String>,
    pub filename: String,
    pub content_type: String,
    /// `GET` it with no `Authorization`: the link is the permission. Absolute when the
    /// server knows its public URL (`ORDERDESK_PUBLIC_URL`), else a path on this API.
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentListOut {
    pub data: Vec<DownloadLinkOut>,
}

/// Signs a link to `doc` of `order`, valid for the configured lifetime from now.
pub fn link_to(state: &AppState, order: &Order, doc: DocumentRef) -> DownloadLinkOut {
    let expires_at = Utc::now() + state.config.download_link_ttl;
    let claims = LinkClaims {
        tenant_id: order.tenant_id.clone(),
        customer_id: order.customer_id.clone(),
        order_id: order.id.clone(),
        kind: doc.kind,
        shipment_id: doc.shipment_id.clone(),
        expires_at: expires_at.timestamp(),
    };
    let token = signing::sign(&LinkKey::derive(&state.config.download_secret), &claims);
    let base = state.config.public_url.as_deref().unwrap_or("");
    DownloadLinkOut {
        filename: documents::filename(order, &doc),
        content_type: documents::CONTENT_TYPE.into(),
        url: format!("{base}/v1/downloads/{token}"),
        expires_at: DateTime::from_timestamp(claims.expires_at, 0).unwrap_or(expires_at),
        kind: doc.kind,
        shipment_id: doc.shipment_id,
    }
}

/// The tenant as its documents name it: its name (else its id) and the country it ships
/// from (`ship_from_country`, which decides whether a shipment gets customs documents).
pub async fn seller_of(conn: &mut sqlx::PgConnection, tenant: &TenantId) -> Result<Seller> {
    let name = db::tenants::name(conn, tenant)
        .await?
        .unwrap_or_else(|| tenant.to_string());
    let settings = db::tenants::settings(conn, tenant).await?;
    Ok(Seller {
        name,
        ship_from_country: settings.ship_from_country,
    })
}

/// Links are secrets: no cache may keep them.
fn private<T: Serialize>(body: T) -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "private, no-store")], Json(body))
}

/// A download link for the order's invoice (PDF).
#[utoipa::path(get, path = "/v1/customer/orders/{order_id}/invoice", tag = "customer",
    params(("order_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = DownloadLinkOut), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_invoice(
    State(state): State<AppState>,
    who: Customer,
    Path(order_id): Path<OrderId>,
) -> Result<impl IntoResponse> {
    let order = who.own_order(&state, &order_id).await?;
    Ok(private(link_to(&state, &order, DocumentRef::invoice())))
}

/// A download link for the shipping label of one of the order's shipments (PDF); a
/// shipment of another order is a 404.
#[utoipa::path(get, path = "/v1/customer/orders/{order_id}/label/{shipment_id}", tag = "customer",
    params(("order_id" = String, Path), ("shipment_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = DownloadLinkOut), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_label(
    State(state): State<AppState>,
    who: Customer,
    Path((order_id, shipment_id)): Path<(OrderId, String)>,
) -> Result<impl IntoResponse> {
    let order = who.own_order(&state, &order_id).await?;
    let doc = DocumentRef::label(&shipment_id);
    // whether a shipment has a label does not depend on the seller
    if !documents::has_document(&order, &Seller::named(""), &doc) {
        return Err(Error::not_found("shipment"));
    }
    Ok(private(link_to(&state, &order, doc)))
}

/// Download links for every document of the order: the invoice, a packing slip per
/// shipment (one for the whole order before anything shipped), a label per shipment, and
/// for a shipment to another country than the seller's (`ship_from_country`) its
/// `commercial_invoice` and `customs_declaration` (CN22 up to 300.00, CN23 above).
#[utoipa::path(get, path = "/v1/customer/orders/{order_id}/documents", tag = "customer",
    params(("order_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = DocumentListOut), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn list_documents(
    State(state): State<AppState>,
    who: Customer,
    Path(order_id): Path<OrderId>,
) -> Result<impl IntoResponse> {
    let order = who.own_order(&state, &order_id).await?;
    let seller = seller_of(&mut *state.db.acquire().await?, &order.tenant_id).await?;
    let data = documents::documents_of(&order, &seller)
        .into_iter()
        .map(|doc| link_to(&state, &order, doc))
        .collect();
    Ok(private(DocumentListOut { data }))
}
