//! Assembling processes from configuration: the shared state, the api server, and `dev`
//! (api + worker + the canonical services in one process). `main.rs` only parses the
//! command line, and supplies `dev`'s canonical services (the sandbox crate).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, Surface};
use crate::auth::Verifier;
use crate::config::Config;
use crate::domain::ids::TenantId;
use crate::domain::order::Order;
use crate::jobs::TriggerQueue;
use crate::state::AppState;
use crate::workflows::Registry;
use crate::{db, seed, workers};

/// Connects to Postgres and Redis and loads keys and workflows; fails with a clear message.
pub async fn build_state(config: Config, max_db_connections: u32) -> anyhow::Result<AppState> {
    let workflows = Registry::load(&config.workflows_file)?;
    let pool = db::connect(&config.database_url, max_db_connections).await?;
    let redis = connect_redis(&config.redis_url).await?;
    let queue = TriggerQueue::new(&config, redis.clone(), workflows.queues());
    let auth = Verifier::new(&config)
        .await
        .context("cannot set up JWT verification")?
        .with_credential_store(pool.clone());
    AppState::new(pool, redis, config, auth, workflows, queue)
}

/// A Redis connection that reconnects by itself, with a response timeout long enough that
/// a short stall is not taken for a dead server.
pub async fn connect_redis(url: &str) -> anyhow::Result<redis::aio::ConnectionManager> {
    let client =
        redis::Client::open(url).with_context(|| format!("REDIS_URL is not valid: {url}"))?;
    let cfg = redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(std::time::Duration::from_secs(10)))
        .set_connection_timeout(Some(std::time::Duration::from_secs(5)));
    redis::aio::ConnectionManager::new_with_config(client, cfg)
        .await
        .with_context(|| format!("cannot connect to Redis at {url}"))
}

/// Serves the API on `listener` until `shutdown`; then stops accepting connections and
/// lets open requests finish within the shutdown grace period.
pub async fn serve_api(
    listener: TcpListener,
    state: AppState,
    surface: Surface,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let grace = state.config.shutdown_grace;
    let watched = state.clone();
    let stop_watching = shutdown.clone();
    tokio::spawn(async move {
        let s = &watched;
        s.tenant_settings.watch(&s.db, stop_watching).await;
    });
    let app = api::router(state, surface).into_make_service_with_connect_info::<SocketAddr>();
    let serving =
        axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    drain_within(async { Ok(serving.await?) }, &shutdown, grace).await
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM (what `docker stop` and Kubernetes send), so
/// that every process stops the same way whichever it gets.
pub fn cancel_on_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    tokio::spawn(async move {
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
                shutdown.cancel();
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
        }
        shutdown.cancel();
    });
}

/// Runs `serving` (a server that drains by itself once `shutdown` is cancelled) to its end,
/// but for no longer than `grace` after `shutdown`: a request still open then is cut rather
/// than holding the process past the orchestrator's patience.
pub async fn drain_within(
    serving: impl Future<Output = anyhow::Result<()>>,
    shutdown: &CancellationToken,
    grace: Duration,
) -> anyhow::Result<()> {
    tokio::pin!(serving);
    tokio::select! {
        res = &mut serving => return res,
        _ = shutdown.cancelled() => {}
    }
    match tokio::time::timeout(grace, serving).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "requests still open at the end of the shutdown grace period were cut"
            );
            Ok(())
        }
    }
}

/// Serves the metrics listener (`api::metrics::router`) on `listener` until `shutdown`.
pub async fn serve_metrics(
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    axum::serve(listener, api::metrics::router())
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}

/// Listens on `ORDERDESK_METRICS_ADDR` and serves metrics there in the background; returns
/// the address bound, or `None` when metrics are off.
pub async fn spawn_metrics(
    config: &Config,
    shutdown: CancellationToken,
) -> anyhow::Result<Option<SocketAddr>> {
    let Some(addr) = config.ops.metrics_addr else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (ORDERDESK_METRICS_ADDR)"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = serve_metrics(listener, shutdown).await {
            tracing::error!(error = %format!("{e:#}"), "metrics listener stopped");
        }
    });
    tracing::info!(addr = %bound, "metrics listening");
    Ok(Some(bound))
}

/// `orderdesk healthcheck`: GETs `url`; fails unless it answers 2xx within `timeout`. The
/// containers' healthcheck, since the image has no curl.
pub async fn healthcheck(url: &str, timeout: std::time::Duration) -> anyhow::Result<()> {
    let res = reqwest::Client::builder()
        .timeout(timeout)
        .build()?
        .get(url)
        .send()
        .await
        .with_context(|| format!("no answer from {url}"))?;
    anyhow::ensure!(res.status().is_success(), "{url} answered {}", res.status());
    Ok(())
}

/// Options of `orderdesk dev`.
pub struct DevOptions {
    pub addr: SocketAddr,
    pub sandbox_addr: SocketAddr,
    pub customers: usize,
    pub orders: usize,
    pub concurrency: usize,
}

