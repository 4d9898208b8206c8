//! The load generator of scenario (c): 64 keep-alive connections from the bench process,
//! each looping over one customer's orders, as fast as they go or paced to a total rate;
//! every request's latency is recorded and percentiles come from the sorted list. The same
//! generator drives the real api and the bare baseline, so their ratio is fair.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use tokio::task::JoinSet;

use super::env::{BenchEnv, Process};
use orderdesk::auth::mint::{MintRequest, mint};
use orderdesk::domain::ids::TenantId;
use orderdesk::domain::order::Order;
use orderdesk::seed;

const TENANT: &str = "bench";
const CUSTOMERS: usize = 60;
const ORDERS: usize = 600;
/// Customers whose tokens the connections use (connection i is customer i mod this).
const TOKEN_CUSTOMERS: usize = 16;

/// Which server answers the reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// `orderdesk api --surface customer`: `GET /v1/customer/orders/{id}`.
    Api,
    /// `orderdesk-bench bare` (see `bare.rs`): `GET /orders/{id}`.
    Bare,
}

impl Server {
    fn spawn(self, env: &BenchEnv, addr: &str) -> anyhow::Result<Process> {
        match self {
            Server::Api => env.spawn(&["api", "--addr", addr, "--surface", "customer"]),
            Server::Bare => env.spawn_bench(&["bare", "--addr", addr]),
        }
    }
    fn order_path(self, id: &str) -> String {
        match self {
            Server::Api => format!("/v1/customer/orders/{id}"),
            Server::Bare => format!("/orders/{id}"),
        }
    }
    fn health_path(self) -> &'static str {
        match self {
            Server::Api => "/v1/customer/health",
            Server::Bare => "/health",
        }
    }
}

/// A running server process and what the load generator requests from it.
pub struct ReadsFixture {
    process: Process,
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
    /// The status of the first non-200 answer, to say what the errors were.
    pub first_error: Option<u16>,
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

/// Seeds the read model of the bench tenant once, for both servers.
pub async fn seed(env: &BenchEnv) -> anyhow::Result<Vec<Order>> {
    let tenant = TenantId::new(TENANT);
    let orders = seed::demo_orders(&tenant, CUSTOMERS, ORDERS);
    // a limit far above what 2 cores can serve: every request still pays the Redis count
    // (a limit of 0 would skip it), none is refused with 429
    let mut settings = seed::demo_settings();
    settings.rate_limits.customer_per_minute = u32::MAX;
    seed::apply(&env.state.db, &tenant, &settings, &orders).await?;
    Ok(orders)
}

/// Starts `server` on a free port and mints the tokens of [`TOKEN_CUSTOMERS`] customers.
pub async fn start(
    env: &BenchEnv,
    server: Server,
    orders: &[Order],
) -> anyhow::Result<ReadsFixture> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let addr = format!("127.0.0.1:{port}");
    let mut process = server.spawn(env, &addr)?;
    wait_healthy(&mut process, &format!("{base}{}", server.health_path())).await?;
    let tenant = TenantId::new(TENANT);
    let customers = (0..TOKEN_CUSTOMERS)
        .map(|c| {
            let id = seed::customer_id(c);
            let token = mint(&env.state.config, &MintRequest::customer(&tenant, &id))?;
            let mut headers = HeaderMap::new();
            headers.insert(
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {token}"))?,
            );
            headers.insert("x-tenant-id", HeaderValue::from_static(TENANT));
            let urls = orders
                .iter()
                .filter(|o| o.customer_id == id)
                .map(|o| format!("{base}{}", server.order_path(o.id.as_str())))
                .collect();
            Ok(CustomerLoad { headers, urls })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(ReadsFixture {
        process,
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
        self.process.check_alive()?;
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
            first_error: None,
        };
        while let Some(res) = tasks.join_next().await {
            let (lat, errors, first_error) = res??;
            sample.latencies_us.extend(lat);
            sample.errors += errors;
            sample.first_error = sample.first_error.or(first_error);
        }
        sample.elapsed = started.elapsed();
        sample.latencies_us.sort_unstable();
        Ok(sample)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.process.stop().await
    }
}

/// One keep-alive connection looping over its customer's orders until `deadline`; with
/// `pace = (every, offset)` it sends one request per `every`, starting after `offset`.
async fn connection(
    customers: Arc<Vec<CustomerLoad>>,
    i: usize,
    deadline: Instant,
    pace: Option<(Duration, Duration)>,
) -> anyhow::Result<(Vec<u32>, usize, Option<u16>)> {
    let client = keep_alive_client()?;
    let me = &customers[i % customers.len()];
    let mut ticker = pace.map(|(every, offset)| {
        tokio::time::interval_at(tokio::time::Instant::now() + offset, every)
    });
    let (mut latencies, mut errors, mut first_error) = (Vec::with_capacity(1 << 16), 0, None);
    for url in me.urls.iter().cycle() {
        if let Some(t) = ticker.as_mut() {
            t.tick().await;
        }
        if Instant::now() >= deadline {
            break;
        }
        let sent = Instant::now();
        let res = client.get(url).headers(me.headers.clone()).send().await?;
        let status = res.status();
        let ok = status == reqwest::StatusCode::OK;
        res.bytes().await?;
        latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
        if !ok {
            errors += 1;
            first_error = first_error.or(Some(status.as_u16()));
        }
    }
    Ok((latencies, errors, first_error))
}

pub(crate) async fn wait_healthy(process: &mut Process, url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    for _ in 0..200 {
        process.check_alive()?;
        if let Ok(res) = client.get(url).send().await
            && res.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server process did not answer {url} within 10 s")
}

/// The client of one load connection: HTTP/1.1, one keep-alive connection, no Nagle delay.
pub(crate) fn keep_alive_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .http1_only()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(1)
        .build()
}

/// Starts `orderdesk api --surface <surface>` on a free port and waits until it answers its
/// health check; returns it with its base URL.
pub(crate) async fn start_api(env: &BenchEnv, surface: &str) -> anyhow::Result<(Process, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let addr = format!("127.0.0.1:{port}");
    let mut api = env.spawn(&["api", "--addr", &addr, "--surface", surface])?;
    wait_healthy(&mut api, &format!("{base}/v1/{surface}/health")).await?;
    Ok((api, base))
}
