//! 4-level x86-64 page tables over an abstract physical memory (Intel SDM vol. 3A §5.5, "4-level paging").
//!
//! A [`PageTable`] is a PML4 at a physical address plus the tables below it. Every access to a table goes
//! through [`PhysMemory`], so the same code runs in the kernel (tables reached through the direct map,
//! pages from the buddy allocator) and on the host over an emulated memory buffer.
//!
//! Levels are numbered as the SDM walks them: 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT. A leaf is a PTE (4 KiB),
//! a PDE with PS (2 MiB) or a PDPTE with PS (1 GiB); every other present entry points to a table.
//!
//! Invariants, kept by every operation and checked by [`PageTable::check`] in tests:
//! * an entry that points to a table is present and writable, has no NX, PWT or PCD, and has U/S set iff a
//!   user leaf lies somewhere below it — so a leaf's own R/W, U/S and NX decide its access (§5.6);
//! * a large leaf's physical address is aligned to its size; PS is never set in a PML4 entry;
//! * `nr_tables` counts the PML4 and every table reachable from it;
//! * with [`EmptyTables::Free`], an operation that leaves a table without present entries frees it (the
//!   PML4 is never freed). With [`EmptyTables::Keep`] such tables stay, empty, for later reuse.
//!
//! Every mutating operation first checks its arguments and reads the tables it will change ("decode":
//! canonical addresses, alignment, conflicts, the number of table pages it needs), takes all the table
//! pages it needs from [`PhysMemory::alloc_table`] up front, and only then writes ("invoke"). An error
//! therefore leaves the tables exactly as they were, and running out of memory never leaves half a mapping.
//!
//! # TLB contract
//! The module never touches the TLB; it says what the kernel must invalidate. Every mutating operation
//! returns a [`TlbFlush`] that records each present entry it changed or removed:
//! * [`TlbFlush::is_empty`]: nothing to do. Filling entries that were not present needs no flush: the
//!   processor does not cache not-present translations (SDM §5.10.2.3, "Details of TLB use").
//! * otherwise, if not [`TlbFlush::is_full`]: `invlpg` every address of [`TlbFlush::pages`] (at most
//!   [`TLB_FLUSH_CEILING`], Linux's `tlb_single_page_flush_ceiling`). `invlpg` also empties the
//!   paging-structure caches (§5.10.4.1), which covers changed or freed tables.
//! * if full: reload CR3, or, when [`TlbFlush::global`] says a global entry changed, toggle CR4.PGE (a CR3
//!   load keeps global translations, §5.10.4.1).
//!
//! A change to a 2 MiB or 1 GiB leaf (including splitting it) always asks for a full flush, because the
//! processor may hold the page as fractured 4 KiB entries. On SMP the same list goes to the other CPUs
//! that use the tables. [`PhysMemory::free_table`] is called during the operation, before the caller has
//! flushed: an SMP kernel must not reuse a freed table page until every CPU has flushed (defer the free
//! to after the shootdown, as Linux's `mmu_gather` does).

use core::fmt;

mod entry;
mod flags;
mod flush;
mod map;
mod range;
mod reserve;
mod walk;

pub use flags::PteFlags;
pub use flush::{TLB_FLUSH_CEILING, TlbFlush};
pub use map::MapReport;
pub use range::{ChangeReport, Unmapped};
pub use walk::WxReport;

/// Entries in one table page.
pub const ENTRIES_PER_TABLE: usize = 512;

/// Physical addresses are at most 52 bits wide (MAXPHYADDR's architectural limit, SDM §5.1.4).
pub const MAX_PHYS_BITS: u32 = 52;

/// Virtual addresses have 48 significant bits under 4-level paging; bits 63:47 must be equal.
pub const VIRT_BITS: u32 = 48;

/// Physical memory as the page-table code sees it: table pages addressed by physical address.
///
/// The kernel implements it over the direct map and the buddy allocator; host tests over a buffer.
pub trait PhysMemory {
    /// Entry `index` (0..512) of the table page at physical `table`.
    fn read_entry(&self, table: u64, index: usize) -> u64;
    fn write_entry(&mut self, table: u64, index: usize, value: u64);
    /// A zeroed 4 KiB page for a new table; None when out of memory.
    fn alloc_table(&mut self) -> Option<u64>;
    /// Gives back a table page. It may still be in a TLB's paging-structure cache: see the module's
    /// TLB contract before reusing it.
    fn free_table(&mut self, table: u64);
}

/// The three page sizes of 4-level paging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageSize {
    Size4K,
    Size2M,
    Size1G,
}

impl PageSize {
    /// Smallest first.
    pub const ALL: [PageSize; 3] = [PageSize::Size4K, PageSize::Size2M, PageSize::Size1G];

    pub const fn shift(self) -> u32 {
        match self {
            PageSize::Size4K => 12,
            PageSize::Size2M => 21,
            PageSize::Size1G => 30,
        }
    }

    pub const fn bytes(self) -> u64 {
        1 << self.shift()
    }

