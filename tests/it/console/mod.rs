//! The operations console: sessions over HTTP (`session`), and its pages in a real headless
//! Chromium (`browser`, `pages`).

pub mod browser;
mod jobs_pages;
mod pages;
pub mod session;
