//! Assembling processes from configuration: the shared state, the api server, and `dev`
//! (api + worker + sandbox in one process). `main.rs` only parses the command line.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{self, Surface};
use crate::auth::Verifier;
use crate::config::Config;
use crate::jobs::TriggerQueue;
use crate::state::AppState;
use crate::upstream::Upstream;
use crate::workflows::Registry;
use crate::{db, sandbox, seed, workers};

/// Connects to Postgres and Redis and loads keys and workflows; fails with a clear message.
pub async fn build_state(config: Config, max_db_connections: u32) -> anyhow::Result<AppState> {
    let workflows = Registry::load(&config.workflows_file)?;
    let pool = db::connect(&config.database_url, max_db_connections).await?;
    let redis = connect_redis(&config.redis_url).await?;
    let queue = TriggerQueue::new(&config, redis.clone());
    let auth = Verifier::new(&config)
        .await
        .context("cannot set up JWT verification")?;
    let upstream = Upstream::new(&config)?;
    Ok(AppState {
        db: pool,
        redis,
        config: Arc::new(config),
        auth: Arc::new(auth),
        upstream: Arc::new(upstream),
        workflows: Arc::new(workflows),
        queue: Arc::new(queue),
    })
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

/// Serves the API on `listener` until `shutdown`.
pub async fn serve_api(
    listener: TcpListener,
    state: AppState,
    surface: Surface,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let app = api::router(state, surface).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
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

/// api + worker + sandbox in one process, on a migrated and seeded database.
pub async fn run_dev(
    mut config: Config,
    opts: DevOptions,
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
    sandbox::migrate(&state.db).await?;
    let tenant = "demo";
    let mut conn = state.db.acquire().await?;
    if db::orders::count_for_tenant(&mut conn, tenant).await? == 0 {
        let orders = seed::demo_orders(tenant, opts.customers, opts.orders);
        seed::apply(&state.db, tenant, &seed::demo_settings(), &orders).await?;
        tracing::info!(orders = orders.len(), "seeded demo data");
    }
    drop(conn);
    let sandbox_cfg = sandbox::SandboxConfig {
        events_url: Some(format!("{api_url}/v1/events/ingest")),
        events_secret: state.config.events_secret.clone(),
    };
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(sandbox::serve(
        sandbox_listener,
        state.db.clone(),
        sandbox_cfg,
        shutdown.clone(),
    ));
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
        },
        shutdown.clone(),
    ));
    print_banner(&state.config, &api_url, &sandbox_url, tenant)?;
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
    tenant: &str,
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
    println!(
        "\norderdesk dev is running\n  api:      {api_url}\n  docs:     {api_url}/docs  (OpenAPI: {api_url}/openapi.json)\n  metrics:  {api_url}/metrics\n  sandbox:  {sandbox_url}\n\n\
         customer token (cus_0001):\n  export CUSTOMER_TOKEN={customer}\nadmin token (agt_demo, role admin):\n  export ADMIN_TOKEN={admin}\n\n\
         try:\n  curl -s -H \"Authorization: Bearer $CUSTOMER_TOKEN\" -H 'X-Tenant-ID: {tenant}' {api_url}/v1/customer/orders\n  \
         curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" -H 'X-Tenant-ID: {tenant}' {api_url}/v1/admin/jobs\n"
    );
    Ok(())
}
