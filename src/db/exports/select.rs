//! The rows of an export, part by part, with the search language's WHERE clause
//! ([`push_criteria`]; no value a client gave is ever in the SQL text). CSV comes straight
//! from PostgreSQL's `COPY … TO STDOUT`: COPY takes no bound values, so the clause's values
//! are passed as transaction-local settings (see [`copy_rows`]); one COPY fills every part
//! still to write, or two COPYs under one snapshot fill half of them each, as CSV or, for
//! NDJSON and Parquet, binary. Parts follow the order id (keyset): part n+1 starts after
//! part n's last id.

use futures::stream::BoxStream;
use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Row};
use tracing::instrument::WithSubscriber;

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

/// Whether the column holds text a customer or an upstream system chose freely, which a
/// spreadsheet could take for a formula. Not the order id (letters, digits, `_-.:`: no
/// formula to run, and the keyset reads it as written), nor the values orderdesk sets
/// itself (statuses, currency, fraud state), numbers or timestamps.
fn free_text(c: Column) -> bool {
    matches!(
        c,
        Column::Number | Column::CustomerId | Column::Email | Column::Channel | Column::ExternalRef
    )
}

/// The column as CSV writes it: timestamps as RFC 3339 in UTC with microseconds, whatever
/// the session's time zone and date style; free text that starts with `=`, `+`, `-`, `@`,
/// a tab or a carriage return behind a single quote, so that a spreadsheet shows it rather
/// than running it as a formula (CSV injection).
fn csv_expr(c: Column) -> String {
    match c.kind() {
        ColumnType::Time => format!(
            "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
            expr(c)
        ),
        _ if free_text(c) => {
            let x = expr(c);
            format!(r"CASE WHEN {x} ~ '^[-=+@\t\r]' THEN '''' || {x} ELSE {x} END")
        }
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

/// How many of the tenant's orders `criteria` matches after the order id `after` (all of
/// them without it).
pub async fn count(
    conn: &mut PgConnection,
    tenant: &TenantId,
    criteria: &Criteria,
    after: Option<&str>,
) -> sqlx::Result<i64> {
    let mut qb = QueryBuilder::<Postgres>::new("SELECT count(*) FROM order_views v WHERE ");
    push_criteria(&mut qb, tenant, criteria);
    if let Some(after) = after {
        qb.push(" AND v.id > ").push_bind(after.to_string());
    }
    let row = qb.build().persistent(false).fetch_one(conn).await?;
    row.try_get(0)
}

/// A connection in the read-only transaction of an export's COPY: the filter's values are
/// settings local to it (see [`copy_rows`]). Repeatable read, so that its count and its
/// COPY see the same rows, and so do the COPY of a second connection that takes its
/// snapshot ([`export_snapshot`], [`join_copy`]). End it with [`end_copy`]; a COPY given up
/// before its end leaves the connection mid-protocol, so the caller closes it when done
/// (`close_on_drop`).
pub async fn begin_copy(pool: &PgPool) -> sqlx::Result<PoolConnection<Postgres>> {
    let mut conn = pool.acquire().await?;
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut *conn)
        .await?;
    Ok(conn)
}

/// The snapshot of a transaction of [`begin_copy`], for [`join_copy`]: its first statement,
/// which takes the snapshot. It stays importable while that transaction is open.
pub async fn export_snapshot(conn: &mut PgConnection) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(conn)
        .await
}

/// A second connection for an export's COPY, in a transaction that sees exactly what the
/// one that exported `snapshot` sees: two COPYs of one export split its rows between them
/// with none missed or written twice.
pub async fn join_copy(pool: &PgPool, snapshot: &str) -> sqlx::Result<PoolConnection<Postgres>> {
    // SET TRANSACTION SNAPSHOT takes a literal only; PostgreSQL's snapshot names are hex
    // digits and dashes, and nothing else is let into the statement
    if snapshot.is_empty() || !snapshot.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return Err(sqlx::Error::Protocol(format!(
            "not a snapshot name: {snapshot:?}"
        )));
    }
    let mut conn = begin_copy(pool).await?;
    sqlx::query(&format!("SET TRANSACTION SNAPSHOT '{snapshot}'"))
        .persistent(false)
        .execute(&mut *conn)
        .await?;
    Ok(conn)
}

