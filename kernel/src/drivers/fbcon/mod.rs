//! fbcon: the console on the screen — the kernel log in colour (by level, as `dmesg --color`) and the
//! shell's input and output, on GRUB's framebuffer or, when only that is offered, the EGA text buffer.
//!
//! The text lives in a grid of cells (character + EGA attribute); the screen is brought up to date from
//! it by [`flush`]: rows scrolled since the last flush are moved inside video memory in one copy, then
//! only the rows that changed are drawn. A flush that only changes cells (typing, a prompt) happens at
//! once; one that must scroll happens at most every [`SCROLL_FLUSH_NS`] of TSC time, the rest waits for
//! the next printk or timer tick, so a burst of log lines costs one scroll, not one per line.
//!
//! Lifetime of the mapping: the framebuffer is first reached through the boot page tables' map of the
//! low 4 GiB ([`init`]); the final direct map covers RAM only, so [`suspend`] stops drawing before it
//! replaces the boot map and [`resume`] maps the framebuffer with `ioremap` once vmalloc works. Text
//! written meanwhile waits in the grid.
//!
//! A part of the screen above the text can be handed to a picture (the `memmap` view, see
//! [`memmap_view`]): the text then scrolls in the rows below it.
//!
//! Lock order: printk releases the serial port's lock before it takes `CONSOLE`; nothing that could
//! printk runs with `CONSOLE` held, and the printk paths only `try_lock` it (a message from inside the
//! console, or from a fault while it draws, goes to serial only).

pub mod memmap_view;
pub mod screen;

use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

use multiboot2::FramebufferType;
use noto_sans_mono_bitmap::RasterizedChar;

use crate::arch::x86_64::tsc;
use crate::arch::x86_64::vram::VideoMemory;
use crate::boot::BootInfo;
use crate::mm::early;
use crate::printk::Level;
use crate::sync::SpinLock;
use screen::{CELL_HEIGHT, CELL_WIDTH, PALETTE, PixelFormat, PixelScreen, TextScreen};

/// Largest grid kept (a bigger screen uses its top-left part): 1400×1280 pixels of 7×16 cells.
const MAX_COLUMNS: usize = 200;
const MAX_ROWS: usize = 80;
/// Pixels per cell the scratch row has room for (the font's cells are narrower).
const SCRATCH_CELL_WIDTH: usize = 8;
const _: () = assert!(CELL_WIDTH <= SCRATCH_CELL_WIDTH);
/// A scroll reaches the screen at most this often (TSC time); see the module comment.
const SCROLL_FLUSH_NS: u64 = 20_000_000;

/// Attributes: foreground in the low nibble, background in the high one (EGA order).
pub const fn attr(fg: u8, bg: u8) -> u8 {
    fg | bg << 4
}
const DEFAULT_ATTR: u8 = attr(7, 0);
const TIMESTAMP_ATTR: u8 = attr(2, 0);

/// The colour of a log message of `level`, after `dmesg --color`'s scheme: emergencies to critical white
/// on red, errors red, warnings yellow, notices bright white, info the default, debug dark grey.
pub const fn level_attr(level: Level) -> u8 {
    match level {
        Level::Emerg | Level::Alert | Level::Crit => attr(15, 4),
        Level::Err => attr(12, 0),
        Level::Warning => attr(14, 0),
        Level::Notice => attr(15, 0),
        Level::Info => DEFAULT_ATTR,
        Level::Debug => attr(8, 0),
    }
}

/// One character cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    /// A Unicode scalar of the Basic Multilingual Plane.
    pub ch: u16,
    pub attr: u8,
}

const BLANK: Cell = Cell { ch: b' ' as u16, attr: DEFAULT_ATTR };

enum Screen {
    Pixels(PixelScreen),
    Text(TextScreen),
}

/// Where the screen is, to map it again after the boot map goes away.
#[derive(Clone, Copy)]
struct Location {
    phys: u64,
    bytes: usize,
}

/// The parser of the escape sequences the shell sends (a VT100 subset: `ESC [ n A/B/C/D`, `ESC [ K`,
/// `ESC [ r;c H`, `ESC [ 2 J`, `ESC [ n;… m`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Started,
    Csi { params: [u16; 4], count: usize },
}

