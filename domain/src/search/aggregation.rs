//! Aggregations over every order a search matches (not only the page): counts by a keyword
//! field, sums of `total_minor` per currency, and a histogram of a date.
//!
//! ```json
//! {"by_status": {"terms": "status"},
//!  "revenue":   {"sum": "total_minor", "by": "currency"},
//!  "per_day":   {"histogram": "placed_at", "interval": "day"}}
//! ```

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::error::{INVALID_VALUE, SearchError, TOO_COMPLEX, UNKNOWN_AGGREGATION, UNKNOWN_FIELD};
use super::fields::{self, Field};
use super::{DEFAULT_TERMS_SIZE, MAX_AGGREGATIONS, MAX_TERMS_SIZE};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Orders counted per value of `field` (per element for a set such as `tags`), the
    /// `size` most frequent first.
    Terms { field: Field, size: u32 },
    /// `field` summed per value of `by`: money is never added across currencies.
    Sum { field: Field, by: Field },
    /// Orders counted per `interval` of `field`, in UTC.
    Histogram { field: Field, interval: Interval },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interval {
    Day,
    /// ISO weeks, starting on Monday.
    Week,
    Month,
}

impl Interval {
    pub const ALL: [Interval; 3] = [Interval::Day, Interval::Week, Interval::Month];
    pub fn name(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }
}

/// An aggregation with the name the request gave it (and the answer will use).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NamedAggregation {
    pub name: String,
    pub aggregation: Aggregation,
}

const KINDS: [&str; 3] = ["terms", "sum", "histogram"];
/// Fields `sum` adds up, and what it groups them by.
const SUMMABLE: &[Field] = &[Field::TotalMinor];
const SUM_BY: &[Field] = &[Field::Currency];

/// The aggregations of a request, in name order; errors go to `errors`.
pub(super) fn parse_all(
    aggs: &BTreeMap<String, Value>,
    errors: &mut Vec<SearchError>,
) -> Vec<NamedAggregation> {
    if aggs.len() > MAX_AGGREGATIONS {
        errors.push(SearchError::new(
            TOO_COMPLEX,
            "aggregations",
            format!("at most {MAX_AGGREGATIONS} aggregations"),
        ));
        return Vec::new();
    }
    let mut out = Vec::new();
    for (name, spec) in aggs {
        let path = format!("aggregations.{name}");
        let valid_name = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_name {
            errors.push(SearchError::new(
                INVALID_VALUE,
                &path,
                "a name is 1 to 64 letters, digits, `_` or `-`",
            ));
            continue;
        }
        if let Some(aggregation) = parse_one(spec, &path, errors) {
            out.push(NamedAggregation {
                name: name.clone(),
                aggregation,
            });
        }
    }
    out
}

fn parse_one(spec: &Value, path: &str, errors: &mut Vec<SearchError>) -> Option<Aggregation> {
    let Some(obj) = spec.as_object() else {
        errors.push(SearchError::new(
            INVALID_VALUE,
            path,
            "must be an object such as {\"terms\": \"status\"}",
        ));
        return None;
    };
    let kinds: Vec<&str> = KINDS.into_iter().filter(|k| obj.contains_key(*k)).collect();
    let kind = match kinds.as_slice() {
        [kind] => *kind,
        [] => {
            let name = obj.keys().next().map(String::as_str).unwrap_or("");
            errors.push(SearchError::unknown(
                UNKNOWN_AGGREGATION,
                path,
                "aggregation",
                name,
                KINDS.to_vec(),
            ));
            return None;
        }
        _ => {
            errors.push(SearchError::new(
                INVALID_VALUE,
                path,
                format!("one kind per aggregation (found {})", kinds.join(", ")),
            ));
            return None;
        }
    };
    let members: &[&'static str] = match kind {
        "terms" => &["terms", "size"],
        "sum" => &["sum", "by"],
        _ => &["histogram", "interval"],
    };
    let before = errors.len();
    for key in obj.keys() {
        if !members.contains(&key.as_str()) {
            let what = format!("member of `{kind}`");
            errors.push(SearchError::unknown(
                UNKNOWN_AGGREGATION,
                format!("{path}.{key}"),
                &what,
                key,
                members.to_vec(),
            ));
        }
    }
    let field_at = |key: &str, allowed: &[Field], errors: &mut Vec<SearchError>| {
        field_of(obj.get(key), &format!("{path}.{key}"), allowed, errors)
    };
    let agg = match kind {
        "terms" => {
            let field = field_at("terms", fields::TERMS, errors);
            let size = match obj.get("size") {
                None => Some(DEFAULT_TERMS_SIZE),
                Some(v) => match v.as_u64() {
                    Some(n) if (1..=MAX_TERMS_SIZE as u64).contains(&n) => Some(n as u32),
                    _ => {
                        errors.push(SearchError::new(
                            INVALID_VALUE,
                            format!("{path}.size"),
                            format!("must be a whole number from 1 to {MAX_TERMS_SIZE}"),
                        ));
                        None
                    }
                },
            };
            Aggregation::Terms {
                field: field?,
                size: size?,
            }
        }
        "sum" => {
            let field = field_at("sum", SUMMABLE, errors);
            let by = field_at("by", SUM_BY, errors);
            Aggregation::Sum {
                field: field?,
                by: by?,
            }
        }
        _ => {
            let field = field_at("histogram", fields::HISTOGRAM, errors);
            let interval = interval_of(obj.get("interval"), &format!("{path}.interval"), errors);
            Aggregation::Histogram {
                field: field?,
                interval: interval?,
            }
        }
    };
    (errors.len() == before).then_some(agg)
}

/// The field named by `v`, which must be one of `allowed`.
fn field_of(
    v: Option<&Value>,
    path: &str,
    allowed: &[Field],
    errors: &mut Vec<SearchError>,
) -> Option<Field> {
    let name = v.and_then(Value::as_str).unwrap_or("");
    match Field::parse(name) {
        Some(f) if allowed.contains(&f) => Some(f),
        _ => {
            errors.push(SearchError::unknown(
                UNKNOWN_FIELD,
                path,
                "field here",
                name,
                Field::names(allowed),
            ));
            None
        }
    }
}

fn interval_of(v: Option<&Value>, path: &str, errors: &mut Vec<SearchError>) -> Option<Interval> {
    let name = v.and_then(Value::as_str).unwrap_or("");
    let found = Interval::ALL.into_iter().find(|i| i.name() == name);
    if found.is_none() {
        let names = Interval::ALL.iter().map(|i| i.name()).collect();
        errors.push(SearchError::not_one_of(path, name, names));
    }
    found
}
