//! Money reconciliation of one order: what the order totals, what Billing invoiced (less its
//! credit notes, plus its adjustments), what Payments took, refunded and paid out. Each disagreement is named by a stable `code` with
//! its likely cause and the amounts on both sides, so finance can act on it (or record why it
//! is fine). Pure: the caller reads the invoices and payments.

use serde::Serialize;
use utoipa::ToSchema;

use crate::order::{Order, OrderStatus, Payment};

/// One invoice as Billing lists it: its own total, and the sums of its credit notes (money
/// owed back) and adjustments (more owed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceTotal {
    pub id: String,
    pub total_minor: i64,
    pub currency: String,
    pub credited_minor: i64,
    pub debited_minor: i64,
}

/// The sums the checks compare, in the order's currency's minor units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct LedgerTotals {
    pub order_total_minor: i64,
    /// What the invoices ask for: their totals, less credit notes, plus adjustments.
    pub invoiced_minor: i64,
    /// The invoices' credit notes and adjustments.
    pub credit_notes_minor: i64,
    pub adjustments_minor: i64,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    /// Captured less refunded: what the merchant holds.
    pub collected_minor: i64,
    /// Paid out by the processor (settlements), and the fees it kept.
    pub settled_minor: i64,
    pub fees_minor: i64,
    /// Authorized but not (yet) captured.
    pub authorized_uncaptured_minor: i64,
}

/// One disagreement between the order, its invoices and its payments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Mismatch {
    /// Stable: `invoice.missing`, `invoice.total_differs`, `invoice.currency_differs`,
    /// `payment.missing`, `payment.not_captured`, `payment.short`, `payment.over_collected`,
    /// `refund.owed`, `refund.exceeds_captured`, `settlement.differs`.
    pub code: &'static str,
    /// What it concerns: `order`, an invoice id or a payment id.
    pub subject: String,
    /// The likely cause, in words.
    pub cause: String,
    pub expected_minor: i64,
    pub actual_minor: i64,
    /// `actual - expected`.
    pub difference_minor: i64,
}

impl Mismatch {
    fn new(code: &'static str, subject: &str, cause: String, expected: i64, actual: i64) -> Self {
        Mismatch {
            code,
            subject: subject.to_string(),
            cause,
            expected_minor: expected,
            actual_minor: actual,
            difference_minor: actual - expected,
        }
    }
}

/// Every codes [`reconcile`] can name: what `POST .../reconcile` accepts.
pub const CODES: [&str; 10] = [
    "invoice.missing",
    "invoice.total_differs",
    "invoice.currency_differs",
    "payment.missing",
    "payment.not_captured",
    "payment.short",
    "payment.over_collected",
    "refund.owed",
    "refund.exceeds_captured",
    "settlement.differs",
];

/// An order owes nothing before it is confirmed, and nothing once cancelled.
fn owes_money(status: OrderStatus) -> bool {
    !matches!(status, OrderStatus::Pending | OrderStatus::Cancelled)
}

pub fn totals(order: &Order, invoices: &[InvoiceTotal], payments: &[Payment]) -> LedgerTotals {
    let captured: i64 = payments.iter().map(Payment::captured_minor).sum();
    let refunded: i64 = payments.iter().map(|p| p.refunded_minor).sum();
    let settlements = payments.iter().filter_map(|p| p.settlement.as_ref());
    LedgerTotals {
        order_total_minor: order.totals.total_minor,
        invoiced_minor: invoices
            .iter()
            .map(|i| i.total_minor - i.credited_minor + i.debited_minor)
            .sum(),
        credit_notes_minor: invoices.iter().map(|i| i.credited_minor).sum(),
        adjustments_minor: invoices.iter().map(|i| i.debited_minor).sum(),
        captured_minor: captured,
        refunded_minor: refunded,
        collected_minor: captured - refunded,
        settled_minor: settlements.clone().map(|s| s.amount_minor).sum(),
        fees_minor: settlements.map(|s| s.fee_minor).sum(),
        authorized_uncaptured_minor: payments
            .iter()
            .filter(|p| p.status == "authorized")
            .map(|p| p.amount_minor - p.captured_minor())
            .sum(),
    }
}

