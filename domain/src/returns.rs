//! Returns and exchanges: the RMA wire type shared by the upstream client and the sandbox,
//! and the per-line rules (delivered, within the window, quantity still returnable) that
//! the endpoints and the workflows apply alike. The order-level rule is
//! `eligibility::check(SelfService::Return | Replace, ..)`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::{OrderId, RequestId};
use super::order::Order;
use super::return_review::{RmaApproval, RmaInspection};
use super::settings::TenantSettings;

/// The reasons a customer may give for returning or exchanging a line.
pub const REASONS: [&str; 5] = [
    "damaged",
    "wrong_item",
    "not_as_described",
    "no_longer_needed",
    "other",
];

/// Most units one line of a return or exchange may ask for (as a fulfilment line allows).
pub const MAX_QTY: i32 = 100_000;

/// How the parcel goes back.
pub const METHODS: [&str; 2] = ["pickup", "dropoff"];

/// How a customer wants a return refunded.
pub const REFUNDS: [&str; 2] = ["card", "store_credit"];

/// `return` (money back) or `exchange` (a replacement ships).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RmaKind {
    Return,
    Exchange,
}

impl RmaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RmaKind::Return => "return",
            RmaKind::Exchange => "exchange",
        }
    }
    /// The prefix of this kind's problem codes (`return.not_eligible`, `replace.…`).
    pub fn code_prefix(self) -> &'static str {
        match self {
            RmaKind::Return => "return",
            RmaKind::Exchange => "replace",
        }
    }
}

/// One line of an RMA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RmaLine {
    pub line_id: String,
    pub qty: i32,
    /// One of [`REASONS`].
    pub reason: String,
    /// Exchanges: the SKU that ships instead (the line's own SKU for a like-for-like swap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement_sku: Option<String>,
}

/// A return merchandise authorization as the Fulfillment service's Returns API describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Rma {
    pub id: String,
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub kind: RmaKind,
    /// `requested` when created; `approved`, then `inspected`; also `received`, `closed`
    /// or `cancelled`.
    pub status: String,
    pub method: String,
    #[serde(default)]
    pub preferred_refund: Option<String>,
    pub lines: Vec<RmaLine>,
    #[serde(default)]
    pub label_url: Option<String>,
    pub instructions: String,
    pub created_at: DateTime<Utc>,
    /// Set once the return was approved.
    #[serde(default)]
    pub approval: Option<RmaApproval>,
    /// Every inspection of the returned goods, oldest first.
    #[serde(default)]
    pub inspections: Vec<RmaInspection>,
}

/// The input of the `return_order` and `exchange_order` workflows (see workflows.toml).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RmaRunInput {
    pub order_id: OrderId,
    pub rma_id: String,
    pub request_id: RequestId,
    pub kind: RmaKind,
    pub method: String,
    pub preferred_refund: Option<String>,
    pub lines: Vec<RmaLine>,
    /// Exchanges: units per SKU to reserve for the replacements.
    #[serde(default)]
    pub replacement_stock: BTreeMap<String, i32>,
}

/// Why one requested line cannot be returned or exchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineError {
    pub line_id: String,
    /// e.g. `return.line_not_delivered`, `return.qty_exceeds_returnable`.
    pub code: String,
    pub message: String,
}

/// What the customer asks for one line (already shape-validated).
#[derive(Debug, Clone, Copy)]
pub struct LineAsk<'a> {
    pub line_id: &'a str,
    pub qty: i32,
}

/// Delivered units and the latest delivery time per line id.
pub fn delivered(order: &Order) -> HashMap<&str, (i32, DateTime<Utc>)> {
    let mut out: HashMap<&str, (i32, DateTime<Utc>)> = HashMap::new();
    for s in &order.shipments {
        let Some(at) = s.delivered_at else { continue };
        for l in &s.lines {
            let e = out.entry(l.line_id.as_str()).or_insert((0, at));
            e.0 += l.qty;
            e.1 = e.1.max(at);
        }
    }
    out
}

