//! A 5×7 pixel font for the rendered words: upper-case letters, space and `!`.

/// Glyph rows, top to bottom; bit 4 is the leftmost column.
fn glyph(c: char) -> [u8; 7] {
    match c.to_ascii_uppercase() {
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '!' => [0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04],
        _ => [0; 7],
    }
}

/// Columns per glyph, and the advance from one glyph to the next.
pub const GLYPH_WIDTH: usize = 5;
/// Rows per glyph.
pub const GLYPH_HEIGHT: usize = 7;
/// Glyph width plus one column of spacing.
pub const ADVANCE: usize = GLYPH_WIDTH + 1;

/// A line of text as a grid of cells, one per font pixel.
#[derive(Debug, Clone)]
pub struct Bitmap {
    /// Columns.
    pub width: usize,
    /// Rows (always [`GLYPH_HEIGHT`]).
    pub height: usize,
    cells: Vec<bool>,
}

impl Bitmap {
    /// Lays out `text` on one line.
    pub fn line(text: &str) -> Self {
        let glyphs: Vec<[u8; 7]> = text.chars().map(glyph).collect();
        let width = (glyphs.len() * ADVANCE).saturating_sub(1).max(1);
        let mut cells = vec![false; width * GLYPH_HEIGHT];
        for (i, rows) in glyphs.iter().enumerate() {
            for (y, bits) in rows.iter().enumerate() {
                for x in 0..GLYPH_WIDTH {
                    if bits & (0x10 >> x) != 0 {
                        cells[y * width + i * ADVANCE + x] = true;
                    }
                }
            }
        }
        Bitmap {
            width,
            height: GLYPH_HEIGHT,
            cells,
        }
    }

    /// Whether the cell at `(col, row)` is inked; outside the grid is blank.
    pub fn get(&self, col: isize, row: isize) -> bool {
        col >= 0
            && row >= 0
            && (col as usize) < self.width
            && (row as usize) < self.height
            && self.cells[row as usize * self.width + col as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_have_ink_and_spaces_do_not() {
        for c in 'A'..='Z' {
            assert!(glyph(c).iter().any(|&r| r != 0), "{c} is blank");
        }
        let b = Bitmap::line("I I");
        assert_eq!(b.width, 3 * ADVANCE - 1);
        assert!(b.get(2, 0), "the I's top bar");
        assert!((ADVANCE as isize..2 * ADVANCE as isize).all(|c| (0..7).all(|r| !b.get(c, r))));
        assert!(!b.get(-1, 0) && !b.get(0, 7));
    }
}
