//! The slab allocator, SLUB design (seed 000 §33–§38; Linux's `mm/slub.c`).
//!
//! A cache hands out objects of one size carved from slabs — buddy blocks of 2^order pages. Each CPU
//! owns one active ("frozen") slab and a private free list of its objects: allocating pops that list and
//! freeing an object of the active slab pushes it, with interrupts off and no lock (the kernel's part).
//! When the list is empty the CPU takes the objects other contexts freed into the slab meanwhile, else a
//! partially used slab from its node's partial list (under the node lock), else a new slab. Objects of
//! other slabs go back to their slab's own free list; a full slab that gets a free object joins the
//! partial list, and an empty one returns to the buddy allocator once the node keeps `min_partial`
//! partial slabs.
//!
//! In front of all this, each CPU keeps a small array of free objects per cache (`array_cache.rs`):
//! kmalloc and kfree pop and push plain pointers there, and only an empty or full array comes down to
//! the free lists above, a batch of objects at a time.
//!
//! Slab state lives in the first page's descriptor (the kernel looks it up from any object address, so
//! `kfree` needs no size): `owner` = Slab, `order` and the cache index (low 16 bits of `private`) on
//! every page, and on the first page `private` = cache index | in-use objects << 16 | objects << 32 |
//! frozen << 48 and `mapcount` = free list head (offset + 1, 0 for none). Partial slabs are linked through the descriptors' list links.
//!
//! Hardening: free pointers are obfuscated and checked before use (`freelist.rs`), new slabs hand out
//! their objects in random order, freeing the object that heads the free list is a double free; with
//! `slub_debug`, red zones and poison catch overflows, writes after free and double frees (`debug.rs`).
//! Every problem is reported through [`SlabBackend::report`] and the damaged free list is abandoned
//! rather than followed.

pub mod array_cache;
pub mod debug;
pub mod freelist;
pub mod kmalloc;
pub mod layout;
pub mod slabinfo;

use core::fmt;

use crate::list::PageList;
use crate::page::{PageMap, PageOwner};
pub use layout::{CacheError, Layout, SlabFlags};

/// What the slab allocator needs from its surroundings: pages from the buddy allocator, the direct map,
/// memory access, randomness and a place for reports. The kernel implements it over raw pointers;
/// host tests and benchmarks over an arena.
pub trait SlabBackend {
    /// 2^`order` contiguous pages for a new slab, preferably on `node`; the first frame.
    fn alloc_pages(&mut self, order: usize, node: usize, reclaimable: bool) -> Option<u64>;
    fn free_pages(&mut self, pfn: u64, order: usize);
    /// Address of a frame's memory and back.
    fn pfn_to_addr(&self, pfn: u64) -> usize;
    fn addr_to_pfn(&self, addr: usize) -> Option<u64>;
    fn read_word(&self, addr: usize) -> u64;
    fn write_word(&mut self, addr: usize, value: u64);
    fn read_byte(&self, addr: usize) -> u8;
    fn fill(&mut self, addr: usize, len: usize, byte: u8);
    /// Offset of the first byte in `[addr, addr + len)` that is not `byte`.
    fn find_not(&self, addr: usize, len: usize, byte: u8) -> Option<usize>;
    fn random(&mut self) -> u64;
    /// A problem was found (the kernel prints it with the cache's name).
    fn report(&mut self, cache: &CacheInfo, error: SlabError);
}

/// A problem with a slab object or a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlabError {
    NoMemory,
    /// The address is not inside a slab.
    NotSlabObject {
        addr: usize,
    },
    /// The object belongs to another cache.
    WrongCache {
        addr: usize,
        cache: u16,
    },
    /// The address is inside a slab but not at the start of an object.
    InvalidPointer {
        addr: usize,
    },
    DoubleFree {
        object: usize,
    },
    /// A free pointer decoded to something outside its slab.
    FreelistCorrupt {
        object: usize,
        value: usize,
    },
    RedzoneOverwritten {
        object: usize,
        damage: debug::Damage,
    },
    PoisonOverwritten {
        object: usize,
        damage: debug::Damage,
    },
}

