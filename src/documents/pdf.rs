//! A small page-drawing layer over `krilla`: text in the vendored fonts (`fonts`, any
//! script; each PDF embeds a subset of only the glyphs it uses, with a ToUnicode map so its
//! text can be searched and copied), rules, boxes and pages. Coordinates are PDF points
//! from the lower-left corner of the page.

use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect, Size};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, FillRule, Stroke};
use krilla::surface::Surface;
use krilla::{Document, SerializeSettings};

use super::fonts;

/// A4 in points.
pub const A4: (f32, f32) = (595.0, 842.0);
/// A 4 × 6 inch shipping label in points.
pub const LABEL_4X6: (f32, f32) = (288.0, 432.0);

const ELLIPSIS: char = '…';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Regular,
    Bold,
}

/// One drawing operation, kept until [`Doc::finish`] writes the pages in order (drawing may
/// go back to an earlier page, e.g. for footers).
enum Op {
    Text {
        x: f32,
        y: f32,
        weight: Weight,
        size: f32,
        text: String,
    },
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        thickness: f32,
        gray: f32,
    },
    Fill {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        gray: f32,
    },
    Frame {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        thickness: f32,
    },
}

/// A document being drawn: drawing goes to the current page (the last one added, unless
/// another is selected).
pub struct Doc {
    size: (f32, f32),
    title: String,
    pages: Vec<Vec<Op>>,
    current: usize,
}

