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
}
