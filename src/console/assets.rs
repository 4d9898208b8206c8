//! The console's stylesheet and script, compiled into the binary: nothing is fetched from
//! another origin, and there is no front-end build step.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const FILES: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/console/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/console/console.js"),
    ),
];

/// The URL of an asset, naming the build so a new release is not served from a cache.
pub fn href(file: &str) -> String {
    format!("/console/assets/{file}?v={}", env!("CARGO_PKG_VERSION"))
}

pub async fn serve(Path(file): Path<String>) -> Response {
    let Some((_, content_type, body)) = FILES.iter().find(|(name, _, _)| *name == file) else {
        return crate::error::Error::not_found("asset").into_response();
    };
    let mut res = (StatusCode::OK, *body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}
