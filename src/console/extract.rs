//! The console's extractors: the API's, answered as pages. A browser that follows a link
//! with a query string that cannot be read (`?limit=many`), a job link with a malformed id,
//! or posts a form that cannot be read is shown the console's error page with the same code
//! the API would give, not a JSON problem.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::layout::PageError;
use crate::api::extract::{self, PathParams};
use crate::error::Error;

/// [`extract::Query`] for a page.
pub struct PageQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for PageQuery<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        let extract::Query(value) = extract::Query::from_request_parts(parts, state).await?;
        Ok(PageQuery(value))
    }
}

/// [`extract::Path`] for a page: a malformed id names nothing (the page's 404).
pub struct PagePath<T>(pub T);

impl<S: Send + Sync, T: PathParams> FromRequestParts<S> for PagePath<T> {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, PageError> {
        let extract::Path(value) = extract::Path::from_request_parts(parts, state).await?;
        Ok(PagePath(value))
    }
}

/// A URL-encoded form posted by a page.
pub struct PageForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for PageForm<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &S) -> Result<Self, PageError> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(PageForm(value)),
            Err(e) => Err(Error::bad_request("request.invalid_form", e.body_text()).into()),
        }
    }
}
