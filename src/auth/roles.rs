//! THE roles → permissions table of the admin API, and its markdown rendering for the README.
//!
//! Changing who may do what is a one-line edit of [`ROLE_PERMISSIONS`]; the README table is
//! generated from it by [`permissions_markdown`] and a test keeps the two in sync.

use std::fmt;
use std::str::FromStr;

/// A role an agent token may carry in its `roles` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Admin,
    CsLead,
    CsAgent,
    Billing,
    Fulfillment,
    Fraud,
    Finance,
    Auditor,
}

/// Something an agent may do; an admin endpoint requires exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    OrdersRead,
    OrdersSearch,
    OrdersEdit,
    OrdersHold,
    OrdersLegalHold,
    OrdersBulk,
    OrdersCancelApprove,
    OrdersCancelForce,
    OrdersRefund,
    PaymentsRead,
    PaymentsCapture,
    OrdersFulfil,
    OrdersExport,
    ReturnsApprove,
    ReturnsInspect,
    FraudReview,
    CustomersImpersonate,
    GdprExport,
    Reconcile,
    AuditRead,
    JobsRead,
    JobsRetry,
    JobsCancel,
    TenantSettingsWrite,
    KeysManage,
    WebhooksManage,
    ApprovalsDecide,
    QueuesWork,
}

use Permission as P;

