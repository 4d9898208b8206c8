//! The Payments service (`/payments`): a payment as it stands, captures, refunds and the
//! payouts that settle it.

use crate::domain::ids::TenantId;
use serde_json::json;

use super::{Upstream, UpstreamError, UpstreamReader};
use crate::config::Service::Payments;
use crate::domain::order::{Capture, Payment, Refund};
use crate::domain::payments::SettlementLinkInput;

impl UpstreamReader {
    /// `GET /v1/payments/{id}`: the payment with every refund made.
    pub async fn get_payment(
        &self,
        tenant: &TenantId,
        payment_id: &str,
    ) -> Result<Payment, UpstreamError> {
        let url = self.client.url(Payments, &["v1", "payments", payment_id])?;
        self.client.get(tenant, url).await
    }
}

impl Upstream {
    /// `POST /v1/payments/{id}/refunds`: 201 the refund; more than is left to refund → 422
    /// `refund.exceeds_captured`.
    pub async fn refund_payment(
        &self,
        tenant: &TenantId,
        payment_id: &str,
        amount_minor: i64,
        reason: &str,
        key: &str,
    ) -> Result<Refund, UpstreamError> {
        let url = self
            .client()
            .url(Payments, &["v1", "payments", payment_id, "refunds"])?;
        let body = json!({ "amount_minor": amount_minor, "reason": reason });
        self.client().post(tenant, url, key, &body).await
    }

    /// `POST /v1/payments/{id}/captures`: 201 the capture (the whole authorization when
    /// `amount_minor` is `None`); a payment not authorized → 409 `capture.not_authorized`,
    /// more than authorized → 422 `capture.exceeds_authorized`.
    pub async fn capture_payment(
        &self,
        tenant: &TenantId,
        payment_id: &str,
        amount_minor: Option<i64>,
        key: &str,
    ) -> Result<Capture, UpstreamError> {
        let url = self
            .client()
            .url(Payments, &["v1", "payments", payment_id, "captures"])?;
        let body = json!({ "amount_minor": amount_minor });
        self.client().post(tenant, url, key, &body).await
    }

    /// `POST /v1/payments/{id}/settlement`: links the processor's payout to the payment;
    /// the payment with its `settlement` (201, or 200 when that payout was linked already).
    /// Another payout linked → 409 `settlement.already_linked`.
    pub async fn link_settlement(
        &self,
        tenant: &TenantId,
        link: &SettlementLinkInput,
        key: &str,
    ) -> Result<Payment, UpstreamError> {
        let url = self.client().url(
            Payments,
            &["v1", "payments", link.payment_id.as_str(), "settlement"],
        )?;
        let body = json!({
            "id": link.settlement_id,
            "amount_minor": link.amount_minor,
            "fee_minor": link.fee_minor,
            "settled_at": link.settled_at,
        });
        self.client().post(tenant, url, key, &body).await
    }
}
