//! Why a search was refused: each error names the place in the request (`filter.and[2].colour`)
//! and, for an unknown name, lists the names that exist there.

/// A name that is not a field (of a condition, a sort or an aggregation).
pub const UNKNOWN_FIELD: &str = "search.unknown_field";
/// An operator the field does not take, or no operator at all.
pub const UNKNOWN_OPERATOR: &str = "search.unknown_operator";
/// An aggregation of no known kind, or a member its kind does not take.
pub const UNKNOWN_AGGREGATION: &str = "search.unknown_aggregation";
/// A value of the wrong type or outside what the field takes.
pub const INVALID_VALUE: &str = "search.invalid_value";
/// Deeper, larger or longer than the language allows.
pub const TOO_COMPLEX: &str = "search.too_complex";
/// A cursor this API did not make, or made for another filter, text or sort.
pub const INVALID_CURSOR: &str = "search.invalid_cursor";
/// A histogram with more buckets than one answer may hold.
pub const TOO_MANY_BUCKETS: &str = "search.too_many_buckets";

/// One reason a search was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchError {
    /// One of the `search.*` codes of this module.
    pub code: &'static str,
    /// Where in the request: `filter.and[0].status.like`, `sort[0].field`, `cursor`.
    pub path: String,
    pub message: String,
    /// For an unknown name: the names that exist there.
    pub allowed: Vec<&'static str>,
}

impl SearchError {
    pub fn new(code: &'static str, path: impl Into<String>, message: impl Into<String>) -> Self {
        SearchError {
            code,
            path: path.into(),
            message: message.into(),
            allowed: Vec::new(),
        }
    }

    /// `what` named `name` is unknown at `path`; `allowed` are the names that exist.
    pub fn unknown(
        code: &'static str,
        path: impl Into<String>,
        what: &str,
        name: &str,
        allowed: Vec<&'static str>,
    ) -> Self {
        SearchError {
            code,
            path: path.into(),
            message: format!("unknown {what} `{name}`; known: {}", allowed.join(", ")),
            allowed,
        }
    }

    /// A value of `path` that must be one of `allowed`.
    pub fn not_one_of(path: impl Into<String>, value: &str, allowed: Vec<&'static str>) -> Self {
        SearchError {
            code: INVALID_VALUE,
            path: path.into(),
            message: format!("`{value}` is not one of: {}", allowed.join(", ")),
            allowed,
        }
    }

    /// The histogram `name` would have more than `max` buckets.
    pub fn too_many_buckets(name: &str, max: usize) -> Self {
        SearchError::new(
            TOO_MANY_BUCKETS,
            format!("aggregations.{name}"),
            format!(
                "more than {max} buckets; narrow the filter's date range or use a longer interval"
            ),
        )
    }
}

impl std::fmt::Display for SearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}
