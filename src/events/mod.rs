//! Domain events: the signed webhook format the upstream (and the sandbox) send to
//! orderdesk's ingest endpoint.

pub mod signature;
