//! The sweeper and scheduler: re-pushes the trigger of every run that needs one — a queued
//! retry that fell due, a running run whose lease expired (dead worker), a run whose trigger
//! was lost in Redis — so a lost message or a killed worker is harmless within seconds. Also
//! records the trigger queue's depth (for metrics), prunes finished apalis tasks, old sent
//! outbox rows and expired queue claims, and deletes finished runs and exports past their
//! retention.

use std::time::{Duration, Instant};

use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::{DeliveryCtx, REDIS_TIMEOUT};
use crate::config::Exports;
use crate::domain::ids::RunId;
use crate::exports::store::Store;
use crate::jobs::{PUSH_BATCH, Room};
use crate::{db, metrics};

const SWEEP_EVERY: Duration = Duration::from_millis(250);
/// A queued run pushed this long ago and still not claimed lost its trigger. Longer than a
/// full backlog takes to drain (`MAX_BACKLOG` at ≥ 1,000 runs/s is ~2 s); a duplicate push is
/// harmless anyway (the claim turns it into a no-op).
pub const REDELIVER_AFTER: Duration = Duration::from_secs(20);
const JANITOR_EVERY: Duration = Duration::from_secs(10);
const OUTBOX_RETENTION: Duration = Duration::from_secs(3600);
/// Runs deleted per statement, and statements per cleanup pass: each statement holds its
/// locks briefly, and a pass never takes long whatever the backlog of old runs.
const RETENTION_BATCH: i64 = 1_000;
const RETENTION_BATCHES_PER_PASS: usize = 10;
/// An expired queue claim is kept this long (it holds nothing once expired; the audit log
/// keeps each claim), then deleted in batches as runs are.
pub const CLAIM_RETENTION: Duration = Duration::from_secs(3600);

pub async fn run(state: DeliveryCtx, shutdown: CancellationToken) {
    let mut last_janitor = Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
        match sweep_once(&state).await {
            Ok(0) => {}
            Ok(n) => info!(count = n, "sweeper re-pushed runs"),
            Err(e) => warn!(error = %format!("{e:#}"), "sweep failed; will retry"),
        }
        if last_janitor.elapsed() >= JANITOR_EVERY {
            last_janitor = Instant::now();
            if let Err(e) = janitor(&state).await {
                warn!(error = %format!("{e:#}"), "cleanup failed; will retry");
            }
        }
    }
}

/// One pass: returns how many runs were re-pushed.
pub async fn sweep_once(state: &DeliveryCtx) -> anyhow::Result<usize> {
    let depths = timeout(REDIS_TIMEOUT, state.queue.depths()).await??;
    for (queue, depth) in &depths {
        metrics::set_queue_depth(queue, depth.waiting + depth.fresh);
    }
    let backlogs = depths.into_iter().map(|(q, d)| (q, d.waiting)).collect();
    let Room { full, most, .. } = Room::of(&backlogs);
    let room = most;
    if room == 0 {
        return Ok(0);
    }
    let mut tx = state.db.begin().await?;
    let limit = room.min(PUSH_BATCH) as i64;
    let due = db::runs::due_for_push(&mut tx, REDELIVER_AFTER, limit, &full).await?;
    if due.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let held_back = timeout(REDIS_TIMEOUT, state.queue.push(&due)).await??;
    // a run held back (its queue filled up since the backlogs were read) is due again
    // on the next pass
    let ids: Vec<RunId> = due
        .iter()
        .map(|(id, _)| *id)
        .filter(|id| !held_back.contains(id))
        .collect();
    db::runs::mark_pushed(&mut tx, &ids).await?;
    tx.commit().await?;
    Ok(ids.len())
}

async fn janitor(state: &DeliveryCtx) -> anyhow::Result<()> {
    const BATCH: usize = 2_000;
    for _ in 0..10 {
        if (timeout(REDIS_TIMEOUT, state.queue.prune_done(BATCH)).await?? as usize) < BATCH {
            break;
        }
    }
    let mut conn = state.db.acquire().await?;
    db::outbox::prune_sent(&mut conn, OUTBOX_RETENTION, 5_000).await?;
    if let Some(retention) = state.config.ops.run_retention {
        delete_old_runs(&mut conn, retention).await?;
    }
    delete_expired_claims(&mut conn, CLAIM_RETENTION).await?;
    if let Some(retention) = state.config.exports.retention {
        delete_old_exports(&mut conn, &state.config.exports, retention).await?;
    }
    Ok(())
}

/// Exports deleted per cleanup pass.
const EXPORTS_PER_PASS: i64 = 100;

/// Deletes the exports started longer than `retention` ago, at most [`EXPORTS_PER_PASS`]:
/// each one's files, then its record (so that a failure in between leaves the record for
/// the next pass); returns how many.
pub async fn delete_old_exports(
    conn: &mut sqlx::PgConnection,
    config: &Exports,
    retention: Duration,
) -> anyhow::Result<usize> {
    let old = db::exports::past_retention(conn, retention, EXPORTS_PER_PASS).await?;
    if old.is_empty() {
        return Ok(0);
    }
    let store = Store::open(config)?;
    for (tenant, export) in &old {
        store.delete_export(tenant, *export).await?;
        db::exports::delete(conn, tenant, *export).await?;
    }
    info!(count = old.len(), "deleted exports past their retention");
    Ok(old.len())
}

/// Deletes queue claims expired longer than `retention` ago, at most
/// [`RETENTION_BATCHES_PER_PASS`] batches; returns how many.
pub async fn delete_expired_claims(
    conn: &mut sqlx::PgConnection,
    retention: Duration,
) -> anyhow::Result<u64> {
    let mut deleted = 0;
    for _ in 0..RETENTION_BATCHES_PER_PASS {
        let n = db::queues::delete_expired_claims(conn, retention, RETENTION_BATCH).await?;
        deleted += n;
        if n < RETENTION_BATCH as u64 {
            break;
        }
    }
    if deleted > 0 {
        info!(count = deleted, "deleted expired queue claims");
    }
    Ok(deleted)
}

/// Deletes finished runs older than `retention`, at most [`RETENTION_BATCHES_PER_PASS`]
/// batches; returns how many.
pub async fn delete_old_runs(
    conn: &mut sqlx::PgConnection,
    retention: Duration,
) -> anyhow::Result<u64> {
    let mut deleted = 0;
    for _ in 0..RETENTION_BATCHES_PER_PASS {
        let n = db::runs::delete_finished(conn, retention, RETENTION_BATCH).await?;
        deleted += n;
        if n < RETENTION_BATCH as u64 {
            break;
        }
    }
    if deleted > 0 {
        info!(
            count = deleted,
            "deleted finished runs past their retention"
        );
    }
    Ok(deleted)
}
