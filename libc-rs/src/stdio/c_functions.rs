//! The C stdio functions: the `v*printf` family (whose variadic front ends `printf`, `fprintf`, `sprintf` and
//! `snprintf` are the C shims of `c/variadic.c`), `puts`, `putchar`, `fputs`, `fputc`, `putc`, `fwrite`,
//! `fflush`. They return what C says (a count, or EOF = -1 with errno set on a write error).

use super::{File, Locked, STDOUT, flush_all};
use crate::errno::{Errno, set_errno};
use crate::format::{self, BufferOutput, Output};
use crate::va_list::{VaArgs, VaListTag};
use core::ffi::{CStr, c_char, c_int, c_void};

/// C's `EOF`.
pub const EOF: c_int = -1;

/// The stream behind a C `FILE *`, or EBADF for NULL.
///
/// # Safety
/// `stream` is null or one of libc-rs's streams (`stdout`, `stderr`).
unsafe fn stream_ref<'a>(stream: *mut File) -> Result<&'a File, Errno> {
    // SAFETY: the caller's contract; the streams are statics.
    unsafe { stream.cast_const().as_ref() }.ok_or(Errno::EBADF)
}

/// Converts a byte count to printf's `int` result (saturating; glibc would fail with EOVERFLOW).
fn count_result(count: usize) -> c_int {
    c_int::try_from(count).unwrap_or(c_int::MAX)
}

/// Ends a stream call: `ok` if the writes succeeded, else EOF (errno set by `finish`).
fn finish(locked: Locked<'_>, ok: c_int) -> c_int {
    match locked.finish() {
        Ok(()) => ok,
        Err(_) => EOF,
    }
}

/// `vfprintf(stream, format, ap)`.
///
/// # Safety
/// `stream` is `stdout` or `stderr`; `format` is NUL-terminated; `ap` is a live `va_list` whose arguments
/// match the format (the C contract).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vfprintf(stream: *mut File, format: *const c_char, ap: *mut VaListTag) -> c_int {
    // SAFETY: the caller's contract.
    let file = match unsafe { stream_ref(stream) } {
        Ok(file) => file,
        Err(errno) => {
            set_errno(errno.0);
            return EOF;
        }
    };
    // SAFETY: `format` is NUL-terminated and `ap` matches it (contract).
    let (format, mut args) = unsafe { (CStr::from_ptr(format).to_bytes(), VaArgs::new(ap)) };
    let mut locked = file.lock();
    let count = format::format(format, &mut args, &mut locked);
    finish(locked, count_result(count))
}

/// `vprintf(format, ap)`: `vfprintf` to stdout.
///
/// # Safety
/// As for `vfprintf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vprintf(format: *const c_char, ap: *mut VaListTag) -> c_int {
    // SAFETY: the caller's contract; STDOUT is a stream.
    unsafe { vfprintf((&raw const STDOUT).cast_mut(), format, ap) }
}

/// `vsnprintf(buffer, size, format, ap)`: at most `size - 1` bytes and a NUL; the full length.
///
/// # Safety
/// `buffer` has `size` writable bytes (or `size` is 0); `format` and `ap` as for `vfprintf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vsnprintf(
    buffer: *mut c_char,
    size: usize,
    format: *const c_char,
    ap: *mut VaListTag,
) -> c_int {
    let slice: &mut [u8] = if size == 0 || buffer.is_null() {
        &mut []
    } else {
        // SAFETY: `size` writable bytes at `buffer` (contract), used only by this call.
        unsafe { core::slice::from_raw_parts_mut(buffer.cast(), size) }
    };
    let mut out = BufferOutput::new(slice);
    // SAFETY: the caller's contract.
    let (format, mut args) = unsafe { (CStr::from_ptr(format).to_bytes(), VaArgs::new(ap)) };
    let count = format::format(format, &mut args, &mut out);
    out.finish();
    count_result(count)
}

/// `sprintf`'s output: unbounded writes through a raw pointer (the caller promised the room).
struct RawOutput {
    at: *mut u8,
}

impl Output for RawOutput {
    fn write(&mut self, bytes: &[u8]) {
        // SAFETY: `vsprintf`'s contract: the buffer has room for the whole output and its NUL.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.at, bytes.len());
            self.at = self.at.add(bytes.len());
        }
    }
}

