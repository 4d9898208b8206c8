//! Agents' tasks: what kind of work, and where a task stands.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a task asks an agent to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Collect a parcel (a carrier pickup, a return from a store).
    Pickup,
    CallCustomer,
    /// Hand the matter to someone with more say.
    Escalate,
}

impl TaskKind {
    pub const ALL: [TaskKind; 3] = [TaskKind::Pickup, TaskKind::CallCustomer, TaskKind::Escalate];

    pub fn parse(s: &str) -> Option<TaskKind> {
        TaskKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Pickup => "pickup",
            TaskKind::CallCustomer => "call_customer",
            TaskKind::Escalate => "escalate",
        }
    }
}

/// Where a task stands: `open` until an agent closes it as `done` or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    Open,
    Done,
    Cancelled,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 3] = [TaskStatus::Open, TaskStatus::Done, TaskStatus::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Open => "open",
            TaskStatus::Done => "done",
            TaskStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.into_iter().find(|t| t.as_str() == s)
    }
}
