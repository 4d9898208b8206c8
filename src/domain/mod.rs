//! Pure types and rules: no I/O, no sqlx, axum or apalis.

pub mod cancel;
pub mod eligibility;
pub mod faq;
pub mod order;
pub mod returns;
pub mod settings;
pub mod timeline;
pub mod tracking;
