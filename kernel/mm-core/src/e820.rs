//! The E820 physical memory map: a fixed-capacity table of typed ranges and its sanitizer.
//!
//! The firmware (BIOS int 0x15/E820, or UEFI through GRUB) hands over a list of `(address, size, type)`
//! ranges that may be unsorted, overlapping, zero-sized or adjacent with equal types (seed 000 §1, §5).
//! [`E820Table::sanitize`] turns any such list into the canonical form the rest of the kernel relies on:
//!
//! * entries are sorted by address and never overlap;
//! * where the input overlapped, each byte keeps the *highest-priority* type that claimed it. As in Linux's
//!   `e820__update_table`, the higher type number wins, except that `usable` (1) loses to every other type,
//!   so memory claimed by anything else is never handed out as RAM;
//! * neighbours of one type are merged (except the persistent-memory types, which Linux keeps apart);
//! * empty entries are gone.
//!
//! Ranges are half-open `[addr, addr + size)`; printing uses Linux's inclusive end. An entry whose end would
//! pass 2^64 cannot be represented and is rejected. The table never panics on bad input: every problem is
//! either corrected (and counted in a [`SanitizeReport`]) or rejected with an [`E820Error`].

use core::fmt;

/// Capacity of the table, as Linux's `E820_MAX_ENTRIES_ZEROPAGE`.
pub const E820_MAX_ENTRIES: usize = 128;

/// An E820 (and multiboot2 memory-map) range type. The numbering is the ACPI/E820 one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct E820Type(pub u32);

impl E820Type {
    /// RAM the OS may use.
    pub const USABLE: Self = Self(1);
    /// Reserved by the firmware or chipset.
    pub const RESERVED: Self = Self(2);
    /// ACPI tables; reclaimable once they have been read.
    pub const ACPI: Self = Self(3);
    /// ACPI non-volatile storage; must be preserved across sleep.
    pub const NVS: Self = Self(4);
    /// RAM reported as defective.
    pub const UNUSABLE: Self = Self(5);
    /// Persistent memory (ACPI 6).
    pub const PMEM: Self = Self(7);
    /// Legacy persistent memory, as Linux calls type 12.
    pub const PRAM: Self = Self(12);
    /// EFI "specific purpose" memory, as Linux's `E820_TYPE_SOFT_RESERVED`.
    pub const SOFT_RESERVED: Self = Self(0xefff_ffff);

    /// Priority used when entries overlap: the higher wins. `usable` is the lowest of all types.
    pub fn priority(self) -> u64 {
        if self == Self::USABLE { 0 } else { u64::from(self.0) + 1 }
    }

    /// Whether neighbouring entries of this type may be merged (Linux keeps persistent-memory ranges apart,
    /// since each may be a distinct device).
    pub fn mergeable(self) -> bool {
        self != Self::PMEM && self != Self::PRAM
    }
}

impl fmt::Display for E820Type {
    /// The type names of Linux's `e820_print_type`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::USABLE => f.write_str("usable"),
            Self::RESERVED => f.write_str("reserved"),
            Self::SOFT_RESERVED => f.write_str("soft reserved"),
            Self::ACPI => f.write_str("ACPI data"),
            Self::NVS => f.write_str("ACPI NVS"),
            Self::UNUSABLE => f.write_str("unusable"),
            Self::PMEM | Self::PRAM => write!(f, "persistent (type {})", self.0),
            Self(other) => write!(f, "type {other}"),
        }
    }
}

/// One range of the map: `[addr, addr + size)` of type `typ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct E820Entry {
    pub addr: u64,
    pub size: u64,
    pub typ: E820Type,
}

impl E820Entry {
    /// Exclusive end. Entries inside a table never wrap, so this cannot overflow for them.
    pub fn end(&self) -> u64 {
        self.addr + self.size
    }
}

impl fmt::Display for E820Entry {
    /// `[mem 0x%016x-0x%016x] type`, with the inclusive end Linux prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[mem {:#018x}-{:#018x}] {}", self.addr, self.end() - 1, self.typ)
    }
}

/// Why an entry was not taken into the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum E820Error {
    /// The entry has size 0.
    ZeroLength,
    /// `addr + size` passes 2^64.
    Wraps,
    /// The table is full even after sanitizing it to make room.
    TableFull,
}

