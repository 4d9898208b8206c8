//! The Promotions service (`/promotions/v1/previews`): what a coupon would do to an order's
//! lines and totals. A preview redeems nothing and records no effect. Coupons live in
//! `sandbox.coupons`; migrating seeds WELCOME10, SHIPFREE, SUMMER24 (expired), BIG50 and
//! MUGS20 for every tenant.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::SandboxState;
use super::extract::{Body, Tenant};
use super::store::commerce::{self as store, Coupon};
use crate::error::{Error, FieldError, Result};
use crate::wire::Totals;

pub fn routes() -> Router<SandboxState> {
    Router::new().route("/v1/previews", post(preview))
}

#[derive(Debug, Deserialize)]
struct LineIn {
    sku: String,
    total_minor: i64,
}

#[derive(Debug, Deserialize)]
struct PreviewIn {
    code: String,
    currency: String,
    lines: Vec<LineIn>,
    totals: Totals,
}

/// `POST /v1/previews` `{"code","currency","lines":[{"sku","qty","unit_price_minor",
/// "total_minor"}],"totals":{…}}` → 200 `{"code","description","discount_minor",
/// "discounts":[…],"totals":{…with discount_minor}}`, or 422 `coupon.unknown`,
/// `coupon.expired`, `coupon.minimum_not_met` (with `minimum_minor`) or
/// `coupon.not_applicable`. Tax stays as charged; the total drops by the discount.
async fn preview(
    State(s): State<SandboxState>,
    Tenant(tenant): Tenant,
    Body(input): Body<PreviewIn>,
) -> Result<Json<Value>> {
    if input.code.trim().is_empty() || input.code.len() > 64 || input.lines.len() > 500 {
        return Err(Error::validation(vec![FieldError {
            field: "code".into(),
            message: "1 to 64 characters, with at most 500 lines".into(),
        }]));
    }
    let code = input.code.trim().to_ascii_uppercase();
    let mut conn = s.db.acquire().await?;
    let coupon = store::coupon(&mut conn, &tenant, &code)
        .await?
        .ok_or_else(|| {
            Error::unprocessable("coupon.unknown", format!("there is no coupon {code}"))
        })?;
    let discount = discount(&coupon, &input)?;
    let t = &input.totals;
    Ok(Json(json!({
        "code": coupon.code,
        "description": coupon.description,
        "discount_minor": discount,
        "discounts": [{ "kind": coupon.kind, "description": coupon.description, "amount_minor": discount }],
        "totals": {
            "subtotal_minor": t.subtotal_minor,
            "shipping_minor": t.shipping_minor,
            "discount_minor": discount,
            "tax_minor": t.tax_minor,
            "total_minor": t.total_minor - discount,
        },
    })))
}

/// The discount in minor units, or why the coupon does not apply.
fn discount(c: &Coupon, input: &PreviewIn) -> Result<i64> {
    if c.valid_until.is_some_and(|until| until < Utc::now()) {
        return Err(Error::unprocessable(
            "coupon.expired",
            format!("{} has expired", c.code),
        ));
    }
    let subtotal = input.totals.subtotal_minor;
    if subtotal < c.min_subtotal_minor {
        return Err(Error::unprocessable(
            "coupon.minimum_not_met",
            format!(
                "{} needs items worth at least {} {}",
                c.code, c.min_subtotal_minor, input.currency
            ),
        )
        .with_extra("minimum_minor", json!(c.min_subtotal_minor))
        .with_extra("subtotal_minor", json!(subtotal)));
    }
    let amount = match c.kind.as_str() {
        "percent" => {
            let base: i64 = input
                .lines
                .iter()
                .filter(|l| c.sku_prefix.as_deref().is_none_or(|p| l.sku.starts_with(p)))
                .map(|l| l.total_minor)
                .sum();
            base * c.value / 100
        }
        "fixed" => c.value.min(subtotal),
        _ => input.totals.shipping_minor,
    };
    if amount <= 0 {
        return Err(Error::unprocessable(
            "coupon.not_applicable",
            format!("{} does not apply to this order", c.code),
        ));
    }
    Ok(amount)
}