/// The canonical services `dev` runs next to the api and the worker. The binary supplies
/// the sandbox crate's, so the library (and every unit test) never links the sandbox.
pub trait DevUpstream {
    /// Creates the services' own schema if missing.
    fn migrate(&self, pool: &PgPool) -> impl Future<Output = anyhow::Result<()>>;
    /// Stores the canonical side of demo orders just written to the read model.
    fn seed(&self, pool: &PgPool, orders: &[Order]) -> impl Future<Output = anyhow::Result<()>>;
    /// Serves on `listener` until `shutdown`, sending events signed with `events_secret`
    /// to `events_url`.
    fn serve(
        self,
        listener: TcpListener,
        pool: PgPool,
        events_url: String,
        events_secret: Vec<u8>,
        shutdown: CancellationToken,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static;
}

/// api + worker + `upstream` in one process, on a migrated and seeded database.
pub async fn run_dev(
    mut config: Config,
    opts: DevOptions,
    upstream: impl DevUpstream,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let sandbox_listener = TcpListener::bind(opts.sandbox_addr)
        .await
        .with_context(|| format!("cannot listen on {}", opts.sandbox_addr))?;
    let api_listener = TcpListener::bind(opts.addr)
        .await
        .with_context(|| format!("cannot listen on {}", opts.addr))?;
    let sandbox_url = format!("http://{}", sandbox_listener.local_addr()?);
    let api_url = format!("http://{}", api_listener.local_addr()?);
    if std::env::var("ORDERDESK_UPSTREAM_URL").is_err() {
        for s in crate::config::Service::ALL {
            config
                .upstream
                .insert(s, format!("{sandbox_url}/{}", s.name()));
        }
    }
    let state = build_state(config, 16).await?;
    db::migrate(&state.db).await?;
    upstream.migrate(&state.db).await?;
    let tenant = &TenantId::new("demo");
    let mut conn = state.db.acquire().await?;
    if db::orders::count_for_tenant(&mut conn, tenant).await? == 0 {
        let orders = seed::demo_orders(tenant, opts.customers, opts.orders);
        seed::apply(&state.db, tenant, &seed::demo_settings(), &orders).await?;
        upstream.seed(&state.db, &orders).await?;
        tracing::info!(orders = orders.len(), "seeded demo data");
    }
    drop(conn);
    let metrics_url = match spawn_metrics(&state.config, shutdown.clone()).await? {
        Some(addr) => format!("http://{addr}/metrics"),
        None => "off (ORDERDESK_METRICS_ADDR=off)".into(),
    };
    let mut tasks = tokio::task::JoinSet::new();
    let sandbox_serving = upstream.serve(
        sandbox_listener,
        state.db.clone(),
        format!("{api_url}/v1/events/ingest"),
        state.config.events_secret.clone(),
        shutdown.clone(),
    );
    let grace = state.config.shutdown_grace;
    let sandbox_shutdown = shutdown.clone();
    tasks.spawn(async move { drain_within(sandbox_serving, &sandbox_shutdown, grace).await });
    tasks.spawn(serve_api(
        api_listener,
        state.clone(),
        Surface::All,
        shutdown.clone(),
    ));
    tasks.spawn(workers::run(
        state.worker_ctx(),
        state.queue.clone(),
        workers::WorkerOptions {
            concurrency: opts.concurrency,
            name_prefix: "dev".into(),
            queues: Vec::new(),
        },
        shutdown.clone(),
    ));
    print_banner(&state.config, &api_url, &sandbox_url, &metrics_url, tenant)?;
    while let Some(res) = tasks.join_next().await {
        res??;
        shutdown.cancel();
    }
    Ok(())
}

fn print_banner(
    config: &Config,
    api_url: &str,
    sandbox_url: &str,
    metrics_url: &str,
    tenant: &TenantId,
) -> anyhow::Result<()> {
    use crate::auth::mint::{MintRequest, mint};
    let day = std::time::Duration::from_secs(3600 * 12);
    let customer = mint(
        config,
        &MintRequest::customer(tenant, &seed::customer_id(0)).ttl(day),
    )?;
    let admin = mint(
        config,
        &MintRequest::agent(tenant, "agt_demo", &[crate::auth::Role::Admin]).ttl(day),
    )?;
    // the console's cookie is `Secure`: browsers keep it over plain HTTP on `localhost`
    let console_url = api_url.replace("127.0.0.1", "localhost");
    println!(
        "\norderdesk dev is running\n  api:      {api_url}\n  console:  {console_url}/console  (sign in with the admin token below)\n  docs:     {api_url}/docs  (OpenAPI: {api_url}/openapi.json)\n  metrics:  {metrics_url}\n  sandbox:  {sandbox_url}\n\n\
         customer token (cus_0001):\n  export CUSTOMER_TOKEN={customer}\nadmin token (agt_demo, role admin):\n  export ADMIN_TOKEN={admin}\n\n\
         try:\n  curl -s -H \"Authorization: Bearer $CUSTOMER_TOKEN\" -H 'X-Tenant-ID: {tenant}' {api_url}/v1/customer/orders\n  \
         curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" -H 'X-Tenant-ID: {tenant}' {api_url}/v1/admin/jobs\n"
    );
    Ok(())
}
