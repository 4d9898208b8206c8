//! Per-tenant, per-principal rate limiting of the customer and admin surfaces, in Redis.
//!
//! [`enforce`] is one middleware on both route tables (`api::router`). It verifies the bearer
//! token itself — through `api::auth::authenticate`, which leaves the verified claims in the
//! request so the handler's `Customer`/`Agent` extractor does not verify again — because the
//! quota headers belong on the response, which an extractor cannot touch. A request without a
//! valid token counts against its client address instead (`anonymous`, in-process); within
//! that limit its extractor answers 401/403 as before, or the guest lookup does its own
//! counting. [`count_unauthorized`] does the same for routes that authenticate otherwise
//! (signed event deliveries), counting their 401s.
//!
//! The hot path rarely waits for Redis: the tenant's limits come from the process's cache
//! of settings (`tenant_settings`), a principal far below its limit is counted in-process
//! between Redis counts at most 100 ms apart (`local`: exact within one process; near the
//! limit every request is counted in Redis), and a Redis failure (timeout, refused) fails
//! open for a second before Redis is tried again, logged at most every 30 s, so the API
//! keeps serving while Redis is down.

pub mod anonymous;
mod local;
pub mod window;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use window::{Policy, Quota, Window, cannot_count};

use crate::api::auth::authenticate;
use crate::api::client_ip::ClientIp;
use crate::auth::{Claims, PrincipalKind};
use crate::domain::ids::TenantId;
use crate::domain::settings::TenantSettings;
use crate::error::Error;
use crate::state::AppState;

/// The window of the per-principal limits (`*_per_minute`).
pub const PRINCIPAL_WINDOW: Duration = Duration::from_secs(60);
/// Longest wait for Redis on the request path; local round trips take well under 1 ms.
const REDIS_TIMEOUT: Duration = Duration::from_millis(150);
/// After a Redis failure, requests skip counting this long instead of each waiting.
const OPEN_AFTER_FAILURE: Duration = Duration::from_secs(1);
const WARN_EVERY: Duration = Duration::from_secs(30);

/// The limiter of one router: Redis counters, the tenant-settings cache and the fail-open
/// state. Cheap to clone; also in the extensions of every request it sees, for handlers that
/// count something else (guest lookups).
#[derive(Clone)]
pub struct RateLimiter {
    state: AppState,
    inner: Arc<Inner>,
}

struct Inner {
    /// Principal hits counted in-process between Redis round trips.
    local: local::LocalCounts,
    anonymous: anonymous::AnonymousLimiter,
    started: Instant,
    /// Milliseconds since `started` until which Redis is not tried (0: closed).
    skip_until_ms: AtomicU64,
    last_warn_ms: AtomicU64,
}

impl RateLimiter {
    pub fn new(state: AppState) -> RateLimiter {
        let anonymous = anonymous::AnonymousLimiter::new(state.config.ops.anonymous_per_minute);
        RateLimiter {
            state,
            inner: Arc::new(Inner {
                local: local::LocalCounts::default(),
                anonymous,
                started: Instant::now(),
                skip_until_ms: AtomicU64::new(0),
                last_warn_ms: AtomicU64::new(0),
            }),
        }
    }

    /// The tenant's settings, as this process caches them (`tenant_settings`).
    pub async fn tenant_settings(&self, tenant: &TenantId) -> sqlx::Result<Arc<TenantSettings>> {
        let state = &self.state;
        state.tenant_settings.get(&state.db, tenant).await
    }

    /// A Redis key of the limiter: `{prefix}:rl:{tenant}:{rest}`.
    pub fn key(&self, tenant: &TenantId, rest: &str) -> String {
        format!("{}:rl:{tenant}:{rest}", self.state.config.redis_prefix)
    }

    /// Counts one hit on each key; `None` when Redis cannot answer now (fail open).
    pub async fn hit(&self, keys: &[String], window: Duration) -> Option<Vec<Window>> {
        self.hit_by(keys, 1, window).await
    }

    /// Counts one hit of a principal: in-process while far below `limit` and recently
    /// synced (`local`), else in Redis together with the hits counted here meanwhile.
    async fn hit_principal(&self, key: &str, limit: u32) -> Option<Window> {
        let local = &self.inner.local;
        if let Some(w) = local.try_count(key, u64::from(limit), Instant::now()) {
            return Some(w);
        }
        let hits = 1 + local.take_pending(key, Instant::now());
        let keys = [key.to_string()];
        let window = self
            .hit_by(&keys, hits, PRINCIPAL_WINDOW)
            .await?
            .first()
            .copied()?;
        local.synced(key, window, Instant::now());
        Some(window)
    }

