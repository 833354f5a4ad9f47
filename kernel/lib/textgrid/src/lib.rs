//! textgrid: the screen console's text, free of hardware — a grid of character cells with EGA colour
//! attributes, the output interpreter (printable characters, `\n \r \b \t`, and the VT100 subset the
//! shell sends: `ESC [ n A/B/C/D`, `ESC [ K`, `ESC [ r;c H`, `ESC [ 2 J`, `ESC [ n;… m`), scrolling,
//! and [`Grid::flush`], which tells a [`Surface`] the least it must do to show the grid: move the rows
//! scrolled since the last flush in one go, redraw the rows that changed, move the cursor.
//!
//! Invariants: `columns ≤ MAX_COLUMNS`, `rows ≤ MAX_ROWS`, `top < rows`; the cursor's row is in
//! `[top, rows)` and its column in `[0, columns]` (`columns` = just past the last cell; the next
//! character wraps). After [`Grid::flush`], a surface that did what it was told shows rows `[top, rows)`
//! of the grid and one cursor, at the grid's cursor (host-tested against a model screen).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

/// Largest grid kept (a bigger screen shows its top-left part).
pub const MAX_COLUMNS: usize = 200;
pub const MAX_ROWS: usize = 80;

/// An EGA attribute: foreground in the low nibble, background in the high one.
pub const fn attr(fg: u8, bg: u8) -> u8 {
    fg | bg << 4
}
/// Light grey on black.
pub const DEFAULT_ATTR: u8 = attr(7, 0);

/// One character cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// A Unicode scalar of the Basic Multilingual Plane (others are stored as `?`).
    pub ch: u16,
    pub attr: u8,
}

pub const BLANK: Cell = Cell { ch: b' ' as u16, attr: DEFAULT_ATTR };

/// What the grid asks of the screen during a flush.
pub trait Surface {
    /// Moves text rows `[from, from + count)` to start at row `to` (`to < from`: scrolling up).
    fn move_rows(&mut self, from: usize, to: usize, count: usize);
    /// Draws `cells` at text row `row` from column `column`.
    fn draw_cells(&mut self, column: usize, row: usize, cells: &[Cell]);
    /// Draws the cursor at (`column`, `row`) in attribute `attr`'s foreground.
    fn draw_cursor(&mut self, column: usize, row: usize, attr: u8);
}

/// Where an escape sequence stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Escape {
    None,
    Started,
    Csi { params: [u16; 4], count: usize },
}

/// The text of the console.
#[derive(Debug)]
pub struct Grid {
    columns: usize,
    rows: usize,
    /// First text row: rows above it belong to a picture and are never drawn from here.
    top: usize,
    cells: [Cell; MAX_COLUMNS * MAX_ROWS],
    /// Rows whose cells differ from the screen (once the pending scroll is applied).
    dirty: [bool; MAX_ROWS],
    /// Rows the text region scrolled since the last flush.
    pending_scroll: usize,
    cursor: (usize, usize),
    /// Where the cursor was last drawn.
    drawn_cursor: Option<(usize, usize)>,
    attr: u8,
    escape: Escape,
}

impl Default for Grid {
    fn default() -> Self {
        Self::new()
    }
}

impl Grid {
    /// An empty grid of no size (see [`Grid::resize`]).
    pub const fn new() -> Self {
        Grid {
            columns: 0,
            rows: 0,
            top: 0,
            cells: [BLANK; MAX_COLUMNS * MAX_ROWS],
            dirty: [false; MAX_ROWS],
            pending_scroll: 0,
            cursor: (0, 0),
            drawn_cursor: None,
            attr: DEFAULT_ATTR,
            escape: Escape::None,
        }
    }

    /// Sets the size (clamped to `1..=MAX`), blanks everything and marks it all for drawing.
    pub fn resize(&mut self, columns: usize, rows: usize) {
        self.columns = columns.clamp(1, MAX_COLUMNS);
        self.rows = rows.clamp(1, MAX_ROWS);
        self.top = 0;
        self.cells.fill(BLANK);
        self.cursor = (0, 0);
        self.escape = Escape::None;
        self.mark_all_dirty();
    }

