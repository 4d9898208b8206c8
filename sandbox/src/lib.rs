//! The built-in sandbox: reference canonical services (Orders, Payments, Inventory,
//! Fulfillment, Billing, Notifications) over real HTTP, with fault injection and read-back
//! routes for tests. It stands alone — a crate of its own that knows nothing of orderdesk:
//! its own schema `sandbox`, its own SQL (`store/`), and its own copy of the wire types
//! (`wire`), so orderdesk's types can change without moving the contract.
//!
//! The contract it implements is `docs/upstream-contract.md`; usage is in `docs/sandbox.md`.

mod addresses;
mod billing;
mod carts;
mod customers;
mod edits;
mod error;
mod events;
mod extract;
mod faults;
mod fulfillment;
mod fulfillments;
mod idempotency;
mod inventory;
mod notifications;
mod orders;
mod payments;
mod promotions;
mod readback;
mod requests;
mod return_review;
mod returns;
mod service;
mod settlements;
mod store;
mod tracking;
pub mod wire;

use std::time::Duration;

use anyhow::Context;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{Error, InternalErrorCause};
use crate::service::Service;

/// What the sandbox needs besides its database.
#[derive(Clone, Default)]
pub struct SandboxConfig {
    /// orderdesk's `POST /v1/events/ingest` URL; no events are sent when `None`.
    pub events_url: Option<String>,
    /// HMAC secret of the `X-Orderdesk-Signature` header (`ORDERDESK_EVENTS_SECRET`).
    pub events_secret: Vec<u8>,
}

impl std::fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("events_url", &self.events_url)
            .field("events_secret", &"<redacted>")
            .finish()
    }
}

/// Shared by every sandbox handler.
#[derive(Clone)]
pub(crate) struct SandboxState {
    pub db: PgPool,
    pub events: events::Emitter,
    pub faults: faults::FaultBoard,
    pub requests: requests::RequestLog,
}

/// Creates schema `sandbox` and its tables if missing. Idempotent, and safe to call from
/// two processes at once (serialized by an advisory lock).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    store::migrate(pool).await
}

/// The whole sandbox: every service under its prefix (`/orders`, `/payments`, …) plus
/// `/sandbox/*`. Events still being delivered when the router is dropped are not awaited;
/// [`serve`] waits for them at shutdown.
pub fn router(pool: PgPool, cfg: SandboxConfig) -> Router {
    build(pool, cfg, TaskTracker::new())
}

/// Serves the sandbox on `listener` until `shutdown` is cancelled, then waits briefly for
/// events still being delivered. The caller reads the bound address from the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    pool: PgPool,
    cfg: SandboxConfig,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let deliveries = TaskTracker::new();
    let app = build(pool, cfg, deliveries.clone());
    tracing::info!(addr = %listener.local_addr()?, "sandbox listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    deliveries.close();
    if tokio::time::timeout(Duration::from_secs(5), deliveries.wait())
        .await
        .is_err()
    {
        tracing::warn!("sandbox stopped with event deliveries still pending");
    }
    Ok(())
}

/// Stores canonical orders (upsert by tenant and id; an existing order is replaced) and
/// makes their SKUs known to inventory with some stock. Used by `orderdesk seed` and tests.
/// Takes anything that serializes to the canonical order document (orderdesk passes its
/// own order type) and reads it as [`wire::Order`]: a document off the contract fails here.
pub async fn seed_orders<T: serde::Serialize + Sync>(
    pool: &PgPool,
    orders: &[T],
) -> anyhow::Result<()> {
    let orders = orders
        .iter()
        .map(|o| serde_json::from_value(serde_json::to_value(o)?))
        .collect::<Result<Vec<wire::Order>, serde_json::Error>>()
        .context("not a canonical order document")?;
    store::seed::seed_orders(pool, &orders).await
}

fn build(pool: PgPool, cfg: SandboxConfig, deliveries: TaskTracker) -> Router {
    let state = SandboxState {
        db: pool,
        events: events::Emitter::new(cfg, deliveries),
        faults: faults::FaultBoard::default(),
        requests: requests::RequestLog::default(),
    };
    let faulty = |service: Service, routes: Router<SandboxState>| {
        routes
            .layer(from_fn_with_state(
                (state.faults.clone(), service),
                faults::inject,
            ))
            .layer(from_fn_with_state(
                (state.requests.clone(), service),
                requests::record,
            ))
    };
    let sandbox = readback::routes()
        .merge(faults::routes())
        .merge(requests::routes())
        .merge(fulfillment::sandbox_routes())
        .merge(fulfillments::sandbox_routes())
        .merge(carts::sandbox_routes())
        .merge(payments::sandbox_routes())
        .merge(billing::sandbox_routes());
    Router::new()
        .nest(
            "/orders",
            faulty(
                Service::Orders,
                orders::routes()
                    .merge(carts::routes())
                    .merge(addresses::orders_routes())
                    .merge(edits::orders_routes())
                    .merge(customers::routes()),
            ),
        )
        .nest(
            "/payments",
            faulty(
                Service::Payments,
                payments::routes().merge(edits::payments_routes()),
            ),
        )
        .nest(
            "/inventory",
            faulty(Service::Inventory, inventory::routes()),
        )
        .nest(
            "/fulfillment",
            faulty(
                Service::Fulfillment,
                fulfillment::routes()
                    .merge(fulfillments::routes())
                    .merge(returns::routes())
                    .merge(return_review::routes())
                    .merge(addresses::fulfillment_routes()),
            ),
        )
        .nest(
            "/billing",
            faulty(
                Service::Billing,
                billing::routes().merge(edits::billing_routes()),
            ),
        )
        .nest(
            "/notifications",
            faulty(Service::Notifications, notifications::routes()),
        )
        .nest("/tracking", faulty(Service::Tracking, tracking::routes()))
        .nest(
            "/promotions",
            faulty(Service::Promotions, promotions::routes()),
        )
        .nest("/sandbox", sandbox)
        .fallback(|| async { Error::not_found("route") })
        .layer(from_fn(log_internal_errors))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// `Error::into_response` hides the cause of a 500 from the client; it is logged here.
async fn log_internal_errors(req: Request, next: Next) -> Response {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let res = next.run(req).await.into_response();
    if let Some(InternalErrorCause(cause)) = res.extensions().get::<InternalErrorCause>() {
        tracing::error!(%method, %path, cause = %cause, "sandbox internal error");
    }
    res
}

/// A new prefixed id such as `ref_0190…` (uuid v7, so ids sort by creation time).
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}
