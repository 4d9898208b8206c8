//! What every request handler and worker shares: pool, Redis, config, keys, the upstream
//! client and the workflow registry. Built once per process.

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::Verifier;
use crate::config::Config;
use crate::jobs::TriggerQueue;
use crate::upstream::Upstream;
use crate::workflows::{Registry, WorkerCtx};

/// Cloned for every extractor and middleware of every request: each member is a handle
/// (`Arc`, pool, connection manager), so a clone is a few reference-count increments.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    /// Reconnects by itself after a Redis restart.
    pub redis: redis::aio::ConnectionManager,
    pub config: Arc<Config>,
    pub auth: Arc<Verifier>,
    pub upstream: Arc<Upstream>,
    pub workflows: Arc<Registry>,
    pub queue: Arc<TriggerQueue>,
}

impl AppState {
    /// The part of the state the engine and actions run on.
    pub fn worker_ctx(&self) -> WorkerCtx {
        WorkerCtx {
            db: self.db.clone(),
            config: self.config.clone(),
            upstream: self.upstream.clone(),
            workflows: self.workflows.clone(),
        }
    }
}

impl axum::extract::FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}
