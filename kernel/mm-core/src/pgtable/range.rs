//! Changing existing mappings: [`PageTable::protect`], [`PageTable::unmap`], [`PageTable::unmap_range`] and
//! [`PageTable::split`] (Linux's `change_protection`, `unmap_page_range` and `split_large_page`).
//!
//! A range operation visits every leaf that intersects the range. A leaf wholly inside is changed; a
//! 2 MiB or 1 GiB leaf that sticks out of the range is first split into 512 pages of the next smaller size,
//! and those that stick out again are split again. Leaves the operation would not change are never split.
//! Holes are skipped. Only the leaves at the two ends of the range can stick out, so the decode step
//! knows how many tables the splits need by looking at those two leaves.
//!
//! After changing the entries of a table, the entry above it is fixed: freed if the table became empty
//! (with [`EmptyTables::Free`]), and its U/S bit recomputed when a user leaf below changed. An unmap with
//! `Free` also frees the empty tables it passes through that earlier `Keep` unmaps left behind. Tables
//! outside the range are never looked at, and the PML4 is never freed.

use super::entry::{self, Entry, check_range, decode, entry_shift, flat, index, split_piece, table_entry};
use super::reserve::Reserve;
use super::walk::free_subtree;
use super::{
    ENTRIES_PER_TABLE, EmptyTables, Mapping, PageSize, PageTable, PgtableError, PhysMemory, PteFlags,
    TlbFlush,
};

/// What a range operation changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangeReport {
    /// Leaves changed or removed per size, indexed by [`PageSize::index`], counted after splitting.
    pub nr_pages: [u64; 3],
    /// Bytes of the range that were mapped; the rest were holes, which are skipped.
    pub mapped_bytes: u64,
    /// Large pages split.
    pub nr_split: u64,
    /// Table pages allocated for splits, and table pages freed because they became empty.
    pub nr_tables_allocated: u64,
    pub nr_tables_freed: u64,
    pub flush: TlbFlush,
}

impl ChangeReport {
    pub fn pages(&self, size: PageSize) -> u64 {
        self.nr_pages[size.index()]
    }
}

/// What [`PageTable::unmap`] removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmapped {
    pub mapping: Mapping,
    pub nr_tables_freed: u64,
    pub flush: TlbFlush,
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Unmap,
    Protect(PteFlags),
}

impl Action {
    /// The leaf `raw` after the action.
    fn apply(self, raw: u64) -> u64 {
        match self {
            Action::Unmap => 0,
            Action::Protect(flags) => entry::with_flags(raw, flags),
        }
    }
}

/// One range operation over flat `[first, last]`.
#[derive(Clone, Copy, Debug)]
struct Change {
    first: u64,
    last: u64,
    action: Action,
    empty: EmptyTables,
}

/// What changed in one table, for fixing the entry above it.
#[derive(Clone, Copy, Debug, Default)]
struct Touched {
    /// Some entry of the table was written.
    entries: bool,
    /// Some entry that was or is user was written: the table's U/S summary may differ.
    user: bool,
}

/// Tables needed to split the level-`level` leaf at flat `base` until no piece sticks out of
/// `[first, last]`.
fn split_cost(level: u8, base: u64, first: u64, last: u64) -> u64 {
    let leaf_last = base + ((1 << entry_shift(level)) - 1);
    if level == 1 || (first <= base && leaf_last <= last) {
        return 0;
    }
    let piece_mask = !((1u64 << entry_shift(level - 1)) - 1);
    let low_piece = first.max(base) & piece_mask;
    let high_piece = last.min(leaf_last) & piece_mask;
    let mut cost = 1 + split_cost(level - 1, low_piece, first, last);
    if high_piece != low_piece {
        cost += split_cost(level - 1, high_piece, first, last);
    }
    cost
}

