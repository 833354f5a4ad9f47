//! 4-level x86-64 page tables over an abstract physical memory (filled by the page-table work).