/// The order's disagreements, most basic first: invoices against the order, money collected
/// against what is owed, then each payment's refunds and payout.
pub fn reconcile(order: &Order, invoices: &[InvoiceTotal], payments: &[Payment]) -> Vec<Mismatch> {
    let t = totals(order, invoices, payments);
    let mut found = Vec::new();
    let owes = owes_money(order.status);
    for invoice in invoices.iter().filter(|i| i.currency != order.currency) {
        found.push(Mismatch::new(
            "invoice.currency_differs",
            &invoice.id,
            format!(
                "invoiced in {} for an order in {}: its amounts are not compared",
                invoice.currency, order.currency
            ),
            0,
            0,
        ));
    }
    if owes && invoices.is_empty() {
        found.push(Mismatch::new(
            "invoice.missing",
            "order",
            "the order is confirmed but Billing has no invoice for it".into(),
            t.order_total_minor,
            0,
        ));
    } else if owes && t.invoice_totals_minor() != t.order_total_minor {
        let cause = match t.invoice_totals_minor() < t.order_total_minor {
            true => {
                "invoiced less than the order totals: an edit that raised the total was not invoiced"
            }
            false => {
                "invoiced more than the order totals: an edit that lowered the total has no credit note"
            }
        };
        found.push(Mismatch::new(
            "invoice.total_differs",
            "order",
            cause.into(),
            t.order_total_minor,
            t.invoice_totals_minor(),
        ));
    }
    collected_against_owed(order, &t, payments, &mut found);
    for p in payments {
        per_payment(p, &mut found);
    }
    found
}

/// What the merchant holds against what the order owes (the invoices, else its total).
fn collected_against_owed(
    order: &Order,
    t: &LedgerTotals,
    payments: &[Payment],
    found: &mut Vec<Mismatch>,
) {
    let invoiced = t.invoiced_minor != 0 || t.credit_notes_minor > 0;
    let owed = match (owes_money(order.status), invoiced) {
        (false, _) => 0,
        (true, false) => t.order_total_minor,
        (true, true) => t.invoiced_minor.max(0),
    };
    if owed > 0 && payments.is_empty() {
        found.push(Mismatch::new(
            "payment.missing",
            "order",
            "money is owed but the order has no payment".into(),
            owed,
            0,
        ));
        return;
    }
    let held = t.collected_minor;
    if held < owed {
        let (code, cause) = match t.authorized_uncaptured_minor > 0 {
            true => (
                "payment.not_captured",
                format!(
                    "{} is authorized but not captured",
                    t.authorized_uncaptured_minor
                ),
            ),
            false => (
                "payment.short",
                "less was collected than is owed: a payment failed or was refunded too much".into(),
            ),
        };
        found.push(Mismatch::new(code, "order", cause, owed, held));
    } else if held > owed {
        let (code, cause) = match owes_money(order.status) {
            true if t.credit_notes_minor > 0 => (
                "refund.owed",
                format!(
                    "credit notes of {} lowered what is owed, but {} of it was not refunded",
                    t.credit_notes_minor,
                    held - owed
                ),
            ),
            false => (
                "refund.owed",
                format!("the order is {:?} but money is still held", order.status).to_lowercase(),
            ),
            true => (
                "payment.over_collected",
                "more was collected than is owed: a refund or credit is due".into(),
            ),
        };
        found.push(Mismatch::new(code, "order", cause, owed, held));
    }
}

impl LedgerTotals {
    /// The invoices' own totals, before their credit notes and adjustments: what is
    /// compared with the order's total.
    pub fn invoice_totals_minor(&self) -> i64 {
        self.invoiced_minor + self.credit_notes_minor - self.adjustments_minor
    }
}

