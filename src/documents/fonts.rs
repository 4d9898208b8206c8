//! The fonts every document is set in, vendored under `assets/fonts/` and compiled in (no
//! system font is ever looked for): Noto Sans regular and bold for Latin, Greek, Cyrillic
//! and most other alphabets, and Droid Sans Fallback for what Noto Sans has no glyph for
//! (Chinese, Japanese, Korean). Text is cut into runs, each set in one face, one glyph per
//! character at the face's own advance width — the same widths that measure it, so
//! right-alignment and cutting to a width hold exactly.

use std::sync::LazyLock;

use krilla::text::{Font, GlyphId, KrillaGlyph};
use skrifa::charmap::Charmap;
use skrifa::instance::{LocationRef, Size};
use skrifa::metrics::GlyphMetrics;
use skrifa::{FontRef, MetadataProvider};

use super::pdf::Weight;

static NOTO_SANS_REGULAR: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Regular.ttf");
static NOTO_SANS_BOLD: &[u8] = include_bytes!("../../assets/fonts/NotoSans-Bold.ttf");
static DROID_SANS_FALLBACK: &[u8] = include_bytes!("../../assets/fonts/DroidSansFallback.ttf");

/// One of the vendored faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceId {
    Regular,
    Bold,
    /// Chinese, Japanese and Korean, in regular only.
    Cjk,
}

/// A parsed face: the font krilla embeds, and its character map and advance widths.
pub struct Face {
    font: Font,
    charmap: Charmap<'static>,
    metrics: GlyphMetrics<'static>,
    units_per_em: f32,
}

impl Face {
    fn load(data: &'static [u8]) -> Face {
        let font_ref = FontRef::new(data).expect("a vendored font parses");
        let units_per_em = font_ref
            .metrics(Size::unscaled(), LocationRef::default())
            .units_per_em as f32;
        Face {
            font: Font::new(data.into(), 0).expect("krilla reads a vendored font"),
            charmap: font_ref.charmap(),
            metrics: font_ref.glyph_metrics(Size::unscaled(), LocationRef::default()),
            units_per_em,
        }
    }

    /// The face's glyph for `c`, if it has one (glyph 0 is "missing").
    fn glyph(&self, c: char) -> Option<u32> {
        self.charmap.map(c).map(|g| g.to_u32()).filter(|&g| g != 0)
    }

    /// The advance of `glyph` in ems.
    fn advance(&self, glyph: u32) -> f32 {
        self.metrics
            .advance_width(skrifa::GlyphId::new(glyph))
            .unwrap_or(0.0)
            / self.units_per_em
    }

    /// The font to hand to krilla (a cheap clone).
    pub fn font(&self) -> Font {
        self.font.clone()
    }
}

struct Faces {
    regular: Face,
    bold: Face,
    cjk: Face,
}

static FACES: LazyLock<Faces> = LazyLock::new(|| Faces {
    regular: Face::load(NOTO_SANS_REGULAR),
    bold: Face::load(NOTO_SANS_BOLD),
    cjk: Face::load(DROID_SANS_FALLBACK),
});

/// The face `id`.
pub fn face(id: FaceId) -> &'static Face {
    let faces = &*FACES;
    match id {
        FaceId::Regular => &faces.regular,
        FaceId::Bold => &faces.bold,
        FaceId::Cjk => &faces.cjk,
    }
}

/// A stretch of text set in one face: its characters, its glyphs (their `text_range`s
/// index `text`, which is what a reader copies out of the PDF) and its width in ems.
pub struct Run {
    pub face: FaceId,
    pub text: String,
    pub glyphs: Vec<KrillaGlyph>,
    pub width: f32,
}

/// Cuts `text` into runs: each character in the weight's Noto Sans face when it has the
/// glyph, else in Droid Sans Fallback; digits, spaces and punctuation stay in the face of
/// the run they follow when it has them (`東京 ` is one run). A character no face has
/// prints as the empty box but still reads back as itself. Line breaks and tabs are spaces.
pub fn runs(weight: Weight, text: &str) -> Vec<Run> {
    let primary = match weight {
        Weight::Regular => FaceId::Regular,
        Weight::Bold => FaceId::Bold,
    };
    let mut runs: Vec<Run> = Vec::new();
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        let current = runs.last().map(|r| r.face);
        let sticky = current
            .filter(|_| !c.is_alphabetic())
            .and_then(|id| face(id).glyph(c).map(|g| (id, g)));
        let (id, glyph) = sticky
            .or_else(|| face(primary).glyph(c).map(|g| (primary, g)))
            .or_else(|| face(FaceId::Cjk).glyph(c).map(|g| (FaceId::Cjk, g)))
            .unwrap_or((primary, 0));
        if current != Some(id) {
            runs.push(Run {
                face: id,
                text: String::new(),
                glyphs: Vec::new(),
                width: 0.0,
            });
        }
        let run = runs.last_mut().expect("a run was just pushed");
        let advance = face(id).advance(glyph);
        let start = run.text.len();
        run.text.push(c);
        run.glyphs.push(KrillaGlyph::new(
            GlyphId::new(glyph),
            advance,
            0.0,
            0.0,
            0.0,
            start..run.text.len(),
            None,
        ));
        run.width += advance;
    }
    runs
}

/// Width in points of `text` set at `size`.
pub fn width(weight: Weight, size: f32, text: &str) -> f32 {
    runs(weight, text).iter().map(|r| r.width).sum::<f32>() * size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_the_documents_print_has_a_glyph() {
        for (text, expected) in [
            ("Müller & Søn, 12 €", FaceId::Regular),
            ("Λεωφόρος Βασιλίσσης Σοφίας", FaceId::Regular),
            ("Москва, ул. Тверская", FaceId::Regular),
            ("東京都千代田区丸の内", FaceId::Cjk),
            ("서울특별시", FaceId::Cjk),
        ] {
            let runs = runs(Weight::Regular, text);
            assert_eq!(runs.len(), 1, "{text}: one run");
            assert_eq!(runs[0].face, expected, "{text}");
            assert_eq!(runs[0].text, text);
            assert!(
                runs[0].glyphs.iter().all(|g| g.glyph_id.to_u32() != 0),
                "{text}: a glyph for every character"
            );
        }
    }

    #[test]
    fn mixed_text_falls_back_per_character() {
        let runs = runs(Weight::Bold, "Tokyo 東京 (JP)");
        let faces: Vec<(FaceId, &str)> = runs.iter().map(|r| (r.face, r.text.as_str())).collect();
        assert_eq!(
            faces,
            vec![
                (FaceId::Bold, "Tokyo "),
                (FaceId::Cjk, "東京 "),
                (FaceId::Bold, "(JP)"),
            ]
        );
    }

    #[test]
    fn widths_come_from_the_font() {
        // Noto Sans: digits are 572/1000 of an em, bold is wider than regular
        let digits = width(Weight::Regular, 10.0, "100");
        assert!((digits - 17.16).abs() < 0.01, "{digits}");
        assert!(width(Weight::Bold, 10.0, "Order") > width(Weight::Regular, 10.0, "Order"));
        // a CJK character is a full em
        assert!((width(Weight::Regular, 10.0, "東") - 10.0).abs() < 0.01);
        assert_eq!(
            width(Weight::Regular, 10.0, "a\nb"),
            width(Weight::Regular, 10.0, "a b")
        );
    }
}
