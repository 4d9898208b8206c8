//! An agent's refund or capture of one payment: the typed inputs of the `refund_payment` and
//! `capture_payment` workflows, and the rules judged at acceptance (under the payment's
//! lock) and again by the workflows against the Payments service.

use serde::{Deserialize, Serialize};

use super::ids::{OrderId, PaymentId};
use super::order::Payment;

pub const REFUND_WORKFLOW: &str = "refund_payment";
pub const CAPTURE_WORKFLOW: &str = "capture_payment";
pub const LINK_SETTLEMENT_WORKFLOW: &str = "link_settlement";

/// The input of `link_settlement`: a payout from the processor's settlement report, linked
/// by finance to the payment it settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettlementLinkInput {
    pub order_id: OrderId,
    pub payment_id: PaymentId,
    pub settlement_id: String,
    pub amount_minor: i64,
    pub fee_minor: i64,
    pub settled_at: Option<chrono::DateTime<chrono::Utc>>,
    pub reason: String,
}

/// Why `payment` cannot be linked to payout `settlement_id`: nothing captured, or settled by
/// another payout (the same one again is no refusal: linking is idempotent).
pub fn check_settlement_link(
    payment: &Payment,
    settlement_id: &str,
) -> Result<(), crate::cancel::BlockedReason> {
    let refuse = |code: &str, message: String| crate::cancel::BlockedReason {
        code: code.into(),
        message,
    };
    match &payment.settlement {
        Some(linked) if linked.id != settlement_id => Err(refuse(
            "settlement.failed.already_linked",
            format!("the payment is settled by payout {}", linked.id),
        )),
        _ if payment.captured_minor() == 0 => Err(refuse(
            "settlement.failed.nothing_captured",
            format!(
                "the payment is {}; nothing was captured to settle",
                payment.status
            ),
        )),
        _ => Ok(()),
    }
}

/// The input of `refund_payment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRunInput {
    pub order_id: OrderId,
    pub payment_id: PaymentId,
    pub amount_minor: i64,
    pub reason: String,
}

/// The input of `capture_payment`; no amount captures the whole authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptureRunInput {
    pub order_id: OrderId,
    pub payment_id: PaymentId,
    pub amount_minor: Option<i64>,
    pub reason: String,
}

/// A refund accepted earlier whose job has not failed: its amount and, once made, the
/// Payments service's refund id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedRefund {
    pub amount_minor: i64,
    pub refund_id: Option<String>,
}

/// Why a refund or capture is refused; the API answers each with its status and code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// More than can still be refunded (422 `refund.failed.exceeds_refundable`).
    ExceedsRefundable { refundable_minor: i64 },
    /// Nothing was captured (409 `refund.failed.not_captured`).
    NotCaptured { status: String },
    /// Only an authorized payment is captured, once (409 `capture.failed.not_authorized`).
    NotAuthorized { status: String },
    /// Another capture of the payment is still running (409 `capture.failed.in_progress`).
    CaptureInProgress,
    /// More than authorized (422 `capture.failed.exceeds_authorized`).
    ExceedsAuthorized { capturable_minor: i64 },
}

/// A refusal as a dry run lists it.
impl From<&Refusal> for crate::cancel::BlockedReason {
    fn from(r: &Refusal) -> Self {
        crate::cancel::BlockedReason {
            code: r.code().into(),
            message: r.detail(),
        }
    }
}

impl Refusal {
    /// The HTTP status it is answered with: 409 for the payment's state, 422 for the amount.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::ExceedsRefundable { .. } | Refusal::ExceedsAuthorized { .. } => 422,
            _ => 409,
        }
    }

    /// The stable problem code.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::ExceedsRefundable { .. } => "refund.failed.exceeds_refundable",
            Refusal::NotCaptured { .. } => "refund.failed.not_captured",
            Refusal::NotAuthorized { .. } => "capture.failed.not_authorized",
            Refusal::CaptureInProgress => "capture.failed.in_progress",
            Refusal::ExceedsAuthorized { .. } => "capture.failed.exceeds_authorized",
        }
    }

    /// One sentence for the problem's `detail`.
    pub fn detail(&self) -> String {
        match self {
            Refusal::ExceedsRefundable { refundable_minor } => {
                format!(
                    "more than can be refunded: {refundable_minor} left, counting refunds still running"
                )
            }
            Refusal::NotCaptured { status } => {
                format!("the payment is {status}: nothing was captured, so nothing can be refunded")
            }
            Refusal::NotAuthorized { status } => {
                format!("the payment is {status}: only an authorized payment is captured, once")
            }
            Refusal::CaptureInProgress => "another capture of the payment is still running".into(),
            Refusal::ExceedsAuthorized { capturable_minor } => {
                format!("more than authorized: at most {capturable_minor}")
            }
        }
    }

    /// The amount a client may still ask for, as an extra member of the problem.
    pub fn limit(&self) -> Option<(&'static str, i64)> {
        match self {
            Refusal::ExceedsRefundable { refundable_minor } => {
                Some(("refundable_minor", *refundable_minor))
            }
            Refusal::ExceedsAuthorized { capturable_minor } => {
                Some(("capturable_minor", *capturable_minor))
            }
            _ => None,
        }
    }
}

