//! The page descriptor (Linux's `struct page`), in 32 bytes, and the constants of the page allocator.
//!
//! One descriptor exists for every page frame of every memory section that holds RAM (seed 000 §14, seed
//! 002 "sparsemem"). A descriptor is written by the page's current owner, or — while the page is free — by
//! its zone's allocator under the zone lock; `refcount` and `mapcount` are atomic because later issues share
//! pages between tasks.

use core::sync::atomic::{AtomicU32, Ordering};

pub const PAGE_SHIFT: u32 = 12;
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
/// Number of buddy orders: blocks of 2^0 … 2^10 pages (Linux's `MAX_ORDER` of 11, before 6.4).
pub const MAX_ORDER: usize = 11;
/// Largest order a block can have.
pub const MAX_ORDER_PAGES: u64 = 1 << (MAX_ORDER - 1);
/// A pageblock (2 MiB) owns a migrate type.
pub const PAGEBLOCK_ORDER: u32 = 9;
pub const PAGEBLOCK_NR_PAGES: u64 = 1 << PAGEBLOCK_ORDER;

/// Marker for "no page" in the 32-bit list links.
pub const NO_PFN: u32 = u32::MAX;
/// Page frame numbers must fit the 32-bit links: RAM is used up to 16 TiB.
pub const MAX_PFN: u64 = NO_PFN as u64;

/// Mobility of a page, which decides the free list it comes from (seed 000 §23–§24).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum MigrateType {
    Unmovable = 0,
    Movable = 1,
    Reclaimable = 2,
    /// Reserved for high-order atomic allocations (Linux's `MIGRATE_HIGHATOMIC`); no allocation policy fills
    /// it yet, but it is a real free list and shows up in `/proc/pagetypeinfo`.
    HighAtomic = 3,
}

/// Number of migrate types, i.e. free lists per order.
pub const MIGRATE_TYPES: usize = 4;
/// Types that have per-CPU lists and that a pageblock can fall back between.
pub const MIGRATE_PCPTYPES: usize = 3;

impl MigrateType {
    pub const ALL: [MigrateType; MIGRATE_TYPES] =
        [MigrateType::Unmovable, MigrateType::Movable, MigrateType::Reclaimable, MigrateType::HighAtomic];

    pub fn from_u8(v: u8) -> MigrateType {
        match v {
            0 => MigrateType::Unmovable,
            1 => MigrateType::Movable,
            2 => MigrateType::Reclaimable,
            _ => MigrateType::HighAtomic,
        }
    }

    /// The name `/proc/pagetypeinfo` prints.
    pub fn name(self) -> &'static str {
        match self {
            MigrateType::Unmovable => "Unmovable",
            MigrateType::Movable => "Movable",
            MigrateType::Reclaimable => "Reclaimable",
            MigrateType::HighAtomic => "HighAtomic",
        }
    }

    /// Where an allocation of this type may steal from when its own lists are empty, in order
    /// (Linux's `fallbacks[]`).
    pub fn fallbacks(self) -> &'static [MigrateType] {
        match self {
            MigrateType::Unmovable => &[MigrateType::Reclaimable, MigrateType::Movable],
            MigrateType::Movable => &[MigrateType::Reclaimable, MigrateType::Unmovable],
            MigrateType::Reclaimable => &[MigrateType::Unmovable, MigrateType::Movable],
            MigrateType::HighAtomic => &[],
        }
    }
}

/// Who holds a page frame; the memory picture of later issues colours frames by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PageOwner {
    /// No RAM behind this frame (a hole inside a section), or RAM never given to the allocator.
    Reserved = 0,
    /// In the buddy allocator or on a per-CPU list.
    Free = 1,
    /// The kernel image and boot-time allocations.
    Kernel = 2,
    PageTable = 3,
    Slab = 4,
    Vmalloc = 5,
    User = 6,
    /// Allocated by a kernel caller through the page allocator.
    KernelAlloc = 7,
}

