//! `orderdesk bench` scenario (a) end to end with a tiny N: real worker processes, real
//! Postgres and Redis. Checks that every run succeeded and a rate came out; no timing
//! threshold (speed is for the benchmark itself).

use std::path::Path;

use orderdesk::bench::env::BenchEnv;
use orderdesk::bench::throughput::{self, Delivery};
use orderdesk::config::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_a_runs_every_run_to_success() {
    let base = Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some("postgres://postgres@127.0.0.1:5432/postgres".into()),
        "REDIS_URL" => Some("redis://127.0.0.1:6379".into()),
        _ => None,
    })
    .unwrap();
    let env = BenchEnv::create(
        &base,
        Path::new(env!("CARGO_BIN_EXE_orderdesk")),
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/benches/workflows.toml"
        )),
    )
    .await
    .unwrap();
    let sample = throughput::measure(&env, 200, 1, Delivery::Relay).await;
    let by_status = throughput::by_status(&env).await;
    env.destroy().await.unwrap();
    let sample = sample.unwrap();
    assert_eq!(sample.runs, 200);
    assert_eq!(sample.succeeded, 200, "{by_status:?}");
    assert!(sample.runs_per_sec() > 0.0, "{sample:?}");
    assert!(sample.accepted_per_sec() > 0.0, "{sample:?}");
}
