//! Commerce calls of the upstream client: the catalog and carts (Orders), stock for a
//! reorder plan (Inventory), address changes (Orders and Fulfillment) and coupon previews
//! (Promotions). See `docs/upstream-contract.md`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Upstream, UpstreamError, seg};
use crate::domain::order::{Address, Order, OrderLine, Totals};
use crate::domain::reorder::{self, CatalogItem, ReorderPlan, SkuNow};

/// Upstream reads of one reorder plan run at most this many at a time.
const PLAN_CONCURRENCY: usize = 8;

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

fn is_not_found(e: &UpstreamError) -> bool {
    matches!(e, UpstreamError::Permanent(p) if p.status == StatusCode::NOT_FOUND.as_u16())
}

impl Upstream {
    /// `GET /v1/catalog/{sku}?currency=`: `None` when the catalog does not know the SKU in
    /// that currency (404).
    pub async fn catalog_item(
        &self,
        tenant: &str,
        sku: &str,
        currency: &str,
    ) -> Result<Option<CatalogItem>, UpstreamError> {
        let url = format!(
            "{}/v1/catalog/{}?currency={}",
            self.orders,
            seg(sku),
            seg(currency)
        );
        match self.call(Method::GET, &url, tenant, None, None).await {
            Ok(item) => Ok(Some(item)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/stock/{sku}` at Inventory: units on hand (0 for a SKU it does not know).
    pub async fn stock_on_hand(&self, tenant: &str, sku: &str) -> Result<i64, UpstreamError> {
        #[derive(Deserialize)]
        struct Stock {
            on_hand: i64,
        }
        let url = format!("{}/v1/stock/{}", self.inventory, seg(sku));
        match self
            .call::<Stock>(Method::GET, &url, tenant, None, None)
            .await
        {
            Ok(s) => Ok(s.on_hand),
            Err(e) if is_not_found(&e) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Reads the catalog entry and stock of each SKU of `lines` (a few at a time) and plans
    /// the reorder with `domain::reorder::plan`. Reads only.
    pub async fn reorder_plan(
        &self,
        order: &Order,
        lines: &[&OrderLine],
    ) -> Result<ReorderPlan, UpstreamError> {
        let mut skus: Vec<String> = lines.iter().map(|l| l.sku.clone()).collect();
        skus.sort_unstable();
        skus.dedup();
        let tenant = order.tenant_id.as_str();
        // owned SKUs: a closure over borrowed ones is not general enough for a Send future
        let now: HashMap<String, SkuNow> = futures::stream::iter(skus)
            .map(|sku: String| async move {
                let (catalog, on_hand) = futures::try_join!(
                    self.catalog_item(tenant, &sku, &order.currency),
                    self.stock_on_hand(tenant, &sku)
                )?;
                Ok::<_, UpstreamError>((sku, SkuNow { catalog, on_hand }))
            })
            .buffer_unordered(PLAN_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(reorder::plan(order, lines, &now))
    }

    /// `POST /v1/carts` at Orders: 201 the cart; nothing addable → 409 `cart.nothing_addable`.
    pub async fn create_cart(
        &self,
        tenant: &str,
        cart: &NewCart<'_>,
        key: &str,
    ) -> Result<Cart, UpstreamError> {
        let url = format!("{}/v1/carts", self.orders);
        let body = serde_json::to_value(cart).unwrap_or(Value::Null);
        self.call(Method::POST, &url, tenant, Some(key), Some(&body))
            .await
    }

    /// `POST /v1/orders/{id}/address`: shipped or ended → 409 `order.address_locked`.
    pub async fn change_address(
        &self,
        tenant: &str,
        order_id: &str,
        address: &Address,
        key: &str,
    ) -> Result<AddressChange, UpstreamError> {
        let url = format!("{}/v1/orders/{}/address", self.orders, seg(order_id));
        let body = json!({ "address": address });
        self.call(Method::POST, &url, tenant, Some(key), Some(&body))
            .await
    }

    /// `POST /v1/orders/{id}/address/revert`: the compensation of a change, allowed in any
    /// status (the parcel goes wherever Fulfillment still has).
    pub async fn revert_address(
        &self,
        tenant: &str,
        order_id: &str,
        address: &Address,
        key: &str,
    ) -> Result<AddressChange, UpstreamError> {
        let url = format!("{}/v1/orders/{}/address/revert", self.orders, seg(order_id));
        let body = json!({ "address": address });
        self.call(Method::POST, &url, tenant, Some(key), Some(&body))
            .await
    }

    /// `POST /fulfillment/v1/orders/{id}/address`: shipped → 409 `fulfillment.already_shipped`.
    pub async fn change_fulfillment_address(
        &self,
        tenant: &str,
        order_id: &str,
        address: &Address,
        key: &str,
    ) -> Result<Value, UpstreamError> {
        let url = format!("{}/v1/orders/{}/address", self.fulfillment, seg(order_id));
        let body = json!({ "address": address });
        self.call(Method::POST, &url, tenant, Some(key), Some(&body))
            .await
    }

    /// `POST /promotions/v1/previews`: what `code` would do to these lines and totals. A
    /// read: nothing is redeemed, so no Idempotency-Key. Not applicable → 422 with one of
    /// `domain::coupon::REASONS`.
    pub async fn preview_coupon(
        &self,
        tenant: &str,
        code: &str,
        currency: &str,
        lines: &[PreviewLine],
        totals: &Totals,
    ) -> Result<CouponPreview, UpstreamError> {
        let url = format!("{}/v1/previews", self.promotions);
        let body = json!({ "code": code, "currency": currency, "lines": lines, "totals": totals });
        self.call(Method::POST, &url, tenant, None, Some(&body))
            .await
    }
}
