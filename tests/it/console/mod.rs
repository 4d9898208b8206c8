//! The operations console: sessions over HTTP (`session`), and its pages in a real headless
//! Chromium (`browser`, `pages`).

pub mod browser;
mod layout;
mod pages;
pub mod session;
