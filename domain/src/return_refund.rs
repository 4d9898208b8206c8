//! Paying out what a return's inspection proposed (`issue-refund`): back to the card through
//! the Payments service, or as store credit at Billing; once per return, never more than
//! proposed, and (to a card) never more than the payment can still refund.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cancel::BlockedReason;
use super::ids::{CustomerId, OrderId, PaymentId};
use super::payments::Refusal;
use super::return_review::{ProposedSettlement, SettlementKind};

/// The workflow that pays a return's refund or credit (workflows.toml).
pub const REFUND_RETURN_WORKFLOW: &str = "refund_return";

/// The steps of [`REFUND_RETURN_WORKFLOW`] that move money (the card refund, the store
/// credit): once one is done the return is paid, however its run ends.
pub const MONEY_STEPS: [&str; 2] = ["refund", "store_credit"];

/// The return's `refund_status` once its refund or credit was recorded: it is paid, whatever
/// became of the run that paid it.
pub const REFUND_ISSUED: &str = "issued";

/// How a return's money goes back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundMethod {
    /// A refund of the order's payment at the Payments service.
    Card,
    /// A store credit of the customer at Billing (when the tenant offers it).
    StoreCredit,
}

impl RefundMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundMethod::Card => "card",
            RefundMethod::StoreCredit => "store_credit",
        }
    }
}

/// The input of `refund_return`. A card refund carries the payment and is read by the
/// payment refund's own steps as their input (`RefundRunInput`: order, payment, amount,
/// reason), so the two are counted and made alike; a store credit carries no payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundReturnRunInput {
    pub order_id: OrderId,
    pub rma_id: String,
    pub customer_id: CustomerId,
    pub method: RefundMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<PaymentId>,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
}

/// What an issue-refund is judged on besides the payment.
#[derive(Debug, Clone, Copy)]
pub struct RefundSituation<'a> {
    /// orderdesk's status of the return.
    pub status: &'a str,
    /// What the latest inspection proposed (none before an inspection).
    pub proposed: Option<&'a ProposedSettlement>,
    /// The return's `refund_status` (`issued` once the refund or credit was recorded).
    pub refund_status: &'a str,
    /// Whether a refund of this return was accepted (running or made) or moved money in a
    /// run that ended otherwise.
    pub refund_accepted: bool,
    /// Whether an approval or inspection of the return is still running.
    pub review_running: bool,
}

/// Why an issue-refund is refused: the return's state (409) or the amount (422).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundRefusal {
    Blocked(BlockedReason),
    Amount(Refusal),
}

impl From<Refusal> for RefundRefusal {
    fn from(r: Refusal) -> Self {
        RefundRefusal::Amount(r)
    }
}

impl RefundRefusal {
    /// As a dry run lists it.
    pub fn reason(&self) -> BlockedReason {
        match self {
            RefundRefusal::Blocked(b) => b.clone(),
            RefundRefusal::Amount(r) => BlockedReason::from(r),
        }
    }
}

/// The amount to pay for the return in `s`: `asked` (or all that was proposed when none),
/// at most what was proposed.
pub fn check_issue(s: &RefundSituation<'_>, asked: Option<i64>) -> Result<i64, RefundRefusal> {
    let blocked = |code: &str, message: &str| {
        Err(RefundRefusal::Blocked(BlockedReason {
            code: code.into(),
            message: message.into(),
        }))
    };
    if s.refund_accepted || s.refund_status == REFUND_ISSUED {
        return blocked(
            "return.already_refunded",
            "the refund or credit of this return was issued already",
        );
    }
    if matches!(s.status, "failed" | "cancelled") {
        return blocked("return.not_open", "the return is closed; nothing is paid");
    }
    if s.review_running {
        return blocked(
            "return.action_running",
            "an approval or inspection of this return is still running",
        );
    }
    let Some(proposed) = s.proposed else {
        return blocked(
            "return.not_inspected",
            "a refund is issued only after an inspection proposed one",
        );
    };
    if proposed.kind == SettlementKind::None || proposed.amount.amount_minor <= 0 {
        return blocked(
            "return.nothing_to_refund",
            "the latest inspection proposes no refund or credit (replace or reject)",
        );
    }
    let most = proposed.amount.amount_minor;
    let amount = asked.unwrap_or(most);
    if amount > most {
        return Err(Refusal::ExceedsRefundable {
            refundable_minor: most,
        }
        .into());
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::Money;

    fn proposed(kind: SettlementKind, amount: i64) -> ProposedSettlement {
        ProposedSettlement {
            kind,
            amount: Money {
                amount_minor: amount,
                currency: "EUR".into(),
            },
        }
    }

    fn code(r: Result<i64, RefundRefusal>) -> String {
        match r {
            Ok(a) => format!("ok {a}"),
            Err(e) => e.reason().code,
        }
    }

    #[test]
    fn a_refund_follows_an_inspection_that_proposes_money_once_and_within_it() {
        let refund = proposed(SettlementKind::Refund, 2500);
        fn at(p: Option<&ProposedSettlement>, accepted: bool) -> RefundSituation<'_> {
            RefundSituation {
                status: "inspected",
                proposed: p,
                refund_status: "pending",
                refund_accepted: accepted,
                review_running: false,
            }
        }
        assert_eq!(
            code(check_issue(&at(None, false), None)),
            "return.not_inspected"
        );
        let nothing = proposed(SettlementKind::None, 0);
        assert_eq!(
            code(check_issue(&at(Some(&nothing), false), None)),
            "return.nothing_to_refund"
        );
        assert_eq!(
            code(check_issue(&at(Some(&refund), false), None)),
            "ok 2500"
        );
        assert_eq!(
            code(check_issue(&at(Some(&refund), false), Some(900))),
            "ok 900"
        );
        assert_eq!(
            code(check_issue(&at(Some(&refund), false), Some(2501))),
            "refund.failed.exceeds_refundable"
        );
        assert_eq!(
            code(check_issue(&at(Some(&refund), true), None)),
            "return.already_refunded"
        );
        let busy = RefundSituation {
            review_running: true,
            ..at(Some(&refund), false)
        };
        assert_eq!(code(check_issue(&busy, None)), "return.action_running");
        // recorded as issued, its run since deleted by retention
        let issued = RefundSituation {
            refund_status: REFUND_ISSUED,
            ..at(Some(&refund), false)
        };
        assert_eq!(code(check_issue(&issued, None)), "return.already_refunded");
    }
}
