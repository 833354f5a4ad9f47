//! A task's memory policy state: its VMAs, its break and its mmap base, built from the kernel's view of
//! the address space when memd first hears from the task (Linux's `mm_struct`, the policy half).
//!
//! Layout (arch/x86/mm/mmap.c, fs/binfmt_elf.c), with `randomize` = randomize_va_space:
//!
//! ```text
//!  USER_END ─┬──────────────────────────────┐
//!            │ [stack] (the kernel's STACK range, its top randomized by the kernel)
//!            ├──────────────────────────────┤ stack start
//!            │ gap: 128 MiB + the stack size
//!            │ (randomize ≥ 1: minus a random offset < 1 TiB)
//! mmap_base ─┼──────────────────────────────┤
//!            │ mmap area, filled top-down ↓
//!            │          ...
//!            │ [heap] ↑ from start_brk
//! start_brk ─┤ (randomize = 2: image end plus a random offset < 32 MiB)
//!            │ program image
//!  USER_MIN ─┼──────────────────────────────┤
//!            │ null trap (never mapped)
//!         0 ─┴──────────────────────────────┘
//! ```

use alloc::vec::Vec;

use abi::layout::{STACK_BYTES, STACK_TOP, USER_END, USER_MIN};
use abi::{RangeInfo, range_kind, vm};

use crate::{PAGE_SIZE, Vma, VmaKind, page_align};

/// Minimum distance between the stack and `mmap_base` (Linux's `MIN_GAP`).
const MMAP_MIN_GAP: u64 = 128 << 20;
/// Random pages `mmap_base` may move down by: 28 bits (Linux's `mmap_rnd_bits` on x86-64: 1 TiB).
const MMAP_RANDOM_PAGES: u64 = 1 << 28;
/// The heap's random offset stays below 32 MiB (Linux's `arch_randomize_brk`).
const BRK_RANDOM_BYTES: u64 = 32 << 20;

/// How a task's layout is randomized.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// randomize_va_space: 0 = nothing, 1 = mmap base, 2 = mmap base and brk.
    pub randomize: u8,
    /// Entropy for this task (from `kernel_info(RANDOM)`): bits 0..28 move the mmap base, bits 32..45
    /// the brk.
    pub random: u64,
}

impl Layout {
    /// How far `mmap_base` moves down.
    fn mmap_offset(&self) -> u64 {
        if self.randomize >= 1 { (self.random % MMAP_RANDOM_PAGES) * PAGE_SIZE } else { 0 }
    }

    /// How far the heap's start moves up.
    fn brk_offset(&self) -> u64 {
        if self.randomize >= 2 {
            ((self.random >> 32) % (BRK_RANDOM_BYTES / PAGE_SIZE)) * PAGE_SIZE
        } else {
            0
        }
    }
}

/// One task's VMAs and break.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mm {
    /// Sorted, disjoint, non-empty, page-aligned, merged (see the crate root).
    pub(crate) vmas: Vec<Vma>,
    /// Where the heap starts; brk never goes below it.
    pub(crate) start_brk: u64,
    /// The break as the program set it (not page-aligned); the heap's pages end at its page end.
    pub(crate) brk: u64,
    /// Top of the top-down mmap area.
    pub(crate) mmap_base: u64,
    /// The largest `total_vm` seen, in bytes (VmPeak).
    pub(crate) hiwater_vm: u64,
}

impl Vma {
    /// The VMA of one kernel range, clipped to whole pages of user space (`None` if nothing is left).
    fn from_range(range: &RangeInfo) -> Option<Vma> {
        let start = (range.start & !(PAGE_SIZE - 1)).max(USER_MIN);
        let end = page_align(range.end).unwrap_or(USER_END).min(USER_END);
        let kind = match range.kind {
            range_kind::IMAGE => VmaKind::Image,
            range_kind::STACK => VmaKind::Stack,
            range_kind::HEAP => VmaKind::Heap,
            _ if range.flags & vm::HEAP != 0 => VmaKind::Heap,
            _ => VmaKind::Anonymous,
        };
        (start < end).then_some(Vma {
            start,
            end,
            prot: range.prot & (abi::prot::READ | abi::prot::WRITE | abi::prot::EXEC),
            shared: range.flags & vm::SHARED != 0,
            growsdown: range.flags & vm::GROWSDOWN != 0,
            kind,
        })
    }
}

/// The VMAs of the kernel's ranges, sorted and without overlaps (not merged yet).
fn vmas_of(ranges: &[RangeInfo]) -> Vec<Vma> {
    let mut sorted: Vec<Vma> = ranges.iter().filter_map(Vma::from_range).collect();
    sorted.sort_by_key(|v| v.start);
    let mut vmas: Vec<Vma> = Vec::with_capacity(sorted.len());
    for vma in sorted {
        // The kernel never reports overlapping ranges; if it did, the first one wins.
        if vmas.last().is_none_or(|prev| prev.end <= vma.start) {
            vmas.push(vma);
        }
    }
    vmas
}

