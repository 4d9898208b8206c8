//! Claims and ends coalesced across the runs a worker process executes at the same time.
//! A run asks for its claim (or hands over its end) and waits for the answer; a task per
//! kind of write takes every request waiting at that moment and writes them as one statement
//! (`db::runs::claim_many`, `db::runs::end_many`), with at most [`IN_FLIGHT`] statements
//! under way. Nothing waits for a batch to fill: an idle worker's single claim goes out at
//! once, as it did unbatched; under load the requests that arrive while a statement is under
//! way make the next batch. Postgres then pays one statement and one commit per batch
//! instead of one per run (ARCHITECTURE.md, "Where the time goes").
//!
//! The writes stay asynchronous commits (`db::runs`): a batch lost in a crash is as harmless
//! as one lost write was (the steps run again under the same Idempotency-Keys). A batch that
//! fails is written again one run at a time, so one bad run cannot fail the others.

use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::anyhow;
use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tracing::{debug, warn};

use crate::db::runs::{self, RunEnd, RunRow, StepRow};
use crate::domain::ids::RunId;

/// Largest batch written as one statement.
pub const MAX_BATCH: usize = 64;
/// Statements of one kind under way at once.
pub const IN_FLIGHT: usize = 4;

type Claimed = Option<(RunRow, Vec<StepRow>)>;

/// The claim and end writers of one worker process; cloned with its `WorkerCtx`. Their tasks
/// and connections (`db::keyed_lookup_pool`, [`IN_FLIGHT`] per kind) start on first use and
/// stop when the last clone is dropped.
#[derive(Clone, Default)]
pub struct Batches {
    pool: Arc<OnceLock<PgPool>>,
    claims: Coalescer<(RunId, String, Duration), Claimed>,
    ends: Coalescer<RunEnd, bool>,
}

impl Batches {
    /// Claims run `run_id` for `worker` (see `db::runs::claim`), in a batch with the claims
    /// other runs of this process ask for meanwhile.
    pub async fn claim(
        &self,
        db: &PgPool,
        run_id: RunId,
        worker: &str,
        lease: Duration,
    ) -> anyhow::Result<Claimed> {
        let db = self.pool(db);
        self.claims
            .call((run_id, worker.to_string(), lease), move |batch| {
                claim_batch(db.clone(), batch)
            })
            .await
    }

    /// Ends a run held by its worker, with its unwritten checkpoints (see
    /// `db::runs::end_many`), in a batch with the ends of other runs. False if the worker
    /// lost the lease.
    pub async fn end(&self, db: &PgPool, end: RunEnd) -> anyhow::Result<bool> {
        let db = self.pool(db);
        self.ends
            .call(end, move |batch| end_batch(db.clone(), batch))
            .await
    }

    fn pool(&self, db: &PgPool) -> PgPool {
        self.pool
            .get_or_init(|| crate::db::keyed_lookup_pool(db, 2 * IN_FLIGHT as u32))
            .clone()
    }
}

/// Claims a batch in one statement per lease length (one, in practice); a run asked for twice
/// in the same batch (two deliveries) is claimed once, and the claim goes to a request of the
/// worker that now holds it (with two workers asking, Postgres picks the one).
async fn claim_batch(
    db: PgPool,
    batch: Vec<(RunId, String, Duration)>,
) -> anyhow::Result<Vec<Claimed>> {
    let mut conn = db.acquire().await?;
    let mut out: Vec<Claimed> = (0..batch.len()).map(|_| None).collect();
    let mut leases: Vec<Duration> = batch.iter().map(|(_, _, l)| *l).collect();
    leases.sort();
    leases.dedup();
    for lease in leases {
        let runs: Vec<(RunId, &str)> = batch
            .iter()
            .filter(|(_, _, l)| *l == lease)
            .map(|(id, w, _)| (*id, w.as_str()))
            .collect();
        for (run, steps) in runs::claim_many(&mut conn, &runs, lease).await? {
            let holder = run.lease_owner.as_deref();
            let first = batch.iter().zip(&out).position(|((id, w, l), o)| {
                *id == run.id && Some(w.as_str()) == holder && *l == lease && o.is_none()
            });
            if let Some(i) = first {
                out[i] = Some((run, steps));
            }
        }
    }
    Ok(out)
}

