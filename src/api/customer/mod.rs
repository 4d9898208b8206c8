//! The customer surface's route table: one line per endpoint.

pub mod cancel;
pub mod guest;
pub mod orders;
pub mod requests;
pub mod settings;

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
        .route("/v1/customer/orders/lookup", get(guest::lookup_order))
        .route("/v1/customer/capabilities", get(settings::get_capabilities))
        .route("/v1/customer/settings", get(settings::get_settings))
        .route("/v1/customer/rate-limits", get(settings::get_rate_limits))
}
