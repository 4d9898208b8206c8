//! Conditional requests, one way for every resource that carries a version: the entity tag a
//! read answers (`ETag`) and the preconditions of edits —
//! `If-Match` (stale → 412) or a body `version` (stale → 409), both answered with the
//! current state, and 428 where an edit requires one and got neither.
//!
//! An order's entity tag is its version, quoted (`"7"`): the version the Orders service gave
//! it, so a client can compare it with the `version` member of the order it read.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgConnection;

use crate::api::accept::{Admission, Admitted, Intake};
use crate::api::customer::orders::customer_order_view;
use crate::api::extract::invalid;
use crate::db;
use crate::domain::order::Order;
use crate::error::{Error, Result};

/// Longest conditional header read, and most entity tags in one: anything longer is refused
/// before it is parsed.
const MAX_HEADER_BYTES: usize = 1024;
const MAX_TAGS: usize = 32;

/// The strong entity tag of a version: `"7"`.
pub fn version_etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// One entity tag as sent, quotes included; `weak` for `W/"…"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityTag {
    tag: String,
    weak: bool,
}

/// A conditional header's value: `*` or a list of entity tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tags {
    Any,
    List(Vec<EntityTag>),
}

impl Tags {
    /// Parses `*` or `#entity-tag` (RFC 9110 §8.8.3); `None` when malformed or too long.
    fn parse(value: &str) -> Option<Tags> {
        let value = value.trim();
        if value == "*" {
            return Some(Tags::Any);
        }
        if value.len() > MAX_HEADER_BYTES {
            return None;
        }
        let mut tags = Vec::new();
        let mut rest = value;
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                break;
            }
            let weak = rest.starts_with("W/");
            let quoted = rest.strip_prefix("W/").unwrap_or(rest).strip_prefix('"')?;
            let end = quoted.find('"')?;
            let inner = &quoted[..end];
            // etagc: visible ASCII but the quote (obs-text is not worth accepting)
            if !inner.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
                return None;
            }
            tags.push(EntityTag {
                tag: format!("\"{inner}\""),
                weak,
            });
            rest = &quoted[end + 1..];
            if !(rest.is_empty() || rest.starts_with([' ', '\t', ','])) || tags.len() > MAX_TAGS {
                return None;
            }
        }
        (!tags.is_empty()).then_some(Tags::List(tags))
    }

    /// The header's value (all its lines), parsed; `Ok(None)` when absent.
    fn from_headers(headers: &HeaderMap, name: &HeaderName) -> Result<Option<Tags>, ()> {
        let mut lines = headers.get_all(name).iter().peekable();
        if lines.peek().is_none() {
            return Ok(None);
        }
        let mut joined = String::new();
        for line in lines {
            let text = line.to_str().map_err(|_| ())?;
            if joined.len() + text.len() > MAX_HEADER_BYTES {
                return Err(());
            }
            if !joined.is_empty() {
                joined.push(',');
            }
            joined.push_str(text);
        }
        Tags::parse(&joined).map(Some).ok_or(())
    }

    /// Strong comparison (`If-Match`): a weak tag never matches.
    pub fn matches_strong(&self, current: &str) -> bool {
        match self {
            Tags::Any => true,
            Tags::List(tags) => tags.iter().any(|t| !t.weak && t.tag == current),
        }
    }
}

/// Written as it would be sent, so that it can be part of an idempotency fingerprint.
impl Serialize for Tags {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Tags::Any => s.serialize_str("*"),
            Tags::List(tags) => {
                let written: Vec<String> = tags
                    .iter()
                    .map(|t| format!("{}{}", if t.weak { "W/" } else { "" }, t.tag))
                    .collect();
                s.serialize_str(&written.join(", "))
            }
        }
    }
}