impl Mm {
    /// Builds the policy state of a task from the kernel's view of its address space at first contact
    /// (`vm_ranges`: image segments, the stack, maybe anonymous and heap ranges).
    ///
    /// The heap starts at the page end of the highest image range (plus the brk offset when randomize is
    /// 2); if the kernel already reports heap ranges (memd restarted), the heap spans them and the break
    /// is their page end. `mmap_base` lies 128 MiB plus the stack's size below the stack's start (minus
    /// the mmap offset when randomize ≥ 1).
    pub fn new(ranges: &[RangeInfo], layout: Layout) -> Mm {
        let vmas = vmas_of(ranges);

        let heap = vmas.iter().filter(|v| v.kind == VmaKind::Heap);
        let (start_brk, brk) = match (heap.clone().map(|v| v.start).min(), heap.map(|v| v.end).max()) {
            (Some(start), Some(end)) => (start, end),
            _ => {
                let image_end = vmas.iter().filter(|v| v.kind == VmaKind::Image).map(|v| v.end).max();
                let start = image_end.unwrap_or(USER_MIN).saturating_add(layout.brk_offset()).min(USER_END);
                (start, start)
            }
        };

        let (stack_start, stack_bytes) = vmas
            .iter()
            .find(|v| v.kind == VmaKind::Stack)
            .map_or((STACK_TOP - STACK_BYTES, STACK_BYTES), |v| (v.start, v.len()));
        let gap = MMAP_MIN_GAP + stack_bytes + layout.mmap_offset();
        let mmap_base = (stack_start.saturating_sub(gap) & !(PAGE_SIZE - 1)).max(USER_MIN);

        let mut mm = Mm { vmas, start_brk, brk, mmap_base, hiwater_vm: 0 };
        mm.finish();
        mm
    }

    /// Takes the kernel's ranges as the VMAs again, keeping the break, `mmap_base` and the peak size.
    ///
    /// For when the kernel refused an action part-way through a call: the actions before it stay done
    /// (an Unmap of MAP_FIXED, a Move of mremap), so neither the state before the call nor the one after
    /// it is true. Restore the clone taken before the call (for its break), then resync from `vm_ranges`.
    pub fn resync(&mut self, ranges: &[RangeInfo]) {
        self.vmas = vmas_of(ranges);
        self.finish();
    }

    /// The VMAs, in address order.
    pub fn vmas(&self) -> impl Iterator<Item = &Vma> {
        self.vmas.iter()
    }

    /// Where the heap starts (the lowest break).
    pub fn start_brk(&self) -> u64 {
        self.start_brk
    }

    /// The current break (what brk(0) returns).
    pub fn brk(&self) -> u64 {
        self.brk
    }

    /// Top of the area searched top-down for mmap.
    pub fn mmap_base(&self) -> u64 {
        self.mmap_base
    }

    /// Bytes mapped (VmSize).
    pub fn total_bytes(&self) -> u64 {
        self.total_vm()
    }

    /// The most bytes ever mapped at once (VmPeak).
    pub fn peak_bytes(&self) -> u64 {
        self.hiwater_vm.max(self.total_vm())
    }

    /// Whether some VMA grows down (then the kernel may have extended it: see [`Mm::sync_growsdown`]).
    pub fn has_growsdown(&self) -> bool {
        self.vmas.iter().any(|v| v.growsdown)
    }

    /// Catches up with the kernel growing MAP_GROWSDOWN ranges by itself: a fault just below such a
    /// range extends it downwards without asking memd. Given the kernel's ranges (`vm_ranges`), every
    /// grows-down VMA whose kernel range now starts lower is extended down to it (when that space is free
    /// in memd's view). Returns whether anything changed. memd should call it before serving a task with
    /// [`Mm::has_growsdown`], or at least before placing anything near such a VMA.
    pub fn sync_growsdown(&mut self, ranges: &[RangeInfo]) -> bool {
        let mut changed = false;
        for range in ranges.iter().filter(|r| r.flags & vm::GROWSDOWN != 0 && r.start < r.end) {
            let Some(i) = self.vma_at(range.end - 1) else { continue };
            let new_start = (range.start & !(PAGE_SIZE - 1)).max(USER_MIN);
            let below_end = if i == 0 { USER_MIN } else { self.vmas[i - 1].end };
            if self.vmas[i].growsdown && new_start < self.vmas[i].start && below_end <= new_start {
                self.vmas[i].start = new_start;
                changed = true;
            }
        }
        if changed {
            self.finish();
        }
        changed
    }
}