/// Who may do what. One row per role, in the order the README shows them.
pub const ROLE_PERMISSIONS: &[(Role, &[Permission])] = &[
    (Role::Admin, Permission::ALL),
    (
        Role::CsLead,
        &[
            P::OrdersRead,
            P::OrdersSearch,
            P::OrdersEdit,
            P::OrdersHold,
            P::OrdersLegalHold,
            P::OrdersBulk,
            P::OrdersCancelApprove,
            P::OrdersCancelForce,
            P::OrdersRefund,
            P::PaymentsRead,
            P::OrdersExport,
            P::ReturnsApprove,
            P::ReturnsInspect,
            P::CustomersImpersonate,
            P::ApprovalsDecide,
            P::AuditRead,
            P::JobsRead,
            P::JobsRetry,
            P::JobsCancel,
            P::QueuesWork,
        ],
    ),
    (
        Role::CsAgent,
        &[
            P::OrdersRead,
            P::OrdersSearch,
            P::OrdersEdit,
            P::OrdersHold,
            P::OrdersCancelApprove,
            P::PaymentsRead,
            P::ReturnsApprove,
            P::JobsRead,
            P::QueuesWork,
        ],
    ),
    (
        Role::Billing,
        &[
            P::OrdersRead,
            P::OrdersSearch,
            P::OrdersRefund,
            P::PaymentsRead,
            P::PaymentsCapture,
            P::JobsRead,
        ],
    ),
    (
        Role::Fulfillment,
        &[
            P::OrdersRead,
            P::OrdersSearch,
            P::OrdersHold,
            P::OrdersFulfil,
            P::ReturnsInspect,
            P::JobsRead,
            P::QueuesWork,
        ],
    ),
    (
        Role::Fraud,
        &[
            P::OrdersRead,
            P::OrdersSearch,
            P::OrdersHold,
            P::OrdersCancelApprove,
            P::FraudReview,
            P::JobsRead,
            P::QueuesWork,
        ],
    ),
    (
        Role::Finance,
        &[
            P::OrdersRead,
            P::OrdersSearch,
            P::PaymentsRead,
            P::OrdersExport,
            P::Reconcile,
            P::JobsRead,
        ],
    ),
    (Role::Auditor, &[P::OrdersRead, P::AuditRead]),
];

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::CsLead,
        Role::CsAgent,
        Role::Billing,
        Role::Fulfillment,
        Role::Fraud,
        Role::Finance,
        Role::Auditor,
    ];

    /// The name used in tokens and in the README.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::CsLead => "cs_lead",
            Role::CsAgent => "cs_agent",
            Role::Billing => "billing",
            Role::Fulfillment => "fulfillment",
            Role::Fraud => "fraud",
            Role::Finance => "finance",
            Role::Auditor => "auditor",
        }
    }

    /// The role's row of [`ROLE_PERMISSIONS`].
    pub fn permissions(self) -> &'static [Permission] {
        ROLE_PERMISSIONS
            .iter()
            .find(|(role, _)| *role == self)
            .map(|(_, perms)| *perms)
            .unwrap_or(&[])
    }

    pub fn grants(self, permission: Permission) -> bool {
        self.permissions().contains(&permission)
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown role {s:?} (known: {})", known.join(", "))
            })
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Permission {
    pub const ALL: &'static [Permission] = &[
        P::OrdersRead,
        P::OrdersSearch,
        P::OrdersEdit,
        P::OrdersHold,
        P::OrdersLegalHold,
        P::OrdersBulk,
        P::OrdersCancelApprove,
        P::OrdersCancelForce,
        P::OrdersRefund,
        P::PaymentsRead,
        P::PaymentsCapture,
        P::OrdersFulfil,
        P::OrdersExport,
        P::ReturnsApprove,
        P::ReturnsInspect,
        P::FraudReview,
        P::CustomersImpersonate,
        P::GdprExport,
        P::Reconcile,
        P::AuditRead,
        P::JobsRead,
        P::JobsRetry,
        P::JobsCancel,
        P::TenantSettingsWrite,
        P::KeysManage,
        P::WebhooksManage,
        P::ApprovalsDecide,
        P::QueuesWork,
    ];

    /// The dotted name shown in errors, audit records and the README.
    pub fn as_str(self) -> &'static str {
        match self {
            P::OrdersRead => "orders.read",
            P::OrdersSearch => "orders.search",
            P::OrdersEdit => "orders.edit",
            P::OrdersHold => "orders.hold",
            P::OrdersLegalHold => "orders.legal_hold",
            P::OrdersBulk => "orders.bulk",
            P::OrdersCancelApprove => "orders.cancel.approve",
            P::OrdersCancelForce => "orders.cancel.force",
            P::OrdersRefund => "orders.refund",
            P::PaymentsRead => "payments.read",
            P::PaymentsCapture => "payments.capture",
            P::OrdersFulfil => "orders.fulfil",
            P::OrdersExport => "orders.export",
            P::ReturnsApprove => "returns.approve",
            P::ReturnsInspect => "returns.inspect",
            P::FraudReview => "fraud.review",
            P::CustomersImpersonate => "customers.impersonate",
            P::GdprExport => "gdpr.export",
            P::Reconcile => "reconcile",
            P::AuditRead => "audit.read",
            P::JobsRead => "jobs.read",
            P::JobsRetry => "jobs.retry",
            P::JobsCancel => "jobs.cancel",
            P::TenantSettingsWrite => "tenant.settings.write",
            P::KeysManage => "keys.manage",
            P::WebhooksManage => "webhooks.manage",
            P::ApprovalsDecide => "approvals.decide",
            P::QueuesWork => "queues.work",
        }
    }

    /// One line for the README table.
    pub fn description(self) -> &'static str {
        match self {
            P::OrdersRead => "read orders, their timeline and customers' order history",
            P::OrdersSearch => "search all of the tenant's orders and aggregate them",
            P::OrdersEdit => "change an order's details; confirm, close or reopen it",
            P::OrdersHold => "place or release a hold on an order",
            P::OrdersLegalHold => "place or remove (with sudo) a legal hold on an order",
            P::OrdersBulk => {
                "change many orders at once with a bulk job (each change also needs its own permission)"
            }
            P::OrdersCancelApprove => "approve or reject a cancellation within the rules",
            P::OrdersCancelForce => "cancel an order the rules would block",
            P::OrdersRefund => {
                "refund payments (with sudo; above the tenant's threshold after a second agent's approval)"
            }
            P::PaymentsRead => {
                "read an order's payments live: captures, refunds, settlements, what is refundable"
            }
            P::PaymentsCapture => "capture authorized payments (with sudo)",
            P::OrdersFulfil => "release, split or reship fulfilments",
            P::OrdersExport => {
                "export orders for finance (CSV, NDJSON, Parquet); list and download exports"
            }
            P::ReturnsApprove => "approve or reject returns and exchanges",
            P::ReturnsInspect => {
                "record the inspection of returned goods (condition, restock, disposition)"
            }
            P::FraudReview => "clear or confirm a fraud review",
            P::CustomersImpersonate => "act on behalf of a customer",
            P::GdprExport => {
                "archive everything orderdesk holds about one customer (GDPR subject access), and reach the archive's download link"
            }
            P::Reconcile => {
                "reconcile orders' money and run reconciliation against the upstream services"
            }
            P::AuditRead => "read the audit log",
            P::JobsRead => "read jobs and workflow runs",
            P::JobsRetry => "retry failed or compensated jobs, one or in bulk by kind",
            P::JobsCancel => "cancel a queued or running job",
            P::TenantSettingsWrite => "change the tenant's settings",
            P::KeysManage => "create, list and revoke the tenant's API keys",
            P::WebhooksManage => "manage the tenant's webhook subscriptions and replay events",
            P::ApprovalsDecide => "list, approve or reject other agents' high-risk requests",
            P::QueuesWork => "claim items of the work queues; create and close tasks",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// [`ROLE_PERMISSIONS`] as a markdown table: one row per permission, one column per role.
pub fn permissions_markdown() -> String {
    let mut out = String::from("| permission | allows |");
    for (role, _) in ROLE_PERMISSIONS {
        out.push_str(&format!(" {role} |"));
    }
    out.push_str("\n|---|---|");
    out.push_str(&":---:|".repeat(ROLE_PERMISSIONS.len()));
    out.push('\n');
    for &permission in Permission::ALL {
        out.push_str(&format!(
            "| `{permission}` | {} |",
            permission.description()
        ));
        for (_, perms) in ROLE_PERMISSIONS {
            out.push_str(if perms.contains(&permission) {
                " ✓ |"
            } else {
                "   |"
            });
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_exactly_one_row() {
        for role in Role::ALL {
            let rows = ROLE_PERMISSIONS.iter().filter(|(r, _)| *r == role).count();
            assert_eq!(rows, 1, "{role}");
        }
        assert_eq!(ROLE_PERMISSIONS.len(), Role::ALL.len());
    }

    #[test]
    fn only_leads_and_admins_force_cancel() {
        assert!(Role::CsAgent.grants(P::OrdersCancelApprove));
        assert!(!Role::CsAgent.grants(P::OrdersCancelForce));
        assert!(Role::CsLead.grants(P::OrdersCancelForce));
        assert!(Role::Admin.grants(P::OrdersCancelForce));
        let forcers: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.grants(P::OrdersCancelForce))
            .collect();
        assert_eq!(forcers, [Role::Admin, Role::CsLead]);
    }

    #[test]
    fn auditor_and_finance_read_only_what_they_need() {
        assert_eq!(Role::Auditor.permissions(), &[P::OrdersRead, P::AuditRead]);
        for p in [P::OrdersRead, P::JobsRead, P::OrdersExport] {
            assert!(Role::Finance.grants(p), "{p}");
        }
        let exporters: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.grants(P::OrdersExport))
            .collect();
        assert_eq!(exporters, [Role::Admin, Role::CsLead, Role::Finance]);
        assert!(!Role::Finance.grants(P::OrdersRefund));
        assert!(!Role::Finance.grants(P::AuditRead));
    }

    #[test]
    fn only_admins_export_a_customers_data() {
        let exporters: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.grants(P::GdprExport))
            .collect();
        assert_eq!(exporters, [Role::Admin]);
    }

    #[test]
    fn admin_has_everything_and_every_permission_is_listed_once() {
        for &p in Permission::ALL {
            assert!(Role::Admin.grants(p), "{p}");
            assert_eq!(Permission::ALL.iter().filter(|&&q| q == p).count(), 1);
        }
        let names: std::collections::HashSet<&str> =
            Permission::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(names.len(), Permission::ALL.len());
    }

    #[test]
    fn role_names_round_trip_and_unknown_is_an_error() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        let e = "superuser".parse::<Role>().unwrap_err();
        assert!(e.contains("superuser") && e.contains("cs_lead"), "{e}");
    }

    #[test]
    fn markdown_has_a_row_per_permission_and_a_column_per_role() {
        let md = permissions_markdown();
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(lines.len(), 2 + Permission::ALL.len());
        assert!(lines[0].contains("| cs_agent |") && lines[0].contains("| auditor |"));
        let force = lines
            .iter()
            .find(|l| l.starts_with("| `orders.cancel.force` |"))
            .expect("force row");
        // admin and cs_lead columns ticked, cs_agent not
        let cells: Vec<&str> = force.split('|').map(str::trim).collect();
        assert_eq!(&cells[3..6], &["✓", "✓", ""]);
        for line in &lines {
            assert_eq!(line.matches('|').count(), 3 + Role::ALL.len(), "{line}");
        }
    }
}
