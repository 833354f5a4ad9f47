//! The kernel's slab caches (SLUB, seed 000 §33–§37): `kmem_cache_create`, `kmem_cache_alloc/free`,
//! `/proc/slabinfo` (Linux's `mm/slub.c`, `mm/slab_common.c`).
//!
//! The algorithm is `mm_core::slab` (host-tested); here each cache gets its per-CPU object array (a
//! `PerCpuTask`: task context only, no lock, no CLI — the fast path), its per-CPU slab (a `PerCpu`,
//! touched with interrupts off: refills and flushes of the array), per-node partial lists (a spinlock
//! each: the slow path), and the backend that connects it to the buddy allocator and the direct map.
//! Slab pages' descriptors name their cache, so freeing needs only the address. A trap handler that
//! interrupted kernel code (it may have landed inside kmalloc or kfree) goes straight to the per-CPU
//! slab.
//!
//! Lock order: a CPU's object array (task context), then its slab state (interrupts off), then a node's
//! partial-list lock, then the page allocator's locks. Nothing under the array allocates from the same
//! cache or switches tasks.

use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, AtomicU16, AtomicU64, Ordering};

use mm_core::gfp::Gfp;
use mm_core::numa::MAX_NUMNODES;
use mm_core::page::{PAGE_SHIFT, PageMap};
use mm_core::slab::array_cache::{self, ARRAY_CACHE_MAX, ArrayCache};
use mm_core::slab::kmalloc::{KMALLOC_NAMES, KMALLOC_SIZES, kmalloc_align};
use mm_core::slab::slabinfo::{self, SlabinfoRow};
use mm_core::slab::{
    self, CacheError, CacheInfo, CacheSpec, CpuSlab, NodeSlabs, SlabBackend, SlabError, SlabFlags,
};

use super::early;
use super::mmzone::{self, NR_CPUS};
use super::page_alloc;
use super::sparse::{Vmemmap, pfn_valid};
use crate::sync::{OnceLock, PerCpu, PerCpuTask, SpinLock};
use crate::{pr_err, pr_info, random};

/// Most caches (the descriptor stores a 16-bit index; the registry is a fixed table).
pub const MAX_CACHES: usize = 256;

/// A slab cache.
pub struct KmemCache {
    pub info: CacheInfo,
    /// Free objects each CPU keeps (none for `slub_debug` caches).
    array: PerCpuTask<ArrayCache>,
    cpu: PerCpu<CpuSlab>,
    node: [SpinLock<NodeSlabs>; MAX_NUMNODES],
}

static REGISTRY: [AtomicPtr<KmemCache>; MAX_CACHES] =
    [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CACHES];
static NEXT_INDEX: AtomicU16 = AtomicU16::new(0);
/// Pages held by slabs (meminfo's `Slab:`), and reports of damaged objects.
pub static SLAB_PAGES: AtomicU64 = AtomicU64::new(0);
pub static SLAB_REPORTS: AtomicU64 = AtomicU64::new(0);
/// Flags `slub_debug` adds, and the caches it applies to (empty: all).
static DEBUG_FLAGS: AtomicU64 = AtomicU64::new(0);
static DEBUG_ONLY: OnceLock<heapless::Vec<heapless::String<32>, 8>> = OnceLock::new();

/// The kmalloc caches live in static storage: they exist before anything can be allocated.
static KMALLOC: [OnceLock<KmemCache>; KMALLOC_SIZES.len()] = [const { OnceLock::new() }; KMALLOC_SIZES.len()];

/// The slab allocator's view of the kernel: buddy pages, the direct map, raw memory, randomness.
struct KernelBackend;

impl SlabBackend for KernelBackend {
    fn alloc_pages(&mut self, order: usize, _node: usize, reclaimable: bool) -> Option<u64> {
        let mut gfp = Gfp::GFP_KERNEL | Gfp::__GFP_NOWARN;
        if reclaimable {
            gfp = gfp | Gfp::__GFP_RECLAIMABLE;
        }
        let pfn = page_alloc::alloc_pages_raw(gfp, order)?;
        SLAB_PAGES.fetch_add(1 << order, Ordering::Relaxed);
        Some(pfn)
    }

    fn free_pages(&mut self, pfn: u64, order: usize) {
        SLAB_PAGES.fetch_sub(1 << order, Ordering::Relaxed);
        page_alloc::free_pages_raw(pfn, order);
    }