/// Applies `change` to the level-`level` table at `table`, which covers flat addresses from `base`.
fn change_table(
    mem: &mut impl PhysMemory,
    table: u64,
    level: u8,
    base: u64,
    change: &Change,
    reserve: &mut Reserve,
    report: &mut ChangeReport,
) -> Result<Touched, PgtableError> {
    let shift = entry_shift(level);
    let table_last = base + ((ENTRIES_PER_TABLE as u64) << shift) - 1;
    let (lo, hi) = (change.first.max(base), change.last.min(table_last));
    let mut touched = Touched::default();
    if lo > hi {
        return Ok(touched);
    }
    for i in ((lo - base) >> shift) as usize..=((hi - base) >> shift) as usize {
        let raw = mem.read_entry(table, i);
        let entry_base = base + ((i as u64) << shift);
        let entry_last = entry_base + ((1 << shift) - 1);
        let child = match decode(raw, level) {
            Entry::None => continue,
            Entry::Table(child) => child,
            Entry::Leaf(_) => {
                let size = PageSize::of_level(level);
                let new = change.action.apply(raw);
                let global = (raw | new) & PteFlags::GLOBAL.bits() != 0;
                if new == raw {
                    report.mapped_bytes += entry_last.min(change.last) - entry_base.max(change.first) + 1;
                    continue;
                }
                if change.first <= entry_base && entry_last <= change.last {
                    mem.write_entry(table, i, new);
                    report.nr_pages[size.index()] += 1;
                    report.mapped_bytes += size.bytes();
                    report.flush.add_leaf(entry::canonical(entry_base), size, global);
                    touched.entries = true;
                    touched.user |= (raw | new) & entry::USER != 0;
                    continue;
                }
                // Sticks out of the range: split, then change the pieces inside.
                let child = reserve.take(mem)?;
                report.nr_tables_allocated += 1;
                for j in 0..ENTRIES_PER_TABLE {
                    mem.write_entry(child, j, split_piece(raw, level, j));
                }
                mem.write_entry(table, i, table_entry(child, raw & entry::USER != 0));
                report.nr_split += 1;
                report.flush.add_leaf(entry::canonical(entry_base), size, global);
                touched.entries = true;
                child
            }
        };
        let below = change_table(mem, child, level - 1, entry_base, change, reserve, report)?;
        // Unmapping with `Free` also reclaims tables in the range that earlier `Keep` unmaps left empty.
        let sweep = matches!(change.action, Action::Unmap) && change.empty == EmptyTables::Free;
        if below.entries || sweep {
            let slot = Slot { table, index: i, level, base: entry_base };
            let fixed = fix_table_entry(mem, slot, child, change.empty, below, report);
            touched.entries |= fixed.entries;
            touched.user |= fixed.user;
        }
    }
    Ok(touched)
}

/// Entry `index` of the level-`level` table at `table`; it covers flat addresses from `base`.
#[derive(Clone, Copy, Debug)]
struct Slot {
    table: u64,
    index: usize,
    level: u8,
    base: u64,
}

/// After the entries of `child` (pointed to by `slot`) changed: frees it if it is empty and the policy
/// says so, or brings the slot's U/S bit in line with the user leaves below.
fn fix_table_entry(
    mem: &mut impl PhysMemory,
    slot: Slot,
    child: u64,
    empty: EmptyTables,
    below: Touched,
    report: &mut ChangeReport,
) -> Touched {
    let raw = mem.read_entry(slot.table, slot.index);
    let was_user = raw & entry::USER != 0;
    let present = (0..ENTRIES_PER_TABLE).any(|j| mem.read_entry(child, j) & entry::PRESENT != 0);
    if !present && empty == EmptyTables::Free {
        mem.write_entry(slot.table, slot.index, 0);
        report.nr_tables_freed += free_subtree(mem, child, slot.level - 1);
        report.flush.add_structure(entry::canonical(slot.base));
        return Touched { entries: true, user: was_user };
    }
    if !below.user {
        return Touched::default();
    }
    let user = (0..ENTRIES_PER_TABLE).any(|j| {
        let e = mem.read_entry(child, j);
        e & entry::PRESENT != 0 && e & entry::USER != 0
    });
    if user == was_user {
        return Touched::default();
    }
    mem.write_entry(slot.table, slot.index, if user { raw | entry::USER } else { raw & !entry::USER });
    report.flush.add_structure(entry::canonical(slot.base));
    Touched { entries: true, user: true }
}

impl PageTable {
    /// Sets the attributes of every page mapped in `[virt, virt + len)` to `flags` (PRESENT implied;
    /// the accessed and dirty bits the hardware set are kept). Large pages that stick out of the range
    /// are split if their attributes change. Holes are skipped: `mapped_bytes` in the report says how
    /// much of the range was mapped.
    pub fn protect(
        &mut self,
        mem: &mut impl PhysMemory,
        virt: u64,
        len: u64,
        flags: PteFlags,
    ) -> Result<ChangeReport, PgtableError> {
        let (first, last) = check_range(virt, len)?;
        let change = Change { first, last, action: Action::Protect(flags), empty: EmptyTables::Keep };
        self.change_range(mem, change)
    }

