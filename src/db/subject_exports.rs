//! Archives of one customer's data (GDPR subject access): the `subject_exports` row of each,
//! and the reads that gather what orderdesk holds about the customer, one kind at a time,
//! each as the archive shows it (no agent ids, no internal notes, no attachment contents).
//! Every read is scoped by tenant and customer: nothing of another customer or tenant.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::domain::ids::{CustomerId, RunId, SubjectExportId, TenantId};
use crate::domain::order::Order;

/// At most this many records of one kind go into an archive (a guard, far above any real
/// customer's history: the archive is built in memory).
pub const MAX_RECORDS: i64 = 100_000;

#[derive(Debug, Clone)]
pub struct SubjectExportRow {
    pub id: SubjectExportId,
    pub tenant_id: TenantId,
    pub customer_id: CustomerId,
    pub run_id: RunId,
    pub requested_by: String,
    pub object_key: Option<String>,
    pub bytes: Option<i64>,
    pub sha256: Option<String>,
    pub counts: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// When the customer's erasure deleted the archive (its object is gone).
    pub erased_at: Option<DateTime<Utc>>,
    /// `erased`, `succeeded` once stored, else its job's status (`failed` if the job is gone).
    pub status: String,
}

pub struct NewSubjectExport<'a> {
    pub id: SubjectExportId,
    pub tenant_id: &'a TenantId,
    pub customer_id: &'a CustomerId,
    pub run_id: RunId,
    pub requested_by: &'a str,
}

/// Whether the tenant knows the customer: an order, a request or a support case of theirs.
/// An erased customer is still known (their rows stay, anonymised).
pub async fn customer_known(
    conn: &mut PgConnection,
    tenant: &TenantId,
    customer: &CustomerId,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM order_views WHERE tenant_id = $1 AND customer_id = $2)
               OR EXISTS (SELECT 1 FROM requests WHERE tenant_id = $1 AND customer_id = $2)
               OR EXISTS (SELECT 1 FROM support_cases WHERE tenant_id = $1 AND customer_id = $2)
               AS "known!""#,
        tenant.as_str(),
        customer.as_str(),
    )
    .fetch_one(conn)
    .await
}

pub async fn insert(conn: &mut PgConnection, e: &NewSubjectExport<'_>) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO subject_exports (id, tenant_id, customer_id, run_id, requested_by)
         VALUES ($1, $2, $3, $4, $5)",
        e.id.as_uuid(),
        e.tenant_id.as_str(),
        e.customer_id.as_str(),
        e.run_id.as_uuid(),
        e.requested_by,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The archive `id` of `tenant`.
pub async fn get(
    conn: &mut PgConnection,
    tenant: &TenantId,
    id: SubjectExportId,
) -> sqlx::Result<Option<SubjectExportRow>> {
    sqlx::query_as!(
        SubjectExportRow,
        r#"SELECT s.id AS "id: SubjectExportId", s.tenant_id AS "tenant_id: TenantId",
                  s.customer_id AS "customer_id: CustomerId", s.run_id AS "run_id: RunId",
                  s.requested_by, s.object_key, s.bytes, s.sha256, s.counts, s.created_at,
                  s.finished_at, s.erased_at,
                  CASE WHEN s.erased_at IS NOT NULL THEN 'erased'
                       WHEN s.finished_at IS NOT NULL THEN 'succeeded'
                       ELSE coalesce(r.status, 'failed') END AS "status!"
             FROM subject_exports s
             LEFT JOIN runs r ON r.id = s.run_id
            WHERE s.tenant_id = $1 AND s.id = $2"#,
        tenant.as_str(),
        id.as_uuid(),
    )
    .fetch_optional(conn)
    .await
}

/// Where a finished archive is and what it holds.
pub struct Stored<'a> {
    pub object_key: &'a str,
    pub bytes: i64,
    pub sha256: &'a str,
    pub counts: &'a Value,
}

