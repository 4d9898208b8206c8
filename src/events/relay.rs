//! The events relay, run by every worker process, one at a time (an advisory lock, so the
//! stream gets one sequence): claims unsent domain events from the outbox in id order, appends each to the Redis Stream
//! `{prefix}:events` (`XADD … MAXLEN ~`), fans it out to the tenant's webhook deliveries and
//! marks it sent, in one transaction. A crash between XADD and commit appends the event
//! again on the next pass: the stream is at-least-once, consumers dedupe by event id.

use std::time::Duration;

use redis::aio::ConnectionManager;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use super::EventsCtx;
use crate::db;

const SCAN_EVERY: Duration = Duration::from_millis(250);
const BATCH: i64 = 200;
/// The stream keeps about this many events (`MAXLEN ~`).
pub const STREAM_MAXLEN: usize = 100_000;
const REDIS_TIMEOUT: Duration = Duration::from_secs(3);

/// The stream's key.
pub fn stream_key(prefix: &str) -> String {
    format!("{prefix}:events")
}

pub async fn run(ctx: EventsCtx, shutdown: CancellationToken) {
    loop {
        let more = match relay_once(&ctx).await {
            Ok(n) => n == BATCH as usize,
            Err(e) => {
                warn!(error = %format!("{e:#}"), "events relay could not publish; will retry");
                false
            }
        };
        // a pass in progress finishes; none starts after a shutdown, backlog or not
        if shutdown.is_cancelled() {
            return;
        }
        if more {
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SCAN_EVERY) => {}
        }
    }
}

/// One pass; returns how many events it published.
pub async fn relay_once(ctx: &EventsCtx) -> anyhow::Result<usize> {
    let mut tx = ctx.db.begin().await?;
    if !db::events::try_relay_turn(&mut tx).await? {
        tx.commit().await?;
        return Ok(0);
    }
    let rows = db::events::claim_unsent(&mut tx, BATCH).await?;
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let key = stream_key(&ctx.config.redis_prefix);
    let mut redis = ctx.redis.clone();
    timeout(REDIS_TIMEOUT, publish(&mut redis, &key, &rows)).await??;
    let ids: Vec<i64> = rows.iter().map(|r| r.outbox_id).collect();
    let deliveries = db::events::fan_out_and_mark(&mut tx, &ids).await?;
    tx.commit().await?;
    debug!(events = ids.len(), deliveries, "events relay pass");
    Ok(ids.len())
}

async fn publish(
    redis: &mut ConnectionManager,
    key: &str,
    rows: &[db::events::Unsent],
) -> redis::RedisResult<()> {
    let mut pipe = redis::pipe();
    for r in rows {
        let kind = r.envelope["type"].as_str().unwrap_or_default();
        pipe.cmd("XADD")
            .arg(key)
            .arg("MAXLEN")
            .arg("~")
            .arg(STREAM_MAXLEN)
            .arg("*")
            .arg("type")
            .arg(kind)
            .arg("tenant_id")
            .arg(&r.tenant_id)
            .arg("event")
            .arg(r.envelope.to_string())
            .ignore();
    }
    pipe.query_async::<()>(redis).await
}
