//! Operators steering jobs: cancel, retry, the dead jobs by kind and their bulk retry, and
//! the progress stream.

mod bulk;
mod bulk_cancel;
mod control;
mod import;
mod import_object;
mod stream;
