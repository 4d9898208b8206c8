//! The rows of an export, part by part, with the search language's WHERE clause
//! ([`push_criteria`]; no value a client gave is ever in the SQL text). CSV comes straight
//! from PostgreSQL's `COPY … TO STDOUT`: COPY takes no bound values, so the clause's values
//! are passed as transaction-local settings (see [`copy_csv`]) after a bound query found
//! where the part ends. NDJSON and Parquet read batches with a plain bound query. Parts and
//! batches follow the order id (keyset): part n+1 starts after part n's last id.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row, Transaction};

use crate::db::search::{CriteriaSink, push_criteria};
use crate::domain::exports::{Column, ColumnType};
use crate::domain::ids::TenantId;
use crate::domain::search::{Criteria, Operand};

/// The column's value as stored (`order_views v`).
fn expr(c: Column) -> &'static str {
    match c {
        Column::Id => "v.id",
        Column::Number => "v.number",
        Column::PlacedAt => "v.placed_at",
        Column::UpdatedAt => "v.updated_at",
        Column::Status => "v.status",
        Column::PaymentStatus => "v.payment_status",
        Column::FulfillmentStatus => "v.fulfillment_status",
        Column::Currency => "v.currency",
        Column::TotalMinor => "v.total_minor",
        Column::CustomerId => "v.customer_id",
        Column::Email => "v.email",
        Column::Channel => "v.channel",
        Column::ExternalRef => "v.external_ref",
        Column::FraudState => "v.fraud_state",
    }
}

/// The column as CSV writes it: timestamps as RFC 3339 in UTC with microseconds, whatever
/// the session's time zone and date style.
fn csv_expr(c: Column) -> String {
    match c.kind() {
        ColumnType::Time => format!(
            "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            expr(c)
        ),
        _ => expr(c).to_string(),
    }
}

/// The SELECT list of a CSV export of `columns` over `order_views v` (also what the bench's
/// `psql \\copy` peer selects, so both write the same bytes).
pub fn csv_select_list(columns: &[Column]) -> String {
    let select: Vec<String> = columns
        .iter()
        .map(|c| format!("{} AS {}", csv_expr(*c), c.name()))
        .collect();
    select.join(", ")
}

/// How many of the tenant's orders `criteria` matches.
pub async fn count(
    conn: &mut PgConnection,
    tenant: &TenantId,
    criteria: &Criteria,
) -> sqlx::Result<i64> {
    let mut qb = QueryBuilder::<Postgres>::new("SELECT count(*) FROM order_views v WHERE ");
    push_criteria(&mut qb, tenant, criteria);
    let row = qb.build().persistent(false).fetch_one(conn).await?;
    row.try_get(0)
}

/// Where a part ends ([`bound_part`], or the batches of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub rows: i64,
    /// The last order id of the part; `None` when it is empty.
    pub last_id: Option<String>,
    /// Whether a matching order follows the part.
    pub more: bool,
}

