//! Fixed-window counters in Redis and how a quota is told to the client: the `RateLimit-Policy`
//! and `RateLimit` headers of the IETF httpapi draft (draft-ietf-httpapi-ratelimit-headers:
//! `RateLimit-Policy: "default";q=600;w=60`, `RateLimit: "default";r=598;t=41`) and the 429
//! problem with `Retry-After`.
//!
//! A window starts at the first hit of a counter and lasts `window`; one Lua script increments
//! any number of counters and returns each count and the time left, in one round trip. At a
//! window's edge a client may get up to twice the limit within one window's length: the price
//! of one key and one round trip per request.

use std::sync::LazyLock;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use redis::aio::ConnectionManager;

use crate::error::Error;

/// KEYS: counters; ARGV[1]: the window in ms; ARGV[2]: hits to add. Returns `{count, ms
/// left}` per key. A counter without an expiry (new, or left by a crash between INCRBY and
/// PEXPIRE) gets one.
static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local out = {}
for _, key in ipairs(KEYS) do
  local n = redis.call('INCRBY', key, ARGV[2])
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
return out
",
    )
});

/// One counter after a hit: how many hits its window holds, and when the window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub count: u64,
    pub reset: Duration,
}

/// Counts `hits` on each of `keys` (all with the same `window`).
pub async fn hit(
    redis: &mut ConnectionManager,
    keys: &[String],
    hits: u64,
    window: Duration,
) -> redis::RedisResult<Vec<Window>> {
    let mut call = SCRIPT.prepare_invoke();
    for key in keys {
        call.key(key);
    }
    call.arg(window.as_millis() as u64);
    call.arg(hits.max(1));
    let flat: Vec<i64> = call.invoke_async(redis).await?;
    Ok(flat
        .chunks_exact(2)
        .map(|c| Window {
            count: c[0].max(0) as u64,
            reset: Duration::from_millis(c[1].max(0) as u64),
        })
        .collect())
}

/// Which limit a quota is: its name in the `RateLimit-Policy` and `RateLimit` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// A principal's requests per minute (`rate_limits.*_per_minute`).
    Default,
    /// Guest lookups per IP and order number (`rate_limits.guest_lookups_per_15_minutes`).
    Guest,
    /// Requests without a valid token per client address (`ORDERDESK_ANONYMOUS_PER_MINUTE`).
    Anonymous,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Default => "default",
            Policy::Guest => "guest",
            Policy::Anonymous => "anonymous",
        }
    }
}

/// A caller's quota for this request. `counted` is `None` when Redis could not count (the
/// request is served: the limiter fails open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    pub limit: u32,
    pub window: Duration,
    pub counted: Option<Window>,
}

impl Quota {
    /// Requests left in the window after this one (`None`: unknown).
    pub fn remaining(&self) -> Option<u64> {
        self.counted
            .map(|w| u64::from(self.limit).saturating_sub(w.count))
    }

    /// Whole seconds until the window resets, rounded up (`None`: unknown).
    pub fn reset_secs(&self) -> Option<u64> {
        self.counted
            .map(|w| w.reset.as_millis().div_ceil(1000) as u64)
    }

    /// Whether this request went over the limit.
    pub fn exceeded(&self) -> bool {
        self.counted
            .is_some_and(|w| w.count > u64::from(self.limit))
    }

    /// The `RateLimit-Policy` value of a principal's quota, `"default";q=600;w=60`.
    pub fn policy(&self) -> String {
        self.policy_value(Policy::Default)
    }

    fn policy_value(&self, policy: Policy) -> String {
        format!(
            "\"{}\";q={};w={}",
            policy.name(),
            self.limit,
            self.window.as_secs()
        )
    }

