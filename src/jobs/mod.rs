//! Apalis job payloads and enqueue-through-outbox. (stub: being written)

/// Pushes run triggers to the apalis Redis queue.
#[derive(Clone)]
pub struct TriggerQueue;