/// Units per line already taken by other RMAs, counting each RMA id once (orderdesk's
/// own records and the upstream's RMAs overlap: the upstream RMA carries orderdesk's id).
pub fn taken_by_rmas<'a>(
    rmas: impl IntoIterator<Item = (&'a str, &'a [RmaLine])>,
    exclude: Option<&str>,
) -> HashMap<String, i32> {
    let mut seen = std::collections::HashSet::new();
    let mut out = HashMap::new();
    for (id, lines) in rmas {
        if Some(id) == exclude || !seen.insert(id) {
            continue;
        }
        for l in lines {
            *out.entry(l.line_id.clone()).or_insert(0) += l.qty;
        }
    }
    out
}

/// The per-line verdicts for `asks`: empty when every line may go back.
pub fn check_lines(
    kind: RmaKind,
    order: &Order,
    asks: &[LineAsk<'_>],
    taken: &HashMap<String, i32>,
    settings: &TenantSettings,
    now: DateTime<Utc>,
) -> Vec<LineError> {
    let p = kind.code_prefix();
    let delivered = delivered(order);
    let window = settings.return_window();
    let err = |line_id: &str, code: &str, message: String| LineError {
        line_id: line_id.to_string(),
        code: format!("{p}.{code}"),
        message,
    };
    let mut errors = Vec::new();
    for ask in asks {
        if !order.lines.iter().any(|l| l.id == ask.line_id) {
            errors.push(err(
                ask.line_id,
                "line_unknown",
                "no such line on this order".into(),
            ));
            continue;
        }
        let Some(&(units, at)) = delivered.get(ask.line_id) else {
            errors.push(err(
                ask.line_id,
                "line_not_delivered",
                "this line has not been delivered yet".into(),
            ));
            continue;
        };
        if now > at + window {
            let msg = format!(
                "the {}-day window after delivery has closed",
                settings.return_window_days
            );
            errors.push(err(ask.line_id, "window_closed", msg));
            continue;
        }
        let left = units - taken.get(ask.line_id).copied().unwrap_or(0);
        if ask.qty > left {
            let msg = format!(
                "at most {} of {units} delivered unit(s) can still go back",
                left.max(0)
            );
            errors.push(err(ask.line_id, "qty_exceeds_returnable", msg));
        }
    }
    errors
}

/// What a return of `asks` would refund: unit price × quantity, in the order's currency
/// (shipping and tax adjustments are decided when the refund is made).
pub fn expected_refund_minor(order: &Order, asks: &[LineAsk<'_>]) -> i64 {
    asks.iter()
        .filter_map(|a| {
            let line = order.lines.iter().find(|l| l.id == a.line_id)?;
            Some(line.unit_price_minor * i64::from(a.qty))
        })
        .sum()
}

/// What the customer does next, by return method.
pub fn instructions(kind: RmaKind, method: &str) -> String {
    let what = match kind {
        RmaKind::Return => "the items you return",
        RmaKind::Exchange => "the items you exchange",
    };
    match method {
        "pickup" => format!(
            "Pack {what} in their original packaging and attach the return label. \
             A courier will contact you to arrange the pickup."
        ),
        _ => format!(
            "Pack {what} in their original packaging, attach the return label and drop \
             the parcel at any carrier drop-off point within 14 days."
        ),
    }
}

/// Units per SKU to reserve for an exchange: each line's replacement SKU (or its own).
///
/// Lines are capped at [`MAX_QTY`] before they get here; should a sum still not fit, it
/// saturates rather than wraps, so the need is never understated and no stock can meet it.
pub fn replacement_stock(order: &Order, lines: &[RmaLine]) -> BTreeMap<String, i32> {
    let mut out: BTreeMap<String, i32> = BTreeMap::new();
    for l in lines {
        let sku = match &l.replacement_sku {
            Some(s) => s.clone(),
            None => match order.lines.iter().find(|o| o.id == l.line_id) {
                Some(o) => o.sku.clone(),
                None => continue,
            },
        };
        let units = out.entry(sku).or_insert(0);
        *units = units.saturating_add(l.qty.max(0));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_orders;
    use crate::order::OrderStatus;
    use chrono::Duration;

    fn delivered_order() -> Order {
        demo_orders(&crate::ids::TenantId::new("t"), 4, 24)
            .into_iter()
            .find(|o| o.status == OrderStatus::Delivered && o.lines.len() >= 2)
            .expect("a delivered order with two lines")
    }

    fn long_window() -> TenantSettings {
        TenantSettings {
            return_window_days: 3650,
            ..TenantSettings::default()
        }
    }

    #[test]
    fn a_delivered_line_within_the_window_may_go_back() {
        let o = delivered_order();
        let ask = [LineAsk {
            line_id: &o.lines[0].id,
            qty: o.lines[0].qty,
        }];
        let errs = check_lines(
            RmaKind::Return,
            &o,
            &ask,
            &HashMap::new(),
            &long_window(),
            Utc::now(),
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(
            expected_refund_minor(&o, &ask),
            o.lines[0].unit_price_minor * i64::from(o.lines[0].qty)
        );
    }

    #[test]
    fn each_line_gets_its_own_reason() {
        let mut o = delivered_order();
        let undelivered = o.lines[1].id.clone();
        o.shipments[0].lines.retain(|l| l.line_id != undelivered);
        let first = o.lines[0].clone();
        let taken = HashMap::from([(first.id.clone(), first.qty)]);
        let asks = [
            LineAsk {
                line_id: &first.id,
                qty: 1,
            },
            LineAsk {
                line_id: &undelivered,
                qty: 1,
            },
            LineAsk {
                line_id: "lin_nope",
                qty: 1,
            },
        ];
        let errs = check_lines(
            RmaKind::Exchange,
            &o,
            &asks,
            &taken,
            &long_window(),
            Utc::now(),
        );
        let codes: Vec<_> = errs.iter().map(|e| e.code.as_str()).collect();
        assert_eq!(
            codes,
            [
                "replace.qty_exceeds_returnable",
                "replace.line_not_delivered",
                "replace.line_unknown"
            ]
        );
    }

    #[test]
    fn the_window_counts_from_the_lines_delivery() {
        let o = delivered_order();
        let at = o.shipments[0].delivered_at.unwrap();
        let s = TenantSettings {
            return_window_days: 1,
            ..TenantSettings::default()
        };
        let ask = [LineAsk {
            line_id: &o.lines[0].id,
            qty: 1,
        }];
        let none = HashMap::new();
        assert!(
            check_lines(
                RmaKind::Return,
                &o,
                &ask,
                &none,
                &s,
                at + Duration::hours(23)
            )
            .is_empty()
        );
        let errs = check_lines(RmaKind::Return, &o, &ask, &none, &s, at + Duration::days(2));
        assert_eq!(errs[0].code, "return.window_closed");
    }

    #[test]
    fn an_rma_known_on_both_sides_counts_once() {
        let lines = vec![RmaLine {
            line_id: "l1".into(),
            qty: 2,
            reason: "other".into(),
            replacement_sku: None,
        }];
        let taken = taken_by_rmas(
            [
                ("rma_1", lines.as_slice()),
                ("rma_1", lines.as_slice()),
                ("rma_2", lines.as_slice()),
            ],
            Some("rma_2"),
        );
        assert_eq!(taken["l1"], 2);
    }

    #[test]
    fn units_to_reserve_saturate_rather_than_wrap() {
        let order = delivered_order();
        let line = |id: &str, qty| RmaLine {
            line_id: id.into(),
            qty,
            reason: "other".into(),
            replacement_sku: Some("SKU-X".into()),
        };
        let lines = [
            line(&order.lines[0].id, i32::MAX),
            line(&order.lines[1].id, 1),
        ];
        assert_eq!(replacement_stock(&order, &lines)["SKU-X"], i32::MAX);
        let lines = [
            line(&order.lines[0].id, MAX_QTY),
            line(&order.lines[1].id, 1),
        ];
        assert_eq!(replacement_stock(&order, &lines)["SKU-X"], MAX_QTY + 1);
    }
}
