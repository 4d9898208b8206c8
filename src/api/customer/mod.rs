//! The customer surface's route table: one line per endpoint.

pub mod cancel;
pub mod orders;
pub mod requests;
// support messages, notifications, GDPR (issue 4)
pub mod gdpr;
pub mod message_attachment;
pub mod messages;
pub mod notify;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;

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
            "/v1/customer/orders/{order_id}/messages",
            get(messages::list_messages),
        )
        .route(
            "/v1/customer/orders/{order_id}/messages/{message_id}/attachment",
            get(message_attachment::download_attachment),
        )
        .route(
            "/v1/customer/orders/{order_id}/notify",
            get(notify::get_subscriptions).post(notify::set_subscription),
        )
        .route(
            "/v1/customer/gdpr/erase-request",
            post(gdpr::request_erasure),
        )
}

/// Routes that take large bodies (attachments), each with its own limit; `api::router`
/// mounts them outside the default 256 KiB limit.
pub fn upload_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/customer/orders/{order_id}/messages",
            post(messages::send_message),
        )
        .layer(DefaultBodyLimit::max(messages::SEND_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(messages::SEND_BODY_LIMIT))
}
