//! Scenario (f): the real front door. Customers ask to cancel their orders through
//! `POST /v1/customer/orders/{id}/cancel-request` of an `orderdesk api` process, from
//! [`CONNECTIONS`] keep-alive connections; each request is one durable transaction (the
//! request, the run and its outbox trigger, the idempotency record, the audit record), and
//! one worker process runs the runs (`cancel_order` is three no-op steps in
//! `benches/workflows.toml`). The clock runs from the first request until every run
//! succeeded; the figure is compared with the box's durable-commit ceiling (`ceiling.rs`)
//! measured in the same rounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use tokio::task::JoinSet;

use super::ceiling::{self, PgBench};
use super::env::{self, BenchEnv, Process};
use super::load::{keep_alive_client, start_api};
use super::summary::{Figure, Summary};
use super::throughput::{by_status, wait_drained};
use super::{load_line, medians};
use orderdesk::auth::mint::{MintRequest, mint};
use orderdesk::domain::cancel::{Canceller, needs_review, plan_cancel};
use orderdesk::domain::ids::TenantId;
use orderdesk::seed;

/// The tenant whose customers cancel (its own, apart from (c)'s).
const TENANT: &str = "bench_front";
/// Concurrent HTTP connections.
pub const CONNECTIONS: usize = 64;
/// Cancel requests per sample (each order once; requests are emptied between samples).
pub const REQUESTS: usize = 10_000;
const ORDERS_PER_CUSTOMER: usize = 10;
/// Give up when no run finished for this long.
const STALL_LIMIT: Duration = Duration::from_secs(30);
const TARGET: f64 = 0.8;

/// The api process and the requests it is sent: one per cancellable order.
pub struct FrontDoor {
    api: Process,
    targets: Arc<Vec<Target>>,
}

struct Target {
    url: String,
    headers: HeaderMap,
}

/// One sample.
#[derive(Debug, Clone)]
pub struct FrontDoorSample {
    pub requests: usize,
    /// Answered 202.
    pub accepted: usize,
    /// Any other answer, and the first one's status and body.
    pub errors: usize,
    pub first_error: Option<String>,
    /// Runs that succeeded.
    pub succeeded: usize,
    /// From the first request until the last answer.
    pub accept_elapsed: Duration,
    /// From the first request until every run succeeded.
    pub elapsed: Duration,
    /// Request latencies in µs, sorted.
    pub latencies_us: Vec<u32>,
}

impl FrontDoorSample {
    /// Mutations accepted and their runs completed, per second.
    pub fn completed_per_sec(&self) -> f64 {
        self.succeeded as f64 / self.elapsed.as_secs_f64()
    }
    pub fn accepted_per_sec(&self) -> f64 {
        self.accepted as f64 / self.accept_elapsed.as_secs_f64()
    }
    pub fn latency_ms(&self, q: f64) -> f64 {
        let lat: Vec<f64> = self.latencies_us.iter().map(|&u| u as f64 / 1e3).collect();
        super::q(&lat, q)
    }
}

