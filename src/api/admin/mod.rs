//! The admin surface's route table: one line per endpoint.

pub mod cancel;
pub mod orders;

use axum::Router;
use axum::routing::{get, post};

use crate::api::jobs;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/orders/{order_id}", get(orders::get_order))
        .route(
            "/v1/admin/orders/{order_id}/approve-cancel",
            post(cancel::approve_cancel),
        )
        .route(
            "/v1/admin/orders/{order_id}/force-cancel",
            post(cancel::force_cancel),
        )
        .route("/v1/admin/orders/{order_id}/audit", get(orders::get_audit))
        .route("/v1/admin/jobs", get(jobs::list_jobs))
        .route("/v1/admin/jobs/{job_id}", get(jobs::get_job))
}
