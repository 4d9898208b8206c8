//! Customers writing to support (the `notify_support` workflow tells support about it).

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_case_is_named_by_its_customer_or_its_order() {
        assert_eq!(case_subject(Some("  Broken lid "), "100001"), "Broken lid");
        assert_eq!(case_subject(Some("   "), "100001"), "Order 100001");
        assert_eq!(case_subject(None, "100001"), "Order 100001");
    }
}
