//! Operational settings: where metrics are served, how long finished runs are kept, and how
//! much traffic without a valid token one client address may send.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};

/// Default of `ORDERDESK_METRICS_ADDR`: loopback only, so nothing outside the host (or the
/// container) scrapes it unless the operator says so.
pub const DEFAULT_METRICS_ADDR: &str = "127.0.0.1:9464";

#[derive(Debug, Clone)]
pub struct Operations {
    /// Where api and worker processes serve `/metrics` (`None`: not served).
    pub metrics_addr: Option<SocketAddr>,
    /// Finished runs older than this are deleted by the worker's sweeper (`None`: kept).
    pub run_retention: Option<Duration>,
    /// Requests without a valid token one client address may send per minute, per api
    /// process (0: unlimited).
    pub anonymous_per_minute: u32,
}

impl Operations {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Operations> {
        let metrics_addr = match get("ORDERDESK_METRICS_ADDR") {
            Some(v) if v.trim().eq_ignore_ascii_case("off") => None,
            v => {
                let v = v.unwrap_or_else(|| DEFAULT_METRICS_ADDR.into());
                Some(v.trim().parse::<SocketAddr>().with_context(|| {
                    format!("ORDERDESK_METRICS_ADDR must be host:port (e.g. {DEFAULT_METRICS_ADDR}) or off, got {v:?}")
                })?)
            }
        };
        let days = number(&get, "ORDERDESK_RUN_RETENTION_DAYS", 30)?;
        if days > 3650 {
            bail!("ORDERDESK_RUN_RETENTION_DAYS must be at most 3650 (0 keeps runs forever)");
        }
        let run_retention = (days > 0).then(|| Duration::from_secs(days * 24 * 3600));
        let per_minute = number(&get, "ORDERDESK_ANONYMOUS_PER_MINUTE", 60)?;
        let anonymous_per_minute = u32::try_from(per_minute)
            .ok()
            .filter(|n| *n <= 100_000)
            .context("ORDERDESK_ANONYMOUS_PER_MINUTE must be at most 100000 (0: unlimited)")?;
        Ok(Operations {
            metrics_addr,
            run_retention,
            anonymous_per_minute,
        })
    }
}

fn number(get: &impl Fn(&str) -> Option<String>, var: &str, default: u64) -> anyhow::Result<u64> {
    match get(var) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .with_context(|| format!("{var} must be a whole number, got {v:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> anyhow::Result<Operations> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Operations::from_lookup(|k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults() {
        let ops = with(&[]).unwrap();
        assert_eq!(
            ops.metrics_addr,
            Some(DEFAULT_METRICS_ADDR.parse().unwrap())
        );
        assert_eq!(ops.run_retention, Some(Duration::from_secs(30 * 24 * 3600)));
        assert_eq!(ops.anonymous_per_minute, 60);
    }

    #[test]
    fn off_zero_and_bad_values() {
        let ops = with(&[
            ("ORDERDESK_METRICS_ADDR", "off"),
            ("ORDERDESK_RUN_RETENTION_DAYS", "0"),
            ("ORDERDESK_ANONYMOUS_PER_MINUTE", "0"),
        ])
        .unwrap();
        assert_eq!(
            (
                ops.metrics_addr,
                ops.run_retention,
                ops.anonymous_per_minute
            ),
            (None, None, 0)
        );
        for (var, bad) in [
            ("ORDERDESK_METRICS_ADDR", "localhost"),
            ("ORDERDESK_RUN_RETENTION_DAYS", "a month"),
            ("ORDERDESK_RUN_RETENTION_DAYS", "5000"),
            ("ORDERDESK_ANONYMOUS_PER_MINUTE", "-1"),
        ] {
            let e = with(&[(var, bad)]).unwrap_err().to_string();
            assert!(e.contains(var), "{e}");
        }
    }
}
