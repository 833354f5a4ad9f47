//! A stdio stream (C's `FILE`): a file descriptor, a buffer and a lock.
//!
//! Buffering as glibc does it on a terminal: stdout is line-buffered (a call that wrote a newline flushes at
//! its end, and a full buffer flushes), stderr unbuffered (each call's output leaves in one `write` at its
//! end). One call — a whole `printf` — holds the lock throughout, so lines of different threads do not mix.

use crate::errno::{Errno, set_errno};
use crate::format::Output;
use crate::mutex::FutexLock;
use crate::sys;
use core::cell::UnsafeCell;
use ptmalloc_rs::RawLock;

/// Bytes a stream buffers.
pub const BUFFER_BYTES: usize = 1024;

/// When a stream writes its buffer out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buffering {
    /// At the end of a call that wrote a newline, and when full.
    Line,
    /// At the end of every call.
    Unbuffered,
}

/// The buffer, guarded by the stream's lock.
#[derive(Debug)]
struct Buffer {
    bytes: [u8; BUFFER_BYTES],
    len: usize,
}

/// A stream (`FILE`).
#[derive(Debug)]
pub struct File {
    fd: i32,
    buffering: Buffering,
    lock: FutexLock,
    buffer: UnsafeCell<Buffer>,
}

// SAFETY: the buffer is only reached through `Locked`, which holds the lock.
unsafe impl Sync for File {}

impl File {
    pub const fn new(fd: i32, buffering: Buffering) -> File {
        let buffer = UnsafeCell::new(Buffer { bytes: [0; BUFFER_BYTES], len: 0 });
        File { fd, buffering, lock: FutexLock::new(), buffer }
    }

    /// Takes the stream's lock for one call.
    pub fn lock(&self) -> Locked<'_> {
        self.lock.lock();
        Locked { file: self, wrote_newline: false, failed: None }
    }
}

/// A locked stream: writes go to its buffer; dropping it flushes as the buffering says and unlocks.
#[derive(Debug)]
pub struct Locked<'a> {
    file: &'a File,
    wrote_newline: bool,
    /// The first write error of this call.
    failed: Option<Errno>,
}

impl Locked<'_> {
    fn buffer(&mut self) -> &mut Buffer {
        // SAFETY: we hold the lock, so this is the only access to the buffer; `&mut self` keeps the borrow
        // unique within the call.
        unsafe { &mut *self.file.buffer.get() }
    }

    /// Appends `bytes` (flushing whenever the buffer fills).
    pub fn write(&mut self, mut bytes: &[u8]) {
        self.wrote_newline |= bytes.contains(&b'\n');
        while !bytes.is_empty() {
            let buffer = self.buffer();
            let n = (BUFFER_BYTES - buffer.len).min(bytes.len());
            buffer.bytes[buffer.len..buffer.len + n].copy_from_slice(&bytes[..n]);
            buffer.len += n;
            bytes = &bytes[n..];
            if self.buffer().len == BUFFER_BYTES {
                self.flush();
            }
        }
    }

    /// Writes the buffer out. On an error the buffered text is dropped (nowhere else to put it).
    pub fn flush(&mut self) {
        let fd = self.file.fd;
        let buffer = self.buffer();
        let mut done = 0;
        let mut result = Ok(());
        while done < buffer.len {
            match sys::write(fd, &buffer.bytes[done..buffer.len]) {
                Ok(0) => {
                    result = Err(Errno::EPIPE);
                    break;
                }
                Ok(written) => done += written,
                Err(Errno::EINTR) => {}
                Err(errno) => {
                    result = Err(errno);
                    break;
                }
            }
        }
        buffer.len = 0;
        if let Err(errno) = result {
            self.failed.get_or_insert(errno);
        }
    }

    /// Ends the call: flushes as the buffering says, unlocks; the call's first write error, which is also
    /// stored in `errno`.
    pub fn finish(mut self) -> Result<(), Errno> {
        self.end_of_call();
        let failed = self.failed.take();
        drop(self);
        match failed {
            Some(errno) => {
                set_errno(errno.0);
                Err(errno)
            }
            None => Ok(()),
        }
    }

    fn end_of_call(&mut self) {
        if self.file.buffering == Buffering::Unbuffered || self.wrote_newline {
            self.flush();
            self.wrote_newline = false;
        }
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.end_of_call();
        // SAFETY: `lock()` took the lock for this value, which is dropped once.
        unsafe { self.file.lock.unlock() };
    }
}

impl Output for Locked<'_> {
    fn write(&mut self, bytes: &[u8]) {
        Locked::write(self, bytes);
    }
}

impl core::fmt::Write for Locked<'_> {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        Locked::write(self, text.as_bytes());
        Ok(())
    }
}
