//! The `orderdesk` command line: subcommands only; the work is in the library.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use orderdesk_sandbox as sandbox;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use orderdesk::api::Surface;
use orderdesk::auth::Role;
use orderdesk::auth::guest::confirmation_token;
use orderdesk::auth::mint::{MintRequest, mint, parse_ttl};
use orderdesk::config::{Config, DEFAULT_API_ADDR, DEFAULT_SANDBOX_ADDR};
use orderdesk::domain::ids::{CustomerId, TenantId};
use orderdesk::domain::order::Order;
use orderdesk::{app, db, seed, telemetry, workers};

/// glibc's allocator spent a fifth of the api's CPU on the read path (perf, bench (c));
/// mimalloc's thread-local free lists make the many small per-request allocations cheap.
/// Built without transparent huge pages (`no_thp`): mimalloc `madvise`d its arenas for them,
/// and where THP is `madvise` a worker exporting a million rows held 108 MiB resident for a
/// live heap under 20 MiB (85 MiB without; the order read (c) measured the same both ways).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's defaults keep freed memory resident: arenas committed up front (on Linux a
/// purge then only marks pages reusable, still counted resident) and purges delayed by 10 ms.
/// A worker exporting 300k rows as Parquet held 74 MiB with them and 41 MiB with these two;
/// the runs benchmark (a) saw no cost. They are defaults: `MIMALLOC_ARENA_EAGER_COMMIT` and
/// `MIMALLOC_PURGE_DELAY` in the environment still win. Set from a constructor because the
/// first arena is reserved by the first allocation, which Rust's runtime makes before `main`.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static ALLOCATOR_DEFAULTS: extern "C" fn() = allocator_defaults;

#[cfg(target_os = "linux")]
extern "C" fn allocator_defaults() {
    // Indices into mimalloc v3's `mi_option_t` (mimalloc.h); libmimalloc-sys names neither.
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets two plain integers of mimalloc's option table; `set_default` leaves an
    // option already read from the environment as it is.
    unsafe {
        libmimalloc_sys::mi_option_set_default(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set_default(PURGE_DELAY, 0);
    }
}

#[derive(Parser)]
#[command(
    name = "orderdesk",
    version,
    about = "Order-management backend: customer and admin APIs over durable workflows"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// api + worker + sandbox in one process: creates, migrates and seeds the database.
    Dev {
        #[arg(long, default_value = DEFAULT_API_ADDR)]
        addr: SocketAddr,
        #[arg(long, default_value = DEFAULT_SANDBOX_ADDR)]
        sandbox_addr: SocketAddr,
        #[arg(long, default_value_t = 60)]
        customers: usize,
        #[arg(long, default_value_t = 600)]
        orders: usize,
    },
    /// The HTTP API only.
    Api {
        #[arg(long, default_value = DEFAULT_API_ADDR)]
        addr: SocketAddr,
        #[arg(long, value_enum, default_value = "all")]
        surface: Surface,
    },
    /// A worker process: runs workflows, relays the outbox, sweeps leases.
    Worker {
        /// Runs of each queue executed at the same time.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// The queues to take runs from, comma-separated (default: every queue the
        /// workflows name), e.g. `--queues exports,bulk`.
        #[arg(long, value_delimiter = ',')]
        queues: Vec<String>,
    },
    /// Exports orders from a running orderdesk (its admin API): starts the export, shows
    /// its progress, downloads the file to `--out` and checks it against the manifest.
    Export(orderdesk::cli::export::ExportArgs),
    /// GETs a URL and exits 0 if it answers 2xx, else 1: the containers' healthcheck.
    Healthcheck {
        /// Default: the api's health endpoint on its default port.
        #[arg(long, default_value = DEFAULT_HEALTH_URL)]
        url: String,
        #[arg(long, default_value_t = 3)]
        timeout_secs: u64,
    },
    /// The reference upstream services with fault injection.
    Sandbox {
        #[arg(long, default_value = DEFAULT_SANDBOX_ADDR)]
        addr: SocketAddr,
        /// Where to send signed domain events (orderdesk's ingest endpoint).
        #[arg(long, env = "ORDERDESK_EVENTS_INGEST_URL")]
        events_url: Option<String>,
    },
    /// Creates the database if needed and applies migrations (orderdesk's and the sandbox's).
    Migrate,
    /// Prints the OpenAPI document, the same as `/openapi.json`.
    Openapi,
    /// Deterministic demo data: the same counts always give the same data. A tenant without
    /// orders is loaded with COPY, so a million orders take about a minute, not hours.
    Seed {
        #[arg(long, default_value = "demo")]
        tenant: String,
        #[arg(long, default_value_t = 600)]
        orders: usize,
        #[arg(long, default_value_t = 60)]
        customers: usize,
        /// Only orderdesk's read model, not the sandbox's canonical orders (which are
        /// written one by one): for search benchmarks over a million orders.
        #[arg(long)]
        read_model_only: bool,
    },
    /// Prints a JWT signed with the configured HS256 key, for local use and tests; with
    /// `--guest`, the guest-lookup token of an order's confirmation instead.
    Token {
        #[arg(long)]
        tenant: String,
        #[arg(long, conflicts_with = "agent", required_unless_present_any = ["agent", "guest"])]
        customer: Option<String>,
        #[arg(long)]
        agent: Option<String>,
        /// Comma-separated roles of an agent token.
        #[arg(long, value_delimiter = ',', requires = "agent")]
        roles: Vec<String>,
        /// The short-lived step-up token for X-Admin-Auth-Sudo.
        #[arg(long, requires = "agent")]
        sudo: bool,
        #[arg(long, default_value = "15m")]
        ttl: String,
        /// The confirmation token of an order (ORDERDESK_GUEST_SECRET), for guest lookup.
        #[arg(long, conflicts_with_all = ["customer", "agent"], requires_all = ["order_number", "email"])]
        guest: bool,
        #[arg(long, requires = "guest")]
        order_number: Option<String>,
        #[arg(long, requires = "guest")]
        email: Option<String>,
    },
}

