//! One page of a search: the matching orders' summaries in the search's order, after the
//! cursor's position (keyset pagination: no OFFSET, so page 1,000 costs what page 1 does).

use crate::domain::ids::TenantId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::criteria::{column, push_criteria};
use crate::domain::search::{Direction, Field, Position, Search, SortValue};

/// An order as a search lists it: its header, not its document.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct OrderSummary {
    pub id: String,
    pub number: String,
    pub customer_id: String,
    /// The shipping address's name.
    pub customer_name: Option<String>,
    pub email: String,
    /// `domain::order::OrderStatus`, snake_case.
    pub status: String,
    /// The newest payment's status.
    pub payment_status: Option<String>,
    /// `unfulfilled`, `partial`, or the least advanced status of its shipments.
    pub fulfillment_status: String,
    pub channel: Option<String>,
    pub external_ref: Option<String>,
    #[sqlx(json)]
    pub tags: Vec<String>,
    pub currency: String,
    pub total_minor: i64,
    pub placed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub on_hold: bool,
    /// `review`, `cleared` or `confirmed`; absent when never flagged.
    pub fraud_state: Option<String>,
}

const SUMMARY_COLUMNS: &str = "v.id, v.number, v.customer_id, v.customer_name, v.email, v.status, \
     v.payment_status, v.fulfillment_status, v.channel, v.external_ref, v.tags, v.currency, \
     v.total_minor, v.placed_at, v.updated_at, v.on_hold, v.fraud_state";

/// A page and where the next one starts (`None` on the last page).
#[derive(Debug, Clone)]
pub struct Page {
    pub orders: Vec<OrderSummary>,
    pub next: Option<Position>,
}

/// The page of `search` in `tenant_id`.
pub async fn page(
    conn: &mut PgConnection,
    tenant_id: &TenantId,
    search: &Search,
) -> sqlx::Result<Page> {
    let mut qb = QueryBuilder::new(format!(
        "SELECT {SUMMARY_COLUMNS} FROM order_views v WHERE "
    ));
    push_criteria(&mut qb, tenant_id, &search.criteria);
    if let Some(after) = &search.after {
        qb.push(" AND ");
        push_after(&mut qb, search, after);
    }
    qb.push(" ORDER BY ");
    for key in &search.sort {
        qb.push(format_args!("{} {}, ", column(key.field), sql_dir(key.dir)));
    }
    qb.push(format_args!("v.id {} LIMIT ", sql_dir(search.tiebreak())))
        .push_bind(i64::from(search.limit) + 1);
    let mut orders: Vec<OrderSummary> = qb
        .build_query_as()
        .persistent(false)
        .fetch_all(conn)
        .await?;
    let next = if orders.len() > search.limit as usize {
        orders.truncate(search.limit as usize);
        orders.last().map(|last| position_of(last, search))
    } else {
        None
    };
    Ok(Page { orders, next })
}

/// Only orders after `after` in the search's order. With one direction throughout this is
/// a row comparison an index on the keys can seek to; with mixed directions, its expansion
/// `k1 > a1 OR (k1 = a1 AND (k2 < a2 OR (k2 = a2 AND id > a_id)))`.
fn push_after(qb: &mut QueryBuilder<'_, Postgres>, search: &Search, after: &Position) {
    let tiebreak = search.tiebreak();
    let keys: Vec<(&str, Direction)> = search
        .sort
        .iter()
        .map(|k| (column(k.field), k.dir))
        .collect();
    if keys.iter().all(|(_, dir)| *dir == tiebreak) {
        let cols: Vec<&str> = keys.iter().map(|(col, _)| *col).collect();
        qb.push(format_args!(
            "({}, v.id) {} (",
            cols.join(", "),
            beyond(tiebreak)
        ));
        for value in &after.values {
            push_sort_value(qb, value);
            qb.push(", ");
        }
        qb.push_bind(after.id.clone()).push(")");
        return;
    }
    qb.push("(");
    for ((col, dir), value) in keys.iter().zip(&after.values) {
        qb.push(format_args!("{col} {} ", beyond(*dir)));
        push_sort_value(qb, value);
        qb.push(format_args!(" OR ({col} = "));
        push_sort_value(qb, value);
        qb.push(" AND (");
    }
    qb.push(format_args!("v.id {} ", beyond(tiebreak)))
        .push_bind(after.id.clone());
    qb.push(")".repeat(2 * keys.len() + 1));
}

fn push_sort_value(qb: &mut QueryBuilder<'_, Postgres>, value: &SortValue) {
    match value {
        SortValue::Int(n) => qb.push_bind(*n),
        SortValue::Time(t) => qb.push_bind(*t),
    };
}

fn sql_dir(dir: Direction) -> &'static str {
    match dir {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    }
}

/// The comparison that means "comes after" in `dir`.
fn beyond(dir: Direction) -> &'static str {
    match dir {
        Direction::Asc => ">",
        Direction::Desc => "<",
    }
}

/// Where `order` stands in the search's order.
fn position_of(order: &OrderSummary, search: &Search) -> Position {
    let values = search
        .sort
        .iter()
        .map(|key| match key.field {
            Field::TotalMinor => SortValue::Int(order.total_minor),
            Field::UpdatedAt => SortValue::Time(order.updated_at),
            // the sortable fields are placed_at, updated_at and total_minor
            _ => SortValue::Time(order.placed_at),
        })
        .collect();
    Position {
        values,
        id: order.id.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::SearchRequest;

    fn search_after(sort: serde_json::Value, values: Vec<SortValue>) -> Search {
        let req: SearchRequest =
            serde_json::from_value(serde_json::json!({ "sort": sort })).unwrap();
        let mut s = Search::parse(&req).unwrap();
        s.after = Some(Position {
            values,
            id: "ord_9".into(),
        });
        s
    }

    fn after_sql(s: &Search) -> String {
        let mut qb = QueryBuilder::new("");
        push_after(&mut qb, s, s.after.as_ref().unwrap());
        qb.into_sql()
    }

    #[test]
    fn one_direction_is_a_row_comparison() {
        let s = search_after(
            serde_json::json!([{"field": "placed_at", "dir": "desc"}]),
            vec![SortValue::Time(Utc::now())],
        );
        assert_eq!(after_sql(&s), "(v.placed_at, v.id) < ($1, $2)");
    }

    #[test]
    fn mixed_directions_expand_key_by_key() {
        let s = search_after(
            serde_json::json!([{"field": "total_minor", "dir": "desc"}, {"field": "placed_at"}]),
            vec![SortValue::Int(5), SortValue::Time(Utc::now())],
        );
        assert_eq!(
            after_sql(&s),
            "(v.total_minor < $1 OR (v.total_minor = $2 AND (v.placed_at > $3 OR \
             (v.placed_at = $4 AND (v.id > $5)))))"
        );
    }
}
