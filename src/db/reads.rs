//! Connections for the api's hottest reads, without sqlx's round trip on release.
//!
//! sqlx 0.8 pings every connection going back to its pool (a `Sync` and its answer, in a
//! task spawned per release), whatever the connection did: for a one-statement read that is
//! a second round trip to PostgreSQL. Measured in bench (c), the order read at 64
//! connections, binaries alternating: 0.82× the bare baseline's requests/s through the sqlx
//! pool, 0.96–1.10× through this one (README, Benchmarks, 2026-12-03). The ping is there for
//! connections left mid-statement (a request cancelled during its query) or broken; here a
//! connection is pinged only when its borrower did not say it finished
//! ([`ReadConnection::done`]: a cancelled or failed read) or it sat idle (a restarted
//! PostgreSQL shows then), so such a read costs what it costs in sqlx's pool and a
//! finished one costs nothing.
//!
//! For single statements outside transactions only: a borrower that began a transaction
//! would hand it on to the next. The pool is lazy: a process that never reads through it
//! opens no connection.

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

/// Connections idle longer than this are pinged before use, as the sqlx pools do.
const PING_IF_IDLE_FOR: Duration = super::PING_IF_IDLE_FOR;
/// Connections older than this are closed instead of reused (sqlx's default lifetime).
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// A pool of connections for one-statement reads (see the module's comment).
#[derive(Clone)]
pub struct ReadPool(managed::Pool<Connector>);

/// Opens connections with the main pool's settings and checks them on reuse.
struct Connector {
    opts: PgConnectOptions,
}

/// A pooled connection and whether its last borrower finished with it.
struct Pooled {
    conn: PgConnection,
    finished: bool,
}

/// A connection borrowed from a [`ReadPool`]; call [`ReadConnection::done`] once its
/// statement has returned, else the pool pings it before its next use.
pub struct ReadConnection(managed::Object<Connector>);

impl ReadPool {
    /// Up to `max_connections` connections to `pool`'s server, with its settings.
    pub fn beside(pool: &PgPool, max_connections: usize) -> ReadPool {
        let connector = Connector {
            opts: (*pool.connect_options()).clone(),
        };
        let pool = managed::Pool::builder(connector)
            .max_size(max_connections)
            .queue_mode(managed::QueueMode::Lifo)
            .wait_timeout(Some(super::ACQUIRE_TIMEOUT))
            .create_timeout(Some(super::ACQUIRE_TIMEOUT))
            .recycle_timeout(Some(super::ACQUIRE_TIMEOUT))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .expect("a runtime is set, so timeouts are allowed");
        ReadPool(pool)
    }

    /// A connection, within the acquire timeout; errors as the sqlx pools answer them.
    pub async fn acquire(&self) -> sqlx::Result<ReadConnection> {
        let mut object = self.0.get().await.map_err(|e| match e {
            managed::PoolError::Backend(e) => e,
            managed::PoolError::Closed => sqlx::Error::PoolClosed,
            _ => sqlx::Error::PoolTimedOut,
        })?;
        object.finished = false;
        Ok(ReadConnection(object))
    }
}

impl ReadConnection {
    /// Hands the connection back as finished: its statement returned, so the next borrower
    /// may use it without a ping.
    pub fn done(mut self) {
        self.0.finished = true;
    }
}

impl Deref for ReadConnection {
    type Target = PgConnection;
    fn deref(&self) -> &PgConnection {
        &self.0.conn
    }
}

impl DerefMut for ReadConnection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.0.conn
    }
}

impl managed::Manager for Connector {
    type Type = Pooled;
    type Error = sqlx::Error;

    async fn create(&self) -> sqlx::Result<Pooled> {
        Ok(Pooled {
            conn: self.opts.connect().await?,
            finished: true,
        })
    }

    async fn recycle(&self, pooled: &mut Pooled, metrics: &Metrics) -> RecycleResult<sqlx::Error> {
        if metrics.age() > MAX_LIFETIME {
            return Err(RecycleError::message("past its lifetime"));
        }
        if !pooled.finished || metrics.last_used() > PING_IF_IDLE_FOR {
            // also reads what a cancelled statement left unread
            pooled.conn.ping().await.map_err(RecycleError::Backend)?;
            pooled.finished = true;
        }
        Ok(())
    }
}
