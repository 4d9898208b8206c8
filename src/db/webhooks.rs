//! Webhook subscriptions (`webhooks`) and their deliveries (`webhook_deliveries`):
//! tenant-scoped reads and writes for the admin API, and the delivery worker's claim and
//! outcome writes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ids::{RunId, TenantId};

/// A subscription as the API shows it: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookRow {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    /// The event types it receives; empty: every type.
    pub event_types: Vec<String>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewWebhook<'a> {
    pub id: Uuid,
    pub tenant_id: &'a TenantId,
    pub url: &'a str,
    pub description: &'a str,
    pub event_types: &'a [String],
    pub secret: &'a str,
    pub created_by: &'a str,
}

pub async fn insert(conn: &mut PgConnection, w: &NewWebhook<'_>) -> sqlx::Result<WebhookRow> {
    sqlx::query_as!(
        WebhookRow,
        "INSERT INTO webhooks (id, tenant_id, url, description, event_types, secret, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, url, description, event_types, enabled, disabled_reason, created_by,
                   created_at, updated_at",
        w.id,
        w.tenant_id.as_str(),
        w.url,
        w.description,
        w.event_types,
        w.secret,
        w.created_by,
    )
    .fetch_one(conn)
    .await
}

/// The tenant's subscriptions, newest first, after `before` (the cursor).
pub async fn list(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<WebhookRow>> {
    sqlx::query_as!(
        WebhookRow,
        "SELECT id, url, description, event_types, enabled, disabled_reason, created_by,
                created_at, updated_at
         FROM webhooks WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
        tenant_id.as_str(),
        before,
        limit,
    )
    .fetch_all(conn)
    .await
}

pub async fn get(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: Uuid,
) -> sqlx::Result<Option<WebhookRow>> {
    sqlx::query_as!(
        WebhookRow,
        "SELECT id, url, description, event_types, enabled, disabled_reason, created_by,
                created_at, updated_at
         FROM webhooks WHERE tenant_id = $1 AND id = $2",
        tenant_id.as_str(),
        id,
    )
    .fetch_optional(conn)
    .await
}

/// What a PATCH may change; `None`: unchanged. `enabled = Some(true)` clears the reason.
#[derive(Default)]
pub struct WebhookChange<'a> {
    pub url: Option<&'a str>,
    pub description: Option<&'a str>,
    pub event_types: Option<&'a [String]>,
    pub enabled: Option<bool>,
    pub disabled_reason: Option<&'a str>,
    pub secret: Option<&'a str>,
}

pub async fn update(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: Uuid,
    c: &WebhookChange<'_>,
) -> sqlx::Result<Option<WebhookRow>> {
    sqlx::query_as!(
        WebhookRow,
        "UPDATE webhooks SET url = coalesce($3, url),
                description = coalesce($4, description),
                event_types = coalesce($5, event_types),
                enabled = coalesce($6, enabled),
                disabled_reason = CASE WHEN $6 IS NULL THEN disabled_reason
                                       WHEN $6 THEN NULL ELSE $7 END,
                secret = coalesce($8, secret),
                updated_at = now()
         WHERE tenant_id = $1 AND id = $2
         RETURNING id, url, description, event_types, enabled, disabled_reason, created_by,
                   created_at, updated_at",
        tenant_id.as_str(),
        id,
        c.url,
        c.description,
        c.event_types,
        c.enabled,
        c.disabled_reason,
        c.secret,
    )
    .fetch_optional(conn)
    .await
}

pub async fn delete(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: Uuid,
) -> sqlx::Result<Option<WebhookRow>> {
    sqlx::query_as!(
        WebhookRow,
        "DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2
         RETURNING id, url, description, event_types, enabled, disabled_reason, created_by,
                   created_at, updated_at",
        tenant_id.as_str(),
        id,
    )
    .fetch_optional(conn)
    .await
}

/// One delivery as the log lists it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryRow {
    pub id: Uuid,
    /// Its place in the webhook's sending order.
    pub seq: i64,
    pub event_id: String,
    pub event_type: String,
    pub replay: bool,
    /// `pending`, `delivered` or `failed` (out of attempts).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's last HTTP status.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The webhook's deliveries, newest first, after `before` (a `seq`).
