//! Which of an agent's actions an order allows now, and why not. One function ([`check`])
//! serves the endpoints (409 `order.blocked.*`), their dry runs, the workflows' re-checks
//! and the admin order view's `allowed_actions`, so they never disagree.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cancel::{BlockedReason, Canceller, reason, status_blocks};
use super::ids::OrderId;
use super::order::OrderStatus;

/// The input of the transition workflows (`hold_order`, `release_order`, `confirm_order`,
/// `close_order`, `reopen_order`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionRunInput {
    pub order_id: OrderId,
    /// Told to the Orders service: the hold's reason, the release's resolution, …
    pub reason: String,
    /// The hold placed or released (`hold_order`, `release_order`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_id: Option<uuid::Uuid>,
    /// Who asked: an agent's principal, or `system:hold-expiry`.
    pub requested_by: String,
    /// The version the Orders service must still be at when the change reaches it: the one
    /// the caller's precondition (`If-Match`, body `version`) named; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<i64>,
}

/// The workflow that releases a hold (an agent's release, or the expiry's).
pub const RELEASE_WORKFLOW: &str = "release_order";

/// Who releases an expired hold.
pub const HOLD_EXPIRY: &str = "system:hold-expiry";

/// An agent's action on one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    Hold,
    Release,
    Confirm,
    Close,
    Reopen,
    LegalHold,
    RemoveLegalHold,
    /// Cancelling as an agent (approve-cancel, force-cancel).
    Cancel,
}

impl OrderAction {
    pub const ALL: [OrderAction; 8] = [
        OrderAction::Hold,
        OrderAction::Release,
        OrderAction::Confirm,
        OrderAction::Close,
        OrderAction::Reopen,
        OrderAction::LegalHold,
        OrderAction::RemoveLegalHold,
        OrderAction::Cancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderAction::Hold => "hold",
            OrderAction::Release => "release",
            OrderAction::Confirm => "confirm",
            OrderAction::Close => "close",
            OrderAction::Reopen => "reopen",
            OrderAction::LegalHold => "legal_hold",
            OrderAction::RemoveLegalHold => "remove_legal_hold",
            OrderAction::Cancel => "cancel",
        }
    }

    /// The workflow of `workflows.toml` that carries the action out at the Orders service;
    /// `None` for what only orderdesk records (legal holds) or has its own workflow (cancel).
    pub fn workflow(self) -> Option<&'static str> {
        Some(match self {
            OrderAction::Hold => "hold_order",
            OrderAction::Release => RELEASE_WORKFLOW,
            OrderAction::Confirm => "confirm_order",
            OrderAction::Close => "close_order",
            OrderAction::Reopen => "reopen_order",
            _ => return None,
        })
    }

    /// The action whose workflow is `kind`.
    pub fn of_workflow(kind: &str) -> Option<OrderAction> {
        OrderAction::ALL
            .into_iter()
            .find(|a| a.workflow() == Some(kind))
    }

    /// Whether a legal hold forbids it: actions that end an order or destroy what it holds.
    /// (Erasure of the customer's data is refused by the same hold, see `erasure`.)
    pub fn is_destructive(self) -> bool {
        matches!(self, OrderAction::Cancel | OrderAction::Close)
    }
}

/// What decides, besides the order's status at the Orders service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    pub status: OrderStatus,
    /// An orderdesk hold is open on the order (placed, or being placed).
    pub held: bool,
    /// Its release already runs (an agent's or the expiry's).
    pub release_running: bool,
    pub legal_hold: bool,
}

/// `order.blocked.legal_hold`: what every destructive action answers while a legal hold is
/// in force, for customers and agents alike.
pub fn legal_hold_blocks() -> BlockedReason {
    reason(
        "order.blocked.legal_hold",
        "the order is under a legal hold; nothing may end or destroy it until the hold is removed",
    )
}

fn status_is(s: &Situation, statuses: &[OrderStatus]) -> bool {
    statuses.contains(&s.status)
}

/// Why `action` is not possible on the order now, if it is not.
pub fn check(action: OrderAction, s: &Situation) -> Result<(), BlockedReason> {
    use OrderStatus::*;
    if s.legal_hold && action.is_destructive() {
        return Err(legal_hold_blocks());
    }
    let blocked = match action {
        OrderAction::Hold if s.held || s.status == OnHold => Some(reason(
            "order.blocked.already_on_hold",
            "the order is already on hold",
        )),
        OrderAction::Hold if status_is(s, &[Pending, Confirmed]) => None,
        OrderAction::Hold => Some(not_open(s.status)),
        OrderAction::Release if s.release_running => Some(reason(
            "order.blocked.release_in_progress",
            "the hold is being released",
        )),
        OrderAction::Release if s.held || s.status == OnHold => None,
        OrderAction::Release => Some(reason(
            "order.blocked.not_on_hold",
            "the order is not on hold",
        )),
        OrderAction::Confirm if s.status == Pending => None,
        OrderAction::Confirm if s.status == OnHold => Some(on_hold()),
        OrderAction::Confirm if status_is(s, &[Cancelled, Closed]) => Some(not_open(s.status)),
        OrderAction::Confirm => Some(reason(
            "order.blocked.already_confirmed",
            "the order is already confirmed",
        )),
        OrderAction::Close if status_is(s, &[Delivered, Cancelled]) => None,
        OrderAction::Close if s.status == Closed => Some(not_open(Closed)),
        OrderAction::Close if s.status == OnHold => Some(on_hold()),
        OrderAction::Close => Some(reason(
            "order.blocked.not_finished",
            "only a delivered or cancelled order can be closed",
        )),
        OrderAction::Reopen if s.status == Closed => None,
        OrderAction::Reopen => Some(reason(
            "order.blocked.not_closed",
            "only a closed order can be reopened",
        )),
        OrderAction::LegalHold if s.legal_hold => Some(reason(
            "order.blocked.already_legal_hold",
            "a legal hold is already in force on the order",
        )),
        OrderAction::LegalHold => None,
        OrderAction::RemoveLegalHold if s.legal_hold => None,
        OrderAction::RemoveLegalHold => Some(reason(
            "order.blocked.no_legal_hold",
            "no legal hold is in force on the order",
        )),
        OrderAction::Cancel => status_blocks(s.status, Canceller::Agent),
    };
    blocked.map_or(Ok(()), Err)
}