/// Ends the transaction of [`begin_copy`] once its COPY was read to the end.
pub async fn end_copy(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("COMMIT").execute(conn).await?;
    Ok(())
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

/// The export's rows from PostgreSQL's COPY, the filter in it: the matching orders after
/// `after` (or the `slice` of them), in order id order, in one statement (one scan, as
/// `psql \copy` makes it, however many parts the rows fill). Each row comes as one message and starts with its order id:
/// where a part ends is known as its rows go by, with no query of its own. As CSV (RFC
/// 4180, no header: see [`csv_header`]; [`split_keyset`] reads the id, and takes it off
/// unless the row's own first column is the id: [`csv_led_by_id`]), or binary with
/// each column cast to its type (text, int8, timestamptz; `exports::rows` decodes them).
pub async fn copy_rows<'c>(
    tx: &'c mut PgConnection,
    rows: CopyRows<'_>,
) -> sqlx::Result<BoxStream<'c, sqlx::Result<bytes::Bytes>>> {
    let mut where_ = Settings::default();
    push_after(&mut where_, &rows);
    let limit = match rows.slice {
        Slice::All | Slice::AfterFirst(..=0) => String::new(),
        Slice::First(n) => format!(" LIMIT {n}"),
        Slice::AfterFirst(n) => {
            // the id the first n rows end at, found by the COPY itself (one statement, so
            // one pass of the planner, and no round trip before its first row)
            where_.push_sql(" AND v.id > (SELECT v.id FROM order_views v WHERE ");
            push_after(&mut where_, &rows);
            where_.push_sql(&format!(" ORDER BY v.id OFFSET {} LIMIT 1)", n - 1));
            String::new()
        }
    };
    let mut names: Vec<String> = (1..=where_.values.len())
        .map(|n| format!("orderdesk.export_arg_{n}"))
        .collect();
    // The plan, for this transaction: pages costed as the cached or solid-state pages they
    // are, so that rows the primary key keeps in order come through its index from the
    // first one, where the default cost of a random page sorted a million first (~1 s
    // before the first row); and no JIT, whose compilation at the start bought nothing on
    // a dozen columns. A million-order binary COPY, psql, alternating: 1.11 s, against
    // 1.33 s with the default plan (2026-12-02).
    names.extend(["random_page_cost".into(), "jit".into()]);
    let mut values = where_.values.clone();
    values.extend(["1.1".into(), "off".into()]);
    sqlx::query(
        "SELECT count(set_config(k, v, true)) FROM unnest($1::text[], $2::text[]) AS s(k, v)",
    )
    .bind(&names)
    .bind(&values)
    .execute(&mut *tx)
    .await?;
    let (select, format) = match rows.binary {
        false => (csv_select_list(rows.columns), "csv"),
        true => (binary_select_list(rows.columns), "binary"),
    };
    let keyset = match !rows.binary && csv_led_by_id(rows.columns) {
        true => "",
        false => "v.id AS keyset_id, ",
    };
    let sql = format!(
        "COPY (SELECT {keyset}{select} FROM order_views v WHERE {} ORDER BY v.id{limit}) \
         TO STDOUT WITH (FORMAT {format})",
        where_.sql,
    );
    // sqlx's stream enters the span that was current when it was made, and leaves it, at
    // every row; made where no subscriber sees a current span, a million rows no longer
    // spend a fifth of the worker's CPU in the tracing registry (perf of a Parquet export,
    // 2026-12-02). Its errors still reach the step, which logs them in its own span.
    tx.copy_out_raw(&sql)
        .with_subscriber(tracing::subscriber::NoSubscriber::default())
        .await
}

/// The filter's criteria and the keyset's lower bound (`after`), as [`Settings`].
fn push_after(where_: &mut Settings, rows: &CopyRows<'_>) {
    push_criteria(where_, rows.tenant, rows.criteria);
    where_.push_sql(" AND v.id > ");
    where_.push_value(Operand::Text(rows.after.unwrap_or("").to_string()));
}

/// The SELECT list of a binary COPY of `columns`: each cast to the type it is decoded as.
fn binary_select_list(columns: &[Column]) -> String {
    let select: Vec<String> = columns
        .iter()
        .map(|c| {
            let t = match c.kind() {
                ColumnType::Int => "int8",
                ColumnType::Time => "timestamptz",
                ColumnType::Text | ColumnType::Keyword => "text",
            };
            format!("{}::{t} AS {}", expr(*c), c.name())
        })
        .collect();
    select.join(", ")
}

/// What [`copy_rows`] writes.
pub struct CopyRows<'a> {
    pub tenant: &'a TenantId,
    pub criteria: &'a Criteria,
    pub columns: &'a [Column],
    pub after: Option<&'a str>,
    /// Binary (for NDJSON and Parquet), or else CSV.
    pub binary: bool,
    pub slice: Slice,
}

