//! Fulfilments an agent makes of an order's lines (units picked at a warehouse, then
//! shipped or cancelled): their statuses, the typed inputs of their workflows, and the rule
//! that no line is fulfilled beyond what is still unfulfilled.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{FulfillmentId, OrderId, ShipmentId};
use crate::order::Order;

/// Where a fulfilment is: `open` (units reserved at the warehouse), `shipped` (its
/// shipment exists) or `cancelled` (units back in stock). Shipped and cancelled are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfillmentStatus {
    Open,
    Shipped,
    Cancelled,
}

impl FulfillmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FulfillmentStatus::Open => "open",
            FulfillmentStatus::Shipped => "shipped",
            FulfillmentStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<FulfillmentStatus> {
        [Self::Open, Self::Shipped, Self::Cancelled]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// Units of one order line in a fulfilment, with the lot and serial numbers picked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FulfillmentLine {
    pub line_id: String,
    pub qty: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub serials: Vec<String>,
}

/// A fulfilment as the Fulfillment service answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fulfillment {
    pub id: FulfillmentId,
    pub order_id: OrderId,
    pub warehouse: String,
    pub status: FulfillmentStatus,
    pub lines: Vec<FulfillmentLine>,
    pub ship_after: Option<DateTime<Utc>>,
    pub shipment_id: Option<ShipmentId>,
}

/// A warehouse of the tenant with its stock per SKU (`default_stock` for SKUs not listed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Warehouse {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub default_stock: i64,
    #[serde(default)]
    pub stock: BTreeMap<String, i64>,
}

impl Warehouse {
    pub fn on_hand(&self, sku: &str) -> i64 {
        self.stock.get(sku).copied().unwrap_or(self.default_stock)
    }
}

/// The input of `create_fulfillment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateFulfillmentRunInput {
    pub order_id: OrderId,
    pub fulfillment_id: FulfillmentId,
    pub warehouse: String,
    pub lines: Vec<FulfillmentLine>,
    pub reason: Option<String>,
}

/// The input of `ship_fulfillment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipFulfillmentRunInput {
    pub order_id: OrderId,
    pub fulfillment_id: FulfillmentId,
    pub carrier: String,
    pub tracking_number: String,
}

/// The input of `cancel_fulfillment` and `reschedule_fulfillment` (`ship_after` set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FulfillmentChangeRunInput {
    pub order_id: OrderId,
    pub fulfillment_id: FulfillmentId,
    pub reason: String,
    #[serde(default)]
    pub ship_after: Option<DateTime<Utc>>,
}

/// A line asked for beyond what it has unfulfilled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OverFulfilled {
    pub line_id: String,
    pub asked: i32,
    pub unfulfilled: i32,
}

/// Per order line: ordered − shipped − held by `open` (the lines of open fulfilments,
/// whose units are not shipped yet). A line of `open` that the order lacks is ignored.
pub fn unfulfilled<'a>(
    order: &Order,
    open: impl IntoIterator<Item = &'a FulfillmentLine>,
) -> BTreeMap<String, i32> {
    let mut left: BTreeMap<String, i32> =
        order.lines.iter().map(|l| (l.id.clone(), l.qty)).collect();
    let shipped = order.shipments.iter().flat_map(|s| &s.lines);
    let taken = shipped
        .map(|l| (&l.line_id, l.qty))
        .chain(open.into_iter().map(|l| (&l.line_id, l.qty)));
    for (line_id, qty) in taken {
        if let Some(n) = left.get_mut(line_id) {
            *n -= qty;
        }
    }
    left
}

/// The lines of `asked` (summed per line) beyond `unfulfilled`; a line the order does not
/// have counts as 0 unfulfilled.
pub fn over_fulfilled<'a>(
    unfulfilled: &BTreeMap<String, i32>,
    asked: impl IntoIterator<Item = (&'a str, i32)>,
) -> Vec<OverFulfilled> {
    let mut sum: BTreeMap<&str, i32> = BTreeMap::new();
    for (line_id, qty) in asked {
        *sum.entry(line_id).or_default() += qty;
    }
    sum.into_iter()
        .filter_map(|(line_id, asked)| {
            let left = unfulfilled.get(line_id).copied().unwrap_or(0).max(0);
            (asked > left).then(|| OverFulfilled {
                line_id: line_id.to_string(),
                asked,
                unfulfilled: left,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo as seed;

    fn line(id: &str, qty: i32) -> FulfillmentLine {
        FulfillmentLine {
            line_id: id.into(),
            qty,
            lot: None,
            serials: vec![],
        }
    }

    #[test]
    fn shipped_and_open_units_are_not_unfulfilled() {
        let order = seed::demo_orders(&crate::ids::TenantId::new("t"), 4, 40)
            .into_iter()
            .find(|o| o.shipments.is_empty() && !o.lines.is_empty())
            .unwrap();
        let first = &order.lines[0];
        let held = [line(&first.id, 1)];
        let left = unfulfilled(&order, &held);
        assert_eq!(left[&first.id], first.qty - 1);
        let over = over_fulfilled(&left, [(first.id.as_str(), first.qty)]);
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].unfulfilled, first.qty - 1);
        assert!(over_fulfilled(&left, [(first.id.as_str(), first.qty - 1)]).is_empty());
        assert_eq!(over_fulfilled(&left, [("nope", 1)])[0].unfulfilled, 0);
    }
}
