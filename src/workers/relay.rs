//! The outbox relay: delivers the run triggers `jobs::dispatch` could not push (Redis down,
//! queue full, process died between commit and push). Wakes on `NOTIFY orderdesk_outbox`
//! (debounced) and every 500 ms; pushes in bounded batches, never past a queue's backlog
//! cap (a full queue holds back only its own triggers); leaves rows unsent while Redis is unreachable.

use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::{DeliveryCtx, REDIS_TIMEOUT};
use crate::db;
use crate::db::outbox::Unsent;
use crate::domain::ids::RunId;
use crate::jobs::{PUSH_BATCH, Room};

const SCAN_EVERY: Duration = Duration::from_millis(500);
/// Folds a burst of notifications into one scan. Short: only triggers nobody else pushes
/// notify (a batch of runs, the scheduler's, an operator's retry, a push that failed), and
/// each waits for it — 100 ms until 2026-12-03, a twentieth of bench (a)'s sample.
const DEBOUNCE: Duration = Duration::from_millis(2);
/// Re-check interval while the queue is full.
const FULL_QUEUE_WAIT: Duration = Duration::from_millis(25);

enum Pass {
    /// Pushed a full batch: look again at once.
    More,
    /// The queue is at its backlog cap.
    Full,
    Idle,
}

pub async fn run(state: DeliveryCtx, shutdown: CancellationToken) {
    let mut listener: Option<PgListener> = None;
    loop {
        if listener.is_none() {
            listener = listen(&state).await;
        }
        let pass = match relay_once(&state).await {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %format!("{e:#}"), "outbox relay could not deliver; will retry");
                Pass::Idle
            }
        };
        let wait = async {
            match pass {
                Pass::More => {}
                Pass::Full => tokio::time::sleep(FULL_QUEUE_WAIT).await,
                Pass::Idle => match listener.as_mut() {
                    Some(l) => {
                        tokio::select! {
                            n = l.recv() => {
                                if n.is_err() {
                                    return false;
                                }
                                tokio::time::sleep(DEBOUNCE).await;
                                while l.next_buffered().is_some() {}
                            }
                            _ = tokio::time::sleep(SCAN_EVERY) => {}
                        }
                    }
                    None => tokio::time::sleep(SCAN_EVERY).await,
                },
            }
            true
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            healthy = wait => if !healthy { listener = None },
        }
    }
}

async fn listen(state: &DeliveryCtx) -> Option<PgListener> {
    let mut l = PgListener::connect_with(&state.db).await.ok()?;
    match l.listen(db::outbox::CHANNEL).await {
        Ok(()) => Some(l),
        Err(e) => {
            warn!(error = %e, "outbox relay cannot LISTEN; scanning on its timer only");
            None
        }
    }
}

async fn relay_once(state: &DeliveryCtx) -> anyhow::Result<Pass> {
    let backlogs = timeout(REDIS_TIMEOUT, state.queue.backlogs()).await??;
    let Room { left, full, .. } = Room::of(&backlogs);
    let rooms: Vec<(String, usize)> = left
        .into_iter()
        .map(|(queue, room)| (queue, room.min(PUSH_BATCH)))
        .collect();
    let Some(smallest_room) = rooms.iter().map(|(_, room)| *room).min() else {
        return Ok(Pass::Full);
    };
    let some_full = !full.is_empty();
    let mut tx = state.db.begin().await?;
    let rows = db::outbox::claim_unsent(&mut tx, &rooms).await?;
    // a queue that filled its room may have more (fewer rows than the smallest room: none
    // did; one pass too many at worst); a full queue may hold back triggers, which nobody
    // announces when it drains: look again once it had time to
    let next = |claimed: usize| {
        if claimed >= smallest_room {
            Pass::More
        } else if some_full {
            Pass::Full
        } else {
            Pass::Idle
        }
    };
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(next(0));
    }
    let unpushed: Vec<&Unsent> = rows.iter().filter(|r| !r.pushed).collect();
    let to_push: Vec<(RunId, String)> = unpushed
        .iter()
        .filter_map(|r| Some((r.run_id, r.queue.clone()?)))
        .collect();
    let pushed_runs: Vec<RunId> = to_push.iter().map(|(id, _)| *id).collect();
    let ids: Vec<i64> = rows.iter().map(|r| r.outbox_id).collect();
    // Taken out of the outbox and committed *before* the push: done after, the relay's row
    // locks on the runs held up the workers already claiming them. A crash between commit
    // and push leaves runs marked pushed but not in Redis; the sweeper re-drives those.
    db::outbox::remove_sent(&mut tx, &ids, &pushed_runs).await?;
    tx.commit().await?;
    if !to_push.is_empty() {
        let pushed = match timeout(REDIS_TIMEOUT, state.queue.push(&to_push)).await {
            Ok(res) => res,
            Err(elapsed) => Err(elapsed.into()),
        };
        let held_back = match pushed {
            Ok(held_back) => held_back,
            Err(e) => {
                // maybe pushed after all: then the next pass pushes again and the claim dedupes
                restore(state, &unpushed, &pushed_runs).await?;
                return Err(e);
            }
        };
        if !held_back.is_empty() {
            // a queue filled up since the backlogs were read: those wait for room
            let rows: Vec<&Unsent> = unpushed
                .into_iter()
                .filter(|r| held_back.contains(&r.run_id))
                .collect();
            restore(state, &rows, &held_back).await?;
            return Ok(Pass::Full);
        }
    }
    debug!(
        rows = ids.len(),
        pushed = to_push.len(),
        "outbox relay pass"
    );
    Ok(next(ids.len()))
}

/// Puts the triggers of `rows` back in the outbox (runs `runs` unmarked), for a later pass.
async fn restore(state: &DeliveryCtx, rows: &[&Unsent], runs: &[RunId]) -> anyhow::Result<()> {
    let mut conn = state.db.acquire().await?;
    db::outbox::restore_unsent(&mut conn, rows, runs).await?;
    Ok(())
}
