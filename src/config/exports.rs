//! Where exports for finance are written, in parts of how many rows, how long their
//! download links last and how long the files are kept. The links are signed with a key derived from
//! `ORDERDESK_DOWNLOAD_SECRET` (a label of their own), so production refuses a built-in
//! secret for them as for every other.

use std::time::Duration;

use anyhow::{Context, bail};

/// Default of `ORDERDESK_EXPORTS_STORE`: a directory on the worker's and the api's host.
pub const DEFAULT_EXPORTS_STORE: &str = "file:///var/lib/orderdesk/exports";
/// Default of `ORDERDESK_EXPORTS_PART_ROWS`.
pub const DEFAULT_PART_ROWS: u64 = 100_000;

#[derive(Debug, Clone)]
pub struct Exports {
    /// `file:///absolute/dir` or `s3://bucket/prefix` (credentials and region from the
    /// standard `AWS_*` variables; `AWS_ENDPOINT_URL` for an S3-compatible store).
    pub store: String,
    /// Rows per part: a resumed export starts again at the first part not closed.
    pub part_rows: u64,
    /// How long a download link is valid from when it is handed out.
    pub link_ttl: Duration,
    /// How long an export (its files and its record) is kept from its start; `None` keeps
    /// them for ever. Files may hold customers' e-mails, which an erasure cannot take out
    /// of them: this bounds how long an erased customer stays in them.
    pub retention: Option<Duration>,
}

/// Default of `ORDERDESK_EXPORTS_RETENTION_DAYS`.
pub const DEFAULT_RETENTION_DAYS: u64 = 30;

impl Exports {
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Exports> {
        let store = get("ORDERDESK_EXPORTS_STORE")
            .map(|s| s.trim().trim_end_matches('/').to_string())
            .unwrap_or_else(|| DEFAULT_EXPORTS_STORE.into());
        let ok = match store.split_once("://") {
            Some(("file", path)) => path.starts_with('/') && path.len() > 1,
            Some(("s3", rest)) => !rest.is_empty() && !rest.starts_with('/'),
            _ => false,
        };
        if !ok {
            bail!(
                "ORDERDESK_EXPORTS_STORE must be file:///absolute/dir or s3://bucket[/prefix], got {store:?}"
            );
        }
        let part_rows = match get("ORDERDESK_EXPORTS_PART_ROWS") {
            None => DEFAULT_PART_ROWS,
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .with_context(|| {
                    format!("ORDERDESK_EXPORTS_PART_ROWS must be from 1 to 1000000, got {v:?}")
                })?,
        };
        let ttl = match get("ORDERDESK_EXPORTS_LINK_TTL_SECS") {
            None => 24 * 3600,
            Some(v) => v.trim().parse::<u64>().ok().filter(|n| (1..=7 * 24 * 3600).contains(n))
                .with_context(|| format!("ORDERDESK_EXPORTS_LINK_TTL_SECS must be from 1 to 604800 (7 days), got {v:?}"))?,
        };
        let retention_days = match get("ORDERDESK_EXPORTS_RETENTION_DAYS") {
            None => DEFAULT_RETENTION_DAYS,
            Some(v) => v.trim().parse::<u64>().ok().filter(|n| *n <= 3650).with_context(|| {
                format!(
                    "ORDERDESK_EXPORTS_RETENTION_DAYS must be from 0 (keep for ever) to 3650, got {v:?}"
                )
            })?,
        };
        Ok(Exports {
            store,
            part_rows,
            link_ttl: Duration::from_secs(ttl),
            retention: (retention_days > 0)
                .then(|| Duration::from_secs(retention_days * 24 * 3600)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> anyhow::Result<Exports> {
        Exports::from_lookup(|k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults_and_bad_values_named() {
        let d = with(&[]).unwrap();
        assert_eq!(d.store, DEFAULT_EXPORTS_STORE);
        assert_eq!(d.part_rows, DEFAULT_PART_ROWS);
        assert_eq!(d.retention, Some(Duration::from_secs(30 * 24 * 3600)));
        let kept = with(&[("ORDERDESK_EXPORTS_RETENTION_DAYS", "0")]).unwrap();
        assert_eq!(kept.retention, None, "0 keeps them for ever");
        assert!(with(&[("ORDERDESK_EXPORTS_STORE", "s3://finance/exports/")]).is_ok());
        for (var, bad) in [
            ("ORDERDESK_EXPORTS_STORE", "relative/dir"),
            ("ORDERDESK_EXPORTS_STORE", "ftp://x"),
            ("ORDERDESK_EXPORTS_PART_ROWS", "0"),
            ("ORDERDESK_EXPORTS_LINK_TTL_SECS", "forever"),
            ("ORDERDESK_EXPORTS_RETENTION_DAYS", "3651"),
            ("ORDERDESK_EXPORTS_RETENTION_DAYS", "a month"),
        ] {
            let e = with(&[(var, bad)]).unwrap_err().to_string();
            assert!(e.contains(var), "{e}");
        }
    }
}
