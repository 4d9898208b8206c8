//! All SQL of the sandbox, in its own schema `sandbox`, one file per table family.
//! Functions take a connection (or transaction) and the tenant, so scoping is in every
//! signature.

pub mod billing;
pub mod commerce;
pub mod customers;
pub mod effects;
pub mod fulfillments;
pub mod idempotency;
pub mod messages;
pub mod orders;
pub mod returns;
pub mod seed;
pub mod stock;
pub mod tracking;

use sqlx::PgPool;

/// Advisory-lock namespace of the sandbox (first key of the two-key form), so its locks
/// never collide with orderdesk's in the shared database.
pub const LOCK_NAMESPACE: i32 = 0x5A_4E_44; // "SND"

/// Second key of the lock that serializes `migrate` across processes.
const MIGRATE_LOCK: i32 = 0;

const SCHEMA: &str = r#"
CREATE SCHEMA IF NOT EXISTS sandbox;

-- The canonical order document; payments, refunds and shipments live inside `doc`.
CREATE TABLE IF NOT EXISTS sandbox.orders (
    tenant_id    text NOT NULL,
    id           text NOT NULL,
    customer_id  text NOT NULL,
    placed_at    timestamptz NOT NULL,
    doc          jsonb NOT NULL,
    version      bigint NOT NULL,
    -- the status before a cancel or hold, restored by reinstate or release
    prev_status  text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS orders_by_customer
    ON sandbox.orders (tenant_id, customer_id, placed_at DESC, id);

-- Which order holds a payment, so /payments/{id} is one indexed lookup.
CREATE TABLE IF NOT EXISTS sandbox.payments (
    tenant_id  text NOT NULL,
    id         text NOT NULL,
    order_id   text NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE IF NOT EXISTS sandbox.invoices (
    tenant_id    text NOT NULL,
    order_id     text NOT NULL,
    id           text NOT NULL,
    total_minor  bigint NOT NULL,
    currency     text NOT NULL,
    PRIMARY KEY (tenant_id, order_id)
);

-- The stored answer of each mutation made with an Idempotency-Key.
CREATE TABLE IF NOT EXISTS sandbox.idempotency (
    service     text NOT NULL,
    tenant_id   text NOT NULL,
    key         text NOT NULL,
    status      integer NOT NULL,
    body        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (service, tenant_id, key)
);

-- Every effect, written in the transaction that made it: the exactly-once ledger of tests.
CREATE TABLE IF NOT EXISTS sandbox.effects (
    seq        bigserial PRIMARY KEY,
    tenant_id  text NOT NULL,
    order_id   text NOT NULL,
    service    text NOT NULL,
    kind       text NOT NULL,
    key        text,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS effects_by_order ON sandbox.effects (tenant_id, order_id, seq);

CREATE TABLE IF NOT EXISTS sandbox.stock (
    tenant_id  text NOT NULL,
    sku        text NOT NULL,
    on_hand    bigint NOT NULL,
    PRIMARY KEY (tenant_id, sku)
);

CREATE TABLE IF NOT EXISTS sandbox.stock_movements (
    seq        bigserial PRIMARY KEY,
    tenant_id  text NOT NULL,
    sku        text NOT NULL,
    delta      bigint NOT NULL,
    -- seed, release or reservation
    reason     text NOT NULL,
    ref        text,
    order_id   text,
    at         timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS stock_movements_by_sku ON sandbox.stock_movements (tenant_id, sku, seq);

CREATE TABLE IF NOT EXISTS sandbox.messages (
    id          text PRIMARY KEY,
    tenant_id   text NOT NULL,
    order_id    text NOT NULL,
    to_addr     text NOT NULL,
    template    text NOT NULL,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS messages_by_order ON sandbox.messages (tenant_id, order_id, created_at);
"#;

/// Creates the schema and tables if missing. Concurrent `CREATE ... IF NOT EXISTS` can
/// still collide on the catalog, hence the transaction-scoped advisory lock around it.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(LOCK_NAMESPACE)
        .bind(MIGRATE_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(SCHEMA).execute(&mut *tx).await?;
    returns::migrate(&mut tx).await?;
    commerce::migrate(&mut tx).await?;
    billing::migrate(&mut tx).await?;
    fulfillments::migrate(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}
