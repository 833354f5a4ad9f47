//! The two kinds of screen the console draws on: a linear RGB framebuffer (GRUB's VBE or GOP mode),
//! where each character cell is a glyph of the Noto Sans Mono bitmap font blended from the cell's
//! background to its foreground by the glyph's per-pixel intensity, and the EGA text buffer (80×25 cells
//! of character + attribute, the fallback when only text mode is offered).
//!
//! Colours are the 16 of the VGA palette, indexed the way EGA attributes are (0 black … 15 white), so the
//! same cell contents mean the same on both kinds of screen.

use noto_sans_mono_bitmap::{FontWeight, RasterHeight, RasterizedChar, get_raster, get_raster_width};

use crate::arch::x86_64::vram::{self, VideoMemory};

/// The font: Noto Sans Mono, regular, 16 pixels high.
pub const FONT_WEIGHT: FontWeight = FontWeight::Regular;
pub const FONT_SIZE: RasterHeight = RasterHeight::Size16;
pub const CELL_HEIGHT: usize = 16;
pub const CELL_WIDTH: usize = get_raster_width(FONT_WEIGHT, FONT_SIZE);

/// The VGA palette (the colours of EGA attributes 0–15) as RGB.
pub const PALETTE: [(u8, u8, u8); 16] = [
    (0x00, 0x00, 0x00), // 0 black
    (0x00, 0x00, 0xaa), // 1 blue
    (0x00, 0xaa, 0x00), // 2 green
    (0x00, 0xaa, 0xaa), // 3 cyan
    (0xaa, 0x00, 0x00), // 4 red
    (0xaa, 0x00, 0xaa), // 5 magenta
    (0xaa, 0x55, 0x00), // 6 brown
    (0xaa, 0xaa, 0xaa), // 7 light grey
    (0x55, 0x55, 0x55), // 8 dark grey
    (0x55, 0x55, 0xff), // 9 bright blue
    (0x55, 0xff, 0x55), // 10 bright green
    (0x55, 0xff, 0xff), // 11 bright cyan
    (0xff, 0x55, 0x55), // 12 bright red
    (0xff, 0x55, 0xff), // 13 bright magenta
    (0xff, 0xff, 0x55), // 14 yellow
    (0xff, 0xff, 0xff), // 15 white
];

/// The glyph drawn for a character the font lacks.
const MISSING: char = '?';

/// Blends channel `fg` over `bg` by `alpha` (0–255), rounding down: the glyph pixel formula (the test
/// harness renders expected text with the same one).
#[inline]
pub fn blend(fg: u8, bg: u8, alpha: u8) -> u8 {
    ((u32::from(fg) * u32::from(alpha) + u32::from(bg) * (255 - u32::from(alpha))) / 255) as u8
}

/// The packed pixel for every glyph intensity (0–255) of a few attributes, so drawing a glyph pixel is
/// one table lookup: the blends are computed once per attribute, not once per pixel.
#[derive(Debug)]
pub struct BlendCache {
    attrs: [Option<u8>; BLEND_SLOTS],
    shades: [[u32; 256]; BLEND_SLOTS],
    /// The slot replaced next (round robin).
    next: usize,
}

const BLEND_SLOTS: usize = 8;

impl BlendCache {
    pub const fn new() -> Self {
        BlendCache { attrs: [None; BLEND_SLOTS], shades: [[0; 256]; BLEND_SLOTS], next: 0 }
    }

    /// The shades of `attr` (index: glyph intensity; 0 is the background, 255 the foreground).
    fn shades(&mut self, format: &PixelFormat, attr: u8) -> &[u32; 256] {
        let slot = match self.attrs.iter().position(|&a| a == Some(attr)) {
            Some(slot) => slot,
            None => {
                let slot = self.next;
                self.next = (self.next + 1) % BLEND_SLOTS;
                let fg = PALETTE[usize::from(attr & 0xf)];
                let bg = PALETTE[usize::from(attr >> 4)];
                for (a, shade) in self.shades[slot].iter_mut().enumerate() {
                    let a = a as u8;
                    *shade = format.pack((blend(fg.0, bg.0, a), blend(fg.1, bg.1, a), blend(fg.2, bg.2, a)));
                }
                self.attrs[slot] = Some(attr);
                slot
            }
        };
        &self.shades[slot]
    }
}

/// Where each colour channel sits in a pixel (multiboot2 spec §3.6.12, framebuffer_type 1).
#[derive(Clone, Copy, Debug)]
pub struct PixelFormat {
    pub bytes_per_pixel: usize,
    pub red: (u8, u8),
    pub green: (u8, u8),
    pub blue: (u8, u8),
}

impl PixelFormat {
    /// The pixel value of an RGB colour.
    #[inline]
    pub fn pack(&self, (r, g, b): (u8, u8, u8)) -> u32 {
        let field = |value: u8, (position, size): (u8, u8)| {
            let size = size.min(8);
            (u32::from(value) >> (8 - size)).checked_shl(u32::from(position)).unwrap_or(0)
        };
        field(r, self.red) | field(g, self.green) | field(b, self.blue)
    }
}

/// A linear framebuffer.
#[derive(Debug)]
pub struct PixelScreen {
    pub memory: VideoMemory,
    pub width: usize,
    pub height: usize,
    pub pitch: usize,
    pub format: PixelFormat,
}