    pub fn columns(&self) -> usize {
        self.columns
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn top(&self) -> usize {
        self.top
    }

    pub fn cursor(&self) -> (usize, usize) {
        self.cursor
    }

    pub fn attr(&self) -> u8 {
        self.attr
    }

    pub fn set_attr(&mut self, attr: u8) {
        self.attr = attr;
    }

    /// The cells of `row`.
    pub fn row(&self, row: usize) -> &[Cell] {
        let row = row.min(MAX_ROWS - 1);
        &self.cells[row * MAX_COLUMNS..row * MAX_COLUMNS + self.columns]
    }

    /// Rows scrolled and not yet shown.
    pub fn pending_scroll(&self) -> usize {
        self.pending_scroll
    }

    /// Whether a flush would draw anything.
    pub fn needs_flush(&self) -> bool {
        self.pending_scroll > 0
            || self.dirty[self.top..self.rows].iter().any(|&d| d)
            || self.drawn_cursor != Some(self.cursor_cell())
    }

    /// Moves the first text row to `top` (a picture takes the rows above it): the text rows still below
    /// keep their place, the rows handed to the picture are blanked, and the text is marked for drawing.
    pub fn set_top(&mut self, top: usize) {
        let top = top.min(self.rows.saturating_sub(1));
        for row in self.top..top {
            self.fill_row(row, 0, BLANK);
        }
        self.top = top;
        // The picture's rows are drawn by whoever owns them, never from the grid.
        self.dirty[..top].fill(false);
        self.cursor.1 = self.cursor.1.max(top);
        self.mark_all_dirty();
    }

    /// Marks every text row for drawing (after the screen was lost or painted over).
    pub fn mark_all_dirty(&mut self) {
        let (top, rows) = (self.top, self.rows);
        self.dirty[top..rows].fill(true);
        self.pending_scroll = 0;
        self.drawn_cursor = None;
    }

    /// Starts a new line unless the cursor is at the start of one.
    pub fn fresh_line(&mut self) {
        if self.cursor.0 != 0 {
            self.newline();
        }
    }

    pub fn put_str(&mut self, s: &str) {
        for c in s.chars() {
            self.put_char(c);
        }
    }

    /// Interprets one character of output.
    pub fn put_char(&mut self, c: char) {
        match self.escape {
            Escape::Started => {
                self.escape = if c == '[' { Escape::Csi { params: [0; 4], count: 0 } } else { Escape::None };
                return;
            }
            Escape::Csi { mut params, count } => {
                match c {
                    '0'..='9' => {
                        let i = count.saturating_sub(1).min(3);
                        params[i] = params[i].saturating_mul(10).saturating_add(c as u16 - '0' as u16);
                        self.escape = Escape::Csi { params, count: count.max(1) };
                    }
                    ';' => self.escape = Escape::Csi { params, count: (count.max(1) + 1).min(4) },
                    _ => {
                        self.escape = Escape::None;
                        self.csi(c, &params[..count.min(4)]);
                    }
                }
                return;
            }
            Escape::None => {}
        }
        let x = self.cursor.0;
        match c {
            '\x1b' => self.escape = Escape::Started,
            '\n' => self.newline(),
            '\r' => self.cursor.0 = 0,
            '\x08' => self.cursor.0 = x.saturating_sub(1),
            '\t' => {
                for _ in 0..(8 - x % 8) {
                    self.put_char(' ');
                }
            }
            c if (c as u32) < 0x20 || c == '\x7f' => {}
            c => {
                if x >= self.columns {
                    self.newline();
                }
                let (x, y) = self.cursor;
                let ch = u16::try_from(c as u32).unwrap_or(b'?' as u16);
                self.cells[y * MAX_COLUMNS + x] = Cell { ch, attr: self.attr };
                self.dirty[y] = true;
                self.cursor.0 = x + 1;
            }
        }
    }

    fn fill_row(&mut self, row: usize, from: usize, cell: Cell) {
        let start = row * MAX_COLUMNS;
        self.cells[start + from.min(self.columns)..start + self.columns].fill(cell);
        self.dirty[row] = true;
    }

    /// A control sequence `ESC [ params final`.
    fn csi(&mut self, final_char: char, params: &[u16]) {
        let n = |i: usize| usize::from(params.get(i).copied().unwrap_or(0)).max(1);
        let (x, y) = self.cursor;
        let (top, rows, columns) = (self.top, self.rows, self.columns);
        match final_char {
            'A' => self.cursor.1 = y.saturating_sub(n(0)).max(top),
            'B' => self.cursor.1 = (y + n(0)).min(rows - 1),
            'C' => self.cursor.0 = (x + n(0)).min(columns - 1),
            'D' => self.cursor.0 = x.saturating_sub(n(0)),
            'H' => self.cursor = ((n(1) - 1).min(columns - 1), (top + n(0) - 1).min(rows - 1)),
            'K' => self.fill_row(y, x, Cell { ch: b' ' as u16, attr: self.attr }),
            'J' if params.first() == Some(&2) => {
                for row in top..rows {
                    self.fill_row(row, 0, BLANK);
                }
                self.cursor = (0, top);
            }
            'm' => {
                let (mut fg, mut bg) = (self.attr & 0xf, self.attr >> 4);
                let codes: &[u16] = if params.is_empty() { &[0] } else { params };
                for &code in codes {
                    match code {
                        0 => (fg, bg) = (7, 0),
                        1 => fg |= 8,
                        30..=37 => fg = ansi_to_vga(code - 30) | (fg & 8),
                        39 => fg = 7,
                        40..=47 => bg = ansi_to_vga(code - 40),
                        49 => bg = 0,
                        90..=97 => fg = ansi_to_vga(code - 90) | 8,
                        _ => {}
                    }
                }
                self.attr = attr(fg, bg);
            }
            _ => {}
        }
    }

    /// Moves to the start of the next line, scrolling the text region up at the bottom.
    pub fn newline(&mut self) {
        self.cursor.0 = 0;
        if self.cursor.1 + 1 < self.rows {
            self.cursor.1 += 1;
            return;
        }
        let (top, rows) = (self.top, self.rows);
        if top + 1 >= rows {
            // A one-row text region: the line starts over.
            self.fill_row(rows - 1, 0, BLANK);
            return;
        }
        self.cells.copy_within((top + 1) * MAX_COLUMNS..rows * MAX_COLUMNS, top * MAX_COLUMNS);
        self.fill_row(rows - 1, 0, BLANK);
        self.dirty.copy_within(top + 1..rows, top);
        self.dirty[rows - 1] = true;
        self.pending_scroll += 1;
        if self.pending_scroll >= rows - top {
            // Everything scrolled away: redrawing all is cheaper than moving nothing.
            self.dirty[top..rows].fill(true);
            self.pending_scroll = 0;
        }
    }

    fn cursor_cell(&self) -> (usize, usize) {
        (self.cursor.0.min(self.columns - 1), self.cursor.1)
    }

    /// Brings `surface` up to date: moves the scrolled rows, erases the old cursor, redraws the rows
    /// that changed, draws the cursor.
    pub fn flush(&mut self, surface: &mut impl Surface) {
        let (top, rows) = (self.top, self.rows);
        let scroll = core::mem::take(&mut self.pending_scroll);
        let moved = if scroll > 0 && scroll < rows - top { scroll } else { 0 };
        if moved > 0 {
            surface.move_rows(top + moved, top, rows - top - moved);
        }
        // The old cursor moved up with the rows: redraw its cell from the grid to erase it.
        if let Some((x, y)) = self.drawn_cursor.take()
            && y >= top + moved
            && y < rows
        {
            let row = y - moved;
            surface.draw_cells(x, row, &self.row(row)[x..=x]);
        }
        for row in top..rows {
            if core::mem::take(&mut self.dirty[row]) {
                surface.draw_cells(0, row, self.row(row));
            }
        }
        let (x, y) = self.cursor_cell();
        surface.draw_cursor(x, y, self.attr);
        self.drawn_cursor = Some((x, y));
    }
}

/// ANSI colour numbers (0 black, 1 red, 2 green, 3 yellow, 4 blue, 5 magenta, 6 cyan, 7 white) to EGA's.
fn ansi_to_vga(n: u16) -> u8 {
    [0, 4, 2, 6, 1, 5, 3, 7][usize::from(n & 7)]
}

#[cfg(test)]
mod tests;
