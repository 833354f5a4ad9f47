//! In-kernel tests of vmalloc: scattered pages behind one contiguous range, guard pages, vmap aliases,
//! ioremap of the local APIC, kernel stacks and their overflow, failure without leaks, and
//! `/proc/vmallocinfo`.

use core::fmt::Write;
use core::ptr::NonNull;

use mm_core::gfp::Gfp;
use mm_core::pgtable::PteFlags;

use super::{MemCheckpoint, translate, unmapped};
use crate::arch::x86_64::traps::call_on_stack;
use crate::mm::PAGE_SIZE;
use crate::mm::page_alloc;
use crate::mm::pgtable::kernel_flags;
use crate::mm::vmalloc::{self, KERNEL_STACK_SIZE};
use crate::{pr_info, printk};

/// The local APIC's registers (Intel SDM vol. 3A §11.4.1, the default `IA32_APIC_BASE`).
const LAPIC_BASE: u64 = 0xfee0_0000;
/// Offset of the local APIC version register.
const LAPIC_VERSION: u64 = 0x30;

fn free_pages_now() -> u64 {
    MemCheckpoint::take().free
}

fn vmallocinfo_text() -> heapless::String<4096> {
    let mut text = heapless::String::new();
    let _ = vmalloc::vmallocinfo(&mut text);
    text
}

/// Uses about 8 KiB of stack and returns a checksum of it.
extern "C" fn deep_sum(seed: u64) -> u64 {
    let mut frame = [0u64; 1024];
    for (i, slot) in frame.iter_mut().enumerate() {
        *slot = seed.wrapping_mul(i as u64 + 1);
    }
    core::hint::black_box(&mut frame).iter().sum()
}

