//! Glyph widths of the two standard PDF fonts the documents use (Helvetica and
//! Helvetica-Bold, from Adobe's AFM files), so text can be right-aligned and truncated
//! without embedding a font. Widths are in 1/1000 of the font size.

/// Widths of the WinAnsi codes 32..=126.
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
];

const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, // 0..?
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556, // P.._
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611, // `..o
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, // p..~
];

/// Width of a WinAnsi byte; characters outside ASCII take an average letter's width,
/// close enough for the accented letters and currency signs the documents print.
pub fn glyph_width(bold: bool, byte: u8) -> u16 {
    let table = if bold { &HELVETICA_BOLD } else { &HELVETICA };
    match byte {
        32..=126 => table[(byte - 32) as usize],
        0x85 => 1000, // ellipsis
        _ => 556,
    }
}

/// Maps text to WinAnsiEncoding (the standard fonts' 8-bit encoding): Latin-1 letters,
/// `€`, dashes and typographic quotes are kept; anything else becomes `?`.
pub fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '\t' | '\n' | '\r' => b' ',
            _ => b'?',
        })
        .collect()
}

/// Width in points of WinAnsi `bytes` at `size`.
pub fn width(bold: bool, size: f32, bytes: &[u8]) -> f32 {
    let units: u32 = bytes.iter().map(|&b| glyph_width(bold, b) as u32).sum();
    units as f32 * size / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_widths() {
        assert_eq!(glyph_width(false, b'0'), 556);
        assert_eq!(glyph_width(false, b'i'), 222);
        assert_eq!(glyph_width(true, b'i'), 278);
        assert_eq!(glyph_width(false, b'W'), 944);
        assert_eq!(glyph_width(false, b'~'), 584);
        assert!((width(false, 10.0, b"100") - 16.68).abs() < 0.001);
    }

    #[test]
    fn encodes_latin_letters_and_currency_signs() {
        assert_eq!(win_ansi("€5"), vec![0x80, b'5']);
        assert_eq!(win_ansi("£"), vec![0xA3]);
        assert_eq!(win_ansi("Müller"), b"M\xfcller".to_vec());
        assert_eq!(win_ansi("東京"), b"??".to_vec());
        assert_eq!(win_ansi("a\nb"), b"a b".to_vec());
    }
}
