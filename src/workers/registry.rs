//! The process's row in `worker_processes`: written at start, refreshed on a heartbeat (one
//! UPSERT every [`HEARTBEAT`], never per run), deleted on a clean shutdown. Rows silent for
//! a day are pruned by whichever process beats; the console shows a row whose heartbeat is
//! older than [`STALE_AFTER`] as stale.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::in_flight::InFlight;
use crate::db;
use crate::db::worker_processes::ProcessBeat;
use crate::workflows::WorkerCtx;

/// How often a process refreshes its row.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A process silent for longer is shown as stale: it died without cleaning up, or cannot
/// reach Postgres.
pub const STALE_AFTER: Duration = Duration::from_secs(30);
/// Rows silent for longer are deleted.
const PRUNE_AFTER: Duration = Duration::from_secs(24 * 3600);
/// Prune once every this many heartbeats (and at start).
const PRUNE_EVERY: u32 = 120;
/// Bound on one registry write, so an outage delays a heartbeat instead of stalling it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(3);
/// The lease-owner names kept in the row: the latest (one per queue and worker restart).
const MAX_LEASE_OWNERS: usize = 64;

/// Who this process is, as registered.
pub(super) struct Registration {
    pub(super) name: String,
    pub(super) host: String,
    pub(super) queues: Vec<String>,
    pub(super) concurrency: usize,
}

/// Registers the process, beats until `shutdown`, then deletes its row.
pub(super) async fn run(
    state: WorkerCtx,
    me: Registration,
    in_flight: InFlight,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(HEARTBEAT);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut beats: u32 = 0;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        let prune = beats.is_multiple_of(PRUNE_EVERY);
        beats = beats.wrapping_add(1);
        let owners = latest(in_flight.worker_names(), MAX_LEASE_OWNERS);
        let write = async {
            let mut conn = state.db.acquire().await?;
            db::worker_processes::beat(&mut conn, &me.beat(&owners)).await?;
            if prune {
                db::worker_processes::prune(&mut conn, PRUNE_AFTER).await?;
            }
            Ok::<_, anyhow::Error>(())
        };
        match tokio::time::timeout(WRITE_TIMEOUT, write).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %format!("{e:#}"), "worker heartbeat failed"),
            Err(_) => warn!("worker heartbeat timed out"),
        }
    }
    let remove = async {
        let mut conn = state.db.acquire().await?;
        db::worker_processes::remove(&mut conn, &me.name).await?;
        Ok::<_, anyhow::Error>(())
    };
    match tokio::time::timeout(WRITE_TIMEOUT, remove).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!(error = %format!("{e:#}"), "could not deregister the worker process"),
        Err(_) => warn!("deregistering the worker process timed out"),
    }
}

impl Registration {
    fn beat<'a>(&'a self, owners: &'a [String]) -> ProcessBeat<'a> {
        ProcessBeat {
            name: &self.name,
            host: &self.host,
            pid: i32::try_from(std::process::id()).unwrap_or(i32::MAX),
            queues: &self.queues,
            concurrency: i32::try_from(self.concurrency).unwrap_or(i32::MAX),
            lease_owners: owners,
        }
    }
}

/// The last `n` of `names`.
fn latest(mut names: Vec<String>, n: usize) -> Vec<String> {
    let skip = names.len().saturating_sub(n);
    names.drain(..skip);
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_latest_lease_owners() {
        let names: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        assert_eq!(latest(names.clone(), 2), vec!["3", "4"]);
        assert_eq!(latest(names, 10).len(), 5);
    }
}
