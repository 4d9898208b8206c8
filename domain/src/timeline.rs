//! An order's timeline for its customer: status changes, shipments and refunds merged in
//! time order, each with a human-friendly title. Built from the order document (placed,
//! shipped, delivered and refund times) and the stored events (the changes the document
//! keeps no time for: cancel, hold, release, reinstate, confirm, close). Never exposes an
//! event's payload.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::order::{Order, OrderStatus};

/// Event types a customer may see, in `order_events.type`; anything else stays internal.
pub const CUSTOMER_VISIBLE_EVENTS: [&str; 7] = [
    "order.updated",
    "order.cancelled",
    "order.held",
    "order.released",
    "order.reinstated",
    "payment.refunded",
    "shipment.updated",
];

/// A stored event as reads need it: its type, time and the order's status after it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    /// The order's status after the event (from the event's order snapshot).
    pub status: Option<String>,
}

impl EventRecord {
    fn status(&self) -> Option<OrderStatus> {
        self.status.as_deref().and_then(OrderStatus::parse)
    }

    /// A customer-facing title, or `None` for a type customers never see.
    pub fn title(&self) -> Option<&'static str> {
        Some(match self.kind.as_str() {
            "order.updated" => "Order updated",
            "order.cancelled" => "Order cancelled",
            "order.held" => "Order put on hold",
            "order.released" => "Hold lifted",
            "order.reinstated" => "Order reinstated",
            "payment.refunded" => "Refund issued",
            "shipment.updated" => match self.status() {
                Some(OrderStatus::Delivered) => "Delivered",
                Some(OrderStatus::Shipped) => "Shipped",
                Some(OrderStatus::PartiallyShipped) => "Part of your order shipped",
                _ => "Shipment updated",
            },
            _ => return None,
        })
    }
}

/// One entry of the timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TimelineEntry {
    /// Stable within the order.
    pub id: String,
    /// `order.placed`, `order.confirmed`, `order.on_hold`, `order.hold_released`,
    /// `order.reinstated`, `order.cancelled`, `order.closed`, `shipment.shipped`,
    /// `shipment.delivered` or `payment.refunded`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: String,
    pub at: DateTime<Utc>,
    /// e.g. the tracking number of a shipment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Entry types in the order they happen, to order entries of the same instant.
const KIND_ORDER: [&str; 10] = [
    "order.placed",
    "order.confirmed",
    "order.on_hold",
    "order.hold_released",
    "shipment.shipped",
    "shipment.delivered",
    "order.cancelled",
    "payment.refunded",
    "order.reinstated",
    "order.closed",
];

impl TimelineEntry {
    fn new(kind: &'static str, id: String, title: impl Into<String>, at: DateTime<Utc>) -> Self {
        TimelineEntry {
            id,
            kind,
            title: title.into(),
            at,
            detail: None,
        }
    }

    /// Position in the timeline: time, then the natural order of types, then id.
    pub fn sort_key(&self) -> (DateTime<Utc>, usize, &str) {
        let rank = KIND_ORDER
            .iter()
            .position(|k| *k == self.kind)
            .unwrap_or(KIND_ORDER.len());
        (self.at, rank, &self.id)
    }
}

/// Where an entry stands in the timeline, owned: what a page's cursor holds.
pub type Position = (DateTime<Utc>, usize, String);

impl TimelineEntry {
    /// [`Self::sort_key`], owned.
    pub fn position(&self) -> Position {
        let (at, rank, id) = self.sort_key();
        (at, rank, id.to_string())
    }
}

/// At most `n` entries of `timeline` (in timeline order), after the one at `after` (from
/// the first when `None`).
pub fn entries_after(
    timeline: Vec<TimelineEntry>,
    after: Option<&Position>,
    n: usize,
) -> Vec<TimelineEntry> {
    timeline
        .into_iter()
        .filter(|e| after.is_none_or(|(at, rank, id)| e.sort_key() > (*at, *rank, id.as_str())))
        .take(n)
        .collect()
}

