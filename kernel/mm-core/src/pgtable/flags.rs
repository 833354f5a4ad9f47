//! Leaf attributes of a mapping, with the bit positions of the `x86` crate's entry flags (SDM vol. 3A
//! §5.5, tables 5-15 to 5-20).
//!
//! The nine attributes sit at the same bit in a PTE, a 2 MiB PDE and a 1 GiB PDPTE, so one type serves all
//! three page sizes; the constant checks below prove it against `PTFlags`, `PDFlags` and `PDPTFlags`. PS and
//! PAT are not attributes here: PS is the page size, and PAT moves between bit 7 and bit 12 with it.

use core::fmt;
use core::ops::{BitAnd, BitOr, BitOrAssign, Not, Sub};

use x86::bits64::paging::{PDFlags, PDPTFlags, PML4Flags, PTFlags};

/// Attributes of a leaf entry; a set of the `PteFlags::*` constants.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PteFlags(u64);

// Every attribute has the same position at every level (PML4 entries have no D or G).
const _: () = {
    assert!(PTFlags::P.bits() == PDFlags::P.bits() && PDFlags::P.bits() == PDPTFlags::P.bits());
    assert!(PTFlags::RW.bits() == PDFlags::RW.bits() && PDFlags::RW.bits() == PDPTFlags::RW.bits());
    assert!(PTFlags::US.bits() == PDFlags::US.bits() && PDFlags::US.bits() == PDPTFlags::US.bits());
    assert!(PTFlags::PWT.bits() == PDFlags::PWT.bits() && PDFlags::PWT.bits() == PDPTFlags::PWT.bits());
    assert!(PTFlags::PCD.bits() == PDFlags::PCD.bits() && PDFlags::PCD.bits() == PDPTFlags::PCD.bits());
    assert!(PTFlags::A.bits() == PDFlags::A.bits() && PDFlags::A.bits() == PDPTFlags::A.bits());
    assert!(PTFlags::D.bits() == PDFlags::D.bits() && PDFlags::D.bits() == PDPTFlags::D.bits());
    assert!(PTFlags::G.bits() == PDFlags::G.bits() && PDFlags::G.bits() == PDPTFlags::G.bits());
    assert!(PTFlags::XD.bits() == PDFlags::XD.bits() && PDFlags::XD.bits() == PDPTFlags::XD.bits());
    assert!(PML4Flags::P.bits() == PTFlags::P.bits() && PML4Flags::RW.bits() == PTFlags::RW.bits());
    assert!(PML4Flags::US.bits() == PTFlags::US.bits() && PML4Flags::XD.bits() == PTFlags::XD.bits());
    assert!(PDFlags::PS.bits() == PDPTFlags::PS.bits() && PDFlags::PAT.bits() == PDPTFlags::PAT.bits());
};

/// Names in the order `fmt::Debug` prints them.
const NAMES: [(PteFlags, &str); 9] = [
    (PteFlags::PRESENT, "P"),
    (PteFlags::WRITABLE, "RW"),
    (PteFlags::USER, "USR"),
    (PteFlags::WRITE_THROUGH, "PWT"),
    (PteFlags::CACHE_DISABLE, "PCD"),
    (PteFlags::ACCESSED, "A"),
    (PteFlags::DIRTY, "D"),
    (PteFlags::GLOBAL, "GLB"),
    (PteFlags::NO_EXECUTE, "NX"),
];

impl PteFlags {
    pub const PRESENT: Self = Self(PTFlags::P.bits());
    pub const WRITABLE: Self = Self(PTFlags::RW.bits());
    pub const USER: Self = Self(PTFlags::US.bits());
    pub const WRITE_THROUGH: Self = Self(PTFlags::PWT.bits());
    pub const CACHE_DISABLE: Self = Self(PTFlags::PCD.bits());
    pub const ACCESSED: Self = Self(PTFlags::A.bits());
    pub const DIRTY: Self = Self(PTFlags::D.bits());
    pub const GLOBAL: Self = Self(PTFlags::G.bits());
    pub const NO_EXECUTE: Self = Self(PTFlags::XD.bits());
    /// Every attribute.
    pub const ALL: Self = Self(
        Self::PRESENT.0
            | Self::WRITABLE.0
            | Self::USER.0
            | Self::WRITE_THROUGH.0
            | Self::CACHE_DISABLE.0
            | Self::ACCESSED.0
            | Self::DIRTY.0
            | Self::GLOBAL.0
            | Self::NO_EXECUTE.0,
    );

