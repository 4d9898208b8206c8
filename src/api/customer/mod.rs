//! The customer surface's route table: one line per endpoint.

pub mod cancel;
pub mod commerce;
pub mod documents;
pub mod downloads;
pub mod exchanges;
pub mod faq;
pub mod gdpr;
pub mod guest;
pub mod message_attachment;
pub mod message_send;
pub mod messages;
pub mod notify;
pub mod order_metrics;
pub mod order_parts;
pub mod orders;
pub mod requests;
pub mod returns;
pub mod rma;
pub mod settings;
pub mod shipments;
pub mod timeline;

use axum::extract::DefaultBodyLimit;
use tower_http::limit::RequestBodyLimitLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

/// The customer surface; each route's path and method come from its handler's
/// `#[utoipa::path]`, so a route cannot exist without its documentation.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(orders::list_orders))
        .routes(routes!(orders::get_order))
        // static `metrics` outranks `{order_id}` in axum's router
        .routes(routes!(order_metrics::get_order_metrics))
        .routes(routes!(timeline::get_timeline))
        .routes(routes!(shipments::list_shipments))
        .routes(routes!(faq::get_faq))
        .routes(routes!(shipments::track_shipment))
        .routes(routes!(cancel::request_cancel))
        .routes(routes!(requests::get_request))
        .routes(routes!(returns::request_return))
        .routes(routes!(exchanges::request_replacement))
        .routes(routes!(returns::get_return))
        .routes(routes!(commerce::reorder::reorder))
        .routes(routes!(commerce::address::update_address))
        .routes(routes!(commerce::coupon::apply_coupon))
        .routes(routes!(guest::lookup_order))
        .routes(routes!(settings::get_capabilities))
        .routes(routes!(settings::get_settings))
        .routes(routes!(settings::get_rate_limits))
        .routes(routes!(messages::list_messages))
        .routes(routes!(message_attachment::download_attachment))
        .routes(routes!(notify::get_subscriptions, notify::set_subscription))
        .routes(routes!(gdpr::request_erasure))
        .routes(routes!(documents::get_invoice))
        .routes(routes!(documents::get_label))
        .routes(routes!(documents::list_documents))
        .routes(routes!(downloads::download_document))
}

/// Routes that take large bodies (attachments), each with its own limit; `api::router`
/// mounts them outside the default 256 KiB limit.
pub fn upload_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(message_send::send_message))
        .layer(DefaultBodyLimit::max(message_send::SEND_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(message_send::SEND_BODY_LIMIT))
}
