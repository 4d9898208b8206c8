//! The `export_orders` workflow: `plan` counts the matching orders, `write_parts` writes
//! the parts not yet closed (a retried or resumed run starts at the first part without an
//! `export_parts` row), `assemble` makes the downloadable file, finishes the export and
//! answers its manifest with a signed, expiring download link.

use std::time::Instant;

use futures::TryStreamExt;
use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::db;
use crate::db::exports::PartRow;
use crate::db::exports::select::{self, Selected};
use crate::domain::exports::{Column, Compression, ExportFormat, ExportRunInput};
use crate::domain::ids::TenantId;
use crate::domain::search::Criteria;
use crate::exports::assemble::{self, AssembleError};
use crate::exports::sink::PartSink;
use crate::exports::{Store, encode, link, store};
use crate::workflows::step::{StepCtx, StepError, with_result};

/// Rows read from PostgreSQL at a time for NDJSON and Parquet.
const BATCH_ROWS: u64 = 4096;

pub(super) fn storage(e: impl std::fmt::Display) -> StepError {
    tracing::warn!(error = %e, "export storage failed");
    StepError::Retryable(Box::new(crate::error::problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "export.storage_failed",
        format!("the export's object store failed; the step will be retried: {e}"),
    )))
}

pub(super) fn encoding(e: impl std::fmt::Display) -> StepError {
    StepError::permanent(
        StatusCode::INTERNAL_SERVER_ERROR,
        "export.encoding_failed",
        format!("the export's file could not be encoded: {e}"),
    )
}

/// The run input and the orders it selects.
fn input_of(ctx: &StepCtx<'_>) -> Result<(ExportRunInput, Criteria), StepError> {
    let input: ExportRunInput = ctx.input_as()?;
    let criteria = input
        .criteria()
        .ok_or_else(|| StepError::invalid_input("the export's filter no longer parses"))?;
    Ok((input, criteria))
}

/// Counts the orders the filter matches (the export's `total_rows`, for progress).
pub fn plan(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let (input, criteria) = input_of(&ctx)?;
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        let total = select::count(&mut conn, ctx.tenant(), &criteria)
            .await
            .map_err(StepError::database)?;
        db::exports::set_total(&mut conn, ctx.tenant(), input.export_id, total)
            .await
            .map_err(StepError::database)?;
        let total32 = Some(i32::try_from(total).unwrap_or(i32::MAX));
        report_rows(&ctx, &mut conn, 0, total32).await?;
        Ok(json!({ "total_rows": total }))
    })
}

/// The job's progress in rows written (the job resource and its event stream show it).
async fn report_rows(
    ctx: &StepCtx<'_>,
    conn: &mut sqlx::PgConnection,
    done: i32,
    total: Option<i32>,
) -> Result<(), StepError> {
    let worker = ctx.run.lease_owner.as_deref().unwrap_or_default();
    db::runs::report(conn, ctx.run.id, worker, "rows", done, total)
        .await
        .map_err(StepError::database)
}

/// What one part is written from.
struct PartJob<'a> {
    db: &'a PgPool,
    store: &'a Store,
    tenant: &'a TenantId,
    criteria: &'a Criteria,
    input: &'a ExportRunInput,
    n: i32,
    after: Option<String>,
}

/// Writes every part not closed yet, closing each as it is done.
pub fn write_parts(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let (input, criteria) = input_of(&ctx)?;
        let store = Store::open(&ctx.state.config.exports).map_err(storage)?;
        let (db, tenant) = (&ctx.state.db, ctx.tenant());
        let mut conn = db.acquire().await.map_err(StepError::database)?;
        let closed = db::exports::parts(&mut conn, tenant, input.export_id)
            .await
            .map_err(StepError::database)?;
        let resumed_at = closed.len() as i32 + 1;
        let mut rows: i64 = closed.iter().map(|p| p.rows).sum();
        let mut done = match closed.last() {
            None => false,
            Some(p) if p.rows < input.part_rows as i64 => true,
            Some(p) => match &p.last_id {
                None => true,
                Some(last) => !select::more_after(&mut conn, tenant, &criteria, last)
                    .await
                    .map_err(StepError::database)?,
            },
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
        while !done {
            let started = Instant::now();
            let (part, more) = write_part(&job).await?;
            db::exports::close_part(&mut conn, tenant, input.export_id, &part)
                .await
                .map_err(StepError::database)?;
            tracing::info!(export = %input.export_id, part = part.n, rows = part.rows,
                bytes = part.bytes, ms = started.elapsed().as_millis() as u64, "export part closed");
            rows += part.rows;
            report_rows(
                &ctx,
                &mut conn,
                i32::try_from(rows).unwrap_or(i32::MAX),
                None,
            )
            .await?;
            job.n += 1;
            job.after = part.last_id;
            done = !more;
        }
        Ok(json!({ "parts": job.n - 1, "resumed_at_part": resumed_at }))
    })
}

