//! Scenario (g): fairness between queues. One worker process takes every queue, as a
//! deployment that does not split them would; a 10,000-order `bulk_update_status` job (the
//! real job and item actions, each item a `hold_order` run of one no-op step in the bulk
//! queue, so the bulk side goes as fast as the engine lets it) runs while interactive runs
//! are sent one at a time, [`super::pickup`]'s way, from the moment items flow until the
//! bulk job ends. Their pick-up latency is compared with the same probe against the same
//! idle worker, measured in the same round.

use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::json;
use uuid::Uuid;

use super::env::{self, BenchEnv};
use super::pickup::{self, PickupSample, Probes};
use super::summary::{Figure, Summary};
use super::{load_line, medians, q};
use orderdesk::domain::bulk::{BulkStatusInput, ItemChange, MAX_BULK_ORDERS, Requester};
use orderdesk::domain::ids::TenantId;
use orderdesk::domain::order::OrderStatus;
use orderdesk::domain::transitions::OrderAction;
use orderdesk::jobs::{self, NewRun};
use orderdesk::seed;

/// The tenant whose orders the bulk job holds (its own, apart from the other scenarios').
const TENANT: &str = "bench_bulk";
const BULK_WORKFLOW: &str = "bulk_update_status";
/// Items finished before the probe starts: the bulk job is in full flow by then.
const WARM_ITEMS: i64 = 200;
/// Give up when the bulk job has not moved for this long.
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// One round: the probe against an idle worker, and the same probe during a bulk job.
struct Round {
    idle: PickupSample,
    busy: PickupSample,
    /// Bulk items finished per second while the probe ran.
    items_per_sec: f64,
    /// Whole bulk job, from its commit to its end.
    bulk_elapsed: Duration,
}

/// Seeds the tenant with [`MAX_BULK_ORDERS`] open orders, measures `repeat` rounds, prints
/// the table and adds the medians to `summary`.
pub async fn report(env: &BenchEnv, repeat: usize, summary: &mut Summary) -> anyhow::Result<()> {
    println!(
        "\n(g) fairness: interactive pick-up (commit → step 1, ms) of single runs {} ms apart, against 1\n    worker process taking every queue: idle, and while a {MAX_BULK_ORDERS}-order bulk hold job runs in the\n    bulk queue (items of one no-op step, at most {} of the tenant in flight)",
        pickup::GAP.as_millis(),
        orderdesk::workflows::actions::TENANT_IN_FLIGHT
    );
    seed_orders(env).await?;
    println!("{}", load_line());
    println!(
        "    {:<8}{:>10}{:>10}{:>10}{:>10}{:>8}{:>11}{:>10}",
        "sample", "idle p50", "idle p99", "bulk p50", "bulk p99", "probes", "items/s", "bulk s"
    );
    let line = |label: &str, r: &[f64; 7]| {
        println!(
            "    {label:<8}{:>10.2}{:>10.2}{:>10.2}{:>10.2}{:>8.0}{:>11.0}{:>10.1}",
            r[0], r[1], r[2], r[3], r[4], r[5], r[6]
        )
    };
    let mut rows = Vec::new();
    for i in 1..=repeat {
        let r = round(env).await?;
        let (idle, busy) = (&r.idle.to_step1_ms, &r.busy.to_step1_ms);
        let row = [
            q(idle, 0.5),
            q(idle, 0.99),
            q(busy, 0.5),
            q(busy, 0.99),
            busy.len() as f64,
            r.items_per_sec,
            r.bulk_elapsed.as_secs_f64(),
        ];
        line(&i.to_string(), &row);
        rows.push(row);
    }
    let m = medians(&rows);
    line("median", &m);
    let busy_p99 = m[3];
    summary.push(Figure::relative(
        "g.interactive_p99_during_bulk_ms",
        "(g) pick-up during a 10k bulk job, p99",
        busy_p99,
        "ms",
        "< 5 ms; ratio to idle p99, same round",
        Some(("idle worker's p99, same round".into(), m[1])),
        |_| busy_p99 < 5.0,
    ));
    Ok(())
}

/// The tenant and its [`MAX_BULK_ORDERS`] orders, every one of them open to a hold.
async fn seed_orders(env: &BenchEnv) -> anyhow::Result<()> {
    let tenant = TenantId::new(TENANT);
    let mut n = MAX_BULK_ORDERS * 2;
    loop {
        let open: Vec<_> = seed::demo_orders(&tenant, n / 10, n)
            .into_iter()
            .filter(|o| matches!(o.status, OrderStatus::Pending | OrderStatus::Confirmed))
            .take(MAX_BULK_ORDERS)
            .collect();
        if open.len() == MAX_BULK_ORDERS {
            return seed::apply(&env.state.db, &tenant, &seed::demo_settings(), &open).await;
        }
        n *= 2;
    }
}

