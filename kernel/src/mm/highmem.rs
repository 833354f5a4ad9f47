//! High memory, the fixmap and temporary mappings (seed 001; seed 002 "high memory"; Linux's
//! `mm/highmem.c`, `arch/x86/include/asm/fixmap.h`).
//!
//! A 32-bit kernel can map only part of RAM permanently; frames above that line form ZONE_HIGHMEM and the
//! kernel reaches them through short-lived mappings. On 64-bit every frame fits in the direct map, so
//! `highmem=SIZE` recreates the situation on purpose: the top SIZE of RAM stays out of the direct map and
//! this module is the only way to its bytes.
//!
//! * **fixmap**: compile-time slots at the top of the address space, counted down from `FIXADDR_TOP`
//!   (`fix_to_virt`); their page table is created at boot so that setting a slot never allocates.
//! * **kmap_atomic**: per-CPU fixmap slots used as a stack (`KM_MAX_IDX` deep, so interrupts may nest
//!   their own mappings); mapping writes one PTE, unmapping clears it and flushes that one page. The
//!   mapping must be released in reverse order on the same CPU (with a scheduler, preemption must stay off
//!   while it is held, as in Linux).
//! * **kmap**: `LAST_PKMAP` persistent slots with reference counts (Linux's `pkmap_count`): 0 free, 1
//!   unused but not yet flushed, n > 1 used n − 1 times. Released slots are unmapped lazily, all at once,
//!   when the search for a free slot wraps around (`flush_all_zero_pkmaps`): one TLB flush for many
//!   unmaps. With every slot in use Linux sleeps; this kernel has no sleeping yet and fails the call.
//!
//! Low-memory pages need none of this: both functions return their direct-map address.

use core::marker::PhantomData;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use mm_core::pgtable::PteFlags;

use super::layout::regions;
use super::mmzone::{NR_CPUS, current_cpu};
use super::pgtable::{self, kernel_flags};
use super::{PAGE_SIZE, early};
use crate::arch::x86_64::tlb;
use crate::sync::SpinLock;
use crate::{pr_info, pr_warn};

/// Nested `kmap_atomic` mappings per CPU (Linux's `KM_MAX_IDX`).
pub const KM_MAX_IDX: usize = 16;

/// Fixmap slots (Linux's `enum fixed_addresses`): slot 0 is a hole, then the kmap_atomic slots.
pub const FIX_HOLE: usize = 0;
pub const FIX_KMAP_BEGIN: usize = 1;
pub const FIX_KMAP_END: usize = FIX_KMAP_BEGIN + KM_MAX_IDX * NR_CPUS - 1;
/// Slots in the fixmap window (one 2 MiB page table).
pub const FIXMAP_SLOTS: usize = ((regions::FIXMAP_END - regions::FIXMAP_START) / PAGE_SIZE) as usize;
const _: () = assert!(FIX_KMAP_END < FIXMAP_SLOTS);

/// The highest fixmap page; slot `i` is `i` pages below it.
pub const FIXADDR_TOP: u64 = regions::FIXMAP_END - PAGE_SIZE;

const LAST_PKMAP: usize = regions::LAST_PKMAP as usize;
/// 2 MiB page tables the pkmap window needs.
const PKMAP_TABLES: usize = LAST_PKMAP / 512;

/// The first frame outside the direct map (`u64::MAX` without `highmem=`).
static HIGHMEM_START_PFN: AtomicU64 = AtomicU64::new(u64::MAX);
/// Physical addresses of the fixmap's and the pkmap window's page tables (0 until `kmap_init`).
static FIXMAP_PT: AtomicU64 = AtomicU64::new(0);
static PKMAP_PT: [AtomicU64; PKMAP_TABLES] = [const { AtomicU64::new(0) }; PKMAP_TABLES];
/// kmap_atomic slots in use, per CPU.
static KMAP_DEPTH: [AtomicUsize; NR_CPUS] = [const { AtomicUsize::new(0) }; NR_CPUS];

/// Virtual address of fixmap slot `idx` (Linux's `fix_to_virt`).
pub const fn fix_to_virt(idx: usize) -> u64 {
    FIXADDR_TOP - idx as u64 * PAGE_SIZE
}

