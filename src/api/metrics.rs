//! `GET /metrics` in the Prometheus text format: jobs by kind and status (from Postgres, so
//! every process reports the same totals), queue depth, and this process's step durations.

use std::fmt::Write;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::error::Result;
use crate::state::AppState;
use crate::{db, workers, workflows};

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse> {
    let mut out = String::new();
    let mut conn = state.db.acquire().await?;
    let counts = db::runs::count_by_kind_status(&mut conn).await?;
    drop(conn);
    let _ = writeln!(
        out,
        "# HELP orderdesk_jobs Jobs (workflow runs) by kind and status.\n# TYPE orderdesk_jobs gauge"
    );
    for (kind, status, n) in counts {
        let _ = writeln!(
            out,
            "orderdesk_jobs{{kind=\"{kind}\",status=\"{status}\"}} {n}"
        );
    }
    let depth = workers::queue_depth(&state.db).await.unwrap_or(0);
    let _ = writeln!(
        out,
        "# HELP orderdesk_queue_depth Runs waiting to be delivered or picked up.\n# TYPE orderdesk_queue_depth gauge\norderdesk_queue_depth {depth}"
    );
    workflows::metrics::render(&mut out);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
