//! An agent's review of a return: approving it (how the goods come back), inspecting the
//! goods (condition, restockable, disposition), the refund or credit an inspection
//! proposes, and which of these the return's state allows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cancel::BlockedReason;
use super::ids::OrderId;
use super::order::{Money, Order};
use super::returns::{LineAsk, RmaLine, expected_refund_minor};

/// How an approved return comes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMethod {
    /// The customer prints the return label.
    Label,
    /// A courier picks the parcel up.
    Pickup,
}

impl ApprovalMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalMethod::Label => "label",
            ApprovalMethod::Pickup => "pickup",
        }
    }

    /// The approval that fits how the customer said the parcel goes back: a courier for
    /// `pickup`, a label for `dropoff` (and anything else).
    pub fn for_return_method(method: &str) -> ApprovalMethod {
        match method {
            "pickup" => ApprovalMethod::Pickup,
            _ => ApprovalMethod::Label,
        }
    }
}

/// The state of the returned goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    New,
    LikeNew,
    Used,
    Damaged,
}

/// What happens after an inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Money back.
    Refund,
    /// A store credit of the lines' value.
    StoreCredit,
    /// A replacement ships; nothing is paid back.
    Replace,
    /// The return is refused; nothing is paid back.
    Reject,
}

/// The approval of an RMA, as the Returns API records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RmaApproval {
    pub method: ApprovalMethod,
    pub approved_at: DateTime<Utc>,
}

/// One inspection of the returned goods, as the Returns API records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RmaInspection {
    pub id: String,
    pub condition: Condition,
    pub restockable: bool,
    pub disposition: Disposition,
    /// The inspector's notes (internal).
    #[serde(default)]
    pub notes: Option<String>,
    /// Whether this inspection put the units back in stock (only the first restockable one).
    pub restocked: bool,
    pub inspected_at: DateTime<Utc>,
}

/// What an inspection proposes to give back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SettlementKind {
    Refund,
    StoreCredit,
    None,
}

/// The refund or credit an inspection proposes (issued later, by its own action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProposedSettlement {
    pub kind: SettlementKind,
    /// 0 for `none`.
    pub amount: Money,
}

/// The settlement `disposition` proposes for the returned `lines` of `order`: the lines'
/// unit prices × quantities as money back or as credit, or nothing.
pub fn proposed_settlement(
    disposition: Disposition,
    order: &Order,
    lines: &[RmaLine],
) -> ProposedSettlement {
    let asks: Vec<LineAsk<'_>> = lines
        .iter()
        .map(|l| LineAsk {
            line_id: &l.line_id,
            qty: l.qty,
        })
        .collect();
    let (kind, amount_minor) = match disposition {
        Disposition::Refund => (SettlementKind::Refund, expected_refund_minor(order, &asks)),
        Disposition::StoreCredit => (
            SettlementKind::StoreCredit,
            expected_refund_minor(order, &asks),
        ),
        Disposition::Replace | Disposition::Reject => (SettlementKind::None, 0),
    };
    ProposedSettlement {
        kind,
        amount: Money {
            amount_minor,
            currency: order.currency.clone(),
        },
    }
}

/// An agent's action on a return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnAction {
    Approve,
    Inspect,
}

impl ReturnAction {
    pub const ALL: [ReturnAction; 2] = [ReturnAction::Approve, ReturnAction::Inspect];

    pub fn as_str(self) -> &'static str {
        match self {
            ReturnAction::Approve => "approve",
            ReturnAction::Inspect => "inspect",
        }
    }

    /// The workflow that carries it out (workflows.toml).
    pub fn workflow(self) -> &'static str {
        match self {
            ReturnAction::Approve => "approve_return",
            ReturnAction::Inspect => "inspect_return",
        }
    }
}

/// What an action on a return is judged on.
#[derive(Debug, Clone, Copy)]
pub struct ReturnSituation<'a> {
    /// orderdesk's status of the return: `requested`, `approved`, `inspected`, `failed`, or
    /// what the Returns API said (`received`, `closed`, `cancelled`).
    pub status: &'a str,
    /// Whether the RMA exists at the Returns API (its `return_order` run made it).
    pub created: bool,
    /// Whether an approval or inspection of it is queued or running.
    pub action_running: bool,
}

