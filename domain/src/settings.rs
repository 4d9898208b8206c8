//! Per-tenant settings that self-service actions obey, stored as JSON in `tenants.settings`
//! (missing members take their defaults, so adding a setting needs no migration).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::approvals::HighRiskAction;
use super::ids::TenantId;
use super::queues::QueueId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct TenantSettings {
    /// Customers may ask to cancel within this many minutes of placing an order.
    pub cancel_window_minutes: i64,
    /// When true, a customer's cancellation waits for an agent (`pending_review`).
    pub cancel_requires_review: bool,
    /// A customer's cancellation above this total waits for an agent, if set.
    pub cancel_review_above_minor: Option<i64>,
    /// Delivered lines may be returned or exchanged within this many days of delivery.
    pub return_window_days: i64,
    /// The shipping address may change within this many minutes of placing the order
    /// (and only before anything shipped).
    pub address_change_window_minutes: i64,
    /// Lines may be edited within this many minutes of placing the order.
    pub edit_window_minutes: i64,
    pub capabilities: Capabilities,
    pub rate_limits: RateLimits,
    /// Where support notifications go (new customer messages, completed erasures);
    /// `support@<tenant>.invalid` when unset.
    pub support_email: Option<String>,
    /// High-risk actions that wait for a second agent's approval (`pending_approval`).
    pub approvals_required_for: Vec<HighRiskAction>,
    /// A refund of more than this (minor units) waits for a second agent's approval; never
    /// when null.
    pub refund_approval_threshold_minor: Option<i64>,
    /// How long work may wait before it breaches its SLA, in minutes: per work queue
    /// (`GET /v1/admin/queues`) and per alert (`GET /v1/admin/alerts`).
    pub sla_minutes: SlaMinutes,
    /// The country the tenant ships from (ISO 3166-1 alpha-2, e.g. `DE`): a shipment to
    /// another country gets customs documents (a commercial invoice and a CN22/CN23
    /// declaration) among the customer's documents; none when null.
    pub ship_from_country: Option<String>,
}

/// The tenant's SLAs, in minutes (1 up to 30 days each).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct SlaMinutes {
    pub queues: QueueSlas,
    pub alerts: AlertSlas,
}

/// How long an item may wait in each work queue (since it entered it) before it counts as
/// an SLA breach.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct QueueSlas {
    pub fraud_review: i64,
    pub cancel_review: i64,
    pub cases: i64,
    pub tasks: i64,
}

impl QueueSlas {
    /// The SLA of `queue`.
    pub fn of(&self, queue: QueueId) -> i64 {
        match queue {
            QueueId::FraudReview => self.fraud_review,
            QueueId::CancelReview => self.cancel_review,
            QueueId::Cases => self.cases,
            QueueId::Tasks => self.tasks,
        }
    }
}

/// When waiting work raises an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct AlertSlas {
    /// A customer's cancellation waiting for review longer than this (`sla.cancel_review`).
    pub cancel_review: i64,
    /// An open case whose last message is the customer's, unanswered longer than this
    /// (`sla.customer_reply`).
    pub customer_reply: i64,
}

/// What the tenant's customers may do by themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Capabilities {
    pub returns_enabled: bool,
    pub exchanges_enabled: bool,
    pub reorder_enabled: bool,
    pub store_credit: bool,
    pub coupons_enabled: bool,
    pub guest_lookup_enabled: bool,
    pub messages_enabled: bool,
}

/// Requests a principal may make per window, per tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RateLimits {
    pub customer_per_minute: u32,
    pub agent_per_minute: u32,
    /// Guest lookups per IP and per order number, per 15 minutes.
    pub guest_lookups_per_15_minutes: u32,
}

/// Longest window an agent may set, in minutes (ten years).
pub const MAX_WINDOW_MINUTES: i64 = 60 * 24 * 365 * 10;
/// Longest return window, in days (the same ten years).
pub const MAX_WINDOW_DAYS: i64 = MAX_WINDOW_MINUTES / (60 * 24);
/// Most requests per minute (or per 15 minutes) a rate-limit setting may allow.
pub const MAX_RATE: u32 = 100_000;
/// Longest SLA, in minutes (30 days).
pub const MAX_SLA_MINUTES: i64 = 60 * 24 * 30;

impl TenantSettings {
    /// The return window as a duration. Bounded again here: a release before 2026-12-04
    /// could store a number of days too large for a duration (its check overflowed), and
    /// such a value must not panic every read of a delivered order.
    pub fn return_window(&self) -> chrono::Duration {
        chrono::Duration::days(self.return_window_days.clamp(0, MAX_WINDOW_DAYS))
    }

