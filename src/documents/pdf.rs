//! A small page-drawing layer over `pdf-writer`: text in the two standard Helvetica fonts
//! (nothing to embed), rules, boxes and pages. Streams are written uncompressed, so a
//! document's text can be found in its bytes.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::metrics;

/// A4 in points.
pub const A4: (f32, f32) = (595.0, 842.0);
/// A 4 × 6 inch shipping label in points.
pub const LABEL_4X6: (f32, f32) = (288.0, 432.0);

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

/// A document being drawn: drawing goes to the current page (the last one added, unless
/// another is selected).
pub struct Doc {
    size: (f32, f32),
    title: String,
    pages: Vec<Content>,
    current: usize,
}

impl Doc {
    /// A document with one empty page of `size` (points).
    pub fn new(size: (f32, f32), title: &str) -> Doc {
        Doc {
            size,
            title: title.to_string(),
            pages: vec![Content::new()],
            current: 0,
        }
    }

    pub fn width(&self) -> f32 {
        self.size.0
    }

    pub fn height(&self) -> f32 {
        self.size.1
    }

    /// Adds a page and draws on it from now on.
    pub fn add_page(&mut self) {
        self.pages.push(Content::new());
        self.current = self.pages.len() - 1;
    }

    /// Draws on page `index` (0-based) from now on, e.g. to add footers at the end.
    pub fn select_page(&mut self, index: usize) {
        assert!(index < self.pages.len(), "page {index} does not exist");
        self.current = index;
    }

    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    fn content(&mut self) -> &mut Content {
        &mut self.pages[self.current]
    }

    /// Draws `text` with its baseline starting at (`x`, `y`).
    pub fn text(&mut self, x: f32, y: f32, weight: Weight, size: f32, text: &str) {
        let bytes = metrics::win_ansi(text);
        self.show(x, y, weight, size, &bytes);
    }

    /// Draws `text` so that it ends at `right`.
    pub fn text_right(&mut self, right: f32, y: f32, weight: Weight, size: f32, text: &str) {
        let bytes = metrics::win_ansi(text);
        let w = metrics::width(weight == Weight::Bold, size, &bytes);
        self.show(right - w, y, weight, size, &bytes);
    }

    /// Draws `text`, cut with an ellipsis where it would pass `max_width`.
    pub fn text_fit(&mut self, x: f32, y: f32, weight: Weight, size: f32, max: f32, text: &str) {
        let bytes = fit(weight, size, max, metrics::win_ansi(text));
        self.show(x, y, weight, size, &bytes);
    }

    fn show(&mut self, x: f32, y: f32, weight: Weight, size: f32, bytes: &[u8]) {
        let font = if weight == Weight::Bold {
            BOLD
        } else {
            REGULAR
        };
        self.content()
            .begin_text()
            .set_font(font, size)
            .next_line(x, y)
            .show(Str(bytes))
            .end_text();
    }

    /// A horizontal line from `x1` to `x2` at `y`.
    pub fn rule(&mut self, x1: f32, x2: f32, y: f32, thickness: f32, gray: f32) {
        self.content()
            .save_state()
            .set_stroke_gray(gray)
            .set_line_width(thickness)
            .move_to(x1, y)
            .line_to(x2, y)
            .stroke()
            .restore_state();
    }

    /// A filled rectangle with its lower-left corner at (`x`, `y`); 0 is black, 1 white.
    pub fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, gray: f32) {
        self.content()
            .save_state()
            .set_fill_gray(gray)
            .rect(x, y, w, h)
            .fill_nonzero()
            .restore_state();
    }

    /// The outline of a rectangle with its lower-left corner at (`x`, `y`).
    pub fn frame(&mut self, x: f32, y: f32, w: f32, h: f32, thickness: f32) {
        self.content()
            .save_state()
            .set_line_width(thickness)
            .rect(x, y, w, h)
            .stroke()
            .restore_state();
    }

    /// Writes the file: catalog, page tree, the two fonts and one content stream per page.
    pub fn finish(self) -> Vec<u8> {
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let info = Ref::new(5);
        let first_page = 6;
        let page_ids: Vec<Ref> = (0..self.pages.len())
            .map(|i| Ref::new(first_page + 2 * i as i32))
            .collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(page_ids.iter().copied())
            .count(page_ids.len() as i32);
        for (font, base) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
            pdf.type1_font(font)
                .base_font(Name(base.as_bytes()))
                .encoding_predefined(Name(b"WinAnsiEncoding"));
        }
        pdf.document_info(info)
            .title(TextStr(&self.title))
            .producer(TextStr("orderdesk"));
        for (content, page_id) in self.pages.into_iter().zip(&page_ids) {
            let content_id = Ref::new(page_id.get() + 1);
            let mut page = pdf.page(*page_id);
            page.media_box(Rect::new(0.0, 0.0, self.size.0, self.size.1))
                .parent(tree)
                .contents(content_id);
            let mut resources = page.resources();
            resources.fonts().pair(REGULAR, regular).pair(BOLD, bold);
            resources.finish();
            page.finish();
            pdf.stream(content_id, &content.finish());
        }
        pdf.finish()
    }
}

