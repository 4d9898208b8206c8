//! A principal far below its limit is counted in-process between Redis counts; the answers
//! must still be exact, the limit must hold to the request, and every hit must reach Redis.

use redis::AsyncCommands;

use super::{app_with, get_with_headers, remaining};
use crate::helpers::TENANT;

#[tokio::test]
async fn counting_far_below_the_limit_stays_exact_to_the_last_request() {
    const LIMIT: u64 = 100;
    let app = app_with(|s| s.rate_limits.customer_per_minute = LIMIT as u32, &[]).await;
    let order = app.orders[0].clone();
    let token = app.customer_token(TENANT, &order.customer_id);
    let path = format!("/v1/customer/orders/{}", order.id);
    for n in 1..=LIMIT {
        let (status, h, body) = get_with_headers(&app, &path, app.auth(&token, TENANT)).await;
        assert_eq!(status, 200, "request {n}: {body}");
        assert_eq!(remaining(&h), LIMIT - n, "request {n}");
    }
    let (status, h, _) = get_with_headers(&app, &path, app.auth(&token, TENANT)).await;
    assert_eq!(status, 429);
    assert_eq!(remaining(&h), 0);

    // near the limit every hit went to Redis, carrying the ones counted in-process before
    let key = format!(
        "{}:rl:{TENANT}:customer:{}",
        app.config.redis_prefix, order.customer_id
    );
    let mut redis = app.state.redis.clone();
    let in_redis: u64 = redis.get(&key).await.unwrap();
    assert_eq!(
        in_redis,
        LIMIT + 1,
        "every request counted once, the refused one too"
    );
}