impl fmt::Display for SlabError {
    /// The headline of Linux's slab reports (`BUG <cache>: <this>`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SlabError::NoMemory => f.write_str("Out of memory"),
            SlabError::NotSlabObject { addr } => {
                write!(f, "Invalid object pointer {addr:#x}: not a slab object")
            }
            SlabError::WrongCache { addr, cache } => {
                write!(f, "Wrong slab cache for {addr:#x} (object of cache #{cache})")
            }
            SlabError::InvalidPointer { addr } => {
                write!(f, "Invalid object pointer {addr:#x}: not at an object start")
            }
            SlabError::DoubleFree { object } => write!(f, "Object already free: {object:#x}"),
            SlabError::FreelistCorrupt { object, value } => {
                write!(f, "Freepointer corrupt: object {object:#x} points to {value:#x}, list abandoned")
            }
            SlabError::RedzoneOverwritten { object, damage } => write!(
                f,
                "Redzone overwritten: object {object:#x} offset {:#x} found {:#04x} expected {:#04x}",
                damage.offset, damage.found, damage.expected
            ),
            SlabError::PoisonOverwritten { object, damage } => write!(
                f,
                "Poison overwritten: object {object:#x} offset {:#x} found {:#04x} expected {:#04x} (use after free)",
                damage.offset, damage.found, damage.expected
            ),
        }
    }
}

/// A cache's constant description.
#[derive(Clone, Debug)]
pub struct CacheInfo {
    pub name: heapless::String<32>,
    pub layout: Layout,
    pub flags: SlabFlags,
    /// Secret mixed into free pointers.
    pub random: u64,
    /// This cache's number in the kernel's registry, stored in slab descriptors.
    pub index: u16,
    /// Called on every object when its slab is created.
    pub ctor: Option<fn(usize)>,
    /// Partial slabs a node keeps before empty slabs are freed (Linux: log2(size) / 2 in [5, 10]).
    pub min_partial: u64,
    pub randomize_freelist: bool,
    /// Whether free objects are poisoned and checked (`POISON` without a constructor).
    poison: bool,
    red_zone: bool,
}

/// What `kmem_cache_create` is asked for.
#[derive(Clone, Copy, Debug)]
pub struct CacheSpec<'a> {
    pub name: &'a str,
    pub object_size: usize,
    /// Minimum alignment (0 for the default of a word).
    pub align: usize,
    pub flags: SlabFlags,
    pub ctor: Option<fn(usize)>,
}

impl CacheInfo {
    /// The cache for `spec`, registered as `index`, with free-pointer secret `random`, sized for
    /// `nr_cpus` CPUs.
    pub fn new(
        spec: &CacheSpec<'_>,
        index: u16,
        random: u64,
        nr_cpus: usize,
    ) -> Result<CacheInfo, CacheError> {
        let CacheSpec { name, object_size, align, flags, ctor } = *spec;
        let layout = Layout::new(object_size, align, flags, ctor.is_some(), nr_cpus)?;
        let mut short = heapless::String::new();
        for c in name.chars() {
            if short.push(c).is_err() {
                break;
            }
        }
        let log2 = usize::BITS - 1 - layout.size.leading_zeros();
        Ok(CacheInfo {
            name: short,
            layout,
            flags,
            random,
            index,
            ctor,
            min_partial: u64::from(log2 / 2).clamp(5, 10),
            randomize_freelist: true,
            // Poisoning applies only without a constructor (which gives free objects meaning), as Linux.
            poison: flags.contains(SlabFlags::POISON) && ctor.is_none(),
            red_zone: flags.contains(SlabFlags::RED_ZONE),
        })
    }

    #[inline]
    fn poisons(&self) -> bool {
        self.poison
    }

    #[inline]
    fn red_zones(&self) -> bool {
        self.red_zone
    }
}

/// One CPU's state for one cache: its active slab and that slab's private free list.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuSlab {
    /// First frame of the active slab.
    pub slab: Option<u64>,
    /// Address of the active slab's memory.
    pub base: usize,
    /// First free object of the private list (0 for none).
    pub freelist: usize,
}

