//! Rows of a batch as NDJSON lines, or as Arrow record batches for a Parquet part. CSV needs
//! no encoder here: PostgreSQL's COPY writes it.

use std::sync::Arc;

use arrow_array::builder::{Int64Builder, StringDictionaryBuilder, TimestampMicrosecondBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::SecondsFormat;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression as ParquetCompression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use crate::db::exports::select::{Batch, Cells};
use crate::domain::exports::{Column, ColumnType};

/// Appends the batch's rows to `out`, one JSON object per line, members in column order;
/// timestamps as RFC 3339 UTC with microseconds (as in CSV), money as integers.
pub fn ndjson(columns: &[Column], batch: &Batch, out: &mut Vec<u8>) {
    for row in 0..batch.rows {
        out.push(b'{');
        for (i, (column, cells)) in columns.iter().zip(&batch.columns).enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_json_string(out, column.name());
            out.push(b':');
            match cells {
                Cells::Text(v) => match &v[row] {
                    Some(s) => push_json_string(out, s),
                    None => out.extend_from_slice(b"null"),
                },
                Cells::Int(v) => match v[row] {
                    Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
                    None => out.extend_from_slice(b"null"),
                },
                Cells::Time(v) => match v[row] {
                    Some(t) => {
                        push_json_string(out, &t.to_rfc3339_opts(SecondsFormat::Micros, true))
                    }
                    None => out.extend_from_slice(b"null"),
                },
            }
        }
        out.extend_from_slice(b"}\n");
    }
}

fn push_json_string(out: &mut Vec<u8>, s: &str) {
    // serializing a &str into a Vec cannot fail
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The Arrow schema of an export's columns: text as UTF-8 (keywords dictionary-encoded),
/// money as int64 minor units, timestamps in microseconds UTC.
pub fn schema(columns: &[Column]) -> SchemaRef {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| {
            let t = match c.kind() {
                ColumnType::Text => DataType::Utf8,
                ColumnType::Keyword => {
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
                }
                ColumnType::Int => DataType::Int64,
                ColumnType::Time => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            };
            Field::new(c.name(), t, c.nullable())
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// A batch as an Arrow record batch of [`schema`].
pub fn record_batch(
    schema: &SchemaRef,
    columns: &[Column],
    batch: &Batch,
) -> parquet::errors::Result<RecordBatch> {
    let arrays: Vec<ArrayRef> = columns
        .iter()
        .zip(&batch.columns)
        .map(|(c, cells)| -> ArrayRef {
            match cells {
                Cells::Text(v) if c.kind() == ColumnType::Keyword => {
                    let mut b = StringDictionaryBuilder::<Int32Type>::new();
                    for s in v {
                        b.append_option(s.as_deref());
                    }
                    Arc::new(b.finish())
                }
                Cells::Text(v) => Arc::new(StringArray::from_iter(v.iter().map(|s| s.as_deref()))),
                Cells::Int(v) => {
                    let mut b = Int64Builder::with_capacity(v.len());
                    b.extend(v.iter().copied());
                    Arc::new(b.finish())
                }
                Cells::Time(v) => {
                    let mut b = TimestampMicrosecondBuilder::with_capacity(v.len());
                    b.extend(v.iter().map(|t| t.map(|t| t.timestamp_micros())));
                    Arc::new(b.finish().with_timezone("UTC"))
                }
            }
        })
        .collect();
    Ok(RecordBatch::try_new(schema.clone(), arrays)?)
}

/// A Parquet writer for one part, writing into a buffer the caller drains as it goes (the
/// writer never seeks back): Snappy pages, dictionaries for keyword columns only.
pub fn parquet_writer(
    schema: &SchemaRef,
    columns: &[Column],
) -> parquet::errors::Result<ArrowWriter<Vec<u8>>> {
    let mut props = WriterProperties::builder()
        .set_compression(ParquetCompression::SNAPPY)
        .set_dictionary_enabled(false);
    for c in columns {
        if c.kind() == ColumnType::Keyword {
            props = props.set_column_dictionary_enabled(ColumnPath::from(c.name()), true);
        }
    }
    ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props.build()))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn batch() -> Batch {
        Batch {
            rows: 2,
            columns: vec![
                Cells::Text(vec![Some("ord_1".into()), Some("ord_\"2\"".into())]),
                Cells::Int(vec![Some(1999), None]),
                Cells::Time(vec![
                    Some(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()),
                    None,
                ]),
                Cells::Text(vec![Some("delivered".into()), None]),
            ],
            last_id: Some("ord_\"2\"".into()),
        }
    }

    const COLUMNS: [Column; 4] = [
        Column::Id,
        Column::TotalMinor,
        Column::PlacedAt,
        Column::Status,
    ];

    #[test]
    fn ndjson_lines_are_typed_json_in_column_order() {
        let mut out = Vec::new();
        ndjson(&COLUMNS, &batch(), &mut out);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"id":"ord_1","total_minor":1999,"placed_at":"2026-01-02T03:04:05.000000Z","status":"delivered"}"#
        );
        let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(second["id"], "ord_\"2\"");
        assert!(second["total_minor"].is_null() && second["status"].is_null());
    }

    #[test]
    fn parquet_part_reads_back_with_its_types() {
        let schema = schema(&COLUMNS);
        let mut w = parquet_writer(&schema, &COLUMNS).unwrap();
        // the columns that may not be empty are not
        let mut full = batch();
        full.columns[1] = Cells::Int(vec![Some(1999), Some(0)]);
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        full.columns[2] = Cells::Time(vec![Some(t), Some(t)]);
        full.columns[3] = Cells::Text(vec![Some("delivered".into()), Some("closed".into())]);
        assert!(
            record_batch(&schema, &COLUMNS, &batch()).is_err(),
            "nulls where none may be"
        );
        w.write(&record_batch(&schema, &COLUMNS, &full).unwrap())
            .unwrap();
        w.finish().unwrap();
        let file = bytes::Bytes::from(std::mem::take(w.inner_mut()));
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
        assert_eq!(rows, 2);
    }
}
