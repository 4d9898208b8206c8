//! Outgoing webhooks' settings: the hosts exempt from the SSRF guard and the retry schedule.

use std::time::Duration;

use anyhow::Context;

/// `host:port,…` a webhook may target although they resolve to a private or loopback
/// address (e.g. a receiver on the same machine in tests).
pub const ALLOW_HOSTS: &str = "ORDERDESK_WEBHOOK_ALLOW_HOSTS";

#[derive(Debug, Clone)]
pub struct Webhooks {
    /// Lower-cased `host:port` entries.
    pub allow_hosts: Vec<String>,
    /// The wait after the first failed attempt; doubled after each further one.
    pub retry_base: Duration,
    /// Attempts before a delivery fails for good and its webhook is disabled.
    pub max_attempts: i32,
}

impl Webhooks {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Webhooks> {
        let allow_hosts = get(ALLOW_HOSTS)
            .unwrap_or_default()
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        let num = |var: &str, default: u64| -> anyhow::Result<u64> {
            get(var).map_or(Ok(default), |v| {
                v.parse::<u64>()
                    .with_context(|| format!("{var} must be a whole number, got {v:?}"))
            })
        };
        let retry_base = Duration::from_millis(num("ORDERDESK_WEBHOOK_RETRY_BASE_MS", 5_000)?);
        let max_attempts = num("ORDERDESK_WEBHOOK_MAX_ATTEMPTS", 13)?.clamp(1, 30) as i32;
        Ok(Webhooks {
            allow_hosts,
            retry_base,
            max_attempts,
        })
    }

    /// The wait after `attempts` failed attempts: base × 2^(attempts−1), at most a day
    /// (default: 5 s, 10 s, … ~2.8 h; 13 attempts span ~11 h).
    pub fn backoff(&self, attempts: i32) -> Duration {
        let factor = 1u32 << attempts.clamp(1, 20).saturating_sub(1);
        (self.retry_base * factor).min(Duration::from_secs(24 * 3600))
    }
}
