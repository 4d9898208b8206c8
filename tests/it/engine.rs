//! The workflow engine end to end on real Postgres and Redis: outbox delivery, checkpoints,
//! compensation, duplicate delivery, dead workers, Redis outages, and a 20k burst.

use std::collections::HashMap;
use std::time::Duration;

use orderdesk::config::Config;
use orderdesk::db::runs::{self, RunRow, StepRow, StepStatus};
use orderdesk::domain::ids::{RunId, TenantId};
use orderdesk::jobs::{self, Lane, List, NewRun, Started, TriggerQueue};
use orderdesk::state::AppState;
use orderdesk::workers::{self, WorkerOptions};
use orderdesk::workflows::Registry;
use orderdesk::workflows::spec::DEFAULT_QUEUE;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::resilience::{OwnRedis, free_port};

const PG: &str = "postgres://postgres@127.0.0.1:5432";
const TENANT: &str = "t1";

const WORKFLOWS: &str = r#"
[workflows.noop3]
[[workflows.noop3.steps]]
name = "one"
action = "noop"
[[workflows.noop3.steps]]
name = "two"
action = "noop"
[[workflows.noop3.steps]]
name = "three"
action = "noop"

[workflows.noop1]
[[workflows.noop1.steps]]
name = "only"
action = "noop"

[workflows.sleep1]
[[workflows.sleep1.steps]]
name = "only"
action = "sleep"

[workflows.bulk_noop]
queue = "bulk"
[[workflows.bulk_noop.steps]]
name = "only"
action = "noop"

[workflows.undo]
[[workflows.undo.steps]]
name = "a"
action = "noop"
compensate = "noop"
[[workflows.undo.steps]]
name = "b"
action = "noop"
compensate = "noop"
[[workflows.undo.steps]]
name = "skipped"
action = "noop"
compensate = "noop"
when = "input.never"
[[workflows.undo.steps]]
name = "c"
action = "noop"
[[workflows.undo.steps]]
name = "boom"
action = "fail"

[workflows.soft_fail]
[[workflows.soft_fail.steps]]
name = "optional"
action = "fail"
critical = false
[[workflows.soft_fail.steps]]
name = "after"
action = "noop"

[workflows.flaky_fast]
[[workflows.flaky_fast.steps]]
name = "flaky"
action = "flaky"
retry = { max_attempts = 3, base_ms = 10, max_delay_ms = 20 }

[workflows.flaky_slow]
[[workflows.flaky_slow.steps]]
name = "flaky"
action = "flaky"
retry = { max_attempts = 3, base_ms = 1500, max_delay_ms = 1500 }
"#;

/// An AppState of its own: a fresh database (migrated), a fresh Redis prefix.
struct TestEnv {
    state: AppState,
    db_name: String,
}

impl TestEnv {
    async fn new(redis_url: &str) -> TestEnv {
        orderdesk::telemetry::init(false);
        let id = Uuid::new_v4().simple().to_string();
        let db_name = format!("od_t_{id}");
        let vars: HashMap<&str, String> = HashMap::from([
            ("DATABASE_URL", format!("{PG}/{db_name}")),
            ("REDIS_URL", redis_url.to_string()),
            ("ORDERDESK_REDIS_PREFIX", format!("od_t_{id}")),
            (orderdesk::config::ALLOW_DEV_SECRETS, "true".into()),
        ]);
        let config = Config::from_lookup(|k| vars.get(k).cloned()).unwrap();
        let db = orderdesk::db::connect(&config.database_url, 20)
            .await
            .unwrap();
        orderdesk::db::migrate(&db).await.unwrap();
        let redis = redis::Client::open(redis_url)
            .unwrap()
            .get_connection_manager()
            .await
            .unwrap();
        let workflows = Registry::from_str(WORKFLOWS, "test-workflows.toml").unwrap();
        let queue = TriggerQueue::new(&config, redis.clone(), workflows.queues());
        let auth = orderdesk::auth::Verifier::new(&config).await.unwrap();
        let state = AppState::new(db, redis, config, auth, workflows, queue).unwrap();
        TestEnv { state, db_name }
    }

    fn start_workers(
        &self,
        name: &str,
        shutdown: &CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        self.start_workers_on(name, &[], shutdown)
    }

    /// A worker process taking only `queues` (all when empty).
    fn start_workers_on(
        &self,
        name: &str,
        queues: &[&str],
        shutdown: &CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        self.start_workers_with(name, queues, 50, shutdown)
    }

    /// A worker process taking `queues` (all when empty), `concurrency` runs of each at once.
    fn start_workers_with(
        &self,
        name: &str,
        queues: &[&str],
        concurrency: usize,
        shutdown: &CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let opts = WorkerOptions {
            concurrency,
            name_prefix: format!("{name}-test"),
            queues: queues.iter().map(|q| q.to_string()).collect(),
        };
        let (state, token) = (self.state.clone(), shutdown.clone());
        tokio::spawn(async move {
            workers::run(state.worker_ctx(), state.queue.clone(), opts, token)
                .await
                .unwrap()
        })
    }

    /// Enqueues runs in one transaction; returns their ids.
    async fn enqueue(&self, kind: &str, inputs: Vec<Value>) -> Vec<RunId> {
        let mut tx = self.state.db.begin().await.unwrap();
        let mut ids = Vec::new();
        for input in inputs {
            ids.push(
                jobs::enqueue(&mut tx, &self.state.workflows, new_run(kind, input))
                    .await
                    .unwrap()
                    .id,
            );
        }
        tx.commit().await.unwrap();
        ids
    }

    /// Accepts one run as the API does (left for the caller to dispatch, so its commit
    /// wakes nobody); returns what `jobs::dispatch` takes.
    async fn accept(&self, kind: &str) -> Started {
        let mut tx = self.state.db.begin().await.unwrap();
        let new = new_run(kind, json!({}));
        let run = jobs::enqueue_for_dispatch(&mut tx, &self.state.workflows, new)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        Started::from(&run)
    }

    async fn run(&self, id: RunId) -> RunRow {
        let mut conn = self.state.db.acquire().await.unwrap();
        runs::get(&mut conn, &TenantId::new(TENANT), id)
            .await
            .unwrap()
            .unwrap()
    }

    async fn steps(&self, id: RunId) -> Vec<StepRow> {
        let mut conn = self.state.db.acquire().await.unwrap();
        runs::steps(&mut conn, &TenantId::new(TENANT), id)
            .await
            .unwrap()
    }

    /// Waits (bounded, as a hang guard only) until the run is terminal.
    async fn finished(&self, id: RunId) -> RunRow {
        let run = runs::wait_finished(
            &self.state.db,
            &TenantId::new(TENANT),
            id,
            Duration::from_secs(60),
        )
        .await
        .unwrap()
        .unwrap();
        assert!(run.status().is_terminal(), "run still {:?}", run.status);
        run
    }

    async fn count(&self, status: &str) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM runs WHERE status = $1")
            .bind(status)
            .fetch_one(&self.state.db)
            .await
            .unwrap()
    }

    async fn cleanup(self) {
        let data = crate::helpers::cleanup::TestData {
            db_name: self.db_name.clone(),
            redis_url: self.state.config.redis_url.clone(),
            redis_prefix: self.state.config.redis_prefix.clone(),
            apalis_workers_sets: self.state.queue.workers_sets(),
        };
        self.state.db.close().await;
        crate::helpers::cleanup::remove(&data).await;
    }
}

/// A run of `kind` for the test tenant, requested by "test".
fn new_run(kind: &str, input: Value) -> NewRun {
    NewRun {
        tenant_id: TenantId::new(TENANT),
        kind: kind.into(),
        subject_id: None,
        customer_id: None,
        requested_by: "test".into(),
        input,
        correlation_id: None,
        queue: None,
    }
}

fn done(idx: i32, output: Value) -> runs::StepDone {
    let now = chrono::Utc::now();
    runs::StepDone {
        idx,
        output,
        attempts: 1,
        started_at: now,
        finished_at: now,
        key_retry: 0,
    }
}

