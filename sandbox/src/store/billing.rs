//! Billing's ledger besides the invoices: store credits granted to customers
//! (`sandbox.store_credits`) and the credit notes and adjustments of invoices
//! (`sandbox.invoice_changes`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS sandbox.store_credits (
    tenant_id     text NOT NULL,
    id            text NOT NULL,
    customer_id   text NOT NULL,
    order_id      text NOT NULL,
    amount_minor  bigint NOT NULL,
    currency      text NOT NULL,
    reason        text,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS store_credits_by_customer
    ON sandbox.store_credits (tenant_id, customer_id, created_at);

-- A credit note (money owed back on the invoice) or an adjustment (more owed), of the whole
-- invoice or of one of its lines.
CREATE TABLE IF NOT EXISTS sandbox.invoice_changes (
    tenant_id     text NOT NULL,
    id            text NOT NULL,
    invoice_id    text NOT NULL,
    order_id      text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('credit_note', 'adjustment')),
    line_id       text,
    amount_minor  bigint NOT NULL,
    currency      text NOT NULL,
    reason        text,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX IF NOT EXISTS invoice_changes_by_order
    ON sandbox.invoice_changes (tenant_id, order_id, created_at);
"#;

/// Creates the tables if missing; called by `store::migrate` inside its locked transaction.
pub async fn migrate(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::raw_sql(SCHEMA).execute(conn).await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoreCredit {
    pub id: String,
    pub customer_id: String,
    pub order_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_credit(
    conn: &mut PgConnection,
    tenant: &str,
    c: &StoreCredit,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sandbox.store_credits
             (tenant_id, id, customer_id, order_id, amount_minor, currency, reason, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(tenant)
    .bind(&c.id)
    .bind(&c.customer_id)
    .bind(&c.order_id)
    .bind(c.amount_minor)
    .bind(&c.currency)
    .bind(&c.reason)
    .bind(c.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The store credits of the tenant, oldest first, narrowed to a customer or an order.
pub async fn credits(
    conn: &mut PgConnection,
    tenant: &str,
    customer_id: Option<&str>,
    order_id: Option<&str>,
) -> sqlx::Result<Vec<StoreCredit>> {
    sqlx::query_as(
        "SELECT id, customer_id, order_id, amount_minor, currency, reason, created_at
         FROM sandbox.store_credits
         WHERE tenant_id = $1 AND ($2::text IS NULL OR customer_id = $2)
           AND ($3::text IS NULL OR order_id = $3)
         ORDER BY created_at, id",
    )
    .bind(tenant)
    .bind(customer_id)
    .bind(order_id)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct InvoiceChange {
    pub id: String,
    pub invoice_id: String,
    pub order_id: String,
    /// `credit_note` or `adjustment`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn insert_change(
    conn: &mut PgConnection,
    tenant: &str,
    c: &InvoiceChange,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO sandbox.invoice_changes (tenant_id, id, invoice_id, order_id, kind, line_id,
                                              amount_minor, currency, reason, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(tenant)
    .bind(&c.id)
    .bind(&c.invoice_id)
    .bind(&c.order_id)
    .bind(&c.kind)
    .bind(&c.line_id)
    .bind(c.amount_minor)
    .bind(&c.currency)
    .bind(&c.reason)
    .bind(c.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The credit notes and adjustments of the order's invoices, oldest first.
pub async fn changes(
    conn: &mut PgConnection,
    tenant: &str,
    order_id: &str,
) -> sqlx::Result<Vec<InvoiceChange>> {
    sqlx::query_as(
        "SELECT id, invoice_id, order_id, kind, line_id, amount_minor, currency, reason,
                created_at
         FROM sandbox.invoice_changes WHERE tenant_id = $1 AND order_id = $2
         ORDER BY created_at, id",
    )
    .bind(tenant)
    .bind(order_id)
    .fetch_all(conn)
    .await
}

/// Invoice `id` of the tenant, locked until the transaction ends, so two credit notes are
/// judged against its balance one after the other.
pub async fn lock_invoice(
    conn: &mut PgConnection,
    tenant: &str,
    id: &str,
) -> sqlx::Result<Option<super::orders::Invoice>> {
    sqlx::query_as(
        "SELECT id, order_id, total_minor, currency FROM sandbox.invoices
         WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
    )
    .bind(tenant)
    .bind(id)
    .fetch_optional(conn)
    .await
}
