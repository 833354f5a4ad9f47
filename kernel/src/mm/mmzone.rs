//! Nodes and zones (Linux's `pg_data_t` and `struct zone`, `include/linux/mmzone.h`; seed 000 §18).
//!
//! Each node has the four zone types; each zone owns a buddy allocator over its frame span, its
//! watermarks and lowmem reserve, per-CPU lists and allocation counters. Zones live in statics and are
//! filled once at boot; their layout then never changes.
//!
//! Lock order: a CPU's pcp lock, then its zone's `free` lock. Never two zone locks at once.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mm_core::buddy::BuddyZone;
use mm_core::numa::MAX_NUMNODES;
use mm_core::pcp::Pcp;
use mm_core::watermark::Watermarks;
use mm_core::zone::{MAX_NR_ZONES, ZoneType};

use crate::sync::{OnceLock, SpinLock};

/// CPUs the per-CPU structures are sized for (one runs today).
pub const NR_CPUS: usize = 8;

/// The index of the CPU running this code.
pub fn current_cpu() -> usize {
    0
}

/// CPUs running (the boot CPU only, until SMP bring-up).
pub fn nr_online_cpus() -> usize {
    1
}

static CPU0_NODE: AtomicU64 = AtomicU64::new(0);

/// The node of the CPU running this code (from the SRAT's CPU affinity, else 0).
pub fn current_node() -> usize {
    CPU0_NODE.load(Ordering::Relaxed) as usize
}

/// Records the boot CPU's node.
pub fn set_boot_cpu_node(node: usize) {
    CPU0_NODE.store(node as u64, Ordering::Relaxed);
}

/// The mutable part of a zone, under its lock.
#[derive(Debug)]
pub struct ZoneFree {
    pub buddy: BuddyZone,
    pub watermarks: Watermarks,
    pub lowmem_reserve: [u64; MAX_NR_ZONES],
}

/// Immutable layout of a zone, set once at boot.
#[derive(Clone, Copy, Debug, Default)]
pub struct ZoneSpan {
    pub start_pfn: u64,
    pub spanned: u64,
    /// Frames with RAM behind them.
    pub present: u64,
}

pub struct Zone {
    pub kind: ZoneType,
    pub span: OnceLock<ZoneSpan>,
    /// Frames handed to the buddy allocator.
    pub managed: AtomicU64,
    /// Pages in the buddy free lists, mirrored from `free` for lock-free watermark checks (Linux's
    /// `NR_FREE_PAGES`).
    pub nr_free: AtomicU64,
    pub free: SpinLock<ZoneFree>,
    pub pcp: [SpinLock<Pcp>; NR_CPUS],
    /// Pages allocated from this zone (`pgalloc_*`).
    pub pgalloc: AtomicU64,
}

impl Zone {
    const fn new(kind: ZoneType) -> Self {
        Zone {
            kind,
            span: OnceLock::new(),
            managed: AtomicU64::new(0),
            nr_free: AtomicU64::new(0),
            free: SpinLock::new(ZoneFree {
                buddy: BuddyZone::new(0, 0),
                watermarks: Watermarks { min: 0, low: 0, high: 0 },
                lowmem_reserve: [0; MAX_NR_ZONES],
            }),
            pcp: [const { SpinLock::new(Pcp::new(0, 1)) }; NR_CPUS],
            pgalloc: AtomicU64::new(0),
        }
    }

    pub fn span(&self) -> ZoneSpan {
        self.span.get().copied().unwrap_or_default()
    }

    /// Whether the zone has RAM (Linux's `populated_zone`).
    pub fn populated(&self) -> bool {
        self.span().present > 0
    }

    pub fn managed(&self) -> u64 {
        self.managed.load(Ordering::Relaxed)
    }
}

/// A reference to a zone in a zonelist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZoneRef {
    pub node: u8,
    pub zone: ZoneType,
}

/// Most entries of a zonelist: every zone of every node.
pub const MAX_ZONELIST: usize = MAX_NUMNODES * MAX_NR_ZONES;

pub struct Node {
    pub online: AtomicBool,
    /// `[start_pfn, end_pfn)` of the node's RAM.
    pub span: OnceLock<(u64, u64)>,
    pub zones: [Zone; MAX_NR_ZONES],
    /// Zones to try, best first: this node's from highest to lowest, then the other nodes' by distance.
    pub zonelist: OnceLock<heapless::Vec<ZoneRef, MAX_ZONELIST>>,
}

impl Node {
    const fn new() -> Self {
        Node {
            online: AtomicBool::new(false),
            span: OnceLock::new(),
            zones: [
                Zone::new(ZoneType::Dma),
                Zone::new(ZoneType::Dma32),
                Zone::new(ZoneType::Normal),
                Zone::new(ZoneType::HighMem),
            ],
            zonelist: OnceLock::new(),
        }
    }

    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }
}

/// All nodes (Linux's `NODE_DATA(nid)`).
pub static NODES: [Node; MAX_NUMNODES] = [const { Node::new() }; MAX_NUMNODES];

pub fn node_data(nid: usize) -> &'static Node {
    &NODES[nid]
}

pub fn zone(zref: ZoneRef) -> &'static Zone {
    &NODES[usize::from(zref.node)].zones[zref.zone as usize]
}

/// Online nodes with their ids.
pub fn online_nodes() -> impl Iterator<Item = (usize, &'static Node)> {
    NODES.iter().enumerate().filter(|(_, n)| n.is_online())
}

static HIGHMEM_CONFIGURED: AtomicBool = AtomicBool::new(false);

/// Makes the HighMem zone type exist (`highmem=`; before the zones are laid out).
pub fn set_highmem_configured() {
    HIGHMEM_CONFIGURED.store(true, Ordering::Relaxed);
}

/// Whether the HighMem zone type exists on this boot (only with a limited direct map, `highmem=`).
pub fn has_highmem() -> bool {
    HIGHMEM_CONFIGURED.load(Ordering::Relaxed)
}

/// Every zone of every online node, populated or not, with its node id (HighMem only when configured,
/// as a 64-bit Linux has no such zone).
pub fn all_zones() -> impl Iterator<Item = (usize, &'static Zone)> {
    let highmem = has_highmem();
    online_nodes().flat_map(move |(nid, node)| {
        node.zones.iter().filter(move |z| highmem || !z.kind.is_highmem()).map(move |z| (nid, z))
    })
}