impl CpuSlab {
    pub const EMPTY: CpuSlab = CpuSlab { slab: None, base: 0, freelist: 0 };
}

/// One node's slabs of one cache (under the node's lock in the kernel).
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeSlabs {
    pub partial: PageList,
    pub nr_partial: u64,
    pub nr_slabs: u64,
    pub total_objects: u64,
}

impl NodeSlabs {
    pub const EMPTY: NodeSlabs =
        NodeSlabs { partial: PageList::new(), nr_partial: 0, nr_slabs: 0, total_objects: 0 };
}

/// The slab fields of a first page's descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SlabDesc {
    cache: u16,
    inuse: u16,
    objects: u16,
    frozen: bool,
    /// Offset of the first free object + 1, 0 for none.
    freelist: u32,
}

fn get_desc(map: &impl PageMap, head: u64) -> SlabDesc {
    let page = map.page(head);
    let p = page.private;
    SlabDesc {
        cache: p as u16,
        inuse: (p >> 16) as u16,
        objects: (p >> 32) as u16,
        frozen: (p >> 48) & 1 != 0,
        freelist: page.mapcount.load(core::sync::atomic::Ordering::Relaxed),
    }
}

fn set_desc(map: &mut impl PageMap, head: u64, d: SlabDesc) {
    let page = map.page_mut(head);
    page.private = u64::from(d.cache)
        | (u64::from(d.inuse) << 16)
        | (u64::from(d.objects) << 32)
        | (u64::from(d.frozen) << 48);
    page.mapcount.store(d.freelist, core::sync::atomic::Ordering::Relaxed);
}

/// A located object: its slab and that slab's base address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlabRef {
    pub head: u64,
    pub base: usize,
}

/// Finds the slab of `addr` and the cache it belongs to (what `kfree` needs, from the address alone).
#[inline]
pub fn find_slab(
    backend: &impl SlabBackend,
    map: &impl PageMap,
    addr: usize,
) -> Result<(u16, SlabRef), SlabError> {
    let pfn = backend.addr_to_pfn(addr).ok_or(SlabError::NotSlabObject { addr })?;
    let page = map.page(pfn);
    if page.owner() != PageOwner::Slab {
        return Err(SlabError::NotSlabObject { addr });
    }
    // Every page of a slab carries its cache's index in the low bits of `private` (`new_slab`), so the
    // head's descriptor need not be read.
    let head = pfn & !((1u64 << page.order) - 1);
    let cache = page.private as u16;
    Ok((cache, SlabRef { head, base: backend.pfn_to_addr(head) }))
}

/// Checks that a slab found by [`find_slab`] belongs to `info` and that `addr` starts an object.
#[inline]
pub fn check_object(info: &CacheInfo, cache: u16, slab: SlabRef, addr: usize) -> Result<(), SlabError> {
    if cache != info.index {
        return Err(SlabError::WrongCache { addr, cache });
    }
    check_slot(info, slab, addr)
}

/// Checks that `addr`, inside `slab` of this cache, starts an object (what [`check_object`] checks
/// when the cache was itself found from the slab, as `kfree` finds it).
#[inline]
pub fn check_slot(info: &CacheInfo, slab: SlabRef, addr: usize) -> Result<(), SlabError> {
    if !info.layout.is_slot_start(addr, slab.base) {
        return Err(SlabError::InvalidPointer { addr });
    }
    Ok(())
}

/// Finds the slab of `addr` and checks it is an object of this cache.
pub fn locate(
    info: &CacheInfo,
    backend: &impl SlabBackend,
    map: &impl PageMap,
    addr: usize,
) -> Result<SlabRef, SlabError> {
    let (cache, slab) = find_slab(backend, map, addr)?;
    check_object(info, cache, slab, addr)?;
    Ok(slab)
}

fn freelist_head(desc: &SlabDesc, base: usize, layout: &Layout) -> Option<usize> {
    if desc.freelist == 0 {
        return Some(0);
    }
    let object = base + desc.freelist as usize - 1;
    freelist::valid_in_slab(object, base, layout).then_some(object)
}