    async fn hit_by(&self, keys: &[String], hits: u64, window: Duration) -> Option<Vec<Window>> {
        let now_ms = self.now_ms();
        if now_ms < self.inner.skip_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        let mut redis = self.state.redis.clone();
        let failure =
            match tokio::time::timeout(REDIS_TIMEOUT, window::hit(&mut redis, keys, hits, window))
                .await
            {
                Ok(Ok(windows)) => return Some(windows),
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {REDIS_TIMEOUT:?}"),
            };
        self.inner.skip_until_ms.store(
            now_ms + OPEN_AFTER_FAILURE.as_millis() as u64,
            Ordering::Relaxed,
        );
        let last = self.inner.last_warn_ms.load(Ordering::Relaxed);
        if (last == 0 || now_ms >= last + WARN_EVERY.as_millis() as u64)
            && self
                .inner
                .last_warn_ms
                .compare_exchange(last, now_ms.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(error = %failure, "rate limit counters unavailable: Redis unreachable (principal limits fail open, guest lookups are refused)");
        }
        None
    }

    fn now_ms(&self) -> u64 {
        self.inner.started.elapsed().as_millis() as u64
    }

    /// The caller's quota after counting this request; `None` when the caller is not limited
    /// (limit 0) or the tenant's settings cannot be read.
    pub async fn check_principal(&self, claims: &Claims) -> Option<Quota> {
        let settings = match self.tenant_settings(&claims.tenant).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(tenant = %claims.tenant, error = %e, "rate limiting skipped: settings unreadable");
                return None;
            }
        };
        let (kind, limit) = match claims.kind {
            PrincipalKind::Customer => ("customer", settings.rate_limits.customer_per_minute),
            PrincipalKind::Agent => ("agent", settings.rate_limits.agent_per_minute),
            // a key counts on its own, at an agent's limit
            PrincipalKind::ApiKey => ("key", settings.rate_limits.agent_per_minute),
        };
        if limit == 0 {
            return None;
        }
        let key = self.key(&claims.tenant, &format!("{kind}:{}", claims.sub));
        let counted = self.hit_principal(&key, limit).await;
        Some(Quota {
            limit,
            window: PRINCIPAL_WINDOW,
            counted,
        })
    }
}

/// Middleware: counts the request against its principal's quota, answers 429 over it, and
/// puts the quota headers on the response; a request without a valid token counts against its
/// client address. Puts the [`RateLimiter`] and the [`Quota`] in the request's extensions for
/// handlers.
pub async fn enforce(State(limiter): State<RateLimiter>, req: Request, next: Next) -> Response {
    enforce_as(limiter, req, next, IntoResponse::into_response).await
}

/// [`enforce`], a refusal rendered by `render` (the console answers a page, not JSON).
pub async fn enforce_as(
    limiter: RateLimiter,
    req: Request,
    next: Next,
    render: fn(Error) -> Response,
) -> Response {
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(limiter.clone());
    let quota = match authenticate(&mut parts, &limiter.state).await {
        Ok(claims) => limiter.check_principal(&claims).await,
        // not the client's fault (an identity provider out of reach): not counted
        Err(e) if e.status().is_server_error() => None,
        Err(_) => {
            let ip = parts.extensions.get::<ClientIp>().and_then(|c| c.0);
            if let Err(q) = limiter.inner.anonymous.check(ip) {
                return q.too_many_as(Policy::Anonymous, "requests without a valid token", render);
            }
            None // the handler's extractor answers with the reason
        }
    };
    if let Some(q) = &quota {
        if q.exceeded() {
            return q.too_many_as(Policy::Default, "requests", render);
        }
        parts.extensions.insert(q.clone());
    }
    let mut res = next.run(Request::from_parts(parts, body)).await;
    if let Some(q) = quota {
        q.apply_headers(Policy::Default, res.headers_mut());
    }
    res
}

/// Middleware of routes that authenticate by other means than a bearer token (signed event
/// deliveries): each 401 counts against the client address, and one over its limit is
/// answered 429 instead.
pub async fn count_unauthorized(
    State(limiter): State<RateLimiter>,
    req: Request,
    next: Next,
) -> Response {
    let ip = req.extensions().get::<ClientIp>().and_then(|c| c.0);
    let res = next.run(req).await;
    if res.status() == StatusCode::UNAUTHORIZED
        && let Err(q) = limiter.inner.anonymous.check(ip)
    {
        return q.too_many(Policy::Anonymous, "requests without a valid signature");
    }
    res
}
