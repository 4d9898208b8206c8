//! The seeder: writes the demo tenant and its orders (`orderdesk_domain::demo`) into the read
//! model. Their canonical side belongs to the upstream services: the binary hands the same
//! orders to the sandbox crate.

use sqlx::PgPool;

use crate::db;
pub use crate::domain::demo::{customer_id, demo_orders, demo_settings};
use crate::domain::ids::TenantId;
use crate::domain::order::Order;
use crate::domain::settings::TenantSettings;

/// Writes the tenant and the read model of `orders` in one transaction.
pub async fn apply(
    pool: &PgPool,
    tenant: &TenantId,
    settings: &TenantSettings,
    orders: &[Order],
) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    db::tenants::upsert(&mut tx, tenant, tenant.as_str(), settings).await?;
    for o in orders {
        db::orders::upsert_view(&mut tx, o).await?;
    }
    tx.commit().await?;
    Ok(())
}
