//! Per-tenant settings that self-service actions obey.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct TenantSettings {
    /// Customers may ask to cancel within this many minutes of placing an order.
    pub cancel_window_minutes: i64,
    /// When true, a customer's cancellation waits for an agent (`pending_review`).
    pub cancel_requires_review: bool,
    /// A customer's cancellation above this total waits for an agent, if set.
    pub cancel_review_above_minor: Option<i64>,
    pub return_window_days: i64,
    pub address_change_window_minutes: i64,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            cancel_window_minutes: 60 * 24 * 30,
            cancel_requires_review: false,
            cancel_review_above_minor: None,
            return_window_days: 30,
            address_change_window_minutes: 60,
        }
    }
}