/// Records where high memory starts (before the zones are laid out).
pub fn set_highmem_start(pfn: u64) {
    HIGHMEM_START_PFN.store(pfn, Ordering::Relaxed);
}

/// The first frame of high memory, if `highmem=` made some.
pub fn highmem_start_pfn() -> Option<u64> {
    let pfn = HIGHMEM_START_PFN.load(Ordering::Relaxed);
    (pfn != u64::MAX).then_some(pfn)
}

/// Whether frame `pfn` is high memory (outside the direct map; Linux's `PageHighMem`).
pub fn is_highmem(pfn: u64) -> bool {
    pfn >= HIGHMEM_START_PFN.load(Ordering::Relaxed)
}

/// Creates the page tables of the fixmap and pkmap windows (while memblock still allocates).
pub fn kmap_init() -> Result<(), &'static str> {
    let [fixmap] = pgtable::populate_pte_tables::<1>(regions::FIXMAP_START)?;
    FIXMAP_PT.store(fixmap, Ordering::Relaxed);
    let pkmap = pgtable::populate_pte_tables::<PKMAP_TABLES>(regions::PKMAP_BASE)?;
    for (slot, pt) in PKMAP_PT.iter().zip(pkmap) {
        slot.store(pt, Ordering::Relaxed);
    }
    Ok(())
}

/// Prints the windows at boot.
pub fn print_info() {
    match highmem_start_pfn() {
        Some(pfn) => pr_info!(
            "highmem: frames from {:#x} ({} MiB) are high memory, outside the direct map; reached through {} kmap_atomic slots per CPU and {LAST_PKMAP} pkmap slots",
            pfn * PAGE_SIZE,
            (pfn * PAGE_SIZE) >> 20,
            KM_MAX_IDX
        ),
        None => pr_info!(
            "fixmap: {FIXMAP_SLOTS} slots below {FIXADDR_TOP:#x}, {KM_MAX_IDX} kmap_atomic slots per CPU; {LAST_PKMAP} pkmap slots at {:#x}",
            regions::PKMAP_BASE
        ),
    }
}

/// The PTE for a kernel read-write mapping of `phys`.
fn kernel_pte(phys: u64) -> u64 {
    phys | (kernel_flags(PteFlags::KERNEL) | PteFlags::PRESENT).bits()
}

/// The PTE slot for `virt` in the window table at physical `pt`.
fn pte_slot(pt: u64, virt: u64) -> *mut u64 {
    let index = ((virt >> 12) & 511) as usize;
    let table = early::phys_to_virt(pt).expect("window page tables are in the direct map");
    (table as *mut u64).wrapping_add(index)
}

fn write_pte(pt: u64, virt: u64, value: u64) {
    assert!(pt != 0, "fixmap used before kmap_init");
    // SAFETY: `pt` is a page table of a fixed window created by `kmap_init`, in the direct map; the slot
    // belongs to the caller (a fixmap index, a kmap_atomic level of this CPU, or a pkmap slot under its
    // lock), so nothing else writes this entry.
    unsafe { pte_slot(pt, virt).write_volatile(value) };
}

/// Maps fixmap slot `idx` to physical `phys` (Linux's `set_fixmap`; the slot must be clear).
pub fn set_fixmap(idx: usize, phys: u64) {
    assert!(idx != FIX_HOLE && idx < FIXMAP_SLOTS, "fixmap slot {idx} out of range");
    write_pte(FIXMAP_PT.load(Ordering::Relaxed), fix_to_virt(idx), kernel_pte(phys & !(PAGE_SIZE - 1)));
}

/// Clears fixmap slot `idx` and flushes its translation (Linux's `clear_fixmap`).
pub fn clear_fixmap(idx: usize) {
    assert!(idx != FIX_HOLE && idx < FIXMAP_SLOTS, "fixmap slot {idx} out of range");
    let virt = fix_to_virt(idx);
    write_pte(FIXMAP_PT.load(Ordering::Relaxed), virt, 0);
    tlb::flush_page(virt);
}