pub async fn deliveries(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    webhook_id: Uuid,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<DeliveryRow>> {
    sqlx::query_as!(
        DeliveryRow,
        "SELECT id, seq, event_id, event_type, replay, status, attempts, next_attempt_at,
                last_status, last_error, last_attempt_at, created_at
         FROM webhook_deliveries
         WHERE tenant_id = $1 AND webhook_id = $2 AND ($3::bigint IS NULL OR seq < $3)
         ORDER BY seq DESC LIMIT $4",
        tenant_id.as_str(),
        webhook_id,
        before,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Queues `payloads` (in order) for one webhook as replayed deliveries of replay job
/// `job`, each due after the one before (ids ascending keep the order). Once only: a
/// retried step whose first attempt queued them (and then lost its checkpoint) adds none.
pub async fn enqueue_replay(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    webhook_id: Uuid,
    job: RunId,
    payloads: &[Value],
) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = payloads.iter().map(|_| Uuid::now_v7()).collect();
    let res = sqlx::query!(
        "INSERT INTO webhook_deliveries
             (id, tenant_id, webhook_id, event_id, event_type, payload, replay, next_attempt_at)
         SELECT i, $1, $2, p->>'id', p->>'type', p, true, now()
         FROM unnest($3::uuid[], $4::jsonb[]) AS u(i, p)
         WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                           WHERE d.webhook_id = $2 AND d.replay
                             AND d.payload->>'replay_job_id' = $5)",
        tenant_id.as_str(),
        webhook_id,
        &ids,
        payloads,
        job.to_string(),
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected())
}

/// A due delivery claimed by a delivery worker, with what sending it needs.
pub struct Due {
    pub id: Uuid,
    pub tenant_id: String,
    pub webhook_id: Uuid,
    pub payload: Value,
    pub replay: bool,
    pub attempts: i32,
    pub url: String,
    pub secret: String,
}

/// Claims up to `limit` due deliveries: each is pushed `lease_ms` ahead so another worker
/// leaves it alone while this one sends it. Only the oldest pending delivery of each
/// webhook is taken (a later one waits for it), so a receiver gets events in order; among
/// the webhooks, the one whose delivery has been due longest goes first, so the order of
/// webhook ids does not decide who waits (a high id behind 32 busy webhooks would never
/// be served). Deliveries a replay queued before another webhook's event are due earlier,
/// so they still go first.
///
/// The locking select repeats the due conditions: PostgreSQL re-checks only the locking
/// query's own `WHERE` against a row that changed while it looked, so with `id IN (…)`
/// alone a worker whose snapshot predates another's claim would lock the same row once the
/// other committed and send it a second time. With the conditions there, the row the other
/// worker leased (no longer due) or settled (no longer pending) is skipped.
pub async fn claim_due(
    conn: &mut PgConnection,
    limit: i64,
    lease_ms: i64,
) -> sqlx::Result<Vec<Due>> {
    sqlx::query_as!(
        Due,
        r#"WITH c AS (
             SELECT DISTINCT ON (d.webhook_id) d.id, d.webhook_id, d.next_attempt_at
             FROM webhook_deliveries d
             JOIN webhooks w ON w.id = d.webhook_id AND w.enabled
             WHERE d.status = 'pending'
             ORDER BY d.webhook_id, d.seq),
           due AS (SELECT id FROM c WHERE next_attempt_at <= now()
                   ORDER BY next_attempt_at, webhook_id LIMIT $1),
           l AS (SELECT d.id FROM webhook_deliveries d
                 WHERE d.id IN (SELECT id FROM due)
                   AND d.status = 'pending' AND d.next_attempt_at <= now()
                 FOR UPDATE SKIP LOCKED),
           u AS (UPDATE webhook_deliveries d
                 SET next_attempt_at = now() + $2::bigint * interval '1 millisecond'
                 WHERE d.id IN (SELECT id FROM l)
                 RETURNING d.id, d.tenant_id, d.webhook_id, d.payload, d.replay, d.attempts)
           SELECT u.id AS "id!", u.tenant_id AS "tenant_id!", u.webhook_id AS "webhook_id!",
                  u.payload AS "payload!", u.replay AS "replay!", u.attempts AS "attempts!",
                  w.url, w.secret
           FROM u JOIN webhooks w ON w.id = u.webhook_id"#,
        limit,
        lease_ms,
    )
    .fetch_all(conn)
    .await
}

/// The outcome of one attempt.
pub struct Attempt<'a> {
    pub id: Uuid,
    pub http_status: Option<i32>,
    pub error: Option<&'a str>,
    /// `delivered`, `failed` (for good) or `pending` (retried at `next_attempt_at`).
    pub status: &'a str,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

pub async fn record_attempt(conn: &mut PgConnection, a: &Attempt<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2,
                last_status = $3, last_error = $4, last_attempt_at = now(), next_attempt_at = $5
         WHERE id = $1",
        a.id,
        a.status,
        a.http_status,
        a.error,
        a.next_attempt_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Disables a webhook that keeps failing (its pending deliveries wait: re-enabling it
/// resumes them).
pub async fn auto_disable(conn: &mut PgConnection, id: Uuid, reason: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE webhooks SET enabled = false, disabled_reason = $2, updated_at = now()
         WHERE id = $1 AND enabled",
        id,
        reason,
    )
    .execute(conn)
    .await?;
    Ok(())
}
