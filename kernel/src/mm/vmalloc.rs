//! vmalloc (seed 000 §41–§42; Linux's `mm/vmalloc.c`): virtually contiguous kernel memory made of
//! physically scattered pages, `vmap` of given pages, `ioremap` of device memory, kernel stacks with guard
//! pages, and `/proc/vmallocinfo`.
//!
//! Areas come from `mm_core::vmap` (O(log n) best fit over the vmalloc region, a guard page after every
//! area); pages come one by one from the buddy allocator (high memory allowed: they are reached only
//! through these mappings); mappings go into the kernel page table. A kernel stack's area has its lowest
//! page unmapped as well, so an overflow faults on the stack's own guard page; the double-fault handler
//! recognizes that and reports a kernel stack overflow.
//!
//! Lock order: the vmap-area lock, then the kernel page-table lock, then the page allocator's locks.

use alloc::vec::Vec;
use core::fmt::{self, Write};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use mm_core::e820::E820Type;
use mm_core::gfp::Gfp;
use mm_core::page::PageMap;
use mm_core::page::PageOwner;
use mm_core::pgtable::{EmptyTables, PageSize, PteFlags};
use mm_core::vmap::{VmapArea, VmapAreas};

use super::layout;
use super::page_alloc::{alloc_pages_raw, free_pages_raw};
use super::pgtable::{self, kernel_flags, with_kernel_pgtable};
use super::sparse::{Vmemmap, pfn_to_page};
use super::{PAGE_SIZE, numa};
use crate::ksyms::Sym;
use crate::sync::SpinLock;
use crate::{pr_err, pr_info, pr_warn};

/// Size of a kernel stack (Linux's `THREAD_SIZE` on x86-64 is 16 KiB).
pub const KERNEL_STACK_SIZE: u64 = 16 * 1024;

/// What an area holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VmKind {
    /// Pages the area owns (vmalloc).
    Vmalloc,
    /// A kernel stack (owned pages, lowest page left unmapped as its guard).
    Stack(&'static str),
    /// Pages the caller owns (vmap).
    Vmap,
    /// Device memory, uncached (ioremap).
    Ioremap { phys: u64 },
}

/// What `/proc/vmallocinfo` says about an area, and the pages it maps.
#[derive(Clone, Debug)]
pub struct VmInfo {
    pub kind: VmKind,
    /// Return address of the caller that asked for the area.
    pub caller: u64,
    pub pfns: Vec<u64>,
}

static VMAP: SpinLock<Option<VmapAreas<VmInfo>>> = SpinLock::new(None);

/// vmalloc'd kernel stacks in use.
static STACKS: AtomicU64 = AtomicU64::new(0);

/// Pages the vmalloc and kernel-stack areas own (Linux's `nr_vmalloc_pages`).
static VMALLOC_PAGES: AtomicU64 = AtomicU64::new(0);

/// Sets up the vmalloc area (after the slab allocator: the area trees live on the heap).
pub fn vmalloc_init() {
    let (start, end) = layout::vmalloc_range();
    match VmapAreas::new(start, end) {
        Ok(areas) => *VMAP.lock() = Some(areas),
        Err(err) => pr_err!("vmalloc: cannot set up [{start:#x}-{end:#x}): {err:?}"),
    }
}

/// The return address of the function that called the caller of this one (Linux's `_RET_IP_` seen from
/// an API function): read from the frame-pointer chain.
#[inline(always)]
fn return_address() -> u64 {
    let rbp = crate::arch::x86_64::cpu::frame_pointer();
    // SAFETY: the kernel is built with frame pointers, so [rbp + 8] of the current (non-inlined) API
    // function's frame is its return address, on the current, mapped stack.
    unsafe { ((rbp + 8) as *const u64).read() }
}

fn map_pages(start: u64, pfns: &[u64], flags: PteFlags) -> bool {
    let mapped = with_kernel_pgtable(|table, mem| {
        for (i, &pfn) in pfns.iter().enumerate() {
            let virt = start + i as u64 * PAGE_SIZE;
            if table.map(mem, virt, pfn * PAGE_SIZE, PageSize::Size4K, flags).is_err() {
                if i > 0
                    && let Ok(report) = table.unmap_range(mem, start, i as u64 * PAGE_SIZE, EmptyTables::Keep)
                {
                    pgtable::flush(&report.flush);
                }
                return false;
            }
        }
        true
    });
    mapped.unwrap_or(false)
}

