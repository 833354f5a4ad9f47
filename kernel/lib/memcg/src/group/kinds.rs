//! What is counted per group: the `memory.events` events, the `memory.stat` memory kinds and the
//! `memory.stat` VM event counters, each with its Linux name.

/// A `memory.events` entry (Linux `enum memcg_memory_event`, without the swap events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// Reclaimed although under `memory.low` (raised by the caller's reclaim).
    Low,
    /// Over `memory.high` and throttled (raised by [`Groups::raise_high_events`](super::Groups)).
    High,
    /// A charge hit `memory.max` (raised by `try_charge`).
    Max,
    /// Reached `memory.max` and reclaim failed: OOM (raised by the caller before killing).
    Oom,
    /// A task of this group was killed by the OOM killer.
    OomKill,
    /// The group was killed as a whole because of `memory.oom.group`.
    OomGroupKill,
}

impl Event {
    /// Number of events.
    pub const COUNT: usize = 6;
    /// All events in `memory.events` order.
    pub const ALL: [Event; Event::COUNT] =
        [Event::Low, Event::High, Event::Max, Event::Oom, Event::OomKill, Event::OomGroupKill];

    /// The key in `memory.events`.
    pub const fn name(self) -> &'static str {
        match self {
            Event::Low => "low",
            Event::High => "high",
            Event::Max => "max",
            Event::Oom => "oom",
            Event::OomKill => "oom_kill",
            Event::OomGroupKill => "oom_group_kill",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// What a charge pays for; every kind counts towards `memory.current`.
///
/// `memory.stat` shows them as Linux does: `file` includes `shmem`; `kernel` is the sum of
/// [`Kernel`](StatKind::Kernel) (other kernel memory), kernel stacks, page tables, per-CPU, vmalloc
/// and slab; `slab` is reclaimable + unreclaimable slab. `sock` is not kernel memory (as in Linux).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatKind {
    /// Anonymous user pages (`anon`).
    Anon,
    /// Page cache (`file`, without shmem).
    File,
    /// Shared memory / tmpfs (`shmem`, also part of `file`).
    Shmem,
    /// Other kernel memory charged to the group.
    Kernel,
    /// Kernel stacks of the group's tasks (`kernel_stack`).
    KernelStack,
    /// Page-table pages (`pagetables`).
    PageTables,
    /// Per-CPU allocations (`percpu`).
    Percpu,
    /// Network buffers (`sock`).
    Sock,
    /// vmalloc'ed kernel memory (`vmalloc`).
    Vmalloc,
    /// Reclaimable slab (`slab_reclaimable`).
    SlabReclaimable,
    /// Unreclaimable slab (`slab_unreclaimable`).
    SlabUnreclaimable,
}

impl StatKind {
    /// Number of kinds.
    pub const COUNT: usize = 11;
    /// All kinds.
    pub const ALL: [StatKind; StatKind::COUNT] = [
        StatKind::Anon,
        StatKind::File,
        StatKind::Shmem,
        StatKind::Kernel,
        StatKind::KernelStack,
        StatKind::PageTables,
        StatKind::Percpu,
        StatKind::Sock,
        StatKind::Vmalloc,
        StatKind::SlabReclaimable,
        StatKind::SlabUnreclaimable,
    ];

    /// Whether Linux counts this kind in `memory.stat`'s `kernel` line (`MEMCG_KMEM`).
    pub const fn is_kernel(self) -> bool {
        !matches!(self, StatKind::Anon | StatKind::File | StatKind::Shmem | StatKind::Sock)
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

/// A VM event counter shown in `memory.stat` (Linux `memcg_vm_event_stat`, without `pgpgin`/`pgpgout`,
/// zswap and THP events), counted hierarchically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VmEvent {
    PgscanKswapd,
    PgscanDirect,
    PgscanKhugepaged,
    PgstealKswapd,
    PgstealDirect,
    PgstealKhugepaged,
    /// Page faults (`pgfault`).
    PgFault,
    /// Faults that needed I/O (`pgmajfault`).
    PgMajFault,
    PgRefill,
    PgActivate,
    PgDeactivate,
    PgLazyFree,
    PgLazyFreed,
}

impl VmEvent {
    /// Number of counters.
    pub const COUNT: usize = 13;
    /// All counters in `memory.stat` order.
    pub const ALL: [VmEvent; VmEvent::COUNT] = [
        VmEvent::PgscanKswapd,
        VmEvent::PgscanDirect,
        VmEvent::PgscanKhugepaged,
        VmEvent::PgstealKswapd,
        VmEvent::PgstealDirect,
        VmEvent::PgstealKhugepaged,
        VmEvent::PgFault,
        VmEvent::PgMajFault,
        VmEvent::PgRefill,
        VmEvent::PgActivate,
        VmEvent::PgDeactivate,
        VmEvent::PgLazyFree,
        VmEvent::PgLazyFreed,
    ];

    /// The key in `memory.stat` (Linux `vm_event_name`).
    pub const fn name(self) -> &'static str {
        match self {
            VmEvent::PgscanKswapd => "pgscan_kswapd",
            VmEvent::PgscanDirect => "pgscan_direct",
            VmEvent::PgscanKhugepaged => "pgscan_khugepaged",
            VmEvent::PgstealKswapd => "pgsteal_kswapd",
            VmEvent::PgstealDirect => "pgsteal_direct",
            VmEvent::PgstealKhugepaged => "pgsteal_khugepaged",
            VmEvent::PgFault => "pgfault",
            VmEvent::PgMajFault => "pgmajfault",
            VmEvent::PgRefill => "pgrefill",
            VmEvent::PgActivate => "pgactivate",
            VmEvent::PgDeactivate => "pgdeactivate",
            VmEvent::PgLazyFree => "pglazyfree",
            VmEvent::PgLazyFreed => "pglazyfreed",
        }
    }

    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

const _: () = assert!(Event::ALL.len() == Event::OomGroupKill as usize + 1);
const _: () = assert!(StatKind::ALL.len() == StatKind::SlabUnreclaimable as usize + 1);
const _: () = assert!(VmEvent::ALL.len() == VmEvent::PgLazyFreed as usize + 1);