impl Doc {
    /// A document with one empty page of `size` (points).
    pub fn new(size: (f32, f32), title: &str) -> Doc {
        Doc {
            size,
            title: title.to_string(),
            pages: vec![Vec::new()],
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
        self.pages.push(Vec::new());
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

    fn draw(&mut self, op: Op) {
        self.pages[self.current].push(op);
    }

    /// Width in points of `text` at `size`.
    pub fn text_width(&self, weight: Weight, size: f32, text: &str) -> f32 {
        fonts::width(weight, size, text)
    }

    /// Draws `text` with its baseline starting at (`x`, `y`).
    pub fn text(&mut self, x: f32, y: f32, weight: Weight, size: f32, text: &str) {
        self.draw(Op::Text {
            x,
            y,
            weight,
            size,
            text: text.to_string(),
        });
    }

    /// Draws `text` so that it ends at `right`.
    pub fn text_right(&mut self, right: f32, y: f32, weight: Weight, size: f32, text: &str) {
        let w = fonts::width(weight, size, text);
        self.text(right - w, y, weight, size, text);
    }

    /// Draws `text`, cut with an ellipsis where it would pass `max_width`.
    pub fn text_fit(&mut self, x: f32, y: f32, weight: Weight, size: f32, max: f32, text: &str) {
        let text = fit(weight, size, max, text);
        self.text(x, y, weight, size, &text);
    }

    /// A horizontal line from `x1` to `x2` at `y`.
    pub fn rule(&mut self, x1: f32, x2: f32, y: f32, thickness: f32, gray: f32) {
        self.draw(Op::Rule {
            x1,
            x2,
            y,
            thickness,
            gray,
        });
    }

    /// A filled rectangle with its lower-left corner at (`x`, `y`); 0 is black, 1 white.
    pub fn fill(&mut self, x: f32, y: f32, w: f32, h: f32, gray: f32) {
        self.draw(Op::Fill { x, y, w, h, gray });
    }

    /// The outline of a rectangle with its lower-left corner at (`x`, `y`).
    pub fn frame(&mut self, x: f32, y: f32, w: f32, h: f32, thickness: f32) {
        self.draw(Op::Frame {
            x,
            y,
            w,
            h,
            thickness,
        });
    }

    /// Writes the file: the pages in order, the subsets of the fonts they use, the title.
    /// Panics only if krilla cannot embed a vendored font, which the tests would show.
    pub fn finish(self) -> Vec<u8> {
        let mut document = Document::new_with(SerializeSettings::default());
        document.set_metadata(
            Metadata::new()
                .title(self.title.clone())
                .producer("orderdesk".into()),
        );
        let (w, h) = self.size;
        let size = Size::from_wh(w, h).expect("a page has a positive size");
        for ops in &self.pages {
            let mut page = document.start_page_with(PageSettings::new(size));
            let mut surface = page.surface();
            for op in ops {
                replay(&mut surface, h, op);
            }
            surface.finish();
            page.finish();
        }
        document.finish().expect("krilla embeds the vendored fonts")
    }
}

/// Draws `op` on `surface`, whose origin is the top-left corner (`height` flips y).
fn replay(surface: &mut Surface<'_>, height: f32, op: &Op) {
    match *op {
        Op::Text {
            x,
            y,
            weight,
            size,
            ref text,
        } => {
            surface.set_stroke(None);
            surface.set_fill(Some(gray_fill(0.0)));
            let mut x = x;
            for run in fonts::runs(weight, text) {
                let font = fonts::face(run.face).font();
                let start = Point::from_xy(x, height - y);
                surface.draw_glyphs(start, &run.glyphs, font, &run.text, size, false);
                x += run.width * size;
            }
        }
        Op::Rule {
            x1,
            x2,
            y,
            thickness,
            gray,
        } => {
            let mut line = PathBuilder::new();
            line.move_to(x1, height - y);
            line.line_to(x2, height - y);
            stroke(surface, line, thickness, gray);
        }
        Op::Fill { x, y, w, h, gray } => {
            if let Some(rect) = Rect::from_xywh(x, height - y - h, w, h) {
                surface.set_stroke(None);
                surface.set_fill(Some(gray_fill(gray)));
                let mut path = PathBuilder::new();
                path.push_rect(rect);
                if let Some(path) = path.finish() {
                    surface.draw_path(&path);
                }
            }
        }
        Op::Frame {
            x,
            y,
            w,
            h,
            thickness,
        } => {
            if let Some(rect) = Rect::from_xywh(x, height - y - h, w, h) {
                let mut path = PathBuilder::new();
                path.push_rect(rect);
                stroke(surface, path, thickness, 0.0);
            }
        }
    }
}

fn stroke(surface: &mut Surface<'_>, path: PathBuilder, thickness: f32, gray: f32) {
    let Some(path) = path.finish() else {
        return;
    };
    surface.set_fill(None);
    surface.set_stroke(Some(Stroke {
        paint: luma_of(gray).into(),
        width: thickness,
        ..Stroke::default()
    }));
    surface.draw_path(&path);
}

fn gray_fill(gray: f32) -> Fill {
    Fill {
        paint: luma_of(gray).into(),
        opacity: NormalizedF32::ONE,
        rule: FillRule::NonZero,
    }
}

/// 0 black … 1 white.
fn luma_of(gray: f32) -> luma::Color {
    luma::Color::new((gray.clamp(0.0, 1.0) * 255.0).round() as u8)
}

/// Shortens `text` with a trailing ellipsis until it fits in `max` points.
fn fit(weight: Weight, size: f32, max: f32, text: &str) -> String {
    if fonts::width(weight, size, text) <= max {
        return text.to_string();
    }
    let mut kept: String = text.to_string();
    while kept.pop().is_some() {
        let candidate = format!("{}{ELLIPSIS}", kept.trim_end());
        if fonts::width(weight, size, &candidate) <= max {
            return candidate;
        }
    }
    String::new()
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

    /// The text of `pdf` as a PDF reader copies it out (through the fonts' ToUnicode maps):
    /// one line per piece of text drawn in one face, all pages.
    pub(crate) fn text_of(pdf: &[u8]) -> String {
        let doc = lopdf::Document::load_mem(pdf).expect("the PDF parses");
        let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
        let text = doc.extract_text(&pages).expect("its text extracts");
        text.lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Whether `text` is drawn in `pdf`: in one piece, or across the pieces one line of
    /// mixed scripts is drawn in (`東京都千代田区丸の内` in the CJK face, `1-1` in Noto Sans;
    /// a reader puts a line break between them, so that comparison ignores white space).
    pub(crate) fn shows(pdf: &[u8], text: &str) -> bool {
        let squash = |s: &str| s.split_whitespace().collect::<String>();
        let drawn = text_of(pdf);
        drawn.contains(text) || squash(&drawn).contains(&squash(text))
    }

    /// The page count of `pdf`.
    pub(crate) fn page_count(pdf: &[u8]) -> usize {
        lopdf::Document::load_mem(pdf)
            .expect("the PDF parses")
            .get_pages()
            .len()
    }

    #[test]
    fn writes_a_well_formed_file_with_readable_text() {
        let mut doc = Doc::new(A4, "Test");
        doc.text(50.0, 800.0, Weight::Bold, 14.0, "Order 100001 (paid)");
        doc.add_page();
        doc.text_right(545.0, 800.0, Weight::Regular, 10.0, "page two");
        doc.text(
            50.0,
            780.0,
            Weight::Regular,
            10.0,
            "東京都千代田区丸の内1-1",
        );
        doc.text(
            50.0,
            760.0,
            Weight::Bold,
            10.0,
            "Λεωφόρος Βασιλίσσης Σοφίας, Αθήνα",
        );
        doc.rule(50.0, 545.0, 790.0, 0.5, 0.5);
        doc.fill(50.0, 700.0, 10.0, 10.0, 0.0);
        doc.frame(50.0, 600.0, 100.0, 50.0, 1.0);
        let pdf = doc.finish();
        assert_well_formed(&pdf);
        assert_eq!(page_count(&pdf), 2);
        for expected in [
            "Order 100001 (paid)",
            "page two",
            "東京都千代田区丸の内1-1",
            "Λεωφόρος Βασιλίσσης Σοφίας, Αθήνα",
        ] {
            assert!(shows(&pdf, expected), "{expected} in {}", text_of(&pdf));
        }
        // the fonts are embedded, as subsets (a tag before the name), with no base-14 font
        let raw = String::from_utf8_lossy(&pdf);
        assert!(raw.contains("/FontFile2"), "embedded TrueType");
        assert!(raw.contains("+NotoSans-Bold"), "a subset of Noto Sans Bold");
        assert!(!raw.contains("/Helvetica"));
        assert!(
            pdf.len() < 100_000,
            "only the used glyphs: {} bytes",
            pdf.len()
        );
    }

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        let long = "A very long product name that does not fit";
        let cut = fit(Weight::Regular, 10.0, 60.0, long);
        assert!(cut.ends_with('…'), "{cut}");
        assert!(fonts::width(Weight::Regular, 10.0, &cut) <= 60.0);
        assert_eq!(fit(Weight::Regular, 10.0, 60.0, "Mug"), "Mug");
        let greek = fit(Weight::Regular, 10.0, 40.0, "Λεωφόρος Βασιλίσσης");
        assert!(greek.starts_with("Λεω") && greek.ends_with('…'), "{greek}");
    }
}
