//! Exports of orders for finance: the request ([`ExportRequest`]) validated into an
//! [`ExportSpec`] — which orders (the search language's [`Criteria`]), in which format and
//! compression, with which of the fixed, documented [`Column`]s — and the typed run input of
//! the `export_orders` workflow ([`ExportRunInput`]).
//!
//! Every refusal is a [`SearchError`] naming its place in the request; an unknown column,
//! format or compression lists the names that exist.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::ids::ExportId;
use crate::search::error::INVALID_VALUE;
use crate::search::{Criteria, SearchError};

/// An unknown column (with the known ones in `allowed`).
pub const UNKNOWN_COLUMN: &str = "export.unknown_column";
/// A format or compression that does not exist, or that does not go together.
pub const INVALID_FORMAT: &str = "export.invalid_format";

/// At most this many rows per part (the default is the deployment's
/// `ORDERDESK_EXPORTS_PART_ROWS`).
pub const MAX_PART_ROWS: u64 = 1_000_000;

/// The file an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// RFC 4180 CSV with a header line, UTF-8.
    Csv,
    /// One JSON object per line.
    Ndjson,
    /// Apache Parquet with typed columns (timestamps in µs UTC, money as int64 minor units,
    /// dictionary-encoded text), Snappy-compressed.
    Parquet,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 3] = [
        ExportFormat::Csv,
        ExportFormat::Ndjson,
        ExportFormat::Parquet,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Parquet => "parquet",
        }
    }

    pub fn parse(s: &str) -> Option<ExportFormat> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The file name's extension (without compression's).
    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Ndjson => "application/x-ndjson",
            ExportFormat::Parquet => "application/vnd.apache.parquet",
        }
    }
}

/// How a CSV or NDJSON file is compressed (Parquet compresses its own pages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    #[default]
    None,
    /// gzip: each part is one gzip member, and concatenated members are one valid gzip file.
    Gzip,
}

impl Compression {
    pub const ALL: [Compression; 2] = [Compression::None, Compression::Gzip];

    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        }
    }

    pub fn parse(s: &str) -> Option<Compression> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What a column holds, which decides its type in NDJSON and Parquet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    /// Text with few distinct values (statuses, currency, channel): dictionary-encoded in
    /// Parquet.
    Keyword,
    /// 64-bit integer (money in minor units).
    Int,
    /// A UTC timestamp: RFC 3339 with microseconds in CSV and NDJSON.
    Time,
}

/// The columns an export may have, in the order they are listed; an export's file has its
/// columns in the order the request names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Column {
    Id,
    Number,
    PlacedAt,
    UpdatedAt,
    Status,
    PaymentStatus,
    FulfillmentStatus,
    Currency,
    TotalMinor,
    CustomerId,
    Email,
    Channel,
    ExternalRef,
    FraudState,
}

impl Column {
    pub const ALL: [Column; 14] = [
        Column::Id,
        Column::Number,
        Column::PlacedAt,
        Column::UpdatedAt,
        Column::Status,
        Column::PaymentStatus,
        Column::FulfillmentStatus,
        Column::Currency,
        Column::TotalMinor,
        Column::CustomerId,
        Column::Email,
        Column::Channel,
        Column::ExternalRef,
        Column::FraudState,
    ];

    /// Without `columns`: what finance reconciles with, and no personal data (`email` must
    /// be asked for).
    pub const DEFAULT: [Column; 10] = [
        Column::Id,
        Column::Number,
        Column::PlacedAt,
        Column::Status,
        Column::PaymentStatus,
        Column::FulfillmentStatus,
        Column::Currency,
        Column::TotalMinor,
        Column::CustomerId,
        Column::Channel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Column::Id => "id",
            Column::Number => "number",
            Column::PlacedAt => "placed_at",
            Column::UpdatedAt => "updated_at",
            Column::Status => "status",
            Column::PaymentStatus => "payment_status",
            Column::FulfillmentStatus => "fulfillment_status",
            Column::Currency => "currency",
            Column::TotalMinor => "total_minor",
            Column::CustomerId => "customer_id",
            Column::Email => "email",
            Column::Channel => "channel",
            Column::ExternalRef => "external_ref",
            Column::FraudState => "fraud_state",
        }
    }

    pub fn parse(s: &str) -> Option<Column> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }

    pub fn names(columns: &[Column]) -> Vec<&'static str> {
        columns.iter().map(|c| c.name()).collect()
    }

    pub fn kind(self) -> ColumnType {
        match self {
            Column::PlacedAt | Column::UpdatedAt => ColumnType::Time,
            Column::TotalMinor => ColumnType::Int,
            Column::Status
            | Column::PaymentStatus
            | Column::FulfillmentStatus
            | Column::Currency
            | Column::Channel
            | Column::FraudState => ColumnType::Keyword,
            Column::Id
            | Column::Number
            | Column::CustomerId
            | Column::Email
            | Column::ExternalRef => ColumnType::Text,
        }
    }

    /// Whether the column may be empty (`null` in NDJSON and Parquet, an empty field in CSV).
    pub fn nullable(self) -> bool {
        matches!(
            self,
            Column::PaymentStatus
                | Column::FulfillmentStatus
                | Column::Channel
                | Column::ExternalRef
                | Column::FraudState
        )
    }
}

/// An export as a client asks for it. Members other than these are refused.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Which orders: the admin search language's filter (README, "Searching orders").
    /// Absent: every order of the tenant.
    #[schema(value_type = Option<Object>, example = json!({"status": {"in": ["delivered", "closed"]}}))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
    /// Full text, as in a search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// `csv`, `ndjson` or `parquet`.
    pub format: String,
    /// Column names, in file order; default `id`, `number`, `placed_at`, `status`,
    /// `payment_status`, `fulfillment_status`, `currency`, `total_minor`, `customer_id`,
    /// `channel`. Each at most once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<String>>,
    /// `none` (default) or `gzip`; CSV and NDJSON only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
}

