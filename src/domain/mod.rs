//! Pure types and rules: no I/O, no sqlx, axum or apalis.

pub mod address;
pub mod cancel;
pub mod coupon;
pub mod eligibility;
pub mod faq;
pub mod order;
pub mod reorder;
pub mod returns;
pub mod settings;
pub mod shipment_updates;
pub mod timeline;
pub mod tracking;
// support messages and notifications (issue 4)
pub mod attachment;
pub mod subscription;