/// `If-Match`, when sent. Malformed (not `*` nor a list of quoted tags, or longer than 1 KiB
/// or 32 tags) → 400 `precondition.if_match_malformed`.
#[derive(Debug, Clone)]
pub struct IfMatch(pub Option<Tags>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self> {
        Tags::from_headers(&parts.headers, &header::IF_MATCH)
            .map(IfMatch)
            .map_err(|()| {
                Error::bad_request(
                    "precondition.if_match_malformed",
                    "If-Match must be * or a list of quoted entity tags, as ETag gave them",
                )
            })
    }
}

impl IfMatch {
    /// The tags, or 428 `code` for an edit that requires them; `read_at` says where the
    /// current entity tag is read.
    pub fn required(self, code: &str, read_at: &str) -> Result<Tags> {
        self.0.ok_or_else(|| {
            Error::new(
                StatusCode::PRECONDITION_REQUIRED,
                code,
                format!("send If-Match with the ETag of what you changed ({read_at})"),
            )
        })
    }
}

/// Puts `etag` on a read's response.
pub fn with_etag(etag: &str, body: impl IntoResponse) -> Response {
    let mut res = body.into_response();
    if let Ok(value) = HeaderValue::from_str(etag) {
        res.headers_mut().insert(header::ETAG, value);
    }
    res
}

/// Whether an edit must carry a precondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Checked when given; clients that send none keep working.
    Optional,
    /// 428 `order.if_match_required` when neither `If-Match` nor `version` is given.
    Required,
}

/// How the current order is shown in a stale edit's answer: as the one who asked may see it.
type OrderView = fn(Order) -> Value;

fn agent_view(order: Order) -> Value {
    serde_json::to_value(order).unwrap_or_default()
}

/// A body's `version` (the precondition's other form): a version a read gave, so 0 or more.
pub fn validate_version(version: Option<i64>) -> Result<()> {
    match version {
        Some(v) if v < 0 => Err(invalid(
            "version",
            "the order's version from a read: 0 or more",
        )),
        _ => Ok(()),
    }
}

/// What an edit of an order expects of the order's version: `If-Match` (412 when stale),
/// a body `version` (409 when stale), both, or neither.
pub struct OrderPrecondition {
    if_match: Option<Tags>,
    version: Option<i64>,
    view: OrderView,
}

impl OrderPrecondition {
    /// An agent's edit: a stale answer shows the order as the admin order view's `order`.
    pub fn for_agent(if_match: IfMatch, version: Option<i64>, need: Need) -> Result<Self> {
        Self::new(if_match, version, need, agent_view)
    }

    /// A customer's edit: a stale answer shows the order as the customer's order view does,
    /// never an internal field.
    pub fn for_customer(if_match: IfMatch, version: Option<i64>, need: Need) -> Result<Self> {
        Self::new(if_match, version, need, customer_order_view)
    }

    fn new(if_match: IfMatch, version: Option<i64>, need: Need, view: OrderView) -> Result<Self> {
        if need == Need::Required && if_match.0.is_none() && version.is_none() {
            return Err(Error::new(
                StatusCode::PRECONDITION_REQUIRED,
                "order.if_match_required",
                "send If-Match with the order's ETag (or the body's version) from your last read",
            ));
        }
        Ok(OrderPrecondition {
            if_match: if_match.0,
            version,
            view,
        })
    }

    /// Wraps `edit` so that the precondition is judged in its acceptance transaction.
    pub fn guard<K: OrderEdit>(self, edit: K) -> Guarded<K> {
        Guarded {
            precondition: self,
            edit,
        }
    }

