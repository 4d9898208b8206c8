//! The one integration-test binary: each module tests one area over real HTTP.

mod auth;
