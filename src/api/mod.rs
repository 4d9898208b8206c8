//! The HTTP surface: the route table of each surface is in `customer/mod.rs` and
//! `admin/mod.rs`; every middleware layer is applied here, in one place, so the order shows.

pub mod accept;
pub mod admin;
pub mod auth;
pub mod authorized;
pub mod cancellation;
pub mod client_ip;
pub mod customer;
pub mod docs;
pub mod events;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod jobs;
pub mod metrics;
pub mod order_actions;
pub mod precondition;
pub mod rate_limit;
pub mod shared;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::middleware::{self, Next};
use tower::ServiceBuilder;
use tower::util::MapRequestLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::error::{Error, InternalErrorCause};
use crate::state::AppState;

/// Which routes a process serves (`orderdesk api --surface`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Surface {
    Customer,
    Admin,
    All,
}

const REQUEST_ID: &str = "x-request-id";
/// Above the longest `Prefer: wait` (30 s) so a waiting request is not cut short.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);
const BODY_LIMIT: usize = 256 * 1024;

/// The OpenAPI document of every surface: the operations the routers declare, completed
/// with what the middleware can answer (`docs::problems`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = OpenApiRouter::<AppState>::with_openapi(docs::ApiDoc::openapi())
        .merge(health::routes())
        .merge(events::routes())
        .merge(customer::routes())
        .merge(customer::upload_routes())
        .merge(admin::routes())
        .merge(admin::upload_routes())
        .merge(admin::import_routes())
        .into_openapi();
    docs::problems::complete(&mut doc);
    doc
}

pub fn router(state: AppState, surface: Surface) -> Router {
    let limiter = rate_limit::RateLimiter::new(state.clone());
    let limited = || middleware::from_fn_with_state(limiter.clone(), rate_limit::enforce);
    let proxy_hops = state.config.forwarded_for_hops;
    let mut app = OpenApiRouter::new()
        .merge(health::routes())
        .merge(events::routes().route_layer(middleware::from_fn_with_state(
            limiter.clone(),
            rate_limit::count_unauthorized,
        )));
    if surface != Surface::Admin {
        app = app.merge(customer::routes().route_layer(limited()));
    }
    if surface != Surface::Customer {
        app = app.merge(admin::routes().route_layer(limited()));
    }
    // Every route gets the default body limit except uploads, which carry their own.
    let mut app = Router::from(app)
        .merge(docs::routes(openapi()))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT));
    if surface != Surface::Admin {
        app = app.merge(Router::from(
            customer::upload_routes().route_layer(limited()),
        ));
    }
    if surface != Surface::Customer {
        app = app.merge(Router::from(admin::upload_routes().route_layer(limited())));
        app = app.merge(Router::from(admin::import_routes().route_layer(limited())));
        // the console's pages count against the agent's limit (`console::routes`); a failed
        // sign-in (401) counts against the client's address, as bad signatures do
        app = app.merge(crate::console::routes(limiter.clone()).route_layer(
            middleware::from_fn_with_state(limiter.clone(), rate_limit::count_unauthorized),
        ));
    }
    let routes = app
        .fallback(|| async { Error::not_found("route") })
        .with_state(state)
        .layer(MapRequestLayer::new(metrics::note_route));
    // Built once around the router, not applied to each route (`Router::layer` wraps every
    // route in each layer: a boxed service and a boxed future per layer per request). With
    // the span made only when recorded, ~10 % more order reads/s in bench (c). Outermost
    // first.
    let stack = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(metrics::track))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            Error::Internal(anyhow::anyhow!("handler panicked")).into_response_boxed()
        }))
        .layer(middleware::from_fn(problem_details))
        .layer(middleware::from_fn_with_state(
            proxy_hops,
            client_ip::resolve,
        ))
        .service(routes);
    Router::new().fallback_service(stack)
}

/// The span of a request, when anything records it (an exporter, logs at `info`, or a caller
/// whose trace goes on through it); else none, which costs nothing.
fn request_span(req: &Request<Body>) -> tracing::Span {
    if !crate::telemetry::records_request_spans(req.headers()) {
        return tracing::Span::none();
    }
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    // a caller's `traceparent` makes this request a part of its trace
    crate::telemetry::set_remote_parent(&span, req.headers());
    span
}

impl Error {
    fn into_response_boxed(self) -> Response<Body> {
        axum::response::IntoResponse::into_response(self)
    }
}

/// Adds `request_id` to every problem body, logs internal causes, and turns axum's own
/// plain-text rejections (413, 405…) into problems.
async fn problem_details(req: Request<Body>, next: Next) -> Response<Body> {
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .and_then(|r| r.header_value().to_str().ok())
        .map(str::to_string);
    let res = next.run(req).await;
    if let Some(cause) = res.extensions().get::<InternalErrorCause>() {
        tracing::error!(request_id = request_id.as_deref().unwrap_or(""), cause = %cause.0, "internal error");
    }
    let status = res.status();
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json");
    // the console's error pages are HTML on purpose
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if (!status.is_client_error() && !status.is_server_error()) || is_json || is_html {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .unwrap_or_default();
    let mut problem: serde_json::Value = if is_problem {
        serde_json::from_slice(&bytes).unwrap_or_else(|_| serde_json::json!({}))
    } else {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "request.too_large",
            StatusCode::METHOD_NOT_ALLOWED => "request.method_not_allowed",
            StatusCode::GATEWAY_TIMEOUT => "request.timeout",
            _ => "request.invalid",
        };
        let e = Error::new(status, code, String::from_utf8_lossy(&bytes).to_string());
        serde_json::to_value(e.to_problem()).unwrap_or_default()
    };
    if let Some(id) = request_id {
        problem["request_id"] = serde_json::Value::String(id);
    }
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}
