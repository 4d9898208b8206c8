//! The OpenAPI 3.1 document generated from the handlers (`/openapi.json`) and a browsable
//! UI (`/docs`, assets vendored into the binary: no internet needed).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::api::{admin, customer, events, health, jobs};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "orderdesk", description = "Customer and admin order APIs over durable workflows. Errors are application/problem+json with a stable `code`."),
    paths(
        health::health,
        customer::orders::list_orders,
        customer::orders::get_order,
        customer::order_metrics::get_order_metrics,
        customer::timeline::get_timeline,
        customer::shipments::list_shipments,
        customer::shipments::track_shipment,
        customer::faq::get_faq,
        customer::cancel::request_cancel,
        customer::requests::get_request,
        customer::returns::request_return,
        customer::returns::get_return,
        customer::exchanges::request_replacement,
        customer::commerce::reorder::reorder,
        customer::commerce::address::update_address,
        customer::commerce::coupon::apply_coupon,
        customer::guest::lookup_order,
        customer::settings::get_capabilities,
        customer::settings::get_settings,
        customer::settings::get_rate_limits,
        customer::messages::list_messages,
        customer::message_send::send_message,
        customer::message_attachment::download_attachment,
        customer::notify::get_subscriptions,
        customer::notify::set_subscription,
        customer::gdpr::request_erasure,
        customer::documents::get_invoice,
        customer::documents::get_label,
        customer::documents::list_documents,
        customer::downloads::download_document,
        admin::orders::get_order,
        admin::orders::get_audit,
        admin::cancel::approve_cancel,
        admin::cancel::force_cancel,
        jobs::get_job,
        jobs::list_jobs,
        events::ingest_event,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError)),
    modifiers(&BearerAuth),
    tags((name = "customer", description = "A customer's own orders and requests"),
         (name = "admin", description = "Agents, finance and operators"),
         (name = "events", description = "Upstream domain events"),
         (name = "health"))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

pub fn routes() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()))
}
