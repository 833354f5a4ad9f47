//! Shared helpers of the integration tests: an allocator over the fake system and a thread handle.

#![allow(dead_code, reason = "each test file uses a different subset")]

pub mod native;

use ptmalloc_rs::fake::{FakeConfig, FakeSystem};
use ptmalloc_rs::{Malloc, SpinLock, ThreadState};
use std::pin::Pin;

pub type FakeMalloc = Malloc<FakeSystem, SpinLock>;

/// A fresh allocator over a default fake address space.
pub fn fake_malloc() -> Pin<Box<FakeMalloc>> {
    Malloc::boxed(FakeSystem::new(FakeConfig::default()))
}

/// A fresh allocator over a fake address space of the given shape.
pub fn fake_malloc_with(config: FakeConfig) -> Pin<Box<FakeMalloc>> {
    Malloc::boxed(FakeSystem::new(config))
}

/// One simulated thread of an allocator (deterministic: everything runs on the test's own thread).
pub struct Thread<'a> {
    pub malloc: &'a FakeMalloc,
    pub state: ThreadState,
}

impl<'a> Thread<'a> {
    pub fn new(malloc: &'a FakeMalloc) -> Self {
        Thread { malloc, state: ThreadState::new() }
    }

    pub fn malloc(&mut self, bytes: usize) -> *mut u8 {
        // SAFETY: this thread state belongs to this allocator and this test thread.
        unsafe { self.malloc.malloc(&mut self.state, bytes) }
    }

    pub fn free(&mut self, ptr: *mut u8) {
        // SAFETY: `ptr` came from this allocator (tests only free what they allocated).
        unsafe { self.malloc.free(&mut self.state, ptr) }
    }

    pub fn calloc(&mut self, count: usize, size: usize) -> *mut u8 {
        // SAFETY: as for `malloc`.
        unsafe { self.malloc.calloc(&mut self.state, count, size) }
    }

    pub fn realloc(&mut self, ptr: *mut u8, bytes: usize) -> *mut u8 {
        // SAFETY: `ptr` is null or a live block of this allocator.
        unsafe { self.malloc.realloc(&mut self.state, ptr, bytes) }
    }

    pub fn memalign(&mut self, alignment: usize, bytes: usize) -> *mut u8 {
        // SAFETY: as for `malloc`.
        unsafe { self.malloc.memalign(&mut self.state, alignment, bytes) }
    }

    pub fn usable(&self, ptr: *mut u8) -> usize {
        // SAFETY: `ptr` is null or a live block of this allocator.
        unsafe { self.malloc.usable_size(ptr) }
    }

    pub fn exit(&mut self) {
        self.malloc.thread_exit(&mut self.state);
    }
}

/// Fills `len` bytes at `ptr` with a pattern derived from `seed`.
pub fn fill(ptr: *mut u8, len: usize, seed: u8) {
    for offset in 0..len {
        // SAFETY: callers pass a live block of at least `len` bytes.
        unsafe { ptr.add(offset).write(seed.wrapping_add(offset as u8)) };
    }
}

/// Checks the pattern written by `fill`.
pub fn check(ptr: *const u8, len: usize, seed: u8) -> bool {
    // SAFETY: callers pass a live block of at least `len` bytes.
    (0..len).all(|offset| unsafe { ptr.add(offset).read() } == seed.wrapping_add(offset as u8))
}
