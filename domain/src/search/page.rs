//! Sorting and keyset pagination: the sort keys (with `id` as the tiebreak that makes every
//! order's place unique) and the opaque cursor that carries the last order's place.
//!
//! A cursor also carries a fingerprint of the filter, text and sort it was made for, so a
//! cursor used with another search is refused rather than silently skipping or repeating
//! orders.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::MAX_SORT_KEYS;
use super::error::{INVALID_CURSOR, SearchError, TOO_COMPLEX, UNKNOWN_FIELD};
use super::fields::{self, Field, FieldKind};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// One sort key as a request writes it: `{"field": "placed_at", "dir": "desc"}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SortIn {
    /// `placed_at`, `updated_at` or `total_minor`.
    pub field: String,
    /// `asc` (the default) or `desc`.
    #[serde(default)]
    pub dir: Direction,
}

/// A validated sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SortKey {
    pub field: Field,
    pub dir: Direction,
}

/// Without a `sort`: newest first.
pub const DEFAULT_SORT: SortKey = SortKey {
    field: Field::PlacedAt,
    dir: Direction::Desc,
};

/// The sort keys of a request; errors go to `errors`.
pub(super) fn parse_sort(sort: Option<&[SortIn]>, errors: &mut Vec<SearchError>) -> Vec<SortKey> {
    let Some(sort) = sort.filter(|s| !s.is_empty()) else {
        return vec![DEFAULT_SORT];
    };
    if sort.len() > MAX_SORT_KEYS {
        errors.push(SearchError::new(
            TOO_COMPLEX,
            "sort",
            format!("at most {MAX_SORT_KEYS} sort keys (`id` always breaks ties)"),
        ));
        return Vec::new();
    }
    let mut keys: Vec<SortKey> = Vec::new();
    for (i, s) in sort.iter().enumerate() {
        match Field::parse(&s.field).filter(|f| fields::SORTABLE.contains(f)) {
            Some(field) if keys.iter().any(|k| k.field == field) => errors.push(SearchError::new(
                super::error::INVALID_VALUE,
                format!("sort[{i}].field"),
                format!("`{}` is already a sort key", s.field),
            )),
            Some(field) => keys.push(SortKey { field, dir: s.dir }),
            None => errors.push(SearchError::unknown(
                UNKNOWN_FIELD,
                format!("sort[{i}].field"),
                "sort field",
                &s.field,
                Field::names(fields::SORTABLE),
            )),
        }
    }
    keys
}

/// The value of one sort key of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Int(i64),
    Time(DateTime<Utc>),
}

/// Where a page ends: the sort keys' values and the id of its last order.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub values: Vec<SortValue>,
    pub id: String,
}

/// What a cursor holds, before base64url.
#[derive(Serialize, Deserialize)]
struct CursorWire {
    /// The fingerprint of the filter, text and sort, in hex.
    f: String,
    k: Vec<SortValue>,
    id: String,
}

/// The opaque cursor of the page after `pos`, for the search with `fingerprint`.
pub fn encode_cursor(fingerprint: u64, pos: &Position) -> String {
    let wire = CursorWire {
        f: format!("{fingerprint:016x}"),
        k: pos.values.clone(),
        id: pos.id.clone(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
}

/// The position a cursor holds, if it was made by [`encode_cursor`] for this fingerprint
/// and these sort keys.
pub fn decode_cursor(
    cursor: &str,
    fingerprint: u64,
    sort: &[SortKey],
) -> Result<Position, SearchError> {
    let not_ours = || {
        SearchError::new(
            INVALID_CURSOR,
            "cursor",
            "not a cursor this API returned; start again without one",
        )
    };
    let wire: CursorWire = URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(not_ours)?;
    if wire.f != format!("{fingerprint:016x}") {
        return Err(SearchError::new(
            INVALID_CURSOR,
            "cursor",
            "this cursor belongs to a search with another filter, text or sort; \
             send the same ones, or start again without a cursor",
        ));
    }
    let typed = wire.k.len() == sort.len()
        && sort.iter().zip(&wire.k).all(|(key, v)| {
            matches!(
                (key.field.kind(), v),
                (FieldKind::Time, SortValue::Time(_)) | (FieldKind::Integer, SortValue::Int(_))
            )
        });
    if !typed || wire.id.is_empty() {
        return Err(not_ours());
    }
    Ok(Position {
        values: wire.k,
        id: wire.id,
    })
}

/// FNV-1a of `what`'s JSON: the same search always has the same fingerprint. Not a secret:
/// a forged cursor only reaches another page of the caller's own results.
pub(super) fn fingerprint(what: &impl Serialize) -> u64 {
    let bytes = serde_json::to_vec(what).unwrap_or_default();
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h: u64, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The sort keys given as JSON, for the unit tests.
#[cfg(test)]
pub(super) fn sort_in(v: serde_json::Value) -> Vec<SortIn> {
    serde_json::from_value(v).unwrap()
}