impl fmt::Display for E820Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ZeroLength => "zero-length entry",
            Self::Wraps => "range wraps past the end of the 64-bit address space",
            Self::TableFull => "table full",
        })
    }
}

/// What [`E820Table::sanitize`] had to correct.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SanitizeReport {
    /// The input was not sorted by address.
    pub unsorted: bool,
    /// Number of places where two or more entries overlapped.
    pub overlaps: usize,
    /// Number of entries before and after (merging adjacent same-type entries shrinks the table).
    pub entries_in: usize,
    pub entries_out: usize,
    /// Number of zero-length entries dropped.
    pub empty_dropped: usize,
    /// Entries beyond the table's capacity that could not be kept (highest addresses first lost).
    pub truncated: usize,
}

impl SanitizeReport {
    /// Whether the table changed at all.
    pub fn changed(&self) -> bool {
        self.unsorted
            || self.overlaps > 0
            || self.empty_dropped > 0
            || self.truncated > 0
            || self.entries_in != self.entries_out
    }
}

/// A sanitized-on-demand E820 table of at most [`E820_MAX_ENTRIES`] entries.
#[derive(Clone, Debug, Default)]
pub struct E820Table {
    entries: heapless::Vec<E820Entry, E820_MAX_ENTRIES>,
}

impl E820Table {
    pub const fn new() -> Self {
        Self { entries: heapless::Vec::new() }
    }

    pub fn entries(&self) -> &[E820Entry] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Appends a raw entry. Zero-length and wrapping entries are refused; when the table is full it is
    /// sanitized (which merges and drops entries) and the append retried once.
    pub fn append(&mut self, addr: u64, size: u64, typ: E820Type) -> Result<(), E820Error> {
        if size == 0 {
            return Err(E820Error::ZeroLength);
        }
        if addr.checked_add(size).is_none() {
            return Err(E820Error::Wraps);
        }
        let entry = E820Entry { addr, size, typ };
        if self.entries.push(entry).is_ok() {
            return Ok(());
        }
        self.sanitize();
        self.entries.push(entry).map_err(|_| E820Error::TableFull)
    }

    /// Sum of the sizes of all entries of type `typ` (meaningful on a sanitized table).
    pub fn total(&self, typ: E820Type) -> u64 {
        self.entries.iter().filter(|e| e.typ == typ).map(|e| e.size).sum()
    }

    /// Type of the byte at `addr`, if any entry covers it (sanitized table: at most one does).
    pub fn type_at(&self, addr: u64) -> Option<E820Type> {
        self.entries.iter().find(|e| e.addr <= addr && addr < e.end()).map(|e| e.typ)
    }

    /// Brings the table into canonical form (see the module documentation) and reports what it corrected.
    ///
    /// The method sweeps the sorted set of all entry boundaries; between two consecutive boundaries the
    /// covering entry of highest priority decides the type. This is O(boundaries × entries), which for 128
    /// entries is a few tens of thousands of steps, run a handful of times at boot.
    pub fn sanitize(&mut self) -> SanitizeReport {
        let mut report = SanitizeReport {
            unsorted: self.entries.windows(2).any(|w| w[0].addr > w[1].addr),
            ..SanitizeReport::default()
        };
        report.entries_in = self.entries.len();
        self.entries.retain(|e| e.size > 0);
        report.empty_dropped = report.entries_in - self.entries.len();

        let mut bounds: heapless::Vec<u64, { 2 * E820_MAX_ENTRIES }> = heapless::Vec::new();
        for e in &self.entries {
            // Two boundaries per entry always fit: the bound vector has twice the table's capacity.
            let _ = bounds.push(e.addr);
            let _ = bounds.push(e.end());
        }
        bounds.sort_unstable();
        dedup_sorted(&mut bounds);

        let mut out: heapless::Vec<E820Entry, { 2 * E820_MAX_ENTRIES }> = heapless::Vec::new();
        for pair in bounds.windows(2) {
            let (lo, hi) = (pair[0], pair[1]);
            let mut covering = self.entries.iter().filter(|e| e.addr <= lo && hi <= e.end());
            let Some(first) = covering.next() else { continue };
            let mut best = first.typ;
            let mut claims = 1;
            for e in covering {
                claims += 1;
                if e.typ.priority() > best.priority() {
                    best = e.typ;
                }
            }
            if claims > 1 {
                report.overlaps += 1;
            }
            if let Some(last) = out.last_mut()
                && last.end() == lo
                && last.typ == best
                && best.mergeable()
            {
                last.size += hi - lo;
                continue;
            }
            // At most 2 × capacity − 1 elementary pieces exist, so this push cannot fail.
            let _ = out.push(E820Entry { addr: lo, size: hi - lo, typ: best });
        }

        self.entries.clear();
        for e in out.iter() {
            if self.entries.push(*e).is_err() {
                report.truncated += 1;
            }
        }
        report.entries_out = self.entries.len();
        report
    }

