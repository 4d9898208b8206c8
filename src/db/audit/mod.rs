//! The append-only audit log (a trigger refuses UPDATE and DELETE). A record about a
//! customer keeps its personal data (reason, IP, before/after) sealed under that customer's
//! key (`seal.rs`, table `subject_keys`); erasing the customer deletes the key, and those
//! fields become unreadable while the record itself stays.

mod seal;

use crate::domain::ids::{CustomerId, TenantId};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

/// Who did something, from where, and why: the part of an audit record the request knows.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    pub kind: &'static str,
    pub id: String,
    pub roles: Vec<String>,
    pub on_behalf_of: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
}

impl Actor {
    /// The worker or another part of orderdesk acting by itself.
    pub fn system(id: &str) -> Actor {
        Actor {
            kind: "system",
            id: id.to_string(),
            ..Actor::default()
        }
    }
}

/// One action to record.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub action: &'a str,
    pub subject_type: &'a str,
    pub subject_id: &'a str,
    pub reason: Option<&'a str>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// The customer whose personal data the record may hold: its reason, IP and
    /// before/after are sealed under their key. `None` for records about no one.
    pub personal_data_of: Option<&'a CustomerId>,
}

pub async fn record(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    actor: &Actor,
    e: &Entry<'_>,
) -> sqlx::Result<()> {
    let personal = seal::Personal {
        reason: e.reason.map(str::to_string),
        ip: actor.ip.clone(),
        before: e.before.clone(),
        after: e.after.clone(),
    };
    let (clear, sealed) = match e.personal_data_of {
        Some(subject) => {
            let key = subject_key(conn, tenant_id, subject).await?;
            let sealed = seal::seal(&key, tenant_id, subject.as_str(), &personal)
                .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
            (seal::Personal::default(), Some(sealed))
        }
        None => (personal, None),
    };
    sqlx::query!(
        "INSERT INTO audit_log (tenant_id, actor_kind, actor_id, roles, on_behalf_of, action,
                                subject_type, subject_id, reason, ip, request_id, correlation_id,
                                before, after, sealed_for, sealed)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        tenant_id.as_str(),
        actor.kind,
        actor.id,
        &actor.roles,
        actor.on_behalf_of,
        e.action,
        e.subject_type,
        e.subject_id,
        clear.reason,
        clear.ip,
        actor.request_id,
        actor.correlation_id,
        clear.before,
        clear.after,
        sealed
            .as_ref()
            .and(e.personal_data_of)
            .map(|id| id.as_str()),
        sealed,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The subject's key, made on first use. A concurrent first use may insert it between this
/// statement's snapshot and its insert (the insert then does nothing and the snapshot does
/// not show the row): a second statement, with a fresh snapshot, reads it.
async fn subject_key(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    subject: &CustomerId,
) -> sqlx::Result<Vec<u8>> {
    let made = sqlx::query_scalar!(
        r#"WITH made AS (
            INSERT INTO subject_keys (tenant_id, customer_id, key) VALUES ($1, $2, $3)
            ON CONFLICT (tenant_id, customer_id) DO NOTHING RETURNING key)
         SELECT key AS "key!" FROM made UNION ALL
         SELECT key FROM subject_keys WHERE tenant_id = $1 AND customer_id = $2
         LIMIT 1"#,
        tenant_id.as_str(),
        subject.as_str(),
        seal::new_key(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(key) = made {
        return Ok(key);
    }
    sqlx::query_scalar!(
        "SELECT key FROM subject_keys WHERE tenant_id = $1 AND customer_id = $2",
        tenant_id.as_str(),
        subject.as_str(),
    )
    .fetch_one(conn)
    .await
}

/// Destroys the subject's key: their sealed audit data can no longer be read. True when
/// there was one.
pub async fn forget_subject(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    subject: &CustomerId,
) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "DELETE FROM subject_keys WHERE tenant_id = $1 AND customer_id = $2",
        tenant_id.as_str(),
        subject.as_str(),
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n > 0)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: String,
    pub roles: Vec<String>,
    pub on_behalf_of: Option<String>,
    pub action: String,
    pub subject_type: String,
    pub subject_id: String,
    pub reason: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub correlation_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    /// The record held personal data of a customer since erased: its reason, IP and
    /// before/after are gone for good.
    pub erased: bool,
}

