//! workflows.toml, the action registry and the engine. (stub: being written)

pub struct Registry;