/// `test=vmalloc`.
pub fn vmalloc() -> Result<(), &'static str> {
    let info_before = vmallocinfo_text();
    let before = MemCheckpoint::take();
    let baseline = before.free;
    let (used_before, total) = vmalloc::usage();
    pr_info!(
        "test=vmalloc: {} free pages, vmalloc area {} TB, {} bytes used",
        baseline,
        total >> 40,
        used_before
    );

    // 1 MiB + 5 bytes: 257 pages, each mapped to its own physical page, then the guard page.
    let size = (1 << 20) + 5;
    let area = vmalloc::vmalloc(size).ok_or("vmalloc(1 MiB + 5) failed")?;
    let start = area.as_ptr() as u64;
    let pages = size.div_ceil(PAGE_SIZE);
    let mut contiguous = 0;
    let mut last_phys = 0;
    for i in 0..pages {
        let virt = start + i * PAGE_SIZE;
        let (phys, flags) = translate(virt).ok_or("a vmalloc page is not mapped")?;
        if !flags.contains(PteFlags::WRITABLE) || flags.contains(PteFlags::USER) {
            return Err("a vmalloc page is not kernel read-write");
        }
        if kernel_flags(PteFlags::KERNEL).contains(PteFlags::NO_EXECUTE)
            != flags.contains(PteFlags::NO_EXECUTE)
        {
            return Err("a vmalloc page's NX bit is wrong");
        }
        if i > 0 && phys == last_phys + PAGE_SIZE {
            contiguous += 1;
        }
        last_phys = phys;
        // SAFETY: the page was just checked to be mapped writable, and the area is ours.
        unsafe { ((virt) as *mut u64).write_volatile(0x7e57_0000 + i) };
    }
    for i in 0..pages {
        // SAFETY: as above.
        let value = unsafe { ((start + i * PAGE_SIZE) as *const u64).read_volatile() };
        if value != 0x7e57_0000 + i {
            return Err("a vmalloc page does not hold what was written");
        }
    }
    let guard = start + pages * PAGE_SIZE;
    if !unmapped(guard) {
        return Err("the guard page after a vmalloc area is mapped");
    }
    pr_info!(
        "test=vmalloc: vmalloc({size}) at {start:#x}: {pages} pages ({contiguous} physically after their predecessor), guard page at {guard:#x} faults"
    );
    let after_alloc = free_pages_now();
    if baseline - after_alloc < pages {
        return Err("vmalloc took fewer pages from the buddy allocator than it maps");
    }

    let zeroed = vmalloc::vzalloc(64 * 1024).ok_or("vzalloc(64 KiB) failed")?;
    // SAFETY: vzalloc returned 64 KiB of mapped memory.
    let bytes = unsafe { core::slice::from_raw_parts(zeroed.as_ptr(), 64 * 1024) };
    if bytes.iter().any(|&b| b != 0) {
        return Err("vzalloc memory is not zeroed");
    }

    // vmap: an alias of pages the caller owns; writes through it show in the direct map.
    let mut owned = heapless::Vec::<page_alloc::Pages, 4>::new();
    for _ in 0..4 {
        let page = page_alloc::alloc_page(Gfp::GFP_KERNEL | Gfp::__GFP_ZERO).ok_or("alloc_page failed")?;
        let _ = owned.push(page);
    }
    let pfns: heapless::Vec<u64, 4> = owned.iter().map(|p| p.pfn()).collect();
    let alias = vmalloc::vmap(&pfns, PteFlags::KERNEL).ok_or("vmap failed")?;
    for i in 0..4 {
        // SAFETY: the alias maps 4 writable pages.
        unsafe {
            (alias.as_ptr().add(i * PAGE_SIZE as usize + 8) as *mut u64).write_volatile(0xa11a5 + i as u64)
        };
    }
    for (i, page) in owned.iter_mut().enumerate() {
        let direct = u64::from_ne_bytes(page.as_mut_slice()[8..16].try_into().unwrap_or_default());
        if direct != 0xa11a5 + i as u64 {
            return Err("a write through the vmap alias is not in the page");
        }
    }
    pr_info!(
        "test=vmalloc: vmap of 4 pages at {:p}: writes through the alias reach the pages",
        alias.as_ptr()
    );

    // ioremap: the local APIC, uncached, outside the RAM-only direct map.
    let apic = vmalloc::ioremap(LAPIC_BASE, PAGE_SIZE).ok_or("ioremap of the local APIC failed")?;
    let apic_virt = apic.as_ptr() as u64;
    let (phys, flags) = translate(apic_virt).ok_or("the ioremap area is not mapped")?;
    if phys != LAPIC_BASE || !flags.contains(PteFlags::CACHE_DISABLE) {
        return Err("ioremap did not map the APIC page uncached");
    }
    // SAFETY: the local APIC's version register is a 32-bit read-only MMIO register, mapped uncached.
    let version = unsafe { ((apic_virt + LAPIC_VERSION) as *const u32).read_volatile() };
    let lvts = ((version >> 16) & 0xff) + 1;
    pr_info!(
        "test=vmalloc: ioremap({LAPIC_BASE:#x}) at {apic_virt:#x} (PCD): local APIC version {:#x}, {lvts} LVT entries",
        version & 0xff
    );
    if !(0x10..=0x15).contains(&(version & 0xff)) {
        return Err("the local APIC version register reads wrong through ioremap");
    }
    if vmalloc::ioremap(owned[0].phys_addr(), PAGE_SIZE).is_some() {
        return Err("ioremap of RAM was not refused");
    }

    // A kernel stack: usable, with an unmapped guard page below it.
    let stack = vmalloc::alloc_kernel_stack("ktest").ok_or("alloc_kernel_stack failed")?;
    if !unmapped(stack.bottom - PAGE_SIZE) {
        return Err("the page below a kernel stack is mapped");
    }
    // SAFETY: the stack is 16 KiB of mapped memory no one else uses; deep_sum needs about 8 KiB.
    let sum = unsafe { call_on_stack(stack.top, deep_sum, 3) };
    if sum != deep_sum(3) {
        return Err("a function run on a vmalloc'd stack computed a different result");
    }
    pr_info!(
        "test=vmalloc: kernel stack [{:#x}-{:#x}) ran an 8 KiB frame; guard page below it faults",
        stack.bottom,
        stack.top
    );

    // Failure paths: an impossible size fails cleanly, bad frees are reported and ignored.
    if vmalloc::vmalloc(1 << 50).is_some() {
        return Err("vmalloc of 1 PiB succeeded");
    }
    let too_big = baseline * PAGE_SIZE * 2;
    if vmalloc::vmalloc(too_big).is_some() {
        return Err("vmalloc of twice the free memory succeeded");
    }
    pr_info!("test=vmalloc: vmalloc({too_big}) (twice the free memory) failed cleanly");
    vmalloc::vfree(NonNull::new((start + PAGE_SIZE) as *mut u8).ok_or("null")?);
    vmalloc::vunmap(area);

    let info = vmallocinfo_text();
    printk::printk_always(format_args!("/proc/vmallocinfo:"));
    for line in info.lines() {
        printk::printk_always(format_args!("{line}"));
    }
    let mut expected_vmalloc = heapless::String::<64>::new();
    let _ = write!(expected_vmalloc, "{:#x}-{:#x} {:>7} ", start, guard + PAGE_SIZE, (pages + 1) * PAGE_SIZE);
    let line = info
        .lines()
        .find(|l| l.starts_with(expected_vmalloc.as_str()))
        .ok_or("vmallocinfo lacks the area")?;
    if !line.contains("ktest::vmalloc::vmalloc")
        || !line.contains(" pages=257 vmalloc")
        || !line.contains(" N0=")
    {
        return Err("the vmallocinfo line of the area is wrong");
    }
    if !info.contains(" phys=0x00000000fee00000 ioremap") || !info.contains(" pages=4 vmap") {
        return Err("vmallocinfo lacks the ioremap or vmap area");
    }
    let (used, _) = vmalloc::usage();
    if used != used_before + (pages + 16 + KERNEL_STACK_SIZE / PAGE_SIZE) * PAGE_SIZE {
        return Err("VmallocUsed does not count the areas");
    }

    vmalloc::vfree(area);
    vmalloc::vfree(zeroed);
    vmalloc::vunmap(alias);
    vmalloc::iounmap(apic);
    vmalloc::free_kernel_stack(stack);
    drop(owned);
    if !unmapped(start) {
        return Err("a vfree'd area is still mapped");
    }
    let (used_after, _) = vmalloc::usage();
    let now = MemCheckpoint::take();
    let (after, tables, slab) = (now.free, now.tables - before.tables, now.slab as i64 - before.slab as i64);
    pr_info!(
        "test=vmalloc: all freed: {after} free pages (before: {baseline}), {tables} page-table pages kept for the vmalloc area, slab {slab:+} pages, {used_after} bytes of vmalloc area used"
    );
    if used_after != used_before {
        return Err("the vmalloc area did not return to its starting use");
    }
    if now.missing_since(&before) != 0 {
        return Err("free pages did not return to the baseline");
    }
    if vmallocinfo_text() != info_before {
        return Err("vmallocinfo lists other areas than before the test");
    }
    Ok(())
}

