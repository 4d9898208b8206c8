//! The parts of an export, written from a COPY of the rows after the last closed part:
//! a part closes as its last row goes by (the last part with what remains; an export of
//! nothing is part 1 with only the header, or empty). CSV rows pass through as PostgreSQL
//! wrote them; NDJSON and Parquet rows come binary, decoded in place and encoded.
//!
//! With two parts or more to write, two COPYs on two connections under one snapshot write
//! them, the first half of the parts and the second: a COPY keeps one PostgreSQL backend
//! (one core) busy and the worker barely, so one COPY was the export's whole time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use futures::TryStreamExt;
use sha2::Sha256;
use sqlx::PgPool;

use super::{encoding, report_rows, storage};
use crate::db;
use crate::db::exports::PartRow;
use crate::db::exports::select::{self, Slice};
use crate::domain::exports::{Compression, ExportFormat, ExportRunInput};
use crate::domain::ids::TenantId;
use crate::domain::search::Criteria;
use crate::exports::rows::{Decoder, Row};
use crate::exports::sink::{PartSink, Written};
use crate::exports::{Store, assemble, encode, store};
use crate::workflows::step::{StepCtx, StepError};

/// Bytes gathered before they go to the part's sink: COPY sends a message per row, and
/// hashing and writing them one by one would cost more than PostgreSQL takes to make them.
const WRITE_BYTES: usize = 256 * 1024;
/// Rows of a Parquet part gathered into one Arrow record batch.
const ARROW_BATCH_ROWS: usize = 8192;

/// What the parts are written from, and the next part's number and first order.
#[derive(Clone)]
pub(super) struct PartJob<'a> {
    pub db: &'a PgPool,
    pub store: &'a Store,
    pub tenant: &'a TenantId,
    pub criteria: &'a Criteria,
    pub input: &'a ExportRunInput,
    pub n: i32,
    pub after: Option<String>,
}

/// The step whose progress is reported, the rows written so far (shared by the COPYs) and
/// the file's hash and size so far (CSV and NDJSON, whose parts concatenate into the file;
/// only the COPY of the first parts hashes as it goes). Parts are recorded on a connection
/// taken for the moment: an export holds no more than its COPYs' connections.
pub(super) struct Progress<'a, 'c> {
    pub ctx: &'a StepCtx<'c>,
    pub rows: &'a AtomicI64,
    pub whole: Option<(Sha256, u64)>,
}

impl Progress<'_, '_> {
    /// The export's total (its `total_rows` and the job's progress total): the rows of its
    /// closed parts and the `remaining` ones still to write.
    pub(super) async fn set_total(
        &mut self,
        job: &PartJob<'_>,
        remaining: i64,
    ) -> Result<(), StepError> {
        let total = self.rows.load(Ordering::Relaxed) + remaining;
        let mut conn = job.db.acquire().await.map_err(StepError::database)?;
        db::exports::set_total(&mut conn, job.tenant, job.input.export_id, total)
            .await
            .map_err(StepError::database)?;
        let total32 = i32::try_from(total).unwrap_or(i32::MAX);
        report_rows(self.ctx, &mut conn, None, Some(total32)).await
    }

    /// Reports the rows written so far as the job's progress.
    async fn report_done(&self, conn: &mut sqlx::PgConnection) -> Result<(), StepError> {
        let done = i32::try_from(self.rows.load(Ordering::Relaxed)).unwrap_or(i32::MAX);
        report_rows(self.ctx, conn, Some(done), None).await
    }

    /// Closes `part` (its row in `export_parts`), reports progress and moves `job` on.
    async fn record(
        &mut self,
        job: &mut PartJob<'_>,
        part: PartRow,
        started: Instant,
    ) -> Result<(), StepError> {
        let mut conn = job.db.acquire().await.map_err(StepError::database)?;
        db::exports::close_part(&mut conn, job.tenant, job.input.export_id, &part)
            .await
            .map_err(StepError::database)?;
        tracing::info!(export = %job.input.export_id, part = part.n, rows = part.rows,
            bytes = part.bytes, ms = started.elapsed().as_millis() as u64, "export part closed");
        self.rows.fetch_add(part.rows, Ordering::Relaxed);
        self.report_done(&mut conn).await?;
        job.n += 1;
        job.after = part.last_id;
        Ok(())
    }
}