impl PageOwner {
    pub fn from_u8(v: u8) -> PageOwner {
        match v {
            1 => PageOwner::Free,
            2 => PageOwner::Kernel,
            3 => PageOwner::PageTable,
            4 => PageOwner::Slab,
            5 => PageOwner::Vmalloc,
            6 => PageOwner::User,
            7 => PageOwner::KernelAlloc,
            _ => PageOwner::Reserved,
        }
    }
}

/// Page flag bits (`Page::flags`).
pub mod flags {
    /// Head of a free buddy block; `order` is the block's order.
    pub const PG_BUDDY: u16 = 1 << 0;
    /// Not managed by the page allocator (firmware, holes, the kernel image).
    pub const PG_RESERVED: u16 = 1 << 1;
    /// Head of an allocated block of `order` > 0.
    pub const PG_HEAD: u16 = 1 << 2;
    /// On a per-CPU free list.
    pub const PG_PCP: u16 = 1 << 3;
    /// Contents were filled with the poison byte when freed (`page_poison=1`).
    pub const PG_POISONED: u16 = 1 << 4;
}

/// The descriptor of one page frame. 32 bytes (Linux's `struct page` is 64).
#[repr(C)]
#[derive(Debug)]
pub struct Page {
    pub flags: u16,
    /// A [`PageOwner`].
    pub owner: u8,
    /// Buddy order while free (`PG_BUDDY`), allocation order while allocated.
    pub order: u8,
    /// The free or per-CPU list this page heads (a [`MigrateType`]).
    pub migratetype: u8,
    /// Only on the first page of a pageblock: the pageblock's [`MigrateType`].
    pub pageblock_migratetype: u8,
    /// Zone index within the node.
    pub zone: u8,
    pub node: u8,
    pub refcount: AtomicU32,
    pub mapcount: AtomicU32,
    /// List links (page frame numbers, [`NO_PFN`] for none).
    pub next: u32,
    pub prev: u32,
    /// Owner-specific word (slab cache, task, …).
    pub private: u64,
}

const _: () = assert!(size_of::<Page>() == 32);

impl Page {
    /// A reserved page of `node`/`zone`, not on any list.
    pub const fn new_reserved(node: u8, zone: u8) -> Self {
        Page {
            flags: flags::PG_RESERVED,
            owner: PageOwner::Reserved as u8,
            order: 0,
            migratetype: MigrateType::Movable as u8,
            pageblock_migratetype: MigrateType::Movable as u8,
            zone,
            node,
            refcount: AtomicU32::new(1),
            mapcount: AtomicU32::new(0),
            next: NO_PFN,
            prev: NO_PFN,
            private: 0,
        }
    }

    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    pub fn set(&mut self, flag: u16) {
        self.flags |= flag;
    }

    pub fn clear(&mut self, flag: u16) {
        self.flags &= !flag;
    }

    pub fn owner(&self) -> PageOwner {
        PageOwner::from_u8(self.owner)
    }

    pub fn refcount(&self) -> u32 {
        self.refcount.load(Ordering::Relaxed)
    }

    pub fn set_refcount(&self, count: u32) {
        self.refcount.store(count, Ordering::Relaxed);
    }
}

/// Access to the descriptors of a range of page frames, by page frame number.
///
/// The buddy allocator is written against this trait so that the same code runs over the kernel's
/// sparse descriptor sections and over a plain vector in host tests.
pub trait PageMap {
    fn page(&self, pfn: u64) -> &Page;
    fn page_mut(&mut self, pfn: u64) -> &mut Page;
    /// Whether `pfn` has a descriptor at all (sparse memory has holes between sections).
    fn present(&self, _pfn: u64) -> bool {
        true
    }
}

/// A contiguous run of descriptors starting at `base_pfn`: the host tests' (and benchmarks') page map.
pub struct SlicePageMap<'a> {
    pub base_pfn: u64,
    pub pages: &'a mut [Page],
}

impl PageMap for SlicePageMap<'_> {
    fn page(&self, pfn: u64) -> &Page {
        &self.pages[(pfn - self.base_pfn) as usize]
    }

    fn page_mut(&mut self, pfn: u64) -> &mut Page {
        &mut self.pages[(pfn - self.base_pfn) as usize]
    }
}