/// Shortens WinAnsi `bytes` with a trailing ellipsis until they fit in `max` points.
fn fit(weight: Weight, size: f32, max: f32, mut bytes: Vec<u8>) -> Vec<u8> {
    let bold = weight == Weight::Bold;
    if metrics::width(bold, size, &bytes) <= max {
        return bytes;
    }
    while !bytes.is_empty() {
        bytes.pop();
        let mut candidate = bytes.clone();
        candidate.push(0x85);
        if metrics::width(bold, size, &candidate) <= max {
            return candidate;
        }
    }
    bytes
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Checks the cross-reference table: every entry points at `N 0 obj`. A reader
    /// that trusts the table (most do) finds every object.
    pub(crate) fn assert_well_formed(pdf: &[u8]) {
        let find = |needle: &[u8], from: usize| {
            pdf[from..]
                .windows(needle.len())
                .position(|w| w == needle)
                .map(|p| p + from)
        };
        let ascii_at =
            |at: usize, len: usize| String::from_utf8_lossy(&pdf[at..at + len]).to_string();
        assert!(pdf.starts_with(b"%PDF-"), "header");
        assert!(pdf.trim_ascii_end().ends_with(b"%%EOF"), "trailer");
        let start = pdf
            .windows(9)
            .rposition(|w| w == b"startxref")
            .expect("startxref");
        let offset: usize = ascii_at(start + 9, pdf.len() - start - 9)
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .expect("startxref offset");
        assert!(
            pdf[offset..].starts_with(b"xref"),
            "startxref points at xref"
        );
        let table_end = find(b"trailer", offset).expect("trailer after xref");
        let table = ascii_at(offset, table_end - offset);
        let mut lines = table.lines().skip(1);
        let header = lines.next().expect("subsection header");
        let count: usize = header.split_whitespace().nth(1).unwrap().parse().unwrap();
        for (id, entry) in lines.take(count).enumerate().skip(1) {
            let at: usize = entry[..10].parse().unwrap();
            let expected = format!("{id} 0 obj");
            assert!(
                pdf[at..].starts_with(expected.as_bytes()),
                "object {id} is at {at}"
            );
        }
    }

    #[test]
    fn writes_a_well_formed_file_with_readable_text() {
        let mut doc = Doc::new(A4, "Test");
        doc.text(50.0, 800.0, Weight::Bold, 14.0, "Order 100001 (paid)");
        doc.add_page();
        doc.text_right(545.0, 800.0, Weight::Regular, 10.0, "page two");
        doc.rule(50.0, 545.0, 790.0, 0.5, 0.5);
        doc.fill(50.0, 700.0, 10.0, 10.0, 0.0);
        doc.frame(50.0, 600.0, 100.0, 50.0, 1.0);
        let pdf = doc.finish();
        assert_well_formed(&pdf);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("(Order 100001 (paid))"), "{text}");
        assert!(text.contains("/Count 2"));
        assert!(text.contains("/WinAnsiEncoding"));
    }

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        let long = metrics::win_ansi("A very long product name that does not fit");
        let cut = fit(Weight::Regular, 10.0, 60.0, long);
        assert_eq!(cut.last(), Some(&0x85));
        assert!(metrics::width(false, 10.0, &cut) <= 60.0);
        let short = fit(Weight::Regular, 10.0, 60.0, b"Mug".to_vec());
        assert_eq!(short, b"Mug");
    }
}