fn statuses(steps: &[StepRow]) -> Vec<(&str, &str, i32)> {
    steps
        .iter()
        .map(|s| (s.name.as_str(), s.status.as_str(), s.attempts))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_noop_run_goes_through_the_outbox_to_succeeded() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let shutdown = CancellationToken::new();
    let workers = env.start_workers("noop", &shutdown);

    // one dispatched right after commit (fast path), one left to the relay
    let ids = env.enqueue("noop3", vec![json!({}), json!({})]).await;
    jobs::dispatch(
        &env.state.db,
        &env.state.queue,
        &Started::interactive(ids[0]),
    )
    .await;
    for id in ids {
        let run = env.finished(id).await;
        assert_eq!(run.status.as_str(), "succeeded");
        assert_eq!((run.progress_done, run.progress_total), (3, 3));
        assert_eq!(run.attempts, 1);
        assert_eq!(run.result, Some(json!({})));
        assert!(run.error.is_none() && run.lease_owner.is_none() && run.finished_at.is_some());
        let steps = env.steps(id).await;
        assert_eq!(
            statuses(&steps),
            [("one", "done", 1), ("two", "done", 1), ("three", "done", 1)]
        );
    }
    // the triggers (the runs' job.finished events are the events relay's, sent on its own
    // timer)
    let unsent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND kind = 'trigger'",
    )
    .fetch_one(&env.state.db)
    .await
    .unwrap();
    assert_eq!(unsent, 0);

    shutdown.cancel();
    workers.await.unwrap();
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_failure_compensates_done_steps_in_reverse() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let shutdown = CancellationToken::new();
    let workers = env.start_workers("undo", &shutdown);

    let ids = env
        .enqueue("undo", vec![json!({"fail_code": "test.boom"})])
        .await;
    let run = env.finished(ids[0]).await;
    assert_eq!(run.status.as_str(), "compensated");
    assert_eq!(run.error.as_ref().unwrap()["code"], "test.boom");
    assert_eq!(run.progress_total, 4, "the skipped step is not counted");
    let steps = env.steps(ids[0]).await;
    assert_eq!(
        statuses(&steps),
        [
            ("a", "compensated", 1),
            ("b", "compensated", 1),
            ("skipped", "skipped", 0),
            ("c", "done", 1),
            ("boom", "failed", 1),
        ]
    );
    assert_eq!(steps[4].last_error.as_ref().unwrap()["code"], "test.boom");
    // compensations ran in reverse: b was undone before a
    assert!(steps[1].finished_at.unwrap() < steps[0].finished_at.unwrap());

    // a non-critical failure is recorded and the run goes on
    let ids = env.enqueue("soft_fail", vec![json!({})]).await;
    let run = env.finished(ids[0]).await;
    assert_eq!(run.status.as_str(), "succeeded");
    assert_eq!(run.progress_done, 2);
    let steps = env.steps(ids[0]).await;
    assert_eq!(
        statuses(&steps),
        [("optional", "failed", 1), ("after", "done", 1)]
    );
    assert_eq!(
        steps[0].last_error.as_ref().unwrap()["code"],
        "diagnostic.fail"
    );

    shutdown.cancel();
    workers.await.unwrap();
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_are_retried_in_process_or_rescheduled() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let shutdown = CancellationToken::new();
    let workers = env.start_workers("retry", &shutdown);

    let fast = env
        .enqueue("flaky_fast", vec![json!({"flaky_failures": 2})])
        .await[0];
    let slow = env
        .enqueue("flaky_slow", vec![json!({"flaky_failures": 1})])
        .await[0];
    let run = env.finished(fast).await;
    assert_eq!(run.status.as_str(), "succeeded");
    assert_eq!(
        run.attempts, 1,
        "short backoffs retry within the same claim"
    );
    assert_eq!(statuses(&env.steps(fast).await), [("flaky", "done", 3)]);

    let run = env.finished(slow).await;
    assert_eq!(run.status.as_str(), "succeeded");
    assert_eq!(
        run.attempts, 2,
        "a long backoff releases the run; the sweeper re-pushes it"
    );
    assert_eq!(statuses(&env.steps(slow).await), [("flaky", "done", 2)]);

    shutdown.cancel();
    workers.await.unwrap();
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_trigger_executes_the_run_once() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let id = env.enqueue("noop3", vec![json!({})]).await[0];
    // record the push as dispatch would, then deliver the trigger three times
    let mut conn = env.state.db.acquire().await.unwrap();
    assert!(runs::mark_dispatched(&mut conn, id).await.unwrap());
    drop(conn);
    let q = || DEFAULT_QUEUE.to_string();
    env.state.queue.push(&[(id, q()), (id, q())]).await.unwrap();
    env.state.queue.push(&[(id, q())]).await.unwrap();

    let shutdown = CancellationToken::new();
    let workers = env.start_workers("dup", &shutdown);
    let run = env.finished(id).await;
    assert_eq!(run.status.as_str(), "succeeded");
    // let the other deliveries arrive, then check nothing ran twice
    for _ in 0..100 {
        if env.state.queue.backlog(DEFAULT_QUEUE).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let run = env.run(id).await;
    assert_eq!(run.attempts, 1);
    assert_eq!(
        statuses(&env.steps(id).await),
        [("one", "done", 1), ("two", "done", 1), ("three", "done", 1)]
    );
    // and the engine itself acks a finished run without touching it
    orderdesk::workflows::engine::execute(
        &env.state.worker_ctx(),
        id,
        "late-worker",
        &Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(env.run(id).await.updated_at, run.updated_at);

    shutdown.cancel();
    workers.await.unwrap();
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_worker_died_is_redriven_by_the_sweeper() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let id = env.enqueue("noop3", vec![json!({})]).await[0];
    {
        // a worker took the trigger, claimed the run, did one step and died
        let mut conn = env.state.db.acquire().await.unwrap();
        assert!(runs::mark_dispatched(&mut conn, id).await.unwrap());
        let (run, _) = runs::claim(&mut conn, id, "ghost", Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(run.status.as_str(), "running");
        let cp = runs::Checkpoint {
            run_id: id,
            worker: "ghost",
            lease: Duration::from_secs(10),
            steps: &[done(0, json!({"by": "ghost"}))],
            progress_done: 1,
            next_step: Some("two"),
        };
        assert!(runs::checkpoint(&mut conn, &cp).await.unwrap());
        // while the lease holds, nobody else may claim the run
        assert!(
            runs::claim(&mut conn, id, "x", Duration::from_secs(1))
                .await
                .unwrap()
                .is_none()
        );
        // its lease ran out a second ago; the trigger was pushed before that
        sqlx::query(
            "UPDATE runs SET lease_until = now() - interval '1 second',
                             pushed_at = now() - interval '5 seconds' WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    let shutdown = CancellationToken::new();
    let workers = env.start_workers("redrive", &shutdown);
    let run = env.finished(id).await;
    assert_eq!(run.status.as_str(), "succeeded");
    assert_eq!(run.attempts, 2);
    assert_eq!(run.progress_done, 3);
    let steps = env.steps(id).await;
    assert_eq!(
        steps[0].output,
        Some(json!({"by": "ghost"})),
        "done steps are not re-run"
    );
    assert_eq!(
        statuses(&steps),
        [("one", "done", 1), ("two", "done", 1), ("three", "done", 1)]
    );

    shutdown.cancel();
    workers.await.unwrap();
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_written_while_redis_is_down_are_delivered_when_it_returns() {
    let port = free_port();
    let redis = OwnRedis::start(port);
    let env = TestEnv::new(&format!("redis://127.0.0.1:{port}")).await;
    let shutdown = CancellationToken::new();
    let workers = env.start_workers("outage", &shutdown);

    redis.stop();
    let ids = env
        .enqueue("noop3", (0..20).map(|_| json!({})).collect())
        .await;
    for &id in &ids {
        jobs::dispatch(&env.state.db, &env.state.queue, &Started::interactive(id)).await; // logs and leaves the row unsent
    }
    let unsent: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        .fetch_one(&env.state.db)
        .await
        .unwrap();
    assert_eq!(unsent, 20);
    assert_eq!(env.count("queued").await, 20);

    let redis = OwnRedis::start(port);
    for &id in &ids {
        assert_eq!(env.finished(id).await.status.as_str(), "succeeded");
    }

    shutdown.cancel();
    workers.await.unwrap();
    env.cleanup().await;
    redis.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_20k_triggers_drains_with_two_workers() {
    const RUNS: usize = 20_000;
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    for _ in 0..4 {
        env.enqueue("noop1", (0..RUNS / 4).map(|_| json!({})).collect())
            .await;
    }
    let shutdown = CancellationToken::new();
    let w1 = env.start_workers("burst-a", &shutdown);
    let w2 = env.start_workers("burst-b", &shutdown);

    let started = std::time::Instant::now();
    loop {
        let done = env.count("succeeded").await;
        if done == RUNS as i64 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "drain stalled at {done}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("20k one-step runs drained in {:?}", started.elapsed());
    assert_eq!(env.count("succeeded").await, RUNS as i64);
    let not_done: i64 = sqlx::query_scalar("SELECT count(*) FROM runs WHERE status <> 'succeeded'")
        .fetch_one(&env.state.db)
        .await
        .unwrap();
    assert_eq!(not_done, 0);
    let claims: i64 = sqlx::query_scalar("SELECT sum(attempts) FROM runs")
        .fetch_one(&env.state.db)
        .await
        .unwrap();
    assert_eq!(claims, RUNS as i64, "every run was claimed exactly once");

    shutdown.cancel();
    w1.await.unwrap();
    w2.await.unwrap();
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_died_while_compensating_is_finished_by_another() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let id = env.enqueue("undo", vec![json!({})]).await[0];
    {
        // the ghost ran a, b and c, then boom failed for good; it died before compensating
        let mut conn = env.state.db.acquire().await.unwrap();
        assert!(runs::mark_dispatched(&mut conn, id).await.unwrap());
        runs::claim(&mut conn, id, "ghost", Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        for (idx, next) in [(0, "b"), (1, "c"), (3, "boom")] {
            let cp = runs::Checkpoint {
                run_id: id,
                worker: "ghost",
                lease: Duration::from_secs(10),
                steps: &[done(idx, json!({}))],
                progress_done: idx + 1,
                next_step: Some(next),
            };
            assert!(runs::checkpoint(&mut conn, &cp).await.unwrap());
        }
        let failure = runs::StepFailure {
            run_id: id,
            worker: "ghost",
            idx: 4,
            attempts: 1,
            error: &json!({"code": "ghost.failed", "status": 422}),
            step_status: StepStatus::Failed,
            retry_in: None,
            progress_done: 3,
        };
        assert!(
            runs::record_step_failure(&mut conn, &failure)
                .await
                .unwrap()
        );
        sqlx::query(
            "UPDATE runs SET lease_until = now() - interval '1 second',
                             pushed_at = now() - interval '5 seconds' WHERE id = $1",
        )
        .bind(id)
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    let shutdown = CancellationToken::new();
    let workers = env.start_workers("resume", &shutdown);
    let run = env.finished(id).await;
    assert_eq!(run.status.as_str(), "compensated");
    assert_eq!(run.error.as_ref().unwrap()["code"], "ghost.failed");
    assert_eq!(
        statuses(&env.steps(id).await),
        [
            ("a", "compensated", 1),
            ("b", "compensated", 1),
            ("skipped", "skipped", 0),
            ("c", "done", 1),
            ("boom", "failed", 1),
        ]
    );

    shutdown.cancel();
    workers.await.unwrap();
    env.cleanup().await;
}

/// 16 producers, each: one durable acceptance transaction (enqueue) + dispatch, for `secs`.
async fn produce(state: &AppState, kind: &'static str, secs: u64) -> (u64, f64) {
    let start = std::time::Instant::now();
    let stop = start + Duration::from_secs(secs);
    let mut producers = Vec::new();
    for _ in 0..16 {
        let state = state.clone();
        producers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while std::time::Instant::now() < stop {
                let mut tx = state.db.begin().await.unwrap();
                let new = NewRun {
                    tenant_id: TenantId::new(TENANT),
                    kind: kind.into(),
                    subject_id: None,
                    customer_id: None,
                    requested_by: "bench".into(),
                    input: json!({}),
                    correlation_id: None,
                    queue: None,
                };
                let id = jobs::enqueue(&mut tx, &state.workflows, new)
                    .await
                    .unwrap()
                    .id;
                tx.commit().await.unwrap();
                jobs::dispatch(&state.db, &state.queue, &Started::interactive(id)).await;
                n += 1;
            }
            n
        }));
    }
    let mut accepted = 0;
    for p in producers {
        accepted += p.await.unwrap();
    }
    (accepted, start.elapsed().as_secs_f64())
}

/// Not a test: measures pickup latency and end-to-end throughput of 3-step no-op runs
/// (`cargo test --test it bench_engine -- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn bench_engine_noop3() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;

    // acceptance alone (no worker running): the request side's capacity
    let (accepted, secs) = produce(&env.state, "noop3", 5).await;
    eprintln!("acceptance alone: {:.0} runs/s", accepted as f64 / secs);

    let shutdown = CancellationToken::new();
    let start = std::time::Instant::now();
    let w1 = env.start_workers("bench-a", &shutdown);
    let w2 = env.start_workers("bench-b", &shutdown);
    while env.count("succeeded").await < accepted as i64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "workers alone drained {accepted} queued runs at {:.0} runs/s",
        accepted as f64 / start.elapsed().as_secs_f64()
    );

    // pickup latency: commit -> claim, one run at a time on idle workers
    let mut commits = Vec::new();
    for _ in 0..300 {
        let id = env.enqueue("noop3", vec![json!({})]).await[0];
        let committed = chrono::Utc::now();
        jobs::dispatch(&env.state.db, &env.state.queue, &Started::interactive(id)).await;
        commits.push((id, committed));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut lat = Vec::new();
    for (id, committed) in commits {
        let run = env.finished(id).await;
        lat.push(
            (run.started_at.unwrap() - committed)
                .num_microseconds()
                .unwrap() as f64
                / 1000.0,
        );
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    eprintln!(
        "pickup commit->claim ms: p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        lat[lat.len() / 2],
        lat[lat.len() * 9 / 10],
        lat[lat.len() * 99 / 100],
        lat[lat.len() - 1]
    );

    // end to end: producers and workers together for 10 s
    let before: i64 = env.count("succeeded").await;
    let start = std::time::Instant::now();
    let (accepted, accept_secs) = produce(&env.state, "noop3", 10).await;
    while ((env.count("succeeded").await - before) as u64) < accepted {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = start.elapsed().as_secs_f64();
    eprintln!(
        "end to end: accepted {accepted} runs in {accept_secs:.1}s ({:.0}/s); all succeeded after {total:.1}s ({:.0} runs/s)",
        accepted as f64 / accept_secs,
        accepted as f64 / total
    );

    shutdown.cancel();
    w1.await.unwrap();
    w2.await.unwrap();
    env.cleanup().await;
}

/// Each workflow's runs wait in its own queue, and a worker process takes only the queues it
/// is told to: bulk runs stay queued (their triggers waiting in Redis) while a worker of the
/// interactive queue runs every interactive run, and a bulk worker then takes them. A queue
/// no workflow names is refused at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_takes_only_the_queues_it_is_told_to() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    assert_eq!(env.state.queue.queues(), ["bulk", "interactive"]);
    let bulk = env.enqueue("bulk_noop", vec![json!({}); 5]).await;
    let interactive = env.enqueue("noop1", vec![json!({}); 5]).await;
    assert_eq!(env.run(bulk[0]).await.queue, "bulk");
    assert_eq!(env.run(interactive[0]).await.queue, "interactive");
    let shutdown = CancellationToken::new();
    let first = env.start_workers_on("interactive-only", &["interactive"], &shutdown);
    for id in &interactive {
        assert_eq!(env.finished(*id).await.status, runs::RunStatus::Succeeded);
    }
    // the relay of any worker process delivers every queue's triggers
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while env.state.queue.backlog("bulk").await.unwrap() < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "bulk triggers never pushed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for id in &bulk {
        assert_eq!(env.run(*id).await.status, runs::RunStatus::Queued);
    }
    let second = env.start_workers_on("bulk-only", &["bulk"], &shutdown);
    for id in &bulk {
        assert_eq!(env.finished(*id).await.status, runs::RunStatus::Succeeded);
    }
    let typo = WorkerOptions {
        queues: vec!["bulk".into(), "exprots".into()],
        ..Default::default()
    };
    let err = typo.queues_of(&env.state.queue).unwrap_err().to_string();
    assert!(
        err.contains("exprots") && err.contains("interactive"),
        "{err}"
    );
    shutdown.cancel();
    first.await.unwrap();
    second.await.unwrap();
    env.cleanup().await;
}

/// The relay takes triggers out of the outbox before it pushes them; a failed push must put
/// them back (under their own ids, so they keep their place) and unmark the runs'
/// `pushed_at`, so the next pass delivers them.
#[tokio::test]
async fn a_trigger_whose_push_failed_is_unsent_again() {
    use orderdesk::db::outbox;
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let ids = env.enqueue("undo", vec![json!({})]).await;
    let later = env.enqueue("undo", vec![json!({})]).await;
    let mut conn = env.state.db.acquire().await.unwrap();
    let rows = outbox::claim_unsent(&mut conn, &room(1)).await.unwrap();
    let outbox_ids: Vec<i64> = rows.iter().map(|r| r.outbox_id).collect();
    assert_eq!(rows.iter().map(|r| r.run_id).collect::<Vec<_>>(), ids);
    outbox::remove_sent(&mut conn, &outbox_ids, &ids)
        .await
        .unwrap();
    assert_eq!(outbox::count_unsent(&mut conn).await.unwrap(), 1);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE run_id = $1")
        .bind(ids[0].as_uuid())
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    assert_eq!(left, 0, "a sent trigger leaves no row");
    assert!(pushed_at(&mut conn, ids[0]).await.is_some());

    outbox::restore_unsent(&mut conn, &[&rows[0]], &ids)
        .await
        .unwrap();
    assert_eq!(outbox::count_unsent(&mut conn).await.unwrap(), 2);
    assert_eq!(pushed_at(&mut conn, ids[0]).await, None);
    let again = outbox::claim_unsent(&mut conn, &room(10)).await.unwrap();
    assert_eq!(
        again
            .iter()
            .map(|r| (r.outbox_id, r.run_id, r.pushed))
            .collect::<Vec<_>>(),
        [
            (outbox_ids[0], ids[0], false),
            (again[1].outbox_id, later[0], false)
        ],
        "back in its place, ahead of the later trigger"
    );
    drop(conn);
    env.cleanup().await;
}

/// The room the relay may fill: `n` triggers of the default queue.
fn room(n: usize) -> Vec<(String, usize)> {
    vec![(DEFAULT_QUEUE.to_string(), n)]
}

/// The relay reads only the queues that have room, each up to its own room, oldest first. A
/// trigger written without its queue (by an api of an earlier release, during a rolling
/// upgrade) is found through its run, left while its run's queue is full, and put back with
/// its queue when its push fails.
#[tokio::test]
async fn the_relay_claims_the_triggers_of_each_queue_with_room_up_to_its_room() {
    use orderdesk::db::outbox;
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let interactive = env.enqueue("noop1", vec![json!({}); 3]).await;
    let bulk = env.enqueue("bulk_noop", vec![json!({}); 2]).await;
    let mut conn = env.state.db.acquire().await.unwrap();
    let without_queue = [interactive[2], bulk[1]];
    sqlx::query("UPDATE outbox SET queue = NULL WHERE run_id = ANY($1)")
        .bind(without_queue.map(|id| id.as_uuid()))
        .execute(&mut *conn)
        .await
        .unwrap();
    let claimed = |rows: Vec<outbox::Unsent>| {
        let mut runs: Vec<(RunId, Option<String>)> =
            rows.into_iter().map(|r| (r.run_id, r.queue)).collect();
        runs.sort();
        runs
    };
    let queued = |id: RunId, queue: &str| (id, Some(queue.to_string()));

    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    let bulk_full = outbox::claim_unsent(&mut tx, &room(1)).await.unwrap();
    let mut expected = vec![
        queued(interactive[0], DEFAULT_QUEUE),
        queued(interactive[2], DEFAULT_QUEUE),
    ];
    expected.sort();
    assert_eq!(
        claimed(bulk_full),
        expected,
        "the oldest of the queue with room, and one without its queue found through its run"
    );
    tx.rollback().await.unwrap();
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    assert!(outbox::claim_unsent(&mut tx, &[]).await.unwrap().is_empty());
    tx.rollback().await.unwrap();

    let rooms = [(DEFAULT_QUEUE.to_string(), 10), ("bulk".to_string(), 10)];
    let all = outbox::claim_unsent(&mut conn, &rooms).await.unwrap();
    let mut expected: Vec<_> = interactive
        .iter()
        .map(|id| queued(*id, DEFAULT_QUEUE))
        .chain(bulk.iter().map(|id| queued(*id, "bulk")))
        .collect();
    expected.sort();
    let ids: Vec<i64> = all.iter().map(|r| r.outbox_id).collect();
    let legacy: Vec<&outbox::Unsent> = all
        .iter()
        .filter(|r| without_queue.contains(&r.run_id))
        .collect();
    outbox::remove_sent(&mut conn, &ids, &[]).await.unwrap();
    outbox::restore_unsent(&mut conn, &legacy, &[])
        .await
        .unwrap();
    assert_eq!(claimed(all), expected);
    let mut restored: Vec<(uuid::Uuid, Option<String>)> =
        sqlx::query_as("SELECT run_id, queue FROM outbox WHERE kind = 'trigger'")
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    restored.sort();
    let mut expected = vec![
        (interactive[2].as_uuid(), Some(DEFAULT_QUEUE.to_string())),
        (bulk[1].as_uuid(), Some("bulk".to_string())),
    ];
    expected.sort();
    assert_eq!(restored, expected, "put back with their run's queue");
    drop(conn);
    env.cleanup().await;
}

/// A run a worker has taken needs no trigger: the relay only marks its outbox row sent, and
/// `dispatch`'s late mark leaves it alone (whoever pushed the trigger that reached the
/// worker, the relay would otherwise push it again). Queued again, it is the sweeper's.
#[tokio::test]
async fn the_relay_does_not_push_a_run_a_worker_has_taken() {
    use orderdesk::db::outbox;
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let ids = env.enqueue("noop1", vec![json!({}), json!({})]).await;
    let mut conn = env.state.db.acquire().await.unwrap();
    let taken = ids[1];
    runs::claim(&mut conn, taken, "worker", Duration::from_secs(10))
        .await
        .unwrap()
        .unwrap();
    assert!(!runs::mark_dispatched(&mut conn, taken).await.unwrap());
    let mut unsent: Vec<(RunId, bool)> = outbox::claim_unsent(&mut conn, &room(10))
        .await
        .unwrap()
        .iter()
        .map(|r| (r.run_id, r.pushed))
        .collect();
    unsent.sort();
    assert_eq!(unsent, [(ids[0], false), (taken, true)]);
    assert!(runs::mark_dispatched(&mut conn, ids[0]).await.unwrap());
    assert!(
        !runs::mark_dispatched(&mut conn, ids[0]).await.unwrap(),
        "once"
    );
    // the claim recorded that a trigger reached the run: handed back (or released for a
    // retry), it is the sweeper's to push again, not a run nobody would ever push
    assert!(pushed_at(&mut conn, taken).await.is_some());
    assert_eq!(
        runs::hand_back(&mut conn, &["worker"], Some(taken))
            .await
            .unwrap(),
        1
    );
    let due = runs::due_for_push(&mut conn, Duration::from_secs(20), 10, &[])
        .await
        .unwrap();
    assert_eq!(due, [(taken, DEFAULT_QUEUE.to_string())]);
    drop(conn);
    env.cleanup().await;
}

/// A queue whose backlog is at its cap takes no trigger (apalis' fetch fails past ~8,000 due
/// ids): the push holds it back, `dispatch` leaves the run to the relay (not marked pushed),
/// and once the queue drains the trigger goes through.
#[tokio::test]
async fn a_full_queue_holds_triggers_back_for_the_relay() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let ids = env.enqueue("noop1", vec![json!({})]).await;
    let queue = &env.state.queue;
    let scheduled = queue.apalis_config(DEFAULT_QUEUE).scheduled_jobs_set();
    let mut redis = queue.connection();
    let filler: Vec<(u64, String)> = (0..jobs::MAX_BACKLOG)
        .map(|i| (0, format!("filler{i}")))
        .collect();
    let _: i64 = redis::AsyncCommands::zadd_multiple(&mut redis, &scheduled, &filler)
        .await
        .unwrap();

    let held_back = queue
        .push(&[(ids[0], DEFAULT_QUEUE.to_string())])
        .await
        .unwrap();
    assert_eq!(held_back, ids);
    jobs::dispatch(&env.state.db, queue, &Started::interactive(ids[0])).await;
    assert_eq!(
        queue.backlog(DEFAULT_QUEUE).await.unwrap(),
        jobs::MAX_BACKLOG
    );
    let mut conn = env.state.db.acquire().await.unwrap();
    assert_eq!(
        pushed_at(&mut conn, ids[0]).await,
        None,
        "left to the relay"
    );

    let _: i64 = redis::AsyncCommands::zrem(&mut redis, &scheduled, "filler0")
        .await
        .unwrap();
    jobs::dispatch(&env.state.db, queue, &Started::interactive(ids[0])).await;
    assert!(pushed_at(&mut conn, ids[0]).await.is_some());
    assert_eq!(
        queue.backlog(DEFAULT_QUEUE).await.unwrap(),
        jobs::MAX_BACKLOG
    );
    drop(conn);
    env.cleanup().await;
}

/// `dispatch` marks a run pushed only once its trigger is in Redis. Marked while the push was
/// still under way, a relay pass in between took the mark for a delivery and marked the
/// outbox row sent; the push then failed (here: Redis paused past the dispatch's timeout;
/// in bench (f): a full queue), the mark was undone, and the run waited for a trigger
/// nobody would deliver (neither the relay, its row sent, nor the sweeper, which leaves
/// never-pushed runs to the outbox).
#[tokio::test]
async fn a_relay_pass_during_a_dispatch_that_fails_still_delivers_the_trigger() {
    use orderdesk::db::outbox;
    let port = free_port();
    let redis = OwnRedis::start(port);
    let env = TestEnv::new(&redis.url()).await;
    let run = env.accept("noop1").await;
    // every command waits until the pause ends, long after the dispatch gave up
    let paused = std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string(), "CLIENT", "PAUSE", "3000", "ALL"])
        .output()
        .unwrap();
    assert!(paused.status.success(), "{paused:?}");
    let dispatching = {
        let (db, queue, run) = (env.state.db.clone(), env.state.queue.clone(), run.clone());
        tokio::spawn(async move { jobs::dispatch(&db, &queue, &run).await })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut conn = env.state.db.acquire().await.unwrap();
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    let unsent = outbox::claim_unsent(&mut tx, &room(10)).await.unwrap();
    assert_eq!(
        unsent
            .iter()
            .map(|r| (r.run_id, r.pushed))
            .collect::<Vec<_>>(),
        [(run.id, false)],
        "a relay pass while the push is under way pushes the trigger itself"
    );
    tx.rollback().await.unwrap();
    dispatching.await.unwrap();
    assert_eq!(
        pushed_at(&mut conn, run.id).await,
        None,
        "not pushed: not marked"
    );
    assert_eq!(
        outbox::count_unsent(&mut conn).await.unwrap(),
        1,
        "left to the relay"
    );
    drop(conn);
    env.cleanup().await;
    redis.stop();
}

/// A tenant's fresh triggers go to the queue's fresh list, in order — past a full queue of
/// another tenant's waiting ones, which would hold a trigger behind back — until it has
/// put `AHEAD_PER_SEC` ahead within a second; then they queue behind (here: held back, the
/// queue is full). Catch-up pushes (`Lane::Behind`) never go ahead, nor anything once the
/// fresh list holds the cap.
#[tokio::test]
async fn a_tenants_fresh_triggers_go_ahead_of_the_waiting_ones_up_to_a_rate() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let n = jobs::AHEAD_PER_SEC as usize;
    let ids = env.enqueue("noop1", vec![json!({}); n + 2]).await;
    let queue = &env.state.queue;
    let cfg = queue.apalis_config(DEFAULT_QUEUE);
    let mut redis = queue.connection();
    let filler: Vec<(u64, String)> = (0..jobs::MAX_BACKLOG)
        .map(|i| (0, format!("filler{i}")))
        .collect();
    let _: i64 = redis::AsyncCommands::zadd_multiple(&mut redis, cfg.scheduled_jobs_set(), &filler)
        .await
        .unwrap();
    let one = |id: RunId| [(id, DEFAULT_QUEUE.to_string())];

    let behind = queue.push_in(&one(ids[0]), Lane::Behind).await.unwrap();
    assert_eq!(behind, [ids[0]], "a catch-up push waits for room");
    let light = TenantId::new("tenant_light");
    // in one call, so that the second's window cannot end in between
    let fresh: Vec<(RunId, String)> = ids[1..=n]
        .iter()
        .map(|&id| (id, DEFAULT_QUEUE.to_string()))
        .collect();
    let held = queue.push_in(&fresh, Lane::Fresh(&light)).await.unwrap();
    assert!(held.is_empty(), "pushed ahead despite the full queue");
    let past_rate = queue
        .push_in(&one(ids[n + 1]), Lane::Fresh(&light))
        .await
        .unwrap();
    assert_eq!(
        past_rate,
        [ids[n + 1]],
        "past the rate it queues behind: held back"
    );

    let fresh_list = queue
        .apalis_config_of(DEFAULT_QUEUE, List::Fresh)
        .active_jobs_list();
    let ready: Vec<String> = redis::AsyncCommands::lrange(&mut redis, &fresh_list, 0, -1)
        .await
        .unwrap();
    let run_of = |task: &String| task.split('.').next().unwrap().to_string();
    let expected: Vec<String> = ids[1..=n]
        .iter()
        .map(|id| id.as_uuid().simple().to_string())
        .collect();
    assert_eq!(
        ready.iter().map(run_of).collect::<Vec<_>>(),
        expected,
        "in the fresh list, in order"
    );
    let waiting_ready: u64 = redis::AsyncCommands::llen(&mut redis, cfg.active_jobs_list())
        .await
        .unwrap();
    assert_eq!(waiting_ready, 0, "none in the waiting list");
    let depth = queue.depths().await.unwrap()[DEFAULT_QUEUE];
    let expected_depth = jobs::Depth {
        waiting: jobs::MAX_BACKLOG,
        fresh: n as u64,
    };
    assert_eq!(
        depth, expected_depth,
        "the metric's depth counts both lists"
    );
    let scheduled: u64 = redis::AsyncCommands::zcard(&mut redis, cfg.scheduled_jobs_set())
        .await
        .unwrap();
    assert_eq!(scheduled, jobs::MAX_BACKLOG, "nothing was added behind");

    // another tenant has its own allowance; the API's dispatch of a run it accepted uses it
    let accepted = Started {
        id: ids[0],
        queue: DEFAULT_QUEUE.to_string(),
        tenant_id: Some(TenantId::new("tenant_other")),
    };
    jobs::dispatch(&env.state.db, queue, &accepted).await;
    let mut conn = env.state.db.acquire().await.unwrap();
    assert!(pushed_at(&mut conn, ids[0]).await.is_some(), "pushed ahead");
    drop(conn);

    // a fresh list at the cap takes nothing ahead: it cannot grow without bound
    let crowd: Vec<String> = (0..jobs::MAX_BACKLOG)
        .map(|i| format!("crowd{i}"))
        .collect();
    let _: i64 = redis::AsyncCommands::rpush(&mut redis, &fresh_list, &crowd)
        .await
        .unwrap();
    let late = TenantId::new("tenant_late");
    let held = queue
        .push_in(&one(ids[1]), Lane::Fresh(&late))
        .await
        .unwrap();
    assert_eq!(
        held,
        [ids[1]],
        "held back: nothing ahead into a full fresh list"
    );
    env.cleanup().await;
}

/// A fresh trigger (a run the API just accepted) starts in the next slot a run of its queue
/// frees, not behind the triggers the worker already fetched from the waiting list; and a
/// worker at a concurrency of 1 still runs both lists (an idle list's worker holds no slot).
#[tokio::test]
async fn a_fresh_run_takes_the_next_free_slot_before_the_fetched_waiting_ones() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    // two slots: runs 1 and 2 start; 1 ends soon, and the worker fetches 3 and 4 together
    // (it fetches as many as it has slots): 3 runs, 4 waits fetched for the next slot
    let sleeps = [100, 1_000, 1_000, 1_000, 100, 100];
    let inputs = sleeps.iter().map(|ms| json!({ "sleep_ms": ms })).collect();
    let slow = env.enqueue("sleep1", inputs).await;
    let shutdown = CancellationToken::new();
    let worker = env.start_workers_with("two-slots", &[], 2, &shutdown);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while env.count("succeeded").await < 1 || env.count("running").await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "runs 2 and 3 never ran"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let fresh = env.accept("noop1").await;
    jobs::dispatch(&env.state.db, &env.state.queue, &fresh).await;
    let fresh_started = env.finished(fresh.id).await.started_at.unwrap();
    let mut slow_started = Vec::new();
    for id in &slow {
        let run = env.finished(*id).await;
        assert_eq!(run.status, runs::RunStatus::Succeeded);
        slow_started.push(run.started_at.unwrap());
    }
    let before = slow_started.iter().filter(|t| **t < fresh_started).count();
    assert_eq!(
        before, 3,
        "runs 1 to 3, not run 4 fetched before it: {slow_started:?}"
    );
    shutdown.cancel();
    worker.await.unwrap();

    let shutdown = CancellationToken::new();
    let one_slot = env.start_workers_with("one-slot", &[], 1, &shutdown);
    let fresh = env.accept("noop1").await;
    jobs::dispatch(&env.state.db, &env.state.queue, &fresh).await;
    assert_eq!(
        env.finished(fresh.id).await.status,
        runs::RunStatus::Succeeded
    );
    let waiting = env.enqueue("noop1", vec![json!({})]).await[0];
    assert_eq!(
        env.finished(waiting).await.status,
        runs::RunStatus::Succeeded
    );
    let fresh = env.accept("noop1").await;
    jobs::dispatch(&env.state.db, &env.state.queue, &fresh).await;
    assert_eq!(
        env.finished(fresh.id).await.status,
        runs::RunStatus::Succeeded
    );
    shutdown.cancel();
    one_slot.await.unwrap();
    env.cleanup().await;
}

/// An acceptance whose caller dispatches it does not NOTIFY (PostgreSQL serializes the
/// commits of transactions that do); `dispatch` wakes the relay itself when its push fails,
/// and a run left to the relay is announced at its commit.
#[tokio::test]
async fn only_triggers_left_to_the_relay_wake_it() {
    use orderdesk::db::outbox;
    use tokio::time::timeout;
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&env.state.db)
        .await
        .unwrap();
    listener.listen(outbox::CHANNEL).await.unwrap();
    let pushed = env.accept("undo").await;
    jobs::dispatch(&env.state.db, &env.state.queue, &pushed).await;
    let mut conn = env.state.db.acquire().await.unwrap();
    assert!(pushed_at(&mut conn, pushed.id).await.is_some());
    let quiet = timeout(Duration::from_millis(300), listener.recv()).await;
    assert!(quiet.is_err(), "a dispatched run woke the relay: {quiet:?}");

    env.enqueue("undo", vec![json!({})]).await;
    let woken = timeout(Duration::from_secs(5), listener.recv()).await;
    assert_eq!(woken.unwrap().unwrap().channel(), outbox::CHANNEL);

    let port = free_port();
    let gone = OwnRedis::start(port);
    let manager = redis::Client::open(gone.url())
        .unwrap()
        .get_connection_manager()
        .await
        .unwrap();
    let unreachable = TriggerQueue::new(&env.state.config, manager, env.state.workflows.queues());
    gone.stop();
    let unpushed = env.accept("undo").await;
    jobs::dispatch(&env.state.db, &unreachable, &unpushed).await;
    assert_eq!(pushed_at(&mut conn, unpushed.id).await, None);
    let woken = timeout(Duration::from_secs(5), listener.recv()).await;
    assert_eq!(woken.unwrap().unwrap().channel(), outbox::CHANNEL);
    // the listener holds a connection of the pool, and closing the pool waits for every one
    drop((conn, listener));
    env.cleanup().await;
}

