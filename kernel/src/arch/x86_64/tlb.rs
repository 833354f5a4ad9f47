//! TLB invalidation (Intel SDM vol. 3A §5.10.4): one page with INVLPG, everything but global pages with
//! a CR3 reload, everything with a CR4.PGE toggle.

use x86::controlregs::{Cr4, cr3, cr3_write, cr4, cr4_write};

/// Invalidates the translation of one page (and the paging-structure caches).
pub fn flush_page(virt: u64) {
    // SAFETY: INVLPG only drops cached translations; the next access walks the tables again.
    unsafe { x86::tlb::flush(virt as usize) };
}

/// Invalidates every non-global translation.
pub fn flush_all() {
    // SAFETY: reloading CR3 with its current value changes no mapping, it only empties the TLB.
    unsafe { cr3_write(cr3()) };
}

/// Invalidates every translation, global ones included.
pub fn flush_all_global() {
    // SAFETY: clearing and setting CR4.PGE changes no mapping; it empties the TLB including global
    // entries (SDM §5.10.4.1).
    unsafe {
        let value = cr4();
        if value.contains(Cr4::CR4_ENABLE_GLOBAL_PAGES) {
            cr4_write(value - Cr4::CR4_ENABLE_GLOBAL_PAGES);
            cr4_write(value);
        } else {
            cr3_write(cr3());
        }
    }
}
