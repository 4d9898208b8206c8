//! Customers writing to support (the `notify_support` workflow tells support about it).

use serde::{Deserialize, Serialize};

/// The input of the `notify_support` workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifySupportInput {
    pub order_id: String,
    pub order_number: String,
    pub case_id: String,
    pub message_id: String,
    /// Whether this message opened the case.
    pub case_created: bool,
    pub has_attachment: bool,
    /// Support's address (the tenant's setting).
    pub to: String,
}
