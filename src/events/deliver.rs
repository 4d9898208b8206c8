//! The webhook delivery loop, run by every worker process: claims due deliveries (one per
//! webhook at a time, so a receiver gets events in order), checks the target against the
//! SSRF guard, POSTs the signed event without following redirects, and records the
//! outcome: delivered, retried with exponential backoff, or failed for good — which
//! disables the webhook.
//!
//! A loop over a table rather than a run per delivery: a delivery's retries span hours
//! (the engine's step retries are for seconds to minutes), and a claim is one indexed
//! UPDATE instead of a run with its steps, trigger and lease.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::{EventsCtx, ssrf, webhook};
use crate::db;
use crate::db::webhooks::{Attempt, Due};

const SCAN_EVERY: Duration = Duration::from_millis(200);
/// Deliveries one process sends at once, each in a task of its own: a receiver that answers
/// slowly holds its own slot until it answers or times out, not a whole pass of every
/// other tenant's deliveries (until 2026-12-04 a pass of 32 waited for its slowest send).
const IN_FLIGHT: usize = 32;
/// Outcomes recorded at once: the sends share the worker's connection pool with its runs.
const RECORDING: usize = 4;
/// A claimed delivery is left alone by other workers this long.
const LEASE_MS: i64 = 60_000;
const SEND_TIMEOUT: Duration = Duration::from_secs(15);
/// What is kept of a receiver's error.
const MAX_ERROR: usize = 300;

/// Claims due deliveries while there is a free slot and sends each in its own task. At
/// shutdown it claims no more and waits for the sends under way (each at most
/// [`SEND_TIMEOUT`]), whatever is still due.
pub async fn run(ctx: EventsCtx, shutdown: CancellationToken) {
    let mut sending: JoinSet<()> = JoinSet::new();
    let recording = Arc::new(Semaphore::new(RECORDING));
    loop {
        while sending.try_join_next().is_some() {}
        if shutdown.is_cancelled() {
            while sending.join_next().await.is_some() {}
            return;
        }
        let room = IN_FLIGHT.saturating_sub(sending.len());
        let mut maybe_more = false;
        if room > 0 {
            match claim(&ctx, room).await {
                Ok(due) => {
                    maybe_more = due.len() == room;
                    for d in due {
                        let (ctx, recording) = (ctx.clone(), recording.clone());
                        sending.spawn(async move { deliver(&ctx, &recording, d).await });
                    }
                }
                Err(e) => {
                    warn!(error = %format!("{e:#}"), "webhook delivery claim failed; will retry")
                }
            }
        }
        if room == 0 || maybe_more {
            // more may be due: claim again as soon as a send ends
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = sending.join_next() => {}
            }
        } else {
            tokio::select! {
                _ = shutdown.cancelled() => {}
                _ = tokio::time::sleep(SCAN_EVERY) => {}
            }
        }
    }
}

async fn claim(ctx: &EventsCtx, n: usize) -> anyhow::Result<Vec<Due>> {
    let mut conn = ctx.db.acquire().await?;
    Ok(db::webhooks::claim_due(&mut conn, n as i64, LEASE_MS).await?)
}

/// Sends one claimed delivery and records its outcome (a failure to record leaves the
/// delivery leased: it is sent again once the lease ends).
async fn deliver(ctx: &EventsCtx, recording: &Semaphore, d: Due) {
    let seal = webhook::SecretSeal::new(&ctx.config);
    let outcome = send(&ctx.config.webhooks.allow_hosts, &seal, &d).await;
    let recorded = async {
        let _turn = recording.acquire().await?;
        let mut conn = ctx.db.acquire().await?;
        record(ctx, &mut conn, &d, outcome).await
    };
    if let Err(e) = recorded.await {
        warn!(error = %format!("{e:#}"), delivery = %d.id,
            "could not record a webhook delivery's outcome; it is sent again after its lease");
    }
}

/// The receiver's HTTP status, or why nothing was received.
type Outcome = Result<u16, String>;

async fn send(allow: &[String], seal: &webhook::SecretSeal, d: &Due) -> Outcome {
    let target = ssrf::check(&d.url, allow)
        .await
        .map_err(|e| format!("refused: {e}"))?;
    let body = serde_json::to_vec(&d.payload).map_err(|e| e.to_string())?;
    let msg_id = format!("msg_{}", d.id.simple());
    let secret = seal
        .open(&d.tenant_id, d.webhook_id, &d.secret)
        .map_err(|e| e.to_string())?;
    let headers = webhook::headers(&secret, &msg_id, Utc::now().timestamp(), &body)
        .map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        // a proxy would connect to the target itself, past the addresses checked
        .no_proxy()
        .timeout(SEND_TIMEOUT)
        .resolve_to_addrs(&target.host, &target.addrs)
        .build()
        .map_err(|e| e.to_string())?;
    let mut req = client
        .post(target.url)
        .header("content-type", "application/json")
        .header("user-agent", "orderdesk-webhooks/1");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let res = req.body(body).send().await.map_err(|e| e.to_string())?;
    Ok(res.status().as_u16())
}

async fn record(
    ctx: &EventsCtx,
    conn: &mut sqlx::PgConnection,
    d: &Due,
    outcome: Outcome,
) -> anyhow::Result<()> {
    let (http_status, error) = match outcome {
        Ok(s) if (200..300).contains(&s) => (Some(i32::from(s)), None),
        Ok(s) if (300..400).contains(&s) => (
            Some(i32::from(s)),
            Some("redirect not followed".to_string()),
        ),
        Ok(s) => (Some(i32::from(s)), Some(format!("HTTP {s}"))),
        Err(e) => (None, Some(e.chars().take(MAX_ERROR).collect())),
    };
    let cfg = &ctx.config.webhooks;
    let attempts = d.attempts + 1;
    let (status, next) = match &error {
        None => ("delivered", None),
        Some(_) if attempts >= cfg.max_attempts => ("failed", None),
        Some(_) => {
            let wait = chrono::Duration::from_std(cfg.backoff(attempts))?;
            ("pending", Some(Utc::now() + wait))
        }
    };
    let attempt = Attempt {
        id: d.id,
        http_status,
        error: error.as_deref(),
        status,
        next_attempt_at: next,
    };
    db::webhooks::record_attempt(conn, &attempt).await?;
    if status == "failed" {
        let reason = format!("disabled after {attempts} failed attempts of one delivery");
        db::webhooks::auto_disable(conn, d.webhook_id, &reason).await?;
    }
    Ok(())
}
