//! The admin surface's route table: one line per endpoint.

pub mod access;
pub mod cancel;
pub mod cases;
pub mod fraud;
pub mod legal_hold;
pub mod orders;
pub mod queues;
pub mod search;
pub mod settings;
pub mod tasks;
pub mod transitions;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::jobs;
use crate::state::AppState;

/// The admin surface; each route's path and method come from its handler's
/// `#[utoipa::path]`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(orders::get_order))
        .routes(routes!(search::search_orders))
        .routes(routes!(cancel::approve_cancel))
        .routes(routes!(cancel::force_cancel))
        .routes(routes!(orders::get_audit))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(access::my_permissions))
        .routes(routes!(settings::get_settings, settings::patch_settings))
        .routes(routes!(transitions::hold))
        .routes(routes!(transitions::release))
        .routes(routes!(transitions::confirm))
        .routes(routes!(transitions::close))
        .routes(routes!(transitions::reopen))
        .routes(routes!(legal_hold::place))
        .routes(routes!(legal_hold::remove))
        .routes(routes!(fraud::flag_fraud))
        .routes(routes!(fraud::unflag_fraud))
        .routes(routes!(fraud::assign_review))
        .routes(routes!(queues::list_queues))
        .routes(routes!(queues::claim_item))
        .routes(routes!(tasks::create_task, tasks::list_tasks))
        .routes(routes!(tasks::complete_task))
        .routes(routes!(cases::get_cases))
}

/// Routes that take attachments, with their own body limit; `api::router` mounts them
/// outside the default one.
pub fn upload_routes() -> OpenApiRouter<AppState> {
    use axum::extract::DefaultBodyLimit;
    use tower_http::limit::RequestBodyLimitLayer;
    OpenApiRouter::new()
        .routes(routes!(cases::reply_case))
        .routes(routes!(cases::add_note))
        .layer(DefaultBodyLimit::max(cases::UPLOAD_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(cases::UPLOAD_BODY_LIMIT))
}
