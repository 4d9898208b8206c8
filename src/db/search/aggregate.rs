//! Aggregations over every order a search matches (not only the page).
//!
//! The aggregations of single-valued fields are computed together in one statement — one
//! scan of the matching orders, `GROUP BY GROUPING SETS` with one set per distinct key — so
//! a search with three aggregations reads its orders once, not three times. A `terms` of a
//! set-valued field (`tags`, `sku`) counts the set's elements, so it has a statement of its
//! own.

use crate::domain::ids::TenantId;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use super::criteria::{column, push_criteria};
use crate::domain::search::{Aggregation, Criteria, Field, FieldKind, Interval, NamedAggregation};

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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DateBucket {
    /// The start of the interval, in UTC.
    pub key: DateTime<Utc>,
    pub count: i64,
}

/// Every aggregation of `aggs` over the orders of `tenant_id` that `criteria` matches, by
/// name. Histograms have all their buckets: the caller refuses one with too many.
pub async fn aggregate(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    criteria: &Criteria,
    aggs: &[NamedAggregation],
) -> sqlx::Result<BTreeMap<String, AggregationResult>> {
    let mut out = BTreeMap::new();
    let mut single = Vec::new();
    for named in aggs {
        match named.aggregation {
            Aggregation::Terms { field, size } if field.kind() == FieldKind::KeywordSet => {
                let terms = terms_of_set(conn, tenant_id, criteria, field, size).await?;
                out.insert(named.name.clone(), terms);
            }
            _ => single.push(named),
        }
    }
    if !single.is_empty() {
        let grouped = Grouped::new(&single);
        let rows = grouped.fetch(conn, tenant_id, criteria).await?;
        for (named, set) in single.iter().zip(&grouped.set_of) {
            let result = grouped.result(&named.aggregation, *set, &rows)?;
            out.insert(named.name.clone(), result);
        }
    }
    Ok(out)
}

/// What one grouping set groups by: SQL made of fixed column names and interval names only
/// (never a client's text), so the same expression can be written in SELECT and GROUP BY.
fn key_sql(agg: &Aggregation) -> String {
    match agg {
        Aggregation::Terms { field, .. } => format!("{}::text", column(*field)),
        Aggregation::Sum { by, .. } => format!("{}::text", column(*by)),
        Aggregation::Histogram { field, interval } => {
            let col = column(*field);
            match interval {
                // date_bin is arithmetic on the instant, a fraction of date_trunc's cost with
                // a time zone; from a Monday midnight UTC its days and weeks are UTC's
                Interval::Day => format!("date_bin('1 day', {col}, '{MONDAY}')"),
                Interval::Week => format!("date_bin('7 days', {col}, '{MONDAY}')"),
                Interval::Month => format!("date_trunc('month', {col}, 'UTC')"),
            }
        }
    }
}

/// A Monday, midnight UTC: where histogram days and weeks start.
const MONDAY: &str = "2000-01-03T00:00:00Z";

/// The single-valued aggregations of a search as one grouped statement: a grouping set per
/// distinct key (a `terms` and a `sum` by the same field share one), with the count and the
/// sum of `total_minor` (the one summable field) of each group.
struct Grouped {
    /// Distinct key expressions, in select order.
    keys: Vec<String>,
    /// For each aggregation, the index of its key in `keys`.
    set_of: Vec<usize>,
}

impl Grouped {
    fn new(aggs: &[&NamedAggregation]) -> Self {
        let mut keys: Vec<String> = Vec::new();
        let set_of = aggs
            .iter()
            .map(|a| {
                let key = key_sql(&a.aggregation);
                keys.iter().position(|k| *k == key).unwrap_or_else(|| {
                    keys.push(key);
                    keys.len() - 1
                })
            })
            .collect();
        Grouped { keys, set_of }
    }

