//! The `memmap` picture on the screen: every block of page frames (scaled so all RAM fits in the top
//! part of the screen) as a 4×4-pixel square coloured by the owner most of its frames have — free blocks
//! in shades of green by buddy order, brighter for larger blocks — with a one-pixel strip under each
//! row of squares coloured by the E820 type of each block, and a legend with the frame counts.
//!
//! The console's text then scrolls in the rows below the picture. Each call redraws the picture from the
//! page descriptors (`memmap --watch` calls it repeatedly) and writes one line on the serial port only —
//! the geometry, each colour and how many squares have it — so a test can compare a screen dump against
//! the kernel's own figures.

use core::fmt::Write;

use mm_core::e820::E820Type;

use super::screen::{CELL_HEIGHT, CELL_WIDTH};
use super::{CONSOLE, Cell, Screen, attr};
use crate::mm::PAGE_SIZE;
use crate::mm::memmap::{OWNERS, end_pfn, for_each_block};

/// Side of one block's square, and the E820 strip under each row of squares.
const SQUARE: usize = 4;
const STRIP: usize = 1;
const ROW_PIXELS: usize = SQUARE + STRIP;
/// The picture takes at most this share of the screen's height (percent).
const HEIGHT_PERCENT: usize = 55;
/// Text rows of the legend under the picture, plus the title row above it.
const LEGEND_ROWS: usize = 3;

/// Colours of the owners, in `memmap::OWNERS` order (free is the order-0 shade).
pub const OWNER_COLOURS: [(u8, u8, u8); OWNERS.len()] = [
    (0x20, 0x60, 0x20), // free (order 0; larger orders are brighter, see `free_colour`)
    (0x40, 0x60, 0xff), // kernel image and boot allocations
    (0x00, 0xc0, 0xc0), // kernel allocations
    (0xe0, 0x40, 0xe0), // page tables
    (0xff, 0xa0, 0x00), // slab
    (0xf0, 0xf0, 0x40), // vmalloc
    (0xff, 0x40, 0x40), // user
    (0x50, 0x50, 0x50), // reserved / holes
];
/// Short legend names, in `memmap::OWNERS` order.
const LEGEND_NAMES: [&str; OWNERS.len()] =
    ["free", "kernel image", "kernel alloc", "page tables", "slab", "vmalloc", "user", "reserved"];
/// Largest buddy order shaded apart (Linux's MAX_ORDER 10: 4 MiB blocks).
const MAX_SHADE_ORDER: u8 = 10;

/// The colour of a free block of buddy `order`.
pub fn free_colour(order: u8) -> (u8, u8, u8) {
    let o = u32::from(order.min(MAX_SHADE_ORDER));
    let ramp = |from: u32, to: u32| (from + (to - from) * o / u32::from(MAX_SHADE_ORDER)) as u8;
    (ramp(0x20, 0x80), ramp(0x60, 0xff), ramp(0x20, 0x80))
}

/// The strip colour of an E820 type (none: black).
fn e820_colour(typ: Option<E820Type>) -> (u8, u8, u8) {
    match typ {
        Some(E820Type::USABLE) => (0xd0, 0xd0, 0xd0),
        Some(E820Type::ACPI) | Some(E820Type::NVS) => (0x00, 0x00, 0x90),
        Some(E820Type::RESERVED) => (0x80, 0x00, 0x00),
        Some(_) => (0x90, 0x60, 0x00),
        None => (0, 0, 0),
    }
}

/// Why the picture cannot be shown.
#[derive(Clone, Copy, Debug)]
pub enum ViewError {
    /// No pixel framebuffer (serial only, or EGA text mode).
    NoFramebuffer,
}

