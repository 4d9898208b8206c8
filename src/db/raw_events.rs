//! The upstream events ingest recorded for an order (`order_events`), as they arrived:
//! what an agent inspects when the read model and the upstream disagree.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::domain::ids::{OrderId, TenantId};

/// One recorded event with its payload (the order document the upstream sent with it).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RawEvent {
    /// Order of arrival in orderdesk.
    pub seq: i64,
    /// The upstream's id of the event (ingest de-duplicates on it).
    pub event_id: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
}

/// The order's newest `limit` events, newest first.
pub async fn newest_for_order(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &OrderId,
    limit: i64,
) -> sqlx::Result<Vec<RawEvent>> {
    sqlx::query_as!(
        RawEvent,
        r#"SELECT seq, event_id, type AS type_, occurred_at, received_at, payload
         FROM order_events WHERE tenant_id = $1 AND order_id = $2
         ORDER BY seq DESC LIMIT $3"#,
        tenant_id.as_str(),
        order_id.as_str(),
        limit,
    )
    .fetch_all(conn)
    .await
}