    /// `SELECT GROUPING(k0, k1, …) AS g, k0, k1, …, count, sum … GROUP BY GROUPING SETS
    /// ((k0), (k1), …)`: a row of set `i` is grouped by `k_i` and has every other key NULL.
    async fn fetch(
        &self,
        conn: &mut PgConnection,
        tenant_id: &TenantId,
        criteria: &Criteria,
    ) -> sqlx::Result<Vec<PgRow>> {
        let keys = self.keys.join(", ");
        let sets: Vec<String> = self.keys.iter().map(|k| format!("({k})")).collect();
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT GROUPING({keys}) AS g, {keys}, count(*) AS count, \
             coalesce(sum({total}), 0)::bigint AS sum FROM order_views v WHERE ",
            total = column(Field::TotalMinor),
        ));
        push_criteria(&mut qb, tenant_id, criteria);
        qb.push(format_args!(
            " GROUP BY GROUPING SETS ({})",
            sets.join(", ")
        ));
        qb.build().persistent(false).fetch_all(conn).await
    }

    /// `agg`'s answer from the rows of grouping set `set`. In `GROUPING(k0, …, kn)` a key's
    /// bit (k0 the highest) is 1 when the row is not grouped by it: set `i`'s rows have every
    /// bit set but key `i`'s.
    fn result(
        &self,
        agg: &Aggregation,
        set: usize,
        rows: &[PgRow],
    ) -> sqlx::Result<AggregationResult> {
        let n = self.keys.len();
        let want = ((1i32 << n) - 1) & !(1i32 << (n - 1 - set));
        let key = 1 + set; // column 0 is `g`, the keys follow
        let mut groups = Vec::new();
        for row in rows {
            if row.try_get::<i32, _>("g")? == want {
                groups.push((row, row.try_get::<i64, _>("count")?));
            }
        }
        Ok(match agg {
            Aggregation::Terms { size, .. } => {
                let buckets = groups
                    .into_iter()
                    .map(|(row, count)| {
                        Ok(TermBucket {
                            key: row.try_get(key)?,
                            count,
                        })
                    })
                    .collect::<sqlx::Result<_>>()?;
                top_terms(buckets, *size)
            }
            Aggregation::Sum { .. } => {
                let mut buckets = groups
                    .into_iter()
                    .map(|(row, count)| {
                        let (key, sum) = (row.try_get(key)?, row.try_get("sum")?);
                        Ok(SumBucket { key, sum, count })
                    })
                    .collect::<sqlx::Result<Vec<SumBucket>>>()?;
                buckets.sort_by(|a, b| a.key.cmp(&b.key));
                AggregationResult::Sum(SumResult { buckets })
            }
            Aggregation::Histogram { .. } => {
                let mut buckets = groups
                    .into_iter()
                    .map(|(row, count)| {
                        Ok(DateBucket {
                            key: row.try_get(key)?,
                            count,
                        })
                    })
                    .collect::<sqlx::Result<Vec<DateBucket>>>()?;
                buckets.sort_by_key(|b| b.key);
                AggregationResult::Histogram(HistogramResult { buckets })
            }
        })
    }
}

/// The `size` most frequent of every bucket of a `terms` (ties by value, "no value" last),
/// and what the others count.
fn top_terms(mut buckets: Vec<TermBucket>, size: u32) -> AggregationResult {
    let total: i64 = buckets.iter().map(|b| b.count).sum();
    buckets.sort_by(|a, b| {
        (b.count.cmp(&a.count))
            .then(a.key.is_none().cmp(&b.key.is_none()))
            .then(a.key.cmp(&b.key))
    });
    buckets.truncate(size as usize);
    let shown: i64 = buckets.iter().map(|b| b.count).sum();
    AggregationResult::Terms(TermsResult {
        buckets,
        other_count: total - shown,
    })
}

/// A `terms` of a set-valued field: each element of each matching order's set counts.
async fn terms_of_set(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    criteria: &Criteria,
    field: Field,
    size: u32,
) -> sqlx::Result<AggregationResult> {
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT t.key, count(*) AS count FROM order_views v \
         CROSS JOIN LATERAL jsonb_array_elements_text({}) AS t(key) WHERE ",
        column(field)
    ));
    push_criteria(&mut qb, tenant_id, criteria);
    qb.push(" GROUP BY 1");
    let rows: Vec<(Option<String>, i64)> = qb
        .build_query_as()
        .persistent(false)
        .fetch_all(conn)
        .await?;
    let buckets = rows
        .into_iter()
        .map(|(key, count)| TermBucket { key, count })
        .collect();
    Ok(top_terms(buckets, size))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::{Search, SearchRequest};

    fn grouped(aggs: serde_json::Value) -> Grouped {
        let req: SearchRequest =
            serde_json::from_value(serde_json::json!({ "aggregations": aggs })).unwrap();
        let search = Search::parse(&req).unwrap();
        let aggs: Vec<&NamedAggregation> = search.aggregations.iter().collect();
        Grouped::new(&aggs)
    }

    #[test]
    fn aggregations_by_the_same_key_share_a_grouping_set() {
        // named in alphabetical order: by_currency, by_status, per_day, revenue
        let g = grouped(serde_json::json!({
            "by_status": {"terms": "status"},
            "by_currency": {"terms": "currency"},
            "revenue": {"sum": "total_minor", "by": "currency"},
            "per_day": {"histogram": "placed_at", "interval": "day"}
        }));
        assert_eq!(
            g.keys,
            [
                "v.currency::text",
                "v.status::text",
                "date_bin('1 day', v.placed_at, '2000-01-03T00:00:00Z')"
            ]
        );
        assert_eq!(g.set_of, [0, 1, 2, 0]);
    }

    #[test]
    fn terms_keep_the_most_frequent_and_count_the_rest() {
        let b = |key: Option<&str>, count| TermBucket {
            key: key.map(str::to_string),
            count,
        };
        let all = vec![
            b(Some("c"), 2),
            b(None, 5),
            b(Some("a"), 5),
            b(Some("b"), 1),
        ];
        let AggregationResult::Terms(t) = top_terms(all, 2) else {
            panic!("terms")
        };
        let keys: Vec<_> = t.buckets.iter().map(|b| b.key.as_deref()).collect();
        assert_eq!(keys, [Some("a"), None]);
        assert_eq!(t.other_count, 3);
    }
}
