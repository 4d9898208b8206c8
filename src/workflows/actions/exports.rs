//! The `export_orders` workflow: `plan` checks that the export can be written, `write_parts`
//! counts the matching orders and writes the parts not yet closed (a retried or resumed run
//! starts at the first part without an `export_parts` row), `assemble` makes the
//! downloadable file, finishes the export and answers its manifest with a signed, expiring
//! download link.

use std::sync::atomic::AtomicI64;

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use crate::db;
use crate::db::exports::select;
use crate::domain::exports::{ExportFormat, ExportRunInput};
use crate::domain::search::Criteria;
use crate::exports::assemble::{self, AssembleError};
use crate::exports::sink;
use crate::exports::{Store, link, store};
use crate::workflows::step::{StepCtx, StepError, with_result};

mod parts;
use parts::{PartJob, Progress};

/// A failure of the exports store, retried. The store's own error (a local path, the
/// storage endpoint, its response body) goes to the log only: the problem is shown to
/// admins and, for an erasure's `delete_subject_archives`, to the customer polling it.
pub(super) fn storage(e: impl std::fmt::Display) -> StepError {
    tracing::warn!(error = %format!("{e:#}"), "export storage failed");
    StepError::Retryable(Box::new(crate::error::problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "export.storage_failed",
        "the export's object store failed; the step will be retried",
    )))
}

/// A file that could not be encoded, for good; the cause goes to the log only (as for
/// [`storage`]).
pub(super) fn encoding(e: impl std::fmt::Display) -> StepError {
    tracing::error!(error = %format!("{e:#}"), "export encoding failed");
    StepError::permanent(
        StatusCode::INTERNAL_SERVER_ERROR,
        "export.encoding_failed",
        "the export's file could not be encoded",
    )
}

pub(super) fn assembly(e: AssembleError) -> StepError {
    match e {
        AssembleError::Corrupt(detail) => StepError::permanent(
            StatusCode::INTERNAL_SERVER_ERROR,
            "export.part_corrupt",
            detail,
        ),
        AssembleError::Io(e) => storage(e),
    }
}

/// The run input and the orders it selects.
fn input_of(ctx: &StepCtx<'_>) -> Result<(ExportRunInput, Criteria), StepError> {
    let input: ExportRunInput = ctx.input_as()?;
    let criteria = input
        .criteria()
        .ok_or_else(|| StepError::invalid_input("the export's filter no longer parses"))?;
    Ok((input, criteria))
}

/// Checks that the export can be written (its filter still parses, its store is
/// configured) and starts its progress in rows, their total not known yet (0).
pub fn plan(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        input_of(&ctx)?;
        Store::open(&ctx.state.config.exports).map_err(storage)?;
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        report_rows(&ctx, &mut conn, Some(0), Some(0)).await?;
        Ok(json!({}))
    })
}

/// The job's progress in rows written and rows to write (the job resource and its event
/// stream show it).
async fn report_rows(
    ctx: &StepCtx<'_>,
    conn: &mut sqlx::PgConnection,
    done: Option<i32>,
    total: Option<i32>,
) -> Result<(), StepError> {
    let worker = ctx.run.lease_owner.as_deref().unwrap_or_default();
    db::runs::report(conn, ctx.run.id, worker, "rows", done, total)
        .await
        .map_err(StepError::database)
}

/// Writes every part not closed yet, closing each as it is done; the export's total is
/// the rows of its closed parts and those still to write.
pub fn write_parts(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let (input, criteria) = input_of(&ctx)?;
        let store = Store::open(&ctx.state.config.exports).map_err(storage)?;
        let (db, tenant) = (&ctx.state.db, ctx.tenant());
        let mut conn = db.acquire().await.map_err(StepError::database)?;
        let closed = closed_in_order(&mut conn, &store, tenant, &input).await?;
        let resumed_at = closed.len() as i32 + 1;
        let done = match closed.last() {
            None => false,
            Some(p) if p.rows < input.part_rows as i64 => true,
            Some(p) => match &p.last_id {
                None => true,
                Some(last) => !select::more_after(&mut conn, tenant, &criteria, last)
                    .await
                    .map_err(StepError::database)?,
            },
        };
        // the parts of CSV and NDJSON are the file: hashed as they are written (a resumed
        // run reads back those written before)
        let whole = match input.format {
            ExportFormat::Parquet => None,
            _ => Some(
                assemble::hash_parts(&store, &closed)
                    .await
                    .map_err(assembly)?,
            ),
        };
        let mut job = PartJob {
            db,
            store: &store,
            tenant,
            criteria: &criteria,
            input: &input,
            n: resumed_at,
            after: closed.last().and_then(|p| p.last_id.clone()),
        };
        drop(conn);
        let rows = AtomicI64::new(closed.iter().map(|p| p.rows).sum());
        let mut progress = Progress {
            ctx: &ctx,
            rows: &rows,
            whole,
        };
        match done {
            true => progress.set_total(&job, 0).await?,
            false => parts::write_rest(&mut job, &mut progress).await?,
        }
        let file = progress
            .whole
            .map(|(hash, bytes)| json!({ "bytes": bytes, "sha256": hex::encode(hash.finalize()) }));
        Ok(json!({ "parts": job.n - 1, "resumed_at_part": resumed_at, "file": file }))
    })
}