/// The actions [`check`] allows now, in [`OrderAction::ALL`]'s order.
pub fn allowed_actions(s: &Situation) -> Vec<OrderAction> {
    OrderAction::ALL
        .into_iter()
        .filter(|a| check(*a, s).is_ok())
        .collect()
}

fn on_hold() -> BlockedReason {
    reason(
        "order.blocked.on_hold",
        "the order is on hold; release it first",
    )
}

/// Cancelled, closed or on its way: no longer open for holds or confirmation.
fn not_open(status: OrderStatus) -> BlockedReason {
    match status {
        OrderStatus::Cancelled => reason(
            "order.blocked.already_cancelled",
            "the order is already cancelled",
        ),
        OrderStatus::Closed => reason("order.blocked.closed", "the order is closed"),
        _ => reason(
            "order.blocked.already_shipped",
            "the order has shipped or is shipping",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    fn at(status: OrderStatus) -> Situation {
        Situation {
            status,
            held: false,
            release_running: false,
            legal_hold: false,
        }
    }

    fn code(action: OrderAction, s: Situation) -> String {
        check(action, &s).err().map(|b| b.code).unwrap_or_default()
    }

    #[test]
    fn a_confirmed_order_can_be_held_cancelled_or_legally_held() {
        assert_eq!(
            allowed_actions(&at(Confirmed)),
            vec![
                OrderAction::Hold,
                OrderAction::LegalHold,
                OrderAction::Cancel
            ]
        );
        assert_eq!(
            code(OrderAction::Confirm, at(Confirmed)),
            "order.blocked.already_confirmed"
        );
    }

    #[test]
    fn holds_are_placed_once_and_released_once() {
        let held = Situation {
            held: true,
            ..at(Confirmed)
        };
        assert_eq!(
            code(OrderAction::Hold, held),
            "order.blocked.already_on_hold"
        );
        assert_eq!(
            code(OrderAction::Hold, at(OnHold)),
            "order.blocked.already_on_hold"
        );
        assert!(check(OrderAction::Release, &held).is_ok());
        let releasing = Situation {
            release_running: true,
            ..held
        };
        assert_eq!(
            code(OrderAction::Release, releasing),
            "order.blocked.release_in_progress"
        );
        assert_eq!(
            code(OrderAction::Release, at(Confirmed)),
            "order.blocked.not_on_hold"
        );
        assert_eq!(
            code(OrderAction::Hold, at(Shipped)),
            "order.blocked.already_shipped"
        );
        assert_eq!(code(OrderAction::Hold, at(Closed)), "order.blocked.closed");
    }

    #[test]
    fn only_finished_orders_close_and_only_closed_ones_reopen() {
        assert!(check(OrderAction::Close, &at(Delivered)).is_ok());
        assert!(check(OrderAction::Close, &at(Cancelled)).is_ok());
        assert_eq!(
            code(OrderAction::Close, at(Shipped)),
            "order.blocked.not_finished"
        );
        assert_eq!(
            code(OrderAction::Close, at(OnHold)),
            "order.blocked.on_hold"
        );
        assert_eq!(code(OrderAction::Close, at(Closed)), "order.blocked.closed");
        assert!(check(OrderAction::Reopen, &at(Closed)).is_ok());
        assert_eq!(
            code(OrderAction::Reopen, at(Delivered)),
            "order.blocked.not_closed"
        );
        assert!(check(OrderAction::Confirm, &at(Pending)).is_ok());
        assert_eq!(
            code(OrderAction::Confirm, at(OnHold)),
            "order.blocked.on_hold"
        );
    }

    #[test]
    fn a_legal_hold_blocks_every_destructive_action_and_only_those() {
        for status in OrderStatus::ALL {
            let s = Situation {
                legal_hold: true,
                ..at(status)
            };
            for action in OrderAction::ALL {
                let blocked_by_law = code(action, s) == "order.blocked.legal_hold";
                assert_eq!(
                    blocked_by_law,
                    action.is_destructive(),
                    "{action:?} at {status:?}"
                );
            }
            assert!(!allowed_actions(&s).contains(&OrderAction::LegalHold));
        }
        assert_eq!(
            code(OrderAction::RemoveLegalHold, at(Confirmed)),
            "order.blocked.no_legal_hold"
        );
    }

    #[test]
    fn every_blocked_code_is_an_order_blocked_code() {
        for status in OrderStatus::ALL {
            for (held, legal_hold) in [(false, false), (true, false), (false, true)] {
                let s = Situation {
                    held,
                    legal_hold,
                    ..at(status)
                };
                for action in OrderAction::ALL {
                    if let Err(b) = check(action, &s) {
                        assert!(b.code.starts_with("order.blocked."), "{}", b.code);
                    }
                }
            }
        }
    }
}
