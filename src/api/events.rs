//! `POST /v1/events/ingest`: the upstream's signed domain events feed the read model.
//! The signature covers a timestamp (replays outside the window are refused) and each
//! event id is stored once, so a redelivered event has no second effect.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::extract::invalid;
use crate::db;
use crate::domain::ids::TenantId;
use crate::domain::order::Order;
use crate::error::{Error, Result};
use crate::events::signature::{self, SignatureError};
use crate::jobs;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ingest_event))
}

/// A domain event from the upstream (see docs/upstream-contract.md).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventIn {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    pub occurred_at: DateTime<Utc>,
    pub order: Order,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestOut {
    /// `stored`, or `duplicate` for an event id seen before.
    pub outcome: &'static str,
}

/// Stores an upstream event and refreshes the order's read model; shipment news of an
/// order with update subscriptions starts `notify_shipment_update`.
#[utoipa::path(post, path = "/v1/events/ingest", tag = "events", request_body = EventIn,
    params(("X-Orderdesk-Signature" = String, Header, description = "t=<unix>,v1=<hex HMAC-SHA256>")),
    responses((status = 200, body = IngestOut), (status = 401, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn ingest_event(
    State(state): State<AppState>,
    SignedEvent(event): SignedEvent,
) -> Result<(StatusCode, Json<IngestOut>)> {
    let ingested = ingest(&state, &event).await?;
    if let Ingested::Stored { notice: Some(run) } = &ingested {
        jobs::dispatch(&state.db, &state.queue, run).await;
    }
    let outcome = ingested.outcome();
    Ok((StatusCode::OK, Json(IngestOut { outcome })))
}

/// An event whose signature is valid for its body, parsed and consistent: 401
/// `events.signature_missing`, `events.signature_stale` or `events.signature_invalid`; 422
/// for a body that is no [`EventIn`] or names two tenants.
pub struct SignedEvent(pub EventIn);

impl FromRequest<AppState> for SignedEvent {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let header = req.headers().get(signature::HEADER).cloned();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let header = header.as_ref().and_then(|v| v.to_str().ok());
        check_signature(&state.config.events_secret, header, &body)
            .and_then(|()| parse_event(&body))
            .map(SignedEvent)
            .map_err(IntoResponse::into_response)
    }
}

/// The signature `header` against `body`, now.
fn check_signature(secret: &[u8], header: Option<&str>, body: &[u8]) -> Result<()> {
    let refused = |code: &str, detail: &str| Error::new(StatusCode::UNAUTHORIZED, code, detail);
    let header = header
        .ok_or_else(|| refused("events.signature_missing", "missing X-Orderdesk-Signature"))?;
    signature::verify(secret, header, body, Utc::now().timestamp()).map_err(|e| match e {
        SignatureError::Stale => refused(
            "events.signature_stale",
            "the signature's timestamp is outside the accepted window",
        ),
        _ => refused(
            "events.signature_invalid",
            "the signature does not match the body",
        ),
    })
}

/// The event in `body`, whose order belongs to the event's tenant.
fn parse_event(body: &[u8]) -> Result<EventIn> {
    let event: EventIn =
        serde_json::from_slice(body).map_err(|e| invalid("body", e.to_string()))?;
    if event.order.tenant_id != event.tenant_id {
        return Err(invalid("order.tenant_id", "must equal tenant_id"));
    }
    Ok(event)
}

/// What ingesting an event did.
enum Ingested {
    /// Its id was seen before: nothing changed.
    Duplicate,
    /// Stored; `notice` is the shipment-notice run to dispatch after the commit.
    Stored { notice: Option<jobs::Started> },
}

impl Ingested {
    fn outcome(&self) -> &'static str {
        match self {
            Ingested::Duplicate => "duplicate",
            Ingested::Stored { .. } => "stored",
        }
    }
}

/// In one transaction: the event (once per id), the order's read model when the event
/// brings a newer version of it, and the shipment notice that version calls for.
async fn ingest(state: &AppState, event: &EventIn) -> Result<Ingested> {
    let (tenant, order) = (&event.tenant_id, &event.order);
    let mut tx = state.db.begin().await?;
    if !db::tenants::exists(&mut tx, tenant).await? {
        return Err(Error::unprocessable(
            "events.unknown_tenant",
            "no such tenant",
        ));
    }
    let payload = serde_json::to_value(order).map_err(anyhow::Error::from)?;
    let (id, kind, at) = (&event.id, &event.type_, event.occurred_at);
    if !db::orders::insert_event(&mut tx, tenant, &order.id, id, kind, &payload, at).await? {
        tx.commit().await?;
        return Ok(Ingested::Duplicate);
    }
    let before = db::orders::lock_view(&mut tx, tenant, &order.id).await?;
    let notice = if db::orders::upsert_view(&mut tx, order).await? {
        let source = serde_json::json!({ "event_id": event.id, "event_type": event.type_ });
        let data = crate::events::order_updated(order, before.as_ref(), source);
        db::events::record(
            &mut tx,
            tenant,
            "order.updated",
            Some(order.id.as_str()),
            data,
        )
        .await?;
        let (registry, before) = (&state.workflows, before.as_ref());
        jobs::shipment_notice::start(&mut tx, registry, before, order, "system:events").await?
    } else {
        None
    };
    tx.commit().await?;
    Ok(Ingested::Stored { notice })
}