    /// Unmaps every page in `[virt, virt + len)`, splitting large pages that stick out of the range, and
    /// frees or keeps the tables that become empty. Holes are skipped.
    pub fn unmap_range(
        &mut self,
        mem: &mut impl PhysMemory,
        virt: u64,
        len: u64,
        empty: EmptyTables,
    ) -> Result<ChangeReport, PgtableError> {
        let (first, last) = check_range(virt, len)?;
        self.change_range(mem, Change { first, last, action: Action::Unmap, empty })
    }

    /// Unmaps the page that starts at `virt` and returns what it mapped.
    pub fn unmap(
        &mut self,
        mem: &mut impl PhysMemory,
        virt: u64,
        empty: EmptyTables,
    ) -> Result<Unmapped, PgtableError> {
        if !entry::is_canonical(virt) {
            return Err(PgtableError::NonCanonical(virt));
        }
        if !virt.is_multiple_of(PageSize::Size4K.bytes()) {
            return Err(PgtableError::Misaligned(virt));
        }
        let leaf = self.lookup(mem, virt).ok_or(PgtableError::NotMapped(virt))?;
        if leaf.virt != virt {
            return Err(PgtableError::InsideLargePage { virt: leaf.virt, size: leaf.size });
        }
        let change = Change { first: flat(virt), last: flat(leaf.last()), action: Action::Unmap, empty };
        let report = self.change_range(mem, change)?;
        Ok(Unmapped { mapping: leaf, nr_tables_freed: report.nr_tables_freed, flush: report.flush })
    }

    /// Replaces the 2 MiB or 1 GiB page containing `virt` by a table of 512 pages of the next smaller size
    /// with the same attributes. The flush it returns is full: see the module's TLB contract.
    pub fn split(&mut self, mem: &mut impl PhysMemory, virt: u64) -> Result<TlbFlush, PgtableError> {
        if !entry::is_canonical(virt) {
            return Err(PgtableError::NonCanonical(virt));
        }
        let leaf = self.lookup(mem, virt).ok_or(PgtableError::NotMapped(virt))?;
        if leaf.size == PageSize::Size4K {
            return Err(PgtableError::NotLargePage(virt));
        }
        let child = mem.alloc_table().ok_or(PgtableError::OutOfMemory)?;
        let v = flat(leaf.virt);
        let level = leaf.size.level();
        let mut table = self.root;
        for above in (level + 1..=4).rev() {
            match decode(mem.read_entry(table, index(v, above)), above) {
                Entry::Table(next) => table = next,
                // The lookup found the leaf below these tables.
                Entry::None | Entry::Leaf(_) => {
                    mem.free_table(child);
                    return Err(PgtableError::NotMapped(virt));
                }
            }
        }
        let i = index(v, level);
        let raw = mem.read_entry(table, i);
        for j in 0..ENTRIES_PER_TABLE {
            mem.write_entry(child, j, split_piece(raw, level, j));
        }
        mem.write_entry(table, i, table_entry(child, raw & entry::USER != 0));
        self.nr_tables += 1;
        let mut flush = TlbFlush::new();
        flush.add_leaf(leaf.virt, leaf.size, leaf.flags.contains(PteFlags::GLOBAL));
        Ok(flush)
    }

    /// Tables the splits of `change` need: only the leaves at its two ends can stick out.
    fn plan_splits(&self, mem: &impl PhysMemory, change: &Change) -> u64 {
        let mut cost = 0;
        let mut previous = None;
        for end in [change.first, change.last] {
            let Some(leaf) = self.lookup(mem, entry::canonical(end)) else { continue };
            if previous == Some(leaf.virt) {
                continue;
            }
            previous = Some(leaf.virt);
            let raw = entry::leaf_entry(leaf.size.level(), leaf.phys, leaf.flags);
            if change.action.apply(raw) != raw {
                cost += split_cost(leaf.size.level(), flat(leaf.virt), change.first, change.last);
            }
        }
        cost
    }

    /// Decode (count the tables), reserve them, invoke.
    fn change_range(
        &mut self,
        mem: &mut impl PhysMemory,
        change: Change,
    ) -> Result<ChangeReport, PgtableError> {
        let mut reserve = Reserve::fill(mem, self.plan_splits(mem, &change))?;
        let mut report = ChangeReport::default();
        let result = change_table(mem, self.root, 4, 0, &change, &mut reserve, &mut report);
        reserve.finish(mem);
        self.nr_tables += report.nr_tables_allocated;
        self.nr_tables -= report.nr_tables_freed;
        result.map(|_| report)
    }
}