/// Whether `action` applies to a return in `s`; the reason it does not otherwise.
pub fn check(action: ReturnAction, s: &ReturnSituation<'_>) -> Result<(), BlockedReason> {
    let blocked = |code: &str, message: &str| {
        Err(BlockedReason {
            code: code.into(),
            message: message.into(),
        })
    };
    match (action, s.status) {
        (_, "failed" | "closed" | "cancelled") => blocked(
            "return.not_open",
            "the return is closed; it changes no more",
        ),
        (_, _) if !s.created => blocked(
            "return.not_created",
            "the RMA is still being created at the Returns API",
        ),
        (_, _) if s.action_running => blocked(
            "return.action_running",
            "an approval or inspection of this return is still running",
        ),
        (ReturnAction::Approve, "requested") => Ok(()),
        (ReturnAction::Approve, _) => {
            blocked("return.already_approved", "the return was approved already")
        }
        (ReturnAction::Inspect, "approved" | "received" | "inspected") => Ok(()),
        (ReturnAction::Inspect, _) => blocked(
            "return.not_approved",
            "a return is inspected only once it was approved",
        ),
    }
}

/// The actions [`check`] allows now.
pub fn allowed_actions(s: &ReturnSituation<'_>) -> Vec<ReturnAction> {
    ReturnAction::ALL
        .into_iter()
        .filter(|a| check(*a, s).is_ok())
        .collect()
}

/// The input of the `approve_return` workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApproveReturnRunInput {
    pub order_id: OrderId,
    pub rma_id: String,
    pub method: ApprovalMethod,
    pub reason: String,
}

/// The input of the `inspect_return` workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectReturnRunInput {
    pub order_id: OrderId,
    pub rma_id: String,
    pub condition: Condition,
    pub restockable: bool,
    pub disposition: Disposition,
    /// The inspector's notes: internal, never shown to the customer.
    #[serde(default)]
    pub notes: Option<String>,
    pub reason: String,
    /// Computed when the inspection was accepted, recorded once it is done.
    pub settlement: ProposedSettlement,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(status: &str) -> ReturnSituation<'_> {
        ReturnSituation {
            status,
            created: true,
            action_running: false,
        }
    }

    fn code(action: ReturnAction, s: &ReturnSituation<'_>) -> Option<String> {
        check(action, s).err().map(|r| r.code)
    }

    #[test]
    fn a_return_is_approved_once_then_inspected_any_number_of_times() {
        assert_eq!(allowed_actions(&at("requested")), [ReturnAction::Approve]);
        assert_eq!(allowed_actions(&at("approved")), [ReturnAction::Inspect]);
        assert_eq!(allowed_actions(&at("inspected")), [ReturnAction::Inspect]);
        assert_eq!(
            code(ReturnAction::Approve, &at("approved")).as_deref(),
            Some("return.already_approved")
        );
        assert_eq!(
            code(ReturnAction::Inspect, &at("requested")).as_deref(),
            Some("return.not_approved")
        );
    }

    #[test]
    fn refunds_and_credits_propose_the_lines_value_replacements_and_rejections_nothing() {
        let order = crate::demo::demo_orders(&crate::ids::TenantId::new("t"), 4, 24)
            .into_iter()
            .find(|o| o.lines.len() >= 2)
            .expect("an order with two lines");
        let lines: Vec<RmaLine> = order.lines[..2]
            .iter()
            .map(|l| RmaLine {
                line_id: l.id.clone(),
                qty: 1,
                reason: "damaged".into(),
                replacement_sku: None,
            })
            .collect();
        let value = order.lines[0].unit_price_minor + order.lines[1].unit_price_minor;
        let refund = proposed_settlement(Disposition::Refund, &order, &lines);
        assert_eq!(
            (refund.kind, refund.amount.amount_minor),
            (SettlementKind::Refund, value)
        );
        assert_eq!(refund.amount.currency, order.currency);
        let credit = proposed_settlement(Disposition::StoreCredit, &order, &lines);
        assert_eq!(
            (credit.kind, credit.amount.amount_minor),
            (SettlementKind::StoreCredit, value)
        );
        for nothing in [Disposition::Replace, Disposition::Reject] {
            let s = proposed_settlement(nothing, &order, &lines);
            assert_eq!((s.kind, s.amount.amount_minor), (SettlementKind::None, 0));
        }
    }

    #[test]
    fn closed_uncreated_or_busy_returns_allow_nothing() {
        for status in ["failed", "closed", "cancelled"] {
            assert!(allowed_actions(&at(status)).is_empty(), "{status}");
            assert_eq!(
                code(ReturnAction::Inspect, &at(status)).as_deref(),
                Some("return.not_open")
            );
        }
        let uncreated = ReturnSituation {
            created: false,
            ..at("requested")
        };
        assert_eq!(
            code(ReturnAction::Approve, &uncreated).as_deref(),
            Some("return.not_created")
        );
        let busy = ReturnSituation {
            action_running: true,
            ..at("approved")
        };
        assert_eq!(
            code(ReturnAction::Inspect, &busy).as_deref(),
            Some("return.action_running")
        );
    }
}
