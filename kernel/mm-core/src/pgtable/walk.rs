//! Reading the tables: [`PageTable::translate`], the leaf walk in address order, the W+X check (as Linux's
//! `ptdump` check_wx), table counting and the invariant check.
//!
//! The walk visits tables in index order, which is address order: PML4 entries 0–255 are the lower half,
//! 256–511 the upper half, and the non-canonical hole between them has no entries.

use core::ops::{Bound, ControlFlow, RangeBounds};

use super::entry::{
    self, ADDR_4K, Entry, FLAT_MASK, HUGE, NO_EXECUTE, Rights, USER, WRITABLE, decode, entry_shift, flat,
    is_canonical,
};
use super::{
    ENTRIES_PER_TABLE, Mapping, PageSize, PageTable, PgtableError, PhysMemory, PteFlags, Translation,
};

/// Result of [`PageTable::check_wx`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WxReport {
    /// 4 KiB pages of the range that are writable and executable (a 2 MiB page counts 512).
    pub nr_pages: u64,
    /// The lowest such address.
    pub first: Option<u64>,
}

/// The flat inclusive bounds of the canonical part of `range`, if any.
fn flat_bounds(range: impl RangeBounds<u64>) -> Option<(u64, u64)> {
    const LOWER_LAST: u64 = FLAT_MASK >> 1;
    const UPPER_FIRST: u64 = !LOWER_LAST;
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let last = match range.end_bound() {
        Bound::Included(&e) => e,
        Bound::Excluded(&e) => e.checked_sub(1)?,
        Bound::Unbounded => u64::MAX,
    };
    // Clip the non-canonical hole away.
    let start = if is_canonical(start) { start } else { start.max(UPPER_FIRST) };
    let last = if is_canonical(last) { last } else { last.min(LOWER_LAST) };
    (start <= last).then(|| (flat(start), flat(last)))
}

/// Visits the leaves of the level-`level` table at `table` (covering flat addresses from `base`) that
/// intersect flat `[first, last]`, in address order, with the access rights down to each leaf.
pub(crate) fn walk_table<B>(
    mem: &impl PhysMemory,
    table: u64,
    level: u8,
    base: u64,
    (first, last): (u64, u64),
    rights: Rights,
    visit: &mut impl FnMut(Mapping, Rights) -> ControlFlow<B>,
) -> ControlFlow<B> {
    let shift = entry_shift(level);
    let table_last = base + ((ENTRIES_PER_TABLE as u64) << shift) - 1;
    let (lo, hi) = (first.max(base), last.min(table_last));
    if lo > hi {
        return ControlFlow::Continue(());
    }
    for i in ((lo - base) >> shift) as usize..=((hi - base) >> shift) as usize {
        let raw = mem.read_entry(table, i);
        let entry_base = base + ((i as u64) << shift);
        match decode(raw, level) {
            Entry::None => {}
            Entry::Table(child) => {
                walk_table(mem, child, level - 1, entry_base, (first, last), rights.through(raw), visit)?;
            }
            Entry::Leaf(phys) => {
                let size = PageSize::of_level(level);
                let flags = entry::leaf_flags(raw);
                let leaf = Mapping { virt: entry::canonical(entry_base), phys, size, flags };
                visit(leaf, rights.through(raw))?;
            }
        }
    }
    ControlFlow::Continue(())
}

/// The first leaf below the level-`level` table at `table`, whose flat base is `base`.
pub(crate) fn first_leaf(mem: &impl PhysMemory, table: u64, level: u8, base: u64) -> Option<Mapping> {
    let all = (0, FLAT_MASK);
    match walk_table(mem, table, level, base, all, Rights::ALL, &mut |leaf, _| ControlFlow::Break(leaf)) {
        ControlFlow::Break(leaf) => Some(leaf),
        ControlFlow::Continue(()) => None,
    }
}

/// Frees the level-`level` table at `table` and every table below it; returns how many.
pub(crate) fn free_subtree(mem: &mut impl PhysMemory, table: u64, level: u8) -> u64 {
    let mut freed = 1;
    if level > 1 {
        for i in 0..ENTRIES_PER_TABLE {
            if let Entry::Table(child) = decode(mem.read_entry(table, i), level) {
                freed += free_subtree(mem, child, level - 1);
            }
        }
    }
    mem.free_table(table);
    freed
}

fn count_subtree(mem: &impl PhysMemory, table: u64, level: u8) -> u64 {
    let mut count = 1;
    if level > 1 {
        for i in 0..ENTRIES_PER_TABLE {
            if let Entry::Table(child) = decode(mem.read_entry(table, i), level) {
                count += count_subtree(mem, child, level - 1);
            }
        }
    }
    count
}

