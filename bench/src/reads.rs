//! Scenario (c): `GET /v1/customer/orders/{id}` against an `orderdesk api` process on a
//! loopback port, seeded with 60 customers / 600 orders, next to the bare axum + sqlx + JWT
//! baseline (`bare.rs`) driven by the same load generator (`load.rs`) in the same sitting:
//! their samples alternate, so a change in the machine's load hits both alike.

use std::time::Duration;

use super::load::{self, LoadSample, Server};
use super::summary::{Figure, Summary};
use super::{load_line, medians};

const CONNECTIONS: usize = 64;
const PACED_RPS: f64 = 1_000.0;
/// BENCHMARKS.md: bare axum 0.8 + sqlx + HS256 JWT, one indexed select, wrk, 64 connections
/// (for reference; the verdicts use the baseline measured here).
const BARE_JWT_RPS_REFERENCE: f64 = 7_845.0;

/// One table row: requests, errors, rps, p50 ms, p99 ms.
type Row = [f64; 5];

fn row(s: &LoadSample) -> Row {
    [
        s.latencies_us.len() as f64,
        s.errors as f64,
        s.rps(),
        s.quantile_ms(0.5),
        s.quantile_ms(0.99),
    ]
}

fn print_row(load: &str, label: &str, r: &Row) {
    println!(
        "    {load:<28}{label:<8}{:>10.0}{:>8.0}{:>9.0}{:>9.2}{:>9.2}",
        r[0], r[1], r[2], r[3], r[4]
    );
}

/// Starts both servers, warms them up, measures `repeat` saturating samples of each
/// (alternating) and `repeat` paced samples of the api, and prints the table and verdicts.
pub async fn report(
    env: &super::env::BenchEnv,
    repeat: usize,
    duration: Duration,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    println!(
        "\n(c) GET /v1/customer/orders/{{id}} on an `orderdesk api` process (HS256 JWT, one indexed select)\n    and the bare axum + sqlx + JWT baseline, {CONNECTIONS} keep-alive connections from this process, {} s per sample",
        duration.as_secs()
    );
    println!("{}", load_line());
    let orders = load::seed(env).await?;
    let mut api = load::start(env, Server::Api, &orders).await?;
    let mut bare = load::start(env, Server::Bare, &orders).await?;
    for f in [&mut api, &mut bare] {
        f.measure(CONNECTIONS, Duration::from_secs(1), None).await?; // warm-up
    }
    println!(
        "    {:<28}{:<8}{:>10}{:>8}{:>9}{:>9}{:>9}",
        "load", "sample", "requests", "errors", "rps", "p50 ms", "p99 ms"
    );
    let (mut api_rows, mut bare_rows, mut paced_rows) = (vec![], vec![], vec![]);
    for i in 1..=repeat {
        for (label, fixture, rows) in [
            ("bare, saturating", &mut bare, &mut bare_rows),
            ("orderdesk, saturating", &mut api, &mut api_rows),
        ] {
            let s = fixture.measure(CONNECTIONS, duration, None).await?;
            print_row(label, &i.to_string(), &row(&s));
            if let Some(status) = s.first_error {
                println!("    ^ errors: the first was HTTP {status}");
            }
            rows.push(row(&s));
        }
    }
    for i in 1..=repeat {
        let s = api.measure(CONNECTIONS, duration, Some(PACED_RPS)).await?;
        print_row("orderdesk, paced 1,000 rps", &i.to_string(), &row(&s));
        paced_rows.push(row(&s));
    }
    let (b, s, p) = (
        medians(&bare_rows),
        medians(&api_rows),
        medians(&paced_rows),
    );
    print_row("bare, saturating", "median", &b);
    print_row("orderdesk, saturating", "median", &s);
    print_row("orderdesk, paced 1,000 rps", "median", &p);
    api.stop().await?;
    bare.stop().await?;
    println!("{}", load_line());
    println!(
        "    orderdesk / bare: {:.2}× the requests/s, {:.2}× the p99 (the bare baseline here: {:.2}× BENCHMARKS.md's {BARE_JWT_RPS_REFERENCE} rps with wrk)",
        s[2] / b[2],
        s[4] / b[4],
        b[2] / BARE_JWT_RPS_REFERENCE
    );
    let bare_rps = Some(("bare baseline, same run".to_string(), b[2]));
    summary.push(Figure::relative(
        "c.rps",
        "(c) order read, 64 connections",
        s[2],
        "rps",
        "≥ 0.9× bare baseline",
        bare_rps,
        |r| r >= 0.9,
    ));
    summary.push(Figure::relative(
        "c.p99_ms",
        "(c) order read p99, 64 connections",
        s[4],
        "ms",
        "≤ 1.1× bare baseline's p99",
        Some(("bare baseline p99, same run".to_string(), b[4])),
        |r| r <= 1.1,
    ));
    summary.push(Figure::absolute(
        "c.paced_p99_ms",
        "(c) order read p99, paced 1,000 rps",
        p[4],
        "ms",
        "< 5 ms",
        p[4] < 5.0,
    ));
    summary.push(Figure::absolute(
        "c.errors",
        "(c) non-200 answers",
        s[1] + p[1] + b[1],
        "",
        "0",
        s[1] == 0.0 && p[1] == 0.0 && b[1] == 0.0,
    ));
    Ok(())
}
