//! `POST /v1/events/ingest`: the upstream's signed domain events feed the read model.
//! The signature covers a timestamp (replays outside the window are refused) and each
//! event id is stored once, so a redelivered event has no second effect.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::db;
use crate::db::subscriptions::Which;
use crate::domain::order::Order;
use crate::domain::shipment_updates::{self, ShipmentNoticeInput};
use crate::error::{Error, FieldError, Result};
use crate::events::signature::{self, SignatureError};
use crate::jobs::{self, NewRun};
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
    pub tenant_id: String,
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<IngestOut>)> {
    let sig = headers
        .get(signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            Error::new(
                StatusCode::UNAUTHORIZED,
                "events.signature_missing",
                "missing X-Orderdesk-Signature",
            )
        })?;
    match signature::verify(
        &state.config.events_secret,
        sig,
        &body,
        Utc::now().timestamp(),
    ) {
        Ok(()) => {}
        Err(SignatureError::Stale) => {
            return Err(Error::new(
                StatusCode::UNAUTHORIZED,
                "events.signature_stale",
                "the signature's timestamp is outside the accepted window",
            ));
        }
        Err(_) => {
            return Err(Error::new(
                StatusCode::UNAUTHORIZED,
                "events.signature_invalid",
                "the signature does not match the body",
            ));
        }
    }
    let event: EventIn = serde_json::from_slice(&body).map_err(|e| {
        Error::validation(vec![FieldError {
            field: "body".into(),
            message: e.to_string(),
        }])
    })?;
    if event.order.tenant_id != event.tenant_id {
        return Err(Error::validation(vec![FieldError {
            field: "order.tenant_id".into(),
            message: "must equal tenant_id".into(),
        }]));
    }
    let mut tx = state.db.begin().await?;
    if !db::tenants::exists(&mut tx, &event.tenant_id).await? {
        return Err(Error::unprocessable(
            "events.unknown_tenant",
            "no such tenant",
        ));
    }
    let payload = serde_json::to_value(&event.order).map_err(anyhow::Error::from)?;
    let fresh = db::orders::insert_event(
        &mut tx,
        &event.tenant_id,
        &event.order.id,
        &event.id,
        &event.type_,
        &payload,
        event.occurred_at,
    )
    .await?;
    let mut notify_run = None;
    if fresh {
        let before = db::orders::lock_view(&mut tx, &event.tenant_id, &event.order.id).await?;
        if db::orders::upsert_view(&mut tx, &event.order).await? {
            notify_run =
                start_shipment_notice(&state, &mut tx, before.as_ref(), &event.order).await?;
        }
    }
    tx.commit().await?;
    if let Some(run_id) = notify_run {
        jobs::dispatch(&state.db, &state.queue, run_id).await;
    }
    Ok((
        StatusCode::OK,
        Json(IngestOut {
            outcome: if fresh { "stored" } else { "duplicate" },
        }),
    ))
}

/// The workflow that tells subscribers about shipment news.
pub const SHIPMENT_NOTICE_WORKFLOW: &str = "notify_shipment_update";

/// When `after` brings shipment news and the customer subscribed to updates of the order,
/// enqueues `notify_shipment_update` in the ingest's transaction (so the news is told
/// exactly when the new version is stored) and returns the run to dispatch after commit.
async fn start_shipment_notice(
    state: &AppState,
    tx: &mut PgConnection,
    before: Option<&Order>,
    after: &Order,
) -> Result<Option<Uuid>> {
    let updates = shipment_updates::changes(before, after);
    if updates.is_empty() {
        return Ok(None);
    }
    let subscribed = db::subscriptions::list(
        tx,
        &after.tenant_id,
        &after.id,
        &after.customer_id,
        Which::Active,
    )
    .await?;
    if subscribed.is_empty() {
        return Ok(None);
    }
    let input = ShipmentNoticeInput {
        order_id: after.id.clone(),
        customer_id: after.customer_id.clone(),
        order_number: after.number.clone(),
        updates,
        // which steps of the workflow apply (their `when`)
        channels: subscribed
            .iter()
            .map(|s| (s.channel.clone(), true))
            .collect(),
    };
    let run = jobs::enqueue(
        tx,
        &state.workflows,
        NewRun {
            tenant_id: after.tenant_id.clone(),
            kind: SHIPMENT_NOTICE_WORKFLOW.into(),
            subject_id: Some(after.id.clone()),
            customer_id: Some(after.customer_id.clone()),
            requested_by: "system:events".into(),
            input: serde_json::to_value(&input).map_err(anyhow::Error::from)?,
        },
    )
    .await?;
    Ok(Some(run.id))
}
