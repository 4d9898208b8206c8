//! `POST /v1/customer/orders/{order_id}/apply-coupon`: what a coupon would do to an order.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::ensure_allowed;
use crate::api::auth::Customer;
use crate::api::extract::Path;
use crate::api::extract::{Valid, Validate, invalid};
use crate::domain::coupon::{REASONS, normalize_code};
use crate::domain::eligibility::SelfService;
use crate::domain::ids::OrderId;
use crate::domain::order::{Order, OrderLine, Totals};
use crate::error::{Error, Result};
use crate::state::AppState;
use crate::upstream::{CouponPreview, PreviewLine, UpstreamError};

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyCouponIn {
    /// 1 to 32 characters of `A-Z`, `0-9`, `_`, `-`; case-insensitive.
    pub code: Option<String>,
}

/// The order's totals if the coupon applied. Nothing is redeemed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CouponPreviewOut {
    #[schema(value_type = String)]
    pub order_id: OrderId,
    /// The code, upper-cased.
    pub code: String,
    pub description: String,
    pub currency: String,
    pub discount_minor: i64,
    /// `[{"kind","description","amount_minor"}]`.
    #[schema(value_type = Vec<Object>)]
    pub discounts: Vec<Value>,
    /// `{"subtotal_minor","shipping_minor","discount_minor","tax_minor","total_minor"}`.
    #[schema(value_type = Object)]
    pub totals: Value,
    pub current_totals: Totals,
    /// Always false: a preview does not use the coupon up.
    pub consumed: bool,
}

/// Previews a coupon on one of the caller's orders via the Promotions service: the new
/// totals, or 422 with why it does not apply (`coupon.unknown`, `coupon.expired`,
/// `coupon.minimum_not_met`, `coupon.not_applicable`). It changes nothing anywhere — a
/// read of upstream, no workflow — so repeating it is harmless and it needs no
/// `Idempotency-Key` (one sent is ignored). 409 when the order takes no coupons now
/// (`coupon.order_not_open`, `coupon.disabled`); 503 `coupon.preview_unavailable` when
/// Promotions cannot answer.
#[utoipa::path(post, path = "/v1/customer/orders/{order_id}/apply-coupon", tag = "customer",
    params(("order_id" = String, Path)), request_body = ApplyCouponIn, security(("bearer" = [])),
    responses((status = 200, body = CouponPreviewOut), (status = 401, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn apply_coupon(
    State(state): State<AppState>,
    who: Customer,
    Path(order_id): Path<OrderId>,
    Valid { checked: code, .. }: Valid<ApplyCouponIn>,
) -> Result<axum::Json<CouponPreviewOut>> {
    let order = who.own_order(&state, &order_id).await?;
    ensure_allowed(&state, SelfService::ApplyCoupon, &order).await?;
    let lines: Vec<PreviewLine> = order.lines.iter().map(preview_line).collect();
    let preview = state
        .upstream
        .preview_coupon(
            &who.tenant_id,
            &code,
            &order.currency,
            &lines,
            &order.totals,
        )
        .await
        .map_err(not_applicable_or_unavailable)?;
    Ok(axum::Json(CouponPreviewOut::new(order, preview)))
}

impl Validate for ApplyCouponIn {
    /// The code, normalized (upper-cased).
    type Checked = String;

    fn validate(&self) -> Result<String> {
        normalize_code(self.code.as_deref().unwrap_or("")).map_err(|m| invalid("code", m))
    }
}

/// A line of the order as Promotions prices it.
fn preview_line(l: &OrderLine) -> PreviewLine {
    PreviewLine {
        sku: l.sku.clone(),
        qty: l.qty,
        unit_price_minor: l.unit_price_minor,
        total_minor: l.total_minor,
    }
}

impl CouponPreviewOut {
    /// What Promotions' `preview` would make of `order`.
    fn new(order: Order, preview: CouponPreview) -> Self {
        CouponPreviewOut {
            order_id: order.id,
            code: preview.code,
            description: preview.description,
            currency: order.currency,
            discount_minor: preview.discount_minor,
            discounts: preview.discounts,
            totals: preview.totals,
            current_totals: order.totals,
            consumed: false,
        }
    }
}

/// A reason the coupon does not apply → 422 with that code (and the upstream's details
/// such as `minimum_minor`); anything else → 503 `coupon.preview_unavailable`.
fn not_applicable_or_unavailable(e: UpstreamError) -> Error {
    if let UpstreamError::Permanent(p) = &e
        && REASONS.contains(&p.code.as_str())
    {
        let mut err = Error::unprocessable(&p.code, p.detail.clone());
        // the upstream's details, not which of orderdesk's services answered
        for (k, v) in p
            .extra
            .iter()
            .filter(|(k, _)| *k != crate::upstream::SERVICE)
        {
            err = err.with_extra(k, v.clone());
        }
        return err;
    }
    tracing::warn!(code = %e.problem().code, "coupon preview: Promotions did not answer");
    Error::unavailable(
        "coupon.preview_unavailable",
        "coupons cannot be checked right now",
    )
    .with_next_step("try again in a moment")
}
