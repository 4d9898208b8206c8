//! The seeder: writes the demo tenant and its orders (`orderdesk_domain::demo`) into the read
//! model. Their canonical side belongs to the upstream services: the binary hands the same
//! orders to the sandbox crate.

use std::time::Instant;

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

/// From how many orders a load into an empty `order_views` defers its secondary indexes
/// (builds them after the COPY): below it, building ten indexes costs more than maintaining
/// them, and the tests' small seeds keep the plain path.
pub const DEFER_INDEXES_FROM: usize = 100_000;

/// Writes the demo tenant and its `orders` demo orders over `customers` customers into the
/// read model. A tenant without orders is loaded with COPY, fed as the orders are generated
/// (for a million orders, PostgreSQL's work per row is what remains: see the README's
/// Benchmarks); seeding again upserts them, which changes nothing, and completes a load
/// that was interrupted. A large load into an empty `order_views` builds its secondary
/// indexes after the COPY ([`DEFER_INDEXES_FROM`]).
pub async fn load_read_model(
    pool: &PgPool,
    tenant: &TenantId,
    customers: usize,
    orders: usize,
) -> anyhow::Result<()> {
    load_read_model_deferring_from(pool, tenant, customers, orders, DEFER_INDEXES_FROM).await
}

/// [`load_read_model`], deferring the indexes from `defer_from` orders (a test loads a few
/// thousand orders through the deferred path).
pub async fn load_read_model_deferring_from(
    pool: &PgPool,
    tenant: &TenantId,
    customers: usize,
    orders: usize,
    defer_from: usize,
) -> anyhow::Result<()> {
    // held to the end: one load at a time, and a `db::migrate` meanwhile leaves the
    // indexes this load defers to it
    let mut lock = db::orders_copy::BulkLoadLock::acquire(pool).await?;
    db::tenants::upsert(lock.conn(), tenant, tenant.as_str(), &demo_settings()).await?;
    if db::orders::count_for_tenant(lock.conn(), tenant).await? > 0 {
        for batch in demo_batches(tenant, customers, orders, UPSERT_BATCH) {
            apply(pool, tenant, &demo_settings(), &batch).await?;
        }
        return Ok(lock.release().await?);
    }
    let deferred = orders >= defer_from && db::orders_copy::defer_indexes(lock.conn()).await?;
    let started = Instant::now();
    let copied = copy_orders(pool, tenant, customers, orders).await;
    tracing::info!(secs = secs_since(started), deferred, "orders copied");
    // rebuilt even when the COPY failed: the read model is never left without them
    if deferred {
        let started = Instant::now();
        let built = db::orders_copy::restore_indexes(pool, &mut lock).await?;
        tracing::info!(secs = secs_since(started), indexes = ?built, "deferred indexes built");
    }
    copied?;
    // fresh statistics and visibility map, so the planner knows the new rows (and index-only
    // scans skip their heap) before autovacuum comes by; after the index builds, which give
    // the expression indexes the statistics ANALYZE collects for them
    let started = Instant::now();
    db::orders_copy::vacuum_analyze(lock.conn()).await?;
    tracing::info!(
        secs = secs_since(started),
        "order_views vacuumed and analyzed"
    );
    Ok(lock.release().await?)
}

/// COPYs the tenant's demo orders on [`COPY_STREAMS`] connections at once, the rows
/// generated and encoded once, on a thread of their own, and dealt to the streams in chunks.
async fn copy_orders(
    pool: &PgPool,
    tenant: &TenantId,
    customers: usize,
    orders: usize,
) -> anyhow::Result<()> {
    use db::orders_copy::{copy_chunks, deal_chunks};
    // a few chunks ahead of each stream: memory stays a few MiB whatever the count
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..COPY_STREAMS)
        .map(|_| tokio::sync::mpsc::channel(4))
        .unzip();
    let owned = tenant.clone();
    let dealer = tokio::task::spawn_blocking(move || {
        deal_chunks(demo_orders_iter(&owned, customers, orders), &senders)
    });
    let streams = receivers.into_iter().map(|chunks| async move {
        let mut conn = pool.acquire().await?;
        copy_chunks(&mut conn, chunks).await
    });
    let copied = futures::future::try_join_all(streams).await;
    // a failed stream drops its receiver, which ends the dealer too
    let dealt = dealer.await?;
    copied?;
    dealt?;
    Ok(())
}

fn secs_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64()
}