    /// Removes the bytes of `[addr, addr + size)` from entries of type `only` (or of any type when `None`),
    /// as Linux's `e820__range_remove`. Splitting an entry in two needs a free slot; if there is none even
    /// after sanitizing, the call fails and changes nothing.
    pub fn remove_range(&mut self, addr: u64, size: u64, only: Option<E820Type>) -> Result<(), E820Error> {
        let end = addr.saturating_add(size);
        if addr >= end {
            return Ok(());
        }
        let matches = |e: &E820Entry| only.is_none_or(|t| t == e.typ);
        let splits = self.entries.iter().filter(|e| matches(e) && e.addr < addr && e.end() > end).count();
        if self.entries.len() + splits > E820_MAX_ENTRIES {
            self.sanitize();
            if self.entries.len() + splits > E820_MAX_ENTRIES {
                return Err(E820Error::TableFull);
            }
        }
        let mut i = 0;
        while i < self.entries.len() {
            let e = self.entries[i];
            if !matches(&e) || e.end() <= addr || e.addr >= end {
                i += 1;
                continue;
            }
            let left = (e.addr < addr).then(|| E820Entry { addr: e.addr, size: addr - e.addr, typ: e.typ });
            let right = (e.end() > end).then(|| E820Entry { addr: end, size: e.end() - end, typ: e.typ });
            match (left, right) {
                (Some(l), Some(r)) => {
                    self.entries[i] = l;
                    // Capacity for the split was checked above.
                    let _ = self.entries.insert(i + 1, r);
                    i += 2;
                }
                (Some(piece), None) | (None, Some(piece)) => {
                    self.entries[i] = piece;
                    i += 1;
                }
                (None, None) => {
                    self.entries.remove(i);
                }
            }
        }
        Ok(())
    }

    /// Caps usable RAM at `limit` bytes of physical address space (the `mem=` option): usable ranges at or
    /// above `limit` are removed; other types stay, as in Linux.
    pub fn limit_usable(&mut self, limit: u64) -> Result<(), E820Error> {
        self.remove_range(limit, u64::MAX - limit, Some(E820Type::USABLE))
    }
}

/// The E820 type of a UEFI memory descriptor type (UEFI spec §7.2, `EFI_MEMORY_TYPE`), as Linux's
/// `efi_memmap` conversion does after ExitBootServices: loader and boot-services memory is free RAM again.
pub fn e820_type_from_efi(efi_type: u32) -> E820Type {
    match efi_type {
        // LoaderCode, LoaderData, BootServicesCode, BootServicesData, ConventionalMemory
        1 | 2 | 3 | 4 | 7 => E820Type::USABLE,
        8 => E820Type::UNUSABLE,
        9 => E820Type::ACPI,
        10 => E820Type::NVS,
        14 => E820Type::PMEM,
        // Reserved, RuntimeServicesCode/Data, MMIO, MMIOPortSpace, PalCode, and anything newer
        _ => E820Type::RESERVED,
    }
}

fn dedup_sorted<const N: usize>(v: &mut heapless::Vec<u64, N>) {
    let mut write = 0;
    for read in 0..v.len() {
        if write == 0 || v[read] != v[write - 1] {
            v[write] = v[read];
            write += 1;
        }
    }
    v.truncate(write);
}

#[cfg(test)]
mod tests;