/// Records the archive as stored (a retried step writes it again: the last one counts).
/// False when the customer's erasure marked the archive erased meanwhile: the object just
/// stored must then go too.
pub async fn finish(
    conn: &mut PgConnection,
    tenant: &TenantId,
    id: SubjectExportId,
    s: &Stored<'_>,
) -> sqlx::Result<bool> {
    let done = sqlx::query!(
        "UPDATE subject_exports SET object_key = $3, bytes = $4, sha256 = $5, counts = $6,
                finished_at = now()
          WHERE tenant_id = $1 AND id = $2 AND erased_at IS NULL",
        tenant.as_str(),
        id.as_uuid(),
        s.object_key,
        s.bytes,
        s.sha256,
        s.counts,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks every archive of the customer erased (those made before now, finished or not:
/// one still being made then finds it so and deletes its own object) and answers the
/// objects still to delete from the store: those of this pass and of an earlier pass that
/// did not get to [`objects_deleted`].
pub async fn erase_of_customer(
    conn: &mut PgConnection,
    tenant: &TenantId,
    customer: &CustomerId,
) -> sqlx::Result<Vec<(SubjectExportId, String)>> {
    let rows = sqlx::query!(
        r#"UPDATE subject_exports SET erased_at = coalesce(erased_at, now())
            WHERE tenant_id = $1 AND customer_id = $2
              AND (erased_at IS NULL OR object_key IS NOT NULL)
        RETURNING id AS "id: SubjectExportId", object_key"#,
        tenant.as_str(),
        customer.as_str(),
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| Some((r.id, r.object_key?)))
        .collect())
}

/// Forgets the objects of erased archives once they are deleted from the store.
pub async fn objects_deleted(
    conn: &mut PgConnection,
    tenant: &TenantId,
    ids: &[SubjectExportId],
) -> sqlx::Result<()> {
    let ids: Vec<uuid::Uuid> = ids.iter().map(|i| i.as_uuid()).collect();
    sqlx::query!(
        "UPDATE subject_exports SET object_key = NULL
          WHERE tenant_id = $1 AND id = ANY($2) AND erased_at IS NOT NULL",
        tenant.as_str(),
        &ids,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether an erasure of the customer's data has finished (what is left is then anonymised).
pub async fn erased(
    conn: &mut PgConnection,
    tenant: &TenantId,
    customer: &CustomerId,
) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM requests WHERE tenant_id = $1 AND customer_id = $2
                            AND kind = $3 AND status = 'succeeded') AS "erased!""#,
        tenant.as_str(),
        customer.as_str(),
        crate::domain::erasure::REQUEST_KIND,
    )
    .fetch_one(conn)
    .await
}

/// The customer's orders as the read model holds them, oldest first.
pub async fn orders(
    conn: &mut PgConnection,
    tenant: &TenantId,
    customer: &CustomerId,
) -> sqlx::Result<Vec<Order>> {
    let docs = sqlx::query_scalar!(
        r#"SELECT doc AS "doc: Json<Order>" FROM order_views
            WHERE tenant_id = $1 AND customer_id = $2
            ORDER BY placed_at, id LIMIT $3"#,
        tenant.as_str(),
        customer.as_str(),
        MAX_RECORDS,
    )
    .fetch_all(conn)
    .await?;
    Ok(docs.into_iter().map(|Json(order)| order).collect())
}

/// The customer's requests (cancel, return, address change, erasure…) with what they asked,
/// oldest first; not who decided them.
pub async fn requests(
    conn: &mut PgConnection,
    tenant: &TenantId,
    customer: &CustomerId,
) -> sqlx::Result<Vec<Value>> {
    sqlx::query_scalar!(
        r#"SELECT jsonb_build_object(
                'id', id, 'kind', kind,
                'order_id', CASE WHEN kind = $3 THEN NULL ELSE order_id END,
                'status', status, 'input', input,
                'created_at', created_at, 'updated_at', updated_at) AS "row!"
             FROM requests WHERE tenant_id = $1 AND customer_id = $2
            ORDER BY created_at, id LIMIT $4"#,
        tenant.as_str(),
        customer.as_str(),
        crate::domain::erasure::REQUEST_KIND,
        MAX_RECORDS,
    )
    .fetch_all(conn)
    .await
}