    /// Linux's `PAGE_KERNEL`: kernel data, read-write, not executable, global.
    pub const KERNEL: Self = Self(
        Self::PRESENT.0
            | Self::WRITABLE.0
            | Self::ACCESSED.0
            | Self::DIRTY.0
            | Self::GLOBAL.0
            | Self::NO_EXECUTE.0,
    );
    /// Linux's `PAGE_KERNEL_RO`: read-only kernel data.
    pub const KERNEL_RO: Self =
        Self(Self::PRESENT.0 | Self::ACCESSED.0 | Self::GLOBAL.0 | Self::NO_EXECUTE.0);
    /// Linux's `PAGE_KERNEL_ROX`: kernel text.
    pub const KERNEL_RX: Self = Self(Self::PRESENT.0 | Self::ACCESSED.0 | Self::GLOBAL.0);
    /// Linux's `PAGE_KERNEL_NOCACHE`: device memory (ioremap).
    pub const KERNEL_NOCACHE: Self = Self(Self::KERNEL.0 | Self::CACHE_DISABLE.0 | Self::WRITE_THROUGH.0);
    /// User read-write data, not executable.
    pub const USER_RW: Self = Self(Self::PRESENT.0 | Self::WRITABLE.0 | Self::USER.0 | Self::NO_EXECUTE.0);
    /// User read-only data.
    pub const USER_RO: Self = Self(Self::PRESENT.0 | Self::USER.0 | Self::NO_EXECUTE.0);
    /// User text.
    pub const USER_RX: Self = Self(Self::PRESENT.0 | Self::USER.0);

    pub const fn empty() -> Self {
        Self(0)
    }

    pub const fn bits(self) -> u64 {
        self.0
    }

    /// The flags of these bits, or None if a bit is not an attribute.
    pub const fn from_bits(bits: u64) -> Option<Self> {
        if bits & !Self::ALL.0 == 0 { Some(Self(bits)) } else { None }
    }

    /// The attribute bits of `bits`, ignoring the others (address, PS, PAT, software bits).
    pub const fn from_bits_truncate(bits: u64) -> Self {
        Self(bits & Self::ALL.0)
    }

    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    pub fn insert(&mut self, other: Self) {
        self.0 |= other.0;
    }

    pub fn remove(&mut self, other: Self) {
        self.0 &= !other.0;
    }

    pub fn set(&mut self, other: Self, value: bool) {
        if value {
            self.insert(other);
        } else {
            self.remove(other);
        }
    }

    /// Writable and executable: what W^X forbids.
    pub const fn is_wx(self) -> bool {
        self.contains(Self::WRITABLE) && !self.contains(Self::NO_EXECUTE)
    }

    pub const fn to_pt_flags(self) -> PTFlags {
        PTFlags::from_bits_truncate(self.0)
    }

    pub const fn to_pd_flags(self) -> PDFlags {
        PDFlags::from_bits_truncate(self.0)
    }

    pub const fn to_pdpt_flags(self) -> PDPTFlags {
        PDPTFlags::from_bits_truncate(self.0)
    }

    pub const fn from_pt_flags(flags: PTFlags) -> Self {
        Self::from_bits_truncate(flags.bits())
    }

    pub const fn from_pd_flags(flags: PDFlags) -> Self {
        Self::from_bits_truncate(flags.bits())
    }

    pub const fn from_pdpt_flags(flags: PDPTFlags) -> Self {
        Self::from_bits_truncate(flags.bits())
    }
}

impl BitOr for PteFlags {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

impl BitOrAssign for PteFlags {
    fn bitor_assign(&mut self, other: Self) {
        self.insert(other);
    }
}

impl BitAnd for PteFlags {
    type Output = Self;
    fn bitand(self, other: Self) -> Self {
        self.intersection(other)
    }
}

impl Sub for PteFlags {
    type Output = Self;
    fn sub(self, other: Self) -> Self {
        self.difference(other)
    }
}

impl Not for PteFlags {
    type Output = Self;
    /// The attributes not in `self`.
    fn not(self) -> Self {
        Self(!self.0 & Self::ALL.0)
    }
}

impl fmt::Debug for PteFlags {
    /// `P|RW|NX` style; `(empty)` for none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(empty)");
        }
        let mut first = true;
        for (flag, name) in NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}
