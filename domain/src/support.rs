//! Customers writing to support (the `notify_support` workflow tells support about it).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cancel::{BlockedReason, reason};
use super::ids::OrderId;

/// The input of the `notify_support` workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifySupportInput {
    pub order_id: OrderId,
    pub order_number: String,
    pub case_id: String,
    pub message_id: String,
    /// Whether this message opened the case.
    pub case_created: bool,
    pub has_attachment: bool,
    /// Support's address (the tenant's setting).
    pub to: String,
}

/// The subject of a support case opened by a message: the customer's own (trimmed), else
/// "Order <number>".
pub fn case_subject(given: Option<&str>, order_number: &str) -> String {
    match given.map(str::trim).filter(|s| !s.is_empty()) {
        Some(subject) => subject.to_string(),
        None => format!("Order {order_number}"),
    }
}

/// An agent's action on a support case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseAction {
    /// Give the case to an agent or a team.
    Assign,
    /// Close it with a resolution (it leaves the `cases` queue).
    Close,
}

impl CaseAction {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseAction::Assign => "assign",
            CaseAction::Close => "close",
        }
    }
}

/// Whether `action` applies to a case whose status is `status` (`open`, `pending` or
/// `closed`): a closed case is neither closed again nor assigned (the customer's next
/// message reopens it).
pub fn check_case(action: CaseAction, status: &str) -> Result<(), BlockedReason> {
    match (action, status) {
        (CaseAction::Close, "closed") => Err(reason(
            "case.blocked.already_closed",
            "the case is already closed",
        )),
        (CaseAction::Assign, "closed") => Err(reason(
            "case.blocked.closed",
            "the case is closed; it reopens when the customer writes again",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_case_is_neither_closed_again_nor_assigned() {
        for status in ["open", "pending"] {
            assert!(check_case(CaseAction::Assign, status).is_ok());
            assert!(check_case(CaseAction::Close, status).is_ok());
        }
        assert_eq!(
            check_case(CaseAction::Close, "closed").unwrap_err().code,
            "case.blocked.already_closed"
        );
        assert_eq!(
            check_case(CaseAction::Assign, "closed").unwrap_err().code,
            "case.blocked.closed"
        );
    }

    #[test]
    fn a_case_is_named_by_its_customer_or_its_order() {
        assert_eq!(case_subject(Some("  Broken lid "), "100001"), "Broken lid");
        assert_eq!(case_subject(Some("   "), "100001"), "Order 100001");
        assert_eq!(case_subject(None, "100001"), "Order 100001");
    }
}
