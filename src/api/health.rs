//! `GET /v1/customer/health`, `GET /v1/admin/health`: reachability of Postgres and Redis.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::db;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// `ok` when every dependency answered.
    pub status: &'static str,
    pub postgres: &'static str,
    pub redis: &'static str,
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(admin_health))
}

/// The same report on the admin surface (served by `--surface admin` too).
#[utoipa::path(get, path = "/v1/admin/health", tag = "health",
    responses((status = 200, body = HealthOut), (status = 503, body = HealthOut)))]
pub async fn admin_health(state: State<AppState>) -> (StatusCode, Json<HealthOut>) {
    health(state).await
}

/// Reports whether Postgres and Redis answer; 503 when one does not.
#[utoipa::path(get, path = "/v1/customer/health", tag = "health",
    responses((status = 200, body = HealthOut), (status = 503, body = HealthOut)))]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthOut>) {
    let timeout = std::time::Duration::from_secs(2);
    let pg = tokio::time::timeout(timeout, db::ping(&state.db)).await;
    let mut redis = state.redis.clone();
    let rd = tokio::time::timeout(
        timeout,
        redis::cmd("PING").query_async::<String>(&mut redis),
    )
    .await;
    let pg_ok = matches!(pg, Ok(Ok(_)));
    let redis_ok = matches!(rd, Ok(Ok(_)));
    let word = |ok: bool| if ok { "ok" } else { "unreachable" };
    let status = if pg_ok && redis_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(HealthOut {
            status: if status == StatusCode::OK {
                "ok"
            } else {
                "degraded"
            },
            postgres: word(pg_ok),
            redis: word(redis_ok),
        }),
    )
}
