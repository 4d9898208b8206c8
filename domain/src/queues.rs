//! Agents' work queues: what each holds and how long a claim on an item lasts (how long an
//! item may wait before it breaches its SLA is the tenant's setting:
//! `settings::QueueSlas`). A queue's items are derived from open work
//! (orderdesk keeps no copy of them): an item leaves its queue when its work is done.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A work queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueId {
    /// Orders whose fraud state is `review`; an item is an order id.
    FraudReview,
    /// Customers' cancel requests waiting for an agent (`pending_review`); an item is a
    /// request id.
    CancelReview,
    /// Open support cases whose newest message is the customer's; an item is a case id.
    Cases,
    /// Open tasks; an item is a task id.
    Tasks,
}

impl QueueId {
    pub const ALL: [QueueId; 4] = [
        QueueId::FraudReview,
        QueueId::CancelReview,
        QueueId::Cases,
        QueueId::Tasks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueId::FraudReview => "fraud_review",
            QueueId::CancelReview => "cancel_review",
            QueueId::Cases => "cases",
            QueueId::Tasks => "tasks",
        }
    }

    pub fn parse(s: &str) -> Option<QueueId> {
        QueueId::ALL.into_iter().find(|q| q.as_str() == s)
    }
}

/// A claim lasts this long unless the claimer asks otherwise.
pub const DEFAULT_CLAIM_MINUTES: i64 = 15;
/// The longest claim: an item an agent walked away from is back in its queue by then.
pub const MAX_CLAIM_MINUTES: i64 = 240;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_queue_parses_from_its_name() {
        for q in QueueId::ALL {
            assert_eq!(QueueId::parse(q.as_str()), Some(q));
        }
        assert_eq!(QueueId::parse("returns"), None);
    }
}
