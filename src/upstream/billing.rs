//! The Billing service (`/billing`): an order's invoices with their credit notes and
//! adjustments, and customers' store credits.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{Upstream, UpstreamError, UpstreamReader};
use crate::config::Service::Billing;
use crate::domain::ids::{CustomerId, OrderId, TenantId};

/// A credit note (money owed back on an invoice) or an adjustment (more owed), of the whole
/// invoice or of one line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InvoiceChange {
    pub id: String,
    pub invoice_id: String,
    /// `credit_note` or `adjustment`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_id: Option<String>,
    pub amount_minor: i64,
    pub currency: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An invoice as the Billing service lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub order_id: String,
    pub total_minor: i64,
    pub currency: String,
    #[serde(default)]
    pub credit_notes: Vec<InvoiceChange>,
    #[serde(default)]
    pub adjustments: Vec<InvoiceChange>,
}

impl Invoice {
    /// What the invoice asks for now: its total, less its credit notes, plus its adjustments.
    pub fn balance_minor(&self) -> i64 {
        let credited: i64 = self.credit_notes.iter().map(|c| c.amount_minor).sum();
        let debited: i64 = self.adjustments.iter().map(|c| c.amount_minor).sum();
        self.total_minor - credited + debited
    }
}

/// A store credit granted to a customer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StoreCredit {
    pub id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub created_at: DateTime<Utc>,
}

/// What a store credit is granted for.
pub struct StoreCreditIn<'a> {
    pub customer_id: &'a CustomerId,
    pub order_id: &'a OrderId,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub reason: &'a str,
}

/// A credit note or an adjustment to make.
pub struct InvoiceChangeIn<'a> {
    pub amount_minor: i64,
    pub line_id: Option<&'a str>,
    pub reason: &'a str,
}

impl UpstreamReader {
    /// `GET /v1/invoices?order_id=`: the order's invoices.
    pub async fn invoices_of_order(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
    ) -> Result<Vec<Invoice>, UpstreamError> {
        #[derive(Deserialize)]
        struct Page {
            data: Vec<Invoice>,
        }
        let url = self.client.url_with_query(
            Billing,
            &["v1", "invoices"],
            &[("order_id", order_id.as_str())],
        )?;
        let page: Page = self.client.get(tenant, url).await?;
        Ok(page.data)
    }
}

impl Upstream {
    /// `POST /v1/store-credits`: 201 the credit granted.
    pub async fn grant_store_credit(
        &self,
        tenant: &TenantId,
        credit: &StoreCreditIn<'_>,
        key: &str,
    ) -> Result<StoreCredit, UpstreamError> {
        let url = self.client().url(Billing, &["v1", "store-credits"])?;
        let body = json!({
            "customer_id": credit.customer_id, "order_id": credit.order_id,
            "amount_minor": credit.amount_minor, "currency": credit.currency,
            "reason": credit.reason,
        });
        self.client().post(tenant, url, key, &body).await
    }

    /// `POST /v1/invoices/{id}/credit-notes` (`credit`) or `.../adjustments`: 201 the change.
    /// A credit note above the invoice's balance → 422 `credit_note.exceeds_balance`.
    pub async fn change_invoice(
        &self,
        tenant: &TenantId,
        invoice_id: &str,
        credit: bool,
        change: &InvoiceChangeIn<'_>,
        key: &str,
    ) -> Result<InvoiceChange, UpstreamError> {
        let what = if credit {
            "credit-notes"
        } else {
            "adjustments"
        };
        let url = self
            .client()
            .url(Billing, &["v1", "invoices", invoice_id, what])?;
        let body = json!({
            "amount_minor": change.amount_minor, "line_id": change.line_id,
            "reason": change.reason,
        });
        self.client().post(tenant, url, key, &body).await
    }
}