/// Seeds the tenant with `requests` cancellable orders (no review, no expired window),
/// starts the api (customer surface) and mints the customers' tokens.
pub async fn start(env: &BenchEnv, requests: usize) -> anyhow::Result<FrontDoor> {
    let tenant = TenantId::new(TENANT);
    let mut settings = seed::demo_settings();
    settings.rate_limits.customer_per_minute = u32::MAX;
    settings.cancel_requires_review = false;
    settings.cancel_review_above_minor = None;
    // demo orders come in every status: seed enough that `requests` of them can be cancelled
    let mut n = requests * 2;
    let orders = loop {
        let all = seed::demo_orders(&tenant, n.div_ceil(ORDERS_PER_CUSTOMER), n);
        let now = chrono::Utc::now();
        let open: Vec<_> = all
            .iter()
            .filter(|o| {
                !plan_cancel(o, &settings, Canceller::Customer, true, true, now).is_blocked()
                    && !needs_review(o, &settings)
            })
            .cloned()
            .collect();
        if open.len() >= requests {
            seed::apply(&env.state.db, &tenant, &settings, &all).await?;
            break open.into_iter().take(requests).collect::<Vec<_>>();
        }
        n *= 2;
    };
    let (api, base) = start_api(env, "customer").await?;
    let mut tokens = std::collections::HashMap::new();
    let mut targets = Vec::with_capacity(orders.len());
    for o in &orders {
        let key = o.customer_id.as_str().to_string();
        let token = match tokens.get(&key) {
            Some(t) => String::clone(t),
            None => {
                let t = mint(
                    &env.state.config,
                    &MintRequest::customer(&tenant, &o.customer_id),
                )?;
                tokens.insert(key, t.clone());
                t
            }
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {token}"))?,
        );
        headers.insert("x-tenant-id", HeaderValue::from_static(TENANT));
        targets.push(Target {
            url: format!("{base}/v1/customer/orders/{}/cancel-request", o.id.as_str()),
            headers,
        });
    }
    Ok(FrontDoor {
        api,
        targets: Arc::new(targets),
    })
}

impl FrontDoor {
    /// Sends every cancel request once from `conns` connections, against one fresh worker
    /// process, and waits until every accepted run succeeded.
    pub async fn measure(
        &mut self,
        env: &BenchEnv,
        conns: usize,
    ) -> anyhow::Result<FrontDoorSample> {
        env.reset_runs().await?;
        let mut procs = env::start_workers(env, 1).await?;
        self.api.check_alive()?;
        let started = Instant::now();
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        for _ in 0..conns {
            tasks.spawn(connection(self.targets.clone(), next.clone()));
        }
        let mut sample = FrontDoorSample {
            requests: self.targets.len(),
            accepted: 0,
            errors: 0,
            first_error: None,
            succeeded: 0,
            accept_elapsed: Duration::ZERO,
            elapsed: Duration::ZERO,
            latencies_us: Vec::with_capacity(self.targets.len()),
        };
        while let Some(res) = tasks.join_next().await {
            let c = res??;
            sample.accepted += c.accepted;
            sample.errors += c.errors;
            sample.first_error = sample.first_error.or(c.first_error);
            sample.latencies_us.extend(c.latencies_us);
        }
        sample.accept_elapsed = started.elapsed();
        sample.latencies_us.sort_unstable();
        wait_drained(env, &mut procs, STALL_LIMIT).await?;
        sample.elapsed = started.elapsed();
        let succeeded: i64 =
            sqlx::query_scalar("SELECT count(*) FROM runs WHERE status = 'succeeded'")
                .fetch_one(&env.state.db)
                .await?;
        sample.succeeded = succeeded as usize;
        env::stop_all(procs).await?;
        if sample.succeeded != sample.accepted {
            bail!(
                "{} requests accepted but {} runs succeeded; by status: {}",
                sample.accepted,
                sample.succeeded,
                by_status(env).await?
            );
        }
        Ok(sample)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.api.stop().await
    }
}

struct ConnectionResult {
    accepted: usize,
    errors: usize,
    first_error: Option<String>,
    latencies_us: Vec<u32>,
}

/// One keep-alive connection taking the next order until none is left.
async fn connection(
    targets: Arc<Vec<Target>>,
    next: Arc<AtomicUsize>,
) -> anyhow::Result<ConnectionResult> {
    let client = keep_alive_client()?;
    let mut out = ConnectionResult {
        accepted: 0,
        errors: 0,
        first_error: None,
        latencies_us: Vec::new(),
    };
    while let Some(t) = targets.get(next.fetch_add(1, Ordering::Relaxed)) {
        let sent = Instant::now();
        let res = client
            .post(&t.url)
            .headers(t.headers.clone())
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&serde_json::json!({ "reason": "bench" }))
            .send()
            .await?;
        let status = res.status();
        let body = res.bytes().await?;
        out.latencies_us
            .push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
        if status == reqwest::StatusCode::ACCEPTED {
            out.accepted += 1;
        } else {
            out.errors += 1;
            out.first_error
                .get_or_insert_with(|| format!("{status}: {}", String::from_utf8_lossy(&body)));
        }
    }
    Ok(out)
}

