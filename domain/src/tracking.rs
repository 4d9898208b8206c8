//! The Tracking service's wire types (`/tracking/v1/trackings/{tracking_number}`), shared by
//! the upstream client, the sandbox and the customer's `track` endpoint.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One scan of a parcel by its carrier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Checkpoint {
    pub at: DateTime<Utc>,
    /// City and country code, e.g. `Leipzig, DE`.
    pub location: String,
    pub description: String,
    /// The parcel's status after this scan: `label_created`, `in_transit`,
    /// `out_for_delivery` or `delivered`.
    pub status: String,
}

/// A carrier's live view of one parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Tracking {
    pub tracking_number: String,
    pub carrier: String,
    /// `label_created`, `in_transit`, `out_for_delivery` or `delivered`.
    pub status: String,
    pub eta: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Oldest first.
    pub checkpoints: Vec<Checkpoint>,
}

/// Whether `s` looks like a carrier's tracking number: 4 to 40 letters, digits or dashes.
pub fn is_valid_tracking_number(s: &str) -> bool {
    (4..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_numbers_are_plain() {
        assert!(is_valid_tracking_number("TRK7000000000"));
        assert!(is_valid_tracking_number("1Z-999-AA1"));
        for bad in [
            "",
            "abc",
            "has space 123",
            "x/../y",
            &"9".repeat(41),
            "ÄÖÜ12345",
        ] {
            assert!(!is_valid_tracking_number(bad), "{bad:?}");
        }
    }
}
