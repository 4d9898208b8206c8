//! Outgoing domain events (`outbox.kind = 'event'`): THE one place an event is written
//! ([`record`], in the transaction of the change that causes it), claimed by the events
//! relay, and read back as an order's history for replay. Sent rows of an order are kept;
//! the others are deleted once sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;

use crate::domain::ids::TenantId;

/// The version of the envelope and of each type's `data`.
pub const VERSION: u32 = 1;

/// The envelope every consumer (stream, webhook) receives.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub tenant_id: String,
    pub data: Value,
    /// Present (and `true`) only on a replayed event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replay: bool,
}

/// Writes the event `type_` about `order_id` (if any) with `data`, in `conn`'s transaction;
/// the envelope is made by the SQL function `orderdesk_event_envelope` (migration 0023),
/// which the batched end of runs uses too.
pub async fn record(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    type_: &str,
    order_id: Option<&str>,
    data: Value,
) -> sqlx::Result<Envelope> {
    let payload = sqlx::query_scalar!(
        r#"INSERT INTO outbox (kind, tenant_id, order_id, payload)
           VALUES ('event', $1, $2, orderdesk_event_envelope($1, $3, $4))
           RETURNING payload"#,
        tenant_id.as_str(),
        order_id,
        type_,
        data,
    )
    .fetch_one(conn)
    .await?;
    serde_json::from_value(payload).map_err(|e| sqlx::Error::Decode(e.into()))
}

/// An unsent event claimed by the relay.
pub struct Unsent {
    pub outbox_id: i64,
    pub tenant_id: String,
    pub envelope: Value,
}

/// Key of the advisory lock that makes one relay at a time publish, so the stream and the
/// deliveries get the events in id order even with many worker processes.
const RELAY_LOCK: i64 = 0x6f64_6576_656e_7473; // "odevents"

/// Takes the relay's turn for this transaction; false while another relay has it.
pub async fn try_relay_turn(conn: &mut PgConnection) -> sqlx::Result<bool> {
    let got = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock($1) AS "got!""#,
        RELAY_LOCK
    )
    .fetch_one(conn)
    .await?;
    Ok(got)
}

/// Up to `limit` unsent events, oldest first, locked for this transaction.
pub async fn claim_unsent(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<Unsent>> {
    sqlx::query_as!(
        Unsent,
        r#"SELECT id AS outbox_id, tenant_id AS "tenant_id!", payload AS envelope
           FROM outbox WHERE sent_at IS NULL AND kind = 'event'
           ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED"#,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Fans the events out to the enabled webhooks of their tenant that take their type (one
/// pending delivery each, due now) and marks them sent; returns the deliveries made. An
/// event of an order is kept (marked sent: the order's history, which replay reads); one of
/// no order (a job's end, most of all) is deleted instead, as nothing reads it again — a
/// delete writes no new row version, where the mark wrote one and its key index entry for
/// every run that ended.
pub async fn fan_out_and_mark(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<u64> {
    let res = sqlx::query!(
        "WITH kept AS (UPDATE outbox SET sent_at = now()
                       WHERE id = ANY($1) AND order_id IS NOT NULL
                       RETURNING id, tenant_id, payload),
              gone AS (DELETE FROM outbox WHERE id = ANY($1) AND order_id IS NULL
                       RETURNING id, tenant_id, payload),
              e AS (SELECT * FROM kept UNION ALL SELECT * FROM gone)
         INSERT INTO webhook_deliveries
             (id, tenant_id, webhook_id, event_id, event_type, payload, next_attempt_at)
         SELECT gen_random_uuid(), e.tenant_id, w.id, e.payload->>'id', e.payload->>'type',
                e.payload, now()
         FROM e JOIN webhooks w ON w.tenant_id = e.tenant_id AND w.enabled
              AND (cardinality(w.event_types) = 0 OR e.payload->>'type' = ANY(w.event_types))
         ORDER BY e.id",
        ids,
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected())
}

/// The order's recorded events, in the order they happened, within `[from, to]` and of
/// `types` (empty: all); at most one more than `replay::MAX_EVENTS`, so that the caller
/// can refuse a larger history instead of truncating it.
pub async fn of_order(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    order_id: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    types: &[String],
) -> sqlx::Result<Vec<Value>> {
    sqlx::query_scalar!(
        "SELECT payload FROM outbox
         WHERE kind = 'event' AND tenant_id = $1 AND order_id = $2
           AND ($3::timestamptz IS NULL OR created_at >= $3)
           AND ($4::timestamptz IS NULL OR created_at <= $4)
           AND (cardinality($5::text[]) = 0 OR payload->>'type' = ANY($5))
         ORDER BY id LIMIT 10001",
        tenant_id.as_str(),
        order_id,
        from,
        to,
        types,
    )
    .fetch_all(conn)
    .await
}