/// `vsprintf(buffer, format, ap)`.
///
/// # Safety
/// `buffer` has room for the whole output and its NUL; `format` and `ap` as for `vfprintf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn vsprintf(buffer: *mut c_char, format: *const c_char, ap: *mut VaListTag) -> c_int {
    let mut out = RawOutput { at: buffer.cast() };
    // SAFETY: the caller's contract.
    let (format, mut args) = unsafe { (CStr::from_ptr(format).to_bytes(), VaArgs::new(ap)) };
    let count = format::format(format, &mut args, &mut out);
    // SAFETY: room for the NUL (contract).
    unsafe { out.at.write(0) };
    count_result(count)
}

/// Writes `bytes` (and a newline when asked) to `stream` in one locked call; `ok` or EOF.
///
/// # Safety
/// `stream` as for `stream_ref`.
unsafe fn write_stream(stream: *mut File, bytes: &[u8], newline: bool, ok: c_int) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { stream_ref(stream) } {
        Ok(file) => {
            let mut locked = file.lock();
            locked.write(bytes);
            if newline {
                locked.write(b"\n");
            }
            finish(locked, ok)
        }
        Err(errno) => {
            set_errno(errno.0);
            EOF
        }
    }
}

/// `fputs(text, stream)`: 1 or EOF.
///
/// # Safety
/// `text` is NUL-terminated; `stream` is `stdout` or `stderr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fputs(text: *const c_char, stream: *mut File) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { write_stream(stream, CStr::from_ptr(text).to_bytes(), false, 1) }
}

/// `puts(text)`: the text and a newline to stdout; the bytes written, or EOF.
///
/// # Safety
/// `text` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn puts(text: *const c_char) -> c_int {
    // SAFETY: the caller's contract.
    let bytes = unsafe { CStr::from_ptr(text) }.to_bytes();
    // SAFETY: STDOUT is a stream.
    unsafe { write_stream((&raw const STDOUT).cast_mut(), bytes, true, count_result(bytes.len() + 1)) }
}

/// `fputc(c, stream)`: the byte written (as `unsigned char`), or EOF.
///
/// # Safety
/// `stream` is `stdout` or `stderr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fputc(c: c_int, stream: *mut File) -> c_int {
    let byte = c as u8;
    // SAFETY: the caller's contract.
    unsafe { write_stream(stream, &[byte], false, c_int::from(byte)) }
}

/// `putc(c, stream)`: `fputc`.
///
/// # Safety
/// As for `fputc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn putc(c: c_int, stream: *mut File) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { fputc(c, stream) }
}

/// `putchar(c)`: `fputc(c, stdout)`.
#[unsafe(no_mangle)]
pub extern "C" fn putchar(c: c_int) -> c_int {
    // SAFETY: STDOUT is a stream.
    unsafe { fputc(c, (&raw const STDOUT).cast_mut()) }
}

/// `fwrite(data, size, count, stream)`: the items written (all of them, or 0 on a write error).
///
/// # Safety
/// `data` has `size * count` readable bytes; `stream` is `stdout` or `stderr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fwrite(data: *const c_void, size: usize, count: usize, stream: *mut File) -> usize {
    let Some(bytes) = size.checked_mul(count) else { return 0 };
    if bytes == 0 {
        return 0;
    }
    // SAFETY: the caller's contract.
    let slice = unsafe { core::slice::from_raw_parts(data.cast::<u8>(), bytes) };
    // SAFETY: the caller's contract.
    match unsafe { write_stream(stream, slice, false, 0) } {
        EOF => 0,
        _ => count,
    }
}

/// `fflush(stream)`; `fflush(NULL)` flushes every stream. 0 or EOF.
///
/// # Safety
/// `stream` is null, `stdout` or `stderr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fflush(stream: *mut File) -> c_int {
    if stream.is_null() {
        flush_all();
        return 0;
    }
    // SAFETY: the caller's contract.
    match unsafe { stream_ref(stream) } {
        Ok(file) => {
            let mut locked = file.lock();
            locked.flush();
            finish(locked, 0)
        }
        Err(errno) => {
            set_errno(errno.0);
            EOF
        }
    }
}
