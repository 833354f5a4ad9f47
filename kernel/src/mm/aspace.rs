//! Per-task address spaces (Linux's `mm_struct`): a PML4 whose kernel half is shared, the ranges memd (or
//! the loader) created, and the fault handling inside them — demand-zero and copy-on-write — with no IPC.
//!
//! The kernel keeps mechanism only: a range is `[start, end)` with protections and a kind (anonymous
//! demand-zero, or a program image whose pages are the module's own frames, mapped read-only and copied
//! on the first write). VMA policy — placement, brk, merging, `/proc/PID/maps` — belongs to memd (DESIGN
//! §6). Every page an address space uses is counted: resident anonymous pages, resident image pages and
//! its page-table pages; [`AddressSpace::destroy`] gives every owned page and table back.
//!
//! The kernel half (PML4 entries 256–511) is copied from the kernel's root when the space is created;
//! `preallocate_kernel_pml4` makes sure no kernel PML4 entry appears later, so the copies never go stale
//! (Linux's `preallocate_vmalloc_pages`).
//!
//! Lock order: the scheduler lock is never held while an address space's lock is taken by a fault.

use alloc::collections::BTreeMap;
use core::ops::ControlFlow;
use core::sync::atomic::{AtomicU64, Ordering};

use abi::{layout, prot};
use mm_core::gfp::Gfp;
use mm_core::page::{PageMap, PageOwner};
use mm_core::pgtable::{EmptyTables, PageSize, PageTable, PgtableError, PhysMemory, PteFlags, TlbFlush};

use super::pgtable::{KernelPtMem, TableSource};
use super::sparse::Vmemmap;
use super::{PAGE_SIZE, highmem, memcontrol, page_alloc, pgtable};
use memcg::group::StatKind;

/// Reads table pages through the direct map (for walks; it never allocates or writes).
const READER: KernelPtMem = KernelPtMem::new(TableSource::Buddy);

/// Page-table pages of all user halves (meminfo's `PageTables` adds them to the kernel's).
pub static USER_PGTABLE_PAGES: AtomicU64 = AtomicU64::new(0);
/// Anonymous user pages in use (meminfo's `AnonPages`).
pub static ANON_PAGES: AtomicU64 = AtomicU64::new(0);

/// What backs a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeKind {
    /// Zero-filled on first touch.
    Anonymous,
    /// A program image: pages present at load time map the module's frames (copy-on-write when the
    /// range is writable); the rest (bss) is demand-zero.
    Image,
    /// The initial stack: anonymous, reported as `[stack]`.
    Stack,
    /// The heap memd grows with brk: anonymous, reported as `[heap]`.
    Heap,
}

/// One range of the address space, `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
    /// `abi::prot` bits.
    pub prot: u64,
    pub shared: bool,
    /// MAP_GROWSDOWN: a fault just below it extends it downwards.
    pub growsdown: bool,
    pub kind: RangeKind,
}

/// How far below a grows-down range a fault may land and still extend it (Linux checks the stack
/// rlimit; one jump of this size is plenty for the programs here).
const GROWSDOWN_REACH: u64 = 1 << 20;

/// Why a user access faulted for good (the `si_code` of the SIGSEGV).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No range at the address (SEGV_MAPERR).
    NotMapped,
    /// A range, but the access is not allowed (SEGV_ACCERR).
    Protection,
    /// No memory to back the page.
    OutOfMemory,
    /// The memory group (this one, or an ancestor) is at its `memory.max`.
    GroupOom(u32),
}

/// Errors of range operations, as errno values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmError {
    Invalid,
    Exists,
    NoMemory,
}

impl VmError {
    pub fn errno(self) -> i64 {
        match self {
            VmError::Invalid => abi::errno::EINVAL,
            VmError::Exists => abi::errno::EEXIST,
            VmError::NoMemory => abi::errno::ENOMEM,
        }
    }
}

/// Table pages of a user half, from the buddy allocator, counted per space and charged to its group.
struct UserPtMem<'a> {
    nr_tables: &'a mut u64,
    group: u32,
}