/// Which of a subject's records to read, and which page.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub action: Option<ActionMatch>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    pub page: AuditPage,
}

/// An action named exactly, or every action that starts with a prefix (`order.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionMatch {
    Exact(String),
    Prefix(String),
}

/// Oldest first after a record id (keyset pagination), or the newest records, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditPage {
    After { id: i64, limit: i64 },
    Newest { limit: i64 },
}

impl AuditPage {
    /// How many records the page reads.
    pub fn limit(self) -> i64 {
        match self {
            AuditPage::After { limit, .. } | AuditPage::Newest { limit } => limit,
        }
    }
}

impl Default for AuditPage {
    fn default() -> Self {
        AuditPage::After { id: 0, limit: 50 }
    }
}

/// The records about one subject, oldest first, after the id `after` (keyset pagination).
pub async fn list_for_subject(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    subject_type: &str,
    subject_id: &str,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    let filter = AuditFilter {
        page: AuditPage::After { id: after, limit },
        ..AuditFilter::default()
    };
    list_filtered(conn, tenant_id, subject_type, subject_id, &filter).await
}

/// The records about one subject that `filter` selects, in its page's order. Sealed
/// personal data is opened with the subject's key while it exists. The filters are on
/// columns never sealed (actor, action, time), so a sealed record is found like any other.
pub async fn list_filtered(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    subject_type: &str,
    subject_id: &str,
    filter: &AuditFilter,
) -> sqlx::Result<Vec<AuditRow>> {
    let (exact, prefix) = match &filter.action {
        Some(ActionMatch::Exact(a)) => (Some(a.as_str()), None),
        Some(ActionMatch::Prefix(p)) => (None, Some(p.as_str())),
        None => (None, None),
    };
    let (after, limit, newest) = match filter.page {
        AuditPage::After { id, limit } => (id, limit, false),
        AuditPage::Newest { limit } => (0, limit, true),
    };
    // one subject has at most a few hundred records (audit_by_subject finds them), so
    // sorting them either way costs nothing worth a second statement
    let rows = sqlx::query_as!(
        StoredRow,
        r#"SELECT a.id, a.at, a.actor_kind, a.actor_id, a.roles, a.on_behalf_of, a.action,
                a.subject_type, a.subject_id, a.reason, a.ip, a.request_id, a.correlation_id,
                a.before, a.after, a.sealed_for, a.sealed, k.key AS "key?"
         FROM audit_log a
         LEFT JOIN subject_keys k ON k.tenant_id = a.tenant_id AND k.customer_id = a.sealed_for
         WHERE a.tenant_id = $1 AND a.subject_type = $2 AND a.subject_id = $3 AND a.id > $4
           AND ($6::text IS NULL OR a.actor_id = $6)
           AND ($7::text IS NULL OR a.action = $7)
           AND ($8::text IS NULL OR starts_with(a.action, $8))
           AND ($9::timestamptz IS NULL OR a.at >= $9)
           AND ($10::timestamptz IS NULL OR a.at < $10)
         ORDER BY CASE WHEN $11 THEN -a.id ELSE a.id END LIMIT $5"#,
        tenant_id.as_str(),
        subject_type,
        subject_id,
        after,
        limit,
        filter.actor_id.as_deref(),
        exact,
        prefix,
        filter.from,
        filter.to,
        newest,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.open(tenant_id)).collect())
}

