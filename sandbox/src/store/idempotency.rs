//! `sandbox.idempotency`: the stored answer of a mutation, per (service, tenant, key).

use serde_json::Value;
use sqlx::PgConnection;

use super::LOCK_NAMESPACE;
use crate::service::Service;

/// Waits for, then holds until the transaction ends, the lock of one (service, tenant, key),
/// so two calls with the same key run one after the other. A hash collision only serializes
/// two unrelated keys.
pub async fn lock_key(
    conn: &mut PgConnection,
    service: Service,
    tenant: &str,
    key: &str,
) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2 || chr(31) || $3 || chr(31) || $4))")
        .bind(LOCK_NAMESPACE)
        .bind(service.name())
        .bind(tenant)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The stored (status, body) of the first call with this key.
pub async fn find(
    conn: &mut PgConnection,
    service: Service,
    tenant: &str,
    key: &str,
) -> sqlx::Result<Option<(u16, Value)>> {
    let row: Option<(i32, Value)> = sqlx::query_as(
        "SELECT status, body FROM sandbox.idempotency
         WHERE service = $1 AND tenant_id = $2 AND key = $3",
    )
    .bind(service.name())
    .bind(tenant)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(status, body)| (u16::try_from(status).unwrap_or(500), body)))
}

pub async fn store(
    conn: &mut PgConnection,
    service: Service,
    tenant: &str,
    key: &str,
    status: u16,
    body: &Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sandbox.idempotency (service, tenant_id, key, status, body)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(service.name())
    .bind(tenant)
    .bind(key)
    .bind(i32::from(status))
    .bind(body)
    .execute(conn)
    .await?;
    Ok(())
}
