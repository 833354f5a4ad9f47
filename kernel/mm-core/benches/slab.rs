//! `make bench` (slab part): kmalloc/kfree over the SLUB core against the `talc` and
//! `linked_list_allocator` crates, in the same process, on the same workloads.
//!
//! Our side makes the kernel's calls (`kernel/src/mm/kmalloc.rs`, `slab.rs`) in the same order: size
//! class by table, the kmalloc cache's ready check, the per-CPU object array behind its task-context
//! check (the kernel's `PerCpuTask`, copied here instruction for instruction), and on `kfree` the frame's
//! present-section bit, its descriptor (cache index, Slab owner) and the slot check, then the array. The
//! refill and flush below the array run with the kernel's `local_irq_save`/`restore` modelled as
//! `pushfq`/`popfq` (CLI/STI cannot run in user mode; popf is the dearer). Memory is a host arena with
//! raw-pointer access, as the kernel's direct map. Workloads: alloc+free pairs of one size (16 B … 4 KiB)
//! and a random mix of sizes with up to 10 000 live objects. Figures: ns per operation (median of 5
//! runs) and the peer/ours ratios. A "loop floor" column runs the pair loop with no allocator behind the
//! two calls, so the allocators' own cost is the figure minus the floor. `SLAB_BENCH_QUICK=1` runs only
//! the 64 B row.

use std::alloc::Layout as StdLayout;
use std::cell::UnsafeCell;
use std::hint::black_box;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, AtomicU32, Ordering};
use std::time::Instant;

use mm_core::page::{PAGE_SIZE, Page, PageMap};
use mm_core::rng::Rng;
use mm_core::slab::array_cache::{self, ArrayCache};
use mm_core::slab::kmalloc::{
    KMALLOC_MAX_CACHE_SIZE, KMALLOC_NAMES, KMALLOC_SIZES, kmalloc_align, kmalloc_index_aligned,
};
use mm_core::slab::{self, CacheInfo, CacheSpec, CpuSlab, NodeSlabs, SlabBackend, SlabError, SlabFlags};

const ARENA_PAGES: usize = 64 * 1024; // 256 MiB
const RUNS: usize = 5;

/// Host memory standing in for the direct map: page-aligned; frame numbers count pages from its start
/// (host addresses are too large for the 32-bit list links, kernel frame numbers are not).
struct RawArena {
    base: usize,
    /// Pages never handed out start here.
    bump: usize,
    /// Freed slabs by order, reused first (slab pages come back in the orders they left in).
    free: [Vec<u64>; 4],
    rng: Rng,
    /// Which 128 MiB sections of the arena have descriptors (all of them), as the kernel's bitmap.
    sections: Box<[u64; MAX_SECTIONS / 64]>,
}

/// The kernel's sparse-memory constants (`kernel/src/mm/sparse.rs`).
const SECTION_PFN_SHIFT: u32 = 27 - 12;
const MAX_SECTIONS: usize = 1 << 17;

impl RawArena {
    fn new(memory: &mut [u8]) -> Self {
        let base = (memory.as_mut_ptr() as usize).next_multiple_of(PAGE_SIZE as usize);
        let mut sections = Box::new([0u64; MAX_SECTIONS / 64]);
        for section in 0..(ARENA_PAGES >> SECTION_PFN_SHIFT).max(1) {
            sections[section / 64] |= 1 << (section % 64);
        }
        RawArena { base, bump: 0, free: Default::default(), rng: Rng::from_seed(3), sections }
    }
}

impl SlabBackend for RawArena {
    fn alloc_pages(&mut self, order: usize, _node: usize, _reclaimable: bool) -> Option<u64> {
        if let Some(pfn) = self.free[order].pop() {
            return Some(pfn);
        }
        let start = self.bump.next_multiple_of(1 << order);
        (start + (1 << order) < ARENA_PAGES).then(|| {
            self.bump = start + (1 << order);
            start as u64
        })
    }

    fn free_pages(&mut self, pfn: u64, order: usize) {
        self.free[order].push(pfn);
    }

    fn pfn_to_addr(&self, pfn: u64) -> usize {
        self.base + (pfn * PAGE_SIZE) as usize
    }

    fn addr_to_pfn(&self, addr: usize) -> Option<u64> {
        // As the kernel: the offset into the direct map, then the present-section bitmap (`pfn_valid`).
        let pfn = addr.checked_sub(self.base)? as u64 / PAGE_SIZE;
        let section = (pfn >> SECTION_PFN_SHIFT) as usize;
        (section < MAX_SECTIONS && self.sections[section / 64] & (1 << (section % 64)) != 0).then_some(pfn)
    }