    /// The settings' own rules, each broken one as (field, what is allowed): windows from 0
    /// up to ten years, rate limits from 1 to 100,000, SLAs from 1 minute up to 30 days, a
    /// plausible support address.
    pub fn check(&self) -> Vec<(&'static str, String)> {
        let mut bad = Vec::new();
        // each window against its maximum in its own unit: converting days to minutes
        // first would overflow for a huge value
        let windows = [
            (
                "cancel_window_minutes",
                self.cancel_window_minutes,
                MAX_WINDOW_MINUTES,
            ),
            (
                "return_window_days",
                self.return_window_days,
                MAX_WINDOW_DAYS,
            ),
            (
                "address_change_window_minutes",
                self.address_change_window_minutes,
                MAX_WINDOW_MINUTES,
            ),
            (
                "edit_window_minutes",
                self.edit_window_minutes,
                MAX_WINDOW_MINUTES,
            ),
        ];
        for (field, value, max) in windows {
            if !(0..=max).contains(&value) {
                bad.push((field, "from 0 up to ten years".to_string()));
            }
        }
        if self.cancel_review_above_minor.is_some_and(|m| m < 0) {
            bad.push(("cancel_review_above_minor", "0 or more, or null".into()));
        }
        if self.refund_approval_threshold_minor.is_some_and(|m| m < 0) {
            bad.push((
                "refund_approval_threshold_minor",
                "0 or more, or null".into(),
            ));
        }
        let r = &self.rate_limits;
        let rates = [
            ("rate_limits.customer_per_minute", r.customer_per_minute),
            ("rate_limits.agent_per_minute", r.agent_per_minute),
            (
                "rate_limits.guest_lookups_per_15_minutes",
                r.guest_lookups_per_15_minutes,
            ),
        ];
        for (field, rate) in rates {
            if !(1..=MAX_RATE).contains(&rate) {
                bad.push((field, format!("from 1 to {MAX_RATE}")));
            }
        }
        let (q, a) = (&self.sla_minutes.queues, &self.sla_minutes.alerts);
        let slas = [
            ("sla_minutes.queues.fraud_review", q.fraud_review),
            ("sla_minutes.queues.cancel_review", q.cancel_review),
            ("sla_minutes.queues.cases", q.cases),
            ("sla_minutes.queues.tasks", q.tasks),
            ("sla_minutes.alerts.cancel_review", a.cancel_review),
            ("sla_minutes.alerts.customer_reply", a.customer_reply),
        ];
        for (field, minutes) in slas {
            if !(1..=MAX_SLA_MINUTES).contains(&minutes) {
                bad.push((field, format!("from 1 to {MAX_SLA_MINUTES} minutes")));
            }
        }
        if let Some(email) = &self.support_email {
            let plausible = email.len() <= 254
                && email.split_once('@').is_some_and(|(local, host)| {
                    !local.is_empty() && host.contains('.') && !email.contains(char::is_whitespace)
                });
            if !plausible {
                bad.push(("support_email", "an e-mail address, or null".into()));
            }
        }
        if let Some(country) = &self.ship_from_country
            && !super::countries::is_alpha2(country)
        {
            bad.push((
                "ship_from_country",
                "an ISO 3166-1 alpha-2 country code in upper case (DE, JP…), or null".into(),
            ));
        }
        bad
    }

    /// Whether a refund of `amount_minor` waits for a second agent's approval.
    pub fn refund_needs_approval(&self, amount_minor: i64) -> bool {
        self.approvals_required_for
            .contains(&HighRiskAction::Refund)
            || self
                .refund_approval_threshold_minor
                .is_some_and(|t| amount_minor > t)
    }

    /// Whether a return's refund or credit of `amount_minor` waits for a second agent's
    /// approval: as a payment refund does, or when `return_refund` is named.
    pub fn return_refund_needs_approval(&self, amount_minor: i64) -> bool {
        self.refund_needs_approval(amount_minor)
            || self
                .approvals_required_for
                .contains(&HighRiskAction::ReturnRefund)
    }

    /// Where support notifications of `tenant_id` go.
    pub fn support_address(&self, tenant_id: &TenantId) -> String {
        self.support_email
            .clone()
            .unwrap_or_else(|| format!("support@{tenant_id}.invalid"))
    }
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            cancel_window_minutes: 60 * 24 * 30,
            cancel_requires_review: false,
            cancel_review_above_minor: None,
            return_window_days: 30,
            address_change_window_minutes: 60,
            edit_window_minutes: 60,
            capabilities: Capabilities::default(),
            rate_limits: RateLimits::default(),
            support_email: None,
            approvals_required_for: Vec::new(),
            refund_approval_threshold_minor: None,
            sla_minutes: SlaMinutes::default(),
            ship_from_country: None,
        }
    }
}

