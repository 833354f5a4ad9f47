//! Entry formats and address arithmetic of 4-level paging (SDM vol. 3A §5.5, tables 5-15 to 5-20).
//!
//! Addresses inside the module are "flat": the low 48 bits of a canonical address, so the upper half
//! `0xffff_8000_0000_0000..` becomes `0x8000_0000_0000..` and flat order equals canonical order. The
//! public API speaks canonical addresses; [`flat`] and [`canonical`] convert at the boundary.

use x86::bits64::paging::{PDFlags, PTFlags};

use super::{ENTRIES_PER_TABLE, MAX_PHYS_BITS, PageSize, PgtableError, PteFlags, VIRT_BITS};

pub(crate) const PRESENT: u64 = PTFlags::P.bits();
pub(crate) const WRITABLE: u64 = PTFlags::RW.bits();
pub(crate) const USER: u64 = PTFlags::US.bits();
pub(crate) const NO_EXECUTE: u64 = PTFlags::XD.bits();
/// Page size, in PDEs and PDPTEs.
pub(crate) const HUGE: u64 = PDFlags::PS.bits();
/// PAT index bit of a PTE (bit 7, where larger leaves have PS).
const PAT_4K: u64 = 1 << 7;
/// PAT index bit of a 2 MiB or 1 GiB leaf.
const PAT_LARGE: u64 = PDFlags::PAT.bits();
/// Bits an operation leaves alone and a split copies: software-available bits 9–11 and 52–58, and the
/// protection key in 59–62.
const CARRIED: u64 = (0b111 << 9) | (0x7ff << 52);
/// Physical address bits of an entry that points to a table or to a 4 KiB page.
pub(crate) const ADDR_4K: u64 = ((1 << MAX_PHYS_BITS) - 1) & !0xfff;
/// Flat addresses: 48 bits.
pub(crate) const FLAT_MASK: u64 = (1 << VIRT_BITS) - 1;

/// Bytes one entry of a level-`level` table covers: 4K, 2M, 1G, 512G.
pub(crate) const fn entry_shift(level: u8) -> u32 {
    12 + 9 * (level as u32 - 1)
}

/// Index of the entry that covers flat address `v` in a level-`level` table.
pub(crate) const fn index(v: u64, level: u8) -> usize {
    ((v >> entry_shift(level)) as usize) & (ENTRIES_PER_TABLE - 1)
}

/// Whether bits 63:47 of `v` are all equal.
pub(crate) const fn is_canonical(v: u64) -> bool {
    let top = (v as i64) >> (VIRT_BITS - 1);
    top == 0 || top == -1
}

/// The flat form of a canonical address.
pub(crate) const fn flat(v: u64) -> u64 {
    v & FLAT_MASK
}

/// The canonical form of a flat address (sign extension of bit 47).
pub(crate) const fn canonical(v: u64) -> u64 {
    (((v << (64 - VIRT_BITS)) as i64) >> (64 - VIRT_BITS)) as u64
}

/// Checks `[virt, virt + len)` for a mapping operation at 4 KiB granularity and returns its flat
/// inclusive bounds. The range must be canonical and lie in one half.
pub(crate) fn check_range(virt: u64, len: u64) -> Result<(u64, u64), PgtableError> {
    if len == 0 {
        return Err(PgtableError::EmptyRange);
    }
    if !virt.is_multiple_of(PageSize::Size4K.bytes()) {
        return Err(PgtableError::Misaligned(virt));
    }
    if !len.is_multiple_of(PageSize::Size4K.bytes()) {
        return Err(PgtableError::Misaligned(len));
    }
    let last = virt.checked_add(len - 1).ok_or(PgtableError::NonCanonical(virt))?;
    if !is_canonical(virt) {
        return Err(PgtableError::NonCanonical(virt));
    }
    // The upper half ends at 2^64 (a range past it wrapped above), so only a lower-half range can run
    // into the hole; report the hole's first address.
    if !is_canonical(last) || (virt as i64 >= 0) != (last as i64 >= 0) {
        return Err(PgtableError::NonCanonical(1 << (VIRT_BITS - 1)));
    }
    Ok((flat(virt), flat(last)))
}

/// A decoded entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    None,
    /// Points to the table at this physical address.
    Table(u64),
    /// Maps a page of the level's size at this physical address.
    Leaf(u64),
}

/// What a raw entry of a level-`level` table is. A PML4 entry is always a table (PS is reserved there).
pub(crate) fn decode(raw: u64, level: u8) -> Entry {
    if raw & PRESENT == 0 {
        Entry::None
    } else if level == 1 {
        Entry::Leaf(raw & ADDR_4K)
    } else if level == 4 || raw & HUGE == 0 {
        Entry::Table(raw & ADDR_4K)
    } else {
        Entry::Leaf(raw & ADDR_4K & !(PageSize::of_level(level).bytes() - 1))
    }
}

/// An entry pointing to a table: present, writable, executable, user iff `user`.
pub(crate) fn table_entry(table: u64, user: bool) -> u64 {
    table | PRESENT | WRITABLE | if user { USER } else { 0 }
}

/// A leaf of level `level` for a new mapping.
pub(crate) fn leaf_entry(level: u8, phys: u64, flags: PteFlags) -> u64 {
    phys | flags.bits() | PRESENT | if level > 1 { HUGE } else { 0 }
}

/// The attributes of a leaf entry.
pub(crate) fn leaf_flags(raw: u64) -> PteFlags {
    PteFlags::from_bits_truncate(raw)
}

/// A leaf with its attributes replaced by `flags`, keeping its address, size, PAT, carried bits and the
/// hardware-set accessed and dirty bits (as Linux's `pte_modify` keeps them).
pub(crate) fn with_flags(raw: u64, flags: PteFlags) -> u64 {
    let kept = PteFlags::ACCESSED | PteFlags::DIRTY;
    let attributes = flags | PteFlags::PRESENT | (leaf_flags(raw) & kept);
    (raw & !PteFlags::ALL.bits()) | attributes.bits()
}

/// Entry `i` of the table that replaces leaf `raw` of level `level` (2 or 3) when it is split: the same
/// attributes, PAT and carried bits for the `i`-th piece of the next smaller size.
pub(crate) fn split_piece(raw: u64, level: u8, i: usize) -> u64 {
    let phys = match decode(raw, level) {
        Entry::Leaf(phys) => phys,
        _ => 0,
    };
    let child = level - 1;
    let piece = phys + i as u64 * PageSize::of_level(child).bytes();
    let pat = raw & PAT_LARGE != 0;
    let pat_bit = match (pat, child) {
        (false, _) => 0,
        (true, 1) => PAT_4K,
        (true, _) => PAT_LARGE,
    };
    leaf_entry(child, piece, leaf_flags(raw)) | (raw & CARRIED) | pat_bit
}

/// Effective access rights down a walk (§5.6): writable only if every level allows it, user only if every
/// level allows it, executable only if no level forbids it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rights {
    pub writable: bool,
    pub user: bool,
    pub no_execute: bool,
}

impl Rights {
    pub const ALL: Rights = Rights { writable: true, user: true, no_execute: false };

    pub fn through(self, raw: u64) -> Rights {
        Rights {
            writable: self.writable && raw & WRITABLE != 0,
            user: self.user && raw & USER != 0,
            no_execute: self.no_execute || raw & NO_EXECUTE != 0,
        }
    }
}
