//! Scenario "search": `POST /v1/admin/orders/search` over one tenant of a million orders. The
//! tenant is loaded by `orderdesk seed` (COPY; its time is the first figure), vacuumed as
//! autovacuum would after a load (which also lets counts over a date range read the index
//! alone), then each search shape of the README is sent one request at a time to an
//! `orderdesk api` process, and its p50 and p95 printed.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::env::BenchEnv;
use super::{load_line, q};
use orderdesk::auth::Role;
use orderdesk::auth::mint::{MintRequest, mint};
use orderdesk::domain::order::Order;

const TENANT: &str = "search";

fn tenant() -> orderdesk::domain::ids::TenantId {
    orderdesk::domain::ids::TenantId::new(TENANT)
}
/// Twenty orders per customer.
const ORDERS_PER_CUSTOMER: usize = 20;

/// One search the bench measures: the shapes of the README's "Searching orders",
/// "Performance". `target` is false for the one shape that is there to show what a search
/// over a large part of the tenant costs.
struct Shape {
    name: &'static str,
    body: Value,
    target: bool,
}

/// The shapes, over the demo data of the tenant: `known` is an order with a shipment and an
/// external reference (its e-mail, tracking number and reference are looked up), `last` the
/// newest order's time (windows end there).
fn shapes(known: &Order, last: DateTime<Utc>) -> Vec<Shape> {
    let day = |n: i64| (last - chrono::Duration::days(n)).to_rfc3339();
    let example = |since: String| {
        json!({"filter": {"and": [{"status": {"in": ["confirmed", "on_hold"]}},
                                  {"placed_at": {"gte": since}},
                                  {"not": {"tags": {"contains": "vip"}}}]},
               "text": "Market Street",
               "sort": [{"field": "placed_at", "dir": "desc"}],
               "aggregations": {"by_status": {"terms": "status"},
                                "revenue": {"sum": "total_minor", "by": "currency"},
                                "per_day": {"histogram": "placed_at", "interval": "day"}},
               "limit": 50, "cursor": null})
    };
    // the example without its text: its filter and aggregations over 28 % of the tenant
    let mut broad = example("2026-01-01T00:00:00Z".into());
    broad.as_object_mut().map(|o| o.remove("text"));
    let shape = |name, body| Shape {
        name,
        body,
        target: true,
    };
    vec![
        shape("newest 50 (no filter)", json!({})),
        shape(
            "status in (2) + 30 days, newest first",
            json!({"filter": {"and": [{"status": {"in": ["confirmed", "on_hold"]}},
                                      {"placed_at": {"gte": day(30)}}]}}),
        ),
        shape(
            "email eq",
            json!({"filter": {"email": {"eq": known.email}}}),
        ),
        shape(
            "email contains (part of the address)",
            json!({"filter": {"email": {"contains": &known.email[2..9]}}}),
        ),
        shape(
            "tracking_number contains",
            json!({"filter": {"tracking_number": {"contains": known.shipments[0].tracking_number}}}),
        ),
        shape(
            "external_ref eq",
            json!({"filter": {"external_ref": {"eq": known.external_ref}}}),
        ),
        shape(
            "sku contains, by amount desc",
            json!({"filter": {"sku": {"contains": "SKU-LAMP"}},
                   "sort": [{"field": "total_minor", "dir": "desc"}]}),
        ),
        shape(
            "tags vip + EUR 100-200, by amount",
            json!({"filter": {"and": [{"tags": {"contains": "vip"}}, {"currency": {"eq": "EUR"}},
                                      {"total_minor": {"gte": 10000, "lt": 20000}}]},
                   "sort": [{"field": "total_minor"}]}),
        ),
        shape(
            "text: a customer's name",
            json!({"text": format!("\"{}\"", known.shipping_address.name)}),
        ),
        shape(
            "text: notes + channel",
            json!({"text": "neighbour", "filter": {"channel": {"eq": "pos"}}}),
        ),
        shape("issue example, last 30 days", example(day(30))),
        shape(
            "30 days: 3 terms, revenue, per day",
            json!({"filter": {"placed_at": {"gte": day(30)}}, "limit": 20,
                   "aggregations": {"by_status": {"terms": "status"},
                                    "by_channel": {"terms": "channel"},
                                    "by_currency": {"terms": "currency"},
                                    "revenue": {"sum": "total_minor", "by": "currency"},
                                    "per_day": {"histogram": "placed_at", "interval": "day"}}}),
        ),
        shape(
            "issue example verbatim (from 2026-01-01)",
            example("2026-01-01T00:00:00Z".into()),
        ),
        Shape {
            name: "the example without text (28 % of the tenant)",
            body: broad,
            target: false,
        },
    ]
}

