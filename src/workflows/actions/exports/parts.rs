//! The parts of an export, written from one COPY of the rows after the last closed part:
//! a part closes as its last row goes by (the last part with what remains; an export of
//! nothing is part 1 with only the header, or empty). CSV rows pass through as PostgreSQL
//! wrote them; NDJSON and Parquet rows come binary, decoded in place and encoded.

use std::time::Instant;

use futures::TryStreamExt;
use sha2::Sha256;
use sqlx::PgPool;

use super::{encoding, report_rows, storage};
use crate::db;
use crate::db::exports::PartRow;
use crate::db::exports::select;
use crate::domain::exports::{Compression, ExportFormat, ExportRunInput};
use crate::domain::ids::TenantId;
use crate::domain::search::Criteria;
use crate::exports::rows::{Decoder, Row};
use crate::exports::sink::{PartSink, Written};
use crate::exports::{Store, encode, store};
use crate::workflows::step::{StepCtx, StepError};

/// Bytes gathered before they go to the part's sink: COPY sends a message per row, and
/// hashing and writing them one by one would cost more than PostgreSQL takes to make them.
const WRITE_BYTES: usize = 256 * 1024;
/// Rows of a Parquet part gathered into one Arrow record batch.
const ARROW_BATCH_ROWS: usize = 8192;

/// What the parts are written from, and the next part's number and first order.
pub(super) struct PartJob<'a> {
    pub db: &'a PgPool,
    pub store: &'a Store,
    pub tenant: &'a TenantId,
    pub criteria: &'a Criteria,
    pub input: &'a ExportRunInput,
    pub n: i32,
    pub after: Option<String>,
}

/// Where closed parts are recorded, the rows written so far (the job's progress) and the
/// file's hash and size so far (CSV and NDJSON, whose parts concatenate into the file).
pub(super) struct Progress<'a, 'c> {
    pub ctx: &'a StepCtx<'c>,
    pub conn: &'a mut sqlx::PgConnection,
    pub rows: i64,
    pub whole: Option<(Sha256, u64)>,
}

impl Progress<'_, '_> {
    /// Closes `part` (its row in `export_parts`), reports progress and moves `job` on.
    async fn record(
        &mut self,
        job: &mut PartJob<'_>,
        part: PartRow,
        started: Instant,
    ) -> Result<(), StepError> {
        db::exports::close_part(self.conn, job.tenant, job.input.export_id, &part)
            .await
            .map_err(StepError::database)?;
        tracing::info!(export = %job.input.export_id, part = part.n, rows = part.rows,
            bytes = part.bytes, ms = started.elapsed().as_millis() as u64, "export part closed");
        self.rows += part.rows;
        let done = i32::try_from(self.rows).unwrap_or(i32::MAX);
        report_rows(self.ctx, self.conn, Some(done), None).await?;
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

/// Writes the parts from `job.n` on from one COPY of the rows after `job.after`.
pub(super) async fn write_rest(
    job: &mut PartJob<'_>,
    progress: &mut Progress<'_, '_>,
) -> Result<(), StepError> {
    let mut part = Some(OpenPart::open(job, &progress.whole)?);
    let filled = fill(job, progress, &mut part).await;
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
async fn fill(
    job: &mut PartJob<'_>,
    progress: &mut Progress<'_, '_>,
    part: &mut Option<OpenPart>,
) -> Result<(), StepError> {
    let mut conn = select::begin_copy(job.db)
        .await
        .map_err(StepError::database)?;
    // a COPY cut short (an error, or the step dropped when its lease is lost) leaves the
    // connection mid-protocol, unfit for the next statement: never given back to the pool
    // (one connection per export)
    conn.close_on_drop();
    fill_from(&mut conn, job, progress, part).await
}

async fn fill_from(
    conn: &mut sqlx::PgConnection,
    job: &mut PartJob<'_>,
    progress: &mut Progress<'_, '_>,
    part: &mut Option<OpenPart>,
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
