//! What the engine and the actions run on: Postgres, the upstream client, the config, the
//! workflow registry and the run triggers (for the child runs a job starts). Narrower than
//! the api's `AppState` (no keys, no rate limits), so the worker side never depends on the
//! api's state.

use std::sync::Arc;

use sqlx::PgPool;

use super::Registry;
use crate::config::Config;
use crate::upstream::Upstream;

/// Cloned per run: each member is a handle, so a clone is a few reference-count increments.
#[derive(Clone)]
pub struct WorkerCtx {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub upstream: Arc<Upstream>,
    pub workflows: Arc<Registry>,
    /// The claims and finishes of this process's runs, written in batches.
    pub batches: super::engine::Batches,
    /// Woken whenever a run of this process ends, so a job waiting on its child runs (a
    /// bulk job's items) goes on at once instead of at its next poll.
    pub run_ends: Arc<tokio::sync::Notify>,
    /// Where a job's child runs (a bulk job's items) are pushed right after their commit, as
    /// an accepted request's are, instead of waiting for the outbox relay's next pass.
    pub triggers: Arc<crate::jobs::TriggerQueue>,
}
