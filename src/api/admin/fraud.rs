//! `GET /v1/admin/orders/fraud`: the orders the Orders service assessed for fraud risk,
//! riskiest first, for the fraud team's review.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access_log::{self, Read};
use crate::api::authorized::{Authorized, can};
use crate::api::extract::{ValidQuery, Validate};
use crate::api::shared::{Listing, RequestMeta, bounded_limit, decode_cursor, page_of};
use crate::db;
use crate::db::fraud::{RiskFilter, RiskRow};
use crate::domain::order::RiskAssessment;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FraudQuery {
    /// Lowest score listed, 0 to 100 (default 0).
    pub risk_score_min: Option<i64>,
    /// Highest score listed, 0 to 100 (default 100); not below `risk_score_min`.
    pub risk_score_max: Option<i64>,
    /// Only orders where this rule triggered (`high_value`, …): lowercase letters, digits
    /// and `_`.
    pub rule_trigger: Option<String>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl Validate for FraudQuery {
    type Checked = Listing<RiskFilter>;

    fn validate(&self) -> Result<Self::Checked> {
        let limit = bounded_limit(self.limit, 50, 200)?;
        let max_score = i64::from(RiskAssessment::MAX_SCORE);
        let mut errors = Vec::new();
        let mut score = |field: &str, value: Option<i64>, default: i64| match value {
            Some(v) if !(0..=max_score).contains(&v) => {
                errors.push(field_error(
                    field,
                    format!("must be between 0 and {max_score}"),
                ));
                default
            }
            v => v.unwrap_or(default),
        };
        let (min, max) = (
            score("risk_score_min", self.risk_score_min, 0),
            score("risk_score_max", self.risk_score_max, max_score),
        );
        if min > max {
            errors.push(field_error(
                "risk_score_min",
                "must not be above risk_score_max",
            ));
        }
        let rule = self.rule_trigger.as_deref();
        if rule.is_some_and(|r| !is_rule_name(r)) {
            let message = "a rule name: 1 to 64 lowercase letters, digits or _";
            errors.push(field_error("rule_trigger", message));
        }
        if !errors.is_empty() {
            return Err(Error::validation(errors));
        }
        let filter = RiskFilter {
            score_min: min as i32,
            score_max: max as i32,
            rule: rule.map(str::to_string),
            after: self.cursor.as_deref().map(decode_cursor).transpose()?,
            limit: limit + 1,
        };
        Ok(Listing { filter, limit })
    }
}

fn field_error(field: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

fn is_rule_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FraudListOut {
    /// Score descending, then order id descending.
    pub data: Vec<RiskRow>,
    pub next_cursor: Option<String>,
}

/// Orders with a risk assessment in the score range (and with the rule, if named), riskiest
/// first. Requires `fraud.review`. The list shows customers' emails, so each read is
/// recorded (`orders.fraud_listed`, with the order ids shown).
#[utoipa::path(get, path = "/v1/admin/orders/fraud", tag = "admin", params(FraudQuery),
    security(("bearer" = ["fraud.review"])),
    responses((status = 200, body = FraudListOut), (status = 400, body = crate::error::Problem),
              (status = 401, body = crate::error::Problem), (status = 403, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn list_fraud_orders(
    State(state): State<AppState>,
    agent: Authorized<can::FraudReview>,
    meta: RequestMeta,
    ValidQuery(Listing { filter, limit }): ValidQuery<FraudQuery>,
) -> Result<Json<FraudListOut>> {
    let mut tx = state.db.begin().await?;
    let rows = db::fraud::list(&mut tx, &agent.tenant_id, &filter).await?;
    let (data, next_cursor) = page_of(rows, limit, |r| (r.risk_score, r.id.clone()));
    let order_ids: Vec<&str> = data.iter().map(|r| r.id.as_str()).collect();
    let read = Read {
        action: "orders.fraud_listed",
        subject_type: "tenant",
        subject_id: agent.tenant_id.as_str(),
        shown: serde_json::json!({ "order_ids": order_ids }),
    };
    access_log::record(&mut tx, &agent, &meta, read).await?;
    tx.commit().await?;
    Ok(Json(FraudListOut { data, next_cursor }))
}
