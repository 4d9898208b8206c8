//! Tenants and their settings.

use sqlx::PgConnection;
use sqlx::types::Json;

use crate::domain::ids::TenantId;
use crate::domain::settings::TenantSettings;

/// NOTIFYed with the tenant's id by every change of its settings, in the changing
/// transaction (`tenant_settings::SettingsCache::watch` listens).
pub const SETTINGS_CHANNEL: &str = "orderdesk_tenant_settings";

/// Creates the tenant or replaces its name and settings (seeding); cached copies of the
/// settings are dropped once the transaction commits ([`SETTINGS_CHANNEL`]).
pub async fn upsert(
    conn: &mut PgConnection,
    id: &TenantId,
    name: &str,
    settings: &TenantSettings,
) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH changed AS (
             INSERT INTO tenants (id, name, settings) VALUES ($1, $2, $3)
             ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, settings = EXCLUDED.settings
             RETURNING id)
         SELECT pg_notify($4, id) FROM changed",
        id.as_str(),
        name,
        Json(settings) as Json<&TenantSettings>,
        SETTINGS_CHANNEL,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The tenant's settings, or the defaults for a tenant without a row.
pub async fn settings(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
) -> sqlx::Result<TenantSettings> {
    let settings = sqlx::query_scalar!(
        r#"SELECT settings AS "settings: Json<TenantSettings>" FROM tenants WHERE id = $1"#,
        tenant_id.as_str(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(settings.map(|Json(s)| s).unwrap_or_default())
}

pub async fn exists(conn: &mut PgConnection, tenant_id: &TenantId) -> sqlx::Result<bool> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1) AS "exists!""#,
        tenant_id.as_str(),
    )
    .fetch_one(conn)
    .await
}

/// The tenant's display name (what its documents print as the seller), if it has a row.
pub async fn name(conn: &mut PgConnection, tenant_id: &TenantId) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("SELECT name FROM tenants WHERE id = $1", tenant_id.as_str())
        .fetch_optional(conn)
        .await
}

/// The tenant's settings, locked for this transaction (an agent's change reads, checks
/// `If-Match` and writes under the lock); the defaults for a tenant without a row.
pub async fn settings_for_update(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
) -> sqlx::Result<TenantSettings> {
    let settings = sqlx::query_scalar!(
        r#"SELECT settings AS "settings: Json<TenantSettings>" FROM tenants WHERE id = $1 FOR UPDATE"#,
        tenant_id.as_str(),
    )
    .fetch_optional(conn)
    .await?;
    Ok(settings.map(|Json(s)| s).unwrap_or_default())
}

/// Replaces the tenant's settings; a tenant without a row gets one named after its id.
/// Cached copies are dropped once the transaction commits ([`SETTINGS_CHANNEL`]).
pub async fn set_settings(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    settings: &TenantSettings,
) -> sqlx::Result<()> {
    sqlx::query!(
        "WITH changed AS (
             INSERT INTO tenants (id, name, settings) VALUES ($1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET settings = EXCLUDED.settings
             RETURNING id)
         SELECT pg_notify($3, id) FROM changed",
        tenant_id.as_str(),
        Json(settings) as Json<&TenantSettings>,
        SETTINGS_CHANNEL,
    )
    .execute(conn)
    .await?;
    Ok(())
}
