//! The OpenAPI 3.1 document generated from the handlers (`/openapi.json`) and a browsable
//! UI (`/docs`, assets vendored into the binary: no internet needed).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

pub mod problems;

/// What the document says beyond the operations, which the routers bring (see
/// [`crate::api::openapi`]).
#[derive(OpenApi)]
#[openapi(
    info(title = "orderdesk", description = "Customer and admin order APIs over durable workflows. Errors are application/problem+json with a stable `code`."),
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

/// `/openapi.json` and the browsable `/docs`.
pub fn routes(doc: utoipa::openapi::OpenApi) -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
}
