//! The order search language: a JSON request ([`SearchRequest`]) validated into a typed
//! [`Search`] — which orders match ([`Criteria`]: a filter and full text), their order, one
//! page of them and aggregations over all of them.
//!
//! This module owns the language; `db::search` turns a validated search into SQL with bound
//! parameters only. Bulk jobs and exports select orders with the same [`Criteria`]. Every
//! refusal names the place in the request and, for an unknown name, lists what exists.

pub mod aggregation;
pub mod error;
pub mod fields;
pub mod filter;
pub mod page;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

pub use aggregation::{Aggregation, Interval, NamedAggregation};
pub use error::SearchError;
pub use fields::{Field, FieldKind, Op};
pub use filter::{Condition, Filter, Operand};
pub use page::{Direction, Position, SortIn, SortKey, SortValue};

/// Filters nest at most this deep (the top filter is at depth 1).
pub const MAX_DEPTH: usize = 8;
/// Conditions (field + operator) in one filter.
pub const MAX_LEAVES: usize = 100;
/// Values of one `in`.
pub const MAX_IN_VALUES: usize = 500;
/// Characters of one string value.
pub const MAX_VALUE_LEN: usize = 200;
/// Characters of an `email` `contains` value, at least.
pub const MIN_CONTAINS_LEN: usize = 3;
/// Characters of the full-text query.
pub const MAX_TEXT_LEN: usize = 200;
pub const MAX_SORT_KEYS: usize = 3;
pub const MAX_AGGREGATIONS: usize = 10;
pub const DEFAULT_TERMS_SIZE: u32 = 10;
pub const MAX_TERMS_SIZE: u32 = 100;
/// Buckets of one histogram; more is refused, never cut.
pub const MAX_HISTOGRAM_BUCKETS: usize = 1000;
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// A search as a client sends it. Top-level members other than these are refused.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Conditions on fields joined by `and`, `or`, `not`: see the README, "Searching orders".
    #[schema(value_type = Option<Object>, example = json!({"and": [{"status": {"in": ["confirmed", "on_hold"]}}, {"not": {"tags": {"contains": "vip"}}}]}))]
    pub filter: Option<Value>,
    /// Full text over customer names, addresses and notes (web-search syntax: `"quoted
    /// phrase"`, `or`, `-word`).
    pub text: Option<String>,
    /// Sort keys, first one first; `id` always breaks ties. Default: `placed_at` descending.
    pub sort: Option<Vec<SortIn>>,
    /// Named aggregations over every matching order.
    #[schema(value_type = Option<Object>, example = json!({"by_status": {"terms": "status"}}))]
    pub aggregations: Option<BTreeMap<String, Value>>,
    /// 1 to 200, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page, with the same filter, text and sort.
    pub cursor: Option<String>,
}

/// Which orders match: the part of a search that bulk jobs and exports share.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Criteria {
    pub filter: Option<Filter>,
    /// Full text, trimmed and non-empty.
    pub text: Option<String>,
}

/// A validated search.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub criteria: Criteria,
    /// At least one key; `id` breaks ties in the last key's direction.
    pub sort: Vec<SortKey>,
    pub aggregations: Vec<NamedAggregation>,
    pub limit: u32,
    /// Where the previous page ended.
    pub after: Option<Position>,
}

impl Search {
    /// Validates `req`, reporting every error it finds.
    pub fn parse(req: &SearchRequest) -> Result<Search, Vec<SearchError>> {
        let mut errors = Vec::new();
        let criteria = Criteria::parse(req.filter.as_ref(), req.text.as_deref(), &mut errors);
        let sort = page::parse_sort(req.sort.as_deref(), &mut errors);
        let aggregations = req
            .aggregations
            .as_ref()
            .map(|a| aggregation::parse_all(a, &mut errors))
            .unwrap_or_default();
        let limit = match req.limit {
            None => DEFAULT_LIMIT,
            Some(l) if (1..=i64::from(MAX_LIMIT)).contains(&l) => l as u32,
            Some(_) => {
                errors.push(SearchError::new(
                    error::INVALID_VALUE,
                    "limit",
                    format!("must be between 1 and {MAX_LIMIT}"),
                ));
                DEFAULT_LIMIT
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut search = Search {
            criteria,
            sort,
            aggregations,
            limit,
            after: None,
        };
        if let Some(cursor) = req.cursor.as_deref().filter(|c| !c.is_empty()) {
            search.after = Some(
                page::decode_cursor(cursor, search.fingerprint(), &search.sort)
                    .map_err(|e| vec![e])?,
            );
        }
        Ok(search)
    }

    /// Identifies the filter, text and sort: a cursor is valid only for the search that
    /// made it.
    pub fn fingerprint(&self) -> u64 {
        page::fingerprint(&(&self.criteria, &self.sort))
    }

    /// The cursor of the page after `last`.
    pub fn cursor_after(&self, last: &Position) -> String {
        page::encode_cursor(self.fingerprint(), last)
    }

    /// The direction of the `id` tiebreak: the last sort key's.
    pub fn tiebreak(&self) -> Direction {
        self.sort.last().map(|k| k.dir).unwrap_or(Direction::Desc)
    }
}

impl Criteria {
    /// The filter and full text of a request (as in a search, a bulk job or an export).
    pub fn parse(
        filter: Option<&Value>,
        text: Option<&str>,
        errors: &mut Vec<SearchError>,
    ) -> Criteria {
        let filter = filter
            .filter(|f| !f.is_null())
            .and_then(|f| filter::FilterParser::new(errors).parse(f, "filter", 1));
        let text = text.map(str::trim).filter(|t| !t.is_empty());
        if let Some(t) = text
            && t.chars().count() > MAX_TEXT_LEN
        {
            errors.push(SearchError::new(
                error::TOO_COMPLEX,
                "text",
                format!("at most {MAX_TEXT_LEN} characters"),
            ));
        }
        Criteria {
            filter,
            text: text.map(str::to_string),
        }
    }
}

#[cfg(test)]
mod tests;
