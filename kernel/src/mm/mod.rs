//! Memory management: the E820 map, memblock, and (in later issues) pages, zones, buddy, slab, vmalloc.
//!
//! The pure algorithms live in the `mm-core` crate (host-tested); these modules feed them from the boot
//! information, log what they do in Linux's words, and own the global instances.

pub mod e820;
pub mod early;
pub mod layout;
pub mod memblock;

/// Bytes in a base page.
pub const PAGE_SIZE: u64 = 4096;