/// Checks the invariants below one table; returns whether a user leaf lies below.
fn check_subtree(mem: &impl PhysMemory, table: u64, level: u8) -> Result<bool, &'static str> {
    let mut user = false;
    for i in 0..ENTRIES_PER_TABLE {
        let raw = mem.read_entry(table, i);
        match decode(raw, level) {
            Entry::None => {}
            Entry::Table(child) => {
                if level == 4 && raw & HUGE != 0 {
                    return Err("PS set in a PML4 entry");
                }
                let cache_bits = (PteFlags::WRITE_THROUGH | PteFlags::CACHE_DISABLE).bits();
                if raw & WRITABLE == 0 || raw & NO_EXECUTE != 0 || raw & cache_bits != 0 {
                    return Err("a table entry is read-only, NX or not write-back");
                }
                let below = check_subtree(mem, child, level - 1)?;
                if below != (raw & USER != 0) {
                    return Err("a table entry's U/S differs from whether a user leaf lies below");
                }
                user |= below;
            }
            Entry::Leaf(_) => {
                let size = PageSize::of_level(level).bytes();
                // Address bits below the page size must be zero, except PAT (bit 12) in large leaves.
                if level > 1 && raw & ADDR_4K & (size - 1) & !(1 << 12) != 0 {
                    return Err("a large leaf's address is not aligned to its size");
                }
                user |= raw & USER != 0;
            }
        }
    }
    Ok(user)
}

impl PageTable {
    /// The leaf that maps canonical `virt`, if any.
    pub(crate) fn lookup(&self, mem: &impl PhysMemory, virt: u64) -> Option<Mapping> {
        let v = flat(virt);
        match walk_table(mem, self.root, 4, 0, (v, v), Rights::ALL, &mut |leaf, _| ControlFlow::Break(leaf)) {
            ControlFlow::Break(leaf) => Some(leaf),
            ControlFlow::Continue(()) => None,
        }
    }

    /// The physical address of the last-level table (of 4 KiB PTEs) that covers `virt`, if the walk down
    /// to it finds tables all the way (none missing, no large page on the way). Code that maps pages in a
    /// fixed window without allocating, as the fixmap and kmap slots do, pre-creates this table and then
    /// writes its entries directly (Linux's `kmap_pte`).
    pub fn pte_table(&self, mem: &impl PhysMemory, virt: u64) -> Option<u64> {
        if !is_canonical(virt) {
            return None;
        }
        let v = flat(virt);
        let mut table = self.root;
        for level in (2..=4).rev() {
            match decode(mem.read_entry(table, entry::index(v, level)), level) {
                Entry::Table(next) => table = next,
                Entry::None | Entry::Leaf(_) => return None,
            }
        }
        Some(table)
    }

    /// The physical address `virt` translates to, and the leaf that maps it.
    pub fn translate(&self, mem: &impl PhysMemory, virt: u64) -> Result<Translation, PgtableError> {
        if !is_canonical(virt) {
            return Err(PgtableError::NonCanonical(virt));
        }
        let leaf = self.lookup(mem, virt).ok_or(PgtableError::NotMapped(virt))?;
        Ok(Translation { phys: leaf.phys + (virt - leaf.virt), leaf })
    }

    /// Calls `visitor` for every leaf that intersects `range`, in address order, with the whole leaf (whose
    /// `virt` may lie before the range's start). The non-canonical part of `range` is skipped, so `..`
    /// walks everything. Stops at the first `Break` and returns it.
    pub fn walk<B>(
        &self,
        mem: &impl PhysMemory,
        range: impl RangeBounds<u64>,
        mut visitor: impl FnMut(Mapping) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let Some(bounds) = flat_bounds(range) else { return ControlFlow::Continue(()) };
        walk_table(mem, self.root, 4, 0, bounds, Rights::ALL, &mut |leaf, _| visitor(leaf))
    }

    /// Counts the 4 KiB pages of `range` that are writable and executable, taking the rights of every
    /// level into account (a read-only or NX table entry protects everything below it).
    pub fn check_wx(&self, mem: &impl PhysMemory, range: impl RangeBounds<u64>) -> WxReport {
        let mut report = WxReport::default();
        let Some((first, last)) = flat_bounds(range) else { return report };
        let _ = walk_table(mem, self.root, 4, 0, (first, last), Rights::ALL, &mut |leaf, rights| {
            if rights.writable && !rights.no_execute {
                let lo = flat(leaf.virt).max(first);
                let hi = flat(leaf.last()).min(last);
                report.nr_pages += ((hi - lo) >> PageSize::Size4K.shift()) + 1;
                report.first.get_or_insert(entry::canonical(lo));
            }
            ControlFlow::<()>::Continue(())
        });
        report
    }

    /// Counts the table pages by walking them (the PML4 included); equals [`PageTable::nr_tables`].
    pub fn count_tables(&self, mem: &impl PhysMemory) -> u64 {
        count_subtree(mem, self.root, 4)
    }

    /// Checks the module's invariants over all tables; for tests and debugging (it reads every table).
    pub fn check(&self, mem: &impl PhysMemory) -> Result<(), &'static str> {
        check_subtree(mem, self.root, 4)?;
        if self.count_tables(mem) != self.nr_tables {
            return Err("nr_tables differs from the tables reachable from the root");
        }
        Ok(())
    }
}
