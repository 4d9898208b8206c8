//! Domain events, in and out. In: the signed webhook format the upstream (and the sandbox)
//! send to orderdesk's ingest endpoint ([`signature`]). Out: events written to the outbox
//! by `db::events::record`, published to a Redis Stream and fanned out to webhook
//! deliveries by the [`relay`], and sent by the [`deliver`] loop, behind the [`ssrf`] guard.

pub mod deliver;
pub mod relay;
pub mod signature;
pub mod ssrf;
pub mod webhook;

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Config;

/// What the events relay and the delivery loop run on.
#[derive(Clone)]
pub struct EventsCtx {
    pub db: PgPool,
    pub config: Arc<Config>,
    pub redis: redis::aio::ConnectionManager,
}