impl PhysMemory for UserPtMem<'_> {
    // Table pages are low-memory RAM (allocated below without __GFP_HIGHMEM), reached through the direct
    // map exactly as the kernel's own tables are.
    fn read_entry(&self, table: u64, index: usize) -> u64 {
        READER.read_entry(table, index)
    }

    fn write_entry(&mut self, table: u64, index: usize, value: u64) {
        KernelPtMem::new(TableSource::Buddy).write_entry(table, index, value)
    }

    fn alloc_table(&mut self) -> Option<u64> {
        memcontrol::try_charge(self.group, 1, StatKind::PageTables).ok()?;
        let Some(pfn) = page_alloc::alloc_pages_raw(Gfp::GFP_KERNEL | Gfp::__GFP_ZERO, 0) else {
            memcontrol::uncharge(self.group, 1, StatKind::PageTables);
            return None;
        };
        Vmemmap.page_mut(pfn).owner = PageOwner::PageTable as u8;
        memcontrol::set_page_group(pfn, self.group);
        *self.nr_tables += 1;
        USER_PGTABLE_PAGES.fetch_add(1, Ordering::Relaxed);
        Some(pfn * PAGE_SIZE)
    }

    fn free_table(&mut self, table: u64) {
        memcontrol::uncharge(memcontrol::page_group(table / PAGE_SIZE), 1, StatKind::PageTables);
        Vmemmap.page_mut(table / PAGE_SIZE).owner = PageOwner::KernelAlloc as u8;
        page_alloc::free_pages_raw(table / PAGE_SIZE, 0);
        *self.nr_tables -= 1;
        USER_PGTABLE_PAGES.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A task's address space.
pub struct AddressSpace {
    pgtable: Option<PageTable>,
    /// The memory group its pages are charged to.
    group: u32,
    ranges: BTreeMap<u64, Range>,
    /// Table pages, the PML4 included.
    nr_tables: u64,
    pub rss_anon: u64,
    pub rss_image: u64,
    pub minor_faults: u64,
    /// Highest `rss_anon + rss_image` seen (VmHWM).
    pub rss_peak: u64,
    /// Kernel objects of the process charged to its group (`memcontrol::charge_objects`): this
    /// structure, its range records and its tasks' structures — as Linux accounts `mm_struct`,
    /// `vm_area_struct` and `task_struct` — and the group they were charged to.
    objects_charged: (u32, u64),
    /// Bytes of task structures (the process's threads) in `objects_charged`.
    task_bytes: u64,
}

/// PTE flags for `abi::prot` bits on a user page (never W+X: the range checks forbid it).
fn pte_flags(prot_bits: u64, writable: bool) -> PteFlags {
    let mut flags = PteFlags::PRESENT | PteFlags::USER;
    if writable {
        flags |= PteFlags::WRITABLE;
    }
    if prot_bits & prot::EXEC == 0 {
        flags |= PteFlags::NO_EXECUTE;
    }
    pgtable::kernel_flags(flags)
}

impl AddressSpace {
    /// A new, empty space sharing the kernel half of the current kernel page table.
    pub fn new(group: u32) -> Option<Self> {
        let mut nr_tables = 0;
        let mut mem = UserPtMem { nr_tables: &mut nr_tables, group };
        let pgtable = PageTable::new(&mut mem).ok()?;
        let root = pgtable.root();
        let kernel_root = pgtable::with_kernel_pgtable(|table, _| table.root())?;
        for index in 256..512 {
            let entry = mem.read_entry(kernel_root, index);
            mem.write_entry(root, index, entry);
        }
        Some(AddressSpace {
            pgtable: Some(pgtable),
            group,
            ranges: BTreeMap::new(),
            nr_tables,
            rss_anon: 0,
            rss_image: 0,
            minor_faults: 0,
            rss_peak: 0,
            objects_charged: (group, 0),
            task_bytes: 0,
        })
        .map(|mut space| {
            space.account_objects();
            space
        })
    }

    /// Charges the group for this space's kernel objects as they now are (and gives back what an
    /// earlier charge counted): called after every change to the ranges, the group or the threads.
    fn account_objects(&mut self) {
        let bytes = if self.pgtable.is_some() {
            (size_of::<AddressSpace>()
                + self.ranges.len() * (size_of::<u64>() + size_of::<Range>())
                + self.task_bytes as usize) as u64
        } else {
            0
        };
        if self.objects_charged == (self.group, bytes) {
            return;
        }
        let (old_group, old_bytes) = self.objects_charged;
        if old_group == self.group && bytes >= old_bytes {
            memcontrol::charge_objects(self.group, bytes - old_bytes);
        } else if old_group == self.group {
            memcontrol::uncharge_objects(self.group, old_bytes - bytes);
        } else {
            memcontrol::uncharge_objects(old_group, old_bytes);
            memcontrol::charge_objects(self.group, bytes);
        }
        self.objects_charged = (self.group, bytes);
    }

    /// A task of the process was made (`true`) or ended: its structure is charged to the group.
    pub fn account_task(&mut self, made: bool) {
        let bytes = size_of::<crate::task::Task>() as u64;
        self.task_bytes = if made { self.task_bytes + bytes } else { self.task_bytes.saturating_sub(bytes) };
        self.account_objects();
    }

    /// The value for CR3.
    pub fn root(&self) -> u64 {
        self.table().root()
    }

    pub fn nr_tables(&self) -> u64 {
        self.nr_tables
    }

    pub fn rss(&self) -> u64 {
        self.rss_anon + self.rss_image
    }

    fn table(&self) -> &PageTable {
        self.pgtable.as_ref().expect("address space used after destroy")
    }

    fn split(&mut self) -> (&mut PageTable, UserPtMem<'_>) {
        let table = self.pgtable.as_mut().expect("address space used after destroy");
        (table, UserPtMem { nr_tables: &mut self.nr_tables, group: self.group })
    }

    /// The group new pages are charged to; moving a process changes it (pages charged earlier stay
    /// where they were made, as in cgroup v2; the process's kernel objects follow it).
    pub fn set_group(&mut self, group: u32) {
        self.group = group;
        self.account_objects();
    }

    /// Pages the ranges span (VmSize).
    pub fn total_pages(&self) -> u64 {
        self.ranges.values().map(|r| (r.end - r.start) / PAGE_SIZE).sum()
    }

    fn note_rss(&mut self) {
        self.rss_peak = self.rss_peak.max(self.rss());
    }

    /// The range containing `addr`.
    pub fn find(&self, addr: u64) -> Option<&Range> {
        self.ranges.range(..=addr).next_back().map(|(_, r)| r).filter(|r| addr < r.end)
    }

    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.ranges.range(..end).next_back().is_some_and(|(_, r)| r.end > start)
    }

    /// Checks `[start, start + len)` is page-aligned, non-empty and inside the user half.
    pub fn check_user_range(start: u64, len: u64) -> Result<u64, VmError> {
        let end = start.checked_add(len).ok_or(VmError::Invalid)?;
        if len == 0 || !start.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) {
            return Err(VmError::Invalid);
        }
        if start < layout::USER_MIN || end > layout::USER_END {
            return Err(VmError::Invalid);
        }
        Ok(end)
    }

    /// Adds a range (nothing is mapped until it is touched). Refuses W+X and overlaps.
    pub fn add_range(&mut self, range: Range) -> Result<(), VmError> {
        let result = self.add_range_uncounted(range);
        self.account_objects();
        result
    }

    fn add_range_uncounted(&mut self, range: Range) -> Result<(), VmError> {
        Self::check_user_range(range.start, range.end.wrapping_sub(range.start))?;
        if range.prot & (prot::WRITE | prot::EXEC) == prot::WRITE | prot::EXEC {
            return Err(VmError::Invalid);
        }
        if self.overlaps(range.start, range.end) {
            return Err(VmError::Exists);
        }
        self.ranges.insert(range.start, range);
        Ok(())
    }

    /// A free, page-aligned gap of `len` bytes, searched top-down from below the stack's guard gap.
    pub fn find_gap(&self, len: u64) -> Option<u64> {
        let stack =
            self.ranges.values().find(|r| r.kind == RangeKind::Stack).map_or(layout::STACK_TOP, |r| r.start);
        let ceiling = stack - 2 * layout::STACK_BYTES - 0x1000_0000;
        let mut top = ceiling;
        for range in self.ranges.values().rev() {
            if range.start >= top {
                continue;
            }
            if range.end <= top && top - range.end >= len {
                return Some(top - len);
            }
            top = top.min(range.start);
        }
        (top >= layout::USER_MIN + len).then(|| top - len)
    }

    /// Maps the module frame at physical `phys` at `virt` for an image range (read-only when the range
    /// is writable: the first write copies it).
    pub fn map_image_page(&mut self, virt: u64, phys: u64) -> Result<(), VmError> {
        let range = *self.find(virt).ok_or(VmError::Invalid)?;
        let flags = pte_flags(range.prot, false);
        let (table, mut mem) = self.split();
        table.map(&mut mem, virt, phys, PageSize::Size4K, flags).map_err(map_error)?;
        self.rss_image += 1;
        self.note_rss();
        Ok(())
    }

    /// Maps a fresh page at `virt` filled by `fill` (the loader's partial pages and the stack's top).
    pub fn map_new_page(&mut self, virt: u64, fill: impl FnOnce(&mut [u8])) -> Result<(), VmError> {
        let range = *self.find(virt).ok_or(VmError::Invalid)?;
        let pfn = alloc_user_page(self.group).map_err(|_| VmError::NoMemory)?;
        with_user_page(pfn, fill);
        let flags = pte_flags(range.prot, range.prot & prot::WRITE != 0);
        let (table, mut mem) = self.split();
        if let Err(e) = table.map(&mut mem, virt, pfn * PAGE_SIZE, PageSize::Size4K, flags) {
            free_user_page(pfn);
            return Err(map_error(e));
        }
        self.rss_anon += 1;
        self.note_rss();
        Ok(())
    }

    /// Resolves a user fault at `addr` (error code bits as the CPU gives them). Returns the TLB work the
    /// caller applies when this space is loaded.
    pub fn handle_fault(&mut self, addr: u64, write: bool, exec: bool) -> Result<TlbFlush, FaultError> {
        if self.find(addr).is_none() {
            self.expand_stack(addr);
        }
        let range = *self.find(addr).ok_or(FaultError::NotMapped)?;
        let allowed = if exec {
            range.prot & prot::EXEC != 0
        } else if write {
            range.prot & prot::WRITE != 0
        } else {
            range.prot & (prot::READ | prot::WRITE | prot::EXEC) != 0
        };
        if !allowed {
            return Err(FaultError::Protection);
        }
        let page = addr & !(PAGE_SIZE - 1);
        let writable = range.prot & prot::WRITE != 0;
        let present = self.table().translate(&READER, page).ok();
        match present {
            None => {
                let pfn = alloc_user_page(self.group)?;
                memcontrol::count_fault(self.group);
                let flags = pte_flags(range.prot, writable);
                let (table, mut mem) = self.split();
                if table.map(&mut mem, page, pfn * PAGE_SIZE, PageSize::Size4K, flags).is_err() {
                    free_user_page(pfn);
                    return Err(FaultError::OutOfMemory);
                }
                self.rss_anon += 1;
                self.minor_faults += 1;
                self.note_rss();
                Ok(TlbFlush::new())
            }
            Some(t) if write && !t.leaf.flags.contains(PteFlags::WRITABLE) => {
                // Copy-on-write: the page is an image frame (or shared); give this space its own copy.
                let old_pfn = t.phys / PAGE_SIZE;
                let owned = Vmemmap.page(old_pfn).owner == PageOwner::User as u8;
                let new_pfn = alloc_user_page(self.group)?;
                // SAFETY: the new page is this function's alone; the old one is only read (other spaces
                // map it read-only, and image frames are never written).
                unsafe { highmem::copy_highpage(new_pfn, old_pfn) };
                let flags = pte_flags(range.prot, true);
                let (table, mut mem) = self.split();
                let unmapped =
                    table.unmap(&mut mem, page, EmptyTables::Keep).map_err(|_| FaultError::NotMapped)?;
                let flush = unmapped.flush;
                if table.map(&mut mem, page, new_pfn * PAGE_SIZE, PageSize::Size4K, flags).is_err() {
                    free_user_page(new_pfn);
                    return Err(FaultError::OutOfMemory);
                }
                if owned {
                    put_user_page(old_pfn);
                } else {
                    self.rss_image -= 1;
                    self.rss_anon += 1;
                }
                self.minor_faults += 1;
                self.note_rss();
                Ok(flush)
            }
            // Present and allowed: another path mapped it meanwhile (or a stale TLB entry); retry.
            Some(_) => Ok(TlbFlush::new()),
        }
    }

    /// Extends a grows-down range down to the page of `addr` when the fault is within reach below it and
    /// one free guard page stays above the range underneath (Linux's `expand_downwards`).
    fn expand_stack(&mut self, addr: u64) {
        let page = addr & !(PAGE_SIZE - 1);
        let Some(range) = self.ranges.range(addr..).next().map(|(_, r)| *r) else { return };
        if !range.growsdown || range.start - page > GROWSDOWN_REACH || page < layout::USER_MIN {
            return;
        }
        let below_end = self.ranges.range(..range.start).next_back().map_or(0, |(_, r)| r.end);
        if below_end + PAGE_SIZE > page {
            return;
        }
        self.ranges.remove(&range.start);
        self.ranges.insert(page, Range { start: page, ..range });
    }

    /// The ranges with their resident pages, for `vm_ranges` (memd's smaps/status).
    pub fn range_info(&self) -> alloc::vec::Vec<abi::RangeInfo> {
        self.ranges
            .values()
            .map(|r| {
                let mut info = abi::RangeInfo {
                    start: r.start,
                    end: r.end,
                    prot: r.prot,
                    kind: match r.kind {
                        RangeKind::Anonymous => abi::range_kind::ANONYMOUS,
                        RangeKind::Image => abi::range_kind::IMAGE,
                        RangeKind::Stack => abi::range_kind::STACK,
                        RangeKind::Heap => abi::range_kind::HEAP,
                    },
                    flags: (if r.shared { abi::vm::SHARED } else { 0 })
                        | (if r.growsdown { abi::vm::GROWSDOWN } else { 0 })
                        | (if r.kind == RangeKind::Heap { abi::vm::HEAP } else { 0 }),
                    ..Default::default()
                };
                let _ = self.table().walk(&READER, r.start..r.end, |leaf| {
                    if Vmemmap.page(leaf.phys / PAGE_SIZE).owner == PageOwner::User as u8 {
                        info.resident_private += 1;
                        if leaf.flags.contains(PteFlags::DIRTY) {
                            info.dirty += 1;
                        }
                    } else {
                        info.resident_shared += 1;
                    }
                    ControlFlow::<()>::Continue(())
                });
                info
            })
            .collect()
    }

    /// Moves `[old, old + len)` — its ranges and its pages — to `new`, which must be free (mremap).
    pub fn move_range(&mut self, old: u64, len: u64, new: u64) -> Result<TlbFlush, VmError> {
        let result = self.move_range_uncounted(old, len, new);
        self.account_objects();
        result
    }

    fn move_range_uncounted(&mut self, old: u64, len: u64, new: u64) -> Result<TlbFlush, VmError> {
        let old_end = Self::check_user_range(old, len)?;
        let new_end = Self::check_user_range(new, len)?;
        if old < new_end && new < old_end {
            return Err(VmError::Invalid);
        }
        let mut at = old;
        while at < old_end {
            at = self.find(at).ok_or(VmError::NoMemory)?.end;
        }
        if self.overlaps(new, new_end) {
            return Err(VmError::Exists);
        }
        self.split_at(old);
        self.split_at(old_end);
        let moved: alloc::vec::Vec<Range> = self.ranges.range(old..old_end).map(|(_, r)| *r).collect();
        let mut leaves = alloc::vec::Vec::new();
        let _ = self.table().walk(&READER, old..old_end, |leaf| {
            leaves.push(leaf);
            ControlFlow::<()>::Continue(())
        });
        let (table, mut mem) = self.split();
        let flush = match table.unmap_range(&mut mem, old, len, EmptyTables::Free) {
            Ok(report) => report.flush,
            Err(_) => return Err(VmError::Invalid),
        };
        for leaf in &leaves {
            let virt = leaf.virt - old + new;
            if table.map(&mut mem, virt, leaf.phys, PageSize::Size4K, leaf.flags).is_err() {
                // Out of table pages half-way: the page stays owned; report the failure (its frame is
                // freed so nothing leaks).
                if Vmemmap.page(leaf.phys / PAGE_SIZE).owner == PageOwner::User as u8 {
                    put_user_page(leaf.phys / PAGE_SIZE);
                }
            }
        }
        for r in moved {
            self.ranges.remove(&r.start);
            let start = r.start - old + new;
            self.ranges.insert(start, Range { start, end: r.end - old + new, ..r });
        }
        Ok(flush)
    }

    /// Unmaps every page in `[start, end)` and gives owned pages back. Returns the TLB work.
    ///
    /// Allocates nothing: it runs when memory is exhausted (the OOM killer freeing a victim). The pages
    /// are given back during the walk, before their entries are cleared — safe on one CPU, where nothing
    /// runs in this space (or allocates) until the entries are gone and the TLB is flushed below.
    fn zap(&mut self, start: u64, end: u64) -> TlbFlush {
        let (mut owned, mut image) = (0u64, 0u64);
        let _ = self.table().walk(&READER, start..end, |leaf| {
            let pfn = leaf.phys / PAGE_SIZE;
            if Vmemmap.page(pfn).owner == PageOwner::User as u8 {
                put_user_page(pfn);
                owned += 1;
            } else {
                image += 1;
            }
            ControlFlow::<()>::Continue(())
        });
        let (table, mut mem) = self.split();
        let flush = match table.unmap_range(&mut mem, start, end - start, EmptyTables::Free) {
            Ok(report) => report.flush,
            Err(_) => TlbFlush::new(),
        };
        self.rss_anon -= owned;
        self.rss_image -= image;
        flush
    }

    /// Removes `[start, end)` from the ranges (splitting those that stick out) and unmaps it.
    pub fn remove_range(&mut self, start: u64, len: u64) -> Result<TlbFlush, VmError> {
        let result = self.remove_range_uncounted(start, len);
        self.account_objects();
        result
    }

    fn remove_range_uncounted(&mut self, start: u64, len: u64) -> Result<TlbFlush, VmError> {
        let end = Self::check_user_range(start, len)?;
        self.split_at(start);
        self.split_at(end);
        let inside: alloc::vec::Vec<u64> = self.ranges.range(start..end).map(|(&s, _)| s).collect();
        for s in inside {
            self.ranges.remove(&s);
        }
        Ok(self.zap(start, end))
    }

    /// Changes the protection of `[start, end)`; every page of it must be in some range.
    pub fn protect_range(&mut self, start: u64, len: u64, prot_bits: u64) -> Result<TlbFlush, VmError> {
        let result = self.protect_range_uncounted(start, len, prot_bits);
        self.account_objects();
        result
    }

    fn protect_range_uncounted(&mut self, start: u64, len: u64, prot_bits: u64) -> Result<TlbFlush, VmError> {
        let end = Self::check_user_range(start, len)?;
        if prot_bits & !(prot::READ | prot::WRITE | prot::EXEC) != 0
            || prot_bits & (prot::WRITE | prot::EXEC) == prot::WRITE | prot::EXEC
        {
            return Err(VmError::Invalid);
        }
        let mut at = start;
        while at < end {
            let range = self.find(at).ok_or(VmError::NoMemory)?;
            at = range.end;
        }
        self.split_at(start);
        self.split_at(end);
        let starts: alloc::vec::Vec<u64> = self.ranges.range(start..end).map(|(&s, _)| s).collect();
        for s in starts {
            if let Some(r) = self.ranges.get_mut(&s) {
                r.prot = prot_bits;
            }
        }
        // Present pages get the new rights; writable ones stay read-only where they are image frames
        // (copy-on-write survives mprotect), so walk them one by one.
        let mut leaves = alloc::vec::Vec::new();
        let _ = self.table().walk(&READER, start..end, |leaf| {
            let owned = Vmemmap.page(leaf.phys / PAGE_SIZE).owner == PageOwner::User as u8;
            leaves.push((leaf.virt, owned));
            ControlFlow::<()>::Continue(())
        });
        let mut flush = TlbFlush::new();
        let (table, mut mem) = self.split();
        for &(virt, owned) in &leaves {
            // PROT_NONE keeps the frame but maps it supervisor-only (a non-present entry would lose it):
            // every user access then faults, and the range's protection refuses it.
            let flags = if prot_bits == 0 {
                pgtable::kernel_flags(PteFlags::PRESENT | PteFlags::NO_EXECUTE)
            } else {
                pte_flags(prot_bits, owned && prot_bits & prot::WRITE != 0)
            };
            if let Ok(report) = table.protect(&mut mem, virt, PAGE_SIZE, flags) {
                flush.merge(&report.flush);
            }
        }
        Ok(flush)
    }

    fn split_at(&mut self, at: u64) {
        let Some(range) = self.find(at).copied() else { return };
        if range.start == at {
            return;
        }
        let mut low = range;
        low.end = at;
        let mut high = range;
        high.start = at;
        self.ranges.insert(low.start, low);
        self.ranges.insert(high.start, high);
    }

    /// Gives every page, range and table back. The space must not be loaded in CR3.
    pub fn destroy(&mut self) {
        let Some(_) = self.pgtable.as_ref() else { return };
        let _ = self.zap(layout::USER_MIN, layout::USER_END);
        self.ranges.clear();
        let table = self.pgtable.take().expect("checked above");
        self.account_objects();
        let mut mem = UserPtMem { nr_tables: &mut self.nr_tables, group: self.group };
        // The kernel half is shared: clear those entries so `destroy` frees only the user half's tables.
        for index in 256..512 {
            mem.write_entry(table.root(), index, 0);
        }
        table.destroy(&mut mem);
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        self.destroy();
    }
}

