//! The customer surface's route table: one line per endpoint.

pub mod cancel;
pub mod exchanges;
pub mod orders;
pub mod requests;
pub mod returns;
pub mod rma;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/customer/orders", get(orders::list_orders))
        .route("/v1/customer/orders/{order_id}", get(orders::get_order))
        .route(
            "/v1/customer/orders/{order_id}/cancel-request",
            post(cancel::request_cancel),
        )
        .route(
            "/v1/customer/requests/{request_id}",
            get(requests::get_request),
        )
        .route(
            "/v1/customer/orders/{order_id}/return-request",
            post(returns::request_return),
        )
        .route(
            "/v1/customer/orders/{order_id}/replace-request",
            post(exchanges::request_replacement),
        )
        .route("/v1/customer/returns/{rma_id}", get(returns::get_return))
}