/// The fast path: pops the CPU's private list. `None` when it is empty.
#[inline]
pub fn alloc_fast(info: &CacheInfo, cpu: &mut CpuSlab, backend: &mut impl SlabBackend) -> Option<usize> {
    let object = cpu.freelist;
    if object == 0 {
        return None;
    }
    let layout = &info.layout;
    let at = object + layout.free_pointer;
    let next = freelist::decode(backend.read_word(at), at, info.random);
    if freelist::valid_in_slab(next, cpu.base, layout) {
        cpu.freelist = next;
    } else {
        backend.report(info, SlabError::FreelistCorrupt { object, value: next });
        cpu.freelist = 0;
    }
    if info.poisons() {
        if let Err(damage) = debug::check_poison(backend, layout, object) {
            backend.report(info, SlabError::PoisonOverwritten { object, damage });
        }
        backend.fill(object, layout.object_size, debug::POISON_INUSE);
    }
    if info.red_zones() {
        debug::set_red_zone(backend, layout, object, debug::RED_ACTIVE);
    }
    Some(object)
}

/// Makes `head` the CPU's active slab, taking its free list.
fn freeze(
    info: &CacheInfo,
    cpu: &mut CpuSlab,
    backend: &mut impl SlabBackend,
    map: &mut impl PageMap,
    head: u64,
) {
    let mut desc = get_desc(map, head);
    let base = backend.pfn_to_addr(head);
    cpu.freelist = freelist_head(&desc, base, &info.layout).unwrap_or_else(|| {
        backend.report(info, SlabError::FreelistCorrupt { object: base, value: desc.freelist as usize });
        0
    });
    desc.freelist = 0;
    desc.inuse = desc.objects;
    desc.frozen = true;
    set_desc(map, head, desc);
    cpu.slab = Some(head);
    cpu.base = base;
}

/// A new slab, frozen for the CPU.
fn new_slab(
    info: &CacheInfo,
    cpu: &mut CpuSlab,
    node: &mut NodeSlabs,
    backend: &mut impl SlabBackend,
    map: &mut impl PageMap,
    nid: usize,
) -> Result<(), SlabError> {
    let layout = &info.layout;
    let reclaimable = info.flags.contains(SlabFlags::RECLAIM_ACCOUNT);
    let head = backend.alloc_pages(layout.order, nid, reclaimable).ok_or(SlabError::NoMemory)?;
    for pfn in head..head + (1 << layout.order) {
        let page = map.page_mut(pfn);
        page.owner = PageOwner::Slab as u8;
        page.order = layout.order as u8;
        page.private = u64::from(info.index);
    }
    let base = backend.pfn_to_addr(head);
    for i in 0..layout.objects {
        let object = base + i * layout.size;
        if info.poisons() {
            debug::poison_free(backend, layout, object);
        }
        if info.red_zones() {
            debug::set_red_zone(backend, layout, object, debug::RED_INACTIVE);
        }
        if let Some(ctor) = info.ctor {
            ctor(object);
        }
    }
    let first = freelist::build(
        backend,
        base,
        layout.size,
        layout.objects,
        layout.free_pointer,
        info.random,
        info.randomize_freelist,
    );
    set_desc(
        map,
        head,
        SlabDesc {
            cache: info.index,
            inuse: 0,
            objects: layout.objects as u16,
            frozen: false,
            freelist: (first - base + 1) as u32,
        },
    );
    node.nr_slabs += 1;
    node.total_objects += layout.objects as u64;
    freeze(info, cpu, backend, map, head);
    Ok(())
}

