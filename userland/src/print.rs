//! `print!`, `println!`, `eprint!`, `eprintln!` and `fail!` over `write(1|2)`: formatted through a small
//! stack buffer so that a line usually leaves in one `write` (lines of different tasks do not interleave).

use crate::sys;
use core::fmt::{self, Write};

/// Bytes formatted before a `write`.
const BUFFER_BYTES: usize = 256;

/// Collects formatted text and writes it to `fd` when full and when dropped.
struct FdWriter {
    fd: u64,
    buffer: [u8; BUFFER_BYTES],
    len: usize,
}

impl FdWriter {
    fn flush(&mut self) {
        let mut done = 0;
        while done < self.len {
            match sys::write(self.fd, &self.buffer[done..self.len]) {
                Ok(written) if written > 0 => done += written as usize,
                _ => break, // nowhere to report a failing console; drop the text
            }
        }
        self.len = 0;
    }
}

impl Write for FdWriter {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for &byte in text.as_bytes() {
            if self.len == BUFFER_BYTES {
                self.flush();
            }
            self.buffer[self.len] = byte;
            self.len += 1;
        }
        Ok(())
    }
}

impl Drop for FdWriter {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Formats `args` to `fd` (the macros' back end).
pub fn print_to(fd: u64, args: fmt::Arguments<'_>) {
    let mut writer = FdWriter { fd, buffer: [0; BUFFER_BYTES], len: 0 };
    let _ = writer.write_fmt(args);
}

/// Prints to standard output (fd 1).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::print::print_to(1, format_args!($($arg)*)) };
}

/// Prints a line to standard output (fd 1).
#[macro_export]
macro_rules! println {
    () => { $crate::print::print_to(1, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::print::print_to(1, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints to standard error (fd 2).
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::print::print_to(2, format_args!($($arg)*)) };
}

/// Prints a line to standard error (fd 2).
#[macro_export]
macro_rules! eprintln {
    () => { $crate::print::print_to(2, format_args!("\n")) };
    ($($arg:tt)*) => { $crate::print::print_to(2, format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints `FAIL: <what>` to standard output and exits with code 1 (the scenario failed).
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {{
        $crate::println!("FAIL: {}", format_args!($($arg)*));
        $crate::sys::exit(1)
    }};
}
