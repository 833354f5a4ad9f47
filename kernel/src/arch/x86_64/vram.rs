//! Video memory: the mapped linear framebuffer (or the EGA text buffer at 0xb8000) as a bounds-checked
//! region of 32-bit and 16-bit stores, row copies and fills, so the console above it needs no `unsafe`.
//!
//! Accesses are volatile: the memory belongs to the display adapter, and QEMU's (like a real card's)
//! scan-out reads whatever was stored last. Invariant: `base .. base + len` stays mapped and writable for
//! the region's lifetime (the caller of [`VideoMemory::new`] promises it).

use core::ptr::NonNull;

/// A mapped, writable range of video memory.
#[derive(Debug)]
pub struct VideoMemory {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the region is plain device memory with no thread affinity; the console serializes access with
// its lock.
unsafe impl Send for VideoMemory {}

impl VideoMemory {
    /// # Safety
    /// `base .. base + len` must be mapped writable video memory that nothing else uses as ordinary
    /// memory, and must stay mapped for as long as the returned value exists.
    pub unsafe fn new(base: NonNull<u8>, len: usize) -> Self {
        VideoMemory { base, len }
    }

    /// A region of no bytes: every access is dropped (a screen not mapped yet).
    pub fn empty() -> Self {
        VideoMemory { base: NonNull::dangling(), len: 0 }
    }

    /// Stores `bytes` (1 to 4 bytes of `value`, little-endian) at byte `offset`; out-of-range stores are
    /// dropped.
    #[inline]
    pub fn write_pixel(&self, offset: usize, value: u32, bytes: usize) {
        let bytes = bytes.min(4);
        if offset.checked_add(bytes).is_none_or(|end| end > self.len) {
            return;
        }
        let base = self.base.as_ptr() as usize + offset;
        // SAFETY: `offset .. offset + bytes` lies inside the mapped region (checked above; module
        // invariant); a 16- or 32-bit store is used only at an address aligned for it, anything else is
        // stored byte by byte.
        unsafe {
            let p = self.base.as_ptr().add(offset);
            match bytes {
                4 if base.is_multiple_of(4) => p.cast::<u32>().write_volatile(value),
                2 if base.is_multiple_of(2) => p.cast::<u16>().write_volatile(value as u16),
                _ => {
                    for i in 0..bytes {
                        p.add(i).write_volatile((value >> (8 * i)) as u8);
                    }
                }
            }
        }
    }

    /// Stores packed pixels from byte `offset`, `bytes` (2–4) bytes each (clipped to the region).
    pub fn write_pixels(&self, offset: usize, pixels: &[u32], bytes: usize) {
        if bytes == 4 {
            let Some(room) = self.len.checked_sub(offset) else { return };
            let n = pixels.len().min(room / 4);
            // SAFETY: `offset .. offset + 4 n` lies inside the mapped region; `pixels` is ordinary memory
            // that cannot overlap video memory; the destination may be unaligned, so bytes are copied.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    pixels.as_ptr().cast::<u8>(),
                    self.base.as_ptr().add(offset),
                    4 * n,
                )
            }
            return;
        }
        for (i, &pixel) in pixels.iter().enumerate() {
            self.write_pixel(offset + i * bytes, pixel, bytes);
        }
    }

    /// Copies `src` into the region at byte `offset` (clipped to the region).
    pub fn write_bytes(&self, offset: usize, src: &[u8]) {
        let Some(room) = self.len.checked_sub(offset) else { return };
        let n = src.len().min(room);
        // SAFETY: `offset .. offset + n` lies inside the mapped region, and `src` is ordinary memory
        // that cannot overlap video memory.
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), self.base.as_ptr().add(offset), n) }
    }

    /// Moves `len` bytes from `from` to `to` inside the region (overlap allowed); out-of-range moves are
    /// dropped.
    pub fn copy_within(&self, from: usize, to: usize, len: usize) {
        let fits = |start: usize| start.checked_add(len).is_some_and(|end| end <= self.len);
        if !fits(from) || !fits(to) {
            return;
        }
        // SAFETY: both ranges lie inside the mapped region (checked above); `copy` allows overlap.
        unsafe { core::ptr::copy(self.base.as_ptr().add(from), self.base.as_ptr().add(to), len) }
    }

    /// Fills `len` bytes from `offset` with the repeated `pattern` (the bytes of one pixel or cell).
    pub fn fill(&self, offset: usize, len: usize, pattern: &[u8]) {
        if pattern.is_empty() || offset.checked_add(len).is_none_or(|end| end > self.len) {
            return;
        }
        if pattern.iter().all(|&b| b == pattern[0]) {
            // SAFETY: inside the region (checked above).
            unsafe { core::ptr::write_bytes(self.base.as_ptr().add(offset), pattern[0], len) };
            return;
        }
        let mut chunk = [0u8; 256];
        let per = chunk.len() / pattern.len() * pattern.len();
        for (i, b) in chunk[..per].iter_mut().enumerate() {
            *b = pattern[i % pattern.len()];
        }
        let mut done = 0;
        while done < len {
            let n = per.min(len - done);
            self.write_bytes(offset + done, &chunk[..n]);
            done += n;
        }
    }
}

/// CRT controller index and data ports of a colour VGA (the EGA text mode's hardware cursor).
const CRTC_INDEX: u16 = 0x3d4;
const CRTC_DATA: u16 = 0x3d5;
/// CRTC registers "cursor location high" and "low" (the cell index of the blinking cursor).
const CRTC_CURSOR_HIGH: u8 = 0x0e;
const CRTC_CURSOR_LOW: u8 = 0x0f;

/// Moves the text-mode hardware cursor to cell `position` (row × columns + column).
pub fn set_text_cursor(position: u16) {
    // SAFETY: ports 0x3d4/0x3d5 are the colour VGA's CRT controller, present whenever the boot loader
    // reported an EGA text framebuffer; the two registers written only move the cursor.
    unsafe {
        x86::io::outb(CRTC_INDEX, CRTC_CURSOR_HIGH);
        x86::io::outb(CRTC_DATA, (position >> 8) as u8);
        x86::io::outb(CRTC_INDEX, CRTC_CURSOR_LOW);
        x86::io::outb(CRTC_DATA, position as u8);
    }
}
