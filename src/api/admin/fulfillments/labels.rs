//! A shipment's label: `GET` answers the newest stored version (uploaded with the ship
//! request, or regenerated), else one rendered now from the order; `POST` renders a new
//! version and stores it (audited).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::api::accept::{Admission, Admitted, Answer, Intake, accept};
use crate::api::admin::access_log::{self, Read};
use crate::api::authorized::{Authorized, can};
use crate::api::customer::documents::seller_of;
use crate::api::customer::downloads::PdfFile;
use crate::api::extract::Path;
use crate::api::idempotency::IdempotencyKey;
use crate::api::shared::{RequestMeta, download};
use crate::db;
use crate::db::audit::Entry;
use crate::db::fulfillments::FulfillmentRow;
use crate::documents::{self, DocumentRef};
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use crate::state::AppState;

/// The tenant's fulfilment that shipped as `shipment_id` (404 otherwise, another tenant's
/// included).
async fn shipped(
    conn: &mut sqlx::PgConnection,
    tenant: &TenantId,
    shipment_id: &str,
) -> Result<FulfillmentRow> {
    db::fulfillments::by_shipment(conn, tenant, shipment_id)
        .await?
        .ok_or_else(|| Error::not_found("shipment"))
}

/// The label rendered now from the order as the read model holds it.
async fn render(
    conn: &mut sqlx::PgConnection,
    row: &FulfillmentRow,
    shipment_id: &str,
) -> Result<Vec<u8>> {
    let order = db::orders::get(conn, &row.tenant_id, &row.order_id, None)
        .await?
        .ok_or_else(|| Error::not_found("shipment"))?;
    let seller = seller_of(conn, &row.tenant_id).await?;
    documents::render(&order, &seller, &DocumentRef::label(shipment_id))
        .ok_or_else(|| Error::not_found("shipment"))
}

/// The shipment's label as a PDF: the newest stored version (`X-Label-Version`,
/// `X-Label-Source: uploaded|rendered`), or one rendered now when none is stored
/// (`X-Label-Version: 0`). The read is access-logged (`shipment.label_viewed`): the label
/// shows the recipient's name and address. Another tenant's shipment → 404. Requires
/// `orders.fulfil`.
#[utoipa::path(get, path = "/v1/admin/shipments/{shipment_id}/label", tag = "admin",
    params(("shipment_id" = String, Path)), security(("bearer" = ["orders.fulfil"])),
    responses((status = 200, content_type = "application/pdf", body = PdfFile),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_label(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersFulfil>,
    meta: RequestMeta,
    Path(shipment_id): Path<String>,
) -> Result<Response> {
    let mut tx = state.db.begin().await?;
    let (pdf, version, source) = read_label(&mut tx, &agent, &meta, &shipment_id).await?;
    tx.commit().await?;
    Ok(label_response(pdf, &shipment_id, version, &source))
}

/// The label to answer (newest stored, else rendered now), its read recorded in `tx`.
async fn read_label(
    tx: &mut sqlx::PgConnection,
    agent: &Authorized<can::OrdersFulfil>,
    meta: &RequestMeta,
    shipment_id: &str,
) -> Result<(Vec<u8>, i32, String)> {
    let row = shipped(tx, &agent.tenant_id, shipment_id).await?;
    let label = match db::fulfillments::latest_label(tx, &agent.tenant_id, &row.id).await? {
        Some(l) => (l.pdf, l.version, l.source),
        None => (render(tx, &row, shipment_id).await?, 0, "rendered".into()),
    };
    // the label prints the recipient's name and address: the read is recorded
    let read = Read {
        action: "shipment.label_viewed",
        subject_type: "shipment",
        subject_id: shipment_id,
        shown: json!({ "order_id": row.order_id, "version": label.1 }),
    };
    access_log::record(tx, agent, meta, read).await?;
    Ok(label)
}

fn label_response(pdf: Vec<u8>, shipment_id: &str, version: i32, source: &str) -> Response {
    let disposition = format!("attachment; filename=\"label-{shipment_id}-v{version}.pdf\"");
    let disposition = HeaderValue::from_str(&disposition).ok();
    let mut res = download(
        pdf,
        HeaderValue::from_static(documents::CONTENT_TYPE),
        disposition,
    );
    let headers = res.headers_mut();
    headers.insert("x-label-version", HeaderValue::from(version));
    if let Ok(v) = HeaderValue::from_str(source) {
        headers.insert("x-label-source", v);
    }
    res
}

/// A label version just stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabelVersionOut {
    pub shipment_id: String,
    pub version: i32,
    /// `rendered`.
    pub source: String,
    pub size_bytes: usize,
}

impl Answer for LabelVersionOut {}

/// Renders the shipment's label anew from the order as it is now and stores it as the next
/// version (what `GET` answers from then on): 201 with the version; audited. Another
/// tenant's shipment → 404. Requires `orders.fulfil`; `Idempotency-Key` honoured.
#[utoipa::path(post, path = "/v1/admin/shipments/{shipment_id}/label", tag = "admin",
    params(("shipment_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    security(("bearer" = ["orders.fulfil"])),
    responses((status = 201, body = LabelVersionOut),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn regenerate_label(
    State(state): State<AppState>,
    agent: Authorized<can::OrdersFulfil>,
    meta: RequestMeta,
    key: IdempotencyKey,
    Path(shipment_id): Path<String>,
) -> Result<Response> {
    let key = key.optional_for(&format!("label:{shipment_id}"), &json!({}));
    accept(&state, agent.caller(&meta), key, Regenerate { shipment_id }).await
}

struct Regenerate {
    shipment_id: String,
}

impl Intake for Regenerate {
    type Answer = LabelVersionOut;

    async fn admit(self, adm: &mut Admission<'_>) -> Result<Admitted<LabelVersionOut>> {
        let tenant = adm.caller().tenant_id.clone();
        let row = shipped(adm.conn(), &tenant, &self.shipment_id).await?;
        // the row lock serializes label versions
        super::tenant_fulfillment(adm.conn(), &tenant, row.id.as_str(), true).await?;
        let pdf = render(adm.conn(), &row, &self.shipment_id).await?;
        let by = adm.caller().principal.clone();
        let label =
            db::fulfillments::add_label(adm.conn(), &tenant, &row.id, "rendered", &pdf, &by)
                .await?;
        adm.audit(Entry {
            action: "shipment.label_regenerated",
            subject_type: "shipment",
            subject_id: &self.shipment_id,
            reason: None,
            before: None,
            after: Some(json!({ "version": label.version, "fulfillment_id": row.id })),
            personal_data_of: None,
        })
        .await?;
        let answer = LabelVersionOut {
            shipment_id: self.shipment_id,
            version: label.version,
            source: label.source,
            size_bytes: label.pdf.len(),
        };
        Ok(Admitted::done(StatusCode::CREATED, answer))
    }
}
