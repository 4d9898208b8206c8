//! Metrics over HTTP: the middleware that records every API request (`track`), and the router
//! of the private metrics listener (`ORDERDESK_METRICS_ADDR`), which serves `GET /metrics`
//! (Prometheus text) and `GET /health` (liveness, for the worker's container healthcheck).
//! The public API does not serve `/metrics`: the metrics carry every tenant's volume.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::Error;
use crate::metrics;

/// The router of the metrics listener.
pub fn router() -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/health", get(|| async { "ok\n" }))
        .fallback(|| async { Error::not_found("route") })
}

async fn scrape() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        metrics::encode(),
    )
}

/// Middleware: counts the request by method, route template and status class, and times it.
/// A path no route matched is labelled `unmatched`, so scans of random paths add no series.
///
/// It runs outside the router (around the whole stack, so that it also counts the answers of
/// the layers, a timeout's 504 included), where no route is matched yet: it leaves a
/// [`RouteSlot`] in the request, which [`note_route`] fills inside the router.
pub async fn track(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(req.method());
    let slot = RouteSlot::default();
    req.extensions_mut().insert(slot.clone());
    let res = next.run(req).await;
    let route = slot.0.get().map_or("unmatched", MatchedPath::as_str);
    metrics::observe_request(method, route, res.status().as_u16(), started.elapsed());
    res
}

/// Where [`note_route`] leaves the route the router matched, for [`track`].
#[derive(Clone, Default)]
pub struct RouteSlot(Arc<OnceLock<MatchedPath>>);

/// Applied to every route (`Router::layer`): tells [`track`] which route matched.
pub fn note_route(req: Request) -> Request {
    if let (Some(slot), Some(route)) = (
        req.extensions().get::<RouteSlot>(),
        req.extensions().get::<MatchedPath>(),
    ) {
        let _ = slot.0.set(route.clone());
    }
    req
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