    fn pfn_to_addr(&self, pfn: u64) -> usize {
        early::pfn_to_virt(pfn) as usize
    }

    /// The frame under a direct-map address, if it has a descriptor. No walk of the direct map's RAM
    /// ranges: the slab core reads only the descriptor (mapped for every present section) and accepts
    /// the frame only when that says Slab, which no frame outside the direct map's RAM ever is.
    #[inline]
    fn addr_to_pfn(&self, addr: usize) -> Option<u64> {
        let pfn = (addr as u64).checked_sub(super::layout::page_offset())? >> PAGE_SHIFT;
        pfn_valid(pfn).then_some(pfn)
    }

    fn read_word(&self, addr: usize) -> u64 {
        // SAFETY: the slab core only reads words inside slabs it owns, in the direct map, aligned.
        unsafe { (addr as *const u64).read() }
    }

    fn write_word(&mut self, addr: usize, value: u64) {
        // SAFETY: as `read_word`: free pointers inside the cache's own slabs.
        unsafe { (addr as *mut u64).write(value) }
    }

    fn read_byte(&self, addr: usize) -> u8 {
        // SAFETY: as `read_word`.
        unsafe { (addr as *const u8).read() }
    }

    fn fill(&mut self, addr: usize, len: usize, byte: u8) {
        // SAFETY: poison and red zones of objects of the cache's own slabs.
        unsafe { core::ptr::write_bytes(addr as *mut u8, byte, len) }
    }

    fn find_not(&self, addr: usize, len: usize, byte: u8) -> Option<usize> {
        // SAFETY: as `read_word`.
        unsafe { core::slice::from_raw_parts(addr as *const u8, len) }.iter().position(|&b| b != byte)
    }

    fn random(&mut self) -> u64 {
        random::next_u64()
    }

    fn report(&mut self, cache: &CacheInfo, error: SlabError) {
        report(cache, error);
    }
}

/// Linux's slab error report.
#[cold]
#[inline(never)]
fn report(cache: &CacheInfo, error: SlabError) {
    SLAB_REPORTS.fetch_add(1, Ordering::Relaxed);
    pr_err!("=============================================================================");
    pr_err!("BUG {}: {}", cache.name, error);
    pr_err!("-----------------------------------------------------------------------------");
    pr_err!(
        "INFO: cache {} object size {} slot {} objects/slab {} order {}",
        cache.name,
        cache.layout.object_size,
        cache.layout.size,
        cache.layout.objects,
        cache.layout.order
    );
    crate::arch::x86_64::traps::dump_stack_at(crate::printk::Level::Err);
}

impl KmemCache {
    fn new(info: CacheInfo) -> Self {
        KmemCache {
            array: PerCpuTask::new(ArrayCache::for_cache(&info)),
            info,
            cpu: PerCpu::new([const { UnsafeCell::new(CpuSlab::EMPTY) }; NR_CPUS]),
            node: [const { SpinLock::new(NodeSlabs::EMPTY) }; MAX_NUMNODES],
        }
    }

    /// Allocates an object (Linux's `kmem_cache_alloc`): the top of this CPU's array, else a refill.
    #[inline]
    pub fn alloc(&self, gfp: Gfp) -> Option<NonNull<u8>> {
        let object = self
            .array
            .try_with(|array| match array.pop() {
                Some(object) => Ok(object),
                None => self.refill(array),
            })
            .unwrap_or_else(|| self.alloc_from_slab());
        let object = match object {
            Ok(object) => object,
            Err(error) => return self.alloc_failed(error),
        };
        if gfp.contains(Gfp::__GFP_ZERO) {
            KernelBackend.fill(object, self.info.layout.object_size, 0);
        }
        NonNull::new(object as *mut u8)
    }

    #[cold]
    fn alloc_failed(&self, error: SlabError) -> Option<NonNull<u8>> {
        if error != SlabError::NoMemory {
            report(&self.info, error);
        }
        None
    }

    /// An empty array: one object for the caller and a batch for the array, from the CPU slab.
    #[cold]
    #[inline(never)]
    fn refill(&self, array: &mut ArrayCache) -> Result<usize, SlabError> {
        let info = &self.info;
        self.cpu.with(|cpu| {
            array_cache::refill(array, info, cpu, &mut KernelBackend, |cpu, backend| {
                let nid = mmzone::current_node();
                let mut node = self.node[nid].lock();
                slab::alloc_slow(info, cpu, &mut node, backend, &mut Vmemmap, nid)
            })
        })
    }