/// The customer's support cases (one per order), without the agent assigned.
pub async fn support_cases(
    conn: &mut PgConnection,
    tenant: &TenantId,
    customer: &CustomerId,
) -> sqlx::Result<Vec<Value>> {
    sqlx::query_scalar!(
        r#"SELECT jsonb_build_object(
                'id', id, 'order_id', order_id, 'status', status, 'subject', subject,
                'message_count', message_count, 'last_message_at', last_message_at,
                'created_at', created_at) AS "row!"
             FROM support_cases WHERE tenant_id = $1 AND customer_id = $2
            ORDER BY created_at, id LIMIT $3"#,
        tenant.as_str(),
        customer.as_str(),
        MAX_RECORDS,
    )
    .fetch_all(conn)
    .await
}

/// The messages of the customer's cases that the customer sees (no internal notes), with
/// who wrote them (`customer` or `support`, no agent id) and their attachment's metadata
/// (name, type, size, sha256; never the content), oldest first.
pub async fn support_messages(
    conn: &mut PgConnection,
    tenant: &TenantId,
    customer: &CustomerId,
) -> sqlx::Result<Vec<Value>> {
    sqlx::query_scalar!(
        r#"SELECT jsonb_build_object(
                'id', m.id, 'case_id', m.case_id, 'order_id', m.order_id,
                'author', CASE WHEN m.author_kind = 'customer' THEN 'customer' ELSE 'support' END,
                'body', m.body, 'created_at', m.created_at, 'redacted_at', m.redacted_at,
                'attachment', CASE WHEN a.message_id IS NULL THEN NULL ELSE jsonb_build_object(
                    'filename', a.filename, 'content_type', a.content_type,
                    'size_bytes', a.size_bytes, 'sha256', a.sha256) END) AS "row!"
             FROM support_messages m
             JOIN support_cases c ON c.tenant_id = m.tenant_id AND c.id = m.case_id
             LEFT JOIN support_attachments a
                    ON a.tenant_id = m.tenant_id AND a.message_id = m.id
            WHERE c.tenant_id = $1 AND c.customer_id = $2 AND NOT m.internal
            ORDER BY m.created_at, m.id LIMIT $3"#,
        tenant.as_str(),
        customer.as_str(),
        MAX_RECORDS,
    )
    .fetch_all(conn)
    .await
}

/// The customer's shipment-update subscriptions.
pub async fn subscriptions(
    conn: &mut PgConnection,
    tenant: &TenantId,
    customer: &CustomerId,
) -> sqlx::Result<Vec<Value>> {
    sqlx::query_scalar!(
        r#"SELECT jsonb_build_object(
                'order_id', order_id, 'channel', channel, 'subscribed', subscribed,
                'destination', destination, 'updated_at', updated_at) AS "row!"
             FROM notification_subscriptions WHERE tenant_id = $1 AND customer_id = $2
            ORDER BY order_id, channel LIMIT $3"#,
        tenant.as_str(),
        customer.as_str(),
        MAX_RECORDS,
    )
    .fetch_all(conn)
    .await
}

/// The customer's returns and exchanges (RMAs), oldest first.
pub async fn returns(
    conn: &mut PgConnection,
    tenant: &TenantId,
    customer: &CustomerId,
) -> sqlx::Result<Vec<Value>> {
    sqlx::query_scalar!(
        r#"SELECT jsonb_build_object(
                'rma_id', rma_id, 'kind', kind, 'order_id', order_id, 'request_id', request_id,
                'lines', lines, 'method', method, 'preferred_refund', preferred_refund,
                'status', status, 'instructions', instructions, 'label_url', label_url,
                'refund_status', refund_status, 'expected_refund_minor', expected_refund_minor,
                'currency', currency, 'created_at', created_at, 'updated_at', updated_at) AS "row!"
             FROM returns WHERE tenant_id = $1 AND customer_id = $2
            ORDER BY created_at, rma_id LIMIT $3"#,
        tenant.as_str(),
        customer.as_str(),
        MAX_RECORDS,
    )
    .fetch_all(conn)
    .await
}