async fn pushed_at(
    conn: &mut sqlx::PgConnection,
    id: RunId,
) -> Option<chrono::DateTime<chrono::Utc>> {
    sqlx::query_scalar("SELECT pushed_at FROM runs WHERE id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
        .unwrap()
}

/// The batched statements keep each run's fencing: a claim takes only a claimable run, and
/// once per batch; an end is written only by the run's lease holder, with its steps, the
/// audit record and the closing of its request.
#[tokio::test]
async fn batched_claims_and_ends_fence_each_run() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let ids = env
        .enqueue("noop1", vec![json!({}), json!({}), json!({})])
        .await;
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let lease = Duration::from_secs(10);
    let mut conn = env.state.db.acquire().await.unwrap();
    // c is held by a live worker already
    assert!(
        runs::claim(&mut conn, c, "w0", lease)
            .await
            .unwrap()
            .is_some()
    );
    let claimed = runs::claim_many(
        &mut conn,
        &[(a, "w1"), (b, "w1"), (a, "w2"), (c, "w1")],
        lease,
    )
    .await
    .unwrap();
    // a is asked for by two workers: Postgres updates its row once, from either request
    let a_holder = claimed
        .iter()
        .find(|(r, _)| r.id == a)
        .and_then(|(r, _)| r.lease_owner.clone());
    assert!(
        matches!(a_holder.as_deref(), Some("w1" | "w2")),
        "{a_holder:?}"
    );
    let mut got: Vec<(RunId, Option<String>, usize)> = claimed
        .iter()
        .map(|(r, s)| (r.id, r.lease_owner.clone(), s.len()))
        .collect();
    got.sort();
    let mut want = vec![(a, a_holder.clone(), 1), (b, Some("w1".to_string()), 1)];
    want.sort();
    assert_eq!(got, want, "a once, b, and not c");
    assert_eq!(env.run(a).await.attempts, 1);

    let end = |id: RunId, worker: &str| runs::RunEnd {
        run_id: id,
        worker: worker.into(),
        status: runs::RunStatus::Succeeded,
        result: Some(json!({"ok": true})),
        error: None,
        steps: vec![done(0, json!({"result": {"ok": true}}))],
        step_names: vec!["only".into()],
        progress_done: Some(1),
    };
    // b's end comes from a worker that does not hold it: nothing of it is written
    let a_holder = a_holder.unwrap();
    let ended = runs::end_many(&mut conn, &[end(a, &a_holder), end(b, "w9")])
        .await
        .unwrap();
    assert_eq!(ended, vec![a]);
    drop(conn);
    let run = env.run(a).await;
    assert_eq!(run.status.as_str(), "succeeded");
    assert_eq!(run.result, Some(json!({"ok": true})));
    assert_eq!((run.progress_done, run.lease_owner), (1, None));
    assert_eq!(statuses(&env.steps(a).await), [("only", "done", 1)]);
    let run = env.run(b).await;
    assert_eq!(
        (run.status.as_str(), run.lease_owner.as_deref()),
        ("running", Some("w1"))
    );
    assert_eq!(statuses(&env.steps(b).await), [("only", "pending", 0)]);
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM audit_log WHERE subject_type = 'job' AND subject_id = ANY($1)",
    )
    .bind(vec![a.to_string(), b.to_string()])
    .fetch_all(&env.state.db)
    .await
    .unwrap();
    assert_eq!(audited, ["job.noop1.succeeded"], "only a's end is audited");
    env.cleanup().await;
}