    /// Allocation without the array (not task context: a trap handler that interrupted kernel code).
    #[cold]
    #[inline(never)]
    fn alloc_from_slab(&self) -> Result<usize, SlabError> {
        let info = &self.info;
        self.cpu.with(|cpu| {
            if let Some(object) = slab::alloc_fast(info, cpu, &mut KernelBackend) {
                return Ok(object);
            }
            let nid = mmzone::current_node();
            let mut node = self.node[nid].lock();
            slab::alloc_slow(info, cpu, &mut node, &mut KernelBackend, &mut Vmemmap, nid)
        })
    }

    /// Frees an object of this cache (Linux's `kmem_cache_free`); bad pointers and double frees are
    /// reported and ignored.
    pub fn free(&self, ptr: NonNull<u8>) {
        let addr = ptr.as_ptr() as usize;
        match slab::find_slab(&KernelBackend, &Vmemmap, addr) {
            Ok((cache, slab_ref)) => self.free_located(cache, slab_ref, addr),
            Err(error) => report(&self.info, error),
        }
    }

    /// Frees `addr`, found in `slab_ref` of cache `cache` (which must be this one).
    fn free_located(&self, cache: u16, slab_ref: slab::SlabRef, addr: usize) {
        match slab::check_object(&self.info, cache, slab_ref, addr) {
            Ok(()) => self.free_checked(slab_ref, addr),
            Err(error) => report(&self.info, error),
        }
    }

    /// Frees `addr`, found in `slab_ref`, whose descriptor named this cache (`kfree`).
    #[inline]
    fn free_found(&self, slab_ref: slab::SlabRef, addr: usize) {
        match slab::check_slot(&self.info, slab_ref, addr) {
            Ok(()) => self.free_checked(slab_ref, addr),
            Err(error) => report(&self.info, error),
        }
    }

    /// Frees an object known to start a slot of this cache: onto this CPU's array, flushing half of it
    /// first when it is full.
    #[inline]
    fn free_checked(&self, slab_ref: slab::SlabRef, addr: usize) {
        let info = &self.info;
        let result = self
            .array
            .try_with(|array| match array.push(addr) {
                Ok(true) => Ok(()),
                Ok(false) if array.enabled() => {
                    self.flush(array, array.batchcount as usize);
                    array.push(addr).map(|_| ())
                }
                Ok(false) => self.free_to_slab(slab_ref, addr),
                Err(error) => Err(error),
            })
            .unwrap_or_else(|| self.free_to_slab(slab_ref, addr));
        if let Err(error) = result {
            report(info, error);
        }
    }

    /// Gives the `count` oldest objects of this CPU's array back to their slabs.
    #[cold]
    #[inline(never)]
    fn flush(&self, array: &mut ArrayCache, count: usize) {
        let info = &self.info;
        self.cpu.with(|cpu| {
            array_cache::flush(
                array,
                count,
                info,
                cpu,
                &mut KernelBackend,
                &mut Vmemmap,
                |backend, map, slab_ref, object| {
                    let nid = usize::from(map.page(slab_ref.head).node);
                    slab::free_to_node(info, &mut self.node[nid].lock(), backend, map, slab_ref, object)
                },
            );
        });
    }

    /// Frees without the array (a `slub_debug` cache, or not task context).
    #[cold]
    #[inline(never)]
    fn free_to_slab(&self, slab_ref: slab::SlabRef, addr: usize) -> Result<(), SlabError> {
        let info = &self.info;
        self.cpu.with(|cpu| match slab::free_to_cpu(info, cpu, &mut KernelBackend, slab_ref, addr) {
            Ok(true) => Ok(()),
            Ok(false) => {
                let nid = usize::from(Vmemmap.page(slab_ref.head).node);
                let mut node = self.node[nid].lock();
                slab::free_to_node(info, &mut node, &mut KernelBackend, &mut Vmemmap, slab_ref, addr)
            }
            Err(error) => Err(error),
        })
    }

    /// Objects in this CPU's array (`None` outside task context).
    pub fn cpu_array_objects(&self) -> Option<u32> {
        self.array.try_with(|array| array.avail)
    }

    /// Gives every object of this CPU's array back to its slab (what a full array does with half of
    /// it).
    pub fn flush_cpu_array(&self) {
        self.array.try_with(|array| self.flush(array, ARRAY_CACHE_MAX));
    }

