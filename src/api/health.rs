//! `GET /v1/customer/health`, `GET /v1/admin/health`: reachability of Postgres and Redis.

use std::time::Duration;

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
    let (postgres, redis) = tokio::join!(postgres_answers(&state), redis_answers(&state));
    HealthOut::report(postgres, redis)
}

/// How long a dependency may take to answer before it counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

async fn postgres_answers(state: &AppState) -> bool {
    let probe = db::ping(&state.db);
    matches!(tokio::time::timeout(PROBE_TIMEOUT, probe).await, Ok(Ok(_)))
}

async fn redis_answers(state: &AppState) -> bool {
    let mut redis = state.redis.clone();
    let ping = redis::cmd("PING");
    let probe = ping.query_async::<String>(&mut redis);
    matches!(tokio::time::timeout(PROBE_TIMEOUT, probe).await, Ok(Ok(_)))
}

impl HealthOut {
    /// 200 `ok` when both answered, else 503 `degraded`, naming each.
    fn report(postgres: bool, redis: bool) -> (StatusCode, Json<HealthOut>) {
        let word = |ok: bool| if ok { "ok" } else { "unreachable" };
        let (status, overall) = if postgres && redis {
            (StatusCode::OK, "ok")
        } else {
            (StatusCode::SERVICE_UNAVAILABLE, "degraded")
        };
        let out = HealthOut {
            status: overall,
            postgres: word(postgres),
            redis: word(redis),
        };
        (status, Json(out))
    }
}
