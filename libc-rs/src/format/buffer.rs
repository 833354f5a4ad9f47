//! snprintf's output: a fixed buffer that keeps the first `capacity - 1` bytes and a terminating NUL
//! (C11 §7.21.6.5: "output characters beyond the n-1st are discarded … a null character is written at the
//! end"; nothing at all is written when n is zero).

use super::Output;

/// A truncating, NUL-terminated buffer.
#[derive(Debug)]
pub struct BufferOutput<'a> {
    buffer: &'a mut [u8],
    len: usize,
}

impl<'a> BufferOutput<'a> {
    pub fn new(buffer: &'a mut [u8]) -> BufferOutput<'a> {
        BufferOutput { buffer, len: 0 }
    }

    /// Writes the NUL; returns the bytes kept (without it).
    pub fn finish(self) -> usize {
        if let Some(end) = self.buffer.get_mut(self.len) {
            *end = 0;
        }
        self.len
    }
}

impl Output for BufferOutput<'_> {
    fn write(&mut self, bytes: &[u8]) {
        // Room for text: everything but the last byte, which is kept for the NUL.
        let room = self.buffer.len().saturating_sub(1).saturating_sub(self.len);
        let n = room.min(bytes.len());
        self.buffer[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }
}
