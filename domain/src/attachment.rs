//! What an attachment of a support message may be: its type is decided by sniffing the
//! content (magic bytes), never by its filename or a declared type, and its stored name is
//! made safe to put in a `Content-Disposition` header.

/// The largest attachment accepted, decoded.
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;
/// The longest filename accepted and stored, in characters (a longer one is refused, not
/// cut: [`safe_filename`]'s cut is only a safety net).
pub const MAX_FILENAME_CHARS: usize = 120;

/// The attachment types customers may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentType {
    Pdf,
    Png,
    Jpeg,
    Text,
}

impl AttachmentType {
    /// The content type it is stored and served with.
    pub fn mime(self) -> &'static str {
        match self {
            AttachmentType::Pdf => "application/pdf",
            AttachmentType::Png => "image/png",
            AttachmentType::Jpeg => "image/jpeg",
            AttachmentType::Text => "text/plain; charset=utf-8",
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            AttachmentType::Pdf => &["pdf"],
            AttachmentType::Png => &["png"],
            AttachmentType::Jpeg => &["jpg", "jpeg"],
            AttachmentType::Text => &["txt", "text", "log", "csv"],
        }
    }
}

/// The type of `content` judged by its first bytes; `None` for anything else (executables,
/// archives, HTML is text but served as text/plain only, …).
pub fn sniff(content: &[u8]) -> Option<AttachmentType> {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";
    if content.starts_with(b"%PDF-") {
        Some(AttachmentType::Pdf)
    } else if content.starts_with(PNG) {
        Some(AttachmentType::Png)
    } else if content.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(AttachmentType::Jpeg)
    } else if is_plain_text(content) {
        Some(AttachmentType::Text)
    } else {
        None
    }
}

/// UTF-8 without control characters other than tab, newline, carriage return and form feed.
fn is_plain_text(content: &[u8]) -> bool {
    let content = content.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(content);
    match std::str::from_utf8(content) {
        Ok(text) => {
            !text.is_empty()
                && text
                    .chars()
                    .all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0C'))
        }
        Err(_) => false,
    }
}

/// The name to store and serve: the last path component, without control characters,
/// quotes or backslashes, at most 120 characters, ending in an extension of the sniffed
/// type (appended when the given one disagrees, so `x.png` holding a PDF is `x.png.pdf`).
pub fn safe_filename(given: &str, kind: AttachmentType) -> String {
    let last = given.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | ';'))
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let stem: String = if cleaned.is_empty() {
        "attachment".into()
    } else {
        cleaned.chars().take(MAX_FILENAME_CHARS).collect()
    };
    let ext_ok = stem.rsplit_once('.').is_some_and(|(_, ext)| {
        kind.extensions()
            .contains(&ext.to_ascii_lowercase().as_str())
    });
    if ext_ok {
        stem
    } else {
        format!("{stem}.{}", kind.extensions()[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content_only() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some(AttachmentType::Pdf));
        assert_eq!(
            sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(AttachmentType::Png)
        );
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(AttachmentType::Jpeg)
        );
        assert_eq!(
            sniff("hello\n\twörld\r\n".as_bytes()),
            Some(AttachmentType::Text)
        );
        // a Windows executable, an ELF binary, a zip, random bytes
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0\x04\0"), None);
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\0"), None);
        assert_eq!(sniff(b"PK\x03\x04\x14\0"), None);
        assert_eq!(sniff(&[0xC3, 0x28, 0xA0]), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn filenames_are_made_safe_and_match_the_type() {
        assert_eq!(
            safe_filename("receipt.pdf", AttachmentType::Pdf),
            "receipt.pdf"
        );
        assert_eq!(
            safe_filename("photo.JPEG", AttachmentType::Jpeg),
            "photo.JPEG"
        );
        assert_eq!(safe_filename("x.png", AttachmentType::Pdf), "x.png.pdf");
        assert_eq!(
            safe_filename("../../etc/pass\"wd", AttachmentType::Text),
            "passwd.txt"
        );
        assert_eq!(safe_filename("C:\\a\\b.png", AttachmentType::Png), "b.png");
        assert_eq!(safe_filename("  ", AttachmentType::Png), "attachment.png");
        assert_eq!(
            safe_filename(".htaccess", AttachmentType::Text),
            "htaccess.txt"
        );
        let long = "a".repeat(500);
        assert_eq!(
            safe_filename(&long, AttachmentType::Text).chars().count(),
            124
        );
    }
}