/// Recurses until the stack runs out (bounded only to keep the compiler from seeing an endless loop).
#[inline(never)]
extern "C" fn recurse(depth: u64) -> u64 {
    let mut frame = [depth; 32];
    if depth < 1 << 40 {
        frame[1] = recurse(core::hint::black_box(depth + 1));
    }
    core::hint::black_box(&mut frame)[1]
}

/// `test=stack_overflow`: endless recursion on a vmalloc'd kernel stack must hit its guard page and be
/// reported as a stack overflow by the double-fault handler (the test ends as a failure).
pub fn stack_overflow() -> Result<(), &'static str> {
    let stack = vmalloc::alloc_kernel_stack("ktest-overflow").ok_or("alloc_kernel_stack failed")?;
    pr_info!(
        "test=stack_overflow: recursing without end on the kernel stack [{:#x}-{:#x}), guard page at {:#x}",
        stack.bottom,
        stack.top,
        stack.bottom - PAGE_SIZE
    );
    // SAFETY: deliberately overflows: the recursion runs into the guard page and the double-fault
    // handler stops the kernel. It never returns.
    let depth = unsafe { call_on_stack(stack.top, recurse, 0) };
    crate::pr_err!("test=stack_overflow: recursion returned at depth {depth}");
    Err("the recursion returned")
}
