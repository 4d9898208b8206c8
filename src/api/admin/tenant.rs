//! What an agent's console draws itself from: the tenant's capabilities and the caller's
//! own request quota.

use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::auth::Agent;
use crate::api::authorized::{Authorized, can};
use crate::api::customer::settings::RateLimitOut;
use crate::api::rate_limit::{Quota, RateLimiter};
use crate::auth::can_mint;
use crate::domain::approvals::HighRiskAction;
use crate::domain::settings::Capabilities;
use crate::error::Result;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminCapabilitiesOut {
    /// What the tenant's customers may do by themselves.
    pub customer: Capabilities,
    /// High-risk actions that wait for a second agent's approval.
    pub approvals_required_for: Vec<HighRiskAction>,
    /// A refund of more than this (minor units) waits for a second agent's approval; null:
    /// never (unless `refund` is in `approvals_required_for`).
    pub refund_approval_threshold_minor: Option<i64>,
    /// Whether this deployment can sign impersonation tokens (it holds an HS256 secret).
    pub impersonation_available: bool,
}

/// The tenant's capabilities, as the admin console needs them. Requires `orders.read`.
#[utoipa::path(get, path = "/v1/admin/capabilities", tag = "admin", security(("bearer" = ["orders.read"])),
    responses((status = 200, body = AdminCapabilitiesOut), (status = 403, body = crate::error::Problem)))]
pub async fn get_capabilities(
    axum::extract::State(state): axum::extract::State<AppState>,
    Extension(limiter): Extension<RateLimiter>,
    agent: Authorized<can::OrdersRead>,
) -> Result<Json<AdminCapabilitiesOut>> {
    let settings = limiter.tenant_settings(&agent.tenant_id).await?;
    Ok(Json(AdminCapabilitiesOut {
        customer: settings.capabilities.clone(),
        approvals_required_for: settings.approvals_required_for.clone(),
        refund_approval_threshold_minor: settings.refund_approval_threshold_minor,
        impersonation_available: can_mint(&state.config),
    }))
}

/// The caller's (agent's or API key's) quota and what is left of it; this request counts.
#[utoipa::path(get, path = "/v1/admin/rate-limits", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = RateLimitOut), (status = 401, body = crate::error::Problem),
              (status = 429, body = crate::error::Problem)))]
pub async fn get_rate_limits(
    Extension(limiter): Extension<RateLimiter>,
    quota: Option<Extension<Quota>>,
    agent: Agent,
) -> Result<Json<RateLimitOut>> {
    let settings = limiter.tenant_settings(&agent.tenant_id).await?;
    let limit = settings.rate_limits.agent_per_minute;
    Ok(Json(RateLimitOut::of(quota, limit, &settings)))
}
