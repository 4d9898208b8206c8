//! The Orders service (`/orders`): orders, their status changes and address, the catalog,
//! carts, and the erasure of a customer's personal data.

use crate::domain::ids::{CustomerId, OrderId, TenantId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Upstream, UpstreamError, UpstreamReader};
use crate::config::Service::Orders;
use crate::domain::order::{Address, FraudState, Order};
use crate::domain::reorder::CatalogItem;

/// The status changes the Orders service makes on an agent's behalf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusChange {
    Hold,
    Release,
    Confirm,
    Close,
    Reopen,
}

impl StatusChange {
    fn path(self) -> &'static str {
        match self {
            StatusChange::Hold => "hold",
            StatusChange::Release => "release",
            StatusChange::Confirm => "confirm",
            StatusChange::Close => "close",
            StatusChange::Reopen => "reopen",
        }
    }
}

/// One line of a cart to create; `ref` comes back on the line (or its rejection).
#[derive(Debug, Clone, Serialize)]
pub struct CartLineIn {
    pub sku: String,
    pub qty: i32,
    #[serde(rename = "ref")]
    pub ref_: String,
}

/// `POST /v1/carts`.
#[derive(Debug, Clone, Serialize)]
pub struct NewCart<'a> {
    pub customer_id: &'a str,
    pub currency: &'a str,
    pub source_order_id: &'a str,
    pub lines: Vec<CartLineIn>,
}

/// A cart line, priced by the catalog when the cart was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CartLine {
    pub sku: String,
    pub name: String,
    pub qty: i32,
    pub unit_price_minor: i64,
    pub total_minor: i64,
    #[serde(rename = "ref", default)]
    pub ref_: Option<String>,
}

/// A line the cart service would not add (`cart.sku_discontinued`, `cart.sku_unknown`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CartRejection {
    pub sku: String,
    pub qty: i32,
    pub code: String,
    pub message: String,
    #[serde(rename = "ref", default)]
    pub ref_: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cart {
    pub id: String,
    pub customer_id: String,
    pub currency: String,
    pub lines: Vec<CartLine>,
    #[serde(default)]
    pub rejected: Vec<CartRejection>,
    pub subtotal_minor: i64,
    pub created_at: DateTime<Utc>,
}

/// The answer of an address change at Orders: the order after it and the address it had.
#[derive(Debug, Clone, Deserialize)]
pub struct AddressChange {
    pub order: Order,
    pub previous_address: Address,
}

impl UpstreamReader {
    /// `GET /v1/orders/{id}`.
    pub async fn get_order(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
    ) -> Result<Order, UpstreamError> {
        let url = self
            .client
            .url(Orders, &["v1", "orders", order_id.as_str()])?;
        self.client.get(tenant, url).await
    }

