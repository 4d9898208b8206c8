//! The operations console at `/console`: server-rendered pages (maud) over the same data
//! and permissions as the admin API. An agent signs in once (`sign_in`); the session's
//! cookie then authenticates the pages and — with its CSRF token — the admin API calls the
//! pages' buttons make, so a button does exactly what the API does (permissions, audit,
//! idempotency, sudo).

mod assets;
mod charts;
mod engine;
mod exports;
mod extract;
mod guard;
mod jobs;
mod kpis;
mod layout;
mod limit;
mod sign_in;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Request, Response, header};
use axum::middleware::{self, Next};
use axum::routing::{get, post};

pub use guard::SignedIn;
pub use layout::PageError;

use crate::api::rate_limit::RateLimiter;
use crate::state::AppState;

const FORM_LIMIT: usize = 16 * 1024;

/// The console's routes; `api::router` mounts them with the admin surface and gives them its
/// rate limiter. The pages count against the agent's limit as the admin API does (`limit`);
/// signing in, out and the step-up do not (their CSRF token is in the form, not the header
/// the limiter's authentication checks).
pub fn routes(limiter: RateLimiter) -> Router<AppState> {
    Router::new()
        .route("/console", get(jobs::list))
        .route("/console/jobs/dead", get(jobs::dead))
        .route("/console/jobs/{job_id}", get(jobs::show))
        .route("/console/queues", get(engine::queues))
        .route("/console/workers", get(engine::workers))
        .route("/console/exports", get(exports::list))
        .route("/console/kpis", get(kpis::show))
        .route_layer(middleware::from_fn_with_state(limiter, limit::limit_pages))
        .route("/console/sign-in", get(sign_in::form).post(sign_in::submit))
        .route("/console/sign-out", post(sign_in::sign_out))
        .route("/console/sudo", post(sign_in::step_up))
        .layer(middleware::from_fn(page_headers))
        .route("/console/assets/{file}", get(assets::serve))
        // the forms are a token at most
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
}

/// Pages are never cached, framed or sniffed, and run only the console's own script.
async fn page_headers(req: Request<Body>, next: Next) -> Response<Body> {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    for (name, value) in [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}
