//! What the shop allows, for a customer UI to draw itself: `capabilities`, the time windows of
//! self-service actions (`settings`) and the caller's request quota (`rate-limits`).

use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::auth::Customer;
use crate::api::rate_limit::{PRINCIPAL_WINDOW, Quota, RateLimiter};
use crate::domain::settings::{Capabilities, TenantSettings};
use crate::error::Result;

/// The windows within which a customer may act on an order by themselves.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerSettingsOut {
    /// A cancellation may be asked for within this many minutes of placing the order.
    pub cancel_window_minutes: i64,
    /// Delivered lines may be returned or exchanged within this many days of delivery.
    pub return_window_days: i64,
    /// The shipping address may change within this many minutes of placing the order, and
    /// only before anything shipped.
    pub address_change_window_minutes: i64,
    /// Lines may be edited within this many minutes of placing the order.
    pub edit_window_minutes: i64,
}

/// The caller's request quota, as its `RateLimit-*` headers also tell.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateLimitOut {
    /// Requests allowed per window; 0: not limited.
    pub limit: u32,
    pub window_seconds: u64,
    /// Left in the current window, after this request (which counts like any other);
    /// `null` while the counter is unavailable (requests are then not limited).
    pub remaining: Option<u64>,
    /// Seconds until the window resets; `null` as `remaining`.
    pub reset_seconds: Option<u64>,
    /// The draft `RateLimit-Policy` value, e.g. `"default";q=600;w=60`.
    pub policy: String,
    /// Guest lookups allowed per IP and per order number in 15 minutes.
    pub guest_lookups_per_15_minutes: u32,
}

/// What customers of this shop may do by themselves. A guest token may ask too.
#[utoipa::path(get, path = "/v1/customer/capabilities", tag = "customer", security(("bearer" = [])),
    responses((status = 200, body = Capabilities), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)))]
pub async fn get_capabilities(
    Extension(limiter): Extension<RateLimiter>,
    who: Customer,
) -> Result<Json<Capabilities>> {
    let settings = limiter.tenant_settings(&who.tenant_id).await?;
    Ok(Json(settings.capabilities.clone()))
}

/// The cancellation, return, address-change and edit windows of this shop.
#[utoipa::path(get, path = "/v1/customer/settings", tag = "customer", security(("bearer" = [])),
    responses((status = 200, body = CustomerSettingsOut), (status = 401, body = crate::error::Problem),
              (status = 403, body = crate::error::Problem)))]
pub async fn get_settings(
    Extension(limiter): Extension<RateLimiter>,
    who: Customer,
) -> Result<Json<CustomerSettingsOut>> {
    let s = limiter.tenant_settings(&who.tenant_id).await?;
    Ok(Json(CustomerSettingsOut {
        cancel_window_minutes: s.cancel_window_minutes,
        return_window_days: s.return_window_days,
        address_change_window_minutes: s.address_change_window_minutes,
        edit_window_minutes: s.edit_window_minutes,
    }))
}

/// The caller's quota and what is left of it. This request counts like any other, so the
/// body agrees with its own `RateLimit-*` headers.
#[utoipa::path(get, path = "/v1/customer/rate-limits", tag = "customer", security(("bearer" = [])),
    responses((status = 200, body = RateLimitOut), (status = 401, body = crate::error::Problem),
              (status = 429, body = crate::error::Problem)))]
pub async fn get_rate_limits(
    Extension(limiter): Extension<RateLimiter>,
    quota: Option<Extension<Quota>>,
    who: Customer,
) -> Result<Json<RateLimitOut>> {
    let settings = limiter.tenant_settings(&who.tenant_id).await?;
    let limit = settings.rate_limits.customer_per_minute;
    Ok(Json(RateLimitOut::of(quota, limit, &settings)))
}

impl RateLimitOut {
    /// The quota the middleware counted this request against; without one, the tenant
    /// does not limit this kind of principal (`limit` 0).
    pub fn of(quota: Option<Extension<Quota>>, limit: u32, settings: &TenantSettings) -> Self {
        let quota = quota.map(|q| q.0).unwrap_or(Quota {
            limit,
            window: PRINCIPAL_WINDOW,
            counted: None,
        });
        RateLimitOut {
            limit: quota.limit,
            window_seconds: quota.window.as_secs(),
            remaining: quota.remaining(),
            reset_seconds: quota.reset_secs(),
            policy: quota.policy(),
            guest_lookups_per_15_minutes: settings.rate_limits.guest_lookups_per_15_minutes,
        }
    }
}
