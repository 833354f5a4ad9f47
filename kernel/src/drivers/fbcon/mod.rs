//! fbcon: the console on the screen — the kernel log in colour (by level, as `dmesg --color`) and the
//! shell's input and output, on GRUB's framebuffer or, when only that is offered, the EGA text buffer.
//!
//! The text lives in a grid of cells (character + EGA attribute, `textgrid`, host-tested: the escape
//! sequences, scrolling, and what a flush must redraw); the screen is brought up to date from it by a
//! flush: rows scrolled since the last flush are moved inside video memory in one copy, then only the
//! rows that changed are drawn. A flush that only changes cells (typing, a prompt) happens at
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
use screen::{BlendCache, CELL_HEIGHT, CELL_WIDTH, PALETTE, PixelFormat, PixelScreen, TextScreen};
pub use textgrid::{Cell, MAX_COLUMNS, attr};
use textgrid::{DEFAULT_ATTR, Grid, MAX_ROWS, Surface};

/// Pixels per cell the scratch row has room for (the font's cells are narrower).
const SCRATCH_CELL_WIDTH: usize = 8;
const _: () = assert!(CELL_WIDTH <= SCRATCH_CELL_WIDTH);
/// A scroll reaches the screen at most this often (TSC time); see the module comment.
const SCROLL_FLUSH_NS: u64 = 20_000_000;

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

struct Console {
    screen: Option<Screen>,
    location: Option<Location>,
    grid: Grid,
    /// Drawing stopped between `suspend` and `resume` (the mapping is stale).
    detached: bool,
    last_flush_ns: u64,
    /// One pixel row of a text row, assembled before it is stored.
    scratch: [u32; MAX_COLUMNS * SCRATCH_CELL_WIDTH],
    /// The glyphs of the row being drawn.
    glyphs: [Option<RasterizedChar>; MAX_COLUMNS],
    /// Glyph shades of the attributes in use (valid for the screen's pixel format).
    blends: BlendCache,
}

static CONSOLE: SpinLock<Console> = SpinLock::new(Console {
    screen: None,
    location: None,
    grid: Grid::new(),
    detached: false,
    last_flush_ns: 0,
    scratch: [0; MAX_COLUMNS * SCRATCH_CELL_WIDTH],
    glyphs: [None; MAX_COLUMNS],
    blends: BlendCache::new(),
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
    con.grid.resize(columns, rows);
    con.detached = detached;
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
    con.grid.mark_all_dirty();
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
    let grid = &mut con.grid;
    let saved = grid.attr();
    grid.fresh_line();
    grid.set_attr(TIMESTAMP_ATTR);
    let _ = fmt::write(
        &mut GridWriter(grid),
        format_args!("[{:5}.{:06}] ", timestamp_ns / 1_000_000_000, timestamp_ns / 1000 % 1_000_000),
    );
    grid.set_attr(level_attr(level));
    let _ = fmt::write(&mut GridWriter(grid), args);
    grid.newline();
    grid.set_attr(saved);
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
    con.grid.set_attr(TIMESTAMP_ATTR);
    con.grid.put_str(stamp);
    con.grid.set_attr(level_attr(level));
    con.grid.put_str(message);
    con.grid.newline();
    con.grid.set_attr(DEFAULT_ATTR);
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
        con.grid.put_str(text);
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
        && con.grid.needs_flush()
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

/// `fmt::Write` into the grid at its current attribute.
struct GridWriter<'a>(&'a mut Grid);

impl fmt::Write for GridWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.put_str(s);
        Ok(())
    }
}

/// The screen as the grid's flush sees it.
struct Drawer<'a> {
    screen: &'a Screen,
    scratch: &'a mut [u32],
    glyphs: &'a mut [Option<RasterizedChar>],
    blends: &'a mut BlendCache,
}

impl Surface for Drawer<'_> {
    fn move_rows(&mut self, from: usize, to: usize, count: usize) {
        match self.screen {
            Screen::Pixels(p) => p.move_rows(from, to, count),
            Screen::Text(t) => t.move_rows(from, to, count),
        }
    }

    fn draw_cells(&mut self, column: usize, row: usize, cells: &[Cell]) {
        match self.screen {
            Screen::Pixels(p) => p.draw_cells(column, row, cells, self.glyphs, self.scratch, self.blends),
            Screen::Text(t) => t.draw_cells(column, row, cells),
        }
    }

    fn draw_cursor(&mut self, column: usize, row: usize, attr: u8) {
        match self.screen {
            Screen::Pixels(p) => p.draw_cursor(column, row, PALETTE[usize::from(attr & 0xf)]),
            Screen::Text(t) => t.draw_cursor(column, row),
        }
    }
}

impl Console {
    /// Moves the first text row (a picture takes the rows above it) and redraws the text.
    fn set_top(&mut self, top: usize) {
        self.grid.set_top(top);
        self.flush();
    }

    /// Flushes now unless only a scroll is waiting and one happened very recently.
    fn flush_soon(&mut self) {
        if self.grid.pending_scroll() == 0 {
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
        let Console {
            screen: Some(screen),
            grid,
            detached: false,
            scratch,
            glyphs,
            blends,
            last_flush_ns,
            ..
        } = self
        else {
            return;
        };
        *last_flush_ns = tsc::uptime_ns();
        grid.flush(&mut Drawer { screen, scratch, glyphs, blends });
    }
}
