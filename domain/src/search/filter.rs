//! The filter: conditions on fields joined by `and`, `or` and `not`, parsed from JSON into a
//! typed tree whose every value already has its field's type.
//!
//! ```json
//! {"and": [{"status": {"in": ["confirmed", "on_hold"]}},
//!          {"total_minor": {"gte": 1000, "lt": 5000}},
//!          {"not": {"tags": {"contains": "vip"}}}]}
//! ```
//! An object is either one of `and`/`or` (a non-empty list), `not` (one filter), or one field
//! with one or more operators (several are all required: a range).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::error::{INVALID_VALUE, SearchError, TOO_COMPLEX, UNKNOWN_FIELD, UNKNOWN_OPERATOR};
use super::fields::{Field, FieldKind, Op, op_names};
use super::{MAX_DEPTH, MAX_IN_VALUES, MAX_LEAVES, MAX_VALUE_LEN, MIN_CONTAINS_LEN};

/// A validated filter.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Condition(Condition),
}

/// One comparison of one field; `value` has the type the field and operator call for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
    pub value: Operand,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operand {
    Text(String),
    Texts(Vec<String>),
    Int(i64),
    Time(DateTime<Utc>),
    Bool(bool),
}

const COMBINATORS: [&str; 3] = ["and", "or", "not"];

/// Reads a filter, collecting every error rather than stopping at the first.
pub(super) struct FilterParser<'e> {
    pub errors: &'e mut Vec<SearchError>,
    leaves: usize,
}

impl<'e> FilterParser<'e> {
    pub fn new(errors: &'e mut Vec<SearchError>) -> Self {
        FilterParser { errors, leaves: 0 }
    }

    /// The filter at `path`, `depth` levels deep (the top is 1); `None` if it has errors.
    pub fn parse(&mut self, v: &Value, path: &str, depth: usize) -> Option<Filter> {
        if depth > MAX_DEPTH {
            self.errors.push(SearchError::new(
                TOO_COMPLEX,
                path,
                format!("filters nest at most {MAX_DEPTH} deep"),
            ));
            return None;
        }
        let Some(obj) = v.as_object() else {
            return self.invalid(
                path,
                "must be an object: a field's condition, `and`, `or` or `not`",
            );
        };
        let mut keys = obj.iter();
        let (key, inner) = match (keys.next(), keys.next()) {
            (Some(kv), None) => kv,
            (None, _) => {
                return self.invalid(path, "an empty filter; name a field, `and`, `or` or `not`");
            }
            (Some(_), Some(_)) => {
                let names: Vec<&str> = obj.keys().map(String::as_str).collect();
                return self.invalid(
                    path,
                    format!(
                        "one field or combinator per object (found {}); join them with `and`",
                        names.join(", ")
                    ),
                );
            }
        };
        let here = format!("{path}.{key}");
        match key.as_str() {
            "and" | "or" => {
                let parts = self.list(inner, &here, depth)?;
                Some(if key == "and" {
                    Filter::And(parts)
                } else {
                    Filter::Or(parts)
                })
            }
            "not" => Some(Filter::Not(Box::new(self.parse(
                inner,
                &here,
                depth + 1,
            )?))),
            name => {
                let Some(field) = Field::parse(name) else {
                    let mut known = Field::names(&Field::ALL);
                    known.extend(COMBINATORS);
                    self.errors.push(SearchError::unknown(
                        UNKNOWN_FIELD,
                        here,
                        "field",
                        name,
                        known,
                    ));
                    return None;
                };
                self.conditions(field, inner, &here)
            }
        }
    }

