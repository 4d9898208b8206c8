//! apalis workers, outbox relay, lease sweeper. (stub: being written)
