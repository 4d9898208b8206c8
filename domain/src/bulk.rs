//! Bulk status changes: the run input of `bulk_update_status` and its bounds. The orders are
//! chosen with the admin search language (`search::Criteria`); each becomes an item of the
//! job, carried out by a run of the action's own workflow.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::transitions::OrderAction;

/// Most orders one bulk job may change (more → 422 at acceptance: narrow the filter).
pub const MAX_BULK_ORDERS: usize = 10_000;

/// The status changes a bulk job can make (each is also a single-order admin endpoint;
/// `cancel` is the agent's forced cancellation, with its refund and restock choices).
pub const BULK_ACTIONS: [OrderAction; 6] = [
    OrderAction::Hold,
    OrderAction::Release,
    OrderAction::Confirm,
    OrderAction::Close,
    OrderAction::Reopen,
    OrderAction::Cancel,
];

/// Most lines one import may hold.
pub const MAX_IMPORT_LINES: usize = 10_000;

/// One order's change: what a bulk job does to each order, or one line of an import.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemChange {
    pub action: OrderAction,
    /// The hold's reason, the release's resolution or the agent's note.
    pub reason: String,
    /// A hold's duration (minutes).
    pub duration_minutes: Option<u32>,
    /// A cancellation's choices (cancel only, where both are required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<CancelChoice>,
}

/// What a forced cancellation does besides cancelling, as the single-order force-cancel
/// asks it: both are the agent's explicit choice, never a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelChoice {
    /// Refund what is left on each captured payment.
    pub refund: bool,
    /// Release the lines' stock at Inventory.
    pub restock: bool,
}

/// Who asked for a long job of changes: each order's change is recorded as theirs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requester {
    /// `agent:agt_alice`, or `key:<id>`.
    pub requested_by: String,
    /// Their roles, as each order's audit record names them.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// The input of a `bulk_update_status` run: the search's filter and text as the agent sent
/// them (parsed again, and so validated again, by the step that selects the orders), and
/// the change every order gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkStatusInput {
    pub filter: Option<Value>,
    pub text: Option<String>,
    #[serde(flatten)]
    pub change: ItemChange,
    #[serde(flatten)]
    pub requester: Requester,
}

/// The input of an `import_orders` run: its items (one per line, each with its own
/// [`ItemChange`]) were written with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportInput {
    pub lines: usize,
    #[serde(flatten)]
    pub requester: Requester,
    /// Where the lines were read from, when not the request's body (for operators).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ImportSource>,
}

/// An import read from an object in storage rather than the request's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSource {
    /// The object's key under the tenant's own `imports/` prefix, as the caller named it.
    pub object: String,
}

/// The longest object key an import may name.
pub const MAX_IMPORT_KEY_BYTES: usize = 512;

impl ImportSource {
    /// What is wrong with `object` as a key under a tenant's `imports/` prefix: anything
    /// that could step out of that prefix (`..`, a leading `/`, a backslash) or that
    /// stores resolve differently (empty segments, control characters) is refused before
    /// the store is asked.
    pub fn key_problem(object: &str) -> Option<String> {
        if object.is_empty() {
            return Some("a key is required".into());
        }
        if object.len() > MAX_IMPORT_KEY_BYTES {
            return Some(format!("at most {MAX_IMPORT_KEY_BYTES} bytes"));
        }
        if object.contains("..") {
            return Some("`..` is not allowed".into());
        }
        if object.starts_with('/') {
            return Some("a key is relative to the tenant's imports/ prefix".into());
        }
        if object.contains('\\') || object.chars().any(char::is_control) {
            return Some("no backslashes or control characters".into());
        }
        if object
            .split('/')
            .any(|segment| segment.is_empty() || segment == ".")
        {
            return Some("no empty or `.` segments".into());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::ImportSource;

    #[test]
    fn import_keys_stay_under_the_prefix() {
        for good in ["corrections.ndjson", "2026/11/fixes.ndjson", "a.b-c_d"] {
            assert_eq!(ImportSource::key_problem(good), None, "{good}");
        }
        let long = "k".repeat(513);
        for bad in [
            "",
            "../x",
            "a/../b",
            "a/..",
            "/abs",
            "a//b",
            "a/",
            "./a",
            "a\\b",
            "a\nb",
            "a\u{7f}",
            long.as_str(),
        ] {
            assert!(ImportSource::key_problem(bad).is_some(), "{bad:?}");
        }
    }
}
