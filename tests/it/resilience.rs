//! Things breaking on purpose: a flaky upstream, a killed worker, a permanent failure,
//! Redis gone while requests are accepted.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{self, TENANT, TestApp};

pub(crate) async fn request_cancel(
    app: &TestApp,
    order_id: impl AsRef<str>,
    customer: impl AsRef<str>,
) -> String {
    let order_id = order_id.as_ref();
    let customer = customer.as_ref();
    let token = app.customer_token(TENANT, customer);
    let mut h = app.auth(&token, TENANT);
    h.insert("idempotency-key", format!("k-{order_id}").parse().unwrap());
    let res = app
        .post(
            &format!("/v1/customer/orders/{order_id}/cancel-request"),
            h,
            &json!({}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    body["job"]["id"].as_str().unwrap().to_string()
}

fn cancellable(app: &TestApp) -> Vec<(String, String)> {
    app.orders
        .iter()
        .filter(|o| o.status.as_str() == "confirmed")
        .map(|o| (o.id.to_string(), o.customer_id.to_string()))
        .collect()
}

#[tokio::test]
async fn flaky_payments_still_refund_exactly_once() {
    let app = helpers::spawn_with(helpers::Options {
        orders: 48,
        ..Default::default()
    })
    .await;
    app.set_faults(json!({"service": "payments", "error_rate": 0.5, "lost_response_rate": 0.3}))
        .await;
    let orders = cancellable(&app);
    assert!(orders.len() >= 6);
    let mut jobs = vec![];
    for (order_id, customer) in &orders {
        jobs.push((
            order_id.clone(),
            request_cancel(&app, order_id, customer).await,
        ));
    }
    for (order_id, job_id) in &jobs {
        let job = app.wait_job(job_id, 90).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(
            app.effects_of_kind(TENANT, order_id, "payment.refund")
                .await,
            1,
            "order {order_id}"
        );
        assert_eq!(
            app.effects_of_kind(TENANT, order_id, "order.cancel").await,
            1
        );
    }
    // the flakiness was real: some step needed more than one attempt
    let retried: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM runs, jsonb_array_elements(steps) s
             WHERE s ->> 'name' = 'refund' AND (s ->> 'attempts')::int > 1",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert!(retried > 0, "with 50% errors some refund was retried");
}

#[tokio::test]
async fn permanent_failure_compensates_in_reverse() {
    let app = helpers::spawn().await;
    // a 422 from Payments is permanent: no retry can help, so the run compensates at once
    app.set_faults(json!({"service": "payments", "error_rate": 1.0, "error_status": 422}))
        .await;
    let order = app.order_in("confirmed").clone();
    let job_id = request_cancel(&app, &order.id, &order.customer_id).await;
    let job = app.wait_job(&job_id, 30).await;
    assert_eq!(job["status"], "compensated", "{job}");
    assert!(job["error"]["code"].is_string(), "{job}");
    let steps = job["steps"].as_array().unwrap();
    let status_of = |name: &str| {
        steps
            .iter()
            .find(|s| s["name"] == name)
            .map(|s| s["status"].as_str().unwrap().to_string())
    };
    assert_eq!(
        status_of("cancel_at_orders").as_deref(),
        Some("compensated")
    );
    assert_eq!(
        status_of("release_inventory").as_deref(),
        Some("compensated")
    );
    let kinds: Vec<String> = app
        .effects(TENANT, &order.id)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    let pos = |k: &str| {
        kinds
            .iter()
            .position(|x| x == k)
            .unwrap_or_else(|| panic!("no {k} in {kinds:?}"))
    };
    assert!(
        pos("inventory.reservation") < pos("order.reinstate"),
        "compensations run in reverse: {kinds:?}"
    );
    assert!(!kinds.iter().any(|k| k == "payment.refund"));
    let (_, view) = app
        .get(
            &format!("/v1/customer/orders/{}", order.id),
            app.auth(&app.customer_token(TENANT, &order.customer_id), TENANT),
        )
        .await;
    assert_eq!(
        view["status"], "confirmed",
        "the order is back as it was: {view}"
    );
}

fn worker_process(app: &TestApp) -> Child {
    worker_process_with(app, 4)
}

pub(crate) fn worker_process_with(app: &TestApp, concurrency: usize) -> Child {
    app.command(&["worker", "--concurrency", &concurrency.to_string()])
        .env("ORDERDESK_UPSTREAM_TIMEOUT_SECS", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the orderdesk binary runs")
}

#[tokio::test]
async fn killed_worker_mid_workflow_completes_without_repeats() {
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        ..Default::default()
    })
    .await;
    app.set_faults(json!({"service": "payments", "latency_ms": 3000}))
        .await;
    let mut worker = worker_process(&app);
    let order = app.order_in("confirmed").clone();
    let job_id = request_cancel(&app, &order.id, &order.customer_id).await;
    // wait until the worker is inside the refund step, then kill it without warning
    let admin = app.agent_token(TENANT, "agt_ops", &["admin"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, job) = app
            .get(
                &format!("/v1/admin/jobs/{job_id}"),
                app.auth(&admin, TENANT),
            )
            .await;
        if job["progress"]["step"] == "refund" && job["status"] == "running" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached the refund step: {job}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.kill().unwrap();
    worker.wait().unwrap();
    app.clear_faults().await;
    let mut second = worker_process(&app);
    let job = app.wait_job(&job_id, 60).await;
    second.kill().ok();
    second.wait().ok();
    assert_eq!(job["status"], "succeeded", "{job}");
    for kind in [
        "order.cancel",
        "inventory.release",
        "payment.refund",
        "notification.send",
    ] {
        assert_eq!(
            app.effects_of_kind(TENANT, &order.id, kind).await,
            1,
            "{kind} exactly once"
        );
    }
}

/// Many runs in flight in one worker process, killed without warning: the next worker claims
/// them again (the sweeper re-pushes them together, so their claims and ends go in batches)
/// and each upstream effect still happens once; each run was claimed once by each worker.
#[tokio::test]
async fn killed_worker_with_many_runs_in_flight_finishes_each_once() {
    const RUNS: usize = 6;
    let app = helpers::spawn_with(helpers::Options {
        workers: 0,
        orders: 48,
        ..Default::default()
    })
    .await;
    app.set_faults(json!({"service": "payments", "latency_ms": 3000}))
        .await;
    let orders: Vec<(String, String)> = cancellable(&app).into_iter().take(RUNS).collect();
    assert_eq!(orders.len(), RUNS);
    let mut jobs = vec![];
    for (order_id, customer) in &orders {
        jobs.push((
            order_id.clone(),
            request_cancel(&app, order_id, customer).await,
        ));
    }
    // accepted before any worker runs, so that one worker takes them all at once
    let mut worker = worker_process_with(&app, 16);
    // every run inside its refund step, then the worker killed without warning
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let in_refund: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM runs WHERE status = 'running' AND current_step = 'refund'",
        )
        .fetch_one(&app.state.db)
        .await
        .unwrap();
        if in_refund == RUNS as i64 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {in_refund} of {RUNS} runs reached the refund step"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.kill().unwrap();
    worker.wait().unwrap();
    app.clear_faults().await;
    let mut second = worker_process_with(&app, 16);
    let mut finished = vec![];
    for (order_id, job_id) in &jobs {
        finished.push((order_id, app.wait_job(job_id, 60).await));
    }
    second.kill().ok();
    second.wait().ok();
    for (order_id, job) in finished {
        assert_eq!(job["status"], "succeeded", "{job}");
        for kind in ["order.cancel", "payment.refund", "notification.send"] {
            assert_eq!(
                app.effects_of_kind(TENANT, order_id, kind).await,
                1,
                "{kind} of {order_id} exactly once"
            );
        }
    }
    let claims: Vec<i32> = sqlx::query_scalar("SELECT attempts FROM runs ORDER BY id")
        .fetch_all(&app.state.db)
        .await
        .unwrap();
    assert_eq!(claims, vec![2; RUNS], "claimed once by each worker");
}

/// A private redis-server (never the shared one) that a test can stop and restart; up
/// when `start` returns, down when `stop` returns, stopped when dropped.
pub(crate) struct OwnRedis {
    port: u16,
}

/// Waits (at most 2 s) until something answers on `port`, or until nothing does.
fn wait_port(port: u16, listening: bool) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() == listening {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl OwnRedis {
    pub(crate) fn start(port: u16) -> OwnRedis {
        let status = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
            ])
            .stdout(Stdio::null())
            .status()
            .expect("redis-server is installed");
        assert!(status.success());
        wait_port(port, true);
        OwnRedis { port }
    }
    pub(crate) fn stop(&self) {
        let _ = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown", "nosave"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        wait_port(self.port, false);
    }
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) async fn wait_redis(port: u16) {
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis on {port} did not start");
}