/// Loads `orders` orders, starts an api and measures `samples` requests of each shape.
pub async fn report(env: &BenchEnv, orders: usize, samples: usize) -> anyhow::Result<()> {
    println!(
        "\n(search) POST /v1/admin/orders/search over {orders} orders of one tenant, one request at a time, {samples} per shape"
    );
    println!("{}", load_line());
    let customers = (orders / ORDERS_PER_CUSTOMER).max(1);
    let known = orderdesk::seed::demo_orders_iter(&tenant(), customers, orders)
        .skip(orders / 2)
        .find(|o| !o.shipments.is_empty() && o.external_ref.is_some())
        .context("the demo data has shipped marketplace orders")?;
    let last = orderdesk::seed::demo_orders_iter(&tenant(), customers, orders)
        .last()
        .context("no orders")?
        .placed_at;
    let seeded = load_tenant(env, TENANT, orders).await?;
    println!("    orderdesk seed (COPY): {:.1} s", seeded.as_secs_f64());
    verdict(
        "1 M orders loaded in well under a minute (< 45 s)",
        orders < 1_000_000 || seeded < Duration::from_secs(45),
    );
    let (mut api, base) = super::load::start_api(env, "admin").await?;
    let (client, headers) = admin_client(env, TENANT)?;
    let url = format!("{base}/v1/admin/orders/search");

    println!(
        "    {:<48}{:>8}{:>10}{:>10}{:>10}",
        "shape", "found", "p50 ms", "p95 ms", "max ms"
    );
    let mut all_met = true;
    for Shape { name, body, target } in shapes(&known, last) {
        api.check_alive()?;
        let mut latencies = Vec::with_capacity(samples);
        let mut found = 0;
        for i in 0..samples + 3 {
            let sent = Instant::now();
            let res = client
                .post(&url)
                .headers(headers.clone())
                .json(&body)
                .send()
                .await?;
            let status = res.status();
            let out: Value = res.json().await?;
            let took = sent.elapsed().as_secs_f64() * 1e3;
            if status != reqwest::StatusCode::OK {
                bail!("{name}: HTTP {status}: {out}");
            }
            found = out["data"].as_array().map_or(0, Vec::len);
            // the first three warm the caches and the connection
            if i >= 3 {
                latencies.push(took);
            }
        }
        latencies.sort_by(f64::total_cmp);
        let (p50, p95) = (q(&latencies, 0.5), q(&latencies, 0.95));
        all_met &= !target || p95 < 100.0;
        println!(
            "    {name:<48}{found:>8}{p50:>10.1}{p95:>10.1}{:>10.1}{}",
            latencies.last().copied().unwrap_or(f64::NAN),
            if target { "" } else { "  (beyond the target)" }
        );
    }
    api.stop().await?;
    println!("{}", load_line());
    verdict("every shape of the target p95 < 100 ms", all_met);
    Ok(())
}

/// Loads `orders` demo orders into `tenant`'s read model with `orderdesk seed` (COPY; the
/// seed vacuums and analyzes what it loaded, so the searches run on what a user's seed
/// leaves) and lifts the agents' rate limit (the bench's agent sends requests back to back).
/// Answers how long the load took.
pub async fn load_tenant(env: &BenchEnv, tenant: &str, orders: usize) -> anyhow::Result<Duration> {
    let customers = (orders / ORDERS_PER_CUSTOMER).max(1).to_string();
    let started = Instant::now();
    let seed = env.spawn(&[
        "seed",
        "--tenant",
        tenant,
        "--orders",
        &orders.to_string(),
        "--customers",
        &customers,
        "--read-model-only",
    ])?;
    let status = seed.wait().await?;
    if !status.success() {
        bail!("orderdesk seed failed: {status}");
    }
    let seeded = started.elapsed();
    let mut settings = orderdesk::seed::demo_settings();
    settings.rate_limits.agent_per_minute = u32::MAX;
    let mut conn = env.state.db.acquire().await?;
    let id = orderdesk::domain::ids::TenantId::new(tenant);
    orderdesk::db::tenants::upsert(&mut conn, &id, tenant, &settings).await?;
    Ok(seeded)
}

/// An HTTP client and the headers of an admin agent of `tenant`.
pub fn admin_client(env: &BenchEnv, tenant: &str) -> anyhow::Result<(reqwest::Client, HeaderMap)> {
    let id = orderdesk::domain::ids::TenantId::new(tenant);
    let token = mint(
        &env.state.config,
        &MintRequest::agent(&id, "agt_bench", &[Role::Admin]),
    )?;
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}"))?,
    );
    headers.insert("x-tenant-id", HeaderValue::from_str(tenant)?);
    Ok((reqwest::Client::builder().no_proxy().build()?, headers))
}

pub fn verdict(target: &str, met: bool) {
    println!(
        "    target {target}: {}",
        if met { "met" } else { "MISSED" }
    );
}
