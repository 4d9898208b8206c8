//! The seeder: writes the demo tenant and its orders (`orderdesk_domain::demo`) into the read
//! model. Their canonical side belongs to the upstream services: the binary hands the same
//! orders to the sandbox crate.

use sqlx::PgPool;

use crate::db;
pub use crate::domain::demo::{customer_id, demo_orders, demo_orders_iter, demo_settings};
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

/// Orders per transaction when seeding a tenant that has orders already.
const UPSERT_BATCH: usize = 10_000;

/// The demo orders of `tenant` in batches of `size`, generated as they are taken: a million
/// orders are never all in memory.
pub fn demo_batches(
    tenant: &TenantId,
    customers: usize,
    orders: usize,
    size: usize,
) -> impl Iterator<Item = Vec<Order>> + '_ {
    let mut all = demo_orders_iter(tenant, customers, orders);
    std::iter::from_fn(move || Some(all.by_ref().take(size).collect::<Vec<_>>()))
        .take_while(|batch| !batch.is_empty())
}

/// COPY statements loading a new tenant at once, each on its own connection: PostgreSQL
/// parses the documents, generates the search columns and maintains the indexes in one
/// process per statement, so one statement would leave a core idle.
const COPY_STREAMS: usize = 2;

/// Writes the demo tenant and its `orders` demo orders over `customers` customers into the
/// read model. A tenant without orders is loaded with COPY, fed as the orders are generated
/// (for a million orders, PostgreSQL's work per row is what remains: see the README's
/// Benchmarks); seeding again upserts them, which changes nothing, and completes a load
/// that was interrupted.
pub async fn load_read_model(
    pool: &PgPool,
    tenant: &TenantId,
    customers: usize,
    orders: usize,
) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    db::tenants::upsert(&mut conn, tenant, tenant.as_str(), &demo_settings()).await?;
    if db::orders::count_for_tenant(&mut conn, tenant).await? > 0 {
        for batch in demo_batches(tenant, customers, orders, UPSERT_BATCH) {
            apply(pool, tenant, &demo_settings(), &batch).await?;
        }
        return Ok(());
    }
    // stream k copies every COPY_STREAMS-th order from the k-th: each generates them all
    // (cheap next to what PostgreSQL does with a row) and keeps its own
    let streams = (0..COPY_STREAMS).map(|k| async move {
        let mut conn = pool.acquire().await?;
        let mine = demo_orders_iter(tenant, customers, orders)
            .skip(k)
            .step_by(COPY_STREAMS);
        db::orders_copy::copy_views(&mut conn, mine).await
    });
    futures::future::try_join_all(streams).await?;
    // fresh statistics and visibility map, so the planner knows the new rows (and index-only
    // scans skip their heap) before autovacuum comes by
    db::orders_copy::vacuum_analyze(&mut conn).await?;
    Ok(())
}
