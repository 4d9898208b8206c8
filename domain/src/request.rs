//! A customer's or agent's ask (cancel, return, address change, erasure…) and its lifecycle:
//! it waits for review or is approved, then follows its run to the run's end.

use serde::{Deserialize, Serialize};

/// A request's status: the review states, then its run's statuses. Stored as text under
/// the same names (`requests.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(
    feature = "sqlx",
    derive(sqlx::Type),
    sqlx(type_name = "text", rename_all = "snake_case")
)]
pub enum RequestStatus {
    /// Waits for an agent to approve or reject it.
    PendingReview,
    /// Approved; its run is about to start.
    Approved,
    Queued,
    Running,
    Succeeded,
    Failed,
    Compensated,
    Cancelled,
    Rejected,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 9] = [
        RequestStatus::PendingReview,
        RequestStatus::Approved,
        RequestStatus::Queued,
        RequestStatus::Running,
        RequestStatus::Succeeded,
        RequestStatus::Failed,
        RequestStatus::Compensated,
        RequestStatus::Cancelled,
        RequestStatus::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::PendingReview => "pending_review",
            RequestStatus::Approved => "approved",
            RequestStatus::Queued => "queued",
            RequestStatus::Running => "running",
            RequestStatus::Succeeded => "succeeded",
            RequestStatus::Failed => "failed",
            RequestStatus::Compensated => "compensated",
            RequestStatus::Cancelled => "cancelled",
            RequestStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<RequestStatus> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Open requests block another of the same kind for the same order.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RequestStatus::PendingReview
                | RequestStatus::Approved
                | RequestStatus::Queued
                | RequestStatus::Running
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for s in RequestStatus::ALL {
            assert_eq!(RequestStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(RequestStatus::parse("done"), None);
        assert!(RequestStatus::PendingReview.is_open());
        assert!(!RequestStatus::Succeeded.is_open());
    }
}
