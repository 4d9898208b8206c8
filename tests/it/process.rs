//! The `orderdesk` binary run as production runs it: what it refuses at start, and how it
//! stops on SIGTERM.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use orderdesk::config::DEV_JWT_SECRET;
use orderdesk::domain::order::Order;
use serde_json::json;

use crate::helpers::{self, TENANT, TestApp};
use crate::resilience::{free_port, request_cancel};

const STRONG: &str = "0123456789abcdef0123456789abcdef";

/// `orderdesk api` with only the given secrets in its environment (nothing inherited, so a
/// developer's ORDERDESK_ALLOW_DEV_SECRETS cannot leak in); its exit status and stderr.
fn api_with_jwt_secret(jwt_secret: &str) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orderdesk"))
        .args(["api", "--addr", "127.0.0.1:0"])
        .env_clear()
        .env("ORDERDESK_JWT_SECRET", jwt_secret)
        .env("ORDERDESK_EVENTS_SECRET", STRONG)
        .env("ORDERDESK_GUEST_SECRET", STRONG)
        .env("ORDERDESK_DOWNLOAD_SECRET", STRONG)
        .env("ORDERDESK_DATA_KEY", STRONG)
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the orderdesk binary runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().ok();
            panic!("the api did not stop by itself");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    (
        status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn api_refuses_to_start_with_the_development_jwt_secret() {
    let (code, stderr) = api_with_jwt_secret(DEV_JWT_SECRET);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("ORDERDESK_JWT_SECRET"), "{stderr}");
    assert!(!stderr.contains("ORDERDESK_EVENTS_SECRET"), "{stderr}");
}

#[test]
fn api_refuses_to_start_with_the_compose_placeholder() {
    let (code, stderr) = api_with_jwt_secret("change-me-to-a-long-random-secret");
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("ORDERDESK_JWT_SECRET"), "{stderr}");
}

/// `orderdesk <args>` over `app`'s database, Redis prefix and sandbox, on the development
/// secrets, with `grace_secs` of shutdown grace; its output is dropped.
fn spawn_orderdesk(app: &TestApp, args: &[&str], grace_secs: u64) -> Child {
    app.command(args)
        .env("ORDERDESK_SHUTDOWN_GRACE_SECS", grace_secs.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the orderdesk binary runs")
}

fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for `child` to exit within `bound`, returning how long it took and its status.
async fn exits_within(child: &mut Child, bound: Duration) -> (Duration, ExitStatus) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (started.elapsed(), status);
        }
        if started.elapsed() > bound {
            child.kill().ok();
            panic!("still running {bound:?} after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A run's status and lease owner, straight from Postgres.
async fn lease_of(app: &TestApp, job_id: &str) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, lease_owner FROM runs WHERE id = $1::uuid")
        .bind(job_id)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

/// Waits until job `job_id` runs `step`.
pub(crate) async fn wait_running_step(app: &TestApp, job_id: &str, step: &str) {
    let admin = app.agent_token(TENANT, "agt_ops", &["admin"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let path = format!("/v1/admin/jobs/{job_id}");
        let (_, job) = app.get(&path, app.auth(&admin, TENANT)).await;
        if job["progress"]["step"] == step && job["status"] == "running" {
            return;
        }
        assert!(Instant::now() < deadline, "never reached {step}: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a worker process, has it run a cancellation until its refund (`refund_ms` long at
/// Payments), and sends it SIGTERM; returns the app, the order, the job and how long the
/// worker took to exit (with status 0, within `grace_secs` and a margin).
async fn terminate_worker_during_refund(
    refund_ms: u64,
    grace_secs: u64,
) -> (TestApp, Order, String, Duration) {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    app.set_faults(json!({"service": "payments", "latency_ms": refund_ms}))
        .await;
    let mut worker = spawn_orderdesk(&app, &["worker", "--concurrency", "4"], grace_secs);
    let order = app.order_in("confirmed").clone();
    let job_id = request_cancel(&app, &order.id, &order.customer_id).await;
    wait_running_step(&app, &job_id, "refund").await;
    terminate(&worker);
    let bound = Duration::from_secs(grace_secs + 5);
    let (took, status) = exits_within(&mut worker, bound).await;
    assert!(status.success(), "{status:?}");
    (app, order, job_id, took)
}

/// The run, handed back, is finished by another worker with every effect exactly once.
async fn another_worker_finishes(mut app: TestApp, order: &Order, job_id: &str) {
    let (status, owner) = lease_of(&app, job_id).await;
    assert_eq!((status.as_str(), owner), ("queued", None), "handed back");
    app.clear_faults().await;
    app.start_worker();
    let job = app.wait_job(job_id, 30).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    for kind in ["order.cancel", "payment.refund", "notification.send"] {
        let n = app.effects_of_kind(TENANT, &order.id, kind).await;
        assert_eq!(n, 1, "{kind} exactly once");
    }
}

#[tokio::test]
async fn sigterm_lets_a_workers_step_in_flight_finish_then_hands_its_run_back() {
    let (app, order, job_id, took) = terminate_worker_during_refund(1_500, 30).await;
    assert!(
        took < Duration::from_secs(10),
        "left after the step, not the grace: {took:?}"
    );
    let refund: String = sqlx::query_scalar(
        "SELECT s ->> 'status' FROM runs, jsonb_array_elements(steps) s
         WHERE id = $1::uuid AND s ->> 'name' = 'refund'",
    )
    .bind(&job_id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(
        refund, "done",
        "the step in flight finished and was checkpointed"
    );
    another_worker_finishes(app, &order, &job_id).await;
}

#[tokio::test]
async fn sigterm_hands_back_a_step_longer_than_the_grace_period() {
    let (app, order, job_id, took) = terminate_worker_during_refund(4_000, 1).await;
    assert!(
        took >= Duration::from_secs(1),
        "waited the grace period: {took:?}"
    );
    another_worker_finishes(app, &order, &job_id).await;
}

#[tokio::test]
async fn sigterm_stops_the_api_and_the_sandbox_with_status_0() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    for command in ["api", "sandbox"] {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = spawn_orderdesk(&app, &[command, "--addr", &addr], 5);
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "{command} never listened");
            assert!(
                child.try_wait().unwrap().is_none(),
                "{command} exited early"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        terminate(&child);
        let (_, status) = exits_within(&mut child, Duration::from_secs(5)).await;
        assert!(status.success(), "{command}: {status:?}");
        assert!(
            std::net::TcpStream::connect(&addr).is_err(),
            "{command} still listens"
        );
    }
}

/// A worker process started with `--queues exports` never runs an interactive run: a
/// customer's cancellation stays queued (never claimed) until a worker of its queue comes.
/// A queue no workflow names stops the start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_of_the_exports_queue_never_runs_a_cancel() {
    let mut app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    let typo = app
        .command(&["worker", "--queues", "exprots"])
        .output()
        .unwrap();
    assert!(!typo.status.success());
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(
        stderr.contains("exprots") && stderr.contains("exports"),
        "{stderr}"
    );

    let mut worker = spawn_orderdesk(&app, &["worker", "--queues", "exports"], 5);
    let order = app.order_in("confirmed").clone();
    let job_id = request_cancel(&app, &order.id, &order.customer_id).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (status, owner) = lease_of(&app, &job_id).await;
    assert_eq!(
        (status.as_str(), owner),
        ("queued", None),
        "an exports worker took it"
    );
    terminate(&worker);
    exits_within(&mut worker, Duration::from_secs(10)).await;
    app.start_worker();
    assert_eq!(app.wait_job(&job_id, 30).await["status"], "succeeded");
}
