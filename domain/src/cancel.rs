//! Who may cancel an order, when, and what a cancellation would do. One function serves the
//! request endpoints, dry runs and the workflow's eligibility step, so they never disagree.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ids::{OrderId, RequestId};
use super::order::{Order, OrderStatus};
use super::settings::TenantSettings;

/// Who is asking, which changes the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Canceller {
    /// The customer, bound by the tenant's window and holds.
    Customer,
    /// An agent approving or forcing: no window, holds do not block.
    Agent,
}

/// The workflow of `workflows.toml` that cancels an order.
pub const WORKFLOW: &str = "cancel_order";
/// The `requests.kind` of a cancellation.
pub const REQUEST_KIND: &str = "cancel";

/// The input of the `cancel_order` workflow (see workflows.toml: `refund` and `restock`
/// decide whether those steps run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRunInput {
    pub order_id: OrderId,
    pub reason: Option<String>,
    pub refund: bool,
    pub restock: bool,
    pub canceller: Canceller,
    /// The request it carries out; set when the request is accepted.
    pub request_id: Option<RequestId>,
    /// The version the Orders service must still be at when the change reaches it: the one
    /// the caller's precondition (`If-Match`, body `version`) named; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BlockedReason {
    /// Stable code, e.g. `order.blocked.already_shipped`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RestockLine {
    pub line_id: String,
    pub sku: String,
    pub qty: i32,
}

/// What a cancellation would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CancelPlan {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    pub refund_minor: i64,
    pub currency: String,
    pub restock_lines: Vec<RestockLine>,
    pub blocked_reasons: Vec<BlockedReason>,
}

impl CancelPlan {
    pub fn is_blocked(&self) -> bool {
        !self.blocked_reasons.is_empty()
    }
}

pub(crate) fn reason(code: &str, message: &str) -> BlockedReason {
    BlockedReason {
        code: code.into(),
        message: message.into(),
    }
}

/// Why an order in `status` cannot be cancelled by `who`, if it cannot (the window and
/// legal holds aside).
pub fn status_blocks(status: OrderStatus, who: Canceller) -> Option<BlockedReason> {
    Some(match status {
        OrderStatus::Cancelled => reason(
            "order.blocked.already_cancelled",
            "the order is already cancelled",
        ),
        OrderStatus::Shipped | OrderStatus::PartiallyShipped | OrderStatus::Delivered => reason(
            "order.blocked.already_shipped",
            "the order has shipped; ask for a return instead",
        ),
        OrderStatus::Closed => reason("order.blocked.closed", "the order is closed"),
        OrderStatus::OnHold if who == Canceller::Customer => reason(
            "order.blocked.on_hold",
            "the order is on hold; support will contact you",
        ),
        _ => return None,
    })
}

/// The plan of cancelling `order` now; `refund`/`restock` say what the caller asked for.
pub fn plan_cancel(
    order: &Order,
    settings: &TenantSettings,
    who: Canceller,
    refund: bool,
    restock: bool,
    now: DateTime<Utc>,
) -> CancelPlan {
    let mut blocked: Vec<BlockedReason> = status_blocks(order.status, who).into_iter().collect();
    if who == Canceller::Customer
        && blocked.is_empty()
        && now > order.placed_at + Duration::minutes(settings.cancel_window_minutes)
    {
        blocked.push(reason(
            "order.blocked.cancel_window_expired",
            "the cancellation window for this order has passed",
        ));
    }
    let restock_lines = if restock {
        order
            .lines
            .iter()
            .map(|l| RestockLine {
                line_id: l.id.clone(),
                sku: l.sku.clone(),
                qty: l.qty,
            })
            .collect()
    } else {
        Vec::new()
    };
    CancelPlan {
        order_id: order.id.clone(),
        refund_minor: if refund { order.refundable_minor() } else { 0 },
        currency: order.currency.clone(),
        restock_lines,
        blocked_reasons: blocked,
    }
}

/// Whether a customer's cancellation must wait for an agent.
pub fn needs_review(order: &Order, settings: &TenantSettings) -> bool {
    settings.cancel_requires_review
        || settings
            .cancel_review_above_minor
            .is_some_and(|limit| order.totals.total_minor > limit)
}
