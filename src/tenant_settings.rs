//! Tenants' settings as a process reads them on every request (the rate limit's quotas, an
//! order's `allowed_actions`): cached per tenant, dropped the moment they change.
//!
//! A change (`db::tenants::set_settings`, `upsert`) NOTIFYs [`db::tenants::SETTINGS_CHANNEL`]
//! with the tenant's id in its transaction; every api process [`SettingsCache::watch`]es the
//! channel and drops that tenant's entry, so the next request reads the settings again, in
//! this process and in every other one. A notification can be missed while the listening
//! connection is down: then the whole cache is dropped on reconnect, and no entry is kept
//! longer than its time to live in any case.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::db;
use crate::domain::ids::TenantId;
use crate::domain::settings::TenantSettings;

/// How long an entry is reused when no change was heard of (the bound for a missed one).
pub const SETTINGS_TTL: Duration = Duration::from_secs(5);
/// Guest lookups name a tenant no token vouches for: the map stays bounded.
const MAX_CACHED_TENANTS: usize = 10_000;
/// The wait before listening again after the listening connection failed.
const RELISTEN_AFTER: Duration = Duration::from_secs(1);

type Entries = HashMap<TenantId, (Instant, Arc<TenantSettings>)>;

pub struct SettingsCache {
    entries: Mutex<Entries>,
    /// Moves on every drop: a read that began before a change does not cache what it read.
    generation: AtomicU64,
    ttl: Duration,
}

impl Default for SettingsCache {
    fn default() -> Self {
        SettingsCache::with_ttl(SETTINGS_TTL)
    }
}

impl SettingsCache {
    pub fn with_ttl(ttl: Duration) -> SettingsCache {
        SettingsCache {
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            ttl,
        }
    }

    /// The tenant's settings (the defaults for a tenant without a row), read from `db` when
    /// not cached or older than the time to live.
    pub async fn get(&self, db: &PgPool, tenant: &TenantId) -> sqlx::Result<Arc<TenantSettings>> {
        if let Some(s) = self.cached(tenant) {
            return Ok(s);
        }
        let mut conn = db.acquire().await?;
        self.get_on(&mut conn, tenant).await
    }

    /// [`Self::get`] for a caller that holds a connection: read on it when not cached (a
    /// request holding one connection never waits for a second, which a busy pool may not
    /// have).
    pub async fn get_on(
        &self,
        conn: &mut PgConnection,
        tenant: &TenantId,
    ) -> sqlx::Result<Arc<TenantSettings>> {
        if let Some(s) = self.cached(tenant) {
            return Ok(s);
        }
        let now = Instant::now();
        let generation = self.generation.load(Ordering::Acquire);
        let fresh = Arc::new(db::tenants::settings(conn, tenant).await?);
        let mut entries = self.lock();
        // a change dropped entries while this read ran: what it read may be the old settings
        if self.generation.load(Ordering::Acquire) != generation {
            return Ok(fresh);
        }
        if entries.len() >= MAX_CACHED_TENANTS {
            entries.retain(|_, (at, _)| now.duration_since(*at) < self.ttl);
            if entries.len() >= MAX_CACHED_TENANTS {
                entries.clear();
            }
        }
        entries.insert(tenant.clone(), (now, fresh.clone()));
        Ok(fresh)
    }

    fn cached(&self, tenant: &TenantId) -> Option<Arc<TenantSettings>> {
        let entries = self.lock();
        let (at, s) = entries.get(tenant)?;
        (at.elapsed() < self.ttl).then(|| s.clone())
    }

    /// Drops the tenant's entry: its settings changed.
    pub fn invalidate(&self, tenant: &TenantId) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(tenant);
    }

    /// Drops every entry: changes may have gone unheard.
    pub fn clear(&self) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Drops the entries of the tenants whose settings change, as the changes commit (in any
    /// process), until `shutdown`.
    pub async fn watch(&self, db: &PgPool, shutdown: CancellationToken) {
        let mut failing = false;
        loop {
            let listened = tokio::select! {
                _ = shutdown.cancelled() => return,
                res = self.listen(db, &mut failing) => res,
            };
            // once per outage, not once per attempt
            if let Err(e) = listened
                && !std::mem::replace(&mut failing, true)
            {
                tracing::warn!(error = %e, "cannot listen for tenant settings changes; cached settings expire by age only until it can");
            }
            // what changed while nobody listened is unknown
            self.clear();
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RELISTEN_AFTER) => {}
            }
        }
    }

    /// Listens until the connection fails; each notification names a tenant.
    async fn listen(&self, db: &PgPool, failing: &mut bool) -> sqlx::Result<()> {
        let mut listener = PgListener::connect_with(db).await?;
        listener.listen(db::tenants::SETTINGS_CHANNEL).await?;
        // changes made before the LISTEN took effect were not heard
        self.clear();
        *failing = false;
        loop {
            match listener.try_recv().await? {
                Some(n) => self.invalidate(&TenantId::new(n.payload())),
                // the connection was lost and is back: notifications in between are lost
                None => self.clear(),
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // a panic while holding this lock leaves a usable map: recover it
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