/// An end that marks every step of a run done writes its steps whole, and they are what the
/// same end patching each step writes; an end without all of them (a step done before),
/// or whose names are not the run's count of steps, patches or is refused as before.
#[tokio::test]
async fn an_end_of_every_step_writes_what_patching_each_writes() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let ids = env
        .enqueue("noop3", vec![json!({}), json!({}), json!({}), json!({})])
        .await;
    let lease = Duration::from_secs(10);
    let mut conn = env.state.db.acquire().await.unwrap();
    let claims: Vec<(RunId, &str)> = ids.iter().map(|id| (*id, "w1")).collect();
    assert_eq!(
        runs::claim_many(&mut conn, &claims, lease)
            .await
            .unwrap()
            .len(),
        4
    );
    let names: Vec<String> = ["one", "two", "three"].map(String::from).to_vec();
    let steps: Vec<runs::StepDone> = (0..3).map(|i| done(i, json!({"i": i}))).collect();
    let end = |id: RunId, steps: Vec<runs::StepDone>, names: Vec<String>| runs::RunEnd {
        run_id: id,
        worker: "w1".into(),
        status: runs::RunStatus::Succeeded,
        result: None,
        error: None,
        steps,
        step_names: names,
        progress_done: Some(3),
    };
    // run 0 whole, run 1 patched, run 2 with its first step checkpointed before
    let first = runs::Checkpoint {
        run_id: ids[2],
        worker: "w1",
        lease,
        steps: &steps[..1],
        progress_done: 1,
        next_step: Some("two"),
    };
    assert!(runs::checkpoint(&mut conn, &first).await.unwrap());
    // the patch function's calls in a transaction tell which way each end went
    let mut tx = sqlx::Acquire::begin(&mut *conn).await.unwrap();
    sqlx::query("SET LOCAL track_functions = 'pl'")
        .execute(&mut *tx)
        .await
        .unwrap();
    let patch_calls = || {
        sqlx::query_scalar::<_, i64>(
            "SELECT coalesce(pg_stat_get_xact_function_calls('orderdesk_steps_patched'::regproc), 0)",
        )
    };
    let ended = runs::end_many(&mut tx, &[end(ids[0], steps.clone(), names.clone())])
        .await
        .unwrap();
    assert_eq!(ended, [ids[0]]);
    assert_eq!(patch_calls().fetch_one(&mut *tx).await.unwrap(), 0, "whole");
    let ended = runs::end_many(
        &mut tx,
        &[
            end(ids[1], steps.clone(), vec![]),
            end(ids[2], steps[1..].to_vec(), names.clone()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(ended.len(), 2);
    assert_eq!(
        patch_calls().fetch_one(&mut *tx).await.unwrap(),
        2,
        "patched"
    );
    tx.commit().await.unwrap();
    let stored =
        |id: RunId| sqlx::query_scalar::<_, Value>("SELECT steps FROM runs WHERE id = $1").bind(id);
    let whole = stored(ids[0]).fetch_one(&mut *conn).await.unwrap();
    let patched = stored(ids[1]).fetch_one(&mut *conn).await.unwrap();
    let in_two = stored(ids[2]).fetch_one(&mut *conn).await.unwrap();
    assert_eq!(whole, patched);
    assert_eq!(whole, in_two);
    assert_eq!(whole[2]["name"], "three");
    assert_eq!(whole[2]["output"], json!({"i": 2}));
    assert_eq!(whole[2]["status"], "done");
    // names of another count than the run's steps: refused, nothing of the end written
    let four: Vec<String> = ["one", "two", "three", "four"].map(String::from).to_vec();
    let mut more = steps.clone();
    more.push(done(3, json!({})));
    let refused = runs::end_many(&mut conn, &[end(ids[3], more, four)])
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("\"steps\""), "{refused}");
    drop(conn);
    assert_eq!(env.run(ids[3]).await.status.as_str(), "running");
    env.cleanup().await;
}

/// A checkpoint names its steps by index in the run's `steps`: one the run does not have is
/// refused whole (no step of it written), never dropped silently, and a good one writes the
/// step's output, attempts, duration and times (in microseconds) in place.
#[tokio::test]
async fn a_checkpoint_of_a_step_the_run_lacks_is_refused_whole() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let id = env.enqueue("noop1", vec![json!({})]).await[0];
    let lease = Duration::from_secs(10);
    let mut conn = env.state.db.acquire().await.unwrap();
    assert!(
        runs::claim(&mut conn, id, "w1", lease)
            .await
            .unwrap()
            .is_some()
    );
    let checkpoint = |steps| runs::Checkpoint {
        run_id: id,
        worker: "w1",
        lease,
        steps,
        progress_done: 1,
        next_step: None,
    };
    let bad = [
        done(0, json!({"result": {}})),
        done(3, json!({"result": {}})),
    ];
    let refused = runs::checkpoint(&mut conn, &checkpoint(&bad)).await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(statuses(&env.steps(id).await), [("only", "pending", 0)]);
    let good = [done(0, json!({"result": {"n": 1}}))];
    assert!(
        runs::checkpoint(&mut conn, &checkpoint(&good))
            .await
            .unwrap()
    );
    drop(conn);
    let steps = env.steps(id).await;
    assert_eq!(statuses(&steps), [("only", "done", 1)]);
    assert_eq!(steps[0].output, Some(json!({"result": {"n": 1}})));
    assert!(steps[0].duration_ms.is_some());
    let finished = steps[0].finished_at.expect("the step's end time");
    assert_eq!(
        finished.timestamp_subsec_nanos() % 1_000,
        0,
        "microseconds, as every time PostgreSQL keeps: {finished}"
    );
    assert_eq!(env.run(id).await.progress_done, 1);
    env.cleanup().await;
}

