//! `memmap`: a text picture of physical memory — one character per block of page frames, by the owner
//! most of the block's frames have (from the page descriptors), 64 blocks per line with the address of
//! each line, and a legend with the frame counts. The shell's `memmap` prints it (seed 000 §6: the layout
//! people want to see). [`for_each_block`] gives the same classification to the screen's picture
//! (`drivers/fbcon/memmap_view.rs`), with the buddy order of free blocks and the E820 type.

use core::fmt::{self, Write};

use mm_core::page::{PageMap, PageOwner};

use super::PAGE_SIZE;
use super::sparse::{Vmemmap, pfn_valid};

const COLUMNS: u64 = 64;
/// Lines of the picture at most (the block size grows with RAM to stay within it).
const MAX_LINES: u64 = 32;

/// Owners in legend order: (owner, character, name).
pub const OWNERS: [(PageOwner, char, &str); 8] = [
    (PageOwner::Free, '.', "free"),
    (PageOwner::Kernel, 'K', "kernel image and boot allocations"),
    (PageOwner::KernelAlloc, 'k', "kernel allocations (page allocator)"),
    (PageOwner::PageTable, 'P', "page tables"),
    (PageOwner::Slab, 'S', "slab"),
    (PageOwner::Vmalloc, 'V', "vmalloc and kernel stacks"),
    (PageOwner::User, 'U', "user memory"),
    (PageOwner::Reserved, '#', "reserved / firmware / holes"),
];

pub fn index_of(owner: PageOwner) -> usize {
    OWNERS.iter().position(|(o, _, _)| *o == owner).unwrap_or(OWNERS.len() - 1)
}

/// The first page frame past the highest usable RAM (capped at 256 GiB of frames).
pub fn end_pfn() -> u64 {
    let end = crate::mm::e820::with_table(|t| {
        t.entries()
            .iter()
            .filter(|e| e.typ == mm_core::e820::E820Type::USABLE)
            .map(|e| e.end())
            .max()
            .unwrap_or(0)
    });
    (end / PAGE_SIZE).min(1 << 26)
}

/// What one block of frames holds.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockSummary {
    /// Frames of each owner, in [`OWNERS`] order.
    pub counts: [u64; OWNERS.len()],
    /// The owner most frames have (ties go to the earlier one in [`OWNERS`]).
    pub owner: usize,
    /// The largest buddy order among the block's free frames (0 for frames on per-CPU lists).
    pub free_order: u8,
    /// The E820 type at the block's first byte (`None`: no entry covers it).
    pub e820: Option<mm_core::e820::E820Type>,
}

/// Calls `f(first_pfn, summary)` for each block of `block` frames in `[0, end_pfn)`. Descriptors are read
/// without the zone locks: the picture is a snapshot that may be a little stale, never unsafe.
pub fn for_each_block(end_pfn: u64, block: u64, mut f: impl FnMut(u64, &BlockSummary)) {
    let map = Vmemmap;
    let block = block.max(1);
    // Free frames inherit the order of the buddy block they are part of (only its head is marked).
    let (mut order_until, mut order) = (0u64, 0u8);
    let e820: heapless::Vec<(u64, u64, mm_core::e820::E820Type), 128> =
        crate::mm::e820::with_table(|t| t.entries().iter().map(|e| (e.addr, e.end(), e.typ)).collect());
    let mut pfn = 0;
    while pfn < end_pfn {
        let mut summary = BlockSummary::default();
        let addr = pfn * PAGE_SIZE;
        summary.e820 = e820.iter().find(|&&(s, e, _)| s <= addr && addr < e).map(|&(_, _, t)| t);
        for frame in pfn..(pfn + block).min(end_pfn) {
            let owner = if pfn_valid(frame) {
                let page = map.page(frame);
                let owner = PageOwner::from_u8(page.owner);
                if owner == PageOwner::Free {
                    if page.flags & mm_core::page::flags::PG_BUDDY != 0 && page.order <= 20 {
                        (order_until, order) = (frame + (1 << page.order), page.order);
                    }
                    let this = if frame < order_until { order } else { 0 };
                    summary.free_order = summary.free_order.max(this);
                }
                owner
            } else {
                PageOwner::Reserved
            };
            summary.counts[index_of(owner)] += 1;
        }
        summary.owner = summary
            .counts
            .iter()
            .enumerate()
            .max_by_key(|&(i, c)| (*c, usize::MAX - i))
            .map_or(0, |(i, _)| i);
        f(pfn, &summary);
        pfn += block;
    }
}

/// Writes the picture of `[0, end of the highest usable RAM)`.
pub fn picture(w: &mut impl Write) -> fmt::Result {
    let end_pfn = end_pfn();
    let blocks_needed = end_pfn.div_ceil(COLUMNS * MAX_LINES).max(1);
    let block = blocks_needed.next_power_of_two();
    let mut totals = [0u64; OWNERS.len()];
    writeln!(w, "Physical memory, one character per {} KiB ({} frames):", block * PAGE_SIZE / 1024, block)?;
    let mut column = 0;
    let mut result = Ok(());
    for_each_block(end_pfn, block, |pfn, summary| {
        for (total, count) in totals.iter_mut().zip(summary.counts) {
            *total += count;
        }
        if column == 0 {
            result = result.and(write!(w, "{:#012x} ", pfn * PAGE_SIZE));
        }
        result = result.and(w.write_char(OWNERS[summary.owner].1));
        column += 1;
        if column == COLUMNS {
            result = result.and(writeln!(w));
            column = 0;
        }
    });
    result?;
    if column != 0 {
        writeln!(w)?;
    }
    writeln!(w, "Legend:")?;
    for ((_, c, name), total) in OWNERS.iter().zip(totals) {
        writeln!(w, "  {c}  {name:<38} {:>10} kB", total * PAGE_SIZE / 1024)?;
    }
    Ok(())
}
