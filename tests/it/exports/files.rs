//! CSV, NDJSON and Parquet exports, downloaded and read back.

use std::io::Read;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, TimestampMicrosecondType};
use arrow_schema::{DataType, TimeUnit};
use serde_json::{Value, json};

use super::{PART_ROWS, download, export, seeded_ids, spawn};

#[tokio::test]
async fn csv_export_has_every_order_once_with_one_header_and_a_checksum_that_matches() {
    let (app, _dir) = spawn(1).await;
    let result = export(&app, json!({"format": "csv"})).await;
    let expected = seeded_ids(&app, |_| true);
    assert_eq!(result["row_count"], expected.len());
    assert_eq!(result["format"], "csv");
    let parts = result["parts"].as_array().unwrap();
    assert_eq!(parts.len(), expected.len().div_ceil(PART_ROWS), "{result}");
    assert!(result["expires_at"].is_string());
    let text = String::from_utf8(download(&app, &result).await).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "id,number,placed_at,status,payment_status,fulfillment_status,currency,total_minor,customer_id,channel"
    );
    let rows: Vec<&str> = lines.collect();
    let ids: Vec<String> = rows
        .iter()
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    assert_eq!(ids, expected, "every order once, in id order");
    // typed as documented: RFC 3339 UTC timestamps, money in minor units
    let first = app.orders.iter().find(|o| o.id.as_str() == ids[0]).unwrap();
    let cells: Vec<&str> = rows[0].split(',').collect();
    assert_eq!(
        cells[2],
        first
            .placed_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    );
    assert_eq!(cells[7], first.totals.total_minor.to_string());
    // the job's audit record names the job, not its result: no link (a bearer credential)
    let audited: serde_json::Value = sqlx::query_scalar(
        "SELECT after FROM audit_log WHERE action = 'job.export_orders.succeeded'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(audited["status"], "succeeded", "{audited}");
    assert!(audited.get("result").is_none(), "{audited}");
    let url = result["download_url"].as_str().unwrap();
    assert!(!audited.to_string().contains(url), "{audited}");
}

/// Columns that do not start with the id: the COPY selects the id ahead of each row to know
/// where a part ends, and takes it off again (with `id` first, the row is written whole).
#[tokio::test]
async fn csv_rows_not_led_by_the_id_are_cut_into_parts_by_it_and_keep_only_their_columns() {
    let (app, _dir) = spawn(1).await;
    let result = export(
        &app,
        json!({"format": "csv", "columns": ["total_minor", "id", "status"]}),
    )
    .await;
    let expected = seeded_ids(&app, |_| true);
    assert!(expected.len() > 2 * PART_ROWS, "{}", expected.len());
    assert_eq!(result["row_count"], expected.len());
    let parts = result["parts"].as_array().unwrap();
    assert_eq!(parts.len(), expected.len().div_ceil(PART_ROWS), "{result}");
    assert!(
        parts
            .iter()
            .take(parts.len() - 1)
            .all(|p| p["rows"] == PART_ROWS),
        "{result}"
    );
    let text = String::from_utf8(download(&app, &result).await).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), "total_minor,id,status");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|cells| cells.len() == 3), "{text}");
    let ids: Vec<&str> = rows.iter().map(|cells| cells[1]).collect();
    assert_eq!(ids, expected, "every order once, in id order");
    for cells in &rows {
        let order = app
            .orders
            .iter()
            .find(|o| o.id.as_str() == cells[1])
            .unwrap();
        assert_eq!(cells[0], order.totals.total_minor.to_string());
        assert_eq!(cells[2], order.status.as_str());
    }
}