/// The batch statements' plans are made once per connection (generic plans), often while
/// `runs` is empty or holds no queued run: they must still reach their rows by key, never
/// by reading every queued run (`runs_due`), which made each claim and end cost the whole
/// backlog.
#[tokio::test]
async fn batch_statements_planned_on_empty_tables_find_their_rows_by_key() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let keyed = orderdesk::db::keyed_lookup_pool(&env.state.db, 1);
    let mut conn = keyed.acquire().await.unwrap();
    // the relay's claim, planned over tables never analyzed (a new database), and again over
    // one queue's backlog analyzed: it reads each queue's unsent triggers through the index by
    // queue, in key order, and stops at the room. A plan that gathers them all first (a
    // bitmap scan, then a sort), or walks the primary key and filters on the queue, read
    // bench (d)'s backlog of 20,000 on every pass, even for the queues that had none
    let claim = "FROM outbox o LEFT JOIN runs";
    assert!(
        orderdesk::db::outbox::claim_unsent(&mut conn, &room(500))
            .await
            .unwrap()
            .is_empty()
    );
    if let Err(why) = outbox_read_by_queue(&prepared_plan(&mut conn, claim).await) {
        panic!("planned on empty tables: {why}");
    }
    env.enqueue("bulk_noop", vec![json!({}); 2_000]).await;
    sqlx::query("ANALYZE outbox")
        .execute(&mut *conn)
        .await
        .unwrap();
    // statistics changed: the statement is planned again on its next use
    if let Err(why) = outbox_read_by_queue(&prepared_plan(&mut conn, claim).await) {
        panic!("planned over a backlog: {why}");
    }
    // statistics that say "empty", as an ANALYZE of a new database leaves them (autovacuum
    // does not analyze a table nobody wrote to, but an operator's ANALYZE does)
    sqlx::query("ANALYZE runs")
        .execute(&mut *conn)
        .await
        .unwrap();
    let nobody = RunId::now_v7();
    let lease = Duration::from_secs(10);
    let claimed = runs::claim_many(&mut conn, &[(nobody, "w1")], lease)
        .await
        .unwrap();
    assert!(claimed.is_empty());
    let end = runs::RunEnd {
        run_id: nobody,
        worker: "w1".into(),
        status: runs::RunStatus::Succeeded,
        result: None,
        error: None,
        steps: vec![done(0, json!({}))],
        step_names: vec![],
        progress_done: Some(1),
    };
    assert!(runs::end_many(&mut conn, &[end]).await.unwrap().is_empty());
    for statement in [
        "UPDATE runs SET status = ''running''",
        "UPDATE runs SET status = e.status",
    ] {
        let plan = prepared_plan(&mut conn, statement).await;
        if let Err(why) = keyed_scans(&plan) {
            panic!("{statement}: {why}\n{plan:#}");
        }
    }
    drop(conn);
    keyed.close().await;
    env.cleanup().await;
}

