//! printk: the leveled kernel log with dmesg-style timestamps.
//!
//! Each message has one of Linux's eight levels; it reaches the console when its level is below the
//! console log level (`loglevel=`, default 7: everything but debug). Lines look like dmesg's:
//! `[    1.234567] message`, the time being seconds since the kernel's first instruction (0 until the
//! TSC is calibrated, as on Linux). Use the `pr_*!` macros.
//!
//! Consoles: the serial port (COM1) from the first line, and the screen (`drivers::fbcon`) once the
//! boot information says where it is; [`replay_early_to_screen`] then shows the lines logged before it,
//! each in its level's colour. Lock order: `LOG`, then `CONSOLE` (serial), then the screen's lock.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicU8, Ordering};

use crate::arch::x86_64::serial::{COM1, SerialPort};
use crate::arch::x86_64::tsc;
use crate::drivers::fbcon;
use crate::sync::SpinLock;

/// Linux's message levels (`KERN_EMERG` … `KERN_DEBUG`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
#[allow(dead_code, reason = "Linux's full set of levels; not every level has a caller yet")]
pub enum Level {
    Emerg = 0,
    Alert = 1,
    Crit = 2,
    Err = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
    Debug = 7,
}

static CONSOLE_LOGLEVEL: AtomicU8 = AtomicU8::new(bootparam::DEFAULT_LOGLEVEL);
static CONSOLE: SpinLock<Option<SerialPort>> = SpinLock::new(None);

/// Starts the serial console. Returns whether a UART answered.
pub fn init_console() -> bool {
    let mut port = SerialPort::init(COM1);
    if let Some(port) = port.as_mut() {
        // The boot loader may have left its cursor mid-line: start the log on a fresh one.
        let _ = port.write_str("\n");
    }
    let present = port.is_some();
    *CONSOLE.lock() = port;
    present
}

/// Sets the console log level (`loglevel=`).
pub fn set_console_loglevel(level: u8) {
    CONSOLE_LOGLEVEL.store(level, Ordering::Relaxed);
}

/// Whether a message of `level` would reach the console. Emergencies always do (Linux's minimum console
/// log level is 1).
pub fn enabled(level: Level) -> bool {
    (level as u8) < CONSOLE_LOGLEVEL.load(Ordering::Relaxed).max(1)
}

/// Bytes of the kernel log kept for `dmesg` (oldest lines are dropped first, as Linux's log_buf).
const LOG_BYTES: usize = 64 * 1024;

/// The log buffer: every message, whatever the console level, with its timestamp.
struct LogBuffer {
    bytes: [u8; LOG_BYTES],
    /// Bytes used, from the start (the buffer is compacted when full).
    len: usize,
}

static LOG: SpinLock<LogBuffer> = SpinLock::new(LogBuffer { bytes: [0; LOG_BYTES], len: 0 });

/// Messages logged before the screen started: (level, start and end offset in the log buffer), so the
/// screen can show them in their colours.
const EARLY_MESSAGES: usize = 64;
static EARLY: SpinLock<heapless::Vec<(Level, usize, usize), EARLY_MESSAGES>> =
    SpinLock::new(heapless::Vec::new());
/// Set once the screen took over the early messages.
static SCREEN_STARTED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

impl fmt::Write for LogBuffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let s = s.as_bytes();
        let s = &s[s.len().saturating_sub(LOG_BYTES)..];
        if self.len + s.len() > LOG_BYTES {
            // Drop whole old lines until the new text fits.
            let need = self.len + s.len() - LOG_BYTES;
            let cut = self.bytes[need..self.len]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(self.len, |i| need + i + 1);
            self.bytes.copy_within(cut..self.len, 0);
            self.len -= cut;
        }
        self.bytes[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
        Ok(())
    }
}

/// Copies the kernel log from byte `offset` into `out`; returns the bytes copied (dmesg).
pub fn read_log(offset: usize, out: &mut [u8]) -> usize {
    let log = LOG.lock();
    let start = offset.min(log.len);
    let n = (log.len - start).min(out.len());
    out[..n].copy_from_slice(&log.bytes[start..start + n]);
    n
}