    /// Returns this CPU's array and active slab to the node and every empty partial slab to the buddy
    /// allocator (Linux's `kmem_cache_shrink`); returns the slabs freed.
    pub fn shrink(&self) -> u64 {
        let info = &self.info;
        self.flush_cpu_array();
        self.cpu.with(|cpu| {
            if let Some(head) = cpu.slab {
                let nid = usize::from(Vmemmap.page(head).node);
                slab::flush_cpu(info, cpu, &mut self.node[nid].lock(), &mut KernelBackend, &mut Vmemmap);
            }
        });
        self.node
            .iter()
            .map(|node| slab::shrink(info, &mut node.lock(), &mut KernelBackend, &mut Vmemmap))
            .sum()
    }

    /// The cache's `/proc/slabinfo` figures. Objects in this CPU's array and on its slab's free list
    /// count as free (not active).
    fn row(&self) -> (u64, u64, u64) {
        let info = &self.info;
        let in_array = self.array.try_with(|array| u64::from(array.avail)).unwrap_or(0);
        let cpu_free = self.cpu.with(|cpu| slab::cpu_free_objects(info, cpu, &KernelBackend, &Vmemmap));
        let (mut total, mut slabs, mut free) = (0, 0, cpu_free + in_array);
        for node in &self.node {
            let node = node.lock();
            total += node.total_objects;
            slabs += node.nr_slabs;
            free += slab::node_free_objects(&node, &Vmemmap);
        }
        (total - free.min(total), total, slabs)
    }
}

fn debug_flags_for(name: &str) -> SlabFlags {
    let flags = SlabFlags(DEBUG_FLAGS.load(Ordering::Relaxed) as u32);
    match DEBUG_ONLY.get() {
        Some(only) if !only.is_empty() && !only.iter().any(|n| n.as_str() == name) => SlabFlags::default(),
        _ => flags,
    }
}

fn register(cache: &'static KmemCache) {
    REGISTRY[usize::from(cache.info.index)]
        .store(cache as *const KmemCache as *mut KmemCache, Ordering::Release);
}

fn next_index() -> Result<u16, CacheError> {
    let index = NEXT_INDEX.fetch_add(1, Ordering::Relaxed);
    if usize::from(index) >= MAX_CACHES {
        return Err(CacheError::TooLarge);
    }
    Ok(index)
}

/// The cache with registry index `index`.
pub fn cache_by_index(index: u16) -> Option<&'static KmemCache> {
    let ptr = REGISTRY.get(usize::from(index))?.load(Ordering::Acquire);
    // SAFETY: registered caches are `'static` (static storage or leaked) and never removed.
    (!ptr.is_null()).then(|| unsafe { &*ptr })
}

/// Creates a cache (Linux's `kmem_cache_create`): objects of `size` bytes aligned to `align`, with
/// `ctor` run on each object when its slab is made. The cache lives for the rest of the run.
pub fn kmem_cache_create(
    name: &str,
    size: usize,
    align: usize,
    flags: SlabFlags,
    ctor: Option<fn(usize)>,
) -> Result<&'static KmemCache, CacheError> {
    let index = next_index()?;
    let flags = flags.union(debug_flags_for(name));
    let spec = CacheSpec { name, object_size: size, align, flags, ctor };
    let info = CacheInfo::new(&spec, index, random::next_u64(), mmzone::nr_online_cpus())?;
    let cache: &'static KmemCache = alloc::boxed::Box::leak(alloc::boxed::Box::new(KmemCache::new(info)));
    register(cache);
    Ok(cache)
}

/// The kmalloc cache of class `index`.
pub fn kmalloc_cache(index: usize) -> Option<&'static KmemCache> {
    KMALLOC.get(index)?.get()
}

/// Frees an object of any cache by address (what `kfree` does for slab memory).
#[inline]
pub fn free_slab_object(addr: usize) -> Result<(), SlabError> {
    let (cache_index, slab_ref) = slab::find_slab(&KernelBackend, &Vmemmap, addr)?;
    let cache = cache_by_index(cache_index).ok_or(SlabError::NotSlabObject { addr })?;
    cache.free_found(slab_ref, addr);
    Ok(())
}

/// The object size of the slab object at `addr` (for `ksize`).
pub fn slab_object_size(addr: usize) -> Option<usize> {
    let (cache_index, _) = slab::find_slab(&KernelBackend, &Vmemmap, addr).ok()?;
    cache_by_index(cache_index).map(|c| c.info.layout.object_size)
}

