//! Reorder planning: which lines of a past order can go into a new cart now, at which
//! current price, and why the others cannot. Pure: the caller fetches the catalog entries
//! and stock levels (see `upstream::Upstream::reorder_plan`).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::OrderId;
use super::order::{Order, OrderLine};

/// The input of the `reorder` workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReorderRunInput {
    pub order_id: OrderId,
    /// The lines to buy again; all of the order's when `None`.
    pub line_ids: Option<Vec<String>>,
}

/// Most line ids a reorder may name.
pub const MAX_LINES: usize = 100;

/// A product as the catalog sells it now, in one currency (`GET /orders/v1/catalog/{sku}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CatalogItem {
    pub sku: String,
    pub name: String,
    pub currency: String,
    pub price_minor: i64,
    pub discontinued: bool,
}

/// What is known about one SKU now: its catalog entry (`None`: not sold in the order's
/// currency, or not at all) and the units on hand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkuNow {
    pub catalog: Option<CatalogItem>,
    pub on_hand: i64,
}

/// A line that can be added, at today's price next to the price paid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReorderLine {
    /// The line of the original order.
    pub line_id: String,
    pub sku: String,
    pub name: String,
    pub qty: i32,
    pub unit_price_minor: i64,
    pub paid_unit_price_minor: i64,
    /// `unit_price_minor - paid_unit_price_minor` (negative: cheaper now).
    pub price_change_minor: i64,
    pub total_minor: i64,
}

/// Why a line cannot be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unavailable {
    /// Fewer units on hand than the line's quantity.
    OutOfStock,
    /// The catalog no longer sells it.
    Discontinued,
    /// Unknown to the catalog, or not sold in the order's currency.
    NotSold,
}

impl Unavailable {
    pub fn code(self) -> &'static str {
        match self {
            Unavailable::OutOfStock => "reorder.out_of_stock",
            Unavailable::Discontinued => "reorder.discontinued",
            Unavailable::NotSold => "reorder.not_sold",
        }
    }
    fn message(self) -> &'static str {
        match self {
            Unavailable::OutOfStock => "not enough in stock right now",
            Unavailable::Discontinued => "this product is no longer sold",
            Unavailable::NotSold => "this product is not sold in the order's currency any more",
        }
    }
}

/// A line that cannot be added, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnavailableLine {
    pub line_id: String,
    pub sku: String,
    pub name: String,
    pub qty: i32,
    pub reason: Unavailable,
    /// Stable code: `reorder.out_of_stock`, `reorder.discontinued`, `reorder.not_sold`.
    pub code: String,
    pub message: String,
    /// Units on hand, for `out_of_stock`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_qty: Option<i64>,
}

impl UnavailableLine {
    pub fn new(line: &OrderLine, reason: Unavailable, available_qty: Option<i64>) -> Self {
        UnavailableLine {
            line_id: line.id.clone(),
            sku: line.sku.clone(),
            name: line.name.clone(),
            qty: line.qty,
            reason,
            code: reason.code().into(),
            message: reason.message().into(),
            available_qty,
        }
    }
}

/// The plan: what a cart would hold now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReorderPlan {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub currency: String,
    pub lines: Vec<ReorderLine>,
    pub unavailable: Vec<UnavailableLine>,
    /// Sum of `lines[].total_minor` at today's prices.
    pub subtotal_minor: i64,
}

/// The order's lines named by `line_ids` (all of them when `None`), in the order's order;
/// the error lists the ids the order does not have.
pub fn selected_lines<'a>(
    order: &'a Order,
    line_ids: Option<&[String]>,
) -> Result<Vec<&'a OrderLine>, Vec<String>> {
    let Some(ids) = line_ids else {
        return Ok(order.lines.iter().collect());
    };
    let unknown: Vec<String> = ids
        .iter()
        .filter(|id| !order.lines.iter().any(|l| &l.id == *id))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(unknown);
    }
    Ok(order.lines.iter().filter(|l| ids.contains(&l.id)).collect())
}