struct Console {
    screen: Option<Screen>,
    location: Option<Location>,
    columns: usize,
    rows: usize,
    /// First text row: rows above it belong to a picture.
    top: usize,
    grid: [Cell; MAX_COLUMNS * MAX_ROWS],
    /// Rows whose cells differ from the screen (after the pending scroll is applied).
    dirty: [bool; MAX_ROWS],
    /// Rows the text region scrolled since the last flush.
    pending_scroll: usize,
    cursor: (usize, usize),
    /// Where the cursor was last drawn.
    drawn_cursor: Option<(usize, usize)>,
    attr: u8,
    escape: Escape,
    /// Drawing stopped between `suspend` and `resume` (the mapping is stale).
    detached: bool,
    last_flush_ns: u64,
    /// One pixel row of a text row, assembled before it is stored.
    scratch: [u32; MAX_COLUMNS * SCRATCH_CELL_WIDTH],
    /// The glyphs of the row being drawn.
    glyphs: [Option<RasterizedChar>; MAX_COLUMNS],
}

static CONSOLE: SpinLock<Console> = SpinLock::new(Console {
    screen: None,
    location: None,
    columns: 0,
    rows: 0,
    top: 0,
    grid: [BLANK; MAX_COLUMNS * MAX_ROWS],
    dirty: [false; MAX_ROWS],
    pending_scroll: 0,
    cursor: (0, 0),
    drawn_cursor: None,
    attr: DEFAULT_ATTR,
    escape: Escape::None,
    detached: false,
    last_flush_ns: 0,
    scratch: [0; MAX_COLUMNS * SCRATCH_CELL_WIDTH],
    glyphs: [None; MAX_COLUMNS],
});

/// Whether the console has a screen (cheap check for printk on serial-only machines).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// What [`init`] found, for the boot log.
pub struct Found {
    pub kind: &'static str,
    pub columns: usize,
    pub rows: usize,
}

/// Takes the framebuffer GRUB set up, if any; returns what was found. The caller replays the log so far.
pub fn init(boot: &'static BootInfo) -> Option<Found> {
    let fb = boot.info().framebuffer_tag()?.ok()?;
    let (width, height, pitch) = (fb.width() as usize, fb.height() as usize, fb.pitch() as usize);
    let bytes = pitch.checked_mul(height)?;
    let phys = fb.address();
    // A framebuffer the boot map does not reach (above 4 GiB) is drawn once `resume` maps it.
    let detached;
    let (screen, kind, columns, rows) = match fb.buffer_type().ok()? {
        FramebufferType::RGB { red, green, blue } => {
            let bytes_per_pixel = usize::from(fb.bpp()).div_ceil(8);
            if !(2..=4).contains(&bytes_per_pixel) || width * bytes_per_pixel > pitch {
                return None;
            }
            let format = PixelFormat {
                bytes_per_pixel,
                red: (red.position, red.size),
                green: (green.position, green.size),
                blue: (blue.position, blue.size),
            };
            let memory = map_early(phys, bytes);
            detached = memory.is_none();
            let memory = memory.unwrap_or_else(VideoMemory::empty);
            let screen = PixelScreen { memory, width, height, pitch, format };
            (Screen::Pixels(screen), "framebuffer", width / CELL_WIDTH, height / CELL_HEIGHT)
        }
        FramebufferType::Text => {
            if width * 2 > pitch {
                return None;
            }
            let memory = map_early(phys, bytes);
            detached = memory.is_none();
            let memory = memory.unwrap_or_else(VideoMemory::empty);
            (Screen::Text(TextScreen { memory, columns: width, pitch }), "EGA text", width, height)
        }
        FramebufferType::Indexed { .. } => return None,
    };
    let (columns, rows) = (columns.min(MAX_COLUMNS), rows.min(MAX_ROWS));
    if columns < 20 || rows < 5 {
        return None;
    }
    let mut con = CONSOLE.lock();
    con.screen = Some(screen);
    con.location = Some(Location { phys, bytes });
    con.columns = columns;
    con.rows = rows;
    con.detached = detached;
    con.clear_all();
    drop(con);
    ACTIVE.store(true, Ordering::Release);
    Some(Found { kind, columns, rows })
}

