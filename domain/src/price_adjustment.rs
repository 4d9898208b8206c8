//! An agent's price adjustment of an order (`adjust-price`): a credit note (money owed back)
//! or a debit (an invoice adjustment: more owed) at Billing, of one line or of the whole
//! order. A credit never exceeds what it credits: the line's total, or the order's, less the
//! credits accepted before.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::OrderId;
use super::order::Order;

/// The workflow that makes the adjustment at Billing (workflows.toml).
pub const ADJUST_PRICE_WORKFLOW: &str = "adjust_price";

/// Which way the price moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentKind {
    /// A credit note: the customer owes less (a refund may then be due).
    Credit,
    /// An invoice adjustment: the customer owes more.
    Debit,
}

/// The input of `adjust_price`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdjustPriceRunInput {
    pub order_id: OrderId,
    pub kind: AdjustmentKind,
    pub amount_minor: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_id: Option<String>,
    pub currency: String,
    pub reason: String,
}

/// A credit accepted before (its run not failed): its amount and the line it credited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedCredit {
    pub amount_minor: i64,
    pub line_id: Option<String>,
}

/// Why an adjustment is refused (422 each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdjustRefusal {
    /// `adjustment.unknown_line`: the order has no such line.
    UnknownLine { line_id: String },
    /// `adjustment.exceeds_total`: a credit above what is left of the line's or the order's
    /// total once earlier credits are counted.
    ExceedsTotal { creditable_minor: i64 },
}

impl AdjustRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            AdjustRefusal::UnknownLine { .. } => "adjustment.unknown_line",
            AdjustRefusal::ExceedsTotal { .. } => "adjustment.exceeds_total",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            AdjustRefusal::UnknownLine { line_id } => format!("the order has no line {line_id}"),
            AdjustRefusal::ExceedsTotal { creditable_minor } => format!(
                "a credit of more than is left to credit: {creditable_minor}, counting earlier credits"
            ),
        }
    }
}

/// What may still be credited on `line_id` (or the whole order): its total less the credits
/// accepted before on it (for the order: every credit).
pub fn creditable_minor(
    order: &Order,
    line_id: Option<&str>,
    accepted: &[AcceptedCredit],
) -> Result<i64, AdjustRefusal> {
    let total = match line_id {
        None => order.totals.total_minor,
        Some(id) => match order.lines.iter().find(|l| l.id == id) {
            Some(line) => line.total_minor,
            None => {
                return Err(AdjustRefusal::UnknownLine {
                    line_id: id.to_string(),
                });
            }
        },
    };
    let credited: i64 = accepted
        .iter()
        .filter(|c| line_id.is_none() || c.line_id.as_deref() == line_id)
        .map(|c| c.amount_minor)
        .sum();
    Ok((total - credited).max(0))
}

/// Whether the adjustment may be made: the line exists, and a credit stays within what is
/// creditable (a debit is not bounded here).
pub fn check_adjustment(
    order: &Order,
    kind: AdjustmentKind,
    amount_minor: i64,
    line_id: Option<&str>,
    accepted: &[AcceptedCredit],
) -> Result<(), AdjustRefusal> {
    let creditable = creditable_minor(order, line_id, accepted)?;
    if kind == AdjustmentKind::Credit && amount_minor > creditable {
        return Err(AdjustRefusal::ExceedsTotal {
            creditable_minor: creditable,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_orders;
    use crate::ids::TenantId;

    #[test]
    fn credits_stay_within_the_line_or_order_total_counting_earlier_credits() {
        let order = demo_orders(&TenantId::new("t"), 1, 1).remove(0);
        let line = &order.lines[0];
        let credit = AdjustmentKind::Credit;
        assert_eq!(
            check_adjustment(&order, credit, line.total_minor, Some(&line.id), &[]),
            Ok(())
        );
        let earlier = [AcceptedCredit {
            amount_minor: 1,
            line_id: Some(line.id.clone()),
        }];
        assert_eq!(
            check_adjustment(&order, credit, line.total_minor, Some(&line.id), &earlier),
            Err(AdjustRefusal::ExceedsTotal {
                creditable_minor: line.total_minor - 1
            })
        );
        let total = order.totals.total_minor;
        assert_eq!(
            creditable_minor(&order, None, &earlier),
            Ok(total - 1),
            "a line's credit lowers the order's too"
        );
        assert_eq!(
            check_adjustment(&order, AdjustmentKind::Debit, total * 10, None, &earlier),
            Ok(())
        );
        assert_eq!(
            check_adjustment(&order, credit, 1, Some("nope"), &[]).map_err(|r| r.code()),
            Err("adjustment.unknown_line")
        );
    }
}