fn per_payment(p: &Payment, found: &mut Vec<Mismatch>) {
    let captured = p.captured_minor();
    if p.refunded_minor > captured {
        found.push(Mismatch::new(
            "refund.exceeds_captured",
            &p.id,
            "more was refunded than captured".into(),
            captured,
            p.refunded_minor,
        ));
    }
    if let Some(s) = &p.settlement {
        let held = captured - p.refunded_minor;
        if s.amount_minor != held {
            let cause = match s.amount_minor > held {
                true => {
                    "paid out more than is held: a refund after the payout is still to be deducted"
                }
                false => "paid out less than is held: part of the payment is not settled",
            };
            found.push(Mismatch::new(
                "settlement.differs",
                &p.id,
                cause.into(),
                held,
                s.amount_minor,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_orders;
    use crate::ids::TenantId;
    use crate::order::{Capture, Settlement};
    use chrono::Utc;

    fn paid_order() -> Order {
        let mut order = demo_orders(&TenantId::new("t"), 1, 1).remove(0);
        order.status = OrderStatus::Confirmed;
        order.payments.truncate(1);
        let total = order.totals.total_minor;
        let p = &mut order.payments[0];
        (p.status, p.amount_minor, p.refunded_minor) = ("captured".into(), total, 0);
        p.refunds.clear();
        p.captures.clear();
        p.settlement = None;
        order
    }

    fn invoice(order: &Order, total: i64) -> InvoiceTotal {
        InvoiceTotal {
            id: "inv_1".into(),
            total_minor: total,
            currency: order.currency.clone(),
            credited_minor: 0,
            debited_minor: 0,
        }
    }

    fn codes(found: &[Mismatch]) -> Vec<&str> {
        found.iter().map(|m| m.code).collect()
    }

    #[test]
    fn an_invoiced_and_paid_order_balances() {
        let order = paid_order();
        let inv = [invoice(&order, order.totals.total_minor)];
        assert_eq!(reconcile(&order, &inv, &order.payments), vec![]);
    }

    #[test]
    fn an_invoice_below_the_total_is_named_with_both_amounts() {
        let order = paid_order();
        let total = order.totals.total_minor;
        let found = reconcile(&order, &[invoice(&order, total - 500)], &order.payments);
        assert_eq!(
            codes(&found),
            ["invoice.total_differs", "payment.over_collected"]
        );
        assert_eq!(found[0].difference_minor, -500);
        assert_eq!(
            (found[1].expected_minor, found[1].actual_minor),
            (total - 500, total)
        );
    }

    #[test]
    fn uncaptured_money_missing_invoices_and_cancelled_orders_holding_money() {
        let mut order = paid_order();
        let total = order.totals.total_minor;
        order.payments[0].status = "authorized".into();
        let found = reconcile(&order, &[], &order.payments);
        assert_eq!(codes(&found), ["invoice.missing", "payment.not_captured"]);
        assert_eq!(found[1].actual_minor, 0);

        let mut cancelled = paid_order();
        cancelled.status = OrderStatus::Cancelled;
        let found = reconcile(
            &cancelled,
            &[invoice(&cancelled, total)],
            &cancelled.payments,
        );
        assert_eq!(codes(&found), ["refund.owed"]);
        assert_eq!(found[0].actual_minor, total);
    }

    #[test]
    fn a_payout_that_differs_from_what_is_held_and_refunds_above_captures() {
        let mut order = paid_order();
        let total = order.totals.total_minor;
        let p = &mut order.payments[0];
        p.captures = vec![Capture {
            id: "cap_1".into(),
            amount_minor: total,
            created_at: Utc::now(),
        }];
        p.refunded_minor = 300;
        p.settlement = Some(Settlement {
            id: "stl_1".into(),
            settled_at: Utc::now(),
            amount_minor: total,
            fee_minor: 20,
        });
        let found = reconcile(&order, &[invoice(&order, total)], &order.payments);
        assert_eq!(codes(&found), ["payment.short", "settlement.differs"]);
        assert_eq!(found[1].difference_minor, 300);
        let t = totals(&order, &[], &order.payments);
        assert_eq!((t.collected_minor, t.fees_minor), (total - 300, 20));

        order.payments[0].refunded_minor = total + 1;
        order.payments[0].settlement = None;
        let found = reconcile(&order, &[invoice(&order, total)], &order.payments);
        assert!(codes(&found).contains(&"refund.exceeds_captured"));
    }

    #[test]
    fn a_credit_note_refunded_balances_and_one_not_refunded_is_owed() {
        let mut order = paid_order();
        let total = order.totals.total_minor;
        let credited = InvoiceTotal {
            credited_minor: 400,
            ..invoice(&order, total)
        };
        let found = reconcile(&order, std::slice::from_ref(&credited), &order.payments);
        assert_eq!(codes(&found), ["refund.owed"]);
        assert_eq!(
            (found[0].expected_minor, found[0].actual_minor),
            (total - 400, total)
        );
        order.payments[0].refunded_minor = 400;
        assert_eq!(reconcile(&order, &[credited], &order.payments), vec![]);
        // an adjustment is owed on top of the invoice's total
        let debited = InvoiceTotal {
            debited_minor: 250,
            ..invoice(&order, total)
        };
        let t = totals(&order, std::slice::from_ref(&debited), &order.payments);
        assert_eq!(t.invoiced_minor, total + 250);
        let found = reconcile(&order, &[debited], &order.payments);
        assert_eq!(codes(&found), ["payment.short"]);
    }

    #[test]
    fn every_code_named_is_listed() {
        let mut order = paid_order();
        order.payments.clear();
        for code in codes(&reconcile(&order, &[], &[])) {
            assert!(CODES.contains(&code), "{code}");
        }
    }
}
