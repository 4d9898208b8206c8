//! The append-only audit log (a trigger refuses UPDATE and DELETE).

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
}

pub async fn record(
    conn: &mut PgConnection,
    tenant_id: &str,
    actor: &Actor,
    e: &Entry<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor_kind, actor_id, roles, on_behalf_of, action,
                                subject_type, subject_id, reason, ip, request_id, correlation_id,
                                before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(tenant_id)
    .bind(actor.kind)
    .bind(&actor.id)
    .bind(&actor.roles)
    .bind(&actor.on_behalf_of)
    .bind(e.action)
    .bind(e.subject_type)
    .bind(e.subject_id)
    .bind(e.reason)
    .bind(&actor.ip)
    .bind(&actor.request_id)
    .bind(&actor.correlation_id)
    .bind(&e.before)
    .bind(&e.after)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
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
}

/// The records about one subject, oldest first, after the id `after` (keyset pagination).
pub async fn list_for_subject(
    conn: &mut PgConnection,
    tenant_id: &str,
    subject_type: &str,
    subject_id: &str,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<AuditRow>> {
    sqlx::query_as(
        "SELECT id, at, actor_kind, actor_id, roles, on_behalf_of, action, subject_type, subject_id,
                reason, ip, request_id, correlation_id, before, after
         FROM audit_log WHERE tenant_id = $1 AND subject_type = $2 AND subject_id = $3 AND id > $4
         ORDER BY id LIMIT $5",
    )
    .bind(tenant_id)
    .bind(subject_type)
    .bind(subject_id)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}
