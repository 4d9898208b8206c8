//! The archive of what orderdesk holds about one customer (a GDPR subject access export,
//! `POST /v1/admin/gdpr/export`): the request ([`SubjectExportRequest`]), the typed run input
//! of the `export_subject` workflow ([`SubjectExportRunInput`]), the files of the archive
//! ([`FILES`]) and the rules of what the subject is told ([`order_for_subject`],
//! [`audit_is_told`]).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{CustomerId, SubjectExportId};
use crate::order::Order;

/// The `format` member of the archive's manifest.
pub const FORMAT: &str = "orderdesk.subject_export.v1";
/// The manifest's name in the archive.
pub const MANIFEST: &str = "manifest.json";

/// The data files of the archive, in archive order: one JSON array per kind.
pub const FILES: [&str; 8] = [
    "orders.json",
    "requests.json",
    "support_cases.json",
    "support_messages.json",
    "subscriptions.json",
    "returns.json",
    "documents.json",
    "audit.json",
];

/// An export of one customer's data, as an agent asks for it. Other members are refused.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectExportRequest {
    /// The customer (data subject), e.g. `cus_0001`: one of the caller's tenant.
    pub customer_id: String,
    /// Why (e.g. the ticket of the subject's access request): required, at most 500
    /// characters; kept in the audit log, sealed under the customer's key.
    pub reason: String,
}

/// The `export_subject` workflow's input: the `subject_exports` row it fills and whose data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectExportRunInput {
    pub export_id: SubjectExportId,
    pub customer_id: CustomerId,
}

/// An order as the subject gets it: the read model's document without what orderdesk keeps
/// for fraud prevention and internal work (agents' notes, the fraud review state, the risk
/// assessment). Everything else — lines, totals, payments, shipments, address, email,
/// status — is theirs.
pub fn order_for_subject(mut order: Order) -> Order {
    order.notes.clear();
    order.fraud_state = None;
    order.risk = None;
    order
}

/// Audit actions about a subject's orders that the archive leaves out: fraud reviews and
/// legal holds (investigations the subject is not told of) and agents' internal notes.
pub const WITHHELD_AUDIT_ACTIONS: [&str; 6] = [
    "order.flag_fraud",
    "order.unflag_fraud",
    "order.assign_review",
    "order.legal_hold",
    "order.remove_legal_hold",
    "support.note_added",
];

/// Whether an audit record with `action` goes into the subject's archive.
pub fn audit_is_told(action: &str) -> bool {
    !WITHHELD_AUDIT_ACTIONS.contains(&action)
}

/// How many records of each kind an archive holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SubjectCounts {
    pub orders: u64,
    pub requests: u64,
    pub support_cases: u64,
    pub support_messages: u64,
    /// Messages with an attachment (its metadata only: name, type, size, sha256).
    pub attachments: u64,
    pub subscriptions: u64,
    pub returns: u64,
    pub documents: u64,
    pub audit: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn investigations_and_internal_notes_are_withheld_the_rest_told() {
        for action in ["order.flag_fraud", "order.legal_hold", "support.note_added"] {
            assert!(!audit_is_told(action), "{action}");
        }
        for action in [
            "order.hold",
            "order.viewed",
            "customer.erase_requested",
            "support.agent_replied",
        ] {
            assert!(audit_is_told(action), "{action}");
        }
    }

    #[test]
    fn the_request_refuses_unknown_members() {
        let ok: SubjectExportRequest =
            serde_json::from_str(r#"{"customer_id":"cus_1","reason":"SAR-1"}"#).unwrap();
        assert_eq!(ok.customer_id, "cus_1");
        assert!(
            serde_json::from_str::<SubjectExportRequest>(
                r#"{"customer_id":"cus_1","reason":"x","format":"csv"}"#
            )
            .is_err()
        );
    }
}
