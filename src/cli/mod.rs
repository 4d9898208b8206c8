//! Operator tools that talk to a running orderdesk over its API (the `orderdesk` binary's
//! client subcommands), rather than to its database.

pub mod export;