impl Default for QueueSlas {
    fn default() -> Self {
        QueueSlas {
            fraud_review: 240,
            cancel_review: 60,
            cases: 480,
            tasks: 1440,
        }
    }
}

impl Default for AlertSlas {
    fn default() -> Self {
        AlertSlas {
            cancel_review: 60,
            customer_reply: 240,
        }
    }
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities {
            returns_enabled: true,
            exchanges_enabled: true,
            reorder_enabled: true,
            store_credit: true,
            coupons_enabled: true,
            guest_lookup_enabled: true,
            messages_enabled: true,
        }
    }
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            customer_per_minute: 600,
            agent_per_minute: 1200,
            guest_lookups_per_15_minutes: 10,
        }
    }
}

#[cfg(test)]
mod check_tests {
    use super::*;

    #[test]
    fn every_queue_has_its_sla() {
        let q = QueueSlas::default();
        let slas: Vec<i64> = QueueId::ALL.into_iter().map(|id| q.of(id)).collect();
        assert_eq!(slas, [240, 60, 480, 1440]);
    }

    #[test]
    fn defaults_pass_their_own_checks() {
        assert!(TenantSettings::default().check().is_empty());
    }

    #[test]
    fn a_refund_waits_above_the_threshold_or_when_every_refund_does() {
        let mut s = TenantSettings::default();
        assert!(!s.refund_needs_approval(i64::MAX));
        s.refund_approval_threshold_minor = Some(1000);
        assert!(!s.refund_needs_approval(1000));
        assert!(s.refund_needs_approval(1001));
        s.refund_approval_threshold_minor = None;
        s.approvals_required_for = vec![HighRiskAction::Refund];
        assert!(s.refund_needs_approval(1));
    }

    #[test]
    fn a_window_too_large_to_convert_is_refused_not_overflowed() {
        for days in [
            MAX_WINDOW_DAYS + 1,
            12_810_238_940_076_078,
            i64::MAX,
            i64::MIN,
        ] {
            let s = TenantSettings {
                return_window_days: days,
                ..TenantSettings::default()
            };
            let fields: Vec<&str> = s.check().into_iter().map(|(f, _)| f).collect();
            assert_eq!(fields, ["return_window_days"], "{days}");
        }
        let s = TenantSettings {
            return_window_days: MAX_WINDOW_DAYS,
            cancel_window_minutes: MAX_WINDOW_MINUTES,
            ..TenantSettings::default()
        };
        assert!(s.check().is_empty());
        for minutes in [MAX_WINDOW_MINUTES + 1, i64::MAX, i64::MIN] {
            let s = TenantSettings {
                cancel_window_minutes: minutes,
                address_change_window_minutes: minutes,
                edit_window_minutes: minutes,
                ..TenantSettings::default()
            };
            assert_eq!(s.check().len(), 3, "{minutes}");
        }
    }

    #[test]
    fn a_stored_window_too_large_reads_as_the_longest_allowed() {
        for (days, window) in [(12_810_238_940_076_078, MAX_WINDOW_DAYS), (-5, 0), (30, 30)] {
            let s = TenantSettings {
                return_window_days: days,
                ..TenantSettings::default()
            };
            assert_eq!(s.return_window(), chrono::Duration::days(window), "{days}");
        }
    }

    #[test]
    fn each_broken_rule_names_its_field() {
        let mut s = TenantSettings {
            cancel_window_minutes: -1,
            return_window_days: 365 * 11,
            cancel_review_above_minor: Some(-5),
            refund_approval_threshold_minor: Some(-1),
            support_email: Some("not an address".into()),
            ..TenantSettings::default()
        };
        s.rate_limits.agent_per_minute = 0;
        s.sla_minutes.queues.cases = 0;
        s.sla_minutes.alerts.customer_reply = MAX_SLA_MINUTES + 1;
        let fields: Vec<&str> = s.check().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "cancel_window_minutes",
                "return_window_days",
                "cancel_review_above_minor",
                "refund_approval_threshold_minor",
                "rate_limits.agent_per_minute",
                "sla_minutes.queues.cases",
                "sla_minutes.alerts.customer_reply",
                "support_email"
            ]
        );
    }
}