fn unmap(start: u64, size: u64) {
    let result = with_kernel_pgtable(|table, mem| table.unmap_range(mem, start, size, EmptyTables::Keep));
    if let Some(Ok(report)) = result {
        pgtable::flush(&report.flush);
    }
}

fn free_owned(pfns: &[u64]) {
    VMALLOC_PAGES.fetch_sub(pfns.len() as u64, Ordering::Relaxed);
    for &pfn in pfns {
        Vmemmap.page_mut(pfn).owner = PageOwner::KernelAlloc as u8;
        free_pages_raw(pfn, 0);
    }
}

/// Allocates `pages` order-0 pages for an area; `None` (with nothing kept) when memory runs out.
fn alloc_pages_for(pages: u64, gfp: Gfp) -> Option<Vec<u64>> {
    let mut pfns = Vec::new();
    if pfns.try_reserve_exact(pages as usize).is_err() {
        return None;
    }
    for _ in 0..pages {
        match alloc_pages_raw(gfp | Gfp::__GFP_HIGHMEM | Gfp::__GFP_NOWARN, 0) {
            Some(pfn) => {
                Vmemmap.page_mut(pfn).owner = PageOwner::Vmalloc as u8;
                pfns.push(pfn);
                VMALLOC_PAGES.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                free_owned(&pfns);
                return None;
            }
        }
    }
    Some(pfns)
}

/// Reserves an area of `size` bytes, maps `pfns` at its start + `skip` pages, records `kind`.
fn install(size: u64, skip: u64, pfns: Vec<u64>, kind: VmKind, flags: PteFlags, caller: u64) -> Option<u64> {
    let mut vmap = VMAP.lock();
    let areas = vmap.as_mut()?;
    let info = VmInfo { kind, caller, pfns: Vec::new() };
    let start = areas.alloc(size, PAGE_SIZE, PAGE_SIZE, info).ok()?;
    if !map_pages(start + skip * PAGE_SIZE, &pfns, flags) {
        let _ = areas.free(start);
        return None;
    }
    if let Some(area) = areas.find_mut(start) {
        area.data.pfns = pfns;
    }
    Some(start)
}

fn vmalloc_with(size: u64, gfp: Gfp, caller: u64) -> Option<NonNull<u8>> {
    if size == 0 {
        return None;
    }
    let pages = size.div_ceil(PAGE_SIZE);
    let pfns = alloc_pages_for(pages, gfp)?;
    let owned = pfns.clone();
    match install(pages * PAGE_SIZE, 0, pfns, VmKind::Vmalloc, kernel_flags(PteFlags::KERNEL), caller) {
        Some(start) => {
            if gfp.contains(Gfp::__GFP_ZERO) {
                // SAFETY: the area was just mapped, writable, `pages` pages long, and belongs to nobody else.
                unsafe { core::ptr::write_bytes(start as *mut u8, 0, (pages * PAGE_SIZE) as usize) };
            }
            NonNull::new(start as *mut u8)
        }
        None => {
            free_owned(&owned);
            None
        }
    }
}

/// Allocates `size` bytes of virtually contiguous memory (Linux's `vmalloc`).
#[inline(never)]
pub fn vmalloc(size: u64) -> Option<NonNull<u8>> {
    vmalloc_with(size, Gfp::GFP_KERNEL, return_address())
}

/// `vmalloc` and zero (Linux's `vzalloc`).
#[inline(never)]
pub fn vzalloc(size: u64) -> Option<NonNull<u8>> {
    vmalloc_with(size, Gfp::GFP_KERNEL | Gfp::__GFP_ZERO, return_address())
}

/// Removes an area that starts at `addr` and is of one of the accepted kinds; returns it.
fn remove(addr: u64, accept: impl Fn(&VmKind) -> bool) -> Option<VmapArea<VmInfo>> {
    let mut vmap = VMAP.lock();
    let areas = vmap.as_mut()?;
    match areas.find(addr) {
        Some(area) if area.start == addr && accept(&area.data.kind) => {}
        _ => return None,
    }
    let area = areas.free(addr).ok()?;
    unmap(area.start, area.size);
    Some(area)
}

