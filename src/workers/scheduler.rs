//! Runs that start on a clock rather than on a request: today, the release of holds whose
//! expiry passed (`order_holds.expires_at`). Every worker process runs it; the rows a pass
//! takes are locked (`SKIP LOCKED`) and given their release run in the same transaction,
//! so two processes never release one hold twice.

use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::db;
use crate::db::audit::{Actor, Entry};
use crate::domain::transitions::{HOLD_EXPIRY, RELEASE_WORKFLOW, TransitionRunInput};
use crate::jobs::{self, NewRun};
use crate::workflows::context::WorkerCtx;

const EVERY: Duration = Duration::from_secs(5);
/// Holds released per pass (one transaction).
const BATCH: i64 = 200;

pub async fn run(state: WorkerCtx, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(EVERY) => {}
        }
        match release_expired_holds(&state).await {
            Ok(0) => {}
            Ok(n) => info!(count = n, "started the release of expired holds"),
            Err(e) => warn!(error = %format!("{e:#}"), "hold expiry failed; will retry"),
        }
    }
}

/// Starts a `release_order` run for each expired hold (at most [`BATCH`], their runs
/// inserted in one statement); returns how many. The outbox relay delivers their triggers.
pub async fn release_expired_holds(state: &WorkerCtx) -> anyhow::Result<usize> {
    let mut tx = state.db.begin().await?;
    let expired = db::holds::expired(&mut tx, BATCH).await?;
    let mut releases = Vec::with_capacity(expired.len());
    for hold in &expired {
        let input = TransitionRunInput {
            order_id: hold.order_id.clone(),
            reason: "expired".into(),
            hold_id: Some(hold.id),
            requested_by: HOLD_EXPIRY.into(),
            expected_version: None,
        };
        releases.push(NewRun {
            tenant_id: hold.tenant_id.clone(),
            kind: RELEASE_WORKFLOW.into(),
            subject_id: Some(hold.order_id.as_str().into()),
            customer_id: None,
            requested_by: HOLD_EXPIRY.into(),
            input: serde_json::to_value(&input)?,
            correlation_id: None,
            queue: None,
        });
    }
    let started = jobs::enqueue_many(&mut tx, &state.workflows, &releases).await?;
    for (hold, run) in expired.iter().zip(&started) {
        db::holds::claim_release(&mut tx, &hold.tenant_id, hold.id, run.id).await?;
        let entry = Entry {
            action: "order.hold_expired",
            subject_type: "order",
            subject_id: hold.order_id.as_str(),
            reason: None,
            before: None,
            after: Some(json!({ "hold_id": hold.id, "run_id": run.id })),
            personal_data_of: None,
        };
        db::audit::record(
            &mut tx,
            &hold.tenant_id,
            &Actor::system(HOLD_EXPIRY),
            &entry,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(expired.len())
}
