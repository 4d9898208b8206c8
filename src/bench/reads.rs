//! Scenario (c): `GET /v1/customer/orders/{id}` against an `orderdesk api` process on a
//! loopback port, seeded with 60 customers / 600 orders. A load generator in the bench
//! process keeps 64 keep-alive connections busy (or paces them to a fixed total rate); every
//! request's latency is recorded and percentiles come from the sorted list.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use tokio::task::JoinSet;

use super::env::{BenchEnv, Process};
use super::{load_line, medians, verdict};
use crate::auth::mint::{MintRequest, mint};
use crate::seed;

const TENANT: &str = "bench";
const CUSTOMERS: usize = 60;
const ORDERS: usize = 600;
/// Customers whose tokens the connections use (connection i is customer i mod this).
const TOKEN_CUSTOMERS: usize = 16;
const CONNECTIONS: usize = 64;
const PACED_RPS: f64 = 1_000.0;
/// BENCHMARKS.md: bare axum 0.8 + sqlx + HS256 JWT, one indexed select, wrk, 64 connections.
const BARE_JWT_RPS: f64 = 7_845.0;
const BARE_JWT_P99_MS: f64 = 16.5;

/// Starts the api, warms it up, measures `repeat` saturating and `repeat` paced samples of
/// `duration` each, and prints the table.
pub async fn report(env: &BenchEnv, repeat: usize, duration: Duration) -> anyhow::Result<()> {
    println!(
        "\n(c) GET /v1/customer/orders/{{id}} on an `orderdesk api` process (HS256 JWT, one indexed select),\n    {CONNECTIONS} keep-alive connections from this process, {} s per sample",
        duration.as_secs()
    );
    println!("{}", load_line());
    let mut fixture = start(env).await?;
    fixture
        .measure(CONNECTIONS, Duration::from_secs(1), None)
        .await?; // warm-up
    println!(
        "    {:<18}{:<8}{:>10}{:>8}{:>9}{:>9}{:>9}",
        "load", "sample", "requests", "errors", "rps", "p50 ms", "p99 ms"
    );
    let line = |load: &str, label: &str, r: &[f64; 5]| {
        println!(
            "    {load:<18}{label:<8}{:>10.0}{:>8.0}{:>9.0}{:>9.2}{:>9.2}",
            r[0], r[1], r[2], r[3], r[4]
        )
    };
    let mut medians_of = Vec::new();
    for (load, rate) in [("saturating", None), ("paced 1,000 rps", Some(PACED_RPS))] {
        let mut rows = Vec::new();
        for i in 1..=repeat {
            let s = fixture.measure(CONNECTIONS, duration, rate).await?;
            let n = s.latencies_us.len() as f64;
            let row = [
                n,
                s.errors as f64,
                s.rps(),
                s.quantile_ms(0.5),
                s.quantile_ms(0.99),
            ];
            line(load, &i.to_string(), &row);
            rows.push(row);
        }
        let m = medians(&rows);
        line(load, "median", &m);
        medians_of.push(m);
    }
    fixture.stop().await?;
    println!("{}", load_line());
    let (s, p) = (medians_of[0], medians_of[1]);
    let floor = 0.9 * BARE_JWT_RPS;
    let ceiling = 1.1 * BARE_JWT_P99_MS;
    verdict(
        &format!(
            "saturating ≥ 90 % of the bare axum + sqlx + JWT figure = {floor:.0} rps (reference, not this sitting)"
        ),
        s[2] >= floor,
    );
    verdict(
        &format!("saturating p99 ≤ 1.1 × {BARE_JWT_P99_MS} ms = {ceiling:.1} ms"),
        s[4] <= ceiling,
    );
    verdict(
        "saturating p99 < 5 ms (the issue; Little's law: p99 ≥ 64 connections / rps)",
        s[4] < 5.0,
    );
    verdict("paced 1,000 rps p99 < 5 ms", p[4] < 5.0);
    verdict("no errors", s[1] == 0.0 && p[1] == 0.0);
    Ok(())
}

/// A running api process and what the load generator requests from it.
pub struct ReadsFixture {
    api: Process,
    customers: Arc<Vec<CustomerLoad>>,
}

struct CustomerLoad {
    headers: HeaderMap,
    urls: Vec<String>,
}