/// Frees memory from `vmalloc` (Linux's `vfree`); a bad pointer is reported and ignored.
pub fn vfree(ptr: NonNull<u8>) {
    match remove(ptr.as_ptr() as u64, |k| *k == VmKind::Vmalloc) {
        Some(area) => free_owned(&area.data.pfns),
        None => pr_err!("vfree: {:p} is not the start of a vmalloc area", ptr.as_ptr()),
    }
}

/// Maps existing pages contiguously (Linux's `vmap`); the caller keeps ownership of the pages.
#[inline(never)]
pub fn vmap(pfns: &[u64], flags: PteFlags) -> Option<NonNull<u8>> {
    let caller = return_address();
    let start =
        install(pfns.len() as u64 * PAGE_SIZE, 0, pfns.to_vec(), VmKind::Vmap, kernel_flags(flags), caller)?;
    NonNull::new(start as *mut u8)
}

/// Removes a `vmap` mapping.
pub fn vunmap(ptr: NonNull<u8>) {
    if remove(ptr.as_ptr() as u64, |k| *k == VmKind::Vmap).is_none() {
        pr_err!("vunmap: {:p} is not the start of a vmap area", ptr.as_ptr());
    }
}

/// Maps device memory `[phys, phys + size)` uncached (Linux's `ioremap`); the address keeps `phys`'s
/// offset in its page.
#[inline(never)]
pub fn ioremap(phys: u64, size: u64) -> Option<NonNull<u8>> {
    let caller = return_address();
    let first = phys & !(PAGE_SIZE - 1);
    let Some(end) = phys.checked_add(size.max(1)).map(|e| e.next_multiple_of(PAGE_SIZE)) else {
        pr_err!("ioremap: [{phys:#x} + {size:#x}) wraps around");
        return None;
    };
    // RAM belongs to the page allocator; mapping it uncached behind its back would alias it (Linux
    // refuses the same way).
    let on_ram = super::e820::with_table(|t| {
        t.entries().iter().any(|e| e.typ == E820Type::USABLE && e.addr < end && first < e.end())
    });
    if on_ram {
        pr_warn!("ioremap on RAM at {first:#x} - {:#x}", end - 1);
        return None;
    }
    let pages = (end - first) / PAGE_SIZE;
    let pfns: Vec<u64> = (0..pages).map(|i| first / PAGE_SIZE + i).collect();
    let kind = VmKind::Ioremap { phys: first };
    let start = install(pages * PAGE_SIZE, 0, pfns, kind, kernel_flags(PteFlags::KERNEL_NOCACHE), caller)?;
    NonNull::new((start + (phys - first)) as *mut u8)
}

/// Removes an `ioremap` mapping.
pub fn iounmap(ptr: NonNull<u8>) {
    let start = ptr.as_ptr() as u64 & !(PAGE_SIZE - 1);
    if remove(start, |k| matches!(k, VmKind::Ioremap { .. })).is_none() {
        pr_err!("iounmap: {:p} is not an ioremap area", ptr.as_ptr());
    }
}

/// A kernel stack: `[bottom, top)` mapped, the page below `bottom` a guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelStack {
    pub bottom: u64,
    pub top: u64,
}

/// Allocates a kernel stack for `name` (Linux's `alloc_thread_stack_node`).
#[inline(never)]
pub fn alloc_kernel_stack(name: &'static str) -> Option<KernelStack> {
    let caller = return_address();
    let pages = KERNEL_STACK_SIZE / PAGE_SIZE;
    let pfns = alloc_pages_for(pages, Gfp::GFP_KERNEL)?;
    let owned = pfns.clone();
    match install(
        KERNEL_STACK_SIZE + PAGE_SIZE,
        1,
        pfns,
        VmKind::Stack(name),
        kernel_flags(PteFlags::KERNEL),
        caller,
    ) {
        Some(start) => {
            STACKS.fetch_add(1, Ordering::Relaxed);
            let bottom = start + PAGE_SIZE;
            Some(KernelStack { bottom, top: bottom + KERNEL_STACK_SIZE })
        }
        None => {
            free_owned(&owned);
            None
        }
    }
}

