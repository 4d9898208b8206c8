//! Where exports for finance are written, in parts of how many rows, and how long their
//! download links last. The links are signed with a key derived from
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
}

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
        Ok(Exports {
            store,
            part_rows,
            link_ttl: Duration::from_secs(ttl),
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
        assert!(with(&[("ORDERDESK_EXPORTS_STORE", "s3://finance/exports/")]).is_ok());
        for (var, bad) in [
            ("ORDERDESK_EXPORTS_STORE", "relative/dir"),
            ("ORDERDESK_EXPORTS_STORE", "ftp://x"),
            ("ORDERDESK_EXPORTS_PART_ROWS", "0"),
            ("ORDERDESK_EXPORTS_LINK_TTL_SECS", "forever"),
        ] {
            let e = with(&[(var, bad)]).unwrap_err().to_string();
            assert!(e.contains(var), "{e}");
        }
    }
}
