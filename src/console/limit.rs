//! The agent's rate limit on the console's pages: counted by the API's own middleware
//! (`api::rate_limit::enforce_as`, the tenant's `agent_per_minute`, shared with the agent's
//! API calls), a refusal answered with the console's error page rather than a JSON problem
//! (same status, code, `Retry-After` and quota headers).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::PageError;
use crate::api::rate_limit::{self, RateLimiter};
use crate::error::Error;

/// Middleware of the console's pages.
pub(super) async fn limit_pages(
    State(limiter): State<RateLimiter>,
    req: Request,
    next: Next,
) -> Response {
    rate_limit::enforce_as(limiter, req, next, as_page).await
}

fn as_page(e: Error) -> Response {
    PageError::from(e).into_response()
}
