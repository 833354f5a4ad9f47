//! `test=memblock`: memblock's top-down allocation, checked against the E820 map and the reservations.
//!
//! It runs as an early test, right after memblock is set up and before the page allocator takes the
//! free memory over (see `ktest::run_early`).

use mm_core::e820::E820Type;

use crate::mm::{PAGE_SIZE, e820, early, layout, memblock};
use crate::pr_info;

/// Allocates from memblock, checks each block against the E820 map, the reservations and the limit,
/// writes and reads it through the direct map, frees it and checks the free size returns to baseline.
pub fn alloc_free() -> Result<(), &'static str> {
    let baseline = memblock::with(|m| m.free_size());
    let highest_free_page = memblock::with(|m| {
        m.free_ranges().filter(|&(_, end)| end <= m.current_limit()).map(|(_, end)| end - PAGE_SIZE).max()
    });
    let image = layout::kernel_image();
    let requests: [(u64, u64); 3] = [(PAGE_SIZE, PAGE_SIZE), (64 << 10, 2 << 20), (1 << 20, PAGE_SIZE)];
    let mut blocks = [(0u64, 0u64); 3];
    for (slot, &(size, align)) in blocks.iter_mut().zip(&requests) {
        let base = memblock::memblock_phys_alloc(size, align).map_err(|_| "allocation failed")?;
        pr_info!("test=memblock: {size:#x} bytes aligned {align:#x} at {base:#x}");
        let in_ram = e820::with_table(|t| {
            t.entries().iter().any(|e| e.typ == E820Type::USABLE && e.addr <= base && base + size <= e.end())
        });
        if !in_ram {
            return Err("block is not inside a usable E820 range");
        }
        if !base.is_multiple_of(align) {
            return Err("block is misaligned");
        }
        if base < 1 << 20 || (base < image.phys_end && image.phys_start < base + size) {
            return Err("block overlaps the low 1 MiB or the kernel image");
        }
        let bytes = early::phys_to_virt(base).ok_or("block is above the allocation limit")?;
        // SAFETY: memblock reserved [base, base + size) for this test alone, inside the early direct map.
        let block = unsafe { core::slice::from_raw_parts_mut(bytes as *mut u8, size as usize) };
        for (i, b) in block.iter_mut().enumerate() {
            *b = (i as u8) ^ 0x5a;
        }
        if block.iter().enumerate().any(|(i, &b)| b != (i as u8) ^ 0x5a) {
            return Err("block does not hold what was written");
        }
        *slot = (base, size);
    }
    if Some(blocks[0].0) != highest_free_page {
        return Err("the first page did not come from the top of free memory");
    }
    for (i, a) in blocks.iter().enumerate() {
        if blocks[i + 1..].iter().any(|b| a.0 < b.0 + b.1 && b.0 < a.0 + a.1) {
            return Err("two blocks overlap");
        }
    }
    for &(base, size) in &blocks {
        memblock::memblock_phys_free(base, size).map_err(|_| "free failed")?;
    }
    if memblock::with(|m| m.free_size()) != baseline {
        return Err("free memory did not return to its baseline");
    }
    // memblock_alloc hands out zeroed memory even where something was written before.
    let dirty = memblock::memblock_phys_alloc(PAGE_SIZE, PAGE_SIZE).map_err(|_| "allocation failed")?;
    let virt = early::phys_to_virt(dirty).ok_or("block is above the allocation limit")?;
    // SAFETY: the page was just reserved for this test, inside the early direct map.
    unsafe { core::ptr::write_bytes(virt as *mut u8, 0xa5, PAGE_SIZE as usize) };
    memblock::memblock_phys_free(dirty, PAGE_SIZE).map_err(|_| "free failed")?;
    let zeroed = memblock::memblock_alloc(PAGE_SIZE, PAGE_SIZE).map_err(|_| "allocation failed")?;
    if zeroed.as_ptr() as u64 != virt || zeroed.iter().any(|&b| b != 0) {
        return Err("memblock_alloc did not return the same page zeroed");
    }
    memblock::memblock_phys_free(dirty, PAGE_SIZE).map_err(|_| "free failed")?;
    if memblock::with(|m| m.free_size()) != baseline {
        return Err("free memory did not return to its baseline");
    }
    Ok(())
}
