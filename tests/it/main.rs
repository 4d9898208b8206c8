//! The one integration-test binary: real Postgres, Redis and sandbox over HTTP.

mod admin_cancel;
mod admin_inspect;
mod admin_search;
mod admin_settings;
mod audit_privacy;
mod auth;
mod cancel;
mod commerce;
mod customer_orders;
mod documents;
mod engine;
mod guest_and_limits;
mod helpers;
mod ingest;
mod operations;
mod order_reads;
mod path_ids;
mod process;
mod rbac;
mod repo_files;
mod resilience;
mod returns;
mod sandbox;
mod spec;
mod support;
mod upstream_calls;