/// A temporary mapping of one page, released when dropped (Linux's `kmap_atomic`/`kunmap_atomic`).
/// Not `Send`: it belongs to the CPU whose slot it uses.
pub struct KmapAtomic {
    virt: u64,
    /// The CPU and nesting level of the slot, or None for a low-memory page (direct map).
    slot: Option<(usize, usize)>,
    _cpu_local: PhantomData<*mut u8>,
}

impl KmapAtomic {
    /// The page's address while the mapping lives.
    pub fn addr(&self) -> u64 {
        self.virt
    }

    /// The page's bytes.
    ///
    /// # Safety
    /// Nothing else may access the page while the slice lives (the caller owns the page).
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the mapping covers one page for as long as `self` lives; the caller vouches for
        // exclusive access.
        unsafe { core::slice::from_raw_parts_mut(self.virt as *mut u8, PAGE_SIZE as usize) }
    }
}

impl Drop for KmapAtomic {
    fn drop(&mut self) {
        let Some((cpu, level)) = self.slot else { return };
        let depth = &KMAP_DEPTH[cpu];
        assert!(
            depth.load(Ordering::Relaxed) == level + 1,
            "kunmap_atomic: slot {level} released out of order (depth {})",
            depth.load(Ordering::Relaxed)
        );
        clear_fixmap(FIX_KMAP_BEGIN + cpu * KM_MAX_IDX + level);
        depth.store(level, Ordering::Relaxed);
    }
}

/// Maps frame `pfn` for a short use on this CPU (Linux's `kmap_atomic`). A low-memory page comes back as
/// its direct-map address.
pub fn kmap_atomic(pfn: u64) -> KmapAtomic {
    if !is_highmem(pfn) {
        return KmapAtomic { virt: early::pfn_to_virt(pfn), slot: None, _cpu_local: PhantomData };
    }
    let cpu = current_cpu();
    let level = KMAP_DEPTH[cpu].fetch_add(1, Ordering::Relaxed);
    assert!(level < KM_MAX_IDX, "kmap_atomic: more than {KM_MAX_IDX} nested mappings on CPU {cpu}");
    let idx = FIX_KMAP_BEGIN + cpu * KM_MAX_IDX + level;
    set_fixmap(idx, pfn * PAGE_SIZE);
    KmapAtomic { virt: fix_to_virt(idx), slot: Some((cpu, level)), _cpu_local: PhantomData }
}

/// Runs `f` on the bytes of frame `pfn`, mapped with `kmap_atomic` if it is high memory.
///
/// # Safety
/// The caller owns the page: nothing else accesses it during the call.
pub unsafe fn with_page_bytes<R>(pfn: u64, f: impl FnOnce(&mut [u8]) -> R) -> R {
    let mut map = kmap_atomic(pfn);
    // SAFETY: the caller owns the page.
    f(unsafe { map.as_mut_slice() })
}

/// Copies one page to another (Linux's `copy_highpage`), either of them possibly high memory.
///
/// # Safety
/// The caller owns `to`, and nothing writes `from` during the copy.
pub unsafe fn copy_highpage(to: u64, from: u64) {
    let src = kmap_atomic(from);
    let mut dst = kmap_atomic(to);
    // SAFETY: both mappings cover a page; the caller owns `to` and `from` is stable; they are distinct
    // mappings, so the ranges do not overlap unless `to == from`, which `copy` allows.
    unsafe { core::ptr::copy(src.addr() as *const u8, dst.as_mut_slice().as_mut_ptr(), PAGE_SIZE as usize) };
    drop(dst);
    drop(src);
}

/// The persistent kmap slots.
struct Pkmap {
    /// Linux's `pkmap_count`.
    count: [u16; LAST_PKMAP],
    /// Frame in each slot with a count above 0.
    pfn: [u64; LAST_PKMAP],
    /// Where the search for a free slot resumes (Linux's `last_pkmap_nr`).
    last: usize,
    /// Lazy flushes done so far.
    flushes: u64,
}

static PKMAP: SpinLock<Pkmap> =
    SpinLock::new(Pkmap { count: [0; LAST_PKMAP], pfn: [0; LAST_PKMAP], last: 0, flushes: 0 });