fn map_error(e: PgtableError) -> VmError {
    match e {
        PgtableError::OutOfMemory => VmError::NoMemory,
        PgtableError::AlreadyMapped { .. } => VmError::Exists,
        _ => VmError::Invalid,
    }
}

/// A zeroed page for user memory (highmem allowed), charged to `group`, marked as a user page with one
/// reference.
fn alloc_user_page(group: u32) -> Result<u64, FaultError> {
    memcontrol::try_charge(group, 1, StatKind::Anon).map_err(FaultError::GroupOom)?;
    let Some(pfn) = page_alloc::alloc_user_pages_raw(Gfp::GFP_HIGHUSER_MOVABLE | Gfp::__GFP_ZERO, 0) else {
        memcontrol::uncharge(group, 1, StatKind::Anon);
        return Err(FaultError::OutOfMemory);
    };
    let mut map = Vmemmap;
    let page = map.page_mut(pfn);
    page.owner = PageOwner::User as u8;
    page.refcount.store(1, Ordering::Relaxed);
    page.private = u64::from(group);
    ANON_PAGES.fetch_add(1, Ordering::Relaxed);
    Ok(pfn)
}

fn free_user_page(pfn: u64) {
    put_user_page(pfn);
}

/// Drops one reference to a user page; frees it at zero.
fn put_user_page(pfn: u64) {
    let mut map = Vmemmap;
    let page = map.page_mut(pfn);
    // The page allocator owns the last reference (it expects 1 on free): drop ours above it only.
    if page.refcount.load(Ordering::Acquire) > 1 {
        page.refcount.fetch_sub(1, Ordering::AcqRel);
    } else {
        let group = page.private as u32;
        page.owner = PageOwner::KernelAlloc as u8;
        page.private = 0;
        memcontrol::uncharge(group, 1, StatKind::Anon);
        ANON_PAGES.fetch_sub(1, Ordering::Relaxed);
        page_alloc::free_pages_raw(pfn, 0);
    }
}

