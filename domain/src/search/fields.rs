//! The fields a search may name: what each holds, which operators it takes, which values a
//! closed field accepts, and which sorts and aggregations accept it.

use serde::Serialize;

use crate::order::{FraudState, OrderStatus};

/// A searchable field of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Id,
    Number,
    CustomerId,
    Email,
    Status,
    PaymentStatus,
    FulfillmentStatus,
    ExternalRef,
    Channel,
    Currency,
    TotalMinor,
    PlacedAt,
    UpdatedAt,
    Tags,
    Sku,
    TrackingNumber,
    OnHold,
    FraudState,
}

/// What a field holds; it decides the type of an operator's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One string, compared exactly (`contains` on `email` is a substring match).
    Keyword,
    Integer,
    /// An instant, written in RFC 3339.
    Time,
    /// A set of strings: an order's tags, the SKUs of its lines, its tracking numbers.
    KeywordSet,
    Boolean,
}

/// A comparison a condition makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Eq,
    In,
    Gte,
    Lte,
    Gt,
    Lt,
    /// A set holds the value; on `email`, the address contains it (case-insensitive).
    Contains,
    /// `true`: the field has a value (a set is not empty); `false`: it has none.
    Exists,
}

impl Op {
    pub const ALL: [Op; 8] = [
        Op::Eq,
        Op::In,
        Op::Gte,
        Op::Lte,
        Op::Gt,
        Op::Lt,
        Op::Contains,
        Op::Exists,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::In => "in",
            Op::Gte => "gte",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Lt => "lt",
            Op::Contains => "contains",
            Op::Exists => "exists",
        }
    }

    pub fn parse(name: &str) -> Option<Op> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }
}

const KEY_OPS: &[Op] = &[Op::Eq, Op::In];
const OPTIONAL_KEY_OPS: &[Op] = &[Op::Eq, Op::In, Op::Exists];
const RANGE_OPS: &[Op] = &[Op::Gte, Op::Lte, Op::Gt, Op::Lt];
const AMOUNT_OPS: &[Op] = &[Op::Eq, Op::Gte, Op::Lte, Op::Gt, Op::Lt];
const SET_OPS: &[Op] = &[Op::Contains, Op::In, Op::Exists];

/// Payment statuses of `domain::order::Payment::status`.
pub const PAYMENT_STATUSES: &[&str] = &[
    "authorized",
    "captured",
    "partially_refunded",
    "refunded",
    "voided",
];

/// How far an order's goods have gone: `unfulfilled` (no shipment yet), `partial` (some
/// lines not shipped yet), else the least advanced status among its shipments.
pub const FULFILLMENT_STATUSES: &[&str] = &[
    "unfulfilled",
    "partial",
    "label_created",
    "in_transit",
    "out_for_delivery",
    "delivered",
];

/// Fields a search may sort by; `id` always breaks ties.
pub const SORTABLE: &[Field] = &[Field::PlacedAt, Field::UpdatedAt, Field::TotalMinor];
/// Fields a `terms` aggregation may count by.
pub const TERMS: &[Field] = &[
    Field::Status,
    Field::PaymentStatus,
    Field::FulfillmentStatus,
    Field::Channel,
    Field::Currency,
    Field::FraudState,
    Field::OnHold,
    Field::Tags,
    Field::Sku,
    Field::CustomerId,
];
/// Fields a `histogram` aggregation may bucket.
pub const HISTOGRAM: &[Field] = &[Field::PlacedAt, Field::UpdatedAt];

impl Field {
    pub const ALL: [Field; 18] = [
        Field::Id,
        Field::Number,
        Field::CustomerId,
        Field::Email,
        Field::Status,
        Field::PaymentStatus,
        Field::FulfillmentStatus,
        Field::ExternalRef,
        Field::Channel,
        Field::Currency,
        Field::TotalMinor,
        Field::PlacedAt,
        Field::UpdatedAt,
        Field::Tags,
        Field::Sku,
        Field::TrackingNumber,
        Field::OnHold,
        Field::FraudState,
    ];

    /// The name a search writes.
    pub fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Number => "number",
            Field::CustomerId => "customer_id",
            Field::Email => "email",
            Field::Status => "status",
            Field::PaymentStatus => "payment_status",
            Field::FulfillmentStatus => "fulfillment_status",
            Field::ExternalRef => "external_ref",
            Field::Channel => "channel",
            Field::Currency => "currency",
            Field::TotalMinor => "total_minor",
            Field::PlacedAt => "placed_at",
            Field::UpdatedAt => "updated_at",
            Field::Tags => "tags",
            Field::Sku => "sku",
            Field::TrackingNumber => "tracking_number",
            Field::OnHold => "on_hold",
            Field::FraudState => "fraud_state",
        }
    }

    pub fn parse(name: &str) -> Option<Field> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn names(fields: &[Field]) -> Vec<&'static str> {
        fields.iter().map(|f| f.name()).collect()
    }

    pub fn kind(self) -> FieldKind {
        match self {
            Field::TotalMinor => FieldKind::Integer,
            Field::PlacedAt | Field::UpdatedAt => FieldKind::Time,
            Field::Tags | Field::Sku | Field::TrackingNumber => FieldKind::KeywordSet,
            Field::OnHold => FieldKind::Boolean,
            _ => FieldKind::Keyword,
        }
    }

    /// The operators the field takes.
    pub fn operators(self) -> &'static [Op] {
        match self {
            Field::Email => &[Op::Eq, Op::In, Op::Contains],
            Field::PaymentStatus | Field::ExternalRef | Field::Channel | Field::FraudState => {
                OPTIONAL_KEY_OPS
            }
            Field::TotalMinor => AMOUNT_OPS,
            Field::PlacedAt | Field::UpdatedAt => RANGE_OPS,
            Field::Tags | Field::Sku | Field::TrackingNumber => SET_OPS,
            Field::OnHold => &[Op::Eq],
            _ => KEY_OPS,
        }
    }

    /// The only values a closed field takes (anything else matches nothing, so it is
    /// refused as a mistake); `None` for open fields.
    pub fn closed_values(self) -> Option<Vec<&'static str>> {
        match self {
            Field::Status => Some(OrderStatus::ALL.iter().map(|s| s.as_str()).collect()),
            Field::PaymentStatus => Some(PAYMENT_STATUSES.to_vec()),
            Field::FulfillmentStatus => Some(FULFILLMENT_STATUSES.to_vec()),
            Field::FraudState => Some(FraudState::ALL.iter().map(|s| s.as_str()).collect()),
            _ => None,
        }
    }
}

/// The names of `ops`, for error messages.
pub fn op_names(ops: &[Op]) -> Vec<&'static str> {
    ops.iter().map(|op| op.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_every_field_has_operators() {
        for f in Field::ALL {
            assert_eq!(Field::parse(f.name()), Some(f));
            assert!(!f.operators().is_empty(), "{f:?}");
        }
        for op in Op::ALL {
            assert_eq!(Op::parse(op.name()), Some(op));
        }
        assert_eq!(Field::parse("colour"), None);
    }

    #[test]
    fn closed_values_come_from_the_domain_enums() {
        let statuses = Field::Status.closed_values().unwrap();
        assert_eq!(statuses.len(), OrderStatus::ALL.len());
        assert!(statuses.contains(&"on_hold"));
        assert_eq!(
            Field::FraudState.closed_values().unwrap(),
            ["review", "cleared", "confirmed"]
        );
        assert_eq!(Field::Channel.closed_values(), None);
    }
}