/// Writes part `job.n` and says whether more orders follow it.
async fn write_part(job: &PartJob<'_>) -> Result<(PartRow, bool), StepError> {
    let (format, compression) = (job.input.format, job.input.compression);
    let key = store::part_key(
        job.tenant,
        job.input.export_id,
        job.n,
        &store::extension(format, compression),
    );
    let mut sink = PartSink::new(job.store, &key, compression == Compression::Gzip);
    let written = match format {
        ExportFormat::Csv => csv_part(job, &mut sink).await,
        ExportFormat::Ndjson | ExportFormat::Parquet => batched_part(job, &mut sink).await,
    };
    let selected = match written {
        Ok(s) => s,
        Err(e) => {
            sink.abort().await;
            return Err(e);
        }
    };
    let w = sink.finish().await.map_err(storage)?;
    let part = PartRow {
        n: job.n,
        rows: selected.rows,
        bytes: w.bytes as i64,
        sha256: w.sha256,
        last_id: selected.last_id,
        object_key: key,
    };
    Ok((part, selected.more))
}

/// A CSV part: where it ends, found with a bound query, then PostgreSQL's COPY of it
/// streamed into the sink, both in one REPEATABLE READ transaction (the same orders). The
/// header line is part 1's only, so the parts concatenate into one file.
async fn csv_part(job: &PartJob<'_>, sink: &mut PartSink) -> Result<Selected, StepError> {
    let mut tx = select::begin_part(job.db)
        .await
        .map_err(StepError::database)?;
    let (after, limit) = (job.after.as_deref(), job.input.part_rows as i64);
    let selected = select::bound_part(&mut tx, job.tenant, job.criteria, after, limit)
        .await
        .map_err(StepError::database)?;
    {
        let part = select::CsvPart {
            tenant: job.tenant,
            criteria: job.criteria,
            columns: &job.input.columns,
            after,
            last_id: selected.last_id.as_deref(),
            header: job.n == 1,
        };
        let mut copy = select::copy_csv(&mut tx, part)
            .await
            .map_err(StepError::database)?;
        while let Some(chunk) = copy.try_next().await.map_err(StepError::database)? {
            sink.write(&chunk).await.map_err(storage)?;
        }
    }
    tx.commit().await.map_err(StepError::database)?;
    Ok(selected)
}

/// The encoder of an NDJSON or Parquet part.
enum Encoder {
    Ndjson(Vec<u8>),
    Parquet(
        Box<parquet::arrow::ArrowWriter<Vec<u8>>>,
        arrow_schema::SchemaRef,
    ),
}

impl Encoder {
    fn new(format: ExportFormat, columns: &[Column]) -> Result<Encoder, StepError> {
        Ok(match format {
            ExportFormat::Parquet => {
                let schema = encode::schema(columns);
                let w = encode::parquet_writer(&schema, columns).map_err(encoding)?;
                Encoder::Parquet(Box::new(w), schema)
            }
            _ => Encoder::Ndjson(Vec::new()),
        })
    }

    /// Encodes `batch` and hands over the bytes ready so far.
    fn push(&mut self, columns: &[Column], batch: &select::Batch) -> Result<Vec<u8>, StepError> {
        match self {
            Encoder::Ndjson(buf) => {
                encode::ndjson(columns, batch, buf);
                Ok(std::mem::take(buf))
            }
            Encoder::Parquet(w, schema) => {
                let rb = encode::record_batch(schema, columns, batch).map_err(encoding)?;
                w.write(&rb).map_err(encoding)?;
                Ok(std::mem::take(w.inner_mut()))
            }
        }
    }

    /// The bytes that end the part (Parquet's footer).
    fn finish(self) -> Result<Vec<u8>, StepError> {
        match self {
            Encoder::Ndjson(buf) => Ok(buf),
            Encoder::Parquet(mut w, _) => {
                w.finish().map_err(encoding)?;
                Ok(std::mem::take(w.inner_mut()))
            }
        }
    }
}

/// An NDJSON or Parquet part: batches of rows read by keyset, encoded, streamed to the sink.
async fn batched_part(job: &PartJob<'_>, sink: &mut PartSink) -> Result<Selected, StepError> {
    let columns = &job.input.columns;
    let mut encoder = Encoder::new(job.input.format, columns)?;
    let mut conn = job.db.acquire().await.map_err(StepError::database)?;
    let (mut rows, mut last_id, mut exhausted) = (0u64, job.after.clone(), false);
    while rows < job.input.part_rows {
        let want = BATCH_ROWS.min(job.input.part_rows - rows) as i64;
        let batch = select::fetch_batch(
            &mut conn,
            job.tenant,
            job.criteria,
            columns,
            last_id.as_deref(),
            want,
        )
        .await
        .map_err(StepError::database)?;
        rows += batch.rows as u64;
        if batch.last_id.is_some() {
            last_id = batch.last_id.clone();
        }
        let bytes = encoder.push(columns, &batch)?;
        sink.write(&bytes).await.map_err(storage)?;
        if (batch.rows as i64) < want {
            exhausted = true;
            break;
        }
    }
    sink.write(&encoder.finish()?).await.map_err(storage)?;
    let more = match (&last_id, exhausted) {
        (Some(last), false) => select::more_after(&mut conn, job.tenant, job.criteria, last)
            .await
            .map_err(StepError::database)?,
        _ => false,
    };
    Ok(Selected {
        rows: rows as i64,
        last_id: if rows > 0 { last_id } else { None },
        more,
    })
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
        let written = match &whole_key {
            Some(key) => assemble::parquet(&store, &parts, key).await,
            None => assemble::concatenated(&store, &parts).await,
        }
        .map_err(|e| match e {
            AssembleError::Corrupt(detail) => StepError::permanent(
                StatusCode::INTERNAL_SERVER_ERROR,
                "export.part_corrupt",
                detail,
            ),
            AssembleError::Io(e) => storage(e),
        })?;
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
