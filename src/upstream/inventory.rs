//! The Inventory service (`/inventory`): stock on hand, releases and reservations.

use crate::domain::ids::{OrderId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Upstream, UpstreamError, UpstreamReader};
use crate::config::Service::Inventory;

/// One line of an inventory release or reservation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    pub sku: String,
    pub qty: i32,
}

/// `{"sku","on_hand"}`.
#[derive(Deserialize)]
struct Stock {
    on_hand: i64,
}

impl UpstreamReader {
    /// `GET /v1/stock/{sku}`: units on hand; an unknown SKU → `Ok(None)`.
    pub async fn get_stock(
        &self,
        tenant: &TenantId,
        sku: &str,
    ) -> Result<Option<i64>, UpstreamError> {
        let url = self.client.url(Inventory, &["v1", "stock", sku])?;
        match self.client.get::<Stock>(tenant, url).await {
            Ok(s) => Ok(Some(s.on_hand)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/stock/{sku}`: units on hand, 0 for a SKU the service does not know.
    pub async fn stock_on_hand(&self, tenant: &TenantId, sku: &str) -> Result<i64, UpstreamError> {
        Ok(self.get_stock(tenant, sku).await?.unwrap_or(0))
    }
}

impl Upstream {
    /// `POST /v1/releases`: stock of each sku grows by its qty.
    pub async fn release_inventory(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        lines: &[StockLine],
        key: &str,
    ) -> Result<Value, UpstreamError> {
        self.move_stock(tenant, "releases", order_id, lines, key)
            .await
    }

    /// `POST /v1/reservations`: compensation of a release.
    pub async fn reserve_inventory(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        lines: &[StockLine],
        key: &str,
    ) -> Result<Value, UpstreamError> {
        self.move_stock(tenant, "reservations", order_id, lines, key)
            .await
    }

    /// `POST /v1/{movements}` `{"order_id","lines"}`.
    async fn move_stock(
        &self,
        tenant: &TenantId,
        movements: &str,
        order_id: &OrderId,
        lines: &[StockLine],
        key: &str,
    ) -> Result<Value, UpstreamError> {
        let url = self.client().url(Inventory, &["v1", movements])?;
        let body = json!({ "order_id": order_id, "lines": lines });
        self.client().post(tenant, url, key, &body).await
    }
}
