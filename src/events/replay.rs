//! Replay of an order's recorded events: the run input shared by the admin endpoint
//! (`POST /v1/admin/orders/{order_id}/replay-events`) and the `events.replay` action.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The workflow (queue `events`) that re-delivers the events.
pub const WORKFLOW: &str = "replay_events";
/// The most events one replay re-delivers; a larger history must be replayed in windows.
pub const MAX_EVENTS: usize = 10_000;
/// The `target` naming the Redis Stream instead of a webhook.
pub const STREAM: &str = "stream";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayInput {
    pub order_id: String,
    /// A webhook id, or `stream`.
    pub target: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    #[serde(default)]
    pub types: Vec<String>,
}
