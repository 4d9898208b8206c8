//! The same-sitting baseline of scenario (c): what BENCHMARKS.md calls "bare axum 0.8 +
//! sqlx + HS256 JWT" — verify the token (exp/iss/aud/sub required), one indexed select,
//! answer the row as JSON; no tenant settings, rate limit, audit or middleware. Served by
//! `orderdesk-bench bare` (hidden) so that the bench drives it with the same load generator
//! as the real api and reports a ratio measured in one sitting.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::bail;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::types::Json as SqlJson;
use tokio_util::sync::CancellationToken;

use orderdesk::auth::Claims;
use orderdesk::config::{Config, JwtKeys};

struct Bare {
    db: PgPool,
    key: DecodingKey,
    validation: Validation,
}

/// Serves `GET /orders/{id}` (and `GET /health`) on `addr` until `shutdown`.
pub async fn serve(
    config: &Config,
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let JwtKeys::Hs256 { secret } = &config.jwt else {
        bail!("the bare baseline verifies HS256 tokens: set ORDERDESK_JWT_SECRET");
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.set_issuer(&[&config.jwt_issuer]);
    validation.set_audience(&[&config.jwt_audience]);
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(&config.database_url)
        .await?;
    let bare = Arc::new(Bare {
        db,
        key: DecodingKey::from_secret(secret),
        validation,
    });
    let app = Router::new()
        .route("/orders/{id}", get(order))
        .route("/health", get(|| async { "ok" }))
        .with_state(bare);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}

async fn order(
    State(bare): State<Arc<Bare>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, StatusCode> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(StatusCode::UNAUTHORIZED)?;
    let claims = jsonwebtoken::decode::<Claims>(token, &bare.key, &bare.validation)
        .map_err(|_| StatusCode::UNAUTHORIZED)?
        .claims;
    let row: Option<(SqlJson<Value>,)> = sqlx::query_as(
        "SELECT doc FROM order_views WHERE tenant_id = $1 AND id = $2 AND customer_id = $3",
    )
    .bind(&claims.tenant)
    .bind(&id)
    .bind(&claims.sub)
    .fetch_optional(&bare.db)
    .await
    .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    row.map(|(doc,)| Json(doc.0)).ok_or(StatusCode::NOT_FOUND)
}
