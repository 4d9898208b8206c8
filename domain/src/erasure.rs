//! Erasing a customer's personal data (the `erase_customer` workflow).

use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, RequestId};

/// The `requests.kind` of an erasure; one open per customer (its `order_id` is the customer).
pub const REQUEST_KIND: &str = "erase";

/// The input of the `erase_customer` workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EraseRunInput {
    pub customer_id: CustomerId,
    pub request_id: RequestId,
    /// The erasure's own `Idempotency-Key`, kept so a retry of the erase request still
    /// replays its answer after the customer's other keys are gone.
    pub keep_idempotency_key: Option<String>,
}
