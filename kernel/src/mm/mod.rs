//! Memory management: the E820 map, memblock, page descriptors, nodes and zones, the buddy allocator
//! the slab allocator and kmalloc, kernel page tables, and vmalloc.
//!
//! The pure algorithms live in the `mm-core` crate (host-tested); these modules feed them from the boot
//! information, log what they do in Linux's words, and own the global instances.

pub mod aspace;
pub mod e820;
pub mod early;
pub mod fault;
pub mod highmem;
pub mod kmalloc;
pub mod layout;
pub mod memblock;
pub mod memcontrol;
pub mod memmap;
pub mod mm_init;
pub mod mmzone;
pub mod numa;
pub mod oom;
pub mod page_alloc;
pub mod pgtable;
pub mod poison;
pub mod psi;
pub mod slab;
pub mod sparse;
pub mod uaccess;
pub mod vmalloc;
pub mod vmstat;

/// Bytes in a base page.
pub const PAGE_SIZE: u64 = 4096;
