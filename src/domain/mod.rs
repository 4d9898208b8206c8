//! Pure types and rules: no I/O, no sqlx, axum or apalis.

pub mod address;
pub mod attachment;
pub mod cancel;
pub mod coupon;
pub mod eligibility;
pub mod erasure;
pub mod faq;
pub mod order;
pub mod reorder;
pub mod request;
pub mod returns;
pub mod settings;
pub mod shipment_updates;
pub mod subscription;
pub mod support;
pub mod timeline;
pub mod tracking;