/// How many of `closed` (in order) are parts 1, 2, … without a gap.
fn unbroken(closed: &[db::exports::PartRow]) -> usize {
    closed
        .iter()
        .zip(1..)
        .take_while(|(p, n)| p.n == *n)
        .count()
}

/// The export's closed parts 1, 2, … up to the first not closed. Parts closed after that
/// one (by the second of two COPYs, when the first failed or its worker died) are
/// forgotten and written again: the parts after a gap start where the part before it ends.
async fn closed_in_order(
    conn: &mut sqlx::PgConnection,
    store: &Store,
    tenant: &crate::domain::ids::TenantId,
    input: &ExportRunInput,
) -> Result<Vec<db::exports::PartRow>, StepError> {
    let mut closed = db::exports::parts(conn, tenant, input.export_id)
        .await
        .map_err(StepError::database)?;
    let in_order = unbroken(&closed);
    if in_order < closed.len() {
        closed.truncate(in_order);
        let reopened = db::exports::reopen_after(conn, tenant, input.export_id, in_order as i32)
            .await
            .map_err(StepError::database)?;
        for key in reopened {
            // a part written again overwrites its object anyway; one past the new last
            // part would be left behind
            if let Err(e) = store.inner.delete(&store.path(&key)).await {
                tracing::warn!(error = %e, key, "a reopened export part was not deleted");
            }
        }
    }
    Ok(closed)
}

/// What `write_parts` found: the file's size and hash, when it made them as it wrote.
#[derive(serde::Deserialize)]
struct Hashed {
    file: Option<sink::Written>,
}

/// Makes the downloadable file, finishes the export and answers its manifest.
pub fn assemble(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: ExportRunInput = ctx.input_as()?;
        let store = Store::open(&ctx.state.config.exports).map_err(storage)?;
        let (tenant, export) = (ctx.tenant(), input.export_id);
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        let parts = db::exports::parts(&mut conn, tenant, export)
            .await
            .map_err(StepError::database)?;
        let ext = store::extension(input.format, input.compression);
        let whole_key =
            (input.format == ExportFormat::Parquet).then(|| store::whole_key(tenant, export, &ext));
        let hashed: Hashed = ctx.earlier()?;
        let written = match (&whole_key, hashed.file) {
            (Some(key), _) => assemble::parquet(&store, &parts, key).await,
            (None, Some(file)) => Ok(file),
            (None, None) => assemble::concatenated(&store, &parts).await,
        }
        .map_err(assembly)?;
        let row_count: i64 = parts.iter().map(|p| p.rows).sum();
        let finished = db::exports::Finished {
            row_count,
            bytes: written.bytes as i64,
            sha256: &written.sha256,
            object_key: whole_key.as_deref(),
        };
        db::exports::finish(&mut conn, tenant, export, &finished)
            .await
            .map_err(StepError::database)?;
        let (download_url, expires_at) = link::download_url(&ctx.state.config, tenant, export);
        let parts: Vec<Value> = parts
            .iter()
            .map(|p| json!({"n": p.n, "rows": p.rows, "bytes": p.bytes, "sha256": p.sha256}))
            .collect();
        Ok(with_result(
            json!({
                "export_id": export,
                "format": input.format,
                "compression": input.compression,
                "row_count": row_count,
                "bytes": written.bytes,
                "sha256": written.sha256,
                "download_url": download_url,
                "expires_at": expires_at,
                "parts": parts,
            }),
            json!({}),
        ))
    })
}
