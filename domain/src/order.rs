//! The order as the canonical Orders service describes it: the wire contract shared by the
//! upstream client, the sandbox and the read model (`order_views.doc`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::{CustomerId, OrderId, TenantId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
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
    pub const ALL: [OrderStatus; 8] = [
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

/// An amount in integer minor units (cents) of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: String,
}

/// Whether `code` has the shape of an ISO 4217 currency code: three capital letters.
pub fn is_currency_code(code: &str) -> bool {
    code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub qty: i32,
    pub unit_price_minor: i64,
    pub total_minor: i64,
    /// The goods' Harmonized System code for customs (`6109.10`), as the Orders service
    /// has it for the SKU; absent when it has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hs_code: Option<String>,
    /// Where the goods were made (ISO 3166-1 alpha-2), for customs; absent when unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    pub subtotal_minor: i64,
    pub shipping_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Refund {
    pub id: String,
    pub amount_minor: i64,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Payment {
    pub id: String,
    /// `authorized`, `captured`, `partially_refunded`, `refunded` or `voided`.
    pub status: String,
    pub method: String,
    pub amount_minor: i64,
    pub refunded_minor: i64,
    #[serde(default)]
    pub refunds: Vec<Refund>,
    /// Captures of an authorized payment (one, possibly partial); absent for a payment
    /// captured when it was taken, whose captured amount is `amount_minor`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub captures: Vec<Capture>,
    /// The payout that settled the payment, once the processor settled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement: Option<Settlement>,
}

impl Payment {
    /// The money taken: the captures' sum, or the whole amount of a payment captured when
    /// it was taken; nothing while it is only authorized (or voided).
    pub fn captured_minor(&self) -> i64 {
        if !self.captures.is_empty() {
            return self.captures.iter().map(|c| c.amount_minor).sum();
        }
        match self.status.as_str() {
            "captured" | "partially_refunded" | "refunded" => self.amount_minor,
            _ => 0,
        }
    }

    /// What can still be refunded: captured and not yet refunded.
    pub fn refundable_minor(&self) -> i64 {
        (self.captured_minor() - self.refunded_minor).max(0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Capture {
    pub id: String,
    pub amount_minor: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Settlement {
    pub id: String,
    pub settled_at: DateTime<Utc>,
    pub amount_minor: i64,
    pub fee_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShipmentLine {
    pub line_id: String,
    pub qty: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Order {
    #[schema(value_type = String)]
    pub id: OrderId,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    pub number: String,
    #[schema(value_type = String)]
    pub customer_id: CustomerId,
    pub email: String,
    pub status: OrderStatus,
    pub currency: String,
    pub placed_at: DateTime<Utc>,
    pub lines: Vec<OrderLine>,
    pub totals: Totals,
    pub payments: Vec<Payment>,
    pub shipments: Vec<Shipment>,
    pub shipping_address: Address,
    /// Incremented by the Orders service on every change.
    pub version: i64,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub cancel_reason: Option<String>,
    /// Where the order was placed: `web`, `app`, `pos`, `marketplace`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The order's id in the system it came from (a marketplace, a POS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ref: Option<String>,
    /// Labels the shop put on the order (`vip`, `gift`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Where a fraud review of the order stands; absent when it was never flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud_state: Option<FraudState>,
    /// Notes written on the order, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<OrderNote>,
    /// The Orders service's fraud risk assessment; absent when it made none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskAssessment>,
}

/// How risky the Orders service judged an order, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RiskAssessment {
    /// 0 (nothing suspicious) to 100 ([`RiskAssessment::MAX_SCORE`]).
    pub score: u8,
    /// The names of the rules that triggered (`high_value`, `address_mismatch`, …).
    #[serde(default)]
    pub rules: Vec<String>,
}

impl RiskAssessment {
    pub const MAX_SCORE: u8 = 100;
}

/// Where a fraud review of an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FraudState {
    /// Flagged and waiting for a reviewer.
    Review,
    Cleared,
    Confirmed,
}

impl FraudState {
    pub const ALL: [FraudState; 3] = [
        FraudState::Review,
        FraudState::Cleared,
        FraudState::Confirmed,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            FraudState::Review => "review",
            FraudState::Cleared => "cleared",
            FraudState::Confirmed => "confirmed",
        }
    }
}

/// A note on an order. Only its text for now: authors and visibility come with the notes
/// endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderNote {
    pub body: String,
}

impl Order {
    /// Money still held on the order's payments: what a full refund would return — what each
    /// captured payment took (its captures, not the authorized amount) less its refunds.
    pub fn refundable_minor(&self) -> i64 {
        self.payments
            .iter()
            .filter(|p| p.status == "captured" || p.status == "partially_refunded")
            .map(Payment::refundable_minor)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currency_codes_are_three_capitals() {
        assert!(is_currency_code("EUR"));
        for bad in ["eur", "EU", "EURO", "E1R", ""] {
            assert!(!is_currency_code(bad), "{bad}");
        }
    }
}