/// One sample: every latency (µs, sorted) and the non-200 answers.
#[derive(Debug, Clone)]
pub struct LoadSample {
    pub elapsed: Duration,
    pub latencies_us: Vec<u32>,
    pub errors: usize,
}

impl LoadSample {
    pub fn rps(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }
    /// The `q` quantile (0..=1) in milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let Some(last) = self.latencies_us.len().checked_sub(1) else {
            return f64::NAN;
        };
        self.latencies_us[((last as f64) * q).round() as usize] as f64 / 1e3
    }
}

/// Seeds the read model, starts `orderdesk api --surface customer` and mints the tokens.
pub async fn start(env: &BenchEnv) -> anyhow::Result<ReadsFixture> {
    let orders = seed::demo_orders(TENANT, CUSTOMERS, ORDERS);
    seed::apply(&env.state.db, TENANT, &seed::demo_settings(), &orders).await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let addr = format!("127.0.0.1:{port}");
    let mut api = env.spawn(&["api", "--addr", &addr, "--surface", "customer"])?;
    wait_healthy(&mut api, &base).await?;
    let customers = (0..TOKEN_CUSTOMERS)
        .map(|c| {
            let id = seed::customer_id(c);
            let token = mint(&env.state.config, &MintRequest::customer(TENANT, &id))?;
            let mut headers = HeaderMap::new();
            headers.insert(
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {token}"))?,
            );
            headers.insert("x-tenant-id", HeaderValue::from_static(TENANT));
            let urls = orders
                .iter()
                .filter(|o| o.customer_id == id)
                .map(|o| format!("{base}/v1/customer/orders/{}", o.id))
                .collect();
            Ok(CustomerLoad { headers, urls })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ReadsFixture {
        api,
        customers: Arc::new(customers),
    })
}

impl ReadsFixture {
    /// Drives `conns` connections for `duration`: as fast as they go (`rate: None`), or at
    /// `rate` requests/s in total, spread evenly over the connections.
    pub async fn measure(
        &mut self,
        conns: usize,
        duration: Duration,
        rate: Option<f64>,
    ) -> anyhow::Result<LoadSample> {
        self.api.check_alive()?;
        let started = Instant::now();
        let deadline = started + duration;
        let interval = rate.map(|r| Duration::from_secs_f64(conns as f64 / r));
        let mut tasks = JoinSet::new();
        for i in 0..conns {
            let customers = self.customers.clone();
            let pace = interval.map(|every| (every, every.mul_f64(i as f64 / conns as f64)));
            tasks.spawn(connection(customers, i, deadline, pace));
        }
        let mut sample = LoadSample {
            elapsed: Duration::ZERO,
            latencies_us: Vec::new(),
            errors: 0,
        };
        while let Some(res) = tasks.join_next().await {
            let (lat, errors) = res??;
            sample.latencies_us.extend(lat);
            sample.errors += errors;
        }
        sample.elapsed = started.elapsed();
        sample.latencies_us.sort_unstable();
        Ok(sample)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.api.stop().await
    }
}

/// One keep-alive connection looping over its customer's orders until `deadline`; with
/// `pace = (every, offset)` it sends one request per `every`, starting after `offset`.
async fn connection(
    customers: Arc<Vec<CustomerLoad>>,
    i: usize,
    deadline: Instant,
    pace: Option<(Duration, Duration)>,
) -> anyhow::Result<(Vec<u32>, usize)> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        .build()?;
    let me = &customers[i % customers.len()];
    let mut ticker = pace.map(|(every, offset)| {
        tokio::time::interval_at(tokio::time::Instant::now() + offset, every)
    });
    let (mut latencies, mut errors) = (Vec::with_capacity(1 << 16), 0);
    for url in me.urls.iter().cycle() {
        if let Some(t) = ticker.as_mut() {
            t.tick().await;
        }
        if Instant::now() >= deadline {
            break;
        }
        let sent = Instant::now();
        let res = client.get(url).headers(me.headers.clone()).send().await?;
        let ok = res.status() == reqwest::StatusCode::OK;
        res.bytes().await?;
        latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
        errors += usize::from(!ok);
    }
    Ok((latencies, errors))
}

async fn wait_healthy(api: &mut Process, base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("{base}/v1/customer/health");
    for _ in 0..200 {
        api.check_alive()?;
        if let Ok(res) = client.get(&url).send().await
            && res.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the api process did not answer {url} within 10 s")
}
