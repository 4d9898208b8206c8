//! Reference canonical services over HTTP, with fault injection. (stub: being written)
