//! The runs this process is executing, and its shutdown: in-flight runs get the grace period
//! to finish their step and hand themselves back; those still going after it are dropped and
//! their leases handed back, so that another worker takes them on at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, warn};

use super::limit::Slots;
use crate::db;
use crate::domain::ids::RunId;
use crate::workflows::{WorkerCtx, engine};

#[derive(Clone, Default)]
pub(super) struct InFlight {
    tracker: TaskTracker,
    /// Cancelled when the grace period is over: executions still going are dropped.
    abandon: CancellationToken,
    /// Every lease-owner name this process used (one per apalis worker restart).
    workers: Arc<Mutex<Vec<String>>>,
}

impl InFlight {
    /// Records a name this process's worker holds leases under.
    pub(super) fn add_worker(&self, name: &str) {
        self.workers.lock().expect("workers lock").push(name.into());
    }

    /// The lease-owner names this process used so far, oldest first.
    pub(super) fn worker_names(&self) -> Vec<String> {
        self.workers.lock().expect("workers lock").clone()
    }

    /// Executes run `run_id` as `worker` in its own task (so that a dying apalis worker
    /// does not cut it off between an upstream call and its checkpoint), once it has one of
    /// its queue's `slots`, which it keeps to its end; returns when it ends or is abandoned.
    /// `stop` asks the run to hand itself back after its step. A run abandoned before it
    /// starts (still waiting for a slot at the end of the grace period) is not claimed.
    pub(super) async fn execute(
        &self,
        state: WorkerCtx,
        run_id: RunId,
        worker: String,
        slots: Slots,
        stop: CancellationToken,
    ) -> Result<anyhow::Result<()>, tokio::task::JoinError> {
        let abandon = self.abandon.clone();
        let run = async move {
            tokio::select! {
                biased;
                _ = abandon.cancelled() => Ok(()),
                res = async {
                    let _slot = slots.acquire_owned().await;
                    engine::execute(&state, run_id, &worker, &stop).await
                } => res,
            }
        };
        // in the caller's span, so that the run's span is a part of its trace
        self.tracker.spawn(run.in_current_span()).await
    }

    /// After `shutdown`: waits up to `grace` for the runs in flight, drops any still going,
    /// then hands back every run still leased under this process's names.
    pub(super) async fn drain(&self, state: &WorkerCtx, shutdown: &CancellationToken) {
        shutdown.cancelled().await;
        let grace = state.config.shutdown_grace;
        self.tracker.close();
        if tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_err()
        {
            warn!(
                runs = self.tracker.len(),
                grace_secs = grace.as_secs(),
                "runs still in flight at the end of the shutdown grace period; dropping them"
            );
            self.abandon.cancel();
            self.tracker.wait().await;
        }
        let workers = self.workers.lock().expect("workers lock").clone();
        let names: Vec<&str> = workers.iter().map(String::as_str).collect();
        match hand_back(state, &names).await {
            Ok(0) => {}
            Ok(n) => info!(runs = n, "handed back the leases of unfinished runs"),
            Err(e) => warn!(error = %format!("{e:#}"),
                "could not hand back leases; they expire after ORDERDESK_LEASE_SECS"),
        }
    }
}

async fn hand_back(state: &WorkerCtx, workers: &[&str]) -> anyhow::Result<u64> {
    const TIMEOUT: Duration = Duration::from_secs(2);
    let released = async {
        let mut conn = state.db.acquire().await?;
        Ok::<_, anyhow::Error>(db::runs::hand_back(&mut conn, workers, None).await?)
    };
    tokio::time::timeout(TIMEOUT, released).await?
}
