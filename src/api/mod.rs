//! Router and middleware. (stub: being written)
