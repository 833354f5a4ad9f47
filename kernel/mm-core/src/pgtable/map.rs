//! Creating mappings: [`PageTable::map`] of one page and [`PageTable::map_range`] with the largest pages
//! the alignment allows (how the direct map is built, seed 000 §8).
//!
//! A range is cut greedily from its start: at each step the largest size (up to `max_size`) to which both
//! the virtual and the physical address are aligned and that still fits. For a range whose virtual and
//! physical addresses agree modulo 1 GiB this gives 4 KiB pages up to the first 2 MiB boundary, 2 MiB pages
//! up to the first 1 GiB boundary, 1 GiB pages, then 2 MiB and 4 KiB pages for the tail: the fewest pages.
//!
//! Mapping never replaces a present leaf. A large page may replace a table only if nothing is mapped
//! below it (tables kept empty by [`EmptyTables::Keep`](super::EmptyTables::Keep)); those tables are freed.

use super::entry::{self, Entry, check_range, decode, entry_shift, index, leaf_entry, table_entry};
use super::reserve::Reserve;
use super::walk::{first_leaf, free_subtree};
use super::{MAX_PHYS_BITS, PageSize, PageTable, PgtableError, PhysMemory, PteFlags, TlbFlush};

/// What [`PageTable::map_range`] created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapReport {
    /// New leaves per size, indexed by [`PageSize::index`].
    pub nr_pages: [u64; 3],
    /// Table pages allocated, and table pages freed because a large page replaced an empty table.
    pub nr_tables_allocated: u64,
    pub nr_tables_freed: u64,
    /// Usually empty (new entries need no flush); see the module's TLB contract.
    pub flush: TlbFlush,
}

impl MapReport {
    pub fn pages(&self, size: PageSize) -> u64 {
        self.nr_pages[size.index()]
    }
}

/// The pieces `[virt, virt + len)` → `[phys, …)` is cut into, in address order (flat addresses).
fn pieces(virt: u64, phys: u64, len: u64, max_size: PageSize) -> impl Iterator<Item = (u64, u64, PageSize)> {
    let mut offset = 0;
    core::iter::from_fn(move || {
        if offset >= len {
            return None;
        }
        let size = PageSize::ALL.into_iter().rev().find(|size| {
            let bytes = size.bytes();
            *size <= max_size
                && (virt + offset).is_multiple_of(bytes)
                && (phys + offset).is_multiple_of(bytes)
                && len - offset >= bytes
        })?;
        let piece = (virt + offset, phys + offset, size);
        offset += size.bytes();
        Some(piece)
    })
}

/// Tables a plan will create, remembered so that pieces sharing a new table count it once.
struct NewTables {
    /// For each level, the flat address range key of the last table counted (its base >> its span).
    last: [Option<u64>; 5],
    count: u64,
}

impl PageTable {
    /// Maps one page of `size` at `virt` to `phys`. Both must be aligned to `size`. PRESENT is implied.
    pub fn map(
        &mut self,
        mem: &mut impl PhysMemory,
        virt: u64,
        phys: u64,
        size: PageSize,
        flags: PteFlags,
    ) -> Result<TlbFlush, PgtableError> {
        for address in [virt, phys] {
            if !address.is_multiple_of(size.bytes()) {
                return Err(PgtableError::Misaligned(address));
            }
        }
        Ok(self.map_range(mem, virt, phys, size.bytes(), flags, size)?.flush)
    }

