//! The events relay and the webhook delivery loop stop at shutdown even with a backlog:
//! the relay finishes the pass in progress and starts no other, the delivery loop waits for
//! the sends under way and claims no more (a loop that went on while busy kept a worker
//! past its grace period after SIGTERM).

use std::time::Duration;

use orderdesk::domain::ids::TenantId;
use orderdesk::events::{EventsCtx, deliver, relay};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::helpers::{self, Options, TENANT, TestApp};

async fn app_and_ctx() -> (TestApp, EventsCtx) {
    let app = helpers::spawn_with(Options {
        workers: 0,
        ..Options::default()
    })
    .await;
    let ctx = EventsCtx {
        db: app.state.db.clone(),
        config: app.state.config.clone(),
        redis: app.state.redis.clone(),
    };
    (app, ctx)
}

/// A token already cancelled: the shutdown came while the loop was busy.
fn cancelled() -> CancellationToken {
    let token = CancellationToken::new();
    token.cancel();
    token
}

#[tokio::test]
async fn the_relay_stops_after_its_pass_at_shutdown_with_events_left() {
    let (app, ctx) = app_and_ctx().await;
    let tenant = TenantId::new(TENANT);
    let mut conn = app.state.db.acquire().await.unwrap();
    // three full passes (200 events each) and more
    for n in 0..700 {
        orderdesk::db::events::record(&mut conn, &tenant, "order.updated", None, json!({ "n": n }))
            .await
            .unwrap();
    }
    drop(conn);
    tokio::time::timeout(Duration::from_secs(30), relay::run(ctx, cancelled()))
        .await
        .expect("the relay stops");
    let sent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM outbox WHERE kind = 'event' AND sent_at IS NOT NULL",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    let unsent: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE kind = 'event' AND sent_at IS NULL")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    // sent events without an order are deleted: what is left unsent tells the passes made
    assert_eq!(sent, 0);
    assert_eq!(unsent, 500, "one pass of 200, then the shutdown");
}

#[tokio::test]
async fn the_delivery_loop_claims_nothing_more_at_shutdown_with_deliveries_due() {
    let (app, ctx) = app_and_ctx().await;
    // one due delivery to each of 100 webhooks, each refused at once (not HTTP): nothing
    // leaves the machine
    sqlx::query(
        "WITH w AS (
           INSERT INTO webhooks (id, tenant_id, url, secret, created_by)
           SELECT gen_random_uuid(), $1, 'ftp://example.com/hook', 'sealed:v1:x', 'test'
           FROM generate_series(1, 100)
           RETURNING id)
         INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, event_type, payload,
                                         next_attempt_at)
         SELECT gen_random_uuid(), $1, w.id, 'evt_' || w.id, 'order.updated', '{}', now()
         FROM w",
    )
    .bind(TENANT)
    .execute(&app.state.db)
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(30), deliver::run(ctx, cancelled()))
        .await
        .expect("the delivery loop stops");
    let attempted: i64 =
        sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE attempts > 0")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(attempted, 0, "nothing is claimed after a shutdown");
}
