//! `orderdesk-bench` scenarios (a), (c), (d), (e) and (f) end to end with tiny sizes: real worker, api and
//! bare-baseline processes, real Postgres and Redis. Checks that every run succeeded, that
//! both servers answered every read with 200, and that rates came out; no timing threshold
//! (speed is for the benchmark itself). The `orderdesk` binary is the one built next to
//! `orderdesk-bench`: `cargo test` at the workspace root builds both.

use std::path::Path;

use std::time::Duration;

use orderdesk::config::Config;
use orderdesk_bench::env::{BenchEnv, Programs};
use orderdesk_bench::load::{self, Server};
use orderdesk_bench::throughput::{self, Delivery};

async fn bench_env() -> BenchEnv {
    let base = Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some("postgres://postgres@127.0.0.1:5432/postgres".into()),
        "REDIS_URL" => Some("redis://127.0.0.1:6379".into()),
        orderdesk::config::ALLOW_DEV_SECRETS => Some("true".into()),
        _ => None,
    })
    .unwrap();
    let bench = Path::new(env!("CARGO_BIN_EXE_orderdesk-bench"));
    let orderdesk = bench.with_file_name("orderdesk");
    assert!(
        orderdesk.exists(),
        "{} is missing: run the tests from the workspace root",
        orderdesk.display()
    );
    let programs = Programs {
        orderdesk,
        bench: bench.to_path_buf(),
    };
    BenchEnv::create(
        &base,
        &programs,
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../benches/workflows.toml"
        )),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_a_runs_every_run_to_success() {
    let env = bench_env().await;
    let sample = throughput::measure(&env, 200, 1, Delivery::Relay).await;
    let by_status = throughput::by_status(&env).await;
    env.destroy().await.unwrap();
    let sample = sample.unwrap();
    assert_eq!(sample.runs, 200);
    assert_eq!(sample.succeeded, 200, "{by_status:?}");
    assert!(sample.runs_per_sec() > 0.0, "{sample:?}");
    assert!(sample.accepted_per_sec() > 0.0, "{sample:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_c_reads_from_the_api_and_the_bare_baseline_without_errors() {
    let env = bench_env().await;
    let measured = async {
        let orders = load::seed(&env).await?;
        let mut samples = Vec::new();
        for server in [Server::Api, Server::Bare] {
            let mut fixture = load::start(&env, server, &orders).await?;
            let sample = fixture.measure(4, Duration::from_millis(300), None).await;
            fixture.stop().await?;
            samples.push((server, sample?));
        }
        anyhow::Ok(samples)
    }
    .await;
    env.destroy().await.unwrap();
    for (server, sample) in measured.unwrap() {
        assert!(
            !sample.latencies_us.is_empty(),
            "{server:?}: no request answered"
        );
        assert_eq!(
            (sample.errors, sample.first_error),
            (0, None),
            "{server:?}: every read is a 200"
        );
        assert!(sample.rps() > 0.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_d_drains_an_accepted_backlog_claiming_each_run_once() {
    let env = bench_env().await;
    let sample = orderdesk_bench::drain::measure(&env, 300, 1).await;
    env.destroy().await.unwrap();
    let sample = sample.unwrap();
    assert_eq!(sample.runs, 300);
    assert_eq!(sample.claims, 300, "every run claimed exactly once");
    assert_eq!(sample.worker_deaths, 0);
    assert!(sample.runs_per_sec() > 0.0, "{sample:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_b_probes_another_tenant_while_a_backlog_drains() {
    let env = bench_env().await;
    let sample = orderdesk_bench::pickup::measure_under_drain(&env, 3_000).await;
    env.destroy().await.unwrap();
    let sample = sample.unwrap();
    assert!(
        !sample.to_step1_ms.is_empty(),
        "probes were sent while it drained"
    );
    assert_eq!(sample.to_claim_ms.len(), sample.to_step1_ms.len());
    assert!(sample.to_step1_ms[0] > 0.0, "{sample:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_e_resumes_a_killed_workers_runs_on_another_worker() {
    let env = bench_env().await;
    let sample = orderdesk_bench::failover::measure(&env, 10, Duration::from_secs(4)).await;
    env.destroy().await.unwrap();
    let sample = sample.unwrap();
    assert_eq!(
        sample.runs, 10,
        "every run was in flight when its worker was killed"
    );
    assert_eq!(sample.claims_per_run, 2.0, "claimed once by each worker");
    for (what, v) in [
        ("resume", &sample.to_resume),
        ("step done", &sample.to_step_done),
        ("finish", &sample.to_finish),
    ] {
        assert_eq!(v.len(), 10);
        assert!(v.iter().all(|s| *s > 0.0), "{what} after the kill: {v:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_f_accepts_cancel_requests_through_the_api_and_runs_them() {
    let env = bench_env().await;
    let measured = async {
        let mut door = orderdesk_bench::front_door::start(&env, 30).await?;
        let sample = door.measure(&env, 4).await;
        door.stop().await?;
        let ceiling = match orderdesk_bench::ceiling::PgBench::locate(&env).await {
            Ok(p) => Some(p.measure(&env, Duration::from_secs(1)).await?),
            Err(_) => None,
        };
        anyhow::Ok((sample?, ceiling))
    }
    .await;
    env.destroy().await.unwrap();
    let (sample, ceiling) = measured.unwrap();
    assert_eq!((sample.errors, sample.first_error.as_deref()), (0, None));
    assert_eq!((sample.accepted, sample.succeeded), (30, 30), "{sample:?}");
    assert!(sample.completed_per_sec() > 0.0);
    // pgbench is optional: without it (f) says so and judges no ratio
    assert!(ceiling.is_none_or(|tps| tps > 0.0), "{ceiling:?}");
}

#[tokio::test]
async fn bullmq_is_not_measured_without_its_script_and_says_why() {
    let why = orderdesk_bench::peers::BullMq::locate(Path::new("/nonexistent/peers"))
        .await
        .unwrap_err();
    assert!(why.contains("bullmq.mjs"), "{why}");
}