#[tokio::test]
async fn ndjson_gzip_export_applies_the_filter_and_its_parts_are_one_gzip_stream() {
    let (app, _dir) = spawn(1).await;
    let result = export(
        &app,
        json!({"format": "ndjson", "compression": "gzip",
               "columns": ["id", "status", "email", "total_minor"],
               "filter": {"status": {"in": ["delivered", "cancelled"]}}}),
    )
    .await;
    let expected = seeded_ids(&app, |o| {
        matches!(o.status.as_str(), "delivered" | "cancelled")
    });
    assert!(!expected.is_empty() && expected.len() < app.orders.len());
    assert_eq!(result["row_count"], expected.len());
    let gz = download(&app, &result).await;
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(&gz[..])
        .read_to_string(&mut text)
        .unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, expected);
    for row in &rows {
        let order = app
            .orders
            .iter()
            .find(|o| o.id.as_str() == row["id"])
            .unwrap();
        assert_eq!(row["email"], order.email.as_str());
        assert_eq!(row["total_minor"], order.totals.total_minor);
        assert_eq!(row.as_object().unwrap().len(), 4, "{row}");
    }
}

#[tokio::test]
async fn parquet_export_is_one_valid_file_with_real_types() {
    let (app, _dir) = spawn(1).await;
    let result = export(
        &app,
        json!({"format": "parquet", "columns": ["id", "placed_at", "total_minor", "status"]}),
    )
    .await;
    assert!(result["parts"].as_array().unwrap().len() > 1);
    let file = bytes::Bytes::from(download(&app, &result).await);
    let builder =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    assert_eq!(
        schema.field_with_name("placed_at").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(
        schema.field_with_name("total_minor").unwrap().data_type(),
        &DataType::Int64
    );
    assert!(matches!(
        schema.field_with_name("status").unwrap().data_type(),
        DataType::Dictionary(..)
    ));
    let (mut rows, mut total, mut first_placed) = (0usize, 0i64, None);
    for batch in builder.build().unwrap() {
        let batch = batch.unwrap();
        rows += batch.num_rows();
        let totals = batch.column(2).as_primitive::<Int64Type>();
        total += totals.iter().flatten().sum::<i64>();
        if first_placed.is_none() {
            first_placed = Some(
                batch
                    .column(1)
                    .as_primitive::<TimestampMicrosecondType>()
                    .value(0),
            );
        }
    }
    assert_eq!(rows, app.orders.len());
    let expected: i64 = app.orders.iter().map(|o| o.totals.total_minor).sum();
    assert_eq!(total, expected);
    let first_id = seeded_ids(&app, |_| true)[0].clone();
    let first = app
        .orders
        .iter()
        .find(|o| o.id.as_str() == first_id)
        .unwrap();
    assert_eq!(first_placed, Some(first.placed_at.timestamp_micros()));
}

#[tokio::test]
async fn csv_with_a_filter_of_every_value_type_matches_the_same_filter_in_ndjson() {
    let (app, _dir) = spawn(1).await;
    let cutoff = {
        let mut placed: Vec<_> = app.orders.iter().map(|o| o.placed_at).collect();
        placed.sort();
        placed[placed.len() / 3]
    };
    // texts, a text (ILIKE), an integer, a time, a boolean, a hostile string
    let filter = json!({"and": [
        {"status": {"in": ["delivered", "cancelled", "confirmed", "pending", "shipped"]}},
        {"email": {"contains": "@example.test"}},
        {"total_minor": {"gte": 1}},
        {"placed_at": {"gte": cutoff.to_rfc3339()}},
        {"on_hold": {"eq": false}},
        {"not": {"external_ref": {"eq": "x'); DROP TABLE order_views; --"}}}
    ]});
    let expected = seeded_ids(&app, |o| {
        matches!(
            o.status.as_str(),
            "delivered" | "cancelled" | "confirmed" | "pending" | "shipped"
        ) && o.totals.total_minor >= 1
            && o.placed_at >= cutoff
    });
    assert!(
        expected.len() > PART_ROWS,
        "more than one part: {}",
        expected.len()
    );
    let csv = export(
        &app,
        json!({"format": "csv", "columns": ["id"], "filter": filter}),
    )
    .await;
    let text = String::from_utf8(download(&app, &csv).await).unwrap();
    let ids: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(ids, expected);
    let ndjson = export(
        &app,
        json!({"format": "ndjson", "columns": ["id"], "filter": filter}),
    )
    .await;
    assert_eq!(ndjson["row_count"], csv["row_count"]);
}
