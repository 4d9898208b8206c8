//! Spawns the real thing for a test: its own database, its own Redis prefix, the sandbox and
//! the api on loopback ports, and workers that can be stopped and started again.

#![allow(dead_code)]

pub mod cleanup;
pub mod pg_proxy;

use std::collections::HashMap;
use std::time::Duration;

use orderdesk::api::Surface;
use orderdesk::auth::mint::{MintRequest, mint};
use orderdesk::config::{ALLOW_DEV_SECRETS, Config};
use orderdesk::domain::ids::{CustomerId, OrderId, TenantId};
use orderdesk::domain::order::Order;
use orderdesk::domain::settings::TenantSettings;
use orderdesk::state::AppState;
use orderdesk::{app, db, seed, workers};
use orderdesk_sandbox as sandbox;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub const TENANT: &str = "acme";
pub const OTHER_TENANT: &str = "globex";
pub const ADMIN_DB: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub struct TestApp {
    pub api: String,
    pub sandbox: String,
    pub state: AppState,
    pub config: Config,
    pub db_name: String,
    pub http: reqwest::Client,
    pub orders: Vec<Order>,
    /// Between the app (api and workers) and PostgreSQL, with [`Options::pg_proxy`].
    pub pg_proxy: Option<pg_proxy::PgProxy>,
    shutdown: CancellationToken,
    workers: Vec<CancellationToken>,
}

/// How to build a test app.
pub struct Options {
    pub workers: usize,
    pub redis_url: String,
    pub settings: TenantSettings,
    pub customers: usize,
    pub orders: usize,
    pub extra_env: Vec<(String, String)>,
    /// The app reaches PostgreSQL through a [`pg_proxy::PgProxy`] the test can cut (the
    /// sandbox keeps its own direct connection: it stands for services elsewhere).
    pub pg_proxy: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: 1,
            redis_url: "redis://127.0.0.1:6379".into(),
            settings: seed::demo_settings(),
            customers: 4,
            orders: 24,
            extra_env: vec![],
            pg_proxy: false,
        }
    }
}

/// A fresh database named for this test.
pub async fn create_database() -> (String, String) {
    let name = format!("od_t_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(ADMIN_DB)
        .await
        .expect("postgres is running on 127.0.0.1:5432");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    (
        name.clone(),
        format!("postgres://postgres@127.0.0.1:5432/{name}"),
    )
}

pub async fn spawn() -> TestApp {
    spawn_with(Options::default()).await
}

/// Writes `orders` as orderdesk's read model (with the tenant's settings) and as the
/// sandbox's canonical orders, as `orderdesk seed` does.
pub async fn seed_both_sides(
    pool: &sqlx::PgPool,
    tenant: &str,
    settings: &TenantSettings,
    orders: &[Order],
) {
    seed::apply(pool, &TenantId::new(tenant), settings, orders)
        .await
        .unwrap();
    sandbox::seed_orders(pool, orders).await.unwrap();
}

pub async fn spawn_with(opts: Options) -> TestApp {
    let (db_name, database_url) = create_database().await;
    let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sandbox_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}", api_listener.local_addr().unwrap());
    let sandbox_url = format!("http://{}", sandbox_listener.local_addr().unwrap());
    let pg_proxy = match opts.pg_proxy {
        true => Some(pg_proxy::PgProxy::start("127.0.0.1:5432".parse().unwrap()).await),
        false => None,
    };
    let app_database_url = match &pg_proxy {
        Some(p) => format!("postgres://postgres@{}/{db_name}", p.addr),
        None => database_url.clone(),
    };
    let mut env: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), app_database_url),
        ("REDIS_URL".into(), opts.redis_url.clone()),
        ("ORDERDESK_REDIS_PREFIX".into(), db_name.clone()),
        ("ORDERDESK_UPSTREAM_URL".into(), sandbox_url.clone()),
        (
            "ORDERDESK_WORKFLOWS".into(),
            format!("{}/workflows.toml", env!("CARGO_MANIFEST_DIR")),
        ),
        ("ORDERDESK_LEASE_SECS".into(), "3".into()),
        ("ORDERDESK_UPSTREAM_TIMEOUT_SECS".into(), "2".into()),
        (ALLOW_DEV_SECRETS.into(), "true".into()),
    ]);
    env.extend(opts.extra_env.iter().cloned());
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let state = app::build_state(config.clone(), 16).await.unwrap();
    db::migrate(&state.db).await.unwrap();
    sandbox::migrate(&state.db).await.unwrap();
    let orders = seed::demo_orders(&TenantId::new(TENANT), opts.customers, opts.orders);
    seed_both_sides(&state.db, TENANT, &opts.settings, &orders).await;
    let other = seed::demo_orders(&TenantId::new(OTHER_TENANT), 2, 12)
        .into_iter()
        .map(|mut o| {
            o.id = format!("{}_g", o.id).into();
            o
        })
        .collect::<Vec<_>>();
    seed_both_sides(&state.db, OTHER_TENANT, &opts.settings, &other).await;

    let shutdown = CancellationToken::new();
    let sandbox_cfg = sandbox::SandboxConfig {
        events_url: Some(format!("{api}/v1/events/ingest")),
        events_secret: config.events_secret.clone(),
    };
    let sandbox_db = match pg_proxy {
        Some(_) => db::connect(&database_url, 4).await.unwrap(),
        None => state.db.clone(),
    };
    tokio::spawn(sandbox::serve(
        sandbox_listener,
        sandbox_db,
        sandbox_cfg,
        shutdown.clone(),
    ));
    tokio::spawn(app::serve_api(
        api_listener,
        state.clone(),
        Surface::All,
        shutdown.clone(),
    ));
    let mut t = TestApp {
        api,
        sandbox: sandbox_url,
        state,
        config,
        db_name,
        http: reqwest::Client::new(),
        orders,
        pg_proxy,
        shutdown,
        workers: vec![],
    };
    for _ in 0..opts.workers {
        t.start_worker();
    }
    t
}