/// The slow path: refills the CPU's list (from its active slab's remote frees, a partial slab or a new
/// slab) and allocates. The caller holds the node's lock.
pub fn alloc_slow(
    info: &CacheInfo,
    cpu: &mut CpuSlab,
    node: &mut NodeSlabs,
    backend: &mut impl SlabBackend,
    map: &mut impl PageMap,
    nid: usize,
) -> Result<usize, SlabError> {
    for _ in 0..4 {
        if let Some(object) = alloc_fast(info, cpu, backend) {
            return Ok(object);
        }
        if let Some(slab) = cpu.slab.take() {
            let desc = get_desc(map, slab);
            if desc.freelist != 0 {
                // Objects freed into the active slab by other contexts.
                freeze(info, cpu, backend, map, slab);
                continue;
            }
            // Full: it leaves the CPU and is tracked by nobody until an object comes back.
            set_desc(map, slab, SlabDesc { frozen: false, inuse: desc.objects, ..desc });
        }
        if let Some(slab) = node.partial.pop_front(map) {
            node.nr_partial -= 1;
            freeze(info, cpu, backend, map, slab);
            continue;
        }
        new_slab(info, cpu, node, backend, map, nid)?;
    }
    // Each round either allocates or installs a slab with free objects; four rounds fail only when
    // corrupted free lists keep emptying what they install.
    Err(SlabError::NoMemory)
}

/// Debug checks before an object is freed; then marks it free (red zone inactive, poison).
fn prepare_free(info: &CacheInfo, backend: &mut impl SlabBackend, object: usize) -> Result<(), SlabError> {
    let layout = &info.layout;
    if info.red_zones() {
        if let Err(damage) = debug::check_red_zone(backend, layout, object, debug::RED_ACTIVE) {
            let inactive = debug::check_red_zone(backend, layout, object, debug::RED_INACTIVE).is_ok();
            return Err(if inactive {
                SlabError::DoubleFree { object }
            } else {
                SlabError::RedzoneOverwritten { object, damage }
            });
        }
        debug::set_red_zone(backend, layout, object, debug::RED_INACTIVE);
    }
    if info.poisons() {
        debug::poison_free(backend, layout, object);
    }
    Ok(())
}

/// Frees onto the CPU's private list if the object belongs to its active slab (no lock needed); returns
/// `Ok(false)` when the object belongs elsewhere.
#[inline]
pub fn free_to_cpu(
    info: &CacheInfo,
    cpu: &mut CpuSlab,
    backend: &mut impl SlabBackend,
    slab: SlabRef,
    object: usize,
) -> Result<bool, SlabError> {
    if cpu.slab != Some(slab.head) {
        return Ok(false);
    }
    if cpu.freelist == object {
        return Err(SlabError::DoubleFree { object });
    }
    prepare_free(info, backend, object)?;
    let at = object + info.layout.free_pointer;
    backend.write_word(at, freelist::encode(cpu.freelist, at, info.random));
    cpu.freelist = object;
    Ok(true)
}

/// Frees into the object's own slab (the caller holds the node's lock); moves the slab to the partial
/// list or back to the buddy allocator as its fill level says.
pub fn free_to_node(
    info: &CacheInfo,
    node: &mut NodeSlabs,
    backend: &mut impl SlabBackend,
    map: &mut impl PageMap,
    slab: SlabRef,
    object: usize,
) -> Result<(), SlabError> {
    let layout = &info.layout;
    let mut desc = get_desc(map, slab.head);
    let head_object = freelist_head(&desc, slab.base, layout).unwrap_or(0);
    if head_object == object || desc.inuse == 0 {
        return Err(SlabError::DoubleFree { object });
    }
    prepare_free(info, backend, object)?;
    let at = object + layout.free_pointer;
    backend.write_word(at, freelist::encode(head_object, at, info.random));
    desc.freelist = (object - slab.base + 1) as u32;
    let was_full = desc.inuse == desc.objects;
    desc.inuse -= 1;
    set_desc(map, slab.head, desc);
    if desc.frozen {
        return Ok(());
    }
    if desc.inuse == 0 {
        if !was_full {
            if node.nr_partial <= info.min_partial {
                return Ok(());
            }
            node.partial.remove(map, slab.head);
            node.nr_partial -= 1;
        } else if node.nr_partial < info.min_partial {
            node.partial.push_back(map, slab.head);
            node.nr_partial += 1;
            return Ok(());
        }
        discard_slab(info, node, backend, map, slab.head);
    } else if was_full {
        node.partial.push_back(map, slab.head);
        node.nr_partial += 1;
    }
    Ok(())
}