/// Measures `repeat` rounds — pgbench's ceiling (when pgbench is present), then the front
/// door — prints the table and adds the medians to `summary`.
pub async fn report(
    env: &BenchEnv,
    repeat: usize,
    requests: usize,
    ceiling_for: Duration,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    println!(
        "\n(f) the front door: {requests} customer cancel-requests (POST /v1/customer/orders/{{id}}/cancel-request,\n    one durable transaction each: request, run + outbox trigger, idempotency record, audit) from {CONNECTIONS}\n    connections to one api process, their 3-step runs (no-op steps) completed by 1 worker process; from the\n    first request until every run succeeded. Beside pgbench ({} clients, one INSERT + one UPDATE per\n    durable transaction, {} s) in the same rounds",
        ceiling::CLIENTS,
        ceiling_for.as_secs().max(1)
    );
    let sync: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&env.state.db)
        .await?;
    println!("    synchronous_commit = {sync} (both sides)");
    println!("{}", load_line());
    let pgbench = PgBench::locate(env).await;
    if let Err(why) = &pgbench {
        println!("    pgbench is NOT measured in this run: {why}");
        summary.note(format!(
            "(f) the durable-commit ceiling was not measured: {why}"
        ));
    }
    let mut fixture = start(env, requests).await?;
    println!(
        "    {:<8}{:<18}{:>12}{:>12}{:>10}{:>10}{:>8}",
        "sample", "system", "completed/s", "accepted/s", "p50 ms", "p99 ms", "errors"
    );
    let mut rows = Vec::new();
    let mut peer_rows = Vec::new();
    let res = async {
        for i in 1..=repeat {
            if let Ok(p) = &pgbench {
                let tps = p.measure(env, ceiling_for).await?;
                println!("    {:<8}{:<18}{tps:>12.0}", i, "pgbench ceiling");
                peer_rows.push([tps]);
            }
            let s = fixture.measure(env, CONNECTIONS).await?;
            let row = [
                s.completed_per_sec(),
                s.accepted_per_sec(),
                s.latency_ms(0.5),
                s.latency_ms(0.99),
                s.errors as f64,
            ];
            println!(
                "    {:<8}{:<18}{:>12.0}{:>12.0}{:>10.2}{:>10.2}{:>8.0}",
                i, "orderdesk api", row[0], row[1], row[2], row[3], row[4]
            );
            if let Some(e) = &s.first_error {
                println!("    first error: {e}");
            }
            rows.push(row);
        }
        anyhow::Ok(())
    }
    .await;
    fixture.stop().await?;
    res?;
    let m = medians(&rows);
    let ceiling = (!peer_rows.is_empty()).then(|| medians(&peer_rows)[0]);
    if let Some(c) = ceiling {
        println!("    {:<8}{:<18}{c:>12.0}", "median", "pgbench ceiling");
        summary.push(Figure::peer(
            "f.pgbench_tps",
            "(f) pgbench durable-commit ceiling",
            c,
            "tx/s",
        ));
    }
    println!(
        "    {:<8}{:<18}{:>12.0}{:>12.0}{:>10.2}{:>10.2}{:>8.0}",
        "median", "orderdesk api", m[0], m[1], m[2], m[3], m[4]
    );
    summary.push(Figure::relative(
        "f.completed_per_sec",
        "(f) API mutations + 3-step runs/s",
        m[0],
        "/s",
        "≥ 0.8× pgbench ceiling",
        ceiling.map(|c| ("pgbench ceiling, same run".to_string(), c)),
        |r| r >= TARGET,
    ));
    summary.push(Figure::absolute(
        "f.errors",
        "(f) non-202 answers",
        m[4],
        "",
        "0",
        m[4] == 0.0,
    ));
    Ok(())
}