    /// Maps `[virt, virt + len)` to `[phys, phys + len)` with pages no larger than `max_size`, each as large
    /// as the alignment of both addresses allows. Addresses and `len` must be multiples of 4 KiB.
    /// Nothing may be mapped in the range yet. Pass `Size1G` only when CPUID.80000001H:EDX.Page1GB says
    /// the processor has 1 GiB pages (QEMU's default `qemu64` model does not).
    pub fn map_range(
        &mut self,
        mem: &mut impl PhysMemory,
        virt: u64,
        phys: u64,
        len: u64,
        flags: PteFlags,
        max_size: PageSize,
    ) -> Result<MapReport, PgtableError> {
        let (first, _) = check_range(virt, len)?;
        if !phys.is_multiple_of(PageSize::Size4K.bytes()) {
            return Err(PgtableError::Misaligned(phys));
        }
        match phys.checked_add(len - 1) {
            Some(last) if last >> MAX_PHYS_BITS == 0 => {}
            _ => return Err(PgtableError::PhysOutOfRange(phys)),
        }
        let flags = flags | PteFlags::PRESENT;

        // Decode: find conflicts and count the tables to create, writing nothing.
        let mut new = NewTables { last: [None; 5], count: 0 };
        for (v, _, size) in pieces(first, phys, len, max_size) {
            self.plan_piece(mem, v, size, &mut new)?;
        }
        let mut reserve = Reserve::fill(mem, new.count)?;

        // Invoke: cannot fail any more.
        let mut report = MapReport::default();
        let mut result = Ok(());
        for (v, p, size) in pieces(first, phys, len, max_size) {
            result = self.map_piece(mem, v, p, size, flags, &mut reserve, &mut report);
            if result.is_err() {
                break;
            }
            report.nr_pages[size.index()] += 1;
        }
        reserve.finish(mem);
        self.nr_tables += report.nr_tables_allocated;
        self.nr_tables -= report.nr_tables_freed;
        result.map(|()| report)
    }

    /// Checks that a page of `size` can go at flat `v` and counts the tables it needs beyond those
    /// already counted.
    fn plan_piece(
        &self,
        mem: &impl PhysMemory,
        v: u64,
        size: PageSize,
        new: &mut NewTables,
    ) -> Result<(), PgtableError> {
        let target = size.level();
        // None once the walk has gone below the existing tables.
        let mut table = Some(self.root);
        for level in (target..=4).rev() {
            let raw = table.map_or(0, |t| mem.read_entry(t, index(v, level)));
            let entry_base = v & !((1 << entry_shift(level)) - 1);
            match decode(raw, level) {
                Entry::Leaf(_) => {
                    let size = PageSize::of_level(level);
                    return Err(PgtableError::AlreadyMapped { virt: entry::canonical(entry_base), size });
                }
                Entry::Table(child) if level == target => {
                    // A large page over a table: allowed only if nothing below is mapped.
                    if let Some(leaf) = first_leaf(mem, child, level - 1, entry_base) {
                        return Err(PgtableError::AlreadyMapped { virt: leaf.virt, size: leaf.size });
                    }
                }
                Entry::Table(child) => table = Some(child),
                Entry::None if level == target => {}
                Entry::None => {
                    // The table for this entry will be created; pieces below the same entry share it.
                    let key = entry_base >> entry_shift(level);
                    let child_level = level as usize - 1;
                    if new.last[child_level] != Some(key) {
                        new.last[child_level] = Some(key);
                        new.count += 1;
                    }
                    table = None;
                }
            }
        }
        Ok(())
    }

    /// Writes the leaf for one planned piece, creating tables from `reserve`.
    #[expect(clippy::too_many_arguments, reason = "one piece of map_range's invoke step")]
    fn map_piece(
        &mut self,
        mem: &mut impl PhysMemory,
        v: u64,
        phys: u64,
        size: PageSize,
        flags: PteFlags,
        reserve: &mut Reserve,
        report: &mut MapReport,
    ) -> Result<(), PgtableError> {
        let target = size.level();
        let user = flags.contains(PteFlags::USER);
        let canonical = entry::canonical(v);
        let mut table = self.root;
        for level in (target + 1..=4).rev() {
            let i = index(v, level);
            let raw = mem.read_entry(table, i);
            table = match decode(raw, level) {
                Entry::Table(child) => {
                    if user && raw & entry::USER == 0 {
                        mem.write_entry(table, i, raw | entry::USER);
                        report.flush.add_structure(canonical);
                    }
                    child
                }
                // The plan found no leaf on the way.
                Entry::None | Entry::Leaf(_) => {
                    let child = reserve.take(mem)?;
                    report.nr_tables_allocated += 1;
                    mem.write_entry(table, i, table_entry(child, user));
                    child
                }
            };
        }
        let i = index(v, target);
        if let Entry::Table(child) = decode(mem.read_entry(table, i), target) {
            // An empty table where the large page goes (checked by the plan).
            mem.write_entry(table, i, 0);
            report.nr_tables_freed += free_subtree(mem, child, target - 1);
            report.flush.add_structure(canonical);
        }
        mem.write_entry(table, i, leaf_entry(target, phys, flags));
        Ok(())
    }
}
