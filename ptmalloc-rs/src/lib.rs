//! ptmalloc-rs: a port of glibc 2.36's ptmalloc2 (malloc/malloc.c, malloc/arena.c) to Rust.
//!
//! The core is `no_std` and needs no `alloc`: it runs over any [`SystemMemory`] (sbrk-like MORECORE plus
//! mmap-like calls) with any [`RawLock`]. Implementations: `linux::LinuxSystem` (raw syscalls, futex lock),
//! `fake::FakeSystem` (Vec-backed, deterministic, feature `fake`), and libc-rs on our kernel. With the
//! `preload` feature the crate also exports the C malloc ABI for an LD_PRELOAD cdylib (`no_std` too, built
//! with panic=abort: see preload.toml).
//!
//! Layers (one way): `constants` (pure size arithmetic) → `chunk` (boundary tags) → `arena`, `tcache`,
//! `heap` (data structures) → `bins`, `malloc`, `free`, `sysmalloc`, `realloc` (glibc's `_int_*`
//! algorithms) → `purge` (time-decay page return, off by default) → `arena_list` (arena choice, thread
//! exit, fork) → `fast` (inlined tcache hits), `api`, `stats` (the public family).
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(any(test, feature = "fake"))]
extern crate std;

mod allocator;
mod api;
mod arena;
mod arena_list;
mod bins;
mod chunk;
pub mod constants;
mod fast;
mod free;
mod heap;
mod malloc;
mod purge;
mod realloc;
mod stats;
mod sysmalloc;
pub mod system;
mod tcache;

#[cfg(any(test, feature = "fake"))]
pub mod fake;
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
pub mod linux;
#[cfg(all(feature = "preload", target_os = "linux", target_arch = "x86_64"))]
mod preload;

pub use allocator::{Malloc, ThreadState};
pub use arena::Arena;
pub use stats::{MallInfo2, param};
pub use system::{Protection, RawLock, SpinLock, SystemMemory};
