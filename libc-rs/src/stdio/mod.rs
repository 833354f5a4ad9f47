//! Standard output and error: the two streams ([`STDOUT`] line-buffered, [`STDERR`] unbuffered), exported to C
//! as `stdout` and `stderr`; Rust's `print!`, `println!`, `eprint!`, `eprintln!`; the C functions are in
//! [`c_functions`]. There is no `stdin` (the kernel's `read` has no input yet).

pub mod c_functions;
mod file;

pub use file::{BUFFER_BYTES, Buffering, File, Locked};

use core::fmt;

/// fd 1, line-buffered.
pub static STDOUT: File = File::new(1, Buffering::Line);
/// fd 2, unbuffered.
pub static STDERR: File = File::new(2, Buffering::Unbuffered);

/// A `FILE *` as C sees it.
#[repr(transparent)]
#[derive(Debug)]
pub struct FilePointer(pub *const File);

// SAFETY: points to a `File`, which is Sync; the pointer itself never changes.
unsafe impl Sync for FilePointer {}

/// C's `stdout` (`extern FILE *stdout;`).
#[unsafe(no_mangle)]
pub static stdout: FilePointer = FilePointer(&raw const STDOUT);

/// C's `stderr`.
#[unsafe(no_mangle)]
pub static stderr: FilePointer = FilePointer(&raw const STDERR);

/// Writes whatever both streams hold (at exit and for `fflush(NULL)`).
pub fn flush_all() {
    for file in [&STDOUT, &STDERR] {
        let mut locked = file.lock();
        locked.flush();
    }
}

/// Formats into a small stack buffer and hands the text to a stream in pieces, so the stream's lock is never
/// held while user `Display` code runs (which may print itself). A line usually leaves in one piece.
#[derive(Debug)]
pub struct StagedWriter<'a> {
    file: &'a File,
    staged: [u8; 256],
    len: usize,
}

impl<'a> StagedWriter<'a> {
    pub fn new(file: &'a File) -> StagedWriter<'a> {
        StagedWriter { file, staged: [0; 256], len: 0 }
    }

    fn hand_over(&mut self) {
        if self.len > 0 {
            let mut locked = self.file.lock();
            locked.write(&self.staged[..self.len]);
            self.len = 0;
        }
    }
}

impl fmt::Write for StagedWriter<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for &byte in text.as_bytes() {
            if self.len == self.staged.len() {
                self.hand_over();
            }
            self.staged[self.len] = byte;
            self.len += 1;
        }
        Ok(())
    }
}

impl Drop for StagedWriter<'_> {
    fn drop(&mut self) {
        self.hand_over();
    }
}

/// Formats `args` to `file` (the macros' back end).
pub fn print_to(file: &File, args: fmt::Arguments<'_>) {
    let _ = fmt::Write::write_fmt(&mut StagedWriter::new(file), args);
}

/// Prints to standard output.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::stdio::print_to(&$crate::stdio::STDOUT, format_args!($($arg)*)) };
}

/// Prints a line to standard output.
#[macro_export]
macro_rules! println {
    () => { $crate::stdio::print_to(&$crate::stdio::STDOUT, format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::stdio::print_to(&$crate::stdio::STDOUT, format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints to standard error.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::stdio::print_to(&$crate::stdio::STDERR, format_args!($($arg)*)) };
}

/// Prints a line to standard error.
#[macro_export]
macro_rules! eprintln {
    () => { $crate::stdio::print_to(&$crate::stdio::STDERR, format_args!("\n")) };
    ($($arg:tt)*) => {
        $crate::stdio::print_to(&$crate::stdio::STDERR, format_args!("{}\n", format_args!($($arg)*)))
    };
}