impl PixelScreen {
    /// Draws the cells `cells` of text row `row` from column `col0`, one pixel row at a time: each is
    /// assembled in `scratch` (packed pixels) and stored with one copy. `glyphs` caches each cell's
    /// raster for the 16 pixel rows. Blank cells and the blank tail of the row are plain fills.
    pub fn draw_cells(
        &self,
        col0: usize,
        row: usize,
        cells: &[textgrid::Cell],
        glyphs: &mut [Option<RasterizedChar>],
        scratch: &mut [u32],
        blends: &mut BlendCache,
    ) {
        let n = cells.len().min(glyphs.len());
        let pixels = n * CELL_WIDTH;
        if n == 0 || pixels > scratch.len() {
            return;
        }
        // The last cell that is not a blank like the one after it: past it, every pixel row is one fill.
        let tail = cells[..n]
            .iter()
            .rposition(|c| c.ch != u16::from(b' ') || c.attr != cells[n - 1].attr)
            .map_or(0, |i| i + 1);
        for (glyph, cell) in glyphs.iter_mut().zip(&cells[..tail]) {
            *glyph = if cell.ch == u16::from(b' ') {
                None
            } else {
                let ch = match char::from_u32(u32::from(cell.ch)).unwrap_or(MISSING) {
                    // Dashes the font lacks (the boot banner has one).
                    '\u{2013}' | '\u{2014}' => '-',
                    c => c,
                };
                get_raster(ch, FONT_WEIGHT, FONT_SIZE).or_else(|| get_raster(MISSING, FONT_WEIGHT, FONT_SIZE))
            };
        }
        let tail_bg = cells.get(tail).map_or(0, |c| self.format.pack(PALETTE[usize::from(c.attr >> 4)]));
        for line in 0..CELL_HEIGHT {
            for (i, cell) in cells[..tail].iter().enumerate() {
                let out = &mut scratch[i * CELL_WIDTH..(i + 1) * CELL_WIDTH];
                let shades = blends.shades(&self.format, cell.attr);
                let Some(glyph) = &glyphs[i] else {
                    out.fill(shades[0]);
                    continue;
                };
                let raster = &glyph.pixels()[line * CELL_WIDTH..(line + 1) * CELL_WIDTH];
                for (slot, &alpha) in out.iter_mut().zip(raster) {
                    *slot = shades[usize::from(alpha)];
                }
            }
            scratch[tail * CELL_WIDTH..pixels].fill(tail_bg);
            let offset =
                (row * CELL_HEIGHT + line) * self.pitch + col0 * CELL_WIDTH * self.format.bytes_per_pixel;
            self.memory.write_pixels(offset, &scratch[..pixels], self.format.bytes_per_pixel);
        }
    }

    /// Fills a rectangle of pixels with one colour (clipped to the screen).
    pub fn fill_rect(&self, x: usize, y: usize, w: usize, h: usize, rgb: (u8, u8, u8)) {
        let bpp = self.format.bytes_per_pixel;
        let w = w.min(self.width.saturating_sub(x));
        let h = h.min(self.height.saturating_sub(y));
        let pixel = self.format.pack(rgb).to_le_bytes();
        for line in y..y + h {
            self.memory.fill(line * self.pitch + x * bpp, w * bpp, &pixel[..bpp]);
        }
    }

    /// Moves the text rows `[from, from + count)` to start at row `to` (scrolling).
    pub fn move_rows(&self, from: usize, to: usize, count: usize) {
        let row_bytes = CELL_HEIGHT * self.pitch;
        self.memory.copy_within(from * row_bytes, to * row_bytes, count * row_bytes);
    }

    /// Underlines the cell at (`col`, `row`) in colour `rgb` (the cursor).
    pub fn draw_cursor(&self, col: usize, row: usize, rgb: (u8, u8, u8)) {
        self.fill_rect(col * CELL_WIDTH, row * CELL_HEIGHT + CELL_HEIGHT - 2, CELL_WIDTH, 2, rgb);
    }
}

/// The EGA text buffer: `columns × rows` cells of (code page 437 character, attribute).
#[derive(Debug)]
pub struct TextScreen {
    pub memory: VideoMemory,
    pub columns: usize,
    pub pitch: usize,
}

impl TextScreen {
    pub fn draw_cells(&self, col0: usize, row: usize, cells: &[textgrid::Cell]) {
        for (i, cell) in cells.iter().enumerate() {
            // Code page 437 agrees with ASCII on the printable range; dashes become '-', anything else
            // shows as '?'.
            let ch = match cell.ch {
                0x20..0x7f => cell.ch as u8,
                0x2013 | 0x2014 => b'-',
                _ => b'?',
            };
            let value = u16::from(ch) | u16::from(cell.attr) << 8;
            self.memory.write_pixel(row * self.pitch + (col0 + i) * 2, u32::from(value), 2);
        }
    }

    pub fn move_rows(&self, from: usize, to: usize, count: usize) {
        self.memory.copy_within(from * self.pitch, to * self.pitch, count * self.pitch);
    }

    pub fn draw_cursor(&self, col: usize, row: usize) {
        vram::set_text_cursor((row * self.columns + col) as u16);
    }
}