impl Command {
    /// The long-running production processes, which refuse the development secrets.
    fn serves(&self) -> bool {
        matches!(
            self,
            Command::Api { .. } | Command::Worker { .. } | Command::Sandbox { .. }
        )
    }
}

const DEFAULT_HEALTH_URL: &str = "http://127.0.0.1:8080/v1/customer/health";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // a client of a running orderdesk: none of this process's configuration applies
    let cli = match cli.command {
        Command::Export(args) => return orderdesk::cli::export::run(args).await,
        command => Cli { command },
    };
    // configuration-free: it only GETs a URL, beside any process and whatever its settings
    if let Command::Healthcheck { url, timeout_secs } = &cli.command {
        return app::healthcheck(url, Duration::from_secs(*timeout_secs)).await;
    }
    telemetry::init(!matches!(
        cli.command,
        Command::Dev { .. } | Command::Token { .. }
    ));
    let result = run(cli.command).await;
    // the spans of the last requests and runs, when they are exported
    telemetry::shutdown();
    result
}

async fn run(command: Command) -> anyhow::Result<()> {
    let config = if command.serves() {
        Config::from_env()?
    } else {
        Config::from_env_allowing_dev_secrets()?
    };
    let shutdown = CancellationToken::new();
    app::cancel_on_signal(shutdown.clone());
    match command {
        // answered in `main` before any configuration is read
        Command::Export(args) => orderdesk::cli::export::run(args).await,
        Command::Dev {
            addr,
            sandbox_addr,
            customers,
            orders,
        } => {
            app::run_dev(
                config,
                app::DevOptions {
                    addr,
                    sandbox_addr,
                    customers,
                    orders,
                    concurrency: 32,
                },
                Sandbox,
                shutdown,
            )
            .await
        }
        Command::Api { addr, surface } => {
            let state = app::build_state(config, 32).await?;
            app::spawn_metrics(&state.config, shutdown.clone()).await?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            tracing::info!(%addr, ?surface, "api listening");
            app::serve_api(listener, state, surface, shutdown).await
        }
        Command::Worker {
            concurrency,
            queues,
        } => {
            let state = app::build_state(config, (concurrency as u32 + 4).min(64)).await?;
            app::spawn_metrics(&state.config, shutdown.clone()).await?;
            workers::run(
                state.worker_ctx(),
                state.queue.clone(),
                workers::WorkerOptions {
                    concurrency,
                    name_prefix: "worker".into(),
                    queues,
                },
                shutdown,
            )
            .await
        }
        Command::Sandbox { addr, events_url } => {
            let pool = db::connect(&config.database_url, 16).await?;
            sandbox::migrate(&pool).await?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            tracing::info!(%addr, "sandbox listening");
            let cfg = sandbox::SandboxConfig {
                events_url,
                events_secret: config.events_secret.clone(),
            };
            let serving = sandbox::serve(listener, pool, cfg, shutdown.clone());
            app::drain_within(serving, &shutdown, config.shutdown_grace).await
        }
        Command::Openapi => {
            println!("{}", orderdesk::api::openapi().to_pretty_json()?);
            Ok(())
        }
        Command::Migrate => {
            let pool = db::connect(&config.database_url, 2).await?;
            db::migrate(&pool).await?;
            sandbox::migrate(&pool).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Seed {
            tenant,
            orders,
            customers,
            read_model_only,
        } => {
            let pool = db::connect(&config.database_url, 4).await?;
            db::migrate(&pool).await?;
            sandbox::migrate(&pool).await?;
            let tenant = TenantId::new(tenant);
            let started = std::time::Instant::now();
            seed::load_read_model(&pool, &tenant, customers, orders).await?;
            println!(
                "read model loaded in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            if !read_model_only {
                for batch in seed::demo_batches(&tenant, customers, orders, 10_000) {
                    sandbox::seed_orders(&pool, &batch).await?;
                }
            }
            println!(
                "seeded tenant {tenant}: {customers} customers, {orders} orders\n\
                 tokens (with this process's ORDERDESK_JWT_SECRET; under docker compose, prefix\n\
                 `docker compose run --rm seed` instead of `orderdesk`):\n  \
                 orderdesk token --tenant {tenant} --customer {}\n  \
                 orderdesk token --tenant {tenant} --agent agt_demo --roles admin",
                seed::customer_id(0)
            );
            Ok(())
        }
        Command::Token {
            tenant,
            customer,
            agent,
            roles,
            sudo,
            ttl,
            guest,
            order_number,
            email,
        } => {
            if let (true, Some(number), Some(email)) = (guest, order_number, email) {
                let secret = &config.guest_secret;
                println!("{}", confirmation_token(secret, &tenant, &number, &email));
                return Ok(());
            }
            let ttl: Duration = parse_ttl(&ttl)?;
            let tenant = TenantId::new(tenant);
            let req = match (customer, agent) {
                (Some(c), _) => MintRequest::customer(&tenant, &CustomerId::new(c)).ttl(ttl),
                (None, Some(a)) => {
                    let roles = roles
                        .iter()
                        .map(|r| r.parse::<Role>().map_err(anyhow::Error::msg))
                        .collect::<anyhow::Result<Vec<_>>>()?;
                    let r = MintRequest::agent(&tenant, &a, &roles).ttl(ttl);
                    if sudo { r.sudo() } else { r }
                }
                (None, None) => anyhow::bail!("give --customer ID or --agent ID"),
            };
            println!("{}", mint(&config, &req)?);
            Ok(())
        }
        Command::Healthcheck { .. } => Ok(()), // answered before the configuration is read
    }
}

/// `dev`'s canonical services: the sandbox crate, which only the binary links.
struct Sandbox;

impl app::DevUpstream for Sandbox {
    async fn migrate(&self, pool: &PgPool) -> anyhow::Result<()> {
        sandbox::migrate(pool).await
    }
    async fn seed(&self, pool: &PgPool, orders: &[Order]) -> anyhow::Result<()> {
        sandbox::seed_orders(pool, orders).await
    }
    fn serve(
        self,
        listener: TcpListener,
        pool: PgPool,
        events_url: String,
        events_secret: Vec<u8>,
        shutdown: CancellationToken,
    ) -> impl Future<Output = anyhow::Result<()>> + Send + 'static {
        let cfg = sandbox::SandboxConfig {
            events_url: Some(events_url),
            events_secret,
        };
        sandbox::serve(listener, pool, cfg, shutdown)
    }
}