    fn read_word(&self, addr: usize) -> u64 {
        // SAFETY: slab addresses lie in the arena, word aligned.
        unsafe { (addr as *const u64).read() }
    }

    fn write_word(&mut self, addr: usize, value: u64) {
        // SAFETY: as above.
        unsafe { (addr as *mut u64).write(value) }
    }

    fn read_byte(&self, addr: usize) -> u8 {
        // SAFETY: as above.
        unsafe { (addr as *const u8).read() }
    }

    fn fill(&mut self, addr: usize, len: usize, byte: u8) {
        // SAFETY: as above.
        unsafe { core::ptr::write_bytes(addr as *mut u8, byte, len) }
    }

    fn find_not(&self, addr: usize, len: usize, byte: u8) -> Option<usize> {
        // SAFETY: as above.
        unsafe { core::slice::from_raw_parts(addr as *const u8, len) }.iter().position(|&b| b != byte)
    }

    fn random(&mut self) -> u64 {
        self.rng.next_u64()
    }

    fn report(&mut self, cache: &CacheInfo, error: SlabError) {
        panic!("BUG {}: {error}", cache.name);
    }
}

/// The kernel's `Vmemmap`: descriptors by pointer arithmetic, without a bounds check (every frame it is
/// asked about passed `addr_to_pfn`'s section check or came from `alloc_pages`, so it lies in `pages`).
struct RawPageMap(*mut Page);

impl PageMap for RawPageMap {
    fn page(&self, pfn: u64) -> &Page {
        // SAFETY: `pfn` indexes the descriptor vector this map was made from (see the type).
        unsafe { &*self.0.add(pfn as usize) }
    }

    fn page_mut(&mut self, pfn: u64) -> &mut Page {
        // SAFETY: as `page`; the map is the only user of the vector while it lives.
        unsafe { &mut *self.0.add(pfn as usize) }
    }
}

/// The kernel's trap depth per CPU (`kernel/src/arch/x86_64/traps.rs`): zero in task context.
static KERNEL_TRAP_DEPTH: [AtomicU32; 8] = [const { AtomicU32::new(0) }; 8];

/// The kernel's `PerCpuTask` (`kernel/src/sync.rs`) instruction for instruction: one load of this CPU's
/// trap depth and a branch, then the value (no lock, no locked instruction, no store).
struct PerCpuTask<T> {
    value: UnsafeCell<T>,
}

impl<T> PerCpuTask<T> {
    #[inline]
    fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if KERNEL_TRAP_DEPTH[current_cpu()].load(Ordering::Relaxed) != 0 {
            return None;
        }
        // SAFETY: one thread, and `f` never re-enters: this is the only reference to the value.
        Some(f(unsafe { &mut *self.value.get() }))
    }
}

/// The kernel's `current_cpu` (one CPU).
#[inline]
fn current_cpu() -> usize {
    0
}

/// The kernel's `local_irq_save`/`local_irq_restore` around the slab layer below the arrays (refill,
/// flush), as far as user mode can run them: `pushfq; pop` reads the flags as the kernel does, and
/// `push; popfq` stands in for its `sti` (popf is the slower of the two, so this errs against us). CLI
/// itself cannot run in user mode; nothing on the array fast path disables interrupts.
#[inline(always)]
fn irq_save_model() -> u64 {
    let flags: u64;
    // SAFETY: reads RFLAGS through the stack; no memory of ours is touched.
    unsafe { core::arch::asm!("pushfq", "pop {}", out(reg) flags) };
    flags
}

#[inline(always)]
fn irq_restore_model(flags: u64) {
    // SAFETY: writes back the RFLAGS value just read (user mode cannot change IF or IOPL with it).
    unsafe { core::arch::asm!("push {}", "popfq", in(reg) flags) };
}

/// One kmalloc cache: its per-CPU array, CPU slab and node (one CPU, one node), and the kernel's
/// `OnceLock` state word that `kmalloc_cache` checks before use.
struct Cache {
    ready: AtomicU8,
    info: CacheInfo,
    array: PerCpuTask<ArrayCache>,
    cpu: CpuSlab,
    node: NodeSlabs,
}

/// kmalloc as the kernel builds it, on one CPU and one node: the same calls as `kernel/src/mm/slab.rs`
/// and `kmalloc.rs` make, with the same fast/cold split, over host memory.
struct Kmalloc {
    arena: RawArena,
    pages: Vec<Page>,
    caches: Vec<Cache>,
}