async fn end_batch(db: PgPool, batch: Vec<RunEnd>) -> anyhow::Result<Vec<bool>> {
    let mut conn = db.acquire().await?;
    let ended = runs::end_many(&mut conn, &batch).await?;
    Ok(batch.iter().map(|e| ended.contains(&e.run_id)).collect())
}

type Reply<Resp> = oneshot::Sender<anyhow::Result<Resp>>;
type Requests<Req, Resp> = mpsc::UnboundedSender<(Req, Reply<Resp>)>;

/// Requests of one kind, written in batches by a task of their own.
struct Coalescer<Req, Resp> {
    tx: Arc<OnceLock<Requests<Req, Resp>>>,
}

impl<Req, Resp> Default for Coalescer<Req, Resp> {
    fn default() -> Self {
        Coalescer {
            tx: Arc::new(OnceLock::new()),
        }
    }
}

impl<Req, Resp> Clone for Coalescer<Req, Resp> {
    fn clone(&self) -> Self {
        Coalescer {
            tx: self.tx.clone(),
        }
    }
}

impl<Req, Resp> Coalescer<Req, Resp>
where
    Req: Clone + Send + 'static,
    Resp: Send + 'static,
{
    /// Hands `req` to the batch writer and waits for its answer. `write` writes one batch and
    /// answers each request in order; the first caller's `write` serves every batch.
    async fn call<F, Fut>(&self, req: Req, write: F) -> anyhow::Result<Resp>
    where
        F: Fn(Vec<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Vec<Resp>>> + Send + 'static,
    {
        let tx = self.tx.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(serve(rx, Arc::new(write)));
            tx
        });
        let (reply, answer) = oneshot::channel();
        tx.send((req, reply))
            .map_err(|_| anyhow!("the batch writer stopped"))?;
        answer
            .await
            .map_err(|_| anyhow!("the batch writer dropped the request"))?
    }
}

/// Takes every request waiting once a statement slot is free, writes them as one batch.
async fn serve<Req, Resp, F, Fut>(
    mut rx: mpsc::UnboundedReceiver<(Req, Reply<Resp>)>,
    write: Arc<F>,
) where
    Req: Clone + Send + 'static,
    Resp: Send + 'static,
    F: Fn(Vec<Req>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<Vec<Resp>>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        // runs woken together (by the claim batch that started them) are about to send their
        // requests too: let them run first, so that they join this batch instead of each
        // making one of its own
        tokio::task::yield_now().await;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(req) => batch.push(req),
                Err(_) => break,
            }
        }
        let write = write.clone();
        tokio::spawn(async move {
            let (reqs, replies): (Vec<Req>, Vec<Reply<Resp>>) = batch.into_iter().unzip();
            let n = reqs.len();
            let started = std::time::Instant::now();
            let written = write(reqs.clone()).await;
            debug!(
                runs = n,
                us = started.elapsed().as_micros() as u64,
                "batch written"
            );
            match written {
                Ok(answers) if answers.len() == n => {
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        let _ = reply.send(Ok(answer));
                    }
                }
                Err(e) if n == 1 => {
                    if let Some(reply) = replies.into_iter().next() {
                        let _ = reply.send(Err(e));
                    }
                }
                res => {
                    let why = match res {
                        Err(e) => format!("{e:#}"),
                        Ok(_) => "it answered the wrong number of requests".into(),
                    };
                    warn!(error = %why, runs = n, "batched write failed; writing its runs one by one");
                    // one by one, so one bad run fails alone
                    for (req, reply) in reqs.into_iter().zip(replies) {
                        let answer = write(vec![req]).await.and_then(|mut a| {
                            a.pop().ok_or_else(|| anyhow!("no answer for the request"))
                        });
                        let _ = reply.send(answer);
                    }
                }
            }
            drop(slot);
        });
    }
}
