//! Which orders a search matches, as a WHERE clause: the tenant always, then the filter and
//! the full text. Column names come from a fixed table ([`column`]); every value a client
//! gave is a bound parameter ([`CriteriaSink`]).

use crate::domain::ids::TenantId;
use sqlx::{Postgres, QueryBuilder};

use crate::domain::search::{Condition, Criteria, Field, FieldKind, Filter, Op, Operand};

/// Where the clause is written. A [`QueryBuilder`] binds each value as a parameter; a sink
/// for a statement that takes no parameters (`COPY`) may pass them another way that keeps
/// them out of the SQL text (see `db::exports::select`).
pub trait CriteriaSink {
    /// SQL made by this module only: column names, operators, placeholders.
    fn push_sql(&mut self, sql: &str);
    /// A value the client gave, typed.
    fn push_value(&mut self, value: Operand);
}

impl CriteriaSink for QueryBuilder<'_, Postgres> {
    fn push_sql(&mut self, sql: &str) {
        self.push(sql);
    }

    fn push_value(&mut self, value: Operand) {
        match value {
            Operand::Text(s) => self.push_bind(s),
            Operand::Texts(v) => self.push_bind(v),
            Operand::Int(n) => self.push_bind(n),
            Operand::Time(t) => self.push_bind(t),
            Operand::Bool(b) => self.push_bind(b),
        };
    }
}

/// The column (of `order_views v`) that holds `field`.
pub(super) fn column(field: Field) -> &'static str {
    match field {
        Field::Id => "v.id",
        Field::Number => "v.number",
        Field::CustomerId => "v.customer_id",
        Field::Email => "v.email",
        Field::Status => "v.status",
        Field::PaymentStatus => "v.payment_status",
        Field::FulfillmentStatus => "v.fulfillment_status",
        Field::ExternalRef => "v.external_ref",
        Field::Channel => "v.channel",
        Field::Currency => "v.currency",
        Field::TotalMinor => "v.total_minor",
        Field::PlacedAt => "v.placed_at",
        Field::UpdatedAt => "v.updated_at",
        Field::Tags => "v.tags",
        Field::Sku => "v.skus",
        Field::TrackingNumber => "v.tracking_numbers",
        Field::OnHold => "v.on_hold",
        Field::FraudState => "v.fraud_state",
    }
}

/// Appends the condition selecting the orders of `tenant_id` that `criteria` matches
/// (without `WHERE`). The query must read `order_views` as `v`. Bulk jobs and exports
/// select their orders with this too.
pub fn push_criteria(qb: &mut impl CriteriaSink, tenant_id: &TenantId, criteria: &Criteria) {
    qb.push_sql("v.tenant_id = ");
    qb.push_value(Operand::Text(tenant_id.as_str().to_string()));
    if let Some(text) = &criteria.text {
        qb.push_sql(" AND v.search_text @@ websearch_to_tsquery('simple', ");
        qb.push_value(Operand::Text(text.clone()));
        qb.push_sql(")");
    }
    if let Some(filter) = &criteria.filter {
        qb.push_sql(" AND ");
        push_filter(qb, filter);
    }
}

fn push_filter(qb: &mut impl CriteriaSink, filter: &Filter) {
    match filter {
        Filter::And(parts) | Filter::Or(parts) => {
            let joint = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            qb.push_sql("(");
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    qb.push_sql(joint);
                }
                push_filter(qb, part);
            }
            qb.push_sql(")");
        }
        // an unknown (NULL) comparison is not a match, so its negation is one: `not channel
        // eq web` keeps the orders without a channel
        Filter::Not(inner) => {
            qb.push_sql("(NOT coalesce(");
            push_filter(qb, inner);
            qb.push_sql(", false))");
        }
        Filter::Condition(c) => push_condition(qb, c),
    }
}

fn push_condition(qb: &mut impl CriteriaSink, c: &Condition) {
    let col = column(c.field);
    let is_set = c.field.kind() == FieldKind::KeywordSet;
    match (c.op, &c.value) {
        // sets are JSON arrays of strings (see the migration): `?` has the string, `?|` has
        // one of them; both served by their GIN index
        (Op::Exists, Operand::Bool(present)) if is_set => {
            let cmp = if *present { "<>" } else { "=" };
            qb.push_sql(&format!("{col} {cmp} '[]'::jsonb"));
        }
        (Op::Exists, Operand::Bool(present)) => {
            let not = if *present { " NOT" } else { "" };
            qb.push_sql(&format!("{col} IS{not} NULL"));
        }
        (Op::In, Operand::Texts(values)) if is_set => {
            qb.push_sql(&format!("{col} ?| "));
            qb.push_value(Operand::Texts(values.clone()));
        }
        (Op::In, Operand::Texts(values)) => {
            qb.push_sql(&format!("{col} = ANY("));
            qb.push_value(Operand::Texts(values.clone()));
            qb.push_sql(")");
        }
        (Op::Contains, Operand::Text(value)) if is_set => {
            qb.push_sql(&format!("{col} ? "));
            qb.push_value(Operand::Text(value.clone()));
        }
        (Op::Contains, Operand::Text(value)) => {
            qb.push_sql(&format!("{col} ILIKE "));
            qb.push_value(Operand::Text(format!("%{}%", escape_like(value))));
        }
        (op, value) => {
            let cmp = match op {
                Op::Gte => ">=",
                Op::Lte => "<=",
                Op::Gt => ">",
                Op::Lt => "<",
                _ => "=",
            };
            qb.push_sql(&format!("{col} {cmp} "));
            qb.push_value(value.clone());
        }
    }
}

/// `value` matched literally by LIKE: its `%`, `_` and `\` escaped.
fn escape_like(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::{Search, SearchRequest};

    fn sql_of(filter: serde_json::Value, text: Option<&str>) -> String {
        let req = SearchRequest {
            filter: Some(filter),
            text: text.map(str::to_string),
            ..SearchRequest::default()
        };
        let search = Search::parse(&req).unwrap();
        let mut qb = QueryBuilder::<Postgres>::new("");
        push_criteria(&mut qb, &TenantId::new("acme"), &search.criteria);
        qb.into_sql()
    }

    #[test]
    fn values_are_parameters_and_never_text_of_the_query() {
        let hostile = "x'); DROP TABLE order_views; --";
        let sql = sql_of(
            serde_json::json!({"or": [{"email": {"contains": hostile}},
                                      {"tags": {"contains": hostile}},
                                      {"channel": {"in": [hostile, "web"]}}]}),
            Some(hostile),
        );
        assert!(!sql.contains("DROP"), "{sql}");
        assert_eq!(
            sql,
            "v.tenant_id = $1 AND v.search_text @@ websearch_to_tsquery('simple', $2) AND \
             (v.email ILIKE $3 OR v.tags ? $4 OR v.channel = ANY($5))"
        );
    }

    #[test]
    fn not_keeps_unknown_values_and_exists_checks_presence() {
        let sql = sql_of(
            serde_json::json!({"and": [{"not": {"channel": {"eq": "web"}}},
                                       {"sku": {"exists": false}},
                                       {"fraud_state": {"exists": true}}]}),
            None,
        );
        assert_eq!(
            sql,
            "v.tenant_id = $1 AND ((NOT coalesce(v.channel = $2, false)) AND \
             v.skus = '[]'::jsonb AND v.fraud_state IS NOT NULL)"
        );
    }

    #[test]
    fn like_wildcards_in_a_value_are_literal() {
        assert_eq!(escape_like(r"50%_off\"), r"50\%\_off\\");
    }
}
