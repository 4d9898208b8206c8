//! The operations console: sessions over HTTP (`session`), and its pages in a real headless
//! Chromium (`browser`, `pages`); the jobs pages (`jobs_pages`), the operations pages
//! (`ops_pages`), the KPI page's charts (`kpis_page`), and what every page owes its users
//! (`layout`).

pub mod browser;
mod jobs_pages;
mod kpis_page;
mod layout;
mod ops_pages;
mod pages;
pub mod session;