/// A validated export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSpec {
    pub criteria: Criteria,
    pub format: ExportFormat,
    pub compression: Compression,
    pub columns: Vec<Column>,
}

impl ExportSpec {
    /// Validates `req`, reporting every error it finds.
    pub fn parse(req: &ExportRequest) -> Result<ExportSpec, Vec<SearchError>> {
        let mut errors = Vec::new();
        let criteria = Criteria::parse(req.filter.as_ref(), req.text.as_deref(), &mut errors);
        let format = ExportFormat::parse(&req.format);
        if format.is_none() {
            let allowed = ExportFormat::ALL.iter().map(|f| f.as_str()).collect();
            errors.push(SearchError::unknown(
                INVALID_FORMAT,
                "format",
                "format",
                &req.format,
                allowed,
            ));
        }
        let compression = match req.compression.as_deref() {
            None => Some(Compression::None),
            Some(c) => {
                let parsed = Compression::parse(c);
                if parsed.is_none() {
                    let allowed = Compression::ALL.iter().map(|c| c.as_str()).collect();
                    errors.push(SearchError::unknown(
                        INVALID_FORMAT,
                        "compression",
                        "compression",
                        c,
                        allowed,
                    ));
                }
                parsed
            }
        };
        if format == Some(ExportFormat::Parquet) && compression == Some(Compression::Gzip) {
            errors.push(SearchError::new(
                INVALID_FORMAT,
                "compression",
                "Parquet compresses its own pages (Snappy); leave `compression` out",
            ));
        }
        let columns = parse_columns(req.columns.as_deref(), &mut errors);
        match (format, compression, errors.is_empty()) {
            (Some(format), Some(compression), true) => Ok(ExportSpec {
                criteria,
                format,
                compression,
                columns,
            }),
            _ => Err(errors),
        }
    }
}

fn parse_columns(names: Option<&[String]>, errors: &mut Vec<SearchError>) -> Vec<Column> {
    let Some(names) = names else {
        return Column::DEFAULT.to_vec();
    };
    if names.is_empty() {
        errors.push(SearchError::new(
            INVALID_VALUE,
            "columns",
            "name at least one column, or leave `columns` out for the default set",
        ));
    }
    let mut columns = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let path = format!("columns[{i}]");
        match Column::parse(name) {
            Some(c) if columns.contains(&c) => errors.push(SearchError::new(
                INVALID_VALUE,
                path,
                format!("`{name}` is named twice"),
            )),
            Some(c) => columns.push(c),
            None => errors.push(SearchError::unknown(
                UNKNOWN_COLUMN,
                path,
                "column",
                name,
                Column::names(&Column::ALL),
            )),
        }
    }
    columns
}

/// The `export_orders` workflow's input: the export row it fills and what was asked. The
/// filter is kept as sent and parsed again by the actions (it parsed once already).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportRunInput {
    pub export_id: ExportId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    pub format: ExportFormat,
    pub compression: Compression,
    pub columns: Vec<Column>,
    /// Rows per part.
    pub part_rows: u64,
}

impl ExportRunInput {
    /// The orders it selects; `None` if the stored filter no longer parses (a language
    /// change since the export was accepted).
    pub fn criteria(&self) -> Option<Criteria> {
        let mut errors = Vec::new();
        let criteria = Criteria::parse(self.filter.as_ref(), self.text.as_deref(), &mut errors);
        errors.is_empty().then_some(criteria)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(v: Value) -> ExportRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn defaults_are_the_finance_columns_without_compression() {
        let spec = ExportSpec::parse(&request(json!({"format": "csv"}))).unwrap();
        assert_eq!(spec.columns, Column::DEFAULT);
        assert!(!spec.columns.contains(&Column::Email));
        assert_eq!(spec.compression, Compression::None);
        assert_eq!(spec.criteria, Criteria::default());
    }

    #[test]
    fn an_unknown_column_is_named_with_the_known_ones() {
        let errs = ExportSpec::parse(&request(json!({
            "format": "ndjson", "columns": ["id", "colour", "id"]
        })))
        .unwrap_err();
        assert_eq!(errs[0].code, UNKNOWN_COLUMN);
        assert_eq!(errs[0].path, "columns[1]");
        assert!(errs[0].message.contains("colour"), "{}", errs[0].message);
        assert!(errs[0].allowed.contains(&"total_minor"));
        assert_eq!(errs[1].path, "columns[2]");
    }

    #[test]
    fn formats_compressions_and_filters_are_checked_together() {
        let errs = ExportSpec::parse(&request(json!({
            "format": "xlsx", "compression": "zip", "filter": {"colour": {"eq": "red"}}
        })))
        .unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["filter.colour", "format", "compression"]);
        let errs = ExportSpec::parse(&request(json!({
            "format": "parquet", "compression": "gzip"
        })))
        .unwrap_err();
        assert_eq!(errs[0].code, INVALID_FORMAT);
        let ok = ExportSpec::parse(&request(json!({
            "format": "ndjson", "compression": "gzip", "columns": ["email", "id"],
            "filter": {"status": {"eq": "delivered"}}
        })))
        .unwrap();
        assert_eq!(ok.columns, [Column::Email, Column::Id]);
        assert!(ok.criteria.filter.is_some());
    }

    #[test]
    fn column_names_round_trip() {
        for c in Column::ALL {
            assert_eq!(Column::parse(c.name()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), json!(c.name()));
        }
    }
}
