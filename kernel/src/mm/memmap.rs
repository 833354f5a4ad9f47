//! `memmap`: a text picture of physical memory — one character per block of page frames, by the owner
//! most of the block's frames have (from the page descriptors), 64 blocks per line with the address of
//! each line, and a legend with the frame counts. The shell's `memmap` prints it (seed 000 §6: the layout
//! people want to see).

use core::fmt::{self, Write};

use mm_core::page::{PageMap, PageOwner};

use super::PAGE_SIZE;
use super::sparse::{Vmemmap, pfn_valid};

const COLUMNS: u64 = 64;
/// Lines of the picture at most (the block size grows with RAM to stay within it).
const MAX_LINES: u64 = 32;

/// Owners in legend order: (owner, character, name).
const OWNERS: [(PageOwner, char, &str); 8] = [
    (PageOwner::Free, '.', "free"),
    (PageOwner::Kernel, 'K', "kernel image and boot allocations"),
    (PageOwner::KernelAlloc, 'k', "kernel allocations (page allocator)"),
    (PageOwner::PageTable, 'P', "page tables"),
    (PageOwner::Slab, 'S', "slab"),
    (PageOwner::Vmalloc, 'V', "vmalloc and kernel stacks"),
    (PageOwner::User, 'U', "user memory"),
    (PageOwner::Reserved, '#', "reserved / firmware / holes"),
];

fn index_of(owner: PageOwner) -> usize {
    OWNERS.iter().position(|(o, _, _)| *o == owner).unwrap_or(OWNERS.len() - 1)
}

/// Writes the picture of `[0, end of the highest usable RAM)`.
pub fn picture(w: &mut impl Write) -> fmt::Result {
    let end_pfn = crate::mm::e820::with_table(|t| {
        t.entries()
            .iter()
            .filter(|e| e.typ == mm_core::e820::E820Type::USABLE)
            .map(|e| e.end())
            .max()
            .unwrap_or(0)
    }) / PAGE_SIZE;
    let end_pfn = end_pfn.min(1 << 26);
    let blocks_needed = end_pfn.div_ceil(COLUMNS * MAX_LINES).max(1);
    let block = blocks_needed.next_power_of_two();
    let map = Vmemmap;
    let mut totals = [0u64; OWNERS.len()];
    writeln!(w, "Physical memory, one character per {} KiB ({} frames):", block * PAGE_SIZE / 1024, block)?;
    let mut pfn = 0;
    while pfn < end_pfn {
        write!(w, "{:#012x} ", pfn * PAGE_SIZE)?;
        for _ in 0..COLUMNS {
            if pfn >= end_pfn {
                break;
            }
            let mut counts = [0u64; OWNERS.len()];
            for f in pfn..(pfn + block).min(end_pfn) {
                let owner =
                    if pfn_valid(f) { PageOwner::from_u8(map.page(f).owner) } else { PageOwner::Reserved };
                counts[index_of(owner)] += 1;
            }
            for (total, count) in totals.iter_mut().zip(counts) {
                *total += count;
            }
            let most =
                counts.iter().enumerate().max_by_key(|&(i, c)| (*c, usize::MAX - i)).map_or(0, |(i, _)| i);
            w.write_char(OWNERS[most].1)?;
            pfn += block;
        }
        writeln!(w)?;
    }
    writeln!(w, "Legend:")?;
    for ((_, c, name), total) in OWNERS.iter().zip(totals) {
        writeln!(w, "  {c}  {name:<38} {:>10} kB", total * PAGE_SIZE / 1024)?;
    }
    Ok(())
}