/// Virtual address of pkmap slot `i` (Linux's `PKMAP_ADDR`).
pub const fn pkmap_addr(i: usize) -> u64 {
    regions::PKMAP_BASE + i as u64 * PAGE_SIZE
}

fn pkmap_pt(i: usize) -> u64 {
    PKMAP_PT[i / 512].load(Ordering::Relaxed)
}

impl Pkmap {
    fn find(&self, pfn: u64) -> Option<usize> {
        (0..LAST_PKMAP).find(|&i| self.count[i] > 0 && self.pfn[i] == pfn)
    }

    /// Unmaps every slot no one uses any more, then flushes the window once (Linux's
    /// `flush_all_zero_pkmaps`). Returns whether anything was unmapped.
    fn flush_all_zero(&mut self) -> bool {
        let mut unmapped = false;
        for i in 0..LAST_PKMAP {
            if self.count[i] == 1 {
                self.count[i] = 0;
                write_pte(pkmap_pt(i), pkmap_addr(i), 0);
                unmapped = true;
            }
        }
        if unmapped {
            tlb::flush_all_global();
            self.flushes += 1;
        }
        unmapped
    }

    /// A free slot for `pfn`, mapped (Linux's `map_new_virtual`).
    fn map_new(&mut self, pfn: u64) -> Option<usize> {
        for _ in 0..2 * LAST_PKMAP {
            self.last = (self.last + 1) % LAST_PKMAP;
            if self.last == 0 {
                self.flush_all_zero();
            }
            let i = self.last;
            if self.count[i] == 0 {
                write_pte(pkmap_pt(i), pkmap_addr(i), kernel_pte(pfn * PAGE_SIZE));
                self.count[i] = 1;
                self.pfn[i] = pfn;
                return Some(i);
            }
        }
        None
    }
}

/// Maps frame `pfn` until `kunmap` (Linux's `kmap`); the same page kmapped twice shares its slot. A
/// low-memory page comes back as its direct-map address. None when every slot is in use (Linux would
/// sleep until one is released).
pub fn kmap(pfn: u64) -> Option<u64> {
    if !is_highmem(pfn) {
        return Some(early::pfn_to_virt(pfn));
    }
    let mut pkmap = PKMAP.lock();
    let slot = match pkmap.find(pfn) {
        Some(i) => i,
        None => match pkmap.map_new(pfn) {
            Some(i) => i,
            None => {
                drop(pkmap);
                pr_warn!("kmap: all {LAST_PKMAP} pkmap slots are in use, cannot map pfn {pfn:#x}");
                return None;
            }
        },
    };
    pkmap.count[slot] += 1;
    Some(pkmap_addr(slot))
}

/// Releases a `kmap` of frame `pfn` (Linux's `kunmap`); the slot is unmapped lazily.
pub fn kunmap(pfn: u64) {
    if !is_highmem(pfn) {
        return;
    }
    let mut pkmap = PKMAP.lock();
    match pkmap.find(pfn) {
        Some(i) if pkmap.count[i] > 1 => pkmap.count[i] -= 1,
        _ => {
            drop(pkmap);
            pr_warn!("kunmap: pfn {pfn:#x} is not kmapped");
        }
    }
}

/// The address of a page if the kernel can reach it now: its direct-map address, or its pkmap slot while
/// it is kmapped (Linux's `page_address`).
pub fn page_address(pfn: u64) -> Option<u64> {
    if !is_highmem(pfn) {
        return Some(early::pfn_to_virt(pfn));
    }
    let pkmap = PKMAP.lock();
    pkmap.find(pfn).filter(|&i| pkmap.count[i] > 1).map(pkmap_addr)
}

/// Slots in use, slots released but still mapped, and lazy flushes so far.
pub fn pkmap_stats() -> (usize, usize, u64) {
    let pkmap = PKMAP.lock();
    let used = pkmap.count.iter().filter(|&&c| c > 1).count();
    let lazy = pkmap.count.iter().filter(|&&c| c == 1).count();
    (used, lazy, pkmap.flushes)
}

const _: () = assert!(regions::LAST_PKMAP.is_multiple_of(512));
