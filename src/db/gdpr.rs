//! GDPR erasure: legal holds (`legal_holds`), the erase requests' one-open rule, and the
//! anonymisation of one customer's data across orderdesk's own tables. The redaction of a
//! JSON document is done by the SQL functions `redact_order_doc` and `redact_pii`
//! (migration 0006), so every table is rewritten in place by one statement.

use crate::domain::ids::{CustomerId, RunId, TenantId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// What an erased email becomes (the same constant is in migration 0006).
pub const REDACTED_EMAIL: &str = "redacted@erased.invalid";
/// What erased free text becomes.
pub const REDACTED: &str = "[redacted]";
/// The `requests.kind` of an erasure. Its request row's `order_id` holds the customer id:
/// an erasure concerns no one order, and the one-open-request index then allows one open
/// erasure per customer.
pub use crate::domain::erasure::REQUEST_KIND;

#[derive(Debug, Clone, Serialize)]
pub struct LegalHold {
    pub id: Uuid,
    pub customer_id: CustomerId,
    pub reason: String,
    pub placed_by: String,
    pub placed_at: DateTime<Utc>,
    /// In force until then; `None`: until released.
    pub until: Option<DateTime<Utc>>,
}

/// Places a legal hold on a customer's data (the admin endpoint comes later; tests and
/// operators call this).
pub async fn place_legal_hold(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
    reason: &str,
    placed_by: &str,
    until: Option<DateTime<Utc>>,
) -> sqlx::Result<LegalHold> {
    sqlx::query_as!(
        LegalHold,
        "INSERT INTO legal_holds (tenant_id, id, customer_id, reason, placed_by, until)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, customer_id, reason, placed_by, placed_at, until",
        tenant_id.as_str(),
        Uuid::now_v7(),
        customer_id.as_str(),
        reason,
        placed_by,
        until,
    )
    .fetch_one(conn)
    .await
}

/// Releases a hold; false when there was no such hold in force.
pub async fn release_legal_hold(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: Uuid,
) -> sqlx::Result<bool> {
    let res = sqlx::query!(
        "UPDATE legal_holds SET released_at = now()
         WHERE tenant_id = $1 AND id = $2 AND released_at IS NULL",
        tenant_id.as_str(),
        id,
    )
    .execute(conn)
    .await?;
    Ok(res.rows_affected() == 1)
}

/// The hold in force on a customer (the one ending last), if any.
pub async fn active_legal_hold(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
) -> sqlx::Result<Option<LegalHold>> {
    sqlx::query_as!(
        LegalHold,
        "SELECT id, customer_id, reason, placed_by, placed_at, until FROM legal_holds
         WHERE tenant_id = $1 AND customer_id = $2 AND released_at IS NULL
           AND (until IS NULL OR until > now())
         ORDER BY until DESC NULLS FIRST LIMIT 1",
        tenant_id.as_str(),
        customer_id.as_str(),
    )
    .fetch_optional(conn)
    .await
}

/// What an erasure would touch: the dry run's answer.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Erasable {
    pub orders: i64,
    pub support_messages: i64,
    pub subscriptions: i64,
    /// Archives of the customer's data made for access requests, deleted from the store.
    pub subject_archives: i64,
}

pub async fn erasable(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
) -> sqlx::Result<Erasable> {
    sqlx::query_as!(
        Erasable,
        r#"SELECT
           (SELECT count(*) FROM order_views WHERE tenant_id = $1 AND customer_id = $2)
               AS "orders!",
           (SELECT count(*) FROM support_messages m JOIN support_cases c
                ON c.tenant_id = m.tenant_id AND c.id = m.case_id
            WHERE c.tenant_id = $1 AND c.customer_id = $2 AND m.redacted_at IS NULL)
               AS "support_messages!",
           (SELECT count(*) FROM notification_subscriptions
            WHERE tenant_id = $1 AND customer_id = $2) AS "subscriptions!",
           (SELECT count(*) FROM subject_exports
            WHERE tenant_id = $1 AND customer_id = $2 AND erased_at IS NULL)
               AS "subject_archives!""#,
        tenant_id.as_str(),
        customer_id.as_str(),
    )
    .fetch_one(conn)
    .await
}