async fn round(env: &BenchEnv) -> anyhow::Result<Round> {
    let idle = pickup::measure(env).await?;
    reset(env).await?;
    let mut procs = env::start_workers(env, 1).await?;
    let started = Instant::now();
    let bulk = start_bulk(env).await?;
    wait_items(env, bulk, WARM_ITEMS).await?;
    let (before, at) = (finished_items(env, bulk).await?, Instant::now());
    let mut probes = Probes::default();
    while !bulk_ended(env, bulk).await? {
        probes.send_one(env).await?;
        if started.elapsed() > Duration::from_secs(600) {
            bail!("the bulk job did not end within 10 minutes");
        }
    }
    let bulk_elapsed = started.elapsed();
    let items_per_sec =
        (finished_items(env, bulk).await? - before) as f64 / at.elapsed().as_secs_f64();
    if probes.is_empty() {
        bail!("the bulk job ended before any probe was sent");
    }
    probes.wait_succeeded(env).await?;
    check_bulk_succeeded(env, bulk).await?;
    procs[0].check_alive()?;
    env::stop_all(procs).await?;
    let busy = probes.latencies(env).await?;
    Ok(Round {
        idle,
        busy,
        items_per_sec,
        bulk_elapsed,
    })
}

/// Empties the run tables and the holds the last round's bulk job placed.
async fn reset(env: &BenchEnv) -> anyhow::Result<()> {
    env.reset_runs().await?;
    sqlx::query("TRUNCATE order_holds, run_items")
        .execute(&env.state.db)
        .await?;
    Ok(())
}

/// Commits and dispatches a bulk hold of every order of the tenant, as the API would.
async fn start_bulk(env: &BenchEnv) -> anyhow::Result<Uuid> {
    let input = BulkStatusInput {
        filter: None,
        text: None,
        change: ItemChange {
            action: OrderAction::Hold,
            reason: "bench: fairness".into(),
            duration_minutes: None,
            cancel: None,
        },
        requester: Requester {
            requested_by: "agent:bench".into(),
            roles: vec!["admin".into()],
        },
    };
    let new = NewRun {
        tenant_id: TenantId::new(TENANT),
        kind: BULK_WORKFLOW.into(),
        subject_id: Some("orders".into()),
        customer_id: None,
        requested_by: "agent:bench".into(),
        input: json!(input),
        correlation_id: None,
        queue: None,
    };
    let mut tx = env.state.db.begin().await?;
    let run = jobs::enqueue_for_dispatch(&mut tx, &env.state.workflows, new).await?;
    tx.commit().await?;
    jobs::dispatch(&env.state.db, &env.state.queue, &(&run).into()).await;
    Ok(run.id.as_uuid())
}

async fn finished_items(env: &BenchEnv, bulk: Uuid) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM run_items WHERE run_id = $1 AND status NOT IN ('pending', 'running')",
    )
    .bind(bulk)
    .fetch_one(&env.state.db)
    .await?)
}

/// Waits until `n` of the bulk job's items finished.
async fn wait_items(env: &BenchEnv, bulk: Uuid, n: i64) -> anyhow::Result<()> {
    let since = Instant::now();
    while finished_items(env, bulk).await? < n {
        if since.elapsed() > STALL_LIMIT {
            bail!("fewer than {n} bulk items finished in {STALL_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn bulk_ended(env: &BenchEnv, bulk: Uuid) -> anyhow::Result<bool> {
    let status: String = sqlx::query_scalar("SELECT status FROM runs WHERE id = $1")
        .bind(bulk)
        .fetch_one(&env.state.db)
        .await?;
    Ok(!matches!(status.as_str(), "queued" | "running"))
}

/// The bulk job succeeded and held every order: a fairness figure of a job that failed
/// would flatter the interactive side.
async fn check_bulk_succeeded(env: &BenchEnv, bulk: Uuid) -> anyhow::Result<()> {
    let (status, succeeded): (String, i64) = sqlx::query_as(
        "SELECT r.status, (SELECT count(*) FROM run_items i WHERE i.run_id = r.id AND i.status = 'succeeded')
         FROM runs r WHERE r.id = $1",
    )
    .bind(bulk)
    .fetch_one(&env.state.db)
    .await?;
    if status != "succeeded" || succeeded != MAX_BULK_ORDERS as i64 {
        bail!("the bulk job ended {status} with {succeeded} of {MAX_BULK_ORDERS} items succeeded");
    }
    Ok(())
}