/// Sorts `lines` into addable and unavailable given what is known of each SKU now. Stock
/// is shared between lines of the same SKU, first line first.
pub fn plan(order: &Order, lines: &[&OrderLine], now: &HashMap<String, SkuNow>) -> ReorderPlan {
    let mut left: HashMap<&str, i64> = HashMap::new();
    let mut out = ReorderPlan {
        order_id: order.id.clone(),
        currency: order.currency.clone(),
        lines: Vec::new(),
        unavailable: Vec::new(),
        subtotal_minor: 0,
    };
    for line in lines {
        let known = now.get(&line.sku);
        let item = known
            .and_then(|k| k.catalog.as_ref())
            .filter(|c| c.currency == order.currency);
        let Some(item) = item else {
            out.unavailable
                .push(UnavailableLine::new(line, Unavailable::NotSold, None));
            continue;
        };
        if item.discontinued {
            out.unavailable
                .push(UnavailableLine::new(line, Unavailable::Discontinued, None));
            continue;
        }
        let on_hand = left
            .entry(&line.sku)
            .or_insert_with(|| known.map_or(0, |k| k.on_hand.max(0)));
        if *on_hand < i64::from(line.qty) {
            out.unavailable.push(UnavailableLine::new(
                line,
                Unavailable::OutOfStock,
                Some(*on_hand),
            ));
            continue;
        }
        *on_hand -= i64::from(line.qty);
        let total = item.price_minor * i64::from(line.qty);
        out.subtotal_minor += total;
        out.lines.push(ReorderLine {
            line_id: line.id.clone(),
            sku: line.sku.clone(),
            name: item.name.clone(),
            qty: line.qty,
            unit_price_minor: item.price_minor,
            paid_unit_price_minor: line.unit_price_minor,
            price_change_minor: item.price_minor - line.unit_price_minor,
            total_minor: total,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_orders;

    fn item(sku: &str, price: i64, discontinued: bool) -> Option<CatalogItem> {
        Some(CatalogItem {
            sku: sku.into(),
            name: format!("{sku} now"),
            currency: "EUR".into(),
            price_minor: price,
            discontinued,
        })
    }

    fn order() -> Order {
        let mut o = demo_orders(&crate::ids::TenantId::new("t"), 1, 1).remove(0);
        o.currency = "EUR".into();
        o.lines = ["A", "B", "C", "D", "A"]
            .iter()
            .enumerate()
            .map(|(i, sku)| OrderLine {
                id: format!("l{i}"),
                sku: (*sku).into(),
                name: (*sku).into(),
                qty: 2,
                unit_price_minor: 100,
                total_minor: 200,
                hs_code: None,
                origin_country: None,
            })
            .collect();
        o
    }

    #[test]
    fn sorts_lines_by_catalog_and_shared_stock() {
        let o = order();
        let now = HashMap::from([
            (
                "A".to_string(),
                SkuNow {
                    catalog: item("A", 120, false),
                    on_hand: 3,
                },
            ),
            (
                "B".to_string(),
                SkuNow {
                    catalog: item("B", 90, true),
                    on_hand: 9,
                },
            ),
            (
                "C".to_string(),
                SkuNow {
                    catalog: None,
                    on_hand: 9,
                },
            ),
            (
                "D".to_string(),
                SkuNow {
                    catalog: item("D", 100, false),
                    on_hand: 0,
                },
            ),
        ]);
        let lines = selected_lines(&o, None).unwrap();
        let p = plan(&o, &lines, &now);
        assert_eq!(p.lines.len(), 1);
        assert_eq!(
            (p.lines[0].line_id.as_str(), p.lines[0].price_change_minor),
            ("l0", 20)
        );
        assert_eq!(p.subtotal_minor, 240);
        let why: Vec<_> = p
            .unavailable
            .iter()
            .map(|u| (u.line_id.as_str(), u.reason, u.available_qty))
            .collect();
        assert_eq!(
            why,
            [
                ("l1", Unavailable::Discontinued, None),
                ("l2", Unavailable::NotSold, None),
                ("l3", Unavailable::OutOfStock, Some(0)),
                ("l4", Unavailable::OutOfStock, Some(1)),
            ]
        );
        assert_eq!(p.unavailable[0].code, "reorder.discontinued");
    }

    #[test]
    fn another_currency_is_not_sold() {
        let o = order();
        let mut usd = item("A", 100, false);
        usd.as_mut().unwrap().currency = "USD".into();
        let now = HashMap::from([(
            "A".to_string(),
            SkuNow {
                catalog: usd,
                on_hand: 9,
            },
        )]);
        let p = plan(&o, &[&o.lines[0]], &now);
        assert_eq!(p.unavailable[0].reason, Unavailable::NotSold);
    }

    #[test]
    fn selection_keeps_order_and_names_unknown_ids() {
        let o = order();
        let ids = vec!["l3".to_string(), "l1".to_string()];
        let got: Vec<_> = selected_lines(&o, Some(&ids))
            .unwrap()
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(got, ["l1", "l3"]);
        let bad = vec!["l1".to_string(), "nope".to_string()];
        assert_eq!(selected_lines(&o, Some(&bad)).unwrap_err(), ["nope"]);
    }
}