impl TestApp {
    /// Starts one more worker (its own name), returning its index for `stop_worker`.
    pub fn start_worker(&mut self) -> usize {
        let token = self.shutdown.child_token();
        let opts = workers::WorkerOptions {
            concurrency: 8,
            name_prefix: "test".into(),
            queues: Vec::new(),
        };
        tokio::spawn(workers::run(
            self.state.worker_ctx(),
            self.state.queue.clone(),
            opts,
            token.clone(),
        ));
        self.workers.push(token);
        self.workers.len() - 1
    }

    pub fn stop_worker(&mut self, i: usize) {
        self.workers[i].cancel();
    }

    /// `orderdesk <args>` (the built binary) over this app's database, Redis prefix,
    /// sandbox and workflows, on the development secrets, logging warnings only.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_orderdesk"));
        cmd.args(args)
            .env("DATABASE_URL", &self.config.database_url)
            .env("REDIS_URL", &self.config.redis_url)
            .env("ORDERDESK_REDIS_PREFIX", &self.config.redis_prefix)
            .env("ORDERDESK_UPSTREAM_URL", &self.sandbox)
            .env("ORDERDESK_WORKFLOWS", &self.config.workflows_file)
            .env(
                "ORDERDESK_LEASE_SECS",
                self.config.lease.as_secs().to_string(),
            )
            .env(ALLOW_DEV_SECRETS, "true")
            // tests run in parallel: no two children may claim the default metrics port
            .env("ORDERDESK_METRICS_ADDR", "off")
            .env("RUST_LOG", "warn");
        cmd
    }

    pub fn customer_token(&self, tenant: &str, customer: impl AsRef<str>) -> String {
        let customer = customer.as_ref();
        mint(
            &self.config,
            &MintRequest::customer(&TenantId::new(tenant), &CustomerId::new(customer)),
        )
        .unwrap()
    }

    pub fn agent_token(&self, tenant: &str, agent: &str, roles: &[&str]) -> String {
        mint(
            &self.config,
            &MintRequest::agent(&TenantId::new(tenant), agent, &parse_roles(roles)),
        )
        .unwrap()
    }

    pub fn sudo_token(&self, tenant: &str, agent: &str, roles: &[&str]) -> String {
        let r = MintRequest::agent(&TenantId::new(tenant), agent, &parse_roles(roles))
            .sudo()
            .ttl(Duration::from_secs(120));
        mint(&self.config, &r).unwrap()
    }

    /// Headers of a request as `token` in `tenant`.
    pub fn auth(&self, token: &str, tenant: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h.insert("x-tenant-id", HeaderValue::from_str(tenant).unwrap());
        h
    }

    /// The first seeded order of `tenant` in `status`.
    pub fn order_in(&self, status: &str) -> &Order {
        self.orders
            .iter()
            .find(|o| o.status.as_str() == status)
            .unwrap_or_else(|| panic!("no seeded order in {status}"))
    }

    pub async fn get(&self, path: &str, headers: HeaderMap) -> (u16, Value) {
        let res = self
            .http
            .get(format!("{}{path}", self.api))
            .headers(headers)
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, headers: HeaderMap, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.api))
            .headers(headers)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs `body` to `path` of the test tenant as `token`, with an `Idempotency-Key` and a
    /// sudo token when given: the status and the JSON body.
    pub async fn admin_post(
        &self,
        token: &str,
        path: &str,
        key: Option<&str>,
        sudo: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        self.post_as(token, TENANT, path, key, sudo, body).await
    }

    /// As [`TestApp::admin_post`], for a token of `tenant`.
    pub async fn post_as(
        &self,
        token: &str,
        tenant: &str,
        path: &str,
        key: Option<&str>,
        sudo: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        let mut h = self.auth(token, tenant);
        if let Some(k) = key {
            h.insert("idempotency-key", k.parse().unwrap());
        }
        if let Some(s) = sudo {
            h.insert("x-admin-auth-sudo", s.parse().unwrap());
        }
        let res = self.post(path, h, &body).await;
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The admin view of `order`, read by an agent of the test tenant (200 asserted).
    pub async fn admin_view(&self, order: &str) -> Value {
        let token = self.agent_token(TENANT, "agt_view", &["cs_agent"]);
        let path = format!("/v1/admin/orders/{order}");
        let (status, v) = self.get(&path, self.auth(&token, TENANT)).await;
        assert_eq!(status, 200, "{v}");
        v
    }

    /// An answer that accepted a job (202), once that job succeeded: the answer.
    pub async fn job_succeeded(&self, (status, body): (u16, Value)) -> Value {
        assert_eq!(status, 202, "{body}");
        let job = self.wait_job(body["job"]["id"].as_str().unwrap(), 20).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        body
    }

    /// Polls a job until it ends (or panics after `secs`).
    pub async fn wait_job(&self, job_id: &str, secs: u64) -> Value {
        let token = self.agent_token(TENANT, "agt_poll", &["admin"]);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let (status, job) = self
                .get(
                    &format!("/v1/admin/jobs/{job_id}"),
                    self.auth(&token, TENANT),
                )
                .await;
            assert_eq!(status, 200, "{job}");
            if !matches!(job["status"].as_str(), Some("queued") | Some("running")) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {job_id} did not finish in {secs}s: {job}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ships `order_id` (tenant [`TENANT`]) with UPS at the sandbox and waits until the
    /// sandbox's event put the shipment into the read model; returns the first shipment.
    pub async fn ship_at_sandbox(&self, order_id: &OrderId) -> orderdesk::domain::order::Shipment {
        let res = self
            .http
            .post(format!("{}/sandbox/orders/{order_id}/ship", self.sandbox))
            .header("x-tenant-id", TENANT)
            .json(&serde_json::json!({"carrier": "UPS"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let mut conn = self.state.db.acquire().await.unwrap();
            let order = db::orders::get(&mut conn, &TenantId::new(TENANT), order_id, None)
                .await
                .unwrap()
                .expect("the order is in the read model");
            if let Some(s) = order.shipments.first() {
                return s.clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the shipment event never arrived"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The sandbox's record of effects on an order (`GET /sandbox/effects`).
    pub async fn effects(&self, tenant: &str, order_id: impl AsRef<str>) -> Vec<Value> {
        let order_id = order_id.as_ref();
        let res = self
            .http
            .get(format!(
                "{}/sandbox/effects?order_id={order_id}",
                self.sandbox
            ))
            .header("x-tenant-id", tenant)
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        body["data"].as_array().cloned().unwrap_or_default()
    }

    pub async fn effects_of_kind(
        &self,
        tenant: &str,
        order_id: impl AsRef<str>,
        kind: &str,
    ) -> usize {
        let order_id = order_id.as_ref();
        self.effects(tenant, order_id)
            .await
            .iter()
            .filter(|e| e["kind"] == kind)
            .count()
    }

    pub async fn set_faults(&self, body: Value) {
        let res = self
            .http
            .post(format!("{}/sandbox/faults", self.sandbox))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }

    /// GETs `path` (from the sandbox's root, e.g. `/sandbox/orders/ord_1`) as [`TENANT`]
    /// and answers its JSON; anything but 200 fails the test.
    pub async fn sandbox_get(&self, path: &str) -> Value {
        let res = self
            .http
            .get(format!("{}{path}", self.sandbox))
            .header("x-tenant-id", TENANT)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        res.json().await.unwrap()
    }

    pub async fn clear_faults(&self) {
        self.http
            .delete(format!("{}/sandbox/faults", self.sandbox))
            .send()
            .await
            .unwrap();
    }
}

fn parse_roles(roles: &[&str]) -> Vec<orderdesk::auth::Role> {
    roles.iter().map(|r| r.parse().unwrap()).collect()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
        for w in &self.workers {
            w.cancel();
        }
        cleanup::remove_blocking(cleanup::TestData {
            db_name: self.db_name.clone(),
            redis_url: self.config.redis_url.clone(),
            redis_prefix: self.config.redis_prefix.clone(),
            apalis_workers_sets: self.state.queue.workers_sets(),
        });
    }
}

/// A concrete URL path for a documented, templated one: each `{param}` becomes `fill(param)`.
pub fn concrete_path<'a>(path: &str, fill: impl Fn(&str) -> &'a str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').expect("closed brace") + start;
        out.push_str(&rest[..start]);
        out.push_str(fill(&rest[start + 1..end]));
        rest = &rest[end + 1..];
    }
    out + rest
}
