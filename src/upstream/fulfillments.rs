//! Fulfilments at the Fulfillment service (`/fulfillment/v1/fulfillments`): create (units
//! reserved at a warehouse), ship (the order's shipment), cancel, reschedule; and the
//! warehouses with their stock.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Upstream, UpstreamError, UpstreamReader};
use crate::config::Service::Fulfillment as Service;
use crate::domain::fulfillments::{Fulfillment, FulfillmentLine, Warehouse};
use crate::domain::ids::{FulfillmentId, OrderId, TenantId};
use crate::domain::order::Order;

/// A fulfilment to create (`POST /v1/fulfillments`); `id` is orderdesk's, so a repeat
/// finds the same one.
#[derive(Debug, Clone, Serialize)]
pub struct NewFulfillment<'a> {
    pub id: &'a FulfillmentId,
    pub order_id: &'a OrderId,
    pub warehouse: &'a str,
    pub lines: &'a [FulfillmentLine],
}

/// What shipping a fulfilment answers: it, `shipped`, and the order with its new shipment.
#[derive(Debug, Clone, Deserialize)]
pub struct ShippedFulfillment {
    pub fulfillment: Fulfillment,
    pub order: Order,
}

impl UpstreamReader {
    /// `GET /v1/warehouses`: the tenant's warehouses with their stock.
    pub async fn list_warehouses(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<Warehouse>, UpstreamError> {
        #[derive(Deserialize)]
        struct Page {
            data: Vec<Warehouse>,
        }
        let url = self.client.url(Service, &["v1", "warehouses"])?;
        let page: Page = self.client.get(tenant, url).await?;
        Ok(page.data)
    }
}

impl Upstream {
    /// `POST /v1/fulfillments`: 201 the fulfilment (`open`), or 200 the one that already
    /// has `f.id`; 409 `fulfillment.over_quantity`, `fulfillment.insufficient_stock` or
    /// `order.not_shippable` (permanent).
    pub async fn create_fulfillment(
        &self,
        tenant: &TenantId,
        f: &NewFulfillment<'_>,
        key: &str,
    ) -> Result<Fulfillment, UpstreamError> {
        let url = self.client().url(Service, &["v1", "fulfillments"])?;
        self.client().post(tenant, url, key, f).await
    }

    /// `POST /v1/fulfillments/{id}/ship`; not open → 409 `fulfillment.cancelled` or
    /// `fulfillment.already_shipped`.
    pub async fn ship_fulfillment(
        &self,
        tenant: &TenantId,
        id: &FulfillmentId,
        carrier: &str,
        tracking_number: &str,
        key: &str,
    ) -> Result<ShippedFulfillment, UpstreamError> {
        let url = self
            .client()
            .url(Service, &["v1", "fulfillments", id.as_str(), "ship"])?;
        let body = json!({ "carrier": carrier, "tracking_number": tracking_number });
        self.client().post(tenant, url, key, &body).await
    }

    /// `POST /v1/fulfillments/{id}/cancel`: the fulfilment `cancelled` (so already);
    /// shipped → 409 `fulfillment.already_shipped`.
    pub async fn cancel_fulfillment(
        &self,
        tenant: &TenantId,
        id: &FulfillmentId,
        key: &str,
    ) -> Result<Fulfillment, UpstreamError> {
        let url = self
            .client()
            .url(Service, &["v1", "fulfillments", id.as_str(), "cancel"])?;
        self.client().post(tenant, url, key, &json!({})).await
    }

    /// `POST /v1/fulfillments/{id}/reschedule`: the fulfilment with its new `ship_after`.
    pub async fn reschedule_fulfillment(
        &self,
        tenant: &TenantId,
        id: &FulfillmentId,
        ship_after: DateTime<Utc>,
        key: &str,
    ) -> Result<Fulfillment, UpstreamError> {
        let url = self
            .client()
            .url(Service, &["v1", "fulfillments", id.as_str(), "reschedule"])?;
        let body = json!({ "ship_after": ship_after });
        self.client().post(tenant, url, key, &body).await
    }
}