/// The generic plan of the statement prepared on `conn` whose text contains `statement`
/// (quotes doubled), run with every parameter NULL.
async fn prepared_plan(conn: &mut sqlx::PgConnection, statement: &str) -> Value {
    let (name, args): (String, i32) = sqlx::query_as(&format!(
        "SELECT name, coalesce(array_length(parameter_types, 1), 0) FROM pg_prepared_statements
         WHERE statement LIKE '%{statement}%' AND statement NOT LIKE '%pg_prepared_statements%'"
    ))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let nulls = vec!["NULL"; args as usize].join(", ");
    let plan: Value = sqlx::query_scalar(&format!("EXPLAIN (FORMAT JSON) EXECUTE {name}({nulls})"))
        .fetch_one(&mut *conn)
        .await
        .unwrap();
    plan[0]["Plan"].clone()
}

/// Every read of `outbox` in `plan` is a keyed look in its index of unsent triggers by
/// queue, and nothing is sorted or gathered in a bitmap.
fn outbox_read_by_queue(plan: &Value) -> Result<(), String> {
    let node = plan["Node Type"].as_str().unwrap_or_default();
    if node == "Sort" || node.contains("Bitmap") {
        return Err(format!("a {node}\n{plan:#}"));
    }
    if plan["Relation Name"] == "outbox"
        && (plan["Index Name"] != "outbox_triggers_unsent_by_queue"
            || plan.get("Index Cond").is_none())
    {
        return Err(format!("outbox read by {node}\n{plan:#}"));
    }
    for child in plan["Plans"].as_array().into_iter().flatten() {
        outbox_read_by_queue(child)?;
    }
    Ok(())
}

