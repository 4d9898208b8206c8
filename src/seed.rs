//! Deterministic demo data. (stub: being written)