/// The framebuffer through the boot page tables' map of the low 4 GiB.
fn map_early(phys: u64, bytes: usize) -> Option<VideoMemory> {
    if !early::is_mapped(phys, bytes) {
        return None;
    }
    let virt = NonNull::new(early::phys_to_virt(phys)? as *mut u8)?;
    // SAFETY: the boot map covers [phys, phys + bytes) (checked), which is the video memory the boot
    // loader described; `suspend` drops this mapping's user before the boot map is replaced.
    Some(unsafe { VideoMemory::new(virt, bytes) })
}

/// Stops drawing until [`resume`]: the boot map is about to be replaced.
pub fn suspend() {
    if ACTIVE.load(Ordering::Acquire) {
        CONSOLE.lock().detached = true;
    }
}

/// Maps the framebuffer for good (uncached, through `ioremap`) and redraws everything.
pub fn resume() -> Result<(), &'static str> {
    if !ACTIVE.load(Ordering::Acquire) {
        return Ok(());
    }
    let Some(location) = CONSOLE.lock().location else { return Ok(()) };
    let base = crate::mm::vmalloc::ioremap(location.phys, location.bytes as u64);
    let mut con = CONSOLE.lock();
    let Some(base) = base else {
        con.screen = None;
        ACTIVE.store(false, Ordering::Release);
        return Err("cannot map the framebuffer");
    };
    // SAFETY: `ioremap` mapped [phys, phys + bytes) for good (it is never unmapped).
    let memory = unsafe { VideoMemory::new(base, location.bytes) };
    match con.screen.as_mut() {
        Some(Screen::Pixels(p)) => p.memory = memory,
        Some(Screen::Text(t)) => t.memory = memory,
        None => return Ok(()),
    }
    con.location = None;
    con.detached = false;
    con.mark_all_dirty();
    con.flush();
    Ok(())
}

/// Whether a screen is attached.
pub fn active() -> bool {
    ACTIVE.load(Ordering::Acquire)
}

/// Writes one log line: the timestamp in green, the message in its level's colour.
pub fn log_line(level: Level, timestamp_ns: u64, args: fmt::Arguments<'_>) {
    if !active() {
        return;
    }
    // A message from inside the console itself (a fault while drawing) is not drawn: try_lock.
    let Some(mut con) = CONSOLE.try_lock() else { return };
    let saved = con.attr;
    if con.cursor.0 != 0 {
        con.newline();
    }
    con.attr = TIMESTAMP_ATTR;
    let _ = fmt::write(
        &mut *con,
        format_args!("[{:5}.{:06}] ", timestamp_ns / 1_000_000_000, timestamp_ns / 1000 % 1_000_000),
    );
    con.attr = level_attr(level);
    let _ = fmt::write(&mut *con, args);
    con.newline();
    con.attr = saved;
    con.flush_soon();
}

/// Writes the text of one earlier log line (`[   t] message`, from the log buffer) in its level's colour.
pub fn replay_line(level: Level, line: &str) {
    if !active() {
        return;
    }
    let mut con = CONSOLE.lock();
    let (stamp, message) = match line.find("] ") {
        Some(i) if line.starts_with('[') => line.split_at(i + 2),
        _ => ("", line),
    };
    con.attr = TIMESTAMP_ATTR;
    con.put_text(stamp);
    con.attr = level_attr(level);
    con.put_text(message);
    con.newline();
    con.attr = DEFAULT_ATTR;
    con.flush_soon();
}

/// Writes a task's output (bytes as they come, UTF-8 with the escape sequences the shell uses).
pub fn write_bytes(bytes: &[u8]) {
    if !active() {
        return;
    }
    let Some(mut con) = CONSOLE.try_lock() else { return };
    let mut rest = bytes;
    while !rest.is_empty() {
        let (text, tail) = match core::str::from_utf8(rest) {
            Ok(text) => (text, &[][..]),
            Err(e) => {
                let valid = e.valid_up_to();
                let skip = valid + e.error_len().unwrap_or(rest.len() - valid);
                (core::str::from_utf8(&rest[..valid]).unwrap_or(""), &rest[skip..])
            }
        };
        for c in text.chars() {
            con.put_char(c);
        }
        rest = tail;
    }
    con.flush_soon();
}