/// Every scan of `runs` in `plan` goes through an index key, and none
/// through `runs_due`.
fn keyed_scans(plan: &Value) -> Result<(), String> {
    let relation = plan["Relation Name"].as_str().unwrap_or_default();
    let index = plan["Index Name"].as_str().unwrap_or_default();
    let node = plan["Node Type"].as_str().unwrap_or_default();
    let ours = relation == "runs" || index.starts_with("run");
    if ours && node == "Seq Scan" {
        return Err(format!("a sequential scan of {relation}"));
    }
    if index == "runs_due" {
        return Err("a scan of runs_due".into());
    }
    if ours && node.contains("Index") && plan.get("Index Cond").is_none() {
        return Err(format!("{index} read whole"));
    }
    for child in plan["Plans"].as_array().into_iter().flatten() {
        keyed_scans(child)?;
    }
    Ok(())
}

/// A batch whose statement fails is written again run by run: the bad run fails alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_end_in_a_batch_fails_alone() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let ids = env.enqueue("noop1", vec![json!({}), json!({})]).await;
    let ctx = env.state.worker_ctx();
    let lease = Duration::from_secs(10);
    for &id in &ids {
        let claimed = ctx.batches.claim(&ctx.db, id, "w1", lease).await.unwrap();
        assert!(claimed.is_some());
    }
    let end = |id: RunId, result: Value| runs::RunEnd {
        run_id: id,
        worker: "w1".into(),
        status: runs::RunStatus::Succeeded,
        result: Some(result),
        error: None,
        steps: vec![],
        step_names: vec![],
        progress_done: None,
    };
    // Postgres' jsonb refuses \u0000: the statement carrying it fails
    let (good, bad) = tokio::join!(
        ctx.batches.end(&ctx.db, end(ids[0], json!({"ok": true}))),
        ctx.batches
            .end(&ctx.db, end(ids[1], json!({"bad": "\u{0}"}))),
    );
    assert!(good.unwrap());
    assert!(bad.is_err());
    assert_eq!(env.run(ids[0]).await.status.as_str(), "succeeded");
    assert_eq!(env.run(ids[1]).await.status.as_str(), "running");
    drop(ctx);
    env.cleanup().await;
}

/// Two deliveries of one run, asked for at once by two workers of a process: one claim, and it
/// goes to the request of the worker that holds the run (whichever Postgres picked).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_asked_for_twice_in_a_batch_is_claimed_by_one_request() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let ids = env.enqueue("noop1", vec![json!({})]).await;
    let ctx = env.state.worker_ctx();
    let lease = Duration::from_secs(10);
    let (one, two) = tokio::join!(
        ctx.batches.claim(&ctx.db, ids[0], "w1", lease),
        ctx.batches.claim(&ctx.db, ids[0], "w2", lease),
    );
    let answers = [("w1", one.unwrap()), ("w2", two.unwrap())];
    let claimed: Vec<_> = answers
        .iter()
        .filter_map(|(w, c)| c.as_ref().map(|(run, _)| (*w, run.lease_owner.clone())))
        .collect();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    let (asker, holder) = &claimed[0];
    assert_eq!(holder.as_deref(), Some(*asker));
    assert_eq!(env.run(ids[0]).await.attempts, 1);
    drop(ctx);
    env.cleanup().await;
}

