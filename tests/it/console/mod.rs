//! The operations console: sessions over HTTP (`session`), and its pages in a real headless
//! Chromium (`browser`, `pages`), and the KPI page's charts (`kpis_page`).

pub mod browser;
mod kpis_page;
mod pages;
pub mod session;
