//! Two-agent approval of high-risk actions: which actions a tenant may put behind a second
//! agent's approval, and the states of an approval.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An action the tenant's settings (`approvals_required_for`) can hold for approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HighRiskAction {
    /// `POST /v1/admin/keys`
    KeyCreation,
    /// `POST /v1/admin/orders/{id}/legal-hold/remove`
    LegalHoldRemoval,
    /// `POST /v1/admin/orders/{id}/impersonate-customer`
    Impersonation,
    /// `POST /v1/admin/payments/{id}/refund`: every refund when named here, and any refund
    /// above the tenant's `refund_approval_threshold_minor` whatever this list says. The
    /// approval's subject is the payment.
    Refund,
    /// `POST /v1/admin/returns/{id}/issue-refund`: held as a payment refund is (when
    /// `refund` is named in this list, or above the threshold). The approval's subject is
    /// the return (RMA id).
    ReturnRefund,
}

impl HighRiskAction {
    pub fn as_str(self) -> &'static str {
        match self {
            HighRiskAction::KeyCreation => "key_creation",
            HighRiskAction::LegalHoldRemoval => "legal_hold_removal",
            HighRiskAction::Impersonation => "impersonation",
            HighRiskAction::Refund => "refund",
            HighRiskAction::ReturnRefund => "return_refund",
        }
    }

    pub fn parse(s: &str) -> Option<HighRiskAction> {
        [
            HighRiskAction::KeyCreation,
            HighRiskAction::LegalHoldRemoval,
            HighRiskAction::Impersonation,
            HighRiskAction::Refund,
            HighRiskAction::ReturnRefund,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}

/// Where an approval stands: `pending_approval` → `approved` (by another agent) →
/// `executed` (by its requester, once), or `rejected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    PendingApproval,
    Approved,
    Rejected,
    Executed,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::PendingApproval => "pending_approval",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
            ApprovalStatus::Executed => "executed",
        }
    }

    pub fn parse(s: &str) -> Option<ApprovalStatus> {
        [
            ApprovalStatus::PendingApproval,
            ApprovalStatus::Approved,
            ApprovalStatus::Rejected,
            ApprovalStatus::Executed,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }
}