/// What `payment` (as last known) still allows to refund once the refunds accepted before
/// are counted: those it does not show yet (running, or made but not yet in `payment`)
/// come off its own refundable amount.
pub fn refundable_now(payment: &Payment, accepted: &[AcceptedRefund]) -> i64 {
    let pending: i64 = accepted
        .iter()
        .filter(|r| match &r.refund_id {
            None => true,
            Some(id) => !payment.refunds.iter().any(|made| &made.id == id),
        })
        .map(|r| r.amount_minor)
        .sum();
    (payment.refundable_minor() - pending).max(0)
}

/// Whether `amount_minor` may be refunded now (see [`refundable_now`]).
pub fn check_refund(
    payment: &Payment,
    accepted: &[AcceptedRefund],
    amount_minor: i64,
) -> Result<(), Refusal> {
    if payment.captured_minor() == 0 {
        return Err(Refusal::NotCaptured {
            status: payment.status.clone(),
        });
    }
    let refundable_minor = refundable_now(payment, accepted);
    if amount_minor > refundable_minor {
        return Err(Refusal::ExceedsRefundable { refundable_minor });
    }
    Ok(())
}

/// Whether the payment may be captured now, and the amount: `amount_minor` or, when none,
/// the whole authorization.
pub fn check_capture(
    payment: &Payment,
    capture_in_flight: bool,
    amount_minor: Option<i64>,
) -> Result<i64, Refusal> {
    if payment.status != "authorized" {
        return Err(Refusal::NotAuthorized {
            status: payment.status.clone(),
        });
    }
    if capture_in_flight {
        return Err(Refusal::CaptureInProgress);
    }
    let amount = amount_minor.unwrap_or(payment.amount_minor);
    if amount > payment.amount_minor {
        return Err(Refusal::ExceedsAuthorized {
            capturable_minor: payment.amount_minor,
        });
    }
    Ok(amount)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::order::Refund;

    fn payment(status: &str, amount: i64, refunded: &[(&str, i64)]) -> Payment {
        Payment {
            id: "pay_1".into(),
            status: status.into(),
            method: "card".into(),
            amount_minor: amount,
            refunded_minor: refunded.iter().map(|(_, a)| a).sum(),
            refunds: refunded
                .iter()
                .map(|(id, a)| Refund {
                    id: id.to_string(),
                    amount_minor: *a,
                    reason: None,
                    created_at: Utc::now(),
                })
                .collect(),
            captures: vec![],
            settlement: None,
        }
    }

    fn accepted(amount: i64, refund_id: Option<&str>) -> AcceptedRefund {
        AcceptedRefund {
            amount_minor: amount,
            refund_id: refund_id.map(str::to_string),
        }
    }

    #[test]
    fn refunds_running_or_not_yet_seen_count_against_what_is_refundable() {
        let p = payment("partially_refunded", 1000, &[("ref_a", 300)]);
        assert_eq!(refundable_now(&p, &[]), 700);
        // ref_a is already in the payment: not counted twice
        let seen = [accepted(300, Some("ref_a")), accepted(200, None)];
        assert_eq!(refundable_now(&p, &seen), 500);
        let unseen = [accepted(100, Some("ref_b"))];
        assert_eq!(refundable_now(&p, &unseen), 600);
        assert_eq!(
            check_refund(&p, &seen, 501),
            Err(Refusal::ExceedsRefundable {
                refundable_minor: 500
            })
        );
        assert_eq!(check_refund(&p, &seen, 500), Ok(()));
    }

    #[test]
    fn nothing_captured_nothing_to_refund() {
        let p = payment("authorized", 1000, &[]);
        assert!(matches!(
            check_refund(&p, &[], 1),
            Err(Refusal::NotCaptured { .. })
        ));
    }

    #[test]
    fn an_authorized_payment_is_captured_once_up_to_its_amount() {
        let p = payment("authorized", 1000, &[]);
        assert_eq!(check_capture(&p, false, None), Ok(1000));
        assert_eq!(check_capture(&p, false, Some(400)), Ok(400));
        assert_eq!(
            check_capture(&p, false, Some(1001)),
            Err(Refusal::ExceedsAuthorized {
                capturable_minor: 1000
            })
        );
        assert_eq!(
            check_capture(&p, true, Some(400)),
            Err(Refusal::CaptureInProgress)
        );
        let captured = payment("captured", 1000, &[]);
        assert!(matches!(
            check_capture(&captured, false, None),
            Err(Refusal::NotAuthorized { .. })
        ));
    }
}
