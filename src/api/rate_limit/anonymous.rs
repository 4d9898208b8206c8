//! Requests without a valid token — guest lookups, signed download links, wrong or expired
//! tokens, event deliveries with a bad signature — limited per client address, in-process,
//! with `governor` (GCRA: a burst of the per-minute figure, then one request per 60/n s).
//!
//! The client address is the one `client_ip` resolved; an IPv6 client is keyed by its /64,
//! the block one host or customer usually holds, so walking through addresses of one network
//! gains nothing. Each api process keeps its own counts: behind a load balancer of n
//! processes a client may reach n times the figure.

use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, RateLimiter};

use super::{Quota, Window};

/// Every this many checks, addresses whose state is back to a fresh bucket are forgotten.
const SHRINK_EVERY: u64 = 4_096;
pub const ANONYMOUS_WINDOW: Duration = Duration::from_secs(60);

pub struct AnonymousLimiter {
    /// `None`: unlimited (`ORDERDESK_ANONYMOUS_PER_MINUTE=0`).
    limiter: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_minute: u32,
    checks: AtomicU64,
}

impl AnonymousLimiter {
    pub fn new(per_minute: u32) -> AnonymousLimiter {
        let limiter =
            NonZeroU32::new(per_minute).map(|n| RateLimiter::keyed(governor::Quota::per_minute(n)));
        AnonymousLimiter {
            limiter,
            per_minute,
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request from `ip` (unknown addresses share one bucket). `Err` is the
    /// exhausted quota, for a 429 that says when to come back.
    pub fn check(&self, ip: Option<IpAddr>) -> Result<(), Quota> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SHRINK_EVERY == SHRINK_EVERY - 1 {
            limiter.retain_recent();
        }
        let key = ip.map_or(IpAddr::from(Ipv6Addr::UNSPECIFIED), network_of);
        limiter.check_key(&key).map_err(|not_until| Quota {
            limit: self.per_minute,
            window: ANONYMOUS_WINDOW,
            counted: Some(Window {
                count: u64::from(self.per_minute) + 1,
                reset: not_until.wait_time_from(limiter.clock().now()),
            }),
        })
    }
}

/// The key of an address: an IPv4 address itself, an IPv6 address's /64.
fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn a_burst_of_the_figure_then_429_with_the_wait() {
        let limiter = AnonymousLimiter::new(3);
        for _ in 0..3 {
            assert!(limiter.check(ip("10.0.0.1")).is_ok());
        }
        let quota = limiter.check(ip("10.0.0.1")).unwrap_err();
        assert!(quota.exceeded());
        assert_eq!(quota.remaining(), Some(0));
        // one request comes back every 20 s
        assert!((1..=20).contains(&quota.reset_secs().unwrap()), "{quota:?}");
        assert!(limiter.check(ip("10.0.0.2")).is_ok(), "per address");
    }

    #[test]
    fn an_ipv6_network_is_one_client() {
        let limiter = AnonymousLimiter::new(1);
        assert!(limiter.check(ip("2001:db8:1:2::1")).is_ok());
        assert!(limiter.check(ip("2001:db8:1:2:ffff::9")).is_err());
        assert!(limiter.check(ip("2001:db8:1:3::1")).is_ok());
        assert!(limiter.check(None).is_ok());
        assert!(
            limiter.check(None).is_err(),
            "unknown addresses share a bucket"
        );
    }

    #[test]
    fn zero_is_unlimited() {
        let limiter = AnonymousLimiter::new(0);
        for _ in 0..100 {
            assert!(limiter.check(ip("10.0.0.1")).is_ok());
        }
    }
}
