//! Counting a principal's requests in-process while it is far below its limit, so the hot
//! path does not wait for Redis on every request.
//!
//! A key is counted in Redis (synchronously) at least every [`SYNC_EVERY`], and always when
//! the count comes within [`margin`] of the limit; in between, hits are counted here on top of
//! the last figure Redis gave, and those pending hits travel with the next synchronous count
//! (`INCRBY`). One process therefore answers exact counts and never lets a principal past its
//! limit; several api processes may together exceed it by what the others counted in their
//! last [`SYNC_EVERY`] — the price of not paying a round trip per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Window;

/// How stale the Redis figure of a key may be before a hit waits for Redis again.
pub const SYNC_EVERY: Duration = Duration::from_millis(100);
/// Keys kept before expired windows are dropped (a bound on memory, not a cache policy).
const MAX_KEYS: usize = 50_000;

/// How close to the limit counting becomes synchronous: a tenth of it, at least 20.
pub fn margin(limit: u64) -> u64 {
    (limit / 10).max(20)
}

#[derive(Debug, Clone, Copy)]
struct Local {
    /// The count Redis answered at the last synchronous hit.
    global: u64,
    /// Hits counted here since, not yet in Redis.
    pending: u64,
    resets_at: Instant,
    synced_at: Instant,
}

#[derive(Default)]
pub struct LocalCounts {
    keys: Mutex<HashMap<String, Local>>,
}

impl LocalCounts {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Local>> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one hit of `key` here and answers its window, when the Redis figure is fresh
    /// and the count stays more than [`margin`] below `limit`; `None`: count in Redis.
    pub fn try_count(&self, key: &str, limit: u64, now: Instant) -> Option<Window> {
        let mut keys = self.lock();
        let local = keys.get_mut(key)?;
        if now >= local.resets_at || now.duration_since(local.synced_at) >= SYNC_EVERY {
            return None;
        }
        let count = local.global + local.pending + 1;
        if count + margin(limit) > limit {
            return None;
        }
        local.pending += 1;
        Some(Window {
            count,
            reset: local.resets_at - now,
        })
    }

    /// The hits of `key` not yet in Redis (none if their window ended), now handed to a
    /// synchronous count.
    pub fn take_pending(&self, key: &str, now: Instant) -> u64 {
        match self.lock().get_mut(key) {
            Some(local) if now < local.resets_at => std::mem::take(&mut local.pending),
            _ => 0,
        }
    }

    /// Records what Redis answered for `key` at `now`. Hits counted here meanwhile stay
    /// pending.
    pub fn synced(&self, key: &str, window: Window, now: Instant) {
        let mut keys = self.lock();
        if keys.len() >= MAX_KEYS && !keys.contains_key(key) {
            keys.retain(|_, l| l.resets_at > now);
            if keys.len() >= MAX_KEYS {
                keys.clear();
            }
        }
        let local = keys.entry(key.to_string()).or_insert(Local {
            global: 0,
            pending: 0,
            resets_at: now,
            synced_at: now,
        });
        local.global = window.count;
        local.resets_at = now + window.reset;
        local.synced_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn window(count: u64) -> Window {
        Window {
            count,
            reset: MINUTE,
        }
    }

    #[test]
    fn counts_here_between_syncs_and_exactly() {
        let counts = LocalCounts::default();
        let t0 = Instant::now();
        assert_eq!(
            counts.try_count("k", 600, t0),
            None,
            "unknown keys go to Redis"
        );
        counts.synced("k", window(1), t0);
        for n in 2..=50 {
            let w = counts.try_count("k", 600, t0).expect("counted here");
            assert_eq!(w.count, n);
        }
        assert_eq!(counts.take_pending("k", t0), 49);
        assert_eq!(counts.take_pending("k", t0), 0, "taken once");
        assert_eq!(
            counts.try_count("k", 600, t0 + SYNC_EVERY),
            None,
            "a stale figure goes to Redis"
        );
    }

    #[test]
    fn near_the_limit_every_hit_goes_to_redis() {
        let counts = LocalCounts::default();
        let t0 = Instant::now();
        counts.synced("k", window(600 - 60), t0);
        assert_eq!(counts.try_count("k", 600, t0), None);
        counts.synced("small", window(1), t0);
        assert_eq!(
            counts.try_count("small", 5, t0),
            None,
            "a limit within the margin is always counted in Redis"
        );
    }

    #[test]
    fn pending_hits_of_an_ended_window_are_dropped() {
        let counts = LocalCounts::default();
        let t0 = Instant::now();
        counts.synced(
            "k",
            Window {
                count: 1,
                reset: Duration::from_millis(50),
            },
            t0,
        );
        assert!(counts.try_count("k", 600, t0).is_some());
        let later = t0 + Duration::from_millis(60);
        assert_eq!(counts.try_count("k", 600, later), None);
        assert_eq!(counts.take_pending("k", later), 0);
    }
}
