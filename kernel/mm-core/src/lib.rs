//! Pure memory-management algorithms of the kernel, free of hardware access and tested on the host.
//!
//! Every module here is `no_std` and deterministic, so `cargo test` exercises exactly the code the kernel
//! runs; only `vmap` needs a heap (feature `alloc`, on once the kernel's kmalloc exists). The kernel's `mm/` modules wrap these with logging and physical-memory access.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod buddy;
pub mod e820;
pub mod gfp;
pub mod kaslr;
pub mod list;
pub mod madt;
pub mod memblock;
pub mod numa;
pub mod page;
pub mod pcp;
pub mod pgtable;
pub mod proc;
pub mod rng;
pub mod slab;
#[cfg(feature = "alloc")]
pub mod vmap;
pub mod watermark;
pub mod zone;