/// `(start, usable bytes)` of the slab object containing `addr`, for the hardened user-copy check (Linux's
/// `__check_heap_object`): a copy must stay inside one object.
pub fn slab_object_bounds(addr: usize) -> Option<(usize, usize)> {
    let (cache_index, slab_ref) = slab::find_slab(&KernelBackend, &Vmemmap, addr).ok()?;
    let layout = &cache_by_index(cache_index)?.info.layout;
    let offset = addr - slab_ref.base;
    if offset >= layout.span {
        return None;
    }
    let start = offset - offset % layout.size;
    Some((slab_ref.base + start, layout.object_size))
}

/// Parses `slub_debug[=FZP][,cache...]`: F consistency checks, Z red zones, P poison (U, T and A are
/// accepted and ignored, as they need object tracking this kernel does not have).
pub fn set_debug(option: &str) {
    let (letters, caches) = option.split_once(',').unwrap_or((option, ""));
    let mut flags = SlabFlags::default();
    if letters.is_empty() {
        flags = SlabFlags::DEBUG;
    }
    for c in letters.chars() {
        flags = flags.union(match c.to_ascii_uppercase() {
            'F' => SlabFlags::CONSISTENCY_CHECKS,
            'Z' => SlabFlags::RED_ZONE,
            'P' => SlabFlags::POISON,
            _ => SlabFlags::default(),
        });
    }
    DEBUG_FLAGS.store(u64::from(flags.0), Ordering::Relaxed);
    let mut only = heapless::Vec::new();
    for name in caches.split(',').filter(|n| !n.is_empty()) {
        let mut s = heapless::String::new();
        let _ = s.push_str(name);
        let _ = only.push(s);
    }
    let _ = DEBUG_ONLY.set(only);
}

/// Creates the kmalloc caches (Linux's `kmem_cache_init` + `create_kmalloc_caches`).
pub fn kmem_cache_init() {
    for (i, (&size, name)) in KMALLOC_SIZES.iter().zip(KMALLOC_NAMES).enumerate() {
        let flags = debug_flags_for(name);
        let spec = CacheSpec { name, object_size: size, align: kmalloc_align(i), flags, ctor: None };
        let info = next_index()
            .and_then(|index| CacheInfo::new(&spec, index, random::next_u64(), mmzone::nr_online_cpus()));
        match info {
            Ok(info) => {
                if let Ok(cache) = KMALLOC[i].set(KmemCache::new(info)) {
                    register(cache);
                }
            }
            Err(err) => pr_err!("SLUB: cannot create {name}: {err}"),
        }
    }
    let debug = SlabFlags(DEBUG_FLAGS.load(Ordering::Relaxed) as u32);
    pr_info!(
        "SLUB: HWalign={}, Order=0-{}, MinObjects=0, CPUs={}, Nodes={}",
        slab::layout::CACHE_LINE,
        slab::layout::SLUB_MAX_ORDER,
        mmzone::nr_online_cpus(),
        super::numa::nr_nodes()
    );
    if debug != SlabFlags::default() {
        pr_info!(
            "SLUB: slub_debug on:{}{}{} for {}",
            if debug.contains(SlabFlags::CONSISTENCY_CHECKS) { " consistency checks" } else { "" },
            if debug.contains(SlabFlags::RED_ZONE) { " red zones" } else { "" },
            if debug.contains(SlabFlags::POISON) { " poisoning" } else { "" },
            if DEBUG_ONLY.get().is_some_and(|o| !o.is_empty()) { "the named caches" } else { "all caches" }
        );
    }
}

/// Every registered cache, in creation order.
pub fn caches() -> impl Iterator<Item = &'static KmemCache> {
    (0..NEXT_INDEX.load(Ordering::Relaxed).min(MAX_CACHES as u16)).filter_map(cache_by_index)
}

/// `/proc/slabinfo`.
pub fn slabinfo(w: &mut impl core::fmt::Write) -> core::fmt::Result {
    slabinfo::header(w)?;
    for cache in caches() {
        let (active, total, slabs) = cache.row();
        slabinfo::row(
            w,
            &SlabinfoRow {
                name: &cache.info.name,
                active_objs: active,
                num_objs: total,
                objsize: cache.info.layout.size,
                objperslab: cache.info.layout.objects,
                pagesperslab: 1 << cache.info.layout.order,
                num_slabs: slabs,
            },
        )?;
    }
    Ok(())
}