    /// `RateLimit-Policy`, and when counted `RateLimit` (remaining `r`, seconds to reset `t`).
    pub fn apply_headers(&self, policy: Policy, headers: &mut HeaderMap) {
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                headers.insert(name, v);
            }
        };
        set("ratelimit-policy", self.policy_value(policy));
        if let (Some(remaining), Some(reset)) = (self.remaining(), self.reset_secs()) {
            set(
                "ratelimit",
                format!("\"{}\";r={remaining};t={reset}", policy.name()),
            );
        }
    }

    /// 429 `rate_limit.exceeded` with `Retry-After` and the quota headers.
    pub fn too_many(&self, policy: Policy, what: &str) -> Response {
        self.too_many_as(policy, what, IntoResponse::into_response)
    }

    /// [`Self::too_many`], its problem rendered by `render` (the console's pages show it as
    /// a page), the headers the same.
    pub fn too_many_as(
        &self,
        policy: Policy,
        what: &str,
        render: impl FnOnce(Error) -> Response,
    ) -> Response {
        let retry_after = self.reset_secs().unwrap_or(1).max(1);
        let mut res = render(
            Error::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit.exceeded",
                format!(
                    "too many {what}: at most {} per {} seconds",
                    self.limit,
                    self.window.as_secs()
                ),
            )
            .with_extra("retry_after_seconds", retry_after.into())
            .with_next_step(format!("wait {retry_after} seconds before trying again")),
        );
        self.apply_headers(policy, res.headers_mut());
        if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
            res.headers_mut().insert("retry-after", v);
        }
        res
    }
}

/// 503 `rate_limit.unavailable` with `Retry-After`, for a limit that fails closed: `what`
/// is refused while its counters (Redis) cannot count.
pub fn cannot_count(what: &str) -> Response {
    let mut res = Error::unavailable(
        "rate_limit.unavailable",
        format!("{what} is paused for a moment: its attempt counters cannot be reached"),
    )
    .with_next_step("try again in a few seconds")
    .into_response();
    res.headers_mut()
        .insert("retry-after", HeaderValue::from_static("5"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(count: u64, reset_ms: u64) -> Quota {
        Quota {
            limit: 3,
            window: Duration::from_secs(60),
            counted: Some(Window {
                count,
                reset: Duration::from_millis(reset_ms),
            }),
        }
    }

    #[test]
    fn remaining_and_reset_round_up() {
        let q = quota(1, 59_001);
        assert_eq!(q.remaining(), Some(2));
        assert_eq!(q.reset_secs(), Some(60));
        assert!(!q.exceeded());
        assert!(!quota(3, 1).exceeded());
        assert!(quota(4, 1).exceeded());
        assert_eq!(quota(9, 1).remaining(), Some(0));
    }

    #[test]
    fn headers_and_429() {
        let mut h = HeaderMap::new();
        quota(1, 30_000).apply_headers(Policy::Default, &mut h);
        assert_eq!(h["ratelimit-policy"], r#""default";q=3;w=60"#);
        assert_eq!(h["ratelimit"], r#""default";r=2;t=30"#);
        assert_eq!(quota(1, 1).policy(), r#""default";q=3;w=60"#);
        for old in ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"] {
            assert!(h.get(old).is_none(), "{old} is gone");
        }
        let res = quota(4, 12_500).too_many(Policy::Guest, "requests");
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()["retry-after"], "13");
        assert_eq!(res.headers()["ratelimit"], r#""guest";r=0;t=13"#);
        assert_eq!(res.headers()["ratelimit-policy"], r#""guest";q=3;w=60"#);
    }

    #[test]
    fn uncounted_quota_only_names_the_limit() {
        let q = Quota {
            limit: 5,
            window: Duration::from_secs(60),
            counted: None,
        };
        let mut h = HeaderMap::new();
        q.apply_headers(Policy::Default, &mut h);
        assert_eq!(h["ratelimit-policy"], r#""default";q=5;w=60"#);
        assert!(h.get("ratelimit").is_none());
        assert!(!q.exceeded());
    }
}
