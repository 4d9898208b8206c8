//! Help entries chosen by an order's state: the questions a customer is likely to have
//! about this order now (is it late, can I still cancel, can I return, where is my refund),
//! answered from the same eligibility rules the actions enforce.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::eligibility::{SelfService, check};
use super::order::{Order, OrderStatus};
use super::settings::TenantSettings;
use super::timeline::format_money;

/// One help entry. `id` is stable, so a UI may pick or style entries by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FaqEntry {
    /// `delivery_late`, `delivery_eta`, `not_shipped_yet`, `on_hold`, `cancel_possible`,
    /// `cancel_not_possible`, `address_change_possible`, `return_window_open`,
    /// `return_window_closed`, `returns_not_offered`, `refund_in_progress`, `refund_issued`
    /// or `contact_support`.
    pub id: &'static str,
    pub question: String,
    pub answer: String,
}

fn entry(id: &'static str, question: &str, answer: String) -> FaqEntry {
    FaqEntry {
        id,
        question: question.into(),
        answer,
    }
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%-d %B %Y").to_string()
}

/// The entries for `order` at `now`, most pressing first; always ends with how to reach
/// support.
pub fn entries(order: &Order, settings: &TenantSettings, now: DateTime<Utc>) -> Vec<FaqEntry> {
    let mut out = Vec::new();
    out.extend(delivery(order, now));
    if order.status == OrderStatus::OnHold {
        out.push(entry(
            "on_hold",
            "Why is my order on hold?",
            "We are checking a few details before your order can go ahead, usually the payment \
             or the delivery address. There is nothing you need to do; our support team will \
             contact you if they need anything."
                .into(),
        ));
    }
    out.extend(cancellation(order, settings, now));
    if check(SelfService::UpdateAddress, order, settings, now).is_ok() {
        let until = order.placed_at + Duration::minutes(settings.address_change_window_minutes);
        out.push(entry(
            "address_change_possible",
            "Can I change the delivery address?",
            format!(
                "Yes, until {} and as long as nothing has shipped.",
                until.format("%-d %B %Y, %H:%M UTC")
            ),
        ));
    }
    out.extend(returns(order, settings, now));
    out.extend(refund(order));
    out.push(entry(
        "contact_support",
        "How do I contact support?",
        "Send us a message from this order's page; our team replies there and by email.".into(),
    ));
    out
}

/// Late, on its way, or not shipped yet.
fn delivery(order: &Order, now: DateTime<Utc>) -> Vec<FaqEntry> {
    let in_transit: Vec<_> = order
        .shipments
        .iter()
        .filter(|s| s.delivered_at.is_none() && s.status != "delivered")
        .collect();
    let mut out = Vec::new();
    if let Some(late) = in_transit
        .iter()
        .find(|s| s.eta.is_some_and(|eta| eta < now))
    {
        out.push(entry(
            "delivery_late",
            "My order is late. Where is it?",
            format!(
                "Your parcel with {} was expected on {}. Parcels sometimes take a few days \
                 longer than estimated; you can follow it with tracking number {}. If it \
                 still has not arrived in a few days, send us a message and we will look into \
                 it with the carrier.",
                late.carrier,
                day(late.eta.unwrap_or(now)),
                late.tracking_number
            ),
        ));
    } else if let Some(s) = in_transit.iter().find(|s| s.eta.is_some()) {
        out.push(entry(
            "delivery_eta",
            "When will my order arrive?",
            format!(
                "Your parcel is on its way with {} and should arrive by {} (tracking number {}).",
                s.carrier,
                day(s.eta.unwrap_or(now)),
                s.tracking_number
            ),
        ));
    }
    if order.shipments.is_empty()
        && matches!(order.status, OrderStatus::Pending | OrderStatus::Confirmed)
    {
        out.push(entry(
            "not_shipped_yet",
            "When will my order ship?",
            "We are preparing your order. You will get a tracking number as soon as it ships."
                .into(),
        ));
    }
    out
}

fn cancellation(order: &Order, settings: &TenantSettings, now: DateTime<Utc>) -> Option<FaqEntry> {
    const Q: &str = "Can I still cancel my order?";
    let answer = match check(SelfService::Cancel, order, settings, now) {
        Ok(()) => {
            let until = order.placed_at + Duration::minutes(settings.cancel_window_minutes);
            return Some(entry(
                "cancel_possible",
                Q,
                format!(
                    "Yes, until {} as long as it has not shipped. Any payment is refunded in full.",
                    day(until)
                ),
            ));
        }
        Err(r) => match r.code.as_str() {
            "order.blocked.already_shipped" => {
                "No, it has already shipped. Once it arrives you can return it instead.".into()
            }
            "order.blocked.on_hold" => {
                "Not by yourself while the order is on hold; send us a message and we will help."
                    .into()
            }
            "order.blocked.cancel_window_expired" => format!(
                "No, the cancellation window closed on {}. Send us a message if something is \
                 wrong with the order.",
                day(order.placed_at + Duration::minutes(settings.cancel_window_minutes))
            ),
            // cancelled or closed: there is nothing left to cancel
            _ => return None,
        },
    };
    Some(entry("cancel_not_possible", Q, answer))
}

fn returns(order: &Order, settings: &TenantSettings, now: DateTime<Utc>) -> Option<FaqEntry> {
    const Q: &str = "Can I return items?";
    let delivered_at = order
        .shipments
        .iter()
        .filter_map(|s| s.delivered_at)
        .max()?;
    let until = delivered_at + settings.return_window();
    match check(SelfService::Return, order, settings, now) {
        Ok(()) => Some(entry(
            "return_window_open",
            Q,
            format!(
                "Yes, delivered items can be returned until {}. Start a return from this \
                 order's page.",
                day(until)
            ),
        )),
        Err(r) if r.code == "return.disabled" => Some(entry(
            "returns_not_offered",
            Q,
            "This shop does not take returns online; send us a message and we will help.".into(),
        )),
        Err(_) => Some(entry(
            "return_window_closed",
            Q,
            format!(
                "The return window for this order closed on {}. If an item is faulty, send us \
                 a message.",
                day(until)
            ),
        )),
    }
}

/// Money still held on a cancelled order is on its way back; money already refunded has
/// left.
fn refund(order: &Order) -> Option<FaqEntry> {
    let refunded: i64 = order.payments.iter().map(|p| p.refunded_minor).sum();
    if order.status == OrderStatus::Cancelled && order.refundable_minor() > 0 {
        return Some(entry(
            "refund_in_progress",
            "Where is my refund?",
            format!(
                "Your refund of {} is being processed and goes back to your original payment \
                 method. You will see it once it is issued.",
                format_money(order.refundable_minor(), &order.currency)
            ),
        ));
    }
    if refunded > 0 {
        let last = order
            .payments
            .iter()
            .flat_map(|p| &p.refunds)
            .map(|r| r.created_at)
            .max();
        let when = last
            .map(|at| format!(" on {}", day(at)))
            .unwrap_or_default();
        return Some(entry(
            "refund_issued",
            "When will I see my refund?",
            format!(
                "We refunded {}{when} to your original payment method. Depending on your \
                 bank it can take 5 to 10 business days to show on your statement.",
                format_money(refunded, &order.currency)
            ),
        ));
    }
    None
}

#[cfg(test)]
#[path = "faq_tests.rs"]
mod tests;
