//! Bulk status changes: the run input of `bulk_update_status` and its bounds. The orders are
//! chosen with the admin search language (`search::Criteria`); each becomes an item of the
//! job, carried out by a run of the action's own workflow.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::transitions::OrderAction;

/// Most orders one bulk job may change (more → 422 at acceptance: narrow the filter).
pub const MAX_BULK_ORDERS: usize = 10_000;

/// The status changes a bulk job can make (each is also a single-order admin endpoint).
pub const BULK_ACTIONS: [OrderAction; 5] = [
    OrderAction::Hold,
    OrderAction::Release,
    OrderAction::Confirm,
    OrderAction::Close,
    OrderAction::Reopen,
];

/// The input of a `bulk_update_status` run: the search's filter and text as the agent sent
/// them (parsed again, and so validated again, by the step that selects the orders).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkStatusInput {
    pub filter: Option<Value>,
    pub text: Option<String>,
    pub action: OrderAction,
    /// The hold's reason, the release's resolution or the agent's note, on every order.
    pub reason: String,
    /// A hold's duration (minutes).
    pub duration_minutes: Option<u32>,
    /// The agent who asked (`agent:agt_alice`, or `key:<id>`): each order's change is
    /// recorded as theirs.
    pub requested_by: String,
    /// Their roles, as each order's audit record names them.
    #[serde(default)]
    pub roles: Vec<String>,
}
