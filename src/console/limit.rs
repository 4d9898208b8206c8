//! The agent's rate limit on the console's pages: counted by the API's own middleware
//! (`api::rate_limit::enforce`, the tenant's `agent_per_minute`, shared with the agent's API
//! calls), and refused with the console's error page rather than a JSON problem.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::PageError;
use crate::api::rate_limit::{self, RateLimiter};
use crate::error::Error;

/// What the limiter's 429 problem says, to be shown on the page.
#[derive(Deserialize)]
struct Refusal {
    code: String,
    detail: String,
    #[serde(default)]
    next_steps: Vec<String>,
}

/// The headers of the limiter's answer the page keeps.
const KEPT: [&str; 3] = ["retry-after", "ratelimit", "ratelimit-policy"];
/// Far above any problem the limiter writes.
const PROBLEM_LIMIT: usize = 16 * 1024;

/// Middleware of the console's pages: [`rate_limit::enforce`], with its 429 answered as a
/// page that keeps `Retry-After` and the quota headers.
pub(super) async fn limit_pages(
    State(limiter): State<RateLimiter>,
    req: Request,
    next: Next,
) -> Response {
    let res = rate_limit::enforce(State(limiter), req, next).await;
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if res.status() != StatusCode::TOO_MANY_REQUESTS || is_html {
        return res;
    }
    let (parts, body) = res.into_parts();
    let refusal: Option<Refusal> = axum::body::to_bytes(body, PROBLEM_LIMIT)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let error = match refusal {
        // the page shows the detail only: the wait goes into it
        Some(r) => Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            &r.code,
            [r.detail]
                .into_iter()
                .chain(r.next_steps)
                .collect::<Vec<_>>()
                .join(" — "),
        ),
        None => Error::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit.exceeded",
            "too many requests",
        ),
    };
    let mut page = PageError::from(error).into_response();
    for name in KEPT {
        if let Some(value) = parts.headers.get(name) {
            page.headers_mut().insert(name, value.clone());
        }
    }
    page
}
