//! Router and middleware. (stub: being written)
pub mod auth;