/// Logs one message. Prefer the `pr_*!` macros.
pub fn printk(level: Level, args: fmt::Arguments<'_>) {
    let ns = tsc::uptime_ns();
    if let Some(mut log) = LOG.try_lock() {
        let start = log.len;
        let _ = writeln!(log, "[{:5}.{:06}] {}", ns / 1_000_000_000, ns / 1000 % 1_000_000, args);
        if !SCREEN_STARTED.load(Ordering::Relaxed) {
            let end = log.len;
            if let Some(mut early) = EARLY.try_lock() {
                let _ = early.push((level, start, end));
            }
        }
    }
    if enabled(level) {
        emit(level, args);
    }
}

/// Prints a message whatever the console log level (test verdicts the harness must see).
pub fn printk_always(args: fmt::Arguments<'_>) {
    emit(Level::Notice, args);
}

fn emit(level: Level, args: fmt::Arguments<'_>) {
    let ns = tsc::uptime_ns();
    serial_line_at(ns, args);
    fbcon::log_line(level, ns, args);
}

fn serial_line_at(ns: u64, args: fmt::Arguments<'_>) {
    let mut console = CONSOLE.lock();
    if let Some(port) = console.as_mut() {
        let _ = writeln!(port, "[{:5}.{:06}] {}", ns / 1_000_000_000, ns / 1000 % 1_000_000, args);
    }
}

/// Writes a timestamped line to the serial console only: figures for a test harness that would only
/// clutter the screen (and are not kept in the log).
pub fn serial_line(args: fmt::Arguments<'_>) {
    serial_line_at(tsc::uptime_ns(), args);
}

/// Shows the messages logged before the screen started, in their colours, as far as the console log
/// level lets them through. Later messages go to the screen as they are logged.
pub fn replay_early_to_screen() {
    let log = LOG.lock();
    let early = EARLY.lock();
    SCREEN_STARTED.store(true, Ordering::Relaxed);
    for &(level, start, end) in early.iter() {
        if enabled(level) && end <= log.len {
            let text = core::str::from_utf8(&log.bytes[start..end]).unwrap_or("");
            fbcon::replay_line(level, text.trim_end_matches('\n'));
        }
    }
}

/// Writes user output (a task's stdout/stderr) to the console as it is, without a log prefix.
pub fn console_write(bytes: &[u8]) {
    {
        let mut console = CONSOLE.lock();
        if let Some(port) = console.as_mut() {
            for &b in bytes {
                if b == b'\n' {
                    port.write_byte(b'\r');
                }
                port.write_byte(b);
            }
        }
    }
    fbcon::write_bytes(bytes);
}

/// Frees the console lock for the last words of a dying kernel, whatever context held it.
pub fn emergency_unlock() {
    // SAFETY: called only on the way to stopping the kernel (panic, fatal exception): the holder of the
    // lock, if any, will never run again.
    unsafe { CONSOLE.force_unlock() };
    fbcon::emergency_unlock();
}

#[macro_export]
macro_rules! pr_emerg { ($($arg:tt)*) => { $crate::printk::printk($crate::printk::Level::Emerg, format_args!($($arg)*)) } }
#[macro_export]
macro_rules! pr_alert { ($($arg:tt)*) => { $crate::printk::printk($crate::printk::Level::Alert, format_args!($($arg)*)) } }
#[macro_export]
macro_rules! pr_crit { ($($arg:tt)*) => { $crate::printk::printk($crate::printk::Level::Crit, format_args!($($arg)*)) } }
#[macro_export]
macro_rules! pr_err { ($($arg:tt)*) => { $crate::printk::printk($crate::printk::Level::Err, format_args!($($arg)*)) } }
#[macro_export]
macro_rules! pr_warn { ($($arg:tt)*) => { $crate::printk::printk($crate::printk::Level::Warning, format_args!($($arg)*)) } }
#[macro_export]
macro_rules! pr_notice { ($($arg:tt)*) => { $crate::printk::printk($crate::printk::Level::Notice, format_args!($($arg)*)) } }
#[macro_export]
macro_rules! pr_info { ($($arg:tt)*) => { $crate::printk::printk($crate::printk::Level::Info, format_args!($($arg)*)) } }
#[macro_export]
macro_rules! pr_debug { ($($arg:tt)*) => { $crate::printk::printk($crate::printk::Level::Debug, format_args!($($arg)*)) } }
