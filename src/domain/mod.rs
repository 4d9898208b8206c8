//! Pure types and rules: no I/O, no sqlx, axum or apalis.

pub mod cancel;
pub mod eligibility;
pub mod order;
pub mod settings;
// support messages and notifications (issue 4)
pub mod attachment;
pub mod subscription;
