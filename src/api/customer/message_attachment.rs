//! Attachments of support messages: accepting one (base64 in the message's JSON, decoded,
//! size-checked and sniffed by content) and `GET
//! /v1/customer/orders/{order_id}/messages/{message_id}/attachment`, which serves it as a
//! download with the type it was sniffed as, never rendered inline.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::api::auth::Customer;
use crate::api::extract::Path;
use crate::api::shared::download;
use crate::db;
use crate::db::support::NewAttachment;
use crate::domain::attachment::{MAX_ATTACHMENT_BYTES, MAX_FILENAME_CHARS, safe_filename, sniff};
use crate::domain::ids::OrderId;
use crate::domain::order::Order;
use crate::error::{Error, FieldError, Result};
use crate::state::AppState;

/// An attachment, sent inline as base64. Its type is decided by its content: PDF, PNG,
/// JPEG or plain UTF-8 text, at most 5 MiB decoded.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentIn {
    /// 1 to 120 characters, kept whole (a longer name is refused, never cut).
    pub filename: String,
    /// Standard base64 (with padding) of the file's bytes.
    pub content_base64: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentOut {
    pub filename: String,
    /// As sniffed from the content.
    pub content_type: String,
    pub size_bytes: i32,
    /// Download route (same authentication).
    pub url: String,
}

/// A validated attachment, ready to store.
pub struct Decoded {
    filename: String,
    content_type: &'static str,
    sha256: String,
    content: Vec<u8>,
}

impl Decoded {
    pub fn as_new(&self) -> NewAttachment<'_> {
        NewAttachment {
            filename: &self.filename,
            content_type: self.content_type,
            sha256: &self.sha256,
            content: &self.content,
        }
    }
}

/// Decodes the attachment, checks its size and decides its type by its content: 422
/// `validation.failed` (name, base64), 413 `message.attachment_too_large`, 422
/// `message.attachment_type`.
pub fn decode(a: &AttachmentIn) -> Result<Decoded> {
    let mut errors = Vec::new();
    if a.filename.trim().is_empty() || a.filename.chars().count() > MAX_FILENAME_CHARS {
        errors.push(FieldError {
            field: "attachment.filename".into(),
            message: format!("1 to {MAX_FILENAME_CHARS} characters"),
        });
    }
    // refuse before decoding what cannot fit anyway
    if a.content_base64.len() > MAX_ATTACHMENT_BYTES.div_ceil(3) * 4 {
        return Err(too_large());
    }
    let content = STANDARD.decode(a.content_base64.as_bytes());
    if content.is_err() {
        errors.push(FieldError {
            field: "attachment.content_base64".into(),
            message: "must be standard base64".into(),
        });
    }
    let content = match content {
        Ok(c) if errors.is_empty() => c,
        _ => return Err(Error::validation(errors)),
    };
    if content.len() > MAX_ATTACHMENT_BYTES {
        return Err(too_large());
    }
    let Some(kind) = sniff(&content) else {
        return Err(Error::unprocessable(
            "message.attachment_type",
            "the attachment's content is not a PDF, PNG, JPEG or plain text file",
        )
        .with_explain("the type is judged by the file's content, not by its name")
        .with_next_step("attach a PDF, PNG, JPEG or plain text file"));
    };
    Ok(Decoded {
        filename: safe_filename(&a.filename, kind),
        content_type: kind.mime(),
        sha256: hex::encode(Sha256::digest(&content)),
        content,
    })
}

fn too_large() -> Error {
    Error::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "message.attachment_too_large",
        "the attachment is larger than 5 MiB",
    )
}

/// Downloads the attachment of one message of the caller's order (not internal notes).
#[utoipa::path(get, path = "/v1/customer/orders/{order_id}/messages/{message_id}/attachment", tag = "customer",
    params(("order_id" = String, Path), ("message_id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"),
              (status = 401, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn download_attachment(
    State(state): State<AppState>,
    who: Customer,
    Path((order_id, message_id)): Path<(OrderId, String)>,
) -> Result<Response> {
    let order = who.own_order(&state, &order_id).await?;
    let (filename, content_type, content) = attachment_of(&state, &order, &message_id).await?;
    Ok(attachment_download(&filename, &content_type, content))
}

/// The attachment of a message of `order` that its customer sees (not an internal note):
/// its file name, type and content; 404 for another message or one without a file.
async fn attachment_of(
    state: &AppState,
    order: &Order,
    message_id: &str,
) -> Result<(String, String, Vec<u8>)> {
    let tenant = &order.tenant_id;
    let mut conn = state.db.acquire().await?;
    db::support::get_message(&mut conn, tenant, &order.id, message_id, false)
        .await?
        .ok_or_else(|| Error::not_found("message"))?;
    db::support::attachment_content(&mut conn, tenant, message_id)
        .await?
        .ok_or_else(|| Error::not_found("attachment"))
}

/// The file as a download of the type it was sniffed as, which no browser renders or runs.
pub(crate) fn attachment_download(
    filename: &str,
    content_type: &str,
    content: Vec<u8>,
) -> Response {
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&content_disposition(filename)).ok();
    let mut res = download(content, content_type, disposition);
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    res
}

/// What RFC 8187 lets stand unencoded in `filename*` (its `attr-char`).
const ATTR_CHAR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266).
/// The fallback replaces what could end its quoted string (`"`, `\`) or is not ASCII.
fn content_disposition(filename: &str) -> String {
    let ascii: String = filename
        .chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '_',
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(filename, ATTR_CHAR);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn disposition_is_ascii_with_an_utf8_form() {
        assert_eq!(
            super::content_disposition("reçu 1.pdf"),
            "attachment; filename=\"re_u 1.pdf\"; filename*=UTF-8''re%C3%A7u%201.pdf"
        );
    }

    #[test]
    fn a_quote_in_the_name_cannot_end_the_fallback() {
        assert_eq!(
            super::content_disposition("a\"; x=\"y\\.pdf"),
            "attachment; filename=\"a_; x=_y_.pdf\"; filename*=UTF-8''a%22%3B%20x%3D%22y%5C.pdf"
        );
    }
}
