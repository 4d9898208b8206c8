//! Scoped API keys (`api_keys`): created, listed, revoked, and found by id to verify one.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::ids::TenantId;

/// A key as listed: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
}

pub struct NewApiKey<'a> {
    pub id: Uuid,
    pub tenant_id: &'a TenantId,
    pub name: &'a str,
    pub secret_hash: &'a [u8],
    pub scopes: &'a [String],
    pub created_by: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
}

pub async fn insert(conn: &mut PgConnection, k: &NewApiKey<'_>) -> sqlx::Result<ApiKeyRow> {
    sqlx::query_as!(
        ApiKeyRow,
        "INSERT INTO api_keys (id, tenant_id, name, secret_hash, scopes, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         RETURNING id, name, scopes, created_by, created_at, expires_at, revoked_at, revoked_by",
        k.id,
        k.tenant_id.as_str(),
        k.name,
        k.secret_hash,
        k.scopes,
        k.created_by,
        k.expires_at,
    )
    .fetch_one(conn)
    .await
}

/// The tenant's keys, newest first, after the key `before` (the cursor).
pub async fn list(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<ApiKeyRow>> {
    sqlx::query_as!(
        ApiKeyRow,
        "SELECT id, name, scopes, created_by, created_at, expires_at, revoked_at, revoked_by
         FROM api_keys
         WHERE tenant_id = $1 AND ($2::uuid IS NULL OR id < $2)
         ORDER BY id DESC LIMIT $3",
        tenant_id.as_str(),
        before,
        limit,
    )
    .fetch_all(conn)
    .await
}

/// Revokes the key; `None` when the tenant has no such key. A revoked key stays revoked
/// (its first revocation is kept).
pub async fn revoke(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    id: Uuid,
    revoked_by: &str,
) -> sqlx::Result<Option<ApiKeyRow>> {
    sqlx::query_as!(
        ApiKeyRow,
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()),
                             revoked_by = coalesce(revoked_by, $3)
         WHERE tenant_id = $1 AND id = $2
         RETURNING id, name, scopes, created_by, created_at, expires_at, revoked_at, revoked_by",
        tenant_id.as_str(),
        id,
        revoked_by,
    )
    .fetch_optional(conn)
    .await
}

/// What verifying a presented key needs.
pub struct StoredKey {
    pub tenant_id: TenantId,
    pub secret_hash: Vec<u8>,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn find(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<StoredKey>> {
    sqlx::query_as!(
        StoredKey,
        r#"SELECT tenant_id AS "tenant_id: TenantId", secret_hash, scopes, expires_at, revoked_at
           FROM api_keys WHERE id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await
}