/// How many rows one anonymisation pass changed, per table. A second pass changes nothing.
#[derive(Debug, Clone, Serialize)]
pub struct Anonymised {
    pub orders: u64,
    pub order_events: u64,
    pub support_messages: u64,
    pub support_attachments: u64,
    pub support_cases: u64,
    pub subscriptions: u64,
    pub requests: u64,
    pub runs: u64,
    /// Steps of runs (elements of `runs.steps`, once rows of a table of that name).
    pub run_steps: u64,
    pub idempotency_records: u64,
    /// Whether the key that sealed the customer's audit data was destroyed (false when
    /// no audit record held any).
    pub audit_key: bool,
}

/// Replaces the customer's personal data in every table of orderdesk, in the caller's
/// transaction: the read model and its event history, support conversations (attachments
/// deleted), subscriptions (deleted), request inputs, run inputs/results/step outputs of
/// the customer's runs and orders (except `current_run`), and saved idempotent answers
/// (except the one under `keep_key`). The audit log is append-only: its records keep their
/// references, and the key their personal data was sealed under is destroyed.
pub async fn anonymise_customer(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
    current_run: RunId,
    keep_key: Option<&str>,
) -> sqlx::Result<Anonymised> {
    // the customer's orders and support cases, and the runs of either or of the customer's
    // returns (an agent's review of a return runs on the RMA id; but `current_run`),
    // are the same subqueries in several statements below
    let order_events = sqlx::query!(
        "UPDATE order_events SET payload = redact_order_doc(payload)
         WHERE tenant_id = $1
           AND order_id IN (SELECT id FROM order_views WHERE tenant_id = $1 AND customer_id = $2)
           AND payload IS DISTINCT FROM redact_order_doc(payload)",
        tenant_id.as_str(),
        customer_id.as_str(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let orders = sqlx::query!(
        "UPDATE order_views SET email = $3, doc = redact_order_doc(doc), updated_at = now()
         WHERE tenant_id = $1 AND customer_id = $2
           AND (email <> $3 OR doc IS DISTINCT FROM redact_order_doc(doc))",
        tenant_id.as_str(),
        customer_id.as_str(),
        REDACTED_EMAIL,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let support_attachments = sqlx::query!(
        "DELETE FROM support_attachments WHERE tenant_id = $1
           AND message_id IN (
               SELECT id FROM support_messages
               WHERE tenant_id = $1 AND case_id IN (
                   SELECT id FROM support_cases WHERE tenant_id = $1 AND customer_id = $2))",
        tenant_id.as_str(),
        customer_id.as_str(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let support_messages = sqlx::query!(
        "UPDATE support_messages SET body = $3, redacted_at = now()
         WHERE tenant_id = $1
           AND case_id IN (SELECT id FROM support_cases WHERE tenant_id = $1 AND customer_id = $2)
           AND redacted_at IS NULL",
        tenant_id.as_str(),
        customer_id.as_str(),
        REDACTED,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let support_cases = sqlx::query!(
        "UPDATE support_cases SET subject = $3,
                resolution = CASE WHEN resolution IS NULL THEN NULL ELSE $3 END,
                updated_at = now()
         WHERE tenant_id = $1 AND customer_id = $2 AND (subject <> $3 OR resolution <> $3)",
        tenant_id.as_str(),
        customer_id.as_str(),
        REDACTED,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    // the customer's comments on returned lines and the inspector's notes
    sqlx::query!(
        "UPDATE returns SET lines = redact_pii(lines), inspection = redact_pii(inspection)
         WHERE tenant_id = $1 AND customer_id = $2",
        tenant_id.as_str(),
        customer_id.as_str(),
    )
    .execute(&mut *conn)
    .await?;
    // what agents wrote of a hold may name the customer; that holds were placed stays
    sqlx::query!(
        "UPDATE order_holds SET reason = $3,
                resolution = CASE WHEN resolution IS NULL THEN NULL ELSE $3 END
         WHERE tenant_id = $1
           AND order_id IN (SELECT id FROM order_views WHERE tenant_id = $1 AND customer_id = $2)
           AND (reason <> $3 OR resolution <> $3)",
        tenant_id.as_str(),
        customer_id.as_str(),
        REDACTED,
    )
    .execute(&mut *conn)
    .await?;
    crate::db::reviews::redact_of_customer(&mut *conn, tenant_id, customer_id).await?;
    crate::db::tasks::redact_of_customer(&mut *conn, tenant_id, customer_id).await?;
    crate::db::reconciliation::redact_of_customer(&mut *conn, tenant_id, customer_id).await?;
    crate::db::quotes::redact_of_customer(&mut *conn, tenant_id, customer_id).await?;
    crate::db::approvals::redact_of_customer(&mut *conn, tenant_id, customer_id).await?;
    crate::db::fulfillments::redact_of_customer(&mut *conn, tenant_id, customer_id).await?;
    let subscriptions = sqlx::query!(
        "DELETE FROM notification_subscriptions WHERE tenant_id = $1 AND customer_id = $2",
        tenant_id.as_str(),
        customer_id.as_str(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let requests = sqlx::query!(
        "UPDATE requests SET input = redact_pii(input), updated_at = now()
         WHERE tenant_id = $1 AND customer_id = $2 AND input IS DISTINCT FROM redact_pii(input)",
        tenant_id.as_str(),
        customer_id.as_str(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    // each step holds its output and last error; its own fields (name, status, times) are
    // never personal, so `redact_pii` of the whole array redacts exactly those two. Counted
    // per step changed, as when each step was a row of its own
    let run_steps = sqlx::query_scalar!(
        r#"WITH r AS (
             SELECT id, steps, redact_pii(steps) AS redacted FROM runs
             WHERE tenant_id = $1 AND id <> $3
               AND (customer_id = $2 OR subject_id IN (
                    SELECT id FROM order_views WHERE tenant_id = $1 AND customer_id = $2
                    UNION ALL
                    SELECT rma_id FROM returns WHERE tenant_id = $1 AND customer_id = $2))
               AND steps IS DISTINCT FROM redact_pii(steps)
             FOR UPDATE),
         u AS (UPDATE runs SET steps = r.redacted FROM r WHERE runs.id = r.id)
         SELECT coalesce(sum((SELECT count(*) FROM jsonb_array_elements(r.steps)
                                  WITH ORDINALITY AS t(s, ord)
                              WHERE s IS DISTINCT FROM r.redacted -> (ord::int - 1))), 0)::bigint
                AS "steps!"
         FROM r"#,
        tenant_id.as_str(),
        customer_id.as_str(),
        current_run.as_uuid(),
    )
    .fetch_one(&mut *conn)
    .await? as u64;
    let runs = sqlx::query!(
        "UPDATE runs SET input = redact_pii(input), result = redact_pii(result),
                         error = redact_pii(error), updated_at = now()
         WHERE id IN (
               SELECT id FROM runs WHERE tenant_id = $1 AND id <> $3
                 AND (customer_id = $2 OR subject_id IN (
                      SELECT id FROM order_views WHERE tenant_id = $1 AND customer_id = $2
                      UNION ALL
                      SELECT rma_id FROM returns WHERE tenant_id = $1 AND customer_id = $2)))
           AND (input IS DISTINCT FROM redact_pii(input)
                OR result IS DISTINCT FROM redact_pii(result)
                OR error IS DISTINCT FROM redact_pii(error))",
        tenant_id.as_str(),
        customer_id.as_str(),
        current_run.as_uuid(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let idempotency_records = sqlx::query!(
        "DELETE FROM idempotency_keys
         WHERE tenant_id = $1 AND principal = $2 AND key IS DISTINCT FROM $3",
        tenant_id.as_str(),
        format!("customer:{customer_id}"),
        keep_key,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        + forget_agents_answers(conn, tenant_id, customer_id).await?;
    Ok(Anonymised {
        orders,
        order_events,
        support_messages,
        support_attachments,
        support_cases,
        subscriptions,
        requests,
        runs,
        run_steps,
        idempotency_records,
        audit_key: crate::db::audit::forget_subject(conn, tenant_id, customer_id).await?,
    })
}

/// Deletes the answers agents' and API keys' `Idempotency-Key`s saved (kept 24 hours) that name the
/// customer or one of their orders: a quote's staged address, a return's refund… A retry of
/// such a request after the erasure is judged afresh instead of replaying personal data.
async fn forget_agents_answers(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer_id: &CustomerId,
) -> sqlx::Result<u64> {
    let deleted = sqlx::query!(
        "DELETE FROM idempotency_keys k
         WHERE k.tenant_id = $1 AND (k.principal LIKE 'agent:%' OR k.principal LIKE 'key:%')
           AND k.response_body IS NOT NULL
           AND (position(convert_to($2, 'UTF8') in k.response_body) > 0
                OR EXISTS (SELECT 1 FROM order_views o
                           WHERE o.tenant_id = $1 AND o.customer_id = $2
                             AND position(convert_to(o.id, 'UTF8') in k.response_body) > 0))",
        tenant_id.as_str(),
        customer_id.as_str(),
    )
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected())
}
