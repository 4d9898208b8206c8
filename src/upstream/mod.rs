//! HTTP clients of the canonical services. (stub: being written)

#[derive(Clone)]
pub struct Upstream;