/// Draws (or redraws) the picture at the top of the screen and moves the text below it.
pub fn show() -> Result<(), ViewError> {
    let end = end_pfn().max(1);
    let mut con = CONSOLE.lock();
    let (width, height) = match &con.screen {
        Some(Screen::Pixels(p)) if !con.detached => (p.width, p.height),
        _ => return Err(ViewError::NoFramebuffer),
    };
    // Squares per row and rows that fit; frames per block a power of two so that blocks align with
    // buddy blocks.
    let per_row = ((width - 2 * CELL_WIDTH) / SQUARE).max(1) as u64;
    let max_rows = ((height * HEIGHT_PERCENT / 100).saturating_sub((LEGEND_ROWS + 1) * CELL_HEIGHT)
        / ROW_PIXELS)
        .max(1) as u64;
    let block = end.div_ceil(per_row * max_rows).max(1).next_power_of_two();
    let blocks = end.div_ceil(block);
    let rows = blocks.div_ceil(per_row) as usize;
    let (x0, y0) = (CELL_WIDTH, CELL_HEIGHT);
    let picture_height = rows * ROW_PIXELS;
    let text_top = (y0 + picture_height + LEGEND_ROWS * CELL_HEIGHT).div_ceil(CELL_HEIGHT);
    if text_top + 5 > con.grid.rows() {
        return Err(ViewError::NoFramebuffer);
    }
    let mut squares = [0u64; OWNERS.len()];
    let mut totals = [0u64; OWNERS.len()];
    let mut free_by_order = [0u64; MAX_SHADE_ORDER as usize + 1];
    {
        let Some(Screen::Pixels(p)) = &con.screen else { return Err(ViewError::NoFramebuffer) };
        p.fill_rect(0, 0, width, text_top * CELL_HEIGHT, (0, 0, 0));
        for_each_block(end, block, |pfn, summary| {
            let index = (pfn / block) as usize;
            let x = x0 + (index % per_row as usize) * SQUARE;
            let y = y0 + (index / per_row as usize) * ROW_PIXELS;
            let colour = if summary.owner == 0 {
                free_by_order[usize::from(summary.free_order.min(MAX_SHADE_ORDER))] += 1;
                free_colour(summary.free_order)
            } else {
                OWNER_COLOURS[summary.owner]
            };
            p.fill_rect(x, y, SQUARE, SQUARE, colour);
            p.fill_rect(x, y + SQUARE, SQUARE, STRIP, e820_colour(summary.e820));
            squares[summary.owner] += 1;
            for (total, count) in totals.iter_mut().zip(summary.counts) {
                *total += count;
            }
        });
    }
    // Title and legend, drawn as text cells in the picture's area.
    let mut line: heapless::String<256> = heapless::String::new();
    let _ = write!(
        line,
        "Physical memory [0x0-{:#x}): one square = {} KiB; strip under each row = E820 type",
        end * PAGE_SIZE,
        block * PAGE_SIZE / 1024
    );
    draw_text(&mut con, 0, 0, &line, attr(15, 0));
    let legend_y = (y0 + picture_height).div_ceil(CELL_HEIGHT);
    let mut column = 1;
    let mut legend_row = legend_y;
    for (i, short) in LEGEND_NAMES.iter().enumerate() {
        let mut entry: heapless::String<64> = heapless::String::new();
        let _ = write!(entry, "{short} {}K", totals[i] * PAGE_SIZE / 1024);
        if column + 3 + entry.len() > con.grid.columns() {
            legend_row += 1;
            column = 1;
        }
        let colour = if i == 0 { free_colour(MAX_SHADE_ORDER) } else { OWNER_COLOURS[i] };
        if let Some(Screen::Pixels(p)) = &con.screen {
            p.fill_rect(column * CELL_WIDTH, legend_row * CELL_HEIGHT + 4, CELL_WIDTH * 2, 8, colour);
        }
        draw_text(&mut con, column + 3, legend_row, &entry, attr(7, 0));
        column += 3 + entry.len() + 2;
    }
    let _ = write!(
        {
            line.clear();
            &mut line
        },
        "free: dark = order 0 ... bright = order {MAX_SHADE_ORDER}; E820: light usable, red reserved, blue ACPI"
    );
    draw_text(&mut con, 1, (legend_row + 1).min(text_top - 1), &line, attr(8, 0));
    con.set_top(text_top);
    drop(con);
    report(x0, y0, per_row, rows, block, &squares, &free_by_order, &totals);
    Ok(())
}

/// Gives the whole screen back to the text.
pub fn hide() {
    let mut con = CONSOLE.lock();
    if con.grid.top() != 0 {
        con.set_top(0);
    }
}

/// Draws `text` as cells at text position (`column`, `row`) without touching the grid.
fn draw_text(con: &mut super::Console, column: usize, row: usize, text: &str, attribute: u8) {
    let mut cells = [Cell { ch: b' ' as u16, attr: attribute }; super::MAX_COLUMNS];
    let room = con.grid.columns().saturating_sub(column);
    let mut n = 0;
    for (slot, c) in cells.iter_mut().zip(text.chars()).take(room) {
        slot.ch = u16::try_from(c as u32).unwrap_or(b'?' as u16);
        n += 1;
    }
    let super::Console { screen, scratch, glyphs, blends, .. } = con;
    if let Some(Screen::Pixels(p)) = screen {
        p.draw_cells(column, row, &cells[..n], glyphs, scratch, blends);
    }
}

/// The serial-only line a test compares the screen with: geometry, then `name=#rrggbb:squares` for every
/// colour drawn, then the frame totals.
#[expect(clippy::too_many_arguments, reason = "one report line of everything `show` computed")]
fn report(
    x0: usize,
    y0: usize,
    per_row: u64,
    rows: usize,
    block: u64,
    squares: &[u64; OWNERS.len()],
    free_by_order: &[u64],
    totals: &[u64; OWNERS.len()],
) {
    let mut line: heapless::String<1024> = heapless::String::new();
    let _ = write!(
        line,
        "memmap: view x={x0} y={y0} square={SQUARE} row={ROW_PIXELS} per_row={per_row} rows={rows} frames_per_square={block}"
    );
    for (order, &n) in free_by_order.iter().enumerate() {
        if n > 0 {
            let (r, g, b) = free_colour(order as u8);
            let _ = write!(line, " free{order}=#{r:02x}{g:02x}{b:02x}:{n}");
        }
    }
    for (i, &n) in squares.iter().enumerate().skip(1) {
        let (r, g, b) = OWNER_COLOURS[i];
        let _ = write!(line, " {}=#{r:02x}{g:02x}{b:02x}:{n}", OWNERS[i].1);
    }
    let _ = write!(line, " frames");
    for (i, &n) in totals.iter().enumerate() {
        let _ = write!(line, " {}={n}", OWNERS[i].1);
    }
    crate::printk::serial_line(format_args!("{line}"));
}