/// The transaction of one CSV part: REPEATABLE READ, so that [`bound_part`] and
/// [`copy_csv`] see the same orders.
pub async fn begin_part(pool: &PgPool) -> sqlx::Result<Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Where the next part ends: its rows, its last order id and whether more follow, read in
/// the part's transaction (REPEATABLE READ, so that the COPY after it sees the same orders).
pub async fn bound_part(
    tx: &mut PgConnection,
    tenant: &TenantId,
    criteria: &Criteria,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Selected> {
    // the part's last order and the next part's first, if there are that many
    let mut qb = QueryBuilder::<Postgres>::new("SELECT v.id FROM order_views v WHERE ");
    push_criteria(&mut qb, tenant, criteria);
    qb.push(" AND v.id > ")
        .push_bind(after.unwrap_or("").to_string())
        .push(" ORDER BY v.id LIMIT 2 OFFSET ")
        .push_bind(limit - 1);
    let ends: Vec<String> = qb
        .build_query_scalar()
        .persistent(false)
        .fetch_all(&mut *tx)
        .await?;
    if let Some(last) = ends.first() {
        return Ok(Selected {
            rows: limit,
            last_id: Some(last.clone()),
            more: ends.len() > 1,
        });
    }
    // fewer than a part's worth: the last part
    let mut qb =
        QueryBuilder::<Postgres>::new("SELECT count(*), max(v.id) FROM order_views v WHERE ");
    push_criteria(&mut qb, tenant, criteria);
    qb.push(" AND v.id > ")
        .push_bind(after.unwrap_or("").to_string());
    let row = qb.build().persistent(false).fetch_one(&mut *tx).await?;
    Ok(Selected {
        rows: row.try_get(0)?,
        last_id: row.try_get(1)?,
        more: false,
    })
}

/// The criteria for a statement that takes no bound values (COPY): each value becomes a
/// transaction-local setting `orderdesk.export_arg_N`, set by `set_config` with bound values,
/// and the SQL reads it back with `current_setting` cast to the value's type. A value never
/// enters the SQL text.
#[derive(Default)]
struct Settings {
    sql: String,
    values: Vec<String>,
}

impl CriteriaSink for Settings {
    fn push_sql(&mut self, sql: &str) {
        self.sql.push_str(sql);
    }

    fn push_value(&mut self, value: Operand) {
        let get = format!(
            "current_setting('orderdesk.export_arg_{}')",
            self.values.len() + 1
        );
        let (text, expr) = match value {
            Operand::Text(s) => (s, get),
            Operand::Texts(v) => (
                serde_json::Value::from(v).to_string(),
                format!("ARRAY(SELECT jsonb_array_elements_text({get}::jsonb))"),
            ),
            Operand::Int(n) => (n.to_string(), format!("{get}::bigint")),
            Operand::Time(t) => (t.to_rfc3339(), format!("{get}::timestamptz")),
            Operand::Bool(b) => (b.to_string(), format!("{get}::boolean")),
        };
        self.sql.push('(');
        self.sql.push_str(&expr);
        self.sql.push(')');
        self.values.push(text);
    }
}

/// The part's rows as CSV (RFC 4180, a header line when `header`), straight from
/// PostgreSQL's COPY with the filter in it, in order id order: the matching orders after
/// `after`, up to `selected`'s last one.
pub async fn copy_csv<'c>(
    tx: &'c mut PgConnection,
    part: CsvPart<'_>,
) -> sqlx::Result<BoxStream<'c, sqlx::Result<bytes::Bytes>>> {
    let mut where_ = Settings::default();
    push_criteria(&mut where_, part.tenant, part.criteria);
    where_.push_sql(" AND v.id > ");
    where_.push_value(Operand::Text(part.after.unwrap_or("").to_string()));
    if let Some(last) = part.last_id {
        where_.push_sql(" AND v.id <= ");
        where_.push_value(Operand::Text(last.to_string()));
    }
    let names: Vec<String> = (1..=where_.values.len())
        .map(|n| format!("orderdesk.export_arg_{n}"))
        .collect();
    sqlx::query(
        "SELECT count(set_config(k, v, true)) FROM unnest($1::text[], $2::text[]) AS s(k, v)",
    )
    .bind(&names)
    .bind(&where_.values)
    .execute(&mut *tx)
    .await?;
    let sql = format!(
        "COPY (SELECT {} FROM order_views v WHERE {} ORDER BY v.id) \
         TO STDOUT WITH (FORMAT csv, HEADER {})",
        csv_select_list(part.columns),
        where_.sql,
        part.header
    );
    tx.copy_out_raw(&sql).await
}

/// What [`copy_csv`] writes.
pub struct CsvPart<'a> {
    pub tenant: &'a TenantId,
    pub criteria: &'a Criteria,
    pub columns: &'a [Column],
    pub after: Option<&'a str>,
    /// The part's last order id; `None`: an empty part (a header only, in part 1).
    pub last_id: Option<&'a str>,
    pub header: bool,
}

/// One column of a batch of rows, typed.
#[derive(Debug, Clone, PartialEq)]
pub enum Cells {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
    Time(Vec<Option<DateTime<Utc>>>),
}

