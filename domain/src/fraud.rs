//! Fraud reviews of an order: flagging it for review, ending the review (cleared or
//! confirmed), and which of these the order's fraud state allows now. The state itself is
//! the Orders service's (`Order::fraud_state`); orderdesk only asks for changes.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cancel::{BlockedReason, reason};
use super::ids::OrderId;
use super::order::FraudState;

/// An agent's fraud action on one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FraudAction {
    /// Flag for review (`fraud_state` becomes `review`).
    Flag,
    /// End the review (`cleared` or `confirmed`).
    Unflag,
    /// Give the open review to an agent or team.
    AssignReview,
}

impl FraudAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FraudAction::Flag => "flag_fraud",
            FraudAction::Unflag => "unflag_fraud",
            FraudAction::AssignReview => "assign_review",
        }
    }

    /// The workflow that changes the order's fraud state at the Orders service; `None` for
    /// what only orderdesk records (the review's assignee).
    pub fn workflow(self) -> Option<&'static str> {
        match self {
            FraudAction::Flag => Some("flag_fraud"),
            FraudAction::Unflag => Some("unflag_fraud"),
            FraudAction::AssignReview => None,
        }
    }
}

/// How an agent ends a review.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// Not fraud.
    #[default]
    Cleared,
    /// Fraud.
    Confirmed,
}

impl ReviewOutcome {
    pub fn state(self) -> FraudState {
        match self {
            ReviewOutcome::Cleared => FraudState::Cleared,
            ReviewOutcome::Confirmed => FraudState::Confirmed,
        }
    }
}

/// The input of `flag_fraud` and `unflag_fraud`: the fraud state to set at the Orders service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FraudRunInput {
    pub order_id: OrderId,
    pub state: FraudState,
    pub reason: String,
}

/// Whether `action` applies to an order whose fraud state is `state`: only an order not in
/// review can be flagged; only one in review can be unflagged or assigned.
pub fn check(action: FraudAction, state: Option<FraudState>) -> Result<(), BlockedReason> {
    let in_review = state == Some(FraudState::Review);
    match action {
        FraudAction::Flag if in_review => Err(reason(
            "order.blocked.already_flagged",
            "the order is already flagged for fraud review",
        )),
        FraudAction::Unflag | FraudAction::AssignReview if !in_review => Err(reason(
            "order.blocked.not_flagged",
            "the order is not flagged for fraud review",
        )),
        _ => Ok(()),
    }
}

/// Whether `action` may start while a run changing the order's fraud state is still queued
/// or running (`change_in_flight`): a flag or unflag waits for it (its outcome decides
/// whether the next one applies); an assignment does not.
pub fn check_in_flight(action: FraudAction, change_in_flight: bool) -> Result<(), BlockedReason> {
    match action {
        FraudAction::Flag | FraudAction::Unflag if change_in_flight => Err(reason(
            "order.blocked.fraud_change_in_progress",
            "a change of the order's fraud state is in progress; retry once its job has ended",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_or_unflag_waits_for_the_change_in_flight_and_an_assignment_does_not() {
        use FraudAction::*;
        for action in [Flag, Unflag, AssignReview] {
            assert!(check_in_flight(action, false).is_ok());
        }
        for action in [Flag, Unflag] {
            assert_eq!(
                check_in_flight(action, true).unwrap_err().code,
                "order.blocked.fraud_change_in_progress"
            );
        }
        assert!(check_in_flight(AssignReview, true).is_ok());
    }

    #[test]
    fn only_an_order_in_review_is_unflagged_or_assigned_and_never_flagged_twice() {
        use FraudAction::*;
        let review = Some(FraudState::Review);
        assert!(check(Flag, None).is_ok());
        assert!(check(Flag, Some(FraudState::Cleared)).is_ok());
        assert_eq!(
            check(Flag, review).unwrap_err().code,
            "order.blocked.already_flagged"
        );
        assert!(check(Unflag, review).is_ok() && check(AssignReview, review).is_ok());
        for state in [None, Some(FraudState::Cleared), Some(FraudState::Confirmed)] {
            assert_eq!(
                check(Unflag, state).unwrap_err().code,
                "order.blocked.not_flagged"
            );
            assert!(check(AssignReview, state).is_err());
        }
    }
}
