//! Which orders a search matches, as a WHERE clause: the tenant always, then the filter and
//! the full text. Column names come from a fixed table ([`column`]); every value a client
//! gave is a bound parameter.

use crate::domain::ids::TenantId;
use sqlx::{Postgres, QueryBuilder};

use crate::domain::search::{Condition, Criteria, Field, FieldKind, Filter, Op, Operand};

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
pub fn push_criteria(
    qb: &mut QueryBuilder<'_, Postgres>,
    tenant_id: &TenantId,
    criteria: &Criteria,
) {
    qb.push("v.tenant_id = ")
        .push_bind(tenant_id.as_str().to_string());
    if let Some(text) = &criteria.text {
        qb.push(" AND v.search_text @@ websearch_to_tsquery('simple', ")
            .push_bind(text.clone())
            .push(")");
    }
    if let Some(filter) = &criteria.filter {
        qb.push(" AND ");
        push_filter(qb, filter);
    }
}

fn push_filter(qb: &mut QueryBuilder<'_, Postgres>, filter: &Filter) {
    match filter {
        Filter::And(parts) | Filter::Or(parts) => {
            let joint = if matches!(filter, Filter::And(_)) {
                " AND "
            } else {
                " OR "
            };
            qb.push("(");
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    qb.push(joint);
                }
                push_filter(qb, part);
            }
            qb.push(")");
        }
        // an unknown (NULL) comparison is not a match, so its negation is one: `not channel
        // eq web` keeps the orders without a channel
        Filter::Not(inner) => {
            qb.push("(NOT coalesce(");
            push_filter(qb, inner);
            qb.push(", false))");
        }
        Filter::Condition(c) => push_condition(qb, c),
    }
}

fn push_condition(qb: &mut QueryBuilder<'_, Postgres>, c: &Condition) {
    let col = column(c.field);
    let is_set = c.field.kind() == FieldKind::KeywordSet;
    match (c.op, &c.value) {
        // sets are JSON arrays of strings (see the migration): `?` has the string, `?|` has
        // one of them; both served by their GIN index
        (Op::Exists, Operand::Bool(present)) if is_set => {
            let cmp = if *present { "<>" } else { "=" };
            qb.push(format_args!("{col} {cmp} '[]'::jsonb"));
        }
        (Op::Exists, Operand::Bool(present)) => {
            let not = if *present { " NOT" } else { "" };
            qb.push(format_args!("{col} IS{not} NULL"));
        }
        (Op::In, Operand::Texts(values)) if is_set => {
            qb.push(format_args!("{col} ?| ")).push_bind(values.clone());
        }
        (Op::In, Operand::Texts(values)) => {
            qb.push(format_args!("{col} = ANY("))
                .push_bind(values.clone())
                .push(")");
        }
        (Op::Contains, Operand::Text(value)) if is_set => {
            qb.push(format_args!("{col} ? ")).push_bind(value.clone());
        }
        (Op::Contains, Operand::Text(value)) => {
            qb.push(format_args!("{col} ILIKE "))
                .push_bind(format!("%{}%", escape_like(value)));
        }
        (op, value) => {
            let cmp = match op {
                Op::Gte => ">=",
                Op::Lte => "<=",
                Op::Gt => ">",
                Op::Lt => "<",
                _ => "=",
            };
            qb.push(format_args!("{col} {cmp} "));
            push_operand(qb, value);
        }
    }
}

fn push_operand(qb: &mut QueryBuilder<'_, Postgres>, value: &Operand) {
    match value {
        Operand::Text(s) => qb.push_bind(s.clone()),
        Operand::Texts(v) => qb.push_bind(v.clone()),
        Operand::Int(n) => qb.push_bind(*n),
        Operand::Time(t) => qb.push_bind(*t),
        Operand::Bool(b) => qb.push_bind(*b),
    };
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
        let mut qb = QueryBuilder::new("");
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
