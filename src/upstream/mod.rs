//! Clients of the canonical services (`docs/upstream-contract.md`), one file per service;
//! the HTTP plumbing they share is `client.rs`, the classification of failures `error.rs`.
//!
//! Two handles over the same connection pool. [`UpstreamReader`] makes reads only; it is all
//! the api's handlers get (`AppState::upstream`), because every change to canonical state
//! goes through a workflow. [`Upstream`] adds the calls that change something, each under an
//! `Idempotency-Key`; workflows get it (`WorkerCtx::upstream`). A handler that tried to
//! cancel an order upstream would not compile. `Upstream` derefs to its reader, so a
//! workflow reads through it as well.

mod billing;
mod client;
mod edits;
mod error;
mod fulfillment;
mod fulfillments;
mod inventory;
mod notifications;
mod orders;
mod payments;
mod promotions;
mod reorder;
mod tracking;

use std::ops::Deref;

use crate::config::Config;

pub use billing::{Invoice, InvoiceChange, InvoiceChangeIn, StoreCredit, StoreCreditIn};
pub use client::CORRELATION_ID;
pub use edits::{InvoiceAdjusted, OrderContent, OrderEdited};
pub use error::{SERVICE, UpstreamError};
pub use fulfillment::{NewRma, RmaApprovalIn, RmaInspectionIn};
pub use fulfillments::{NewFulfillment, ShippedFulfillment};
pub use inventory::StockLine;
pub use notifications::Notification;
pub use orders::{AddressChange, Cart, CartLine, CartLineIn, CartRejection, NewCart, StatusChange};
pub use promotions::{CouponPreview, PreviewLine};

/// The reads of the canonical services: nothing it can call changes canonical state.
/// Cheap to clone (one connection pool inside).
///
/// What a handler holds, so a change made from a handler does not compile:
/// ```compile_fail
/// # async fn cancel(state: orderdesk::state::AppState) {
/// let _ = state.upstream.cancel_order("acme", "ord_1", "changed my mind", "key").await;
/// # }
/// ```
#[derive(Clone)]
pub struct UpstreamReader {
    client: client::Client,
}

/// How a service answered a probe (`UpstreamReader::probe`).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Probe {
    /// `up` (answered below 500), `degraded` (answered 5xx) or `down` (no answer).
    pub health: &'static str,
    pub latency_ms: Option<u64>,
    /// Why it is down; never a host or an address.
    pub error: Option<String>,
}

impl UpstreamReader {
    /// Probes `service` once, within two seconds.
    pub async fn probe(&self, service: crate::config::Service) -> Probe {
        match self
            .client
            .probe(service, std::time::Duration::from_secs(2))
            .await
        {
            Ok((took, status)) => Probe {
                health: if status.is_server_error() {
                    "degraded"
                } else {
                    "up"
                },
                latency_ms: Some(took.as_millis() as u64),
                error: None,
            },
            Err(why) => Probe {
                health: "down",
                latency_ms: None,
                error: Some(why),
            },
        }
    }
}

/// Every call of the canonical services, the changes included. Only workflows hold one.
/// Cheap to clone (one connection pool inside).
#[derive(Clone)]
pub struct Upstream {
    reader: UpstreamReader,
}

impl Upstream {
    /// Fails when a base URL of the configuration cannot have paths under it.
    pub fn new(cfg: &Config) -> anyhow::Result<Upstream> {
        Ok(Upstream {
            reader: UpstreamReader {
                client: client::Client::new(cfg)?,
            },
        })
    }

    /// The read-only handle on the same connection pool, for the api's handlers.
    pub fn reader(&self) -> UpstreamReader {
        self.reader.clone()
    }

    fn client(&self) -> &client::Client {
        &self.reader.client
    }
}

/// A workflow reads through its full client as a handler does through its reader.
impl Deref for Upstream {
    type Target = UpstreamReader;
    fn deref(&self) -> &UpstreamReader {
        &self.reader
    }
}
