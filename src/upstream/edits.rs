//! The calls of an order edit: the edit (and its revert) at Orders, the invoice adjustment
//! at Billing, and an extra charge at Payments.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Upstream, UpstreamError};
use crate::config::Service::{Billing, Orders, Payments};
use crate::domain::ids::{OrderId, TenantId};
use crate::domain::order::{Address, Order, OrderLine, Payment, Totals};

/// What an edit sets at Orders, and what it replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderContent {
    pub lines: Vec<OrderLine>,
    pub totals: Totals,
    pub shipping_address: Address,
    #[serde(default)]
    pub shipping_method: Option<String>,
}

/// The answer of an edit at Orders: the order after it and what it replaced.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderEdited {
    pub order: Order,
    pub previous: OrderContent,
}

/// The answer of an invoice adjustment.
#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceAdjusted {
    pub total_minor: i64,
    pub previous_total_minor: i64,
}

impl Upstream {
    /// `POST /v1/orders/{id}/edit`: shipped or ended → 409 `order.not_editable`; an order
    /// at another version than `expected_version` → 412 `order.version_mismatch`.
    pub async fn edit_order(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        content: &OrderContent,
        expected_version: i64,
        key: &str,
    ) -> Result<OrderEdited, UpstreamError> {
        let url = self
            .client()
            .url(Orders, &["v1", "orders", order_id.as_str(), "edit"])?;
        let mut body = json!(content);
        body["expected_version"] = json!(expected_version);
        self.client().post(tenant, url, key, &body).await
    }

    /// `POST /v1/orders/{id}/edit/revert`: puts back what an edit replaced, in any status.
    pub async fn revert_order_edit(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        previous: &OrderContent,
        key: &str,
    ) -> Result<OrderEdited, UpstreamError> {
        let segments = ["v1", "orders", order_id.as_str(), "edit", "revert"];
        let url = self.client().url(Orders, &segments)?;
        self.client().post(tenant, url, key, previous).await
    }

    /// `POST /v1/invoices/{order_id}/adjust`: the invoice now totals `total_minor`
    /// (`restore`: the compensation of an earlier adjustment).
    pub async fn adjust_invoice(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        total_minor: i64,
        restore: bool,
        key: &str,
    ) -> Result<InvoiceAdjusted, UpstreamError> {
        let segments = ["v1", "invoices", order_id.as_str(), "adjust"];
        let url = self.client().url(Billing, &segments)?;
        let body = json!({ "total_minor": total_minor, "restore": restore });
        self.client().post(tenant, url, key, &body).await
    }

    /// `POST /v1/orders/{order_id}/charges`: 201 a new captured payment of the order.
    pub async fn charge_order(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        amount_minor: i64,
        reason: &str,
        key: &str,
    ) -> Result<Payment, UpstreamError> {
        let segments = ["v1", "orders", order_id.as_str(), "charges"];
        let url = self.client().url(Payments, &segments)?;
        let body = json!({ "amount_minor": amount_minor, "reason": reason });
        self.client().post(tenant, url, key, &body).await
    }
}
