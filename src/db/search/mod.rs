//! The SQL of the order search language (`domain::search`): the one place where SQL is
//! assembled at run time. It is built with `QueryBuilder`: names of columns come from a
//! fixed table, every value a client gave is a bound parameter.
//!
//! [`push_criteria`] is the WHERE clause of a search's filter and text, always scoped to a
//! tenant; pages and aggregations use it, and so will bulk jobs and exports.

mod aggregate;
mod criteria;
mod page;

pub use aggregate::{
    AggregationResult, DateBucket, HistogramResult, SumBucket, SumResult, TermBucket, TermsResult,
    aggregate,
};
pub use criteria::push_criteria;
pub use page::{OrderSummary, Page, page};

use sqlx::{PgPool, Postgres, Transaction};

/// How long one statement of a search may run before PostgreSQL cancels it.
pub const STATEMENT_TIMEOUT_MS: u32 = 5_000;

/// A transaction for a search's statements: planned for their actual values and bounded in
/// time. The pool forces generic plans, which suit orderdesk's fixed statements; a search's
/// selectivity depends on its values (a status that is 1 % of the orders or 40 %), so its
/// statements are planned with them. Its statements are not kept prepared either
/// (`persistent(false)`): each search has its own SQL and would evict the fixed ones.
pub async fn begin(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),
                set_config('statement_timeout', $1, true)",
    )
    .bind(STATEMENT_TIMEOUT_MS.to_string())
    .execute(&mut *tx)
    .await?;
    Ok(tx)
}

/// Whether `e` is PostgreSQL cancelling a statement that ran out of time.
pub fn timed_out(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("57014"))
}