/// How a part's rows become its bytes.
enum Encoder {
    Csv,
    Ndjson,
    Parquet {
        writer: Box<parquet::arrow::ArrowWriter<Vec<u8>>>,
        builders: encode::Builders,
        schema: arrow_schema::SchemaRef,
    },
}

/// A part being filled.
struct OpenPart {
    key: String,
    sink: PartSink,
    encoder: Encoder,
    /// Bytes not yet handed to the sink.
    pending: Vec<u8>,
    rows: i64,
    last_id: String,
    started: Instant,
}

impl OpenPart {
    /// Part `job.n`, its bytes hashed into `whole` too; a CSV's part 1 starts with the
    /// header line.
    fn open(job: &PartJob<'_>, whole: &Option<(Sha256, u64)>) -> Result<OpenPart, StepError> {
        let (format, compression) = (job.input.format, job.input.compression);
        let columns = &job.input.columns;
        let ext = store::extension(format, compression);
        let key = store::part_key(job.tenant, job.input.export_id, job.n, &ext);
        let mut pending = Vec::with_capacity(WRITE_BYTES + 4096);
        let encoder = match format {
            ExportFormat::Csv => {
                if job.n == 1 {
                    pending.extend_from_slice(select::csv_header(columns).as_bytes());
                }
                Encoder::Csv
            }
            ExportFormat::Ndjson => Encoder::Ndjson,
            ExportFormat::Parquet => {
                let schema = encode::schema(columns);
                let writer = encode::parquet_writer(&schema, columns).map_err(encoding)?;
                Encoder::Parquet {
                    writer: Box::new(writer),
                    builders: encode::Builders::new(columns),
                    schema,
                }
            }
        };
        let sink = PartSink::new(job.store, &key, compression == Compression::Gzip)
            .continuing(whole.as_ref().map(|(hash, _)| hash.clone()));
        Ok(OpenPart {
            key,
            sink,
            encoder,
            pending,
            rows: 0,
            last_id: String::new(),
            started: Instant::now(),
        })
    }

    /// A CSV row (without its id).
    fn push_csv(&mut self, id: &str, row: &[u8]) {
        self.pending.extend_from_slice(row);
        self.took(id);
    }

    /// A decoded row of an NDJSON or Parquet part.
    fn push_row(&mut self, columns: &[crate::domain::exports::Column], row: &Row<'_>) {
        match &mut self.encoder {
            Encoder::Ndjson => encode::ndjson(columns, row, &mut self.pending),
            Encoder::Parquet { builders, .. } => builders.append(row),
            Encoder::Csv => {}
        }
        self.took(row.id);
    }

    fn took(&mut self, id: &str) {
        self.rows += 1;
        self.last_id.clear();
        self.last_id.push_str(id);
    }

