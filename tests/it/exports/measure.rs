//! Not run by default: the time of a CSV, NDJSON and Parquet export of a large tenant
//! (seeded with COPY) beside `psql \copy` of the same rows, measured in the same run.
//! `EXPORT_MEASURE_ORDERS=1000000 cargo test --test it -- --ignored exports::measure --nocapture`

use std::time::Instant;

use serde_json::json;

use super::{PATH, wait_in};
use crate::helpers;

const BULK: &str = "bulk";

#[tokio::test]
#[ignore = "a measurement: minutes at a million orders"]
async fn export_speed_beside_psql_copy() {
    let orders: usize = std::env::var("EXPORT_MEASURE_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = std::env::temp_dir().join(format!("od-exports-{}", uuid::Uuid::new_v4().simple()));
    let app = helpers::spawn_with(helpers::Options {
        extra_env: vec![(
            "ORDERDESK_EXPORTS_STORE".into(),
            format!("file://{}", dir.display()),
        )],
        ..Default::default()
    })
    .await;
    let seeded = app
        .command(&[
            "seed",
            "--tenant",
            BULK,
            "--orders",
            &orders.to_string(),
            "--customers",
            "1000",
            "--read-model-only",
        ])
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );

    let started = Instant::now();
    let psql = std::process::Command::new("psql")
        .arg(format!("postgres://postgres@127.0.0.1:5432/{}", app.db_name))
        .arg("-qc")
        .arg(format!(
            "\\copy (SELECT id, number, placed_at, status, payment_status, fulfillment_status, currency, \
             total_minor, customer_id, channel FROM order_views WHERE tenant_id = '{BULK}' ORDER BY id) \
             TO '/dev/null' WITH (FORMAT csv, HEADER true)"
        ))
        .output()
        .unwrap();
    assert!(
        psql.status.success(),
        "{}",
        String::from_utf8_lossy(&psql.stderr)
    );
    let psql_time = started.elapsed();
    println!("psql \\copy of {orders} rows: {psql_time:?}");

    let token = app.agent_token(BULK, "agt_measure", &["finance"]);
    for format in ["csv", "ndjson", "parquet"] {
        let started = Instant::now();
        let (status, accepted) = app
            .post_as(&token, BULK, PATH, None, None, json!({"format": format}))
            .await;
        assert_eq!(status, 202, "{accepted}");
        let job = wait_in(
            &app,
            BULK,
            &token,
            accepted["job"]["id"].as_str().unwrap(),
            3600,
        )
        .await;
        let took = started.elapsed();
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["result"]["row_count"], orders);
        println!(
            "{format}: {orders} rows, {} bytes, {took:?} ({:.0} rows/s; psql/this = {:.2})",
            job["result"]["bytes"],
            orders as f64 / took.as_secs_f64(),
            psql_time.as_secs_f64() / took.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
