//! orderdesk: customer and admin order APIs over durable, compensating workflows.

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod console;
pub mod db;
pub mod documents;
pub use orderdesk_domain as domain;
pub mod error;
pub mod events;
pub mod exports;
pub mod jobs;
pub mod metrics;
pub mod sealing;
pub mod seed;
pub mod state;
pub mod telemetry;
pub mod tenant_settings;
pub mod upstream;
pub mod workers;
pub mod workflows;
