//! What every request handler and worker shares: pool, Redis, config, keys, the upstream
//! clients and the workflow registry. Built once per process.

use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::Verifier;
use crate::config::Config;
use crate::db::reads::ReadPool;
use crate::jobs::TriggerQueue;
use crate::tenant_settings::SettingsCache;
use crate::upstream::{Upstream, UpstreamReader};
use crate::workflows::{Registry, WorkerCtx};

/// Connections of [`Shared::reads`], opened as reads need them, beside the main pool's.
const READ_CONNECTIONS: usize = 16;

/// Cloned for every extractor and middleware of every request, so it is one `Arc`: one
/// reference-count increment per clone where its handles (pool, Redis, config, keys,
/// upstream clients, registry, queue) took one each (`perf` of the order read under load:
/// its clones and drops ~2 % of the API's CPU). Its fields are read through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] holds.
pub struct Shared {
    pub db: PgPool,
    /// For the hottest one-statement reads (the order read): no round trip on release.
    pub reads: ReadPool,
    /// Reconnects by itself after a Redis restart.
    pub redis: redis::aio::ConnectionManager,
    pub config: Arc<Config>,
    pub auth: Arc<Verifier>,
    /// Reads only: a handler never changes canonical state itself, a workflow does.
    pub upstream: UpstreamReader,
    pub workflows: Arc<Registry>,
    pub queue: Arc<TriggerQueue>,
    /// Tenants' settings as requests read them (an api process keeps it fresh: see
    /// `app::serve_api`).
    pub tenant_settings: SettingsCache,
    /// The client that may change canonical state; private, so that only the workers'
    /// context ([`AppState::worker_ctx`]) hands it out.
    workflow_upstream: Arc<Upstream>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Builds the upstream clients from `config`; fails when a base URL cannot have paths.
    pub fn new(
        db: PgPool,
        redis: redis::aio::ConnectionManager,
        config: Config,
        auth: Verifier,
        workflows: Registry,
        queue: TriggerQueue,
    ) -> anyhow::Result<AppState> {
        let upstream = Upstream::new(&config)?;
        Ok(AppState(Arc::new(Shared {
            reads: ReadPool::beside(&db, READ_CONNECTIONS),
            db,
            redis,
            config: Arc::new(config),
            auth: Arc::new(auth),
            upstream: upstream.reader(),
            workflows: Arc::new(workflows),
            queue: Arc::new(queue),
            tenant_settings: SettingsCache::default(),
            workflow_upstream: Arc::new(upstream),
        })))
    }

    /// The part of the state the engine and actions run on. Not for handlers: a request
    /// hands its change to a workflow (`api::accept`).
    pub fn worker_ctx(&self) -> WorkerCtx {
        WorkerCtx {
            db: self.db.clone(),
            config: self.config.clone(),
            upstream: self.workflow_upstream.clone(),
            workflows: self.workflows.clone(),
            batches: Default::default(),
            run_ends: Default::default(),
            triggers: self.queue.clone(),
        }
    }
}

impl axum::extract::FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}
