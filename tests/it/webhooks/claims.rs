//! Which due deliveries a delivery pass claims: the head of each webhook's queue, the one
//! due longest first, whatever the webhooks' ids.

use orderdesk::db::webhooks::{self, Attempt};
use uuid::Uuid;

use crate::helpers::{self, Options, TENANT};

const LAST: Uuid = Uuid::max();

/// 32 webhooks with ids lower than a 33rd's have five deliveries each (the first due ten
/// minutes ago, the others one minute ago); the 33rd has one, due five minutes ago. A pass
/// of 32 takes the 32 first deliveries; once they are delivered, the next pass takes the
/// 33rd's before the others' second ones (ordered by webhook id, it would wait behind them
/// for as long as they have deliveries due). Two workers claiming at once cannot both take
/// one delivery: the locking select repeats the due conditions, so the one that waited for
/// the row's lock skips it once the other leased it (see `webhooks::claim_due`).
#[tokio::test]
async fn a_pass_claims_the_longest_due_first_whatever_the_webhook_ids() {
    let app = helpers::spawn_with(Options {
        workers: 0,
        ..Options::default()
    })
    .await;
    sqlx::query(
        "WITH w AS (
           INSERT INTO webhooks (id, tenant_id, url, secret, created_by)
           SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(n), 12, '0'))::uuid, $1,
                  'https://example.com/hook', 'sealed:v1:x', 'test'
           FROM generate_series(1, 32) n
           RETURNING id)
         INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, event_type,
                                         payload, next_attempt_at)
         SELECT gen_random_uuid(), $1, w.id, 'evt_' || k || '_' || w.id, 'order.updated', '{}',
                now() - CASE WHEN k = 1 THEN interval '10 minutes' ELSE interval '1 minute' END
         FROM w, generate_series(1, 5) k
         ORDER BY w.id, k",
    )
    .bind(TENANT)
    .execute(&app.state.db)
    .await
    .unwrap();
    sqlx::query(
        "WITH w AS (
           INSERT INTO webhooks (id, tenant_id, url, secret, created_by)
           VALUES ($2, $1, 'https://example.com/hook', 'sealed:v1:x', 'test')
           RETURNING id)
         INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, event_type,
                                         payload, next_attempt_at)
         SELECT gen_random_uuid(), $1, w.id, 'evt_new', 'order.updated', '{}',
                now() - interval '5 minutes'
         FROM w",
    )
    .bind(TENANT)
    .bind(LAST)
    .execute(&app.state.db)
    .await
    .unwrap();
    let mut conn = app.state.db.acquire().await.unwrap();

    let first = webhooks::claim_due(&mut conn, 32, 60_000).await.unwrap();
    assert_eq!(first.len(), 32);
    assert!(first.iter().all(|d| d.webhook_id != LAST));
    for d in &first {
        let delivered = Attempt {
            id: d.id,
            http_status: Some(200),
            error: None,
            status: "delivered",
            next_attempt_at: None,
        };
        webhooks::record_attempt(&mut conn, &delivered)
            .await
            .unwrap();
    }

    let second = webhooks::claim_due(&mut conn, 32, 60_000).await.unwrap();
    assert_eq!(second.len(), 32);
    assert!(
        second.iter().any(|d| d.webhook_id == LAST),
        "the 33rd webhook's delivery, due longest, is in the second pass"
    );
    // what the second pass took is leased; the rest wait behind it, each in its webhook
    let third = webhooks::claim_due(&mut conn, 32, 60_000).await.unwrap();
    assert_eq!(third.len(), 1, "only the webhook the second pass left out");
}
