//! The outbox relay: delivers the run triggers `jobs::dispatch` could not push (Redis down,
//! queue full, process died between commit and push). Wakes on `NOTIFY orderdesk_outbox`
//! (debounced) and every 500 ms (25–100 ms while a queue is full); pushes in bounded
//! batches, never past a queue's backlog cap (a full queue holds back only its own
//! triggers); leaves rows unsent while Redis is unreachable.

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
/// How soon the relay looks again while a queue is at its backlog cap (nobody announces
/// that a queue drained): 25 ms, doubling while passes find nothing to push, up to 100 ms —
/// at ~6,000 runs/s a full queue of `jobs::MAX_BACKLOG` drains 600 in that time, so its
/// workers never run dry.
const FULL_QUEUE_WAIT: Duration = Duration::from_millis(25);
const FULL_QUEUE_MAX_WAIT: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Some queue took all the room it had: look again at once.
    More,
    /// A queue at its backlog cap may hold back triggers: look again soon.
    Full,
    /// Nothing held back: wait for a notification (or the timer).
    Idle,
}

impl Pass {
    /// What follows a pass that claimed `claimed` triggers, where the smallest room of the
    /// queues it read was `smallest_room` and `some_full` says whether it left out a full
    /// queue. Fewer rows than the smallest room: no queue filled its room (one pass too many
    /// at worst).
    fn after(claimed: usize, smallest_room: usize, some_full: bool) -> Pass {
        if claimed > 0 && claimed >= smallest_room {
            Pass::More
        } else if some_full {
            Pass::Full
        } else {
            Pass::Idle
        }
    }
}

/// The wait after `Full` passes: it grows while they push nothing, and starts again at
/// [`FULL_QUEUE_WAIT`] after any other pass.
struct FullWait(Duration);

impl FullWait {
    fn new() -> Self {
        FullWait(FULL_QUEUE_WAIT)
    }

    /// The wait after `pass`, which pushed `claimed` triggers.
    fn after(&mut self, pass: Pass, claimed: usize) -> Duration {
        let wait = self.0;
        self.0 = match (pass, claimed) {
            (Pass::Full, 0) => (wait * 2).min(FULL_QUEUE_MAX_WAIT),
            _ => return self.reset(),
        };
        wait
    }

    fn reset(&mut self) -> Duration {
        self.0 = FULL_QUEUE_WAIT;
        FULL_QUEUE_WAIT
    }
}

pub async fn run(state: DeliveryCtx, shutdown: CancellationToken) {
    let mut listener: Option<PgListener> = None;
    let mut full_wait = FullWait::new();
    let mut woken_by_notice = false;
    loop {
        if listener.is_none() {
            listener = listen(&state).await;
        }
        let (pass, claimed) = match relay_once(&state).await {
            Ok(outcome) => outcome,
            Err(e) => {
                warn!(error = %format!("{e:#}"), "outbox relay could not deliver; will retry");
                (Pass::Idle, 0)
            }
        };
        let timer = match pass {
            Pass::More => {
                full_wait.reset();
                if shutdown.is_cancelled() {
                    return;
                }
                woken_by_notice = false;
                continue;
            }
            Pass::Full => full_wait.after(pass, claimed),
            Pass::Idle => {
                full_wait.reset();
                SCAN_EVERY
            }
        };
        // A notice ends the wait: a queue with room may have new triggers. One that woke a
        // pass which found nothing to push was a full queue's, and so would be the next ones
        // of a burst: until the timer, they are left for the pass after it (which reads every
        // queue with room anyway), so that a busy full queue cannot spin the relay.
        let heed_notices = !(woken_by_notice && pass == Pass::Full && claimed == 0);
        let wait = wait_for_notice_or(listener.as_mut(), timer, heed_notices);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            waited = wait => match waited {
                Waited::Notice => woken_by_notice = true,
                Waited::Timer => woken_by_notice = false,
                Waited::ListenerLost => {
                    woken_by_notice = false;
                    listener = None;
                }
            },
        }
    }
}

enum Waited {
    Notice,
    Timer,
    ListenerLost,
}

/// Waits `timer`, or less when a notice arrives and `heed_notices`; a notice is debounced
/// (the burst it belongs to is folded into the next pass).
async fn wait_for_notice_or(
    listener: Option<&mut PgListener>,
    timer: Duration,
    heed_notices: bool,
) -> Waited {
    let Some(l) = listener else {
        tokio::time::sleep(timer).await;
        return Waited::Timer;
    };
    if !heed_notices {
        // notices meanwhile stay unread: the next heeded wait ends at the first of them
        tokio::time::sleep(timer).await;
        return Waited::Timer;
    }
    tokio::select! {
        n = l.recv() => {
            if n.is_err() {
                return Waited::ListenerLost;
            }
            tokio::time::sleep(DEBOUNCE).await;
            while l.next_buffered().is_some() {}
            Waited::Notice
        }
        _ = tokio::time::sleep(timer) => Waited::Timer,
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

/// One pass: what follows it, and how many triggers it took out of the outbox.
async fn relay_once(state: &DeliveryCtx) -> anyhow::Result<(Pass, usize)> {
    let backlogs = timeout(REDIS_TIMEOUT, state.queue.backlogs()).await??;
    let Room { left, full, .. } = Room::of(&backlogs);
    let rooms: Vec<(String, usize)> = left
        .into_iter()
        .map(|(queue, room)| (queue, room.min(PUSH_BATCH)))
        .collect();
    let Some(smallest_room) = rooms.iter().map(|(_, room)| *room).min() else {
        return Ok((Pass::Full, 0));
    };
    let some_full = !full.is_empty();
    let mut tx = state.db.begin().await?;
    let rows = db::outbox::claim_unsent(&mut tx, &rooms).await?;
    let next = |claimed: usize| (Pass::after(claimed, smallest_room, some_full), claimed);
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
            return Ok((Pass::Full, ids.len().saturating_sub(held_back.len())));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_that_filled_a_room_looks_again_at_once() {
        assert_eq!(Pass::after(500, 500, false), Pass::More);
        assert_eq!(
            Pass::after(30, 30, true),
            Pass::More,
            "even beside a full queue"
        );
        assert_eq!(Pass::after(29, 30, false), Pass::Idle);
        assert_eq!(Pass::after(29, 30, true), Pass::Full);
        assert_eq!(Pass::after(0, 30, true), Pass::Full);
        assert_eq!(
            Pass::after(0, 0, false),
            Pass::Idle,
            "nothing claimed is never More"
        );
    }

    #[test]
    fn the_wait_beside_a_full_queue_grows_while_nothing_is_pushed() {
        let mut wait = FullWait::new();
        let idle: Vec<u64> = (0..4)
            .map(|_| wait.after(Pass::Full, 0).as_millis() as u64)
            .collect();
        assert_eq!(idle, [25, 50, 100, 100]);
        assert_eq!(
            wait.after(Pass::Full, 3),
            FULL_QUEUE_WAIT,
            "a push starts it again"
        );
        assert_eq!(wait.after(Pass::Full, 0), FULL_QUEUE_WAIT);
        wait.after(Pass::Full, 0);
        wait.reset();
        assert_eq!(wait.after(Pass::Full, 0), FULL_QUEUE_WAIT);
    }
}
