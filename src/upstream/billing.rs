//! The Billing service (`/billing`): an order's invoices.

use crate::domain::ids::{OrderId, TenantId};
use serde::Deserialize;

use super::{UpstreamError, UpstreamReader};
use crate::config::Service::Billing;

/// An invoice as the Billing service lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub order_id: String,
    pub total_minor: i64,
    pub currency: String,
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
