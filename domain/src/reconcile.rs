//! The read model against what the Orders service says now: which fields of the order
//! document differ, and whether orderdesk's copy is behind or ahead of it.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::order::Order;

/// Where the read model's `version` stands against the upstream's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionStanding {
    InSync,
    /// An upstream change has not reached the read model (yet).
    Behind,
    /// The read model holds a version the upstream does not: the upstream lost a change or
    /// answered from a stale replica.
    Ahead,
}

/// One top-level field of the order document that differs; `null` where a side lacks it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Difference {
    pub field: String,
    #[schema(value_type = Object)]
    pub read_model: Value,
    #[schema(value_type = Object)]
    pub upstream: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Comparison {
    pub read_model_version: i64,
    pub upstream_version: i64,
    pub version: VersionStanding,
    /// Empty when both documents are the same, in field name order.
    pub differences: Vec<Difference>,
}

/// Compares the documents field by field.
pub fn compare(read_model: &Order, upstream: &Order) -> Comparison {
    let (ours, theirs) = (fields(read_model), fields(upstream));
    let mut names: Vec<&String> = ours.keys().chain(theirs.keys()).collect();
    names.sort();
    names.dedup();
    let differences = names
        .into_iter()
        .filter_map(|name| {
            let (a, b) = (ours.get(name), theirs.get(name));
            (a != b).then(|| Difference {
                field: name.clone(),
                read_model: a.cloned().unwrap_or(Value::Null),
                upstream: b.cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let version = match read_model.version.cmp(&upstream.version) {
        std::cmp::Ordering::Equal => VersionStanding::InSync,
        std::cmp::Ordering::Less => VersionStanding::Behind,
        std::cmp::Ordering::Greater => VersionStanding::Ahead,
    };
    Comparison {
        read_model_version: read_model.version,
        upstream_version: upstream.version,
        version,
        differences,
    }
}

fn fields(order: &Order) -> serde_json::Map<String, Value> {
    match serde_json::to_value(order) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_orders;
    use crate::ids::TenantId;
    use crate::order::OrderStatus;

    #[test]
    fn the_same_document_is_in_sync_and_a_newer_one_is_ahead_by_its_fields() {
        let order = demo_orders(&TenantId::new("t"), 1, 1).remove(0);
        let same = compare(&order, &order);
        assert_eq!(same.version, VersionStanding::InSync);
        assert!(same.differences.is_empty());
        let mut newer = order.clone();
        newer.version += 1;
        newer.status = match order.status {
            OrderStatus::Cancelled => OrderStatus::Closed,
            _ => OrderStatus::Cancelled,
        };
        newer.tags = vec!["vip".into(), "late".into()];
        let c = compare(&order, &newer);
        assert_eq!(c.version, VersionStanding::Behind);
        let names: Vec<&str> = c.differences.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(names, ["status", "tags", "version"]);
        assert_eq!(compare(&newer, &order).version, VersionStanding::Ahead);
    }
}
