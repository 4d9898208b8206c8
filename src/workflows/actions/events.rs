//! `events.replay`: re-delivers an order's recorded events, oldest first, marked
//! `replay: true`, to one webhook (as deliveries the delivery loop sends in order) or to the
//! events stream.

use futures::future::BoxFuture;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::db;
use crate::events::relay::{STREAM_MAXLEN, stream_key};
use crate::events::replay::{MAX_EVENTS, ReplayInput, STREAM};
use crate::workflows::step::{StepCtx, StepError, with_result};

pub fn replay(ctx: StepCtx<'_>) -> BoxFuture<'_, Result<Value, StepError>> {
    Box::pin(async move {
        let input: ReplayInput = ctx.input_as()?;
        let mut conn = ctx.state.db.acquire().await.map_err(StepError::database)?;
        let (from, to) = (input.from, input.to);
        let mut events = db::events::of_order(
            &mut conn,
            ctx.tenant(),
            &input.order_id,
            from,
            to,
            &input.types,
        )
        .await
        .map_err(StepError::database)?;
        if events.len() > MAX_EVENTS {
            return Err(StepError::permanent(
                StatusCode::UNPROCESSABLE_ENTITY,
                "replay.too_many_events",
                format!("more than {MAX_EVENTS} events: replay a narrower from/to window"),
            ));
        }
        // the job's id lets a receiver (and a retried step) tell one replay from another
        for e in &mut events {
            e["replay"] = Value::Bool(true);
            e["replay_job_id"] = json!(ctx.run.id);
        }
        let n = events.len();
        if input.target == STREAM {
            to_stream(&ctx, &events).await?;
        } else {
            let webhook = Uuid::try_parse(&input.target).map_err(|_| {
                StepError::invalid_input("target is neither a webhook id nor stream")
            })?;
            let found = db::webhooks::get(&mut conn, ctx.tenant(), webhook)
                .await
                .map_err(StepError::database)?;
            if found.is_none() {
                return Err(StepError::permanent(
                    StatusCode::NOT_FOUND,
                    "replay.unknown_webhook",
                    "the target webhook was deleted",
                ));
            }
            db::webhooks::enqueue_replay(&mut conn, ctx.tenant(), webhook, ctx.run.id, &events)
                .await
                .map_err(StepError::database)?;
        }
        let result = json!({ "events": n, "target": input.target });
        Ok(with_result(result, json!({})))
    })
}

async fn to_stream(ctx: &StepCtx<'_>, events: &[Value]) -> Result<(), StepError> {
    // Redis's error names its host: the log keeps it, the job's error (shown to callers) not
    let unavailable = |e: redis::RedisError| {
        tracing::warn!(error = %e, "replay could not reach the event stream");
        StepError::Retryable(Box::new(crate::error::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "replay.stream_unavailable",
            "the event stream is unavailable; the replay is retried",
        )))
    };
    let client = redis::Client::open(ctx.state.config.redis_url.as_str()).map_err(unavailable)?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(unavailable)?;
    let key = stream_key(&ctx.state.config.redis_prefix);
    let mut pipe = redis::pipe();
    for e in events {
        pipe.cmd("XADD")
            .arg(&key)
            .arg("MAXLEN")
            .arg("~")
            .arg(STREAM_MAXLEN)
            .arg("*")
            .arg("type")
            .arg(e["type"].as_str().unwrap_or_default())
            .arg("tenant_id")
            .arg(ctx.tenant().as_str())
            .arg("replay")
            .arg("true")
            .arg("event")
            .arg(e.to_string())
            .ignore();
    }
    pipe.query_async::<()>(&mut conn).await.map_err(unavailable)
}