/// The whole timeline of `order`, oldest first. `events` are the order's stored events in
/// the order they occurred.
pub fn build(order: &Order, events: &[EventRecord]) -> Vec<TimelineEntry> {
    let mut entries = vec![TimelineEntry::new(
        "order.placed",
        "order.placed".into(),
        "Order placed",
        order.placed_at,
    )];
    for s in &order.shipments {
        if let Some(at) = s.shipped_at {
            let mut e = TimelineEntry::new(
                "shipment.shipped",
                format!("{}.shipped", s.id),
                format!("Shipped with {}", s.carrier),
                at,
            );
            e.detail = Some(format!("Tracking number {}", s.tracking_number));
            entries.push(e);
        }
        if let Some(at) = s.delivered_at {
            entries.push(TimelineEntry::new(
                "shipment.delivered",
                format!("{}.delivered", s.id),
                "Delivered",
                at,
            ));
        }
    }
    for r in order.payments.iter().flat_map(|p| &p.refunds) {
        entries.push(TimelineEntry::new(
            "payment.refunded",
            r.id.clone(),
            format!(
                "Refund of {} issued",
                format_money(r.amount_minor, &order.currency)
            ),
            r.created_at,
        ));
    }
    entries.extend(status_changes(events));
    entries.extend(current_status_fallback(order, &entries));
    entries.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    entries.dedup_by(|a, b| a.id == b.id);
    entries
}

/// Entries for the changes only events carry a time for. Shipments and refunds come from
/// the document instead, so `shipment.updated` and `payment.refunded` add nothing here;
/// `order.updated` counts only when it moved the order to confirmed or closed.
fn status_changes(events: &[EventRecord]) -> Vec<TimelineEntry> {
    let mut out = Vec::new();
    let mut previous: Option<OrderStatus> = None;
    for e in events {
        let status = e.status();
        let entry = match e.kind.as_str() {
            "order.cancelled" => Some(("order.cancelled", "Order cancelled")),
            "order.held" => Some(("order.on_hold", "Order put on hold")),
            "order.released" => Some(("order.hold_released", "Hold lifted")),
            "order.reinstated" => Some(("order.reinstated", "Order reinstated")),
            "order.updated" if status != previous => match status {
                Some(OrderStatus::Confirmed) => Some(("order.confirmed", "Order confirmed")),
                Some(OrderStatus::Closed) => Some(("order.closed", "Order closed")),
                _ => None,
            },
            _ => None,
        };
        if let Some((kind, title)) = entry {
            let id = format!("{kind}.{}", e.occurred_at.timestamp_millis());
            out.push(TimelineEntry::new(kind, id, title, e.occurred_at));
        }
        previous = status.or(previous);
    }
    out
}

/// An order that ended cancelled, on hold or closed without the event that says when
/// (orders imported before orderdesk saw them) still shows how it stands, no earlier
/// than anything else known about it.
fn current_status_fallback(order: &Order, entries: &[TimelineEntry]) -> Option<TimelineEntry> {
    let (kind, title) = match order.status {
        OrderStatus::Cancelled => ("order.cancelled", "Order cancelled"),
        OrderStatus::OnHold => ("order.on_hold", "Order put on hold"),
        OrderStatus::Closed => ("order.closed", "Order closed"),
        _ => return None,
    };
    if entries.iter().any(|e| e.kind == kind) {
        return None;
    }
    let at = entries
        .iter()
        .map(|e| e.at)
        .max()
        .unwrap_or(order.placed_at)
        .max(order.updated_at);
    Some(TimelineEntry::new(kind, kind.into(), title, at))
}

/// `1234, "EUR"` → `12.34 EUR`, with the currency's own number of decimals.
pub fn format_money(amount_minor: i64, currency: &str) -> String {
    let decimals = match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    };
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    if decimals == 0 {
        return format!("{sign}{abs} {currency}");
    }
    let unit = 10u64.pow(decimals);
    format!(
        "{sign}{}.{:0width$} {currency}",
        abs / unit,
        abs % unit,
        width = decimals as usize
    )
}

#[cfg(test)]
#[path = "timeline_tests.rs"]
mod tests;
