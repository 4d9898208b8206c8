//! `sandbox.messages`: notifications "sent".

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Message {
    pub id: String,
    pub order_id: String,
    pub to: String,
    pub template: String,
    pub data: Value,
    pub created_at: DateTime<Utc>,
}

pub async fn insert(
    conn: &mut PgConnection,
    tenant: &str,
    id: &str,
    order_id: &str,
    to: &str,
    template: &str,
    data: &Value,
) -> sqlx::Result<Message> {
    sqlx::query_as(
        r#"INSERT INTO sandbox.messages (id, tenant_id, order_id, to_addr, template, data)
           VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING id, order_id, to_addr AS "to", template, data, created_at"#,
    )
    .bind(id)
    .bind(tenant)
    .bind(order_id)
    .bind(to)
    .bind(template)
    .bind(data)
    .fetch_one(conn)
    .await
}

/// Oldest first; all of the tenant's when `order_id` is `None`.
pub async fn list(
    conn: &mut PgConnection,
    tenant: &str,
    order_id: Option<&str>,
) -> sqlx::Result<Vec<Message>> {
    sqlx::query_as(
        r#"SELECT id, order_id, to_addr AS "to", template, data, created_at
           FROM sandbox.messages
           WHERE tenant_id = $1 AND ($2::text IS NULL OR order_id = $2)
           ORDER BY created_at, id LIMIT 1000"#,
    )
    .bind(tenant)
    .bind(order_id)
    .fetch_all(conn)
    .await
}