impl Kmalloc {
    fn new(memory: &mut [u8]) -> Self {
        let arena = RawArena::new(memory);
        let caches = KMALLOC_SIZES
            .iter()
            .zip(KMALLOC_NAMES)
            .enumerate()
            .map(|(i, (&size, name))| {
                let spec = CacheSpec {
                    name,
                    object_size: size,
                    align: kmalloc_align(i),
                    flags: SlabFlags::default(),
                    ctor: None,
                };
                let info = CacheInfo::new(&spec, i as u16, 0x5eed ^ i as u64, 1).unwrap();
                let array = PerCpuTask { value: UnsafeCell::new(ArrayCache::for_cache(&info)) };
                Cache {
                    ready: AtomicU8::new(2),
                    info,
                    array,
                    cpu: CpuSlab::default(),
                    node: NodeSlabs::default(),
                }
            })
            .collect();
        Kmalloc { arena, pages: (0..ARENA_PAGES).map(|_| Page::new_reserved(0, 0)).collect(), caches }
    }

    /// `kmalloc_aligned(size, 8, gfp)` → `KmemCache::alloc`.
    #[inline]
    fn kmalloc(&mut self, size: usize, zero: bool) -> usize {
        assert!(size <= KMALLOC_MAX_CACHE_SIZE, "small sizes only");
        let index = kmalloc_index_aligned(size.max(1), 8).expect("a class");
        let Kmalloc { arena, pages, caches } = self;
        let cache = &mut caches[index];
        if cache.ready.load(Ordering::Acquire) != 2 {
            not_ready();
        }
        let Cache { info, array, cpu, node, .. } = cache;
        let object = array
            .try_with(|array| match array.pop() {
                Some(object) => object,
                None => refill(info, array, cpu, node, arena, pages),
            })
            .expect("task context");
        if zero {
            arena.fill(object, info.layout.object_size, 0);
        }
        object
    }

    /// `kfree` → `free_slab_object` → `KmemCache::free_found`.
    #[inline]
    fn kfree(&mut self, object: usize) {
        let Kmalloc { arena, pages, caches } = self;
        let (index, r) = {
            let map = RawPageMap(pages.as_mut_ptr());
            slab::find_slab(arena, &map, object).expect("slab object")
        };
        let Cache { info, array, cpu, node, .. } = &mut caches[usize::from(index)];
        slab::check_slot(info, r, object).expect("valid object");
        array
            .try_with(|array| {
                if !array.push(object).expect("valid free") {
                    flush(info, array, cpu, node, arena, pages);
                    array.push(object).expect("valid free");
                }
            })
            .expect("task context");
    }
}

/// The kernel falls back to the page allocator before `kmem_cache_init`; the bench never gets here.
#[cold]
#[inline(never)]
fn not_ready() -> ! {
    panic!("kmalloc cache used before it was created");
}

/// `KmemCache::refill`: the CPU slab, with interrupts off.
#[cold]
#[inline(never)]
fn refill(
    info: &CacheInfo,
    array: &mut ArrayCache,
    cpu: &mut CpuSlab,
    node: &mut NodeSlabs,
    arena: &mut RawArena,
    pages: &mut Vec<Page>,
) -> usize {
    let irq = irq_save_model();
    let mut map = RawPageMap(pages.as_mut_ptr());
    let object = array_cache::refill(array, info, cpu, arena, |cpu, arena| {
        slab::alloc_slow(info, cpu, node, arena, &mut map, 0)
    });
    irq_restore_model(irq);
    object.expect("arena large enough")
}

/// `KmemCache::flush` of half the array: the CPU slab, with interrupts off.
#[cold]
#[inline(never)]
fn flush(
    info: &CacheInfo,
    array: &mut ArrayCache,
    cpu: &mut CpuSlab,
    node: &mut NodeSlabs,
    arena: &mut RawArena,
    pages: &mut Vec<Page>,
) {
    let irq = irq_save_model();
    let mut map = RawPageMap(pages.as_mut_ptr());
    let count = array.batchcount as usize;
    array_cache::flush(array, count, info, cpu, arena, &mut map, |arena, map, slab, object| {
        slab::free_to_node(info, node, arena, map, slab, object)
    });
    irq_restore_model(irq);
}

/// A peer allocator's alloc/free pair. The workloads are default methods, so each allocator gets its own
/// monomorphized loop with `alloc`/`free` inlined; only the per-run call is dynamic.
trait Peer {
    fn alloc(&mut self, size: usize) -> usize;
    fn free(&mut self, ptr: usize, size: usize);

