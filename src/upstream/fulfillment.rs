//! The Fulfillment service (`/fulfillment`): where an order ships, and its Returns API
//! (RMAs of returns and exchanges).

use crate::domain::ids::{OrderId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Upstream, UpstreamError, UpstreamReader};
use crate::config::Service::Fulfillment;
use crate::domain::order::{Address, Shipment};
use crate::domain::return_review::{ApprovalMethod, Condition, Disposition};
use crate::domain::returns::{Rma, RmaKind, RmaLine};

/// An RMA to create at the Returns API (`POST /fulfillment/v1/returns`).
#[derive(Debug, Clone, Serialize)]
pub struct NewRma<'a> {
    /// orderdesk's id for it, so a repeat finds the same RMA.
    pub id: &'a str,
    pub order_id: &'a str,
    pub kind: RmaKind,
    pub method: &'a str,
    pub preferred_refund: Option<&'a str>,
    pub lines: &'a [RmaLine],
}

/// An approval to record at the Returns API (`POST /v1/returns/{id}/approve`).
#[derive(Debug, Clone, Serialize)]
pub struct RmaApprovalIn {
    pub method: ApprovalMethod,
}

/// An inspection to record at the Returns API (`POST /v1/returns/{id}/inspections`).
#[derive(Debug, Clone, Serialize)]
pub struct RmaInspectionIn<'a> {
    pub condition: Condition,
    pub restockable: bool,
    pub disposition: Disposition,
    pub notes: Option<&'a str>,
}

impl UpstreamReader {
    /// `GET /v1/returns/{id}`: the RMA with its approval and inspections (permanent 404
    /// `return.not_found` for one the Returns API does not know).
    pub async fn get_rma(&self, tenant: &TenantId, rma_id: &str) -> Result<Rma, UpstreamError> {
        let url = self.client.url(Fulfillment, &["v1", "returns", rma_id])?;
        self.client.get(tenant, url).await
    }

    /// `GET /v1/returns?order_id=`: the order's RMAs, oldest first.
    pub async fn list_rmas(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
    ) -> Result<Vec<Rma>, UpstreamError> {
        #[derive(Deserialize)]
        struct Page {
            data: Vec<Rma>,
        }
        let url = self.client.url_with_query(
            Fulfillment,
            &["v1", "returns"],
            &[("order_id", order_id.as_str())],
        )?;
        let page: Page = self.client.get(tenant, url).await?;
        Ok(page.data)
    }

    /// `GET /v1/shipments?order_id=`: the order's shipments as the Fulfillment service
    /// knows them (404 for an order it does not know).
    pub async fn list_shipments(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
    ) -> Result<Vec<Shipment>, UpstreamError> {
        #[derive(Deserialize)]
        struct Page {
            data: Vec<Shipment>,
        }
        let url = self.client.url_with_query(
            Fulfillment,
            &["v1", "shipments"],
            &[("order_id", order_id.as_str())],
        )?;
        let page: Page = self.client.get(tenant, url).await?;
        Ok(page.data)
    }
}

impl Upstream {
    /// `POST /v1/returns`: creates the RMA (201), or answers the one that already has
    /// `rma.id` (200).
    pub async fn create_rma(
        &self,
        tenant: &TenantId,
        rma: &NewRma<'_>,
        key: &str,
    ) -> Result<Rma, UpstreamError> {
        let url = self.client().url(Fulfillment, &["v1", "returns"])?;
        self.client().post(tenant, url, key, rma).await
    }

    /// `POST /v1/returns/{id}/approve`: the RMA, `approved`; approved already → 409
    /// `return.already_approved`, closed → 409 `return.not_open` (both permanent).
    pub async fn approve_rma(
        &self,
        tenant: &TenantId,
        rma_id: &str,
        approval: &RmaApprovalIn,
        key: &str,
    ) -> Result<Rma, UpstreamError> {
        let url = self
            .client()
            .url(Fulfillment, &["v1", "returns", rma_id, "approve"])?;
        self.client().post(tenant, url, key, approval).await
    }

    /// `POST /v1/returns/{id}/inspections`: the RMA with the inspection appended (last);
    /// not approved → 409 `return.not_approved`, closed → 409 `return.not_open`.
    pub async fn inspect_rma(
        &self,
        tenant: &TenantId,
        rma_id: &str,
        inspection: &RmaInspectionIn<'_>,
        key: &str,
    ) -> Result<Rma, UpstreamError> {
        let url = self
            .client()
            .url(Fulfillment, &["v1", "returns", rma_id, "inspections"])?;
        self.client().post(tenant, url, key, inspection).await
    }

    /// `POST /v1/orders/{id}/address`: shipped → 409 `fulfillment.already_shipped`.
    pub async fn change_fulfillment_address(
        &self,
        tenant: &TenantId,
        order_id: &OrderId,
        address: &Address,
        key: &str,
    ) -> Result<Value, UpstreamError> {
        let url = self
            .client()
            .url(Fulfillment, &["v1", "orders", order_id.as_str(), "address"])?;
        let body = json!({ "address": address });
        self.client().post(tenant, url, key, &body).await
    }
}
