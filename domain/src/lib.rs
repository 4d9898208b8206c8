//! Pure types and rules of orderdesk: no I/O, no sqlx, axum or apalis. Its own crate, so its
//! unit tests link nothing of the database, the seeder or the sandbox.

pub mod address;
pub mod approvals;
pub mod attachment;
pub mod bulk;
pub mod cancel;
pub mod countries;
pub mod coupon;
pub mod demo;
pub mod eligibility;
pub mod erasure;
pub mod exports;
pub mod faq;
pub mod fraud;
pub mod fulfillment;
pub mod ids;
pub mod ledger;
pub mod order;
pub mod payments;
pub mod queues;
pub mod reconcile;
pub mod reorder;
pub mod request;
pub mod return_review;
pub mod returns;
pub mod search;
pub mod settings;
pub mod shipment_updates;
pub mod subject_export;
pub mod subscription;
pub mod support;
pub mod tasks;
pub mod timeline;
pub mod tracking;
pub mod transitions;