    /// `GET /v1/catalog/{sku}?currency=`: `None` when the catalog does not know the SKU in
    /// that currency (404).
    pub async fn catalog_item(
        &self,
        tenant: &TenantId,
        sku: &str,
        currency: &str,
    ) -> Result<Option<CatalogItem>, UpstreamError> {
        let url = self.client.url_with_query(
            Orders,
            &["v1", "catalog", sku],
            &[("currency", currency)],
        )?;
        match self.client.get(tenant, url).await {
            Ok(item) => Ok(Some(item)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Upstream {
    /// `POST /v1/orders/{id}/cancel`: the cancelled order (200 also when already cancelled);
    /// with `expected_version`, 412 `order.version_mismatch` when the order is at another.
    pub async fn cancel_order(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        reason: &str,
        expected_version: Option<i64>,
        key: &str,
    ) -> Result<Order, UpstreamError> {
        let action = "cancel";
        self.order_transition(tenant, order_id, action, reason, expected_version, key)
            .await
    }

    /// `POST /v1/orders/{id}/reinstate`: compensation of a cancel.
    pub async fn reinstate_order(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        reason: &str,
        key: &str,
    ) -> Result<Order, UpstreamError> {
        self.order_transition(tenant, order_id, "reinstate", reason, None, key)
            .await
    }

    /// `POST /v1/orders/{id}/{hold|release|confirm|close|reopen}` `{"reason"}`: the order
    /// after it (200 also when it already was so); with `expected_version`, 412
    /// `order.version_mismatch` when the order is at another.
    pub async fn change_status(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        change: StatusChange,
        reason: &str,
        expected_version: Option<i64>,
        key: &str,
    ) -> Result<Order, UpstreamError> {
        let action = change.path();
        self.order_transition(tenant, order_id, action, reason, expected_version, key)
            .await
    }

    /// `POST /v1/orders/{id}/fraud` `{"state","reason"}`: the order after it (200 also when
    /// it already was in that state).
    pub async fn set_fraud_state(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        state: FraudState,
        reason: &str,
        key: &str,
    ) -> Result<Order, UpstreamError> {
        let url = self
            .client()
            .url(Orders, &["v1", "orders", order_id.as_str(), "fraud"])?;
        let body = json!({ "state": state, "reason": reason });
        self.client().post(tenant, url, key, &body).await
    }

    /// `POST /v1/orders/{id}/{action}` `{"reason", "expected_version"}`: the order after it.
    async fn order_transition(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        action: &str,
        reason: &str,
        expected_version: Option<i64>,
        key: &str,
    ) -> Result<Order, UpstreamError> {
        let url = self
            .client()
            .url(Orders, &["v1", "orders", order_id.as_str(), action])?;
        let mut body = json!({ "reason": reason });
        if let Some(version) = expected_version {
            body["expected_version"] = json!(version);
        }
        self.client().post(tenant, url, key, &body).await
    }

    /// `POST /v1/customers/{id}/erase`: `{"customer_id","orders_erased"}`; idempotent (a
    /// second call erases nothing more).
    pub async fn erase_customer(
        &self,
        tenant: &TenantId,
        customer_id: &CustomerId,
        key: &str,
    ) -> Result<Value, UpstreamError> {
        let url = self
            .client()
            .url(Orders, &["v1", "customers", customer_id.as_str(), "erase"])?;
        self.client().post(tenant, url, key, &json!({})).await
    }

    /// `POST /v1/carts`: 201 the cart; nothing addable → 409 `cart.nothing_addable`.
    pub async fn create_cart(
        &self,
        tenant: &TenantId,
        cart: &NewCart<'_>,
        key: &str,
    ) -> Result<Cart, UpstreamError> {
        let url = self.client().url(Orders, &["v1", "carts"])?;
        self.client().post(tenant, url, key, cart).await
    }

    /// `POST /v1/orders/{id}/address`: shipped or ended → 409 `order.address_locked`; with
    /// `expected_version`, 412 `order.version_mismatch` when the order is at another.
    pub async fn change_address(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        address: &Address,
        expected_version: Option<i64>,
        key: &str,
    ) -> Result<AddressChange, UpstreamError> {
        let segments = ["v1", "orders", order_id.as_str(), "address"];
        self.post_address(tenant, &segments, address, expected_version, key)
            .await
    }

    /// `POST /v1/orders/{id}/address/revert`: the compensation of a change, allowed in any
    /// status (the parcel goes wherever Fulfillment still has).
    pub async fn revert_address(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        address: &Address,
        key: &str,
    ) -> Result<AddressChange, UpstreamError> {
        let segments = ["v1", "orders", order_id.as_str(), "address", "revert"];
        self.post_address(tenant, &segments, address, None, key)
            .await
    }

    async fn post_address(
        &self,
        tenant: &TenantId,
        segments: &[&str],
        address: &Address,
        expected_version: Option<i64>,
        key: &str,
    ) -> Result<AddressChange, UpstreamError> {
        let url = self.client().url(Orders, segments)?;
        let mut body = json!({ "address": address });
        if let Some(version) = expected_version {
            body["expected_version"] = json!(version);
        }
        self.client().post(tenant, url, key, &body).await
    }
}
