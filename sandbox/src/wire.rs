//! The documents the sandbox stores and answers, as `docs/upstream-contract.md` defines them:
//! the canonical order, the RMA and the carrier's tracking view. orderdesk has its own copy
//! of these shapes (its upstream client reads them); this is the contract seen from the
//! services' side, so neither can change it alone without a test noticing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Pending,
    Confirmed,
    OnHold,
    PartiallyShipped,
    Shipped,
    Delivered,
    Cancelled,
    Closed,
}

impl OrderStatus {
    const ALL: [OrderStatus; 8] = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::OnHold,
        OrderStatus::PartiallyShipped,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Closed,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::OnHold => "on_hold",
            OrderStatus::PartiallyShipped => "partially_shipped",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<OrderStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub qty: i32,
    pub unit_price_minor: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub subtotal_minor: i64,
    pub shipping_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount_minor: i64,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub id: String,
    /// `authorized`, `captured`, `partially_refunded`, `refunded` or `voided`.
    pub status: String,
    pub method: String,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    #[serde(default)]
    pub refunds: Vec<Refund>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShipmentLine {
    pub line_id: String,
    pub qty: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    pub id: String,
    pub carrier: String,
    pub tracking_number: String,
    /// `label_created`, `in_transit`, `out_for_delivery` or `delivered`.
    pub status: String,
    pub lines: Vec<ShipmentLine>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub eta: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub line1: String,
    #[serde(default)]
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub country: String,
}

/// The canonical order document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub tenant_id: String,
    pub number: String,
    pub customer_id: String,
    pub email: String,
    pub status: OrderStatus,
    pub currency: String,
    pub placed_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
    pub totals: Totals,
    pub payments: Vec<Payment>,
    pub shipments: Vec<Shipment>,
    pub shipping_address: Address,
    /// Incremented on every change.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub cancel_reason: Option<String>,
    /// `review`, `cleared` or `confirmed`; absent when never flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud_state: Option<String>,
    /// The rest of the document (channel, tags, notes, …), kept as it was written so a
    /// change of status or fraud state never drops it.
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

/// `return` (money back) or `exchange` (a replacement ships).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RmaKind {
    Return,
    Exchange,
}

/// One line of an RMA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RmaLine {
    pub line_id: String,
    pub qty: i32,
    pub reason: String,
    /// Exchanges: the SKU that ships instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement_sku: Option<String>,
}

/// A return merchandise authorization of the Returns API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rma {
    pub id: String,
    pub order_id: String,
    pub kind: RmaKind,
    /// `requested` when created; later `received`, `closed` or `cancelled`.
    pub status: String,
    pub method: String,
    #[serde(default)]
    pub preferred_refund: Option<String>,
    pub lines: Vec<RmaLine>,
    #[serde(default)]
    pub label_url: Option<String>,
    pub instructions: String,
    pub created_at: DateTime<Utc>,
}

/// One scan of a parcel by its carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub at: DateTime<Utc>,
    /// City and country code, e.g. `Leipzig, DE`.
    pub location: String,
    pub description: String,
    /// The parcel's status after this scan.
    pub status: String,
}

/// A carrier's live view of one parcel (`/tracking/v1/trackings/{tracking_number}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracking {
    pub tracking_number: String,
    pub carrier: String,
    /// `label_created`, `in_transit`, `out_for_delivery` or `delivered`.
    pub status: String,
    pub eta: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Oldest first.
    pub checkpoints: Vec<Checkpoint>,
}
