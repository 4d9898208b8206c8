//! Aggregations over every order a search matches: one grouped query each, over the same
//! WHERE clause as the page.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::criteria::{column, push_criteria};
use crate::domain::search::{Aggregation, Criteria, FieldKind, MAX_HISTOGRAM_BUCKETS};

/// The answer of one aggregation.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum AggregationResult {
    Terms(TermsResult),
    Sum(SumResult),
    Histogram(HistogramResult),
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TermsResult {
    /// The most frequent values first (ties by value).
    pub buckets: Vec<TermBucket>,
    /// Orders (for a set such as `tags`: values) counted in buckets beyond `size`.
    pub other_count: i64,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TermBucket {
    /// The field's value; `null` for orders without one.
    pub key: Option<String>,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SumResult {
    /// One bucket per value of `by`, in the order of its values.
    pub buckets: Vec<SumBucket>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SumBucket {
    pub key: String,
    pub sum: i64,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistogramResult {
    /// Oldest first; intervals without orders are left out.
    pub buckets: Vec<DateBucket>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct DateBucket {
    /// The start of the interval, in UTC.
    pub key: DateTime<Utc>,
    pub count: i64,
}

/// `agg` over the orders of `tenant_id` that `criteria` matches. A histogram returns at most
/// `MAX_HISTOGRAM_BUCKETS + 1` buckets: more than the maximum means "too many", which the
/// caller refuses rather than cutting.
pub async fn aggregate(
    conn: &mut PgConnection,
    tenant_id: &str,
    criteria: &Criteria,
    agg: &Aggregation,
) -> sqlx::Result<AggregationResult> {
    let mut qb = QueryBuilder::<Postgres>::new("");
    match agg {
        Aggregation::Terms { field, size } => {
            let col = column(*field);
            // a set counts each of its values; a boolean's key is "true" or "false"
            let (key, from) = match field.kind() {
                FieldKind::KeywordSet => (
                    "t.key".to_string(),
                    format!("order_views v CROSS JOIN LATERAL jsonb_array_elements_text({col}) AS t(key)"),
                ),
                _ => (format!("{col}::text"), "order_views v".to_string()),
            };
            qb.push(format_args!(
                "SELECT key, count, sum(count) OVER ()::bigint AS total FROM \
                 (SELECT {key} AS key, count(*) AS count FROM {from} WHERE "
            ));
            push_criteria(&mut qb, tenant_id, criteria);
            qb.push(" GROUP BY 1) g ORDER BY count DESC, key NULLS LAST LIMIT ")
                .push_bind(i64::from(*size));
            let rows: Vec<(Option<String>, i64, i64)> = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(conn)
                .await?;
            let total = rows.first().map(|r| r.2).unwrap_or(0);
            let shown: i64 = rows.iter().map(|r| r.1).sum();
            Ok(AggregationResult::Terms(TermsResult {
                buckets: rows
                    .into_iter()
                    .map(|(key, count, _)| TermBucket { key, count })
                    .collect(),
                other_count: total - shown,
            }))
        }
        Aggregation::Sum { field, by } => {
            qb.push(format_args!(
                "SELECT {by}::text AS key, coalesce(sum({field}), 0)::bigint AS sum, \
                 count(*) AS count FROM order_views v WHERE ",
                by = column(*by),
                field = column(*field),
            ));
            push_criteria(&mut qb, tenant_id, criteria);
            qb.push(" GROUP BY 1 ORDER BY 1");
            let buckets = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(conn)
                .await?;
            Ok(AggregationResult::Sum(SumResult { buckets }))
        }
        Aggregation::Histogram { field, interval } => {
            qb.push("SELECT date_trunc(")
                .push_bind(interval.name())
                .push(format_args!(
                    ", {}, 'UTC') AS key, count(*) AS count FROM order_views v WHERE ",
                    column(*field)
                ));
            push_criteria(&mut qb, tenant_id, criteria);
            qb.push(" GROUP BY 1 ORDER BY 1 LIMIT ")
                .push_bind(MAX_HISTOGRAM_BUCKETS as i64 + 1);
            let buckets = qb
                .build_query_as()
                .persistent(false)
                .fetch_all(conn)
                .await?;
            Ok(AggregationResult::Histogram(HistogramResult { buckets }))
        }
    }
}