/// Runs `fill` over the bytes of a user page the caller just allocated.
fn with_user_page(pfn: u64, fill: impl FnOnce(&mut [u8])) {
    // SAFETY: the page was just allocated and is not mapped anywhere else yet.
    unsafe { highmem::with_page_bytes(pfn, fill) };
}

/// Fills PML4 entries 256–511 that the kernel may use later (vmalloc, the ACPI window) with empty
/// tables, so the kernel half copied into each address space is complete for good.
pub fn preallocate_kernel_pml4() -> u64 {
    let (vmalloc_start, vmalloc_end) = super::layout::vmalloc_range();
    let slot = |addr: u64| ((addr >> 39) & 511) as usize;
    let mut count = 0;
    pgtable::with_kernel_pgtable(|table, mem| {
        let root = table.root();
        let mut slots: alloc::vec::Vec<usize> = (slot(vmalloc_start)..=slot(vmalloc_end - 1)).collect();
        slots.push(slot(super::layout::regions::ACPI_WINDOW));
        for index in slots {
            if mem.read_entry(root, index) & 1 == 0
                && let Some(pdpt) = mem.alloc_table()
            {
                // Present, writable, supervisor: the same bits mm_core writes for kernel tables.
                mem.write_entry(root, index, pdpt | 0x3);
                count += 1;
            }
        }
    });
    count
}