    /// Judges the precondition against the order as the read model holds it now. Answers
    /// the version the Orders service must still be at when the change reaches it: the
    /// current one when the caller named a version, `None` when they named none (or `*`).
    async fn check(&self, conn: &mut PgConnection, order: &Order) -> Result<Option<i64>> {
        if self.if_match.is_none() && self.version.is_none() {
            return Ok(None);
        }
        let current = db::orders::get(conn, &order.tenant_id, &order.id, None)
            .await?
            .ok_or_else(|| Error::not_found("order"))?;
        let etag = version_etag(current.version);
        if let Some(tags) = &self.if_match
            && !tags.matches_strong(&etag)
        {
            return Err(self.stale(StatusCode::PRECONDITION_FAILED, current));
        }
        if let Some(version) = self.version
            && version != current.version
        {
            return Err(self.stale(StatusCode::CONFLICT, current));
        }
        let named = self.version.is_some() || matches!(self.if_match, Some(Tags::List(_)));
        Ok(named.then_some(current.version))
    }

    /// 412 or 409 `order.version_mismatch` with the current order, its version and ETag.
    fn stale(&self, status: StatusCode, current: Order) -> Error {
        let version = current.version;
        Error::new(
            status,
            "order.version_mismatch",
            "the order changed since you read it; look at it again and retry",
        )
        .with_extra("current_version", json!(version))
        .with_extra("etag", json!(version_etag(version)))
        .with_extra("order", (self.view)(current))
    }
}

/// An intake that edits one order and can pass the version it expects to its workflow.
pub trait OrderEdit: Intake {
    fn order(&self) -> &Order;
    /// The version the Orders service must be at for the change (`None`: any).
    fn expect_version(&mut self, version: Option<i64>);
}

/// An order edit guarded by its precondition: judged after the `Idempotency-Key` was
/// claimed, so a replay answers what the first call did even after the order moved on.
pub struct Guarded<K> {
    precondition: OrderPrecondition,
    edit: K,
}

impl<K: OrderEdit> Intake for Guarded<K> {
    type Answer = K::Answer;

    async fn admit(mut self, adm: &mut Admission<'_>) -> Result<Admitted<K::Answer>> {
        let expected = self
            .precondition
            .check(adm.conn(), self.edit.order())
            .await?;
        self.edit.expect_version(expected);
        self.edit.admit(adm).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(v: &str) -> Option<Tags> {
        Tags::parse(v)
    }

    #[test]
    fn lists_of_tags_and_the_wildcard_parse() {
        assert_eq!(tags("*"), Some(Tags::Any));
        let list = tags(r#""3", W/"4" ,"a,b""#).unwrap();
        assert!(list.matches_strong("\"3\""));
        assert!(list.matches_strong("\"a,b\""));
        assert!(
            !list.matches_strong("\"4\""),
            "a weak tag never matches If-Match"
        );
        assert!(!list.matches_strong("\"5\""));
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in ["3", "\"3", "\"3\"x", "W/3", "", ",", "\"a b\"", "* , \"1\""] {
            assert_eq!(tags(bad), None, "{bad:?}");
        }
        let many = vec!["\"1\""; MAX_TAGS + 1].join(",");
        assert_eq!(tags(&many), None);
        assert_eq!(tags(&format!("\"{}\"", "x".repeat(MAX_HEADER_BYTES))), None);
    }

    #[test]
    fn tags_serialize_as_sent() {
        let t = tags(r#"W/"1","2""#).unwrap();
        assert_eq!(serde_json::to_value(&t).unwrap(), json!(r#"W/"1", "2""#));
        assert_eq!(serde_json::to_value(Tags::Any).unwrap(), json!("*"));
    }

    #[test]
    fn a_required_precondition_without_either_is_428() {
        let Err(Error::Problem(p)) =
            OrderPrecondition::for_agent(IfMatch(None), None, Need::Required)
        else {
            panic!("expected 428");
        };
        assert_eq!(
            (p.status, p.code.as_str()),
            (428, "order.if_match_required")
        );
        assert!(OrderPrecondition::for_agent(IfMatch(None), Some(1), Need::Required).is_ok());
        let star = IfMatch(Some(Tags::Any));
        assert!(OrderPrecondition::for_customer(star, None, Need::Required).is_ok());
        assert!(OrderPrecondition::for_agent(IfMatch(None), None, Need::Optional).is_ok());
    }
}