/// Brings the screen up to date if anything waits (the timer tick).
pub fn tick() {
    if !active() {
        return;
    }
    if let Some(mut con) = CONSOLE.try_lock()
        && (con.pending_scroll > 0
            || con.dirty.iter().any(|&d| d)
            || con.drawn_cursor != Some((con.cursor.0.min(con.columns - 1), con.cursor.1)))
    {
        con.flush();
    }
}

/// Frees the console's lock for the last words of a dying kernel, whatever context held it.
pub fn emergency_unlock() {
    if active() {
        // SAFETY: called only on the way to stopping the kernel: the holder of the lock, if any, never
        // runs again.
        unsafe { CONSOLE.force_unlock() };
    }
}

/// Draws everything that waits, now (before the kernel stops).
pub fn flush_now() {
    if active()
        && let Some(mut con) = CONSOLE.try_lock()
    {
        con.flush();
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.put_text(s);
        Ok(())
    }
}

impl Console {
    /// Moves the first text row to `top` (a picture takes the rows above it): the text rows still below
    /// keep their place, the rows given to the picture are blanked, and the text is redrawn.
    fn set_top(&mut self, top: usize) {
        let top = top.min(self.rows.saturating_sub(1));
        if top > self.top {
            let columns = self.columns;
            for row in self.top..top {
                self.grid[row * MAX_COLUMNS..row * MAX_COLUMNS + columns].fill(BLANK);
            }
        }
        self.top = top;
        self.cursor.1 = self.cursor.1.max(top);
        self.mark_all_dirty();
        self.flush();
    }

    fn clear_all(&mut self) {
        self.grid.fill(BLANK);
        self.cursor = (0, self.top);
        self.pending_scroll = 0;
        self.mark_all_dirty();
    }

    fn mark_all_dirty(&mut self) {
        let (top, rows) = (self.top, self.rows);
        self.dirty[top..rows].fill(true);
        self.pending_scroll = 0;
        self.drawn_cursor = None;
    }

    fn put_text(&mut self, s: &str) {
        for c in s.chars() {
            self.put_char(c);
        }
    }

