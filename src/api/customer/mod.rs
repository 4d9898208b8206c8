//! The customer surface's route table: one line per endpoint.

pub mod cancel;
pub mod commerce;
pub mod documents;
pub mod downloads;
pub mod exchanges;
pub mod faq;
pub mod guest;
pub mod order_metrics;
pub mod order_parts;
pub mod orders;
pub mod requests;
pub mod returns;
pub mod rma;
pub mod settings;
pub mod shipments;
pub mod timeline;
// support messages, notifications, GDPR (issue 4)
pub mod gdpr;
pub mod message_attachment;
pub mod message_send;
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
        // order reads (static `metrics` outranks `{order_id}` in axum's router)
        .route(
            "/v1/customer/orders/metrics",
            get(order_metrics::get_order_metrics),
        )
        .route(
            "/v1/customer/orders/{order_id}/timeline",
            get(timeline::get_timeline),
        )
        .route(
            "/v1/customer/orders/{order_id}/shipments",
            get(shipments::list_shipments),
        )
        .route("/v1/customer/orders/{order_id}/faq", get(faq::get_faq))
        .route(
            "/v1/customer/shipments/{tracking_number}/track",
            get(shipments::track_shipment),
        )
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
        .route(
            "/v1/customer/orders/{order_id}/reorder",
            post(commerce::reorder::reorder),
        )
        .route(
            "/v1/customer/orders/{order_id}/update-address",
            post(commerce::address::update_address),
        )
        .route(
            "/v1/customer/orders/{order_id}/apply-coupon",
            post(commerce::coupon::apply_coupon),
        )
        .route("/v1/customer/orders/lookup", get(guest::lookup_order))
        .route("/v1/customer/capabilities", get(settings::get_capabilities))
        .route("/v1/customer/settings", get(settings::get_settings))
        .route("/v1/customer/rate-limits", get(settings::get_rate_limits))
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

/// Routes that take large bodies (attachments), each with its own limit; `api::router`
/// mounts them outside the default 256 KiB limit.
pub fn upload_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/customer/orders/{order_id}/messages",
            post(message_send::send_message),
        )
        .layer(DefaultBodyLimit::max(message_send::SEND_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(message_send::SEND_BODY_LIMIT))
}
