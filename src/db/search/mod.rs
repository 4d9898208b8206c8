//! The SQL of the order search language (`domain::search`): the one place where SQL is
//! assembled at run time. It is built with `QueryBuilder`: names of columns come from a
//! fixed table, every value a client gave is a bound parameter.
//!
//! [`push_criteria`] is the WHERE clause of a search's filter and text, always scoped to a
//! tenant; pages and aggregations use it, and so will bulk jobs and exports.

mod aggregate;
mod criteria;
mod page;
mod select;

pub use aggregate::{
    AggregationResult, DateBucket, HistogramResult, SumBucket, SumResult, TermBucket, TermsResult,
    aggregate,
};
pub use criteria::{CriteriaSink, push_criteria};
pub use page::{OrderSummary, Page, page};
pub use select::{existing_ids, matching_ids};

use sqlx::{PgPool, Postgres, Transaction};

/// How long one statement of a search may run before PostgreSQL cancels it.
pub const STATEMENT_TIMEOUT_MS: u32 = 5_000;

/// A transaction for a search's statements, bounded in time and set up for them:
/// - planned for their actual values: the pool forces generic plans, which suit orderdesk's
///   fixed statements, but a search's selectivity depends on its values (a status that is
///   1 % of the orders or 40 %). Its statements are not kept prepared either
///   (`persistent(false)`): each search has its own SQL and would evict the fixed ones;
/// - without JIT compilation, which costs a broad search's aggregation tens of milliseconds
///   more than it saves;
/// - with the memory to keep a bitmap of the matching orders exact and aggregate in memory.
pub async fn begin(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "SELECT set_config('plan_cache_mode', 'force_custom_plan', true) AS plans,
                set_config('jit', 'off', true) AS jit,
                set_config('work_mem', '32MB', true) AS work_mem,
                set_config('statement_timeout', $1, true) AS timeout",
        STATEMENT_TIMEOUT_MS.to_string()
    )
    .fetch_one(&mut *tx)
    .await?;
    Ok(tx)
}

/// Whether `e` is PostgreSQL cancelling a statement that ran out of time.
pub fn timed_out(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("57014"))
}