    /// Position in [`PageSize::ALL`], for per-size counters.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The table level whose entries are leaves of this size.
    pub(crate) const fn level(self) -> u8 {
        self as u8 + 1
    }

    /// The leaf size of a level's entries (levels 1–3).
    pub(crate) const fn of_level(level: u8) -> PageSize {
        match level {
            1 => PageSize::Size4K,
            2 => PageSize::Size2M,
            _ => PageSize::Size1G,
        }
    }
}

impl fmt::Display for PageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PageSize::Size4K => "4K",
            PageSize::Size2M => "2M",
            PageSize::Size1G => "1G",
        })
    }
}

/// Why a page-table operation was refused. Nothing was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PgtableError {
    /// The virtual address is not canonical, or the range wraps or crosses the non-canonical hole.
    NonCanonical(u64),
    /// An address or length is not a multiple of the page size the operation needs.
    Misaligned(u64),
    /// The physical range reaches beyond 2^52.
    PhysOutOfRange(u64),
    /// The length is zero.
    EmptyRange,
    /// A page of `size` is mapped at `virt` where the new mapping would go (or covers part of it).
    AlreadyMapped { virt: u64, size: PageSize },
    /// Nothing is mapped at this address.
    NotMapped(u64),
    /// The address lies inside, but not at the start of, a page of `size` starting at `virt`.
    InsideLargePage { virt: u64, size: PageSize },
    /// The page at this address is 4 KiB and cannot be split.
    NotLargePage(u64),
    /// No page for a page table.
    OutOfMemory,
}

impl fmt::Display for PgtableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NonCanonical(v) => write!(f, "address {v:#x} is not canonical"),
            Self::Misaligned(v) => write!(f, "{v:#x} is not aligned to the page size"),
            Self::PhysOutOfRange(p) => write!(f, "physical address {p:#x} beyond {MAX_PHYS_BITS} bits"),
            Self::EmptyRange => f.write_str("empty range"),
            Self::AlreadyMapped { virt, size } => write!(f, "{size} page already mapped at {virt:#x}"),
            Self::NotMapped(v) => write!(f, "nothing mapped at {v:#x}"),
            Self::InsideLargePage { virt, size } => write!(f, "inside the {size} page at {virt:#x}"),
            Self::NotLargePage(v) => write!(f, "the page at {v:#x} is 4K"),
            Self::OutOfMemory => f.write_str("out of memory for page tables"),
        }
    }
}

/// One leaf mapping: `size` bytes at `virt` (aligned to `size`) translate to `phys`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mapping {
    pub virt: u64,
    pub phys: u64,
    pub size: PageSize,
    /// The leaf entry's own flags (always including PRESENT).
    pub flags: PteFlags,
}

impl Mapping {
    /// Last byte covered (inclusive, so a page at the top of the address space has one).
    pub fn last(&self) -> u64 {
        self.virt + (self.size.bytes() - 1)
    }
}

/// Result of [`PageTable::translate`]: the physical address and the leaf that maps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    pub phys: u64,
    pub leaf: Mapping,
}

/// What to do with a table that an unmap leaves without present entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmptyTables {
    /// Give it back through [`PhysMemory::free_table`] and clear the entry pointing to it.
    Free,
    /// Keep it for later mappings (as Linux keeps the vmalloc area's tables).
    Keep,
}

/// A 4-level page table: a PML4 at physical `root` and the tables below it.
///
/// It holds no reference to the memory; every method takes the [`PhysMemory`] the tables live in. It owns
/// its table pages (hence no `Clone`): [`PageTable::destroy`] gives them back.
#[derive(Debug, PartialEq, Eq)]
pub struct PageTable {
    root: u64,
    nr_tables: u64,
}

impl PageTable {
    /// An empty address space: a new, zeroed PML4.
    pub fn new(mem: &mut impl PhysMemory) -> Result<Self, PgtableError> {
        let root = mem.alloc_table().ok_or(PgtableError::OutOfMemory)?;
        Ok(Self { root, nr_tables: 1 })
    }

    /// Adopts existing tables (the boot page tables, say), counting their pages.
    pub fn from_root(mem: &impl PhysMemory, root: u64) -> Self {
        let mut table = Self { root, nr_tables: 0 };
        table.nr_tables = table.count_tables(mem);
        table
    }

    /// Physical address of the PML4: the value for CR3 (without PCID or flag bits).
    pub fn root(&self) -> u64 {
        self.root
    }

    /// Table pages in use, the PML4 included (Linux's `pgtables_bytes` / 4096).
    pub fn nr_tables(&self) -> u64 {
        self.nr_tables
    }

    /// Frees every table page, the PML4 included, and returns how many. The pages the leaves map are the
    /// caller's: walk them first if they must be freed too.
    pub fn destroy(self, mem: &mut impl PhysMemory) -> u64 {
        walk::free_subtree(mem, self.root, 4)
    }
}

#[cfg(test)]
mod tests;