/// Frees a kernel stack.
pub fn free_kernel_stack(stack: KernelStack) {
    match remove(stack.bottom - PAGE_SIZE, |k| matches!(k, VmKind::Stack(_))) {
        Some(area) => {
            STACKS.fetch_sub(1, Ordering::Relaxed);
            free_owned(&area.data.pfns);
        }
        None => pr_err!("free_kernel_stack: {:#x} is not a kernel stack", stack.bottom),
    }
}

/// If `addr` is in a kernel stack's guard page (the unmapped page below it or the guard after it), the
/// stack's owner and bounds. For the double-fault handler: it never waits for the lock, which the
/// overflowing code may hold.
pub fn stack_guard_hit(addr: u64) -> Option<(&'static str, u64, u64)> {
    let vmap = VMAP.try_lock()?;
    let area = vmap.as_ref()?.find(addr)?;
    match area.data.kind {
        VmKind::Stack(name) if addr < area.start + PAGE_SIZE || area.in_guard(addr) => {
            Some((name, area.start + PAGE_SIZE, area.end()))
        }
        _ => None,
    }
}

/// `[bottom, top)` of the vmalloc'd kernel stack whose mapped part contains `addr` (for the stack
/// walker; never waits for the lock).
pub fn stack_bounds(addr: u64) -> Option<(u64, u64)> {
    let vmap = VMAP.try_lock()?;
    let area = vmap.as_ref()?.find(addr)?;
    let bottom = area.start + PAGE_SIZE;
    (matches!(area.data.kind, VmKind::Stack(_)) && (bottom..area.end()).contains(&addr))
        .then_some((bottom, area.end()))
}

/// Bytes of kernel stacks: the static ones of the image and the vmalloc'd ones (meminfo's `KernelStack`).
pub fn kernel_stack_bytes() -> u64 {
    let statics: u64 =
        crate::arch::x86_64::backtrace::static_stacks().map(|(bottom, top)| top - bottom).sum();
    statics + STACKS.load(Ordering::Relaxed) * KERNEL_STACK_SIZE
}

/// Bytes of the pages vmalloc'd areas and kernel stacks own, and the vmalloc area's size (meminfo's
/// `VmallocUsed`, which counts allocated pages as Linux does, and `VmallocTotal`).
pub fn usage() -> (u64, u64) {
    let (start, end) = layout::vmalloc_range();
    (VMALLOC_PAGES.load(Ordering::Relaxed) * PAGE_SIZE, end - start)
}

/// `/proc/vmallocinfo` (Linux's format: range including the guard page, size, caller, pages, kind, and
/// pages per node).
pub fn vmallocinfo(w: &mut impl Write) -> fmt::Result {
    let vmap = VMAP.lock();
    let Some(areas) = vmap.as_ref() else { return Ok(()) };
    for area in areas.iter() {
        let size = area.guard_end() - area.start;
        write!(w, "{:#x}-{:#x} {:>7} {}", area.start, area.guard_end(), size, Sym(area.data.caller))?;
        match area.data.kind {
            VmKind::Ioremap { phys } => write!(w, " phys={phys:#018x} ioremap")?,
            VmKind::Vmap => write!(w, " pages={} vmap", area.data.pfns.len())?,
            VmKind::Vmalloc | VmKind::Stack(_) => write!(w, " pages={} vmalloc", area.data.pfns.len())?,
        }
        if !matches!(area.data.kind, VmKind::Ioremap { .. }) {
            let mut per_node = [0u64; mm_core::numa::MAX_NUMNODES];
            for &pfn in &area.data.pfns {
                per_node[usize::from(pfn_to_page(pfn).node)] += 1;
            }
            for (node, n) in per_node.iter().enumerate().take(numa::nr_nodes()) {
                if *n > 0 {
                    write!(w, " N{node}={n}")?;
                }
            }
        }
        writeln!(w)?;
    }
    Ok(())
}

/// Prints the vmalloc area at boot.
pub fn print_info() {
    let (start, end) = layout::vmalloc_range();
    pr_info!(
        "vmalloc: {} TB area, guard page after every area, {} KiB kernel stacks",
        (end - start) >> 40,
        KERNEL_STACK_SIZE >> 10
    );
}
