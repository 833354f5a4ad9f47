//! The texts memd owns (DESIGN §8), in Linux's formats (fs/proc/task_mmu.c, fs/proc/array.c):
//! `/proc/PID/maps`, `/proc/PID/smaps` and `/proc/PID/status`, written into any [`core::fmt::Write`].
//!
//! Resident page counts are the kernel's: memd passes the task's `vm_ranges` and its `task_info`.
//! [`Window`] cuts a text into the pieces the protocol returns (a byte offset and one bulk buffer).

mod maps;
mod smaps;
mod status;

pub use maps::maps;
pub use smaps::smaps;
pub use status::status;

/// A [`core::fmt::Write`] sink that keeps bytes `[offset, offset + buf.len())` of everything written and
/// counts the whole text: memd serves OP_MAPS/OP_SMAPS/OP_STATUS a bulk buffer at a time.
#[derive(Debug)]
pub struct Window<'a> {
    buf: &'a mut [u8],
    offset: usize,
    filled: usize,
    total: usize,
}

impl<'a> Window<'a> {
    /// Keeps the text from byte `offset` on, as much as fits in `buf`.
    pub fn new(buf: &'a mut [u8], offset: usize) -> Self {
        Window { buf, offset, filled: 0, total: 0 }
    }

    /// Bytes stored in the buffer (the reply's length).
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// Length of the whole text written so far.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The stored bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.filled]
    }
}

impl core::fmt::Write for Window<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let bytes = s.as_bytes();
        let start = self.total;
        self.total += bytes.len();
        // The part of `bytes` at text positions [offset + filled, offset + buf.len()).
        let want = self.offset + self.filled;
        if self.total > want && start <= want && self.filled < self.buf.len() {
            let from = want - start;
            let n = (bytes.len() - from).min(self.buf.len() - self.filled);
            self.buf[self.filled..self.filled + n].copy_from_slice(&bytes[from..from + n]);
            self.filled += n;
        }
        Ok(())
    }
}

/// Writes one smaps line, `Label:` padded to 16 characters and the value right-aligned in 8, then ` kB`
/// (Linux's `SEQ_PUT_DEC` with its padded labels).
fn kb_line<W: core::fmt::Write + ?Sized>(w: &mut W, label: &str, kb: u64) -> core::fmt::Result {
    writeln!(w, "{label:<16}{kb:>8} kB")
}

/// Kibibytes in `pages` pages.
fn pages_kb(pages: u64) -> u64 {
    pages * (crate::PAGE_SIZE / 1024)
}