impl Cells {
    fn for_column(c: Column, capacity: usize) -> Cells {
        match c.kind() {
            ColumnType::Int => Cells::Int(Vec::with_capacity(capacity)),
            ColumnType::Time => Cells::Time(Vec::with_capacity(capacity)),
            ColumnType::Text | ColumnType::Keyword => Cells::Text(Vec::with_capacity(capacity)),
        }
    }
}

/// A batch of rows, column by column, for NDJSON and Parquet.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub rows: usize,
    pub columns: Vec<Cells>,
    /// The batch's last order id; the next batch starts after it.
    pub last_id: Option<String>,
}

/// Up to `limit` matching orders after the order id `after`, in id order: a plain query
/// with bound values, read batch by batch so that no part is held whole.
pub async fn fetch_batch(
    conn: &mut PgConnection,
    tenant: &TenantId,
    criteria: &Criteria,
    columns: &[Column],
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Batch> {
    let select: Vec<&str> = columns.iter().map(|c| expr(*c)).collect();
    let mut qb = QueryBuilder::<Postgres>::new(format!(
        "SELECT {}, v.id AS keyset_id FROM order_views v WHERE ",
        select.join(", ")
    ));
    push_criteria(&mut qb, tenant, criteria);
    qb.push(" AND v.id > ")
        .push_bind(after.unwrap_or("").to_string())
        .push(" ORDER BY v.id LIMIT ")
        .push_bind(limit);
    let rows = qb.build().persistent(false).fetch_all(conn).await?;
    let mut out: Vec<Cells> = columns
        .iter()
        .map(|c| Cells::for_column(*c, rows.len()))
        .collect();
    for row in &rows {
        for (i, cells) in out.iter_mut().enumerate() {
            match cells {
                Cells::Text(v) => v.push(row.try_get(i)?),
                Cells::Int(v) => v.push(row.try_get(i)?),
                Cells::Time(v) => v.push(row.try_get(i)?),
            }
        }
    }
    let last_id = match rows.last() {
        Some(r) => Some(r.try_get::<String, _>(columns.len())?),
        None => None,
    };
    Ok(Batch {
        rows: rows.len(),
        columns: out,
        last_id,
    })
}

/// Whether a matching order follows the order id `after`.
pub async fn more_after(
    conn: &mut PgConnection,
    tenant: &TenantId,
    criteria: &Criteria,
    after: &str,
) -> sqlx::Result<bool> {
    let mut qb = QueryBuilder::<Postgres>::new("SELECT EXISTS (SELECT 1 FROM order_views v WHERE ");
    push_criteria(&mut qb, tenant, criteria);
    qb.push(" AND v.id > ")
        .push_bind(after.to_string())
        .push(")");
    let row = qb.build().persistent(false).fetch_one(conn).await?;
    row.try_get(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::{Search, SearchRequest};

    #[test]
    fn copy_criteria_carry_values_as_settings_never_as_sql_text() {
        let hostile = "x'); DROP TABLE order_views; --";
        let req = SearchRequest {
            filter: Some(serde_json::json!({"and": [
                {"email": {"contains": hostile}},
                {"channel": {"in": [hostile, "web"]}},
                {"total_minor": {"gte": 100}},
                {"on_hold": {"eq": true}}
            ]})),
            text: Some(hostile.into()),
            ..SearchRequest::default()
        };
        let search = Search::parse(&req).unwrap();
        let mut s = Settings::default();
        push_criteria(&mut s, &TenantId::new("acme"), &search.criteria);
        assert!(!s.sql.contains("DROP"), "{}", s.sql);
        assert!(
            s.sql
                .contains("(current_setting('orderdesk.export_arg_1'))")
        );
        assert!(s.sql.contains(
            "ARRAY(SELECT jsonb_array_elements_text(current_setting('orderdesk.export_arg_4')::jsonb))"
        ), "{}", s.sql);
        assert!(
            s.sql
                .contains("current_setting('orderdesk.export_arg_5')::bigint")
        );
        assert_eq!(s.values[0], "acme");
        assert_eq!(s.values[1], hostile);
        assert_eq!(s.values[3], serde_json::json!([hostile, "web"]).to_string());
        assert_eq!(s.values.len(), 6);
    }
}