    /// Encodes the gathered Parquet rows (all of them when `all`, else a whole batch's
    /// worth) and hands the bytes ready to the sink once there are enough.
    async fn flush(&mut self, all: bool) -> Result<(), StepError> {
        if let Encoder::Parquet {
            writer,
            builders,
            schema,
        } = &mut self.encoder
            && (builders.rows() >= ARROW_BATCH_ROWS || (all && builders.rows() > 0))
        {
            let batch = builders.finish(schema).map_err(encoding)?;
            writer.write(&batch).map_err(encoding)?;
            self.pending.append(writer.inner_mut());
        }
        if self.pending.len() >= WRITE_BYTES || (all && !self.pending.is_empty()) {
            self.sink.write(&self.pending).await.map_err(storage)?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Ends the part; the file's hash and size, now up to the part's end, are put back in
    /// `whole`.
    async fn close(
        mut self,
        n: i32,
        whole: &mut Option<(Sha256, u64)>,
    ) -> Result<(PartRow, Instant), StepError> {
        self.flush(true).await?;
        if let Encoder::Parquet { writer, .. } = &mut self.encoder {
            writer.finish().map_err(encoding)?;
            let bytes = std::mem::take(writer.inner_mut());
            self.sink.write(&bytes).await.map_err(storage)?;
        }
        let (written, hash): (Written, _) = self.sink.finish().await.map_err(storage)?;
        if let (Some(hash), Some((_, bytes))) = (hash, whole.take()) {
            *whole = Some((hash, bytes + written.bytes));
        }
        let part = PartRow {
            n,
            rows: self.rows,
            bytes: written.bytes as i64,
            sha256: written.sha256,
            last_id: (self.rows > 0).then_some(self.last_id),
            object_key: self.key,
        };
        Ok((part, self.started))
    }
}

/// Writes the parts from `job.n` on, from the rows after `job.after`: counts them (the
/// export's total), then writes them with one COPY, or two when they fill two parts or more.
pub(super) async fn write_rest(
    job: &mut PartJob<'_>,
    progress: &mut Progress<'_, '_>,
) -> Result<(), StepError> {
    let mut first = select::begin_copy(job.db)
        .await
        .map_err(StepError::database)?;
    // a COPY cut short (an error, or the step dropped when its lease is lost) leaves the
    // connection mid-protocol, unfit for the next statement: never given back to the pool
    first.close_on_drop();
    let snapshot = select::export_snapshot(&mut first)
        .await
        .map_err(StepError::database)?;
    let remaining = select::count(&mut first, job.tenant, job.criteria, job.after.as_deref())
        .await
        .map_err(StepError::database)?;
    progress.set_total(job, remaining).await?;
    let part_rows = job.input.part_rows as i64;
    let parts_left = (remaining + part_rows - 1) / part_rows;
    if parts_left < 2 {
        return write_slice(job, progress, &mut first, Slice::All).await;
    }
    let first_parts = (parts_left + 1) / 2;
    let first_rows = first_parts * part_rows;
    let mut second = select::join_copy(job.db, &snapshot)
        .await
        .map_err(StepError::database)?;
    second.close_on_drop();
    let mut second_job = PartJob {
        n: job.n + first_parts as i32,
        ..job.clone()
    };
    let second_from = second_job.n;
    let mut second_progress = Progress {
        ctx: progress.ctx,
        rows: progress.rows,
        whole: None,
    };
    tokio::try_join!(
        write_slice(job, progress, &mut first, Slice::First(first_rows)),
        write_slice(
            &mut second_job,
            &mut second_progress,
            &mut second,
            Slice::AfterFirst(first_rows)
        ),
    )?;
    if job.n != second_from {
        // one snapshot: the first COPY has exactly its rows, unless that failed
        return Err(encoding(format!(
            "the first COPY ended at part {} where the second began at {second_from}",
            job.n
        )));
    }
    // the two COPYs' reports may have landed out of order: the last one says it all
    let mut conn = job.db.acquire().await.map_err(StepError::database)?;
    progress.report_done(&mut conn).await?;
    drop(conn);
    if let Some(so_far) = progress.whole.take() {
        progress.whole = Some(hash_second(job, second_from, so_far).await?);
    }
    job.n = second_job.n;
    job.after = second_job.after;
    Ok(())
}

/// The file's hash and size gone on over the parts from `from` on, read back.
async fn hash_second(
    job: &PartJob<'_>,
    from: i32,
    so_far: (Sha256, u64),
) -> Result<(Sha256, u64), StepError> {
    let mut conn = job.db.acquire().await.map_err(StepError::database)?;
    let closed = db::exports::parts(&mut conn, job.tenant, job.input.export_id)
        .await
        .map_err(StepError::database)?;
    let second = closed.partition_point(|p| p.n < from);
    assemble::hash_parts_onto(job.store, &closed[second..], so_far)
        .await
        .map_err(super::assembly)
}

/// Writes the parts of one COPY's `slice`, from `job.n` on, on `conn` (a transaction of
/// [`select::begin_copy`] or [`select::join_copy`]).
async fn write_slice(
    job: &mut PartJob<'_>,
    progress: &mut Progress<'_, '_>,
    conn: &mut sqlx::PgConnection,
    slice: Slice,
) -> Result<(), StepError> {
    let mut part = Some(OpenPart::open(job, &progress.whole)?);
    let filled = fill_from(conn, job, progress, &mut part, slice).await;
    let Some(last) = part else {
        return filled;
    };
    if filled.is_err() || (last.rows == 0 && job.n > 1) {
        last.sink.abort().await;
        return filled;
    }
    let (closed, started) = last.close(job.n, &mut progress.whole).await?;
    progress.record(job, closed, started).await
}

/// Streams the rows of one COPY into `part`, closing it and opening the next at every
/// `part_rows` rows.
async fn fill_from(
    conn: &mut sqlx::PgConnection,
    job: &mut PartJob<'_>,
    progress: &mut Progress<'_, '_>,
    part: &mut Option<OpenPart>,
    slice: Slice,
) -> Result<(), StepError> {
    let columns = job.input.columns.clone();
    let binary = job.input.format != ExportFormat::Csv;
    let mut decoder = Decoder::new(encode::wires(&columns)).map_err(encoding)?;
    let after = job.after.clone();
    let rows = select::CopyRows {
        tenant: job.tenant,
        criteria: job.criteria,
        columns: &columns,
        after: after.as_deref(),
        binary,
        slice,
    };
    let mut copy = select::copy_rows(&mut *conn, rows)
        .await
        .map_err(StepError::database)?;
    while let Some(message) = copy.try_next().await.map_err(StepError::database)? {
        if binary {
            decoder.feed(&message);
        }
        let mut csv_row = (!binary).then_some(&message[..]);
        while take_row(part, &columns, &mut csv_row, &mut decoder)? {
            next_part_if_full(job, progress, part).await?;
        }
    }
    drop(copy);
    select::end_copy(conn).await.map_err(StepError::database)?;
    if binary && !decoder.ended() {
        return Err(encoding("COPY ended without its trailer"));
    }
    Ok(())
}

/// Puts the next row into the open part: the CSV row of the message, else the next whole row
/// the decoder has (none in a CSV export: it is never fed). False when there is none.
fn take_row(
    part: &mut Option<OpenPart>,
    columns: &[crate::domain::exports::Column],
    csv_row: &mut Option<&[u8]>,
    decoder: &mut Decoder,
) -> Result<bool, StepError> {
    let Some(open) = part.as_mut() else {
        return Err(encoding("no part open"));
    };
    if let Some(row) = csv_row.take() {
        let Some((id, rest)) = select::split_keyset(row) else {
            return Err(encoding("COPY sent a row not led by its order id"));
        };
        // `rest` ends with the row's line break whenever a column follows the id
        let written = match (select::csv_led_by_id(columns), rest.is_empty()) {
            (true, _) => row,
            (false, false) => rest,
            (false, true) => return Err(encoding("COPY sent a row with nothing after its id")),
        };
        open.push_csv(&id, written);
        return Ok(true);
    }
    let took = decoder
        .next_row(|row| open.push_row(columns, &row))
        .map_err(encoding)?;
    Ok(took.is_some())
}

/// Hands the open part's bytes on, and closes it and opens the next once it has
/// `part_rows` rows.
async fn next_part_if_full(
    job: &mut PartJob<'_>,
    progress: &mut Progress<'_, '_>,
    part: &mut Option<OpenPart>,
) -> Result<(), StepError> {
    let Some(open) = part.as_mut() else {
        return Err(encoding("no part open"));
    };
    open.flush(false).await?;
    if open.rows < job.input.part_rows as i64 {
        return Ok(());
    }
    if let Some(full) = part.take() {
        let (closed, started) = full.close(job.n, &mut progress.whole).await?;
        progress.record(job, closed, started).await?;
    }
    *part = Some(OpenPart::open(job, &progress.whole)?);
    Ok(())
}
