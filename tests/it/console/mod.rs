//! The operations console: sessions over HTTP (`session`), and its pages in a real headless
//! Chromium (`browser`, `pages`); the jobs pages (`jobs_pages`), the operations pages
//! (`ops_pages`), the KPI page's charts (`kpis_page`), what every page owes its users
//! (`layout`), and the agent's rate limit on the pages (`rate_limit`).

pub mod browser;
mod jobs_pages;
mod kpis_page;
mod layout;
mod ops_pages;
mod pages;
mod rate_limit;
pub mod session;
