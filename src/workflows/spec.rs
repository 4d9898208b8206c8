//! The shape of `workflows.toml`: the raw file types (with spans, for error messages) and
//! the validated specs the engine runs, including the retry backoff.
//!
//! ```toml
//! [workflows.cancel_order]
//! queue = "interactive"                      # optional, default "interactive"; see `queue`
//! on_finish = "orders.refresh_view"          # optional action run after the last step
//!
//! [[workflows.cancel_order.steps]]
//! name = "release_inventory"
//! action = "inventory.release"               # a registered action (actions/mod.rs)
//! compensate = "inventory.reserve"           # optional, run in reverse on a critical failure
//! when = "input.restock"                     # optional condition, see `Condition`
//! critical = true                            # default; false: a failure is recorded, run goes on
//! timeout_ms = 5000                          # default 10000
//! retry = { max_attempts = 5, base_ms = 200, max_delay_ms = 10000 }   # default 5/200/30000
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::condition::Condition;
use super::step::ActionFn;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub workflows: BTreeMap<String, RawWorkflow>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWorkflow {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub queue: Option<Spanned<String>>,
    #[serde(default)]
    pub on_finish: Option<Spanned<String>>,
    #[serde(default)]
    pub steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub name: Spanned<String>,
    pub action: Spanned<String>,
    #[serde(default)]
    pub retry: Option<Spanned<RetryPolicy>>,
    #[serde(default)]
    pub timeout_ms: Option<Spanned<u64>>,
    #[serde(default)]
    pub compensate: Option<Spanned<String>>,
    #[serde(default)]
    pub when: Option<Spanned<String>>,
    #[serde(default)]
    pub critical: Option<bool>,
}

/// Exponential backoff with full jitter: the delay before attempt `n + 1` is uniform in
/// `[0, min(max_delay_ms, base_ms * 2^(n-1))]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (1 = no retry).
    pub max_attempts: u32,
    pub base_ms: u64,
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_ms: 200,
            max_delay_ms: 30_000,
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the delay after failed attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(32);
        let ms = self
            .base_ms
            .saturating_mul(1u64 << exp)
            .min(self.max_delay_ms);
        Duration::from_millis(ms)
    }

    /// The (jittered) delay after failed attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt).as_millis() as u64;
        Duration::from_millis(rand::random_range(0..=ceiling))
    }
}

pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// The queue of a workflow that names none: customers' and agents' own requests, whose
/// pick-up latency matters most.
pub const DEFAULT_QUEUE: &str = "interactive";

/// Whether `name` may name a queue: `[a-z][a-z0-9_]{0,31}` (it becomes a part of Redis keys
/// and of `orderdesk worker --queues`).
pub fn is_queue_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 32
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// An action by name, resolved against the registration list.
#[derive(Clone)]
pub struct ActionRef {
    pub name: String,
    pub run: ActionFn,
}

impl std::fmt::Debug for ActionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

/// One validated step.
#[derive(Debug, Clone)]
pub struct StepSpec {
    pub name: String,
    pub action: ActionRef,
    pub retry: RetryPolicy,
    pub timeout: Duration,
    pub compensate: Option<ActionRef>,
    pub when: Option<Condition>,
    /// A non-critical step's permanent failure is recorded and the run goes on.
    pub critical: bool,
}

/// One validated workflow.
#[derive(Debug, Clone)]
pub struct WorkflowSpec {
    pub kind: String,
    pub description: Option<String>,
    /// The queue its runs wait in; a worker process takes the queues it is told to.
    pub queue: String,
    pub steps: Vec<StepSpec>,
    /// Run after the last step (whatever the outcome), before the run's final status is
    /// written; its failure is logged and changes nothing.
    pub on_finish: Option<ActionRef>,
}

impl WorkflowSpec {
    /// Whether step `idx` runs for this input (its `when` holds, or it has none).
    pub fn step_applies(&self, idx: usize, input: &serde_json::Value) -> bool {
        self.steps[idx].when.as_ref().is_none_or(|c| c.holds(input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let p = RetryPolicy {
            max_attempts: 10,
            base_ms: 100,
            max_delay_ms: 1_000,
        };
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(4), Duration::from_millis(800));
        assert_eq!(p.ceiling(5), Duration::from_millis(1_000));
        assert_eq!(p.ceiling(60), Duration::from_millis(1_000));
        for attempt in 1..12 {
            for _ in 0..200 {
                assert!(p.delay(attempt) <= p.ceiling(attempt));
            }
        }
        // full jitter really spreads: not always the ceiling
        let distinct: std::collections::HashSet<_> = (0..200).map(|_| p.delay(5)).collect();
        assert!(distinct.len() > 10);
    }
}