    /// ns per alloc+free pair of `size` bytes.
    fn pairs(&mut self, size: usize) -> f64 {
        let start = Instant::now();
        for _ in 0..PAIRS {
            let p = self.alloc(size);
            self.free(black_box(p), size);
        }
        start.elapsed().as_nanos() as f64 / PAIRS as f64
    }

    /// ns per operation of the random mixed workload.
    fn mixed(&mut self) -> f64 {
        let mut rng = Rng::from_seed(9);
        let mut live: Vec<(usize, usize)> = Vec::with_capacity(10_000);
        let start = Instant::now();
        for _ in 0..MIXED_OPS {
            if live.len() < 5_000 || (live.len() < 10_000 && rng.below(2) == 0) {
                let size = 8usize << rng.below(10); // 8 B … 4 KiB
                let size = size - rng.below(size as u64 / 2) as usize;
                live.push((self.alloc(size), size));
            } else {
                let (p, size) = live.swap_remove(rng.below(live.len() as u64) as usize);
                self.free(p, size);
            }
        }
        for (p, size) in live.drain(..) {
            self.free(p, size);
        }
        start.elapsed().as_nanos() as f64 / MIXED_OPS as f64
    }
}

/// No allocator at all: the cost of the benchmark loop itself (two calls that cannot be inlined), the
/// floor under every figure of the table.
struct FloorPeer(usize);

impl Peer for FloorPeer {
    #[inline(never)]
    fn alloc(&mut self, _size: usize) -> usize {
        black_box(self.0)
    }
    #[inline(never)]
    fn free(&mut self, ptr: usize, _size: usize) {
        self.0 = black_box(ptr);
    }
}

struct TalcPeer(talc::base::Talc<talc::source::Manual, talc::DefaultBinning>);

/// Talc behind a spinlock, as a kernel would use it for its global allocator.
struct TalcLockedPeer(talc::TalcLock<spinning_top::RawSpinlock, talc::source::Manual>);

impl Peer for TalcLockedPeer {
    fn alloc(&mut self, size: usize) -> usize {
        // SAFETY: the layout is valid; talc owns its claimed arena.
        unsafe { self.0.lock().allocate(StdLayout::from_size_align(size, 8).unwrap()) }
            .expect("arena large enough")
            .as_ptr() as usize
    }
    fn free(&mut self, ptr: usize, size: usize) {
        // SAFETY: `ptr` came from `alloc` with this size.
        unsafe { self.0.lock().deallocate(ptr as *mut u8, StdLayout::from_size_align(size, 8).unwrap()) }
    }
}

impl Peer for TalcPeer {
    fn alloc(&mut self, size: usize) -> usize {
        // SAFETY: the layout is valid; talc owns its claimed arena.
        unsafe { self.0.allocate(StdLayout::from_size_align(size, 8).unwrap()) }
            .expect("arena large enough")
            .as_ptr() as usize
    }
    fn free(&mut self, ptr: usize, size: usize) {
        // SAFETY: `ptr` came from `alloc` with this size.
        unsafe { self.0.deallocate(ptr as *mut u8, StdLayout::from_size_align(size, 8).unwrap()) }
    }
}

struct LlaPeer(linked_list_allocator::Heap);

impl Peer for LlaPeer {
    fn alloc(&mut self, size: usize) -> usize {
        self.0
            .allocate_first_fit(StdLayout::from_size_align(size, 8).unwrap())
            .expect("arena large enough")
            .as_ptr() as usize
    }
    fn free(&mut self, ptr: usize, size: usize) {
        // SAFETY: `ptr` came from `alloc` with this size.
        unsafe {
            self.0.deallocate(
                NonNull::new(ptr as *mut u8).unwrap(),
                StdLayout::from_size_align(size, 8).unwrap(),
            )
        }
    }
}

