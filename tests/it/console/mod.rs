//! The operations console: sessions over HTTP (`session`), and its pages in a real headless
//! Chromium (`browser`, `pages`); the operations pages (`ops_pages`).

pub mod browser;
mod layout;
mod ops_pages;
mod pages;
pub mod session;