/// The records about a customer (`customer` subject) and about their orders, oldest first,
/// at most `limit`; sealed personal data opened with the customer's key while it exists.
pub async fn about_customer(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    customer: &CustomerId,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    // both arms are on the (tenant, subject_type, subject_id) index
    let rows = sqlx::query_as!(
        StoredRow,
        r#"SELECT a.id, a.at, a.actor_kind, a.actor_id, a.roles, a.on_behalf_of, a.action,
                a.subject_type, a.subject_id, a.reason, a.ip, a.request_id, a.correlation_id,
                a.before, a.after, a.sealed_for, a.sealed, k.key AS "key?"
         FROM audit_log a
         LEFT JOIN subject_keys k ON k.tenant_id = a.tenant_id AND k.customer_id = a.sealed_for
         WHERE a.tenant_id = $1
           AND ((a.subject_type = 'customer' AND a.subject_id = $2)
                OR (a.subject_type = 'order' AND a.subject_id IN (
                    SELECT id FROM order_views WHERE tenant_id = $1 AND customer_id = $2)))
         ORDER BY a.id LIMIT $3"#,
        tenant_id.as_str(),
        customer.as_str(),
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.open(tenant_id)).collect())
}

/// The records a job caused: those about the job itself (its control: cancel, retry) and
/// those written under its correlation id (its acceptance, and what its steps or items
/// recorded, e.g. each order of a bulk job), oldest first, at most `limit`; sealed personal
/// data opened with the customer's key while it exists.
pub async fn of_job(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    job_id: &str,
    correlation_id: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    let rows = sqlx::query_as!(
        StoredRow,
        r#"SELECT a.id, a.at, a.actor_kind, a.actor_id, a.roles, a.on_behalf_of, a.action,
                a.subject_type, a.subject_id, a.reason, a.ip, a.request_id, a.correlation_id,
                a.before, a.after, a.sealed_for, a.sealed, k.key AS "key?"
         FROM audit_log a
         LEFT JOIN subject_keys k ON k.tenant_id = a.tenant_id AND k.customer_id = a.sealed_for
         WHERE a.tenant_id = $1
           AND ((a.subject_type = 'job' AND a.subject_id = $2)
                OR ($3::text IS NOT NULL AND a.correlation_id = $3))
         ORDER BY a.id LIMIT $4"#,
        tenant_id.as_str(),
        job_id,
        correlation_id,
        limit,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.open(tenant_id)).collect())
}

/// An audit record as stored: its personal data maybe sealed, with the key if it exists.
struct StoredRow {
    id: i64,
    at: DateTime<Utc>,
    actor_kind: String,
    actor_id: String,
    roles: Vec<String>,
    on_behalf_of: Option<String>,
    action: String,
    subject_type: String,
    subject_id: String,
    reason: Option<String>,
    ip: Option<String>,
    request_id: Option<String>,
    correlation_id: Option<String>,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
    sealed_for: Option<String>,
    sealed: Option<Vec<u8>>,
    key: Option<Vec<u8>>,
}

impl StoredRow {
    /// The record with its sealed data opened, or marked `erased` when the key is gone.
    fn open(self, tenant_id: &TenantId) -> AuditRow {
        let r = self;
        let mut row = AuditRow {
            id: r.id,
            at: r.at,
            actor_kind: r.actor_kind,
            actor_id: r.actor_id,
            roles: r.roles,
            on_behalf_of: r.on_behalf_of,
            action: r.action,
            subject_type: r.subject_type,
            subject_id: r.subject_id,
            reason: r.reason,
            ip: r.ip,
            request_id: r.request_id,
            correlation_id: r.correlation_id,
            before: r.before,
            after: r.after,
            erased: false,
        };
        if let (Some(subject), Some(sealed)) = (r.sealed_for, r.sealed) {
            match r
                .key
                .and_then(|k| seal::open(&k, tenant_id, &subject, &sealed))
            {
                Some(p) => {
                    (row.reason, row.ip, row.before, row.after) =
                        (p.reason, p.ip, p.before, p.after)
                }
                None => row.erased = true,
            }
        }
        row
    }
}