impl Peer for Kmalloc {
    fn alloc(&mut self, size: usize) -> usize {
        self.kmalloc(size, false)
    }
    fn free(&mut self, ptr: usize, _size: usize) {
        self.kfree(ptr)
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

const PAIRS: usize = 2_000_000;

/// Runs `work` on every allocator `RUNS` times, rotating which goes first, and returns the medians, so
/// that noise from the shared machine spreads evenly.
fn interleaved(allocators: &mut [&mut dyn Peer], work: impl Fn(&mut dyn Peer) -> f64) -> Vec<f64> {
    let n = allocators.len();
    let mut samples = vec![Vec::new(); n];
    for run in 0..RUNS {
        for k in 0..n {
            let i = (run + k) % n;
            samples[i].push(work(&mut *allocators[i]));
        }
    }
    samples.into_iter().map(median).collect()
}

const MIXED_OPS: usize = 1_000_000;

fn main() {
    let bytes = ARENA_PAGES * PAGE_SIZE as usize;
    let (mut ours_memory, mut talc_memory, mut locked_memory, mut lla_memory) =
        (vec![0u8; bytes], vec![0u8; bytes], vec![0u8; bytes], vec![0u8; bytes]);
    let mut ours = Kmalloc::new(&mut ours_memory);
    let mut talc = TalcPeer(talc::base::Talc::new(talc::source::Manual));
    // SAFETY: each arena belongs to its allocator for the whole run.
    unsafe { talc.0.claim(talc_memory.as_mut_ptr(), talc_memory.len()) }.expect("claim");
    let mut locked = TalcLockedPeer(talc::TalcLock::new(talc::source::Manual));
    // SAFETY: as above.
    unsafe { locked.0.lock().claim(locked_memory.as_mut_ptr(), locked_memory.len()) }.expect("claim");
    let mut lla = LlaPeer(linked_list_allocator::Heap::empty());
    // SAFETY: as above.
    unsafe { lla.0.init(lla_memory.as_mut_ptr(), lla_memory.len()) };

    println!();
    println!("kmalloc/kfree (host, same process; ns per operation, median of {RUNS} runs)");
    println!(
        "{:<18} {:>8} {:>13} {:>12} {:>8} {:>15} {:>12} {:>10} {:>11}",
        "workload",
        "kmalloc",
        "talc+spinlock",
        "talc (bare)",
        "lla",
        "spinlock/ours",
        "bare/ours",
        "lla/ours",
        "loop floor"
    );
    let mut floor = FloorPeer(4096);
    let mut all: [&mut dyn Peer; 5] = [&mut ours, &mut locked, &mut talc, &mut lla, &mut floor];
    // Warm-up: touch the arenas and fill caches once.
    for a in all.iter_mut().take(4) {
        a.mixed();
    }
    if std::env::var_os("SLAB_BENCH_QUICK").is_some() {
        // One row (64 B pairs) for trying a change quickly: run it several times and compare ratios.
        let m = interleaved(&mut all, |a| a.pairs(64));
        println!(
            "pair 64 B: kmalloc {:.2}, talc+spinlock {:.2}, bare talc {:.2}, lla {:.2}, floor {:.2}; \
             spinlock/ours {:.2}x",
            m[0],
            m[1],
            m[2],
            m[3],
            m[4],
            m[1] / m[0]
        );
        return;
    }
    let mut rows: Vec<(String, [f64; 5])> = [16usize, 32, 64, 128, 256, 512, 1024, 2048, 4096]
        .iter()
        .map(|&size| {
            let m = interleaved(&mut all, |a| a.pairs(size));
            (format!("pair {size} B"), [m[0], m[1], m[2], m[3], m[4]])
        })
        .collect();
    let m = interleaved(&mut all[..4], |a| a.mixed());
    rows.push(("mixed 8 B-4 KiB".to_string(), [m[0], m[1], m[2], m[3], f64::NAN]));
    for (name, [o, l, t, a, f]) in &rows {
        println!(
            "{name:<18} {o:>8.1} {l:>13.1} {t:>12.1} {a:>8.1} {:>14.2}x {:>11.2}x {:>9.2}x {f:>11.1}",
            l / o,
            t / o,
            a / o
        );
    }
    let geo = |column: usize| {
        let ratios: Vec<f64> = rows[..4].iter().map(|r| r.1[column] / r.1[0]).collect();
        ratios.iter().product::<f64>().powf(1.0 / ratios.len() as f64)
    };
    println!(
        "small sizes (16-128 B), geometric mean: kmalloc is {:.2}x talc+spinlock (goal >= 2x), {:.2}x bare talc",
        geo(1),
        geo(2)
    );
    let small = &rows[..4];
    let mean = |column: usize| small.iter().map(|r| r.1[column]).sum::<f64>() / small.len() as f64;
    println!(
        "small sizes, mean ns per pair above the loop floor ({:.1} ns): kmalloc {:.1}, talc+spinlock {:.1}, bare talc {:.1}",
        mean(4),
        mean(0) - mean(4),
        mean(1) - mean(4),
        mean(2) - mean(4)
    );
}