/// `jobs::enqueue_many` writes each run as `jobs::enqueue` writes one (steps, skipped
/// steps, queue, tenant, who and what), with a trigger each, in one statement; a batch naming
/// an unknown workflow is refused whole; the runs it accepted all run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_accepted_together_are_written_as_one_at_a_time_and_all_run() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let detailed = |kind: &str| NewRun {
        subject_id: Some("ord_1".into()),
        customer_id: Some(orderdesk::domain::ids::CustomerId::new("cus_1")),
        correlation_id: Some("corr-1".into()),
        ..new_run(kind, json!({"n": 1}))
    };
    let mut elsewhere = new_run("noop1", json!({}));
    elsewhere.tenant_id = TenantId::new("t2");
    let mut in_bulk = new_run("noop1", json!({}));
    in_bulk.queue = Some("bulk".into());
    let batch = vec![detailed("undo"), detailed("noop3"), elsewhere, in_bulk];

    let unknown = [new_run("noop3", json!({})), new_run("nope", json!({}))];
    let mut tx = env.state.db.begin().await.unwrap();
    let err = jobs::enqueue_many(&mut tx, &env.state.workflows, &unknown)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "workflow.unknown");
    drop(tx);
    let mut tx = env.state.db.begin().await.unwrap();
    let none = jobs::enqueue_many(&mut tx, &env.state.workflows, &[])
        .await
        .unwrap();
    assert!(none.is_empty());
    drop(tx);
    assert_eq!(env.count("queued").await, 0, "nothing of a refused batch");

    let mut tx = env.state.db.begin().await.unwrap();
    let started = jobs::enqueue_many(&mut tx, &env.state.workflows, &batch)
        .await
        .unwrap();
    let one_by_one = [
        jobs::enqueue(&mut tx, &env.state.workflows, detailed("undo"))
            .await
            .unwrap(),
        jobs::enqueue(&mut tx, &env.state.workflows, detailed("noop3"))
            .await
            .unwrap(),
    ];
    tx.commit().await.unwrap();

    let queues: Vec<(&str, Option<&str>)> = started
        .iter()
        .map(|s| (s.queue.as_str(), s.tenant_id.as_ref().map(|t| t.as_str())))
        .collect();
    assert_eq!(
        queues,
        [
            (DEFAULT_QUEUE, Some(TENANT)),
            (DEFAULT_QUEUE, Some(TENANT)),
            (DEFAULT_QUEUE, Some("t2")),
            ("bulk", Some(TENANT))
        ]
    );
    let written = |run: &RunRow| {
        (
            run.kind.clone(),
            run.subject_id.clone(),
            run.customer_id.clone(),
            run.requested_by.clone(),
            run.input.clone(),
            run.status,
            (run.progress_done, run.progress_total),
            run.current_step.clone(),
            run.correlation_id.clone(),
            run.queue.clone(),
            run.attempts,
        )
    };
    for (together, alone) in started.iter().zip(&one_by_one) {
        let run = env.run(together.id).await;
        assert_eq!(written(&run), written(alone));
        let steps = |rows: Vec<StepRow>| {
            rows.into_iter()
                .map(|s| (s.name, s.status, s.attempts, s.output, s.started_at))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            steps(env.steps(together.id).await),
            steps(env.steps(alone.id).await)
        );
    }
    assert_eq!(
        statuses(&env.steps(started[0].id).await)[2],
        ("skipped", "skipped", 0)
    );
    let triggers: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE kind = 'trigger' AND sent_at IS NULL AND run_id = ANY($1)",
    )
    .bind(started.iter().map(|s| s.id.as_uuid()).collect::<Vec<_>>())
    .fetch_one(&env.state.db)
    .await
    .unwrap();
    assert_eq!(triggers, 4, "a trigger each, left to the relay");

    let shutdown = CancellationToken::new();
    let workers = env.start_workers("many", &shutdown);
    assert_eq!(
        env.finished(started[1].id).await.status.as_str(),
        "succeeded"
    );
    assert_eq!(
        env.finished(started[3].id).await.status.as_str(),
        "succeeded"
    );
    assert_eq!(
        env.finished(started[0].id).await.status.as_str(),
        "compensated"
    );
    let other = runs::wait_finished(
        &env.state.db,
        &TenantId::new("t2"),
        started[2].id,
        Duration::from_secs(60),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(other.status.as_str(), "succeeded");
    shutdown.cancel();
    workers.await.unwrap();
    env.cleanup().await;
}

/// A run's writes between its claim and its end (checkpoints, lease extensions, a long job's
/// progress) change no indexed column, so PostgreSQL makes each a HOT update: no new entry
/// in any index of `runs`. (They all set `updated_at`, which an index once held.)
#[tokio::test]
async fn writes_while_a_run_goes_on_touch_no_index() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let id = env.enqueue("noop3", vec![json!({})]).await[0];
    let lease = Duration::from_secs(10);
    let mut tx = env.state.db.begin().await.unwrap();
    assert!(
        runs::claim(&mut tx, id, "w1", lease)
            .await
            .unwrap()
            .is_some()
    );
    let counts = "SELECT pg_stat_get_xact_tuples_updated('runs'::regclass),
                         pg_stat_get_xact_tuples_hot_updated('runs'::regclass)";
    let (updated, hot): (i64, i64) = sqlx::query_as(counts).fetch_one(&mut *tx).await.unwrap();
    let cp = runs::Checkpoint {
        run_id: id,
        worker: "w1",
        lease,
        steps: &[done(0, json!({"result": {}}))],
        progress_done: 1,
        next_step: Some("two"),
    };
    assert!(runs::checkpoint(&mut tx, &cp).await.unwrap());
    let held = runs::extend_lease(&mut tx, id, "w1", lease).await.unwrap();
    assert_eq!(
        held,
        runs::Lease::Held {
            cancel_requested: false
        }
    );
    runs::report(&mut tx, id, "w1", "items", Some(1), Some(10))
        .await
        .unwrap();
    let after: (i64, i64) = sqlx::query_as(counts).fetch_one(&mut *tx).await.unwrap();
    assert_eq!(
        (after.0 - updated, after.1 - hot),
        (3, 3),
        "three updates, all HOT"
    );
    tx.commit().await.unwrap();
    assert_eq!(env.run(id).await.progress_done, 1);
    env.cleanup().await;
}

/// The sweeper re-pushes a run never claimed whose trigger was pushed longer ago than the
/// redelivery delay, and leaves alone the one pushed lately and the one never pushed (the
/// relay's): reading, for the never-claimed, only the runs due before that delay — the
/// `runs_due` range of `attempts = 0` — never the whole backlog the relay is delivering.
#[tokio::test]
async fn the_sweeper_reads_only_runs_that_can_have_lost_their_trigger() {
    let env = TestEnv::new("redis://127.0.0.1:6379").await;
    let ids = env
        .enqueue("noop1", vec![json!({}), json!({}), json!({})])
        .await;
    let (lost, lately, never) = (ids[0], ids[1], ids[2]);
    let redeliver_after = Duration::from_secs(20);
    let age = |id: RunId, pushed_secs_ago: Option<i64>| {
        sqlx::query(
            "UPDATE runs SET next_attempt_at = now() - interval '1 minute',
                             pushed_at = now() - $2 * interval '1 second'
             WHERE id = $1",
        )
        .bind(id.as_uuid())
        .bind(pushed_secs_ago)
        .execute(&env.state.db)
    };
    age(lost, Some(30)).await.unwrap();
    age(lately, Some(1)).await.unwrap();
    age(never, None).await.unwrap();
    let keyed = orderdesk::db::keyed_lookup_pool(&env.state.db, 1);
    let mut conn = keyed.acquire().await.unwrap();
    let due = runs::due_for_push(&mut conn, redeliver_after, 10, &[])
        .await
        .unwrap();
    assert_eq!(due, [(lost, DEFAULT_QUEUE.to_string())]);

    let plan = prepared_plan(&mut conn, "WHERE status = ''queued'' AND attempts = 0").await;
    let mut scans = Vec::new();
    index_scans(&plan, &mut scans);
    let of_runs_due: Vec<&String> = scans
        .iter()
        .filter(|(index, _)| index == "runs_due")
        .map(|(_, cond)| cond)
        .collect();
    assert_eq!(of_runs_due.len(), 3, "three ranges, nothing else: {plan:#}");
    assert!(
        of_runs_due
            .iter()
            .all(|cond| cond.contains("attempts") || cond.contains("'running'")),
        "every read of runs_due is a range of it: {of_runs_due:?}"
    );
    assert!(
        of_runs_due
            .iter()
            .any(|cond| cond.contains("attempts = 0") && cond.contains("next_attempt_at <")),
        "{of_runs_due:?}"
    );
    drop(conn);
    keyed.close().await;
    env.cleanup().await;
}

/// `(index, index condition)` of every index scan in `plan`.
fn index_scans(plan: &Value, out: &mut Vec<(String, String)>) {
    if let Some(index) = plan["Index Name"].as_str() {
        let cond = plan["Index Cond"].as_str().unwrap_or_default();
        out.push((index.to_string(), cond.to_string()));
    }
    for child in plan["Plans"].as_array().into_iter().flatten() {
        index_scans(child, out);
    }
}
