//! Extractors that answer malformed input in our problem+json format.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::domain::ids::{
    ExportId, OrderId, PaymentId, QuoteId, RequestId, RunId, SubjectExportId,
};
use crate::error::{Error, FieldError};

/// `axum::Json` whose rejection is a problem: 400 for unparseable JSON, 415 for a missing
/// content type, 422 listing the field for a body of the wrong shape.
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                let detail = e.body_text();
                let (field, message) = split_serde_path(&detail);
                Err(Error::validation(vec![FieldError { field, message }]))
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Error::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.content_type",
                "send the body as application/json",
            )),
            Err(e) => Err(Error::bad_request("request.invalid_json", e.body_text())),
        }
    }
}

/// `axum::extract::Query` whose rejection is a 400 problem naming the parameter.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(Error::bad_request("request.invalid_query", e.body_text()))
            }
            Err(e) => Err(Error::bad_request("request.invalid_query", e.body_text())),
        }
    }
}

/// serde_json's "field: message at line…" → (field, message) for the problem's `errors`.
fn split_serde_path(text: &str) -> (String, String) {
    let text =
        text.trim_start_matches("Failed to deserialize the JSON body into the target type: ");
    match text.split_once(": ") {
        Some((path, msg)) if !path.contains(' ') => (path.to_string(), msg.to_string()),
        _ => ("body".to_string(), text.to_string()),
    }
}

/// Typed path parameters, each checked before the handler runs, so before any query: an
/// `OrderId`, `RequestId` or `RunId` segment that cannot be such an id names nothing and is
/// answered like an unknown one (404 `order.not_found`, `request.not_found`,
/// `job.not_found`); use [`Strict`] where a malformed id is a 422. Tuples take several.
pub struct Path<T>(pub T);

/// An id that must be well formed: a malformed one is 422 `validation.failed` naming the
/// parameter (the order reads have always told the caller so), not [`Path`]'s 404.
pub struct Strict<T>(pub T);

/// What one path segment (or a tuple of them) becomes, and how a bad one is answered.
pub trait PathParams: Sized {
    type Raw: DeserializeOwned + Send;
    fn from_raw(raw: Self::Raw) -> Result<Self, Error>;
}

impl PathParams for String {
    type Raw = String;
    fn from_raw(raw: String) -> Result<Self, Error> {
        Ok(raw)
    }
}

impl PathParams for OrderId {
    type Raw = String;
    fn from_raw(raw: String) -> Result<Self, Error> {
        OrderId::parse(&raw).map_err(|_| Error::not_found("order"))
    }
}

impl PathParams for Strict<OrderId> {
    type Raw = String;
    fn from_raw(raw: String) -> Result<Self, Error> {
        OrderId::parse(&raw)
            .map(Strict)
            .map_err(|e| invalid(e.field, e.rule))
    }
}

impl PathParams for PaymentId {
    type Raw = String;
    fn from_raw(raw: String) -> Result<Self, Error> {
        PaymentId::parse(&raw).map_err(|_| Error::not_found("payment"))
    }
}

impl PathParams for QuoteId {
    type Raw = String;
    fn from_raw(raw: String) -> Result<Self, Error> {
        QuoteId::parse(&raw).map_err(|_| Error::not_found("quote"))
    }
}

impl PathParams for RequestId {
    type Raw = String;
    fn from_raw(raw: String) -> Result<Self, Error> {
        RequestId::parse(&raw).map_err(|_| Error::not_found("request"))
    }
}

impl PathParams for RunId {
    type Raw = String;
    fn from_raw(raw: String) -> Result<Self, Error> {
        RunId::parse(&raw).map_err(|_| Error::not_found("job"))
    }
}

impl PathParams for ExportId {
    type Raw = String;
    fn from_raw(raw: String) -> Result<Self, Error> {
        ExportId::parse(&raw).map_err(|_| Error::not_found("export"))
    }
}

impl PathParams for Strict<SubjectExportId> {
    type Raw = String;
    fn from_raw(raw: String) -> Result<Self, Error> {
        SubjectExportId::parse(&raw)
            .map(Strict)
            .map_err(|e| invalid(e.field, e.rule))
    }
}

impl<A: PathParams, B: PathParams> PathParams for (A, B) {
    type Raw = (A::Raw, B::Raw);
    fn from_raw((a, b): Self::Raw) -> Result<Self, Error> {
        Ok((A::from_raw(a)?, B::from_raw(b)?))
    }
}

impl<S: Send + Sync, T: PathParams> FromRequestParts<S> for Path<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T::Raw>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(raw)) => T::from_raw(raw).map(Path),
            // a segment that is not UTF-8 once percent-decoded
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                Err(Error::bad_request("request.invalid_path", e.body_text()))
            }
            Err(e) => Err(Error::Internal(anyhow::anyhow!(
                "path parameters: {}",
                e.body_text()
            ))),
        }
    }
}

/// Checks of a request's input beyond its shape (ranges, lengths, known values), each
/// answered as it was in the handler: usually 422 `validation.failed` listing every bad
/// field. What passes becomes the typed value the handler works with.
pub trait Validate {
    /// What the checks make of the input.
    type Checked;
    fn validate(&self) -> Result<Self::Checked, Error>;
}

/// A JSON body that passed [`Validate`]: the body as sent (what an `Idempotency-Key`
/// fingerprints) and what its checks made of it.
pub struct Valid<T: Validate> {
    pub body: T,
    pub checked: T::Checked,
}

impl<S: Send + Sync, T: DeserializeOwned + Validate> FromRequest<S> for Valid<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(body) = Json::<T>::from_request(req, state).await?;
        let checked = body.validate()?;
        Ok(Valid { body, checked })
    }
}

/// A query string that passed [`Validate`]: the handler gets what the checks made of it.
pub struct ValidQuery<T: Validate>(pub T::Checked);

impl<S: Send + Sync, T: DeserializeOwned + Validate> FromRequestParts<S> for ValidQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(query) = Query::<T>::from_request_parts(parts, state).await?;
        Ok(ValidQuery(query.validate()?))
    }
}

/// A 422 `validation.failed` naming one field.
pub fn invalid(field: &str, message: impl Into<String>) -> Error {
    Error::validation(vec![FieldError {
        field: field.into(),
        message: message.into(),
    }])
}
