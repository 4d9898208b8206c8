//! Declarative workflows: `workflows.toml` (spec), its validation against the action
//! registration list (registry), the actions themselves, and the engine that runs a run's
//! steps with checkpoints, retries and compensations.

pub mod actions;
pub mod condition;
pub mod context;
pub mod engine;
pub mod registry;
pub mod spec;
pub mod step;

pub use context::WorkerCtx;
pub use registry::Registry;
pub use spec::{RetryPolicy, StepSpec, WorkflowSpec};
pub use step::{StepCtx, StepError};