    fn list(&mut self, v: &Value, path: &str, depth: usize) -> Option<Vec<Filter>> {
        let Some(items) = v.as_array().filter(|a| !a.is_empty()) else {
            return self.invalid(path, "must be a non-empty list of filters");
        };
        let parsed: Vec<Option<Filter>> = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.parse(item, &format!("{path}[{i}]"), depth + 1))
            .collect();
        parsed.into_iter().collect()
    }

    /// `{"gte": …, "lt": …}` of `field`: one condition, or the `and` of several.
    fn conditions(&mut self, field: Field, v: &Value, path: &str) -> Option<Filter> {
        let ops = field.operators();
        let Some(obj) = v.as_object().filter(|o| !o.is_empty()) else {
            self.errors.push(SearchError {
                code: UNKNOWN_OPERATOR,
                path: path.to_string(),
                message: format!(
                    "must be an object of operators; `{}` takes: {}",
                    field.name(),
                    op_names(ops).join(", ")
                ),
                allowed: op_names(ops),
            });
            return None;
        };
        let mut conds = Vec::new();
        let mut ok = true;
        for (name, value) in obj {
            let here = format!("{path}.{name}");
            let op = match Op::parse(name) {
                Some(op) if ops.contains(&op) => op,
                _ => {
                    let what = format!("operator of `{}`", field.name());
                    self.errors.push(SearchError::unknown(
                        UNKNOWN_OPERATOR,
                        here,
                        &what,
                        name,
                        op_names(ops),
                    ));
                    ok = false;
                    continue;
                }
            };
            self.leaves += 1;
            if self.leaves == MAX_LEAVES + 1 {
                self.errors.push(SearchError::new(
                    TOO_COMPLEX,
                    "filter",
                    format!("at most {MAX_LEAVES} conditions"),
                ));
            }
            match self.operand(field, op, value, &here) {
                Some(value) => conds.push(Filter::Condition(Condition { field, op, value })),
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        Some(if conds.len() == 1 {
            conds.remove(0)
        } else {
            Filter::And(conds)
        })
    }

    /// The value of `op` on `field`, typed.
    fn operand(&mut self, field: Field, op: Op, v: &Value, path: &str) -> Option<Operand> {
        if op == Op::Exists {
            return match v.as_bool() {
                Some(b) => Some(Operand::Bool(b)),
                None => self.invalid(path, "must be true or false"),
            };
        }
        if op == Op::In {
            let Some(items) = v.as_array().filter(|a| !a.is_empty()) else {
                return self.invalid(path, "must be a non-empty list");
            };
            if items.len() > MAX_IN_VALUES {
                self.errors.push(SearchError::new(
                    TOO_COMPLEX,
                    path,
                    format!("at most {MAX_IN_VALUES} values"),
                ));
                return None;
            }
            let texts: Vec<Option<String>> = items
                .iter()
                .enumerate()
                .map(|(i, item)| self.text(field, item, &format!("{path}[{i}]")))
                .collect();
            return texts.into_iter().collect::<Option<_>>().map(Operand::Texts);
        }
        match field.kind() {
            FieldKind::Integer => match v.as_i64() {
                Some(n) => Some(Operand::Int(n)),
                None => self.invalid(path, "must be a whole number (minor units)"),
            },
            FieldKind::Time => match v.as_str().map(DateTime::parse_from_rfc3339) {
                Some(Ok(t)) => Some(Operand::Time(t.with_timezone(&Utc))),
                _ => self.invalid(
                    path,
                    "must be an RFC 3339 instant such as 2026-01-01T00:00:00Z",
                ),
            },
            FieldKind::Boolean => match v.as_bool() {
                Some(b) => Some(Operand::Bool(b)),
                None => self.invalid(path, "must be true or false"),
            },
            FieldKind::Keyword | FieldKind::KeywordSet => {
                let text = self.text(field, v, path)?;
                // a substring of an address: shorter ones match nearly every order, and an
                // index of trigrams serves three characters or more
                if op == Op::Contains
                    && field.kind() == FieldKind::Keyword
                    && text.chars().count() < MIN_CONTAINS_LEN
                {
                    return self.invalid(
                        path,
                        format!("at least {MIN_CONTAINS_LEN} characters of the address"),
                    );
                }
                Some(Operand::Text(text))
            }
        }
    }

    /// One string value of `field`: bounded, and one of its values if the field is closed.
    fn text(&mut self, field: Field, v: &Value, path: &str) -> Option<String> {
        let Some(s) = v.as_str() else {
            return self.invalid(path, "must be a string");
        };
        if s.is_empty() || s.chars().count() > MAX_VALUE_LEN {
            return self.invalid(path, format!("must be 1 to {MAX_VALUE_LEN} characters"));
        }
        if let Some(allowed) = field.closed_values()
            && !allowed.contains(&s)
        {
            self.errors.push(SearchError::not_one_of(path, s, allowed));
            return None;
        }
        if field == Field::Currency && !(s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return self.invalid(path, "must be an ISO 4217 code such as EUR");
        }
        Some(s.to_string())
    }

    fn invalid<T>(&mut self, path: &str, message: impl Into<String>) -> Option<T> {
        self.errors
            .push(SearchError::new(INVALID_VALUE, path, message));
        None
    }
}
