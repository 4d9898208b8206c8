//! Decoded rows ([`super::rows`]) as NDJSON lines, or gathered in Arrow builders into record
//! batches for a Parquet part. CSV needs no encoder here: PostgreSQL's COPY writes it.

use std::sync::Arc;

use arrow_array::builder::{
    Int64Builder, StringBuilder, StringDictionaryBuilder, TimestampMicrosecondBuilder,
};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression as ParquetCompression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::rows::{Row, Value, Wire};
use crate::domain::exports::{Column, ColumnType};

/// How each column travels in the binary COPY the rows are decoded from.
pub fn wires(columns: &[Column]) -> Vec<Wire> {
    columns
        .iter()
        .map(|c| match c.kind() {
            ColumnType::Int => Wire::Int8,
            ColumnType::Time => Wire::Timestamptz,
            ColumnType::Text | ColumnType::Keyword => Wire::Text,
        })
        .collect()
}

/// Appends `row` to `out` as one JSON object line, members in column order; timestamps as
/// RFC 3339 UTC with microseconds (as in CSV), money as integers.
pub fn ndjson(columns: &[Column], row: &Row<'_>, out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (column, value)) in columns.iter().zip(row.values).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_string(out, column.name());
        out.push(b':');
        match value {
            Value::Null => out.extend_from_slice(b"null"),
            Value::Text(s) => push_json_string(out, s),
            Value::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Value::Time(t) => push_json_string(out, &Value::time_text(*t)),
        }
    }
    out.extend_from_slice(b"}\n");
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

/// Rows gathered column by column into Arrow arrays of [`schema`].
pub struct Builders {
    columns: Vec<ColumnBuilder>,
    rows: usize,
}

enum ColumnBuilder {
    Text(StringBuilder),
    Keyword(StringDictionaryBuilder<Int32Type>),
    Int(Int64Builder),
    Time(TimestampMicrosecondBuilder),
}

impl Builders {
    pub fn new(columns: &[Column]) -> Builders {
        let columns = columns
            .iter()
            .map(|c| match c.kind() {
                ColumnType::Text => ColumnBuilder::Text(StringBuilder::new()),
                ColumnType::Keyword => ColumnBuilder::Keyword(StringDictionaryBuilder::new()),
                ColumnType::Int => ColumnBuilder::Int(Int64Builder::new()),
                ColumnType::Time => ColumnBuilder::Time(TimestampMicrosecondBuilder::new()),
            })
            .collect();
        Builders { columns, rows: 0 }
    }

    /// Rows gathered since the last [`Builders::finish`].
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds a row; a value of another type than its column's counts as empty (the COPY
    /// casts each column to its type, so none comes).
    pub fn append(&mut self, row: &Row<'_>) {
        for (builder, value) in self.columns.iter_mut().zip(row.values) {
            match (builder, *value) {
                (ColumnBuilder::Text(b), Value::Text(s)) => b.append_value(s),
                (ColumnBuilder::Text(b), _) => b.append_null(),
                (ColumnBuilder::Keyword(b), Value::Text(s)) => {
                    b.append_value(s);
                }
                (ColumnBuilder::Keyword(b), _) => b.append_null(),
                (ColumnBuilder::Int(b), Value::Int(n)) => b.append_value(n),
                (ColumnBuilder::Int(b), _) => b.append_null(),
                (ColumnBuilder::Time(b), Value::Time(t)) => b.append_value(t),
                (ColumnBuilder::Time(b), _) => b.append_null(),
            }
        }
        self.rows += 1;
    }

    /// The rows gathered as one record batch (the builders start again empty); an error
    /// when a column that may not be empty has an empty value.
    pub fn finish(&mut self, schema: &SchemaRef) -> parquet::errors::Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .columns
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    ColumnBuilder::Text(b) => Arc::new(b.finish()),
                    ColumnBuilder::Keyword(b) => Arc::new(b.finish()),
                    ColumnBuilder::Int(b) => Arc::new(b.finish()),
                    ColumnBuilder::Time(b) => Arc::new(b.finish().with_timezone("UTC")),
                }
            })
            .collect();
        self.rows = 0;
        Ok(RecordBatch::try_new(schema.clone(), arrays)?)
    }
}

/// Rows of a Parquet row group (a part has one or more).
const ROW_GROUP_ROWS: usize = 32 * 1024;

/// A Parquet writer for one part, writing into a buffer the caller drains as it goes (the
/// writer never seeks back): Snappy pages, dictionaries for keyword columns only.
pub fn parquet_writer(
    schema: &SchemaRef,
    columns: &[Column],
) -> parquet::errors::Result<ArrowWriter<Vec<u8>>> {
    let mut props = WriterProperties::builder()
        .set_compression(ParquetCompression::SNAPPY)
        .set_dictionary_enabled(false)
        // a row group is held encoded until it is full: a part's worth was tens of MiB
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS));
    for c in columns {
        if c.kind() == ColumnType::Keyword {
            props = props.set_column_dictionary_enabled(ColumnPath::from(c.name()), true);
        }
    }
    ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props.build()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: [Column; 4] = [
        Column::Id,
        Column::TotalMinor,
        Column::PlacedAt,
        Column::Status,
    ];
    /// 2026-01-02T03:04:05Z
    const T: i64 = 1_767_323_045_000_000;

    fn rows() -> [[Value<'static>; 4]; 2] {
        [
            [
                Value::Text("ord_1"),
                Value::Int(1999),
                Value::Time(T),
                Value::Text("delivered"),
            ],
            [
                Value::Text("ord_\"2\""),
                Value::Null,
                Value::Null,
                Value::Null,
            ],
        ]
    }

    #[test]
    fn ndjson_lines_are_typed_json_in_column_order() {
        let mut out = Vec::new();
        for values in &rows() {
            ndjson(&COLUMNS, &Row { id: "x", values }, &mut out);
        }
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
        let mut b = Builders::new(&COLUMNS);
        let [full, empty] = rows();
        b.append(&Row {
            id: "x",
            values: &empty,
        });
        assert!(b.finish(&schema).is_err(), "nulls where none may be");
        b.append(&Row {
            id: "x",
            values: &full,
        });
        b.append(&Row {
            id: "x",
            values: &full,
        });
        assert_eq!(b.rows(), 2);
        w.write(&b.finish(&schema).unwrap()).unwrap();
        assert_eq!(b.rows(), 0);
        w.finish().unwrap();
        let file = bytes::Bytes::from(std::mem::take(w.inner_mut()));
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
        let placed = batches[0]
            .column(2)
            .as_any()
            .downcast_ref::<arrow_array::TimestampMicrosecondArray>()
            .unwrap();
        assert_eq!(placed.value(0), T);
    }
}
