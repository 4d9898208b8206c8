//! The admin surface's route table: one line per endpoint.

pub mod access;
pub mod access_log;
pub mod adjustments;
pub mod approvals;
pub mod bulk;
pub mod cancel;
pub mod captures;
pub mod case_attachments;
pub mod case_work;
pub mod cases;
pub mod connectors;
pub mod engine;
pub mod exports;
pub mod fraud;
pub mod fraud_review;
pub mod fulfillments;
pub mod gdpr_export;
pub mod impersonate;
pub mod import;
pub mod keys;
pub mod kpis;
pub mod legal_hold;
pub mod order_audit;
pub mod order_expand;
pub mod orders;
pub mod payments;
pub mod queues;
pub mod quotes;
pub mod reconciliation;
pub mod refunds;
pub mod returns;
pub mod search;
pub mod settings;
pub mod settlements;
pub mod tasks;
pub mod tenant;
pub mod transitions;
pub mod webhooks;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::jobs;
use crate::state::AppState;

/// The admin surface; each route's path and method come from its handler's
/// `#[utoipa::path]`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(orders::get_order))
        // a static segment: matched before `{order_id}` whatever the order of these lines
        .routes(routes!(fraud::list_fraud_orders))
        .routes(routes!(search::search_orders))
        .routes(routes!(cancel::approve_cancel))
        .routes(routes!(cancel::force_cancel))
        .routes(routes!(order_audit::get_audit))
        .routes(routes!(payments::list_order_payments))
        .routes(routes!(refunds::refund_payment))
        .routes(routes!(adjustments::adjust_price))
        .routes(routes!(captures::capture_payment))
        .routes(routes!(quotes::create::create_quote))
        .routes(routes!(quotes::get_quote, quotes::change::patch_quote))
        .routes(routes!(quotes::apply::apply_quote))
        .routes(routes!(quotes::abort::abort_quote))
        .routes(routes!(bulk::bulk_update_status))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::control::cancel_job))
        .routes(routes!(jobs::control::retry_job))
        .routes(routes!(jobs::control::list_dead_jobs))
        .routes(routes!(jobs::control::retry_dead_jobs))
        .routes(routes!(jobs::events::stream_job_events))
        .routes(routes!(jobs::events::stream_jobs_events))
        .routes(routes!(jobs::items::list_job_items))
        .routes(routes!(engine::list_engine_queues))
        .routes(routes!(engine::list_engine_workers))
        .routes(routes!(access::my_permissions))
        .routes(routes!(settings::get_settings, settings::patch_settings))
        .routes(routes!(transitions::hold))
        .routes(routes!(transitions::release))
        .routes(routes!(transitions::confirm))
        .routes(routes!(transitions::close))
        .routes(routes!(transitions::reopen))
        .routes(routes!(fulfillments::create::create_fulfillment))
        .routes(routes!(fulfillments::split::split_shipments))
        .routes(routes!(fulfillments::change::ship_fulfillment))
        .routes(routes!(fulfillments::change::cancel_fulfillment))
        .routes(routes!(fulfillments::change::reschedule_fulfillment))
        .routes(routes!(
            fulfillments::labels::get_label,
            fulfillments::labels::regenerate_label
        ))
        .routes(routes!(returns::get_return))
        .routes(routes!(returns::review::approve_return))
        .routes(routes!(returns::review::inspect_return))
        .routes(routes!(returns::refund::issue_refund))
        .routes(routes!(legal_hold::place))
        .routes(routes!(legal_hold::remove))
        .routes(routes!(keys::create_key, keys::list_keys))
        .routes(routes!(keys::revoke_key))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::patch_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::disable_webhook))
        .routes(routes!(webhooks::rotate_webhook_secret))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::replay_order_events))
        .routes(routes!(impersonate::impersonate_customer))
        .routes(routes!(approvals::list_approvals))
        .routes(routes!(approvals::get_approval))
        .routes(routes!(approvals::approve))
        .routes(routes!(approvals::reject))
        .routes(routes!(approvals::execute))
        .routes(routes!(connectors::list_connectors))
        .routes(routes!(connectors::run_connector))
        .routes(routes!(tenant::get_capabilities))
        .routes(routes!(tenant::get_rate_limits))
        .routes(routes!(kpis::order_metrics))
        .routes(routes!(kpis::alerts))
        .routes(routes!(fraud_review::flag_fraud))
        .routes(routes!(fraud_review::unflag_fraud))
        .routes(routes!(fraud_review::assign_review))
        .routes(routes!(queues::list_queues))
        .routes(routes!(queues::claim_item))
        .routes(routes!(tasks::create_task, tasks::list_tasks))
        .routes(routes!(tasks::complete_task))
        .routes(routes!(cases::get_cases))
        .routes(routes!(case_work::assign_case))
        .routes(routes!(case_work::close_case))
        .routes(routes!(case_attachments::download_attachment))
        .routes(routes!(reconciliation::get_reconciliation))
        .routes(routes!(reconciliation::reconcile_order))
        .routes(routes!(settlements::link_settlement))
        .routes(routes!(exports::create_export))
        .routes(routes!(exports::list_exports))
        .routes(routes!(exports::get_export))
        .routes(routes!(exports::download_export))
        .routes(routes!(gdpr_export::export_subject))
        .routes(routes!(gdpr_export::get_subject_export))
        .routes(routes!(gdpr_export::download_subject_export))
}

/// The NDJSON import, with its own body limit (`api::router` mounts it outside the default).
pub fn import_routes() -> OpenApiRouter<AppState> {
    use axum::extract::DefaultBodyLimit;
    use tower_http::limit::RequestBodyLimitLayer;
    OpenApiRouter::new()
        .routes(routes!(import::import_orders))
        .layer(DefaultBodyLimit::max(import::IMPORT_BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(import::IMPORT_BODY_LIMIT))
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