/// Which of the rows after `after` a COPY writes: two COPYs under one snapshot
/// ([`join_copy`]) split them, `First(n)` and `AfterFirst(n)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slice {
    All,
    First(i64),
    AfterFirst(i64),
}

/// The header line of a CSV export of `columns` (what COPY's `HEADER` writes: the names
/// need no quoting).
pub fn csv_header(columns: &[Column]) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.name()).collect();
    format!("{}\n", names.join(","))
}

/// Whether a CSV export's rows start with the order id already (its first column is `id`,
/// as in the default columns): then [`copy_rows`] selects no id of its own ahead of the row,
/// and the row is written whole. PostgreSQL formats a tenth fewer bytes, and the
/// order id is read where it is anyway.
pub fn csv_led_by_id(columns: &[Column]) -> bool {
    columns.first() == Some(&Column::Id)
}

/// A CSV row of [`copy_rows`] split into its order id (its first field) and the rest of the
/// row after that field's comma (the row as the export writes it, unless [`csv_led_by_id`];
/// empty when the id is the row's only field); `None` when the message is not one whole row
/// led by an id.
pub fn split_keyset(row: &[u8]) -> Option<(String, &[u8])> {
    let line = row.strip_suffix(b"\n")?;
    if let Some(quoted) = line.strip_prefix(b"\"") {
        // a quoted field ends at a quote not doubled; doubled quotes are one
        let mut id = Vec::new();
        let mut i = 0;
        while i < quoted.len() {
            match (quoted[i], quoted.get(i + 1)) {
                (b'"', Some(b'"')) => {
                    id.push(b'"');
                    i += 2;
                }
                (b'"', Some(b',')) => {
                    // the row goes on after the opening quote, the closing one and the comma
                    return Some((String::from_utf8(id).ok()?, &row[i + 3..]));
                }
                (b'"', None) => return Some((String::from_utf8(id).ok()?, &[])),
                (b'"', _) => return None,
                (b, _) => {
                    id.push(b);
                    i += 1;
                }
            }
        }
        return None;
    }
    let (id, rest) = match line.iter().position(|&b| b == b',') {
        Some(comma) => (&line[..comma], &row[comma + 1..]),
        None => (line, &[][..]),
    };
    Some((std::str::from_utf8(id).ok()?.to_string(), rest))
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
    fn a_copy_row_splits_into_its_order_id_and_the_exported_row() {
        let (id, rest) = split_keyset(b"ord_1,ord_1,\"a,\"\"b\"\"\"\n").unwrap();
        assert_eq!(
            (id.as_str(), rest),
            ("ord_1", &b"ord_1,\"a,\"\"b\"\"\"\n"[..])
        );
        let (id, rest) = split_keyset(b"\"o,\"\"d\"\"\",x\n").unwrap();
        assert_eq!((id.as_str(), rest), ("o,\"d\"", &b"x\n"[..]));
        // a quoted id with a line break in it is still one row
        let (id, _) = split_keyset(b"\"a\nb\",x\n").unwrap();
        assert_eq!(id, "a\nb");
        // the id alone (an export of the id column only)
        assert_eq!(split_keyset(b"ord_1\n"), Some(("ord_1".into(), &b""[..])));
        assert_eq!(
            split_keyset(b"\"o,\"\"d\"\"\"\n"),
            Some(("o,\"d\"".into(), &b""[..]))
        );
        for bad in [
            &b"ord_1,x"[..],
            b"\"unterminated,x\n",
            b"\"unterminated\n",
            b"\"a\"b,x\n",
        ] {
            assert_eq!(
                split_keyset(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn csv_neutralises_free_text_only() {
        assert_eq!(
            csv_expr(Column::Email),
            r"CASE WHEN v.email ~ '^[-=+@\t\r]' THEN '''' || v.email ELSE v.email END"
        );
        for c in [
            Column::Id,
            Column::TotalMinor,
            Column::Status,
            Column::Currency,
        ] {
            assert_eq!(csv_expr(c), expr(c), "{c:?}");
        }
        assert!(csv_expr(Column::PlacedAt).starts_with("to_char("));
    }

    #[test]
    fn the_csv_header_names_the_columns_in_order() {
        assert_eq!(
            csv_header(&[Column::Id, Column::TotalMinor]),
            "id,total_minor\n"
        );
    }

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