#[tokio::test]
async fn redis_down_while_accepting_runs_once_redis_is_back() {
    let port = free_port();
    let redis = OwnRedis::start(port);
    wait_redis(port).await;
    let app = helpers::spawn_with(helpers::Options {
        redis_url: redis.url(),
        ..Default::default()
    })
    .await;
    redis.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let order = app.order_in("confirmed").clone();
    let job_id = request_cancel(&app, &order.id, &order.customer_id).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let admin = app.agent_token(TENANT, "agt_ops", &["admin"]);
    let (_, job) = app
        .get(
            &format!("/v1/admin/jobs/{job_id}"),
            app.auth(&admin, TENANT),
        )
        .await;
    assert_eq!(
        job["status"], "queued",
        "nothing can run without Redis: {job}"
    );
    let (status, health) = app.get("/v1/admin/health", Default::default()).await;
    assert_eq!(
        (status, health["redis"].as_str()),
        (503, Some("unreachable"))
    );

    let _back = OwnRedis::start(port);
    wait_redis(port).await;
    let job = app.wait_job(&job_id, 60).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(
        app.effects_of_kind(TENANT, &order.id, "payment.refund")
            .await,
        1
    );
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_coded_error_without_its_address() {
    let closed = free_port();
    let app = helpers::spawn_with(helpers::Options {
        extra_env: vec![(
            "ORDERDESK_UPSTREAM_ORDERS_URL".into(),
            format!("http://127.0.0.1:{closed}/orders"),
        )],
        ..Default::default()
    })
    .await;
    let order = app.order_in("confirmed").clone();
    let job_id = request_cancel(&app, &order.id, &order.customer_id).await;
    let job = app.wait_job(&job_id, 60).await;
    assert_eq!(job["status"], "compensated", "{job}");
    assert_eq!(job["error"]["code"], "upstream.unreachable", "{job}");
    assert!(
        !job["error"]["detail"].as_str().unwrap().is_empty(),
        "{job}"
    );
    let mut shown = vec![job["error"].to_string()];
    for step in job["steps"].as_array().unwrap() {
        shown.push(step["last_error"].to_string());
    }
    for text in shown {
        for internal in [
            "127.0.0.1",
            "http://",
            &format!(":{closed}"),
            "error sending request",
        ] {
            assert!(!text.contains(internal), "{internal} in {text}");
        }
    }
}

/// GETs `path` as an admin, answering its status, body and how long it took.
async fn timed_admin_get(app: &TestApp, path: &str) -> (u16, Value, Duration) {
    let admin = app.agent_token(TENANT, "agt_ops", &["admin"]);
    let started = std::time::Instant::now();
    let (status, body) = app.get(path, app.auth(&admin, TENANT)).await;
    (status, body, started.elapsed())
}

#[tokio::test]
async fn postgres_out_of_reach_is_a_quick_503_and_runs_resume_without_repeats() {
    let app = helpers::spawn_with(helpers::Options {
        pg_proxy: true,
        ..Default::default()
    })
    .await;
    let proxy = app.pg_proxy.as_ref().unwrap();
    app.set_faults(json!({"service": "payments", "latency_ms": 1500}))
        .await;
    let order = app.order_in("confirmed").clone();
    let job_id = request_cancel(&app, &order.id, &order.customer_id).await;
    crate::process::wait_running_step(&app, &job_id, "refund").await;
    // the customer's order read has its own pool (`db::reads`): a connection of it is open
    let read_path = format!("/v1/customer/orders/{}", order.id);
    let token = app.customer_token(TENANT, &order.customer_id);
    let read_headers = app.auth(&token, TENANT);
    assert_eq!(app.get(&read_path, read_headers.clone()).await.0, 200);

    proxy.cut();
    let started = std::time::Instant::now();
    let (status, body) = app.get(&read_path, read_headers.clone()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (503, Some("database.unavailable")),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    let job_path = format!("/v1/admin/jobs/{job_id}");
    for path in [job_path.as_str(), "/v1/admin/jobs"] {
        let (status, body, took) = timed_admin_get(&app, path).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (503, Some("database.unavailable")),
            "{body}"
        );
        // the pool gives up after 5 s; the bound (with room for a loaded CI machine) is
        // there to catch the 30 s hang of sqlx's default, not to time the answer
        assert!(took < Duration::from_secs(15), "{path} took {took:?}");
    }
    let (status, health) = app.get("/v1/admin/health", Default::default()).await;
    assert_eq!(
        (status, health["postgres"].as_str()),
        (503, Some("unreachable"))
    );
    // the refund answers upstream while its checkpoint cannot be written
    tokio::time::sleep(Duration::from_secs(2)).await;

    proxy.restore();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let job = loop {
        // connections cut in the pool may still fail once each: 503, never anything else
        let (status, job, _) = timed_admin_get(&app, &job_path).await;
        assert!(status == 200 || status == 503, "{status}: {job}");
        if status == 200 && !matches!(job["status"].as_str(), Some("queued" | "running")) {
            break job;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never finished: {job}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job["status"], "succeeded", "{job}");
    // the read pool drops a cut connection when a read on it fails: 503 until the dead
    // ones are gone, never anything else, then answers
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = app.get(&read_path, read_headers.clone()).await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "reads never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for kind in ["order.cancel", "payment.refund", "notification.send"] {
        let n = app.effects_of_kind(TENANT, &order.id, kind).await;
        assert_eq!(n, 1, "{kind} exactly once");
    }
}
