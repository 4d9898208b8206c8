//! JWT verification, roles → permissions, sudo tokens. (stub: being written)

/// Verifies bearer tokens with the configured keys.
pub struct Verifier;