fn discard_slab(
    info: &CacheInfo,
    node: &mut NodeSlabs,
    backend: &mut impl SlabBackend,
    map: &mut impl PageMap,
    head: u64,
) {
    let order = info.layout.order;
    for pfn in head..head + (1 << order) {
        let page = map.page_mut(pfn);
        page.owner = PageOwner::KernelAlloc as u8;
        page.private = 0;
        page.mapcount.store(0, core::sync::atomic::Ordering::Relaxed);
    }
    map.page_mut(head).order = order as u8;
    node.nr_slabs -= 1;
    node.total_objects -= info.layout.objects as u64;
    backend.free_pages(head, order);
}

/// Free objects a CPU holds: its private list and what others freed into its active slab. Walks the
/// list (for statistics, not for hot paths).
pub fn cpu_free_objects(
    info: &CacheInfo,
    cpu: &CpuSlab,
    backend: &impl SlabBackend,
    map: &impl PageMap,
) -> u64 {
    let Some(head) = cpu.slab else { return 0 };
    let desc = get_desc(map, head);
    let mut count = u64::from(desc.objects - desc.inuse.min(desc.objects));
    let mut object = cpu.freelist;
    while object != 0 && count < u64::from(desc.objects) {
        count += 1;
        let at = object + info.layout.free_pointer;
        let next = freelist::decode(backend.read_word(at), at, info.random);
        object = if freelist::valid_in_slab(next, cpu.base, &info.layout) { next } else { 0 };
    }
    count
}

/// Free objects in a node's partial slabs.
pub fn node_free_objects(node: &NodeSlabs, map: &impl PageMap) -> u64 {
    node.partial
        .iter(map)
        .map(|head| {
            let d = get_desc(map, head);
            u64::from(d.objects - d.inuse.min(d.objects))
        })
        .sum()
}

/// Gives every empty partial slab of a node back (Linux's `__kmem_cache_shrink`); returns slabs freed.
pub fn shrink(
    info: &CacheInfo,
    node: &mut NodeSlabs,
    backend: &mut impl SlabBackend,
    map: &mut impl PageMap,
) -> u64 {
    let mut empty: heapless::Vec<u64, 64> = heapless::Vec::new();
    for head in node.partial.iter(map) {
        if get_desc(map, head).inuse == 0 && empty.push(head).is_err() {
            break;
        }
    }
    for &head in &empty {
        node.partial.remove(map, head);
        node.nr_partial -= 1;
        discard_slab(info, node, backend, map, head);
    }
    empty.len() as u64
}

/// Returns the CPU's active slab to its node (Linux's `deactivate_slab`): its private list goes back into
/// the slab, which joins the partial list or is freed. The caller holds the node's lock.
pub fn flush_cpu(
    info: &CacheInfo,
    cpu: &mut CpuSlab,
    node: &mut NodeSlabs,
    backend: &mut impl SlabBackend,
    map: &mut impl PageMap,
) {
    let Some(head) = cpu.slab.take() else { return };
    let base = backend.pfn_to_addr(head);
    let mut desc = get_desc(map, head);
    // Count the private list, then hand it to the slab in front of any remote frees.
    let mut count = 0u16;
    let mut last = 0;
    let mut object = cpu.freelist;
    while object != 0 && count < desc.objects {
        count += 1;
        last = object;
        let at = object + info.layout.free_pointer;
        let next = freelist::decode(backend.read_word(at), at, info.random);
        object = if freelist::valid_in_slab(next, base, &info.layout) { next } else { 0 };
    }
    if last != 0 {
        let remote = freelist_head(&desc, base, &info.layout).unwrap_or(0);
        let at = last + info.layout.free_pointer;
        backend.write_word(at, freelist::encode(remote, at, info.random));
        desc.freelist = (cpu.freelist - base + 1) as u32;
    }
    cpu.freelist = 0;
    desc.inuse -= count.min(desc.inuse);
    desc.frozen = false;
    set_desc(map, head, desc);
    if desc.inuse == desc.objects {
        return; // full: untracked
    }
    if desc.inuse == 0 && node.nr_partial >= info.min_partial {
        discard_slab(info, node, backend, map, head);
    } else {
        node.partial.push_back(map, head);
        node.nr_partial += 1;
    }
}

#[cfg(test)]
mod tests;
