//! Tenants and their settings.

use sqlx::PgConnection;

use crate::domain::settings::TenantSettings;

pub async fn upsert(
    conn: &mut PgConnection,
    id: &str,
    name: &str,
    settings: &TenantSettings,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO tenants (id, name, settings) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, settings = EXCLUDED.settings",
    )
    .bind(id)
    .bind(name)
    .bind(sqlx::types::Json(settings))
    .execute(conn)
    .await?;
    Ok(())
}

/// The tenant's settings, or the defaults for a tenant without a row.
pub async fn settings(conn: &mut PgConnection, tenant_id: &str) -> sqlx::Result<TenantSettings> {
    let row: Option<(sqlx::types::Json<TenantSettings>,)> =
        sqlx::query_as("SELECT settings FROM tenants WHERE id = $1")
            .bind(tenant_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| r.0.0).unwrap_or_default())
}

pub async fn exists(conn: &mut PgConnection, tenant_id: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1)")
        .bind(tenant_id)
        .fetch_one(conn)
        .await
}

/// The tenant's display name (what its documents print as the seller), if it has a row.
pub async fn name(conn: &mut PgConnection, tenant_id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT name FROM tenants WHERE id = $1")
        .bind(tenant_id)
        .fetch_optional(conn)
        .await
}
