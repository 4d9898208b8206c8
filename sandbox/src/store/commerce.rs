//! `sandbox.catalog` (what each SKU sells for now, per currency), `sandbox.carts`,
//! `sandbox.fulfillment_addresses` (where Fulfillment will ship) and `sandbox.coupons`
//! (with the deterministic demo coupons).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use sqlx::types::Json;

use crate::wire::Address;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sandbox.catalog (
    tenant_id     text NOT NULL,
    sku           text NOT NULL,
    currency      text NOT NULL,
    name          text NOT NULL,
    price_minor   bigint NOT NULL,
    discontinued  boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, sku, currency)
);

CREATE TABLE IF NOT EXISTS sandbox.carts (
    tenant_id    text NOT NULL,
    id           text NOT NULL,
    customer_id  text NOT NULL,
    doc          jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

-- The address Fulfillment ships to, once changed; before that, the order's own.
CREATE TABLE IF NOT EXISTS sandbox.fulfillment_addresses (
    tenant_id   text NOT NULL,
    order_id    text NOT NULL,
    address     jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, order_id)
);

-- tenant_id '*' = a coupon of every tenant. Amounts are minor units of the order's currency.
CREATE TABLE IF NOT EXISTS sandbox.coupons (
    tenant_id           text NOT NULL,
    code                text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('percent', 'fixed', 'free_shipping')),
    value               bigint NOT NULL DEFAULT 0,
    min_subtotal_minor  bigint NOT NULL DEFAULT 0,
    sku_prefix          text,
    valid_until         timestamptz,
    description         text NOT NULL,
    PRIMARY KEY (tenant_id, code)
);

INSERT INTO sandbox.coupons
    (tenant_id, code, kind, value, min_subtotal_minor, sku_prefix, valid_until, description)
VALUES
    ('*', 'WELCOME10', 'percent', 10, 0, NULL, NULL, '10 % off the items'),
    ('*', 'SHIPFREE', 'free_shipping', 0, 0, NULL, NULL, 'Free shipping'),
    ('*', 'SUMMER24', 'percent', 15, 0, NULL, '2024-09-30T23:59:59Z', '15 % off, summer 2024'),
    ('*', 'BIG50', 'fixed', 5000, 25000, NULL, NULL, '50.00 off orders of 250.00 or more'),
    ('*', 'MUGS20', 'percent', 20, 0, 'SKU-MUG', NULL, '20 % off mugs')
ON CONFLICT (tenant_id, code) DO NOTHING;
"#;

/// Creates the tables and the demo coupons, in `store::migrate`'s locked transaction.
pub async fn migrate(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::raw_sql(SCHEMA).execute(conn).await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct CatalogRow {
    pub sku: String,
    pub name: String,
    pub currency: String,
    pub price_minor: i64,
    pub discontinued: bool,
}

pub async fn catalog_item(
    conn: &mut PgConnection,
    tenant: &str,
    sku: &str,
    currency: &str,
) -> sqlx::Result<Option<CatalogRow>> {
    sqlx::query_as(
        "SELECT sku, name, currency, price_minor, discontinued FROM sandbox.catalog
         WHERE tenant_id = $1 AND sku = $2 AND currency = $3",
    )
    .bind(tenant)
    .bind(sku)
    .bind(currency)
    .fetch_optional(conn)
    .await
}

/// Lists a SKU at the price it was sold for, unless the catalog knows it already (seeding).
pub async fn ensure_catalog_item(
    conn: &mut PgConnection,
    tenant: &str,
    sku: &str,
    currency: &str,
    name: &str,
    price_minor: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sandbox.catalog (tenant_id, sku, currency, name, price_minor)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, sku, currency) DO NOTHING",
    )
    .bind(tenant)
    .bind(sku)
    .bind(currency)
    .bind(name)
    .bind(price_minor)
    .execute(conn)
    .await?;
    Ok(())
}

/// Creates or changes a catalog entry; fields left `None` keep their value. `None` when
/// the entry is new and `name` or `price_minor` is missing.
pub async fn set_catalog_item(
    conn: &mut PgConnection,
    tenant: &str,
    sku: &str,
    currency: &str,
    name: Option<&str>,
    price_minor: Option<i64>,
    discontinued: Option<bool>,
) -> sqlx::Result<Option<CatalogRow>> {
    let old = catalog_item(conn, tenant, sku, currency).await?;
    let (Some(name), Some(price_minor)) = (
        name.map(str::to_string)
            .or(old.as_ref().map(|o| o.name.clone())),
        price_minor.or(old.as_ref().map(|o| o.price_minor)),
    ) else {
        return Ok(None);
    };
    let discontinued = discontinued
        .or(old.map(|o| o.discontinued))
        .unwrap_or(false);
    sqlx::query_as(
        "INSERT INTO sandbox.catalog (tenant_id, sku, currency, name, price_minor, discontinued)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (tenant_id, sku, currency) DO UPDATE SET
            name = excluded.name, price_minor = excluded.price_minor,
            discontinued = excluded.discontinued, updated_at = now()
         RETURNING sku, name, currency, price_minor, discontinued",
    )
    .bind(tenant)
    .bind(sku)
    .bind(currency)
    .bind(name)
    .bind(price_minor)
    .bind(discontinued)
    .fetch_optional(conn)
    .await
}

pub async fn insert_cart(
    conn: &mut PgConnection,
    tenant: &str,
    id: &str,
    customer_id: &str,
    doc: &Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sandbox.carts (tenant_id, id, customer_id, doc) VALUES ($1, $2, $3, $4)",
    )
    .bind(tenant)
    .bind(id)
    .bind(customer_id)
    .bind(doc)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn cart(conn: &mut PgConnection, tenant: &str, id: &str) -> sqlx::Result<Option<Value>> {
    sqlx::query_scalar("SELECT doc FROM sandbox.carts WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn set_fulfillment_address(
    conn: &mut PgConnection,
    tenant: &str,
    order_id: &str,
    address: &Address,
) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar(
        "INSERT INTO sandbox.fulfillment_addresses (tenant_id, order_id, address)
         VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, order_id) DO UPDATE SET address = excluded.address, updated_at = now()
         RETURNING updated_at",
    )
    .bind(tenant)
    .bind(order_id)
    .bind(Json(address))
    .fetch_one(conn)
    .await
}

pub async fn fulfillment_address(
    conn: &mut PgConnection,
    tenant: &str,
    order_id: &str,
) -> sqlx::Result<Option<(Address, DateTime<Utc>)>> {
    let row: Option<(Json<Address>, DateTime<Utc>)> = sqlx::query_as(
        "SELECT address, updated_at FROM sandbox.fulfillment_addresses
         WHERE tenant_id = $1 AND order_id = $2",
    )
    .bind(tenant)
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(Json(a), at)| (a, at)))
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Coupon {
    pub code: String,
    pub kind: String,
    pub value: i64,
    pub min_subtotal_minor: i64,
    pub sku_prefix: Option<String>,
    pub valid_until: Option<DateTime<Utc>>,
    pub description: String,
}

/// The tenant's own coupon with that code, else the one of every tenant.
pub async fn coupon(
    conn: &mut PgConnection,
    tenant: &str,
    code: &str,
) -> sqlx::Result<Option<Coupon>> {
    sqlx::query_as(
        "SELECT code, kind, value, min_subtotal_minor, sku_prefix, valid_until, description
         FROM sandbox.coupons WHERE code = $2 AND tenant_id IN ($1, '*')
         ORDER BY tenant_id = '*' LIMIT 1",
    )
    .bind(tenant)
    .bind(code)
    .fetch_optional(conn)
    .await
}
