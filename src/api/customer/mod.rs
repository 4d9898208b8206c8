//! The customer surface's route table: one line per endpoint.

pub mod cancel;
pub mod documents;
pub mod downloads;
pub mod orders;
pub mod requests;

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
            "/v1/customer/orders/{order_id}/invoice",
            get(documents::get_invoice),
        )
        .route(
            "/v1/customer/orders/{order_id}/label/{shipment_id}",
            get(documents::get_label),
        )
        .route(
            "/v1/customer/orders/{order_id}/documents",
            get(documents::list_documents),
        )
        .route("/v1/downloads/{token}", get(downloads::download_document))
}
