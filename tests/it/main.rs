//! The one integration-test binary: real Postgres, Redis and sandbox over HTTP.

mod admin_cancel;
mod auth;
mod bench_smoke;
mod cancel;
mod customer_orders;
mod engine;
mod helpers;
mod repo_files;
mod resilience;
mod sandbox;
