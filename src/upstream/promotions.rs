//! The Promotions service (`/promotions`): what a coupon would do to an order.

use crate::domain::ids::TenantId;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{UpstreamError, UpstreamReader};
use crate::config::Service::Promotions;
use crate::domain::order::Totals;

/// A line as `POST /promotions/v1/previews` takes it.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewLine {
    pub sku: String,
    pub qty: i32,
    pub unit_price_minor: i64,
    pub total_minor: i64,
}

/// What a coupon would do to an order: the answer of `POST /promotions/v1/previews`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CouponPreview {
    pub code: String,
    pub description: String,
    pub discount_minor: i64,
    /// `[{"kind","description","amount_minor"}]`.
    pub discounts: Vec<Value>,
    /// `{"subtotal_minor","shipping_minor","discount_minor","tax_minor","total_minor"}`.
    pub totals: Value,
}

impl UpstreamReader {
    /// `POST /v1/previews`: what `code` would do to these lines and totals. A read: nothing
    /// is redeemed, so no Idempotency-Key. Not applicable → 422 with one of
    /// `domain::coupon::REASONS`.
    pub async fn preview_coupon(
        &self,
        tenant: &TenantId,
        code: &str,
        currency: &str,
        lines: &[PreviewLine],
        totals: &Totals,
    ) -> Result<CouponPreview, UpstreamError> {
        let url = self.client.url(Promotions, &["v1", "previews"])?;
        let body = json!({ "code": code, "currency": currency, "lines": lines, "totals": totals });
        self.client.post_read(tenant, url, &body).await
    }
}