    /// Interprets one character of output.
    fn put_char(&mut self, c: char) {
        match self.escape {
            Escape::Started => {
                self.escape = if c == '[' { Escape::Csi { params: [0; 4], count: 0 } } else { Escape::None };
                return;
            }
            Escape::Csi { mut params, mut count } => {
                match c {
                    '0'..='9' => {
                        let i = count.min(3);
                        params[i] = params[i].saturating_mul(10).saturating_add(c as u16 - '0' as u16);
                        self.escape = Escape::Csi { params, count: count.max(1) };
                    }
                    ';' => {
                        count = (count.max(1) + 1).min(4);
                        self.escape = Escape::Csi { params, count };
                    }
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
                self.grid[y * MAX_COLUMNS + x] = Cell { ch, attr: self.attr };
                self.dirty[y] = true;
                self.cursor.0 = x + 1;
            }
        }
    }

    /// A control sequence `ESC [ params final`.
    fn csi(&mut self, final_char: char, params: &[u16]) {
        let n = |i: usize| usize::from(params.get(i).copied().unwrap_or(0)).max(1);
        let (x, y) = self.cursor;
        match final_char {
            'A' => self.cursor.1 = y.saturating_sub(n(0)).max(self.top),
            'B' => self.cursor.1 = (y + n(0)).min(self.rows - 1),
            'C' => self.cursor.0 = (x + n(0)).min(self.columns - 1),
            'D' => self.cursor.0 = x.saturating_sub(n(0)),
            'H' => self.cursor = ((n(1) - 1).min(self.columns - 1), (self.top + n(0) - 1).min(self.rows - 1)),
            'K' => {
                let start = x.min(self.columns);
                let row = y * MAX_COLUMNS;
                let blank = Cell { ch: b' ' as u16, attr: self.attr };
                self.grid[row + start..row + self.columns].fill(blank);
                self.dirty[y] = true;
            }
            'J' if params.first() == Some(&2) => {
                for row in self.top..self.rows {
                    self.grid[row * MAX_COLUMNS..row * MAX_COLUMNS + self.columns].fill(BLANK);
                    self.dirty[row] = true;
                }
                self.cursor = (0, self.top);
            }
            'm' => {
                let mut fg = self.attr & 0xf;
                let mut bg = self.attr >> 4;
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

    fn newline(&mut self) {
        self.cursor.0 = 0;
        if self.cursor.1 + 1 < self.rows {
            self.cursor.1 += 1;
            return;
        }
        // Scroll the text region up by one row.
        let (top, rows, columns) = (self.top, self.rows, self.columns);
        if top + 1 >= rows {
            return;
        }
        self.grid.copy_within((top + 1) * MAX_COLUMNS..rows * MAX_COLUMNS, top * MAX_COLUMNS);
        self.grid[(rows - 1) * MAX_COLUMNS..(rows - 1) * MAX_COLUMNS + columns].fill(BLANK);
        self.dirty.copy_within(top + 1..rows, top);
        self.dirty[rows - 1] = true;
        self.pending_scroll += 1;
        if self.pending_scroll >= rows - top {
            self.dirty[top..rows].fill(true);
            self.pending_scroll = 0;
        }
    }

    /// Flushes now unless only a scroll is waiting and one happened very recently.
    fn flush_soon(&mut self) {
        if self.pending_scroll == 0 {
            self.flush();
            return;
        }
        let now = tsc::uptime_ns();
        if now.saturating_sub(self.last_flush_ns) >= SCROLL_FLUSH_NS || now == 0 {
            self.flush();
        }
    }

    /// Brings the screen up to date with the grid.
    fn flush(&mut self) {
        if self.detached || self.screen.is_none() {
            return;
        }
        self.last_flush_ns = tsc::uptime_ns();
        let (top, rows) = (self.top, self.rows);
        let scroll = core::mem::take(&mut self.pending_scroll);
        let moved = if scroll > 0 && scroll < rows - top { scroll } else { 0 };
        if moved > 0 {
            match &self.screen {
                Some(Screen::Pixels(p)) => p.move_rows(top + moved, top, rows - top - moved),
                Some(Screen::Text(t)) => t.move_rows(top + moved, top, rows - top - moved),
                None => {}
            }
        }
        // The old cursor moved up with the pixels: redraw that cell from the grid to erase it.
        if let Some((x, y)) = self.drawn_cursor.take()
            && y >= top + moved
            && y < rows
        {
            self.draw_row_span(y - moved, x, 1);
        }
        for row in top..rows {
            if core::mem::take(&mut self.dirty[row]) {
                self.draw_row_span(row, 0, self.columns);
            }
        }
        let (x, y) = self.cursor;
        let x = x.min(self.columns - 1);
        match &self.screen {
            Some(Screen::Pixels(p)) => p.draw_cursor(x, y, PALETTE[usize::from(self.attr & 0xf)]),
            Some(Screen::Text(t)) => t.draw_cursor(x, y),
            None => {}
        }
        self.drawn_cursor = Some((x, y));
    }

    fn draw_row_span(&mut self, row: usize, col: usize, count: usize) {
        let start = row * MAX_COLUMNS + col;
        let cells = &self.grid[start..start + count.min(self.columns - col)];
        match &self.screen {
            Some(Screen::Pixels(p)) => p.draw_cells(col, row, cells, &mut self.glyphs, &mut self.scratch),
            Some(Screen::Text(t)) => t.draw_cells(col, row, cells),
            None => {}
        }
    }
}

/// ANSI colour numbers (0 black, 1 red, 2 green, 3 yellow, 4 blue, 5 magenta, 6 cyan, 7 white) to EGA's.
fn ansi_to_vga(n: u16) -> u8 {
    [0, 4, 2, 6, 1, 5, 3, 7][usize::from(n & 7)]
}
