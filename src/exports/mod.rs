//! Exports for finance: object storage ([`store`]), how a part is written ([`sink`] and the
//! per-format encoders in [`encode`]), how the parts become one downloadable file
//! ([`assemble`]), and the signed, expiring download links ([`link`]). A subject's archive
//! (GDPR subject access) is one zip ([`archive`]) in the same store, with a link of its own.
//!
//! An export is written in parts of `ORDERDESK_EXPORTS_PART_ROWS` rows; each part is one
//! object, and closes (in `export_parts`) with its rows, bytes and sha256. CSV and NDJSON
//! parts concatenate into the downloadable file (the CSV header is in part 1 only; gzip parts
//! are gzip members, and concatenated members are one gzip file). Parquet parts are valid
//! Parquet files each; the last step copies their row groups, without decoding them, into
//! one Parquet file.

pub mod archive;
pub mod assemble;
pub mod encode;
pub mod link;
pub mod rows;
pub mod sink;
pub mod store;

pub use store::Store;
