//! In-kernel tests of the slab allocator and kmalloc: a stress of every size class that must give every
//! page back, and the hardening checks (corrupted free pointer, double free, and with `slub_debug` red
//! zone overflow and write after free).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};

use mm_core::gfp::Gfp;
use mm_core::slab::SlabFlags;
use mm_core::slab::kmalloc::{KMALLOC_SIZES, kmalloc_align, kmalloc_index};

use crate::mm::kmalloc::{kfree, kmalloc, kmalloc_aligned, krealloc, ksize, kzalloc};
use crate::mm::mmzone;
use crate::mm::page_alloc::drain_all_pages;
use crate::mm::slab::{self, SLAB_REPORTS};
use crate::pr_info;

fn free_pages() -> u64 {
    drain_all_pages();
    mmzone::all_zones().map(|(_, z)| z.nr_free.load(Ordering::Relaxed)).sum()
}

fn shrink_all() {
    for cache in slab::caches() {
        cache.shrink();
    }
}

static CTOR_CALLS: AtomicU64 = AtomicU64::new(0);
const CTOR_MAGIC: u64 = 0xc7_0b_1e_c7;

fn test_ctor(object: usize) {
    CTOR_CALLS.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the slab allocator calls constructors on fresh objects of at least 8 bytes it owns.
    unsafe { (object as *mut u64).write(CTOR_MAGIC) };
}

fn pattern(i: usize, size: usize) -> u8 {
    (i as u8).wrapping_mul(31) ^ (size as u8)
}

/// `test=slab`: every kmalloc class, odd sizes, big sizes, krealloc, a cache with a constructor and the
/// Rust heap; afterwards every page is back in the buddy allocator.
pub fn stress() -> Result<(), &'static str> {
    let cache = slab::kmem_cache_create("test_ctor_cache", 72, 8, SlabFlags::default(), Some(test_ctor))
        .map_err(|_| "kmem_cache_create failed")?;
    shrink_all();
    // Task context: kmalloc and kfree go through this CPU's object array (none with slub_debug), and a
    // shrink empties it.
    let kmalloc_64 = slab::kmalloc_cache(3).ok_or("no kmalloc-64")?;
    let has_array = kmalloc_64.info.flags.0 & SlabFlags::DEBUG.0 == 0;
    let p = kmalloc(64, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
    let after_alloc = kmalloc_64.cpu_array_objects().ok_or("not task context")?;
    kfree(p.as_ptr());
    if kmalloc_64.cpu_array_objects() != Some(after_alloc + u32::from(has_array)) {
        return Err("kfree did not put the object in the per-CPU array");
    }
    // A trap handler that interrupted kernel code bypasses the array: straight to the CPU slab.
    let in_array = kmalloc_64.cpu_array_objects();
    let trap_side = crate::arch::x86_64::traps::as_if_in_trap(|| {
        let objects: Vec<NonNull<u8>> = (0..100).filter_map(|_| kmalloc(64, Gfp::GFP_KERNEL)).collect();
        let refused = kmalloc_64.cpu_array_objects().is_none();
        let count = objects.len();
        for p in objects {
            kfree(p.as_ptr());
        }
        (count, refused)
    });
    if trap_side != (100, true) || kmalloc_64.cpu_array_objects() != in_array {
        return Err("kmalloc in a trap handler touched the per-CPU array");
    }
    shrink_all();
    if kmalloc_64.cpu_array_objects() != Some(0) {
        return Err("shrink left objects in the per-CPU array");
    }
    let baseline = free_pages();
    // (object, requested bytes, its number among objects of that request size); 0 bytes: a large block.
    let mut objects: Vec<(NonNull<u8>, usize, usize)> = Vec::with_capacity(16_384);
    for &size in KMALLOC_SIZES.iter() {
        let count = (256 * 1024 / size).clamp(16, 1024);
        for request in [size, size - size / 3] {
            for i in 0..count {
                let p = kmalloc(request, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
                // Power-of-two sizes are naturally aligned; 96 and 192 to 32 and 64 bytes.
                let served_by = kmalloc_index(request).ok_or("no class")?;
                if !(p.as_ptr() as usize).is_multiple_of(kmalloc_align(served_by)) {
                    return Err("kmalloc object not aligned as its class promises");
                }
                if ksize(p) < request {
                    return Err("ksize smaller than the request");
                }
                // SAFETY: `p` holds `request` bytes just allocated for this test.
                unsafe { core::ptr::write_bytes(p.as_ptr(), pattern(i, request), request) };
                objects.push((p, request, i));
            }
        }
    }
    for big in [12_000usize, 64 * 1024, 1 << 20] {
        let p = kzalloc(big, Gfp::GFP_KERNEL).ok_or("large kmalloc failed")?;
        // SAFETY: `p` holds `big` zeroed bytes.
        if unsafe { core::slice::from_raw_parts(p.as_ptr(), big) }.iter().any(|&b| b != 0) || ksize(p) < big {
            return Err("large kzalloc not zeroed or too small");
        }
        objects.push((p, 0, 0));
    }
    let mut sorted: Vec<(usize, usize)> = objects.iter().map(|&(p, n, _)| (p.as_ptr() as usize, n)).collect();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0].0 + w[0].1 > w[1].0) {
        return Err("two kmalloc objects overlap");
    }
    drop(sorted);
    pr_info!("test=slab: {} objects in {} classes and 3 large blocks", objects.len(), KMALLOC_SIZES.len());
    for &(p, request, index) in objects.iter().filter(|o| o.1 > 0) {
        // SAFETY: as above; the test still owns `p`.
        let ok = unsafe { core::slice::from_raw_parts(p.as_ptr(), request) }
            .iter()
            .all(|&b| b == pattern(index, request));
        if !ok {
            return Err("an object lost its contents");
        }
    }
    for (p, _, _) in objects.drain(..) {
        kfree(p.as_ptr());
    }
    drop(objects);

    let mut grown = kmalloc(40, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
    // SAFETY: 40 bytes owned by the test.
    unsafe {
        core::ptr::copy_nonoverlapping(b"pagoda krealloc keeps contents......42".as_ptr(), grown.as_ptr(), 38)
    };
    for size in [60, 500, 5000, 20_000] {
        grown = krealloc(grown.as_ptr(), size, Gfp::GFP_KERNEL).ok_or("krealloc failed")?;
        // SAFETY: at least 38 bytes survive every krealloc.
        if unsafe { core::slice::from_raw_parts(grown.as_ptr(), 38) }
            != b"pagoda krealloc keeps contents......42"
        {
            return Err("krealloc lost the contents");
        }
    }
    kfree(grown.as_ptr());
    let aligned = kmalloc_aligned(100, 256, Gfp::GFP_KERNEL).ok_or("aligned kmalloc failed")?;
    if !(aligned.as_ptr() as usize).is_multiple_of(256) {
        return Err("kmalloc_aligned ignored the alignment");
    }
    kfree(aligned.as_ptr());

    let calls_before = CTOR_CALLS.load(Ordering::Relaxed);
    let mut constructed = Vec::new();
    for _ in 0..300 {
        let p = cache.alloc(Gfp::GFP_KERNEL).ok_or("cache alloc failed")?;
        // SAFETY: an object of 72 bytes; the constructor wrote its first word.
        if unsafe { (p.as_ptr() as *const u64).read() } != CTOR_MAGIC {
            return Err("an object of a cache with a constructor was not constructed");
        }
        constructed.push(p);
    }
    let ctor_calls = CTOR_CALLS.load(Ordering::Relaxed) - calls_before;
    if ctor_calls < 300 || !ctor_calls.is_multiple_of(cache.info.layout.objects as u64) {
        return Err("the constructor did not run once per object of each new slab");
    }
    for p in constructed.drain(..) {
        cache.free(p);
    }
    drop(constructed);

    let map: BTreeMap<u64, u64> = (0..20_000u64).map(|k| (k * 7919 % 100_003, k)).collect();
    if map.len() != 20_000 || map.values().sum::<u64>() != 20_000 * 19_999 / 2 {
        return Err("the Rust heap (BTreeMap over kmalloc) misbehaved");
    }
    drop(map);

    shrink_all();
    let after = free_pages();
    pr_info!(
        "test=slab: free pages before {baseline}, after {after}, slab pages {}",
        slab::SLAB_PAGES.load(Ordering::Relaxed)
    );
    if after != baseline {
        return Err("not every page came back to the buddy allocator");
    }
    if SLAB_REPORTS.load(Ordering::Relaxed) != 0 {
        return Err("the stress produced slab error reports");
    }
    Ok(())
}

/// `test=slab_corruption`: a corrupted free pointer and a double free are reported and not followed;
/// with `slub_debug`, also an overflow into the red zone and a write after free.
pub fn corruption() -> Result<(), &'static str> {
    let before = SLAB_REPORTS.load(Ordering::Relaxed);
    let cache = slab::kmalloc_cache(3).ok_or("no kmalloc-64")?;
    let fp = cache.info.layout.free_pointer;
    // Two objects of this CPU's active slab: after a shrink, the next kmalloc refills the empty array
    // from one slab; when that slab had a single free object, keep it and try again.
    let mut held = Vec::new();
    let (a, b) = loop {
        cache.shrink();
        let a = kmalloc(64, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
        let b = kmalloc(64, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
        if (a.as_ptr() as usize) >> 12 == (b.as_ptr() as usize) >> 12 {
            break (a, b);
        }
        held.extend([a, b]);
        if held.len() > 4096 {
            return Err("no two objects from one slab");
        }
    };
    kfree(b.as_ptr());
    kfree(a.as_ptr());
    // The per-CPU array holds them without touching their memory; flushing it puts them on the free
    // list of their slab — still this CPU's — so `a` heads it and points to `b`. Overwrite that pointer.
    cache.flush_cpu_array();
    pr_info!("test=slab_corruption: overwriting the free pointer inside freed object {:p}", a.as_ptr());
    // SAFETY: deliberately corrupting freed slab memory the test just owned; the allocator must notice.
    unsafe { (a.as_ptr().add(fp) as *mut u64).write(0x4141_4141_4141_4141) };
    let first = kmalloc(64, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
    let second = kmalloc(64, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
    if first != a || second.as_ptr() as u64 == 0x4141_4141_4141_4141 || ksize(second) != 64 {
        return Err("the corrupted free pointer was followed");
    }
    if SLAB_REPORTS.load(Ordering::Relaxed) != before + 1 {
        return Err("the corrupted free pointer was not reported");
    }
    kfree(first.as_ptr());
    kfree(second.as_ptr());
    for p in held.drain(..) {
        kfree(p.as_ptr());
    }

    let x = kmalloc(64, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
    pr_info!("test=slab_corruption: freeing {:p} twice", x.as_ptr());
    kfree(x.as_ptr());
    kfree(x.as_ptr());
    if SLAB_REPORTS.load(Ordering::Relaxed) != before + 2 {
        return Err("the double free was not reported");
    }
    let y = kmalloc(64, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
    let z = kmalloc(64, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
    if y == z {
        return Err("the double free put one object on the free list twice");
    }
    kfree(y.as_ptr());
    kfree(z.as_ptr());

    if cache.info.flags.contains(SlabFlags::RED_ZONE) && cache.info.flags.contains(SlabFlags::POISON) {
        let o = kmalloc(64, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
        pr_info!("test=slab_corruption: writing one byte past object {:p}", o.as_ptr());
        // SAFETY: deliberate one-byte overflow into the red zone the debug layout reserves.
        unsafe { o.as_ptr().add(64).write(0x41) };
        kfree(o.as_ptr());
        let u = kmalloc(64, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
        kfree(u.as_ptr());
        pr_info!("test=slab_corruption: writing into freed object {:p}", u.as_ptr());
        // SAFETY: deliberate write after free into poisoned memory of the test's own cache.
        unsafe { u.as_ptr().add(8).write(0x42) };
        let again = kmalloc(64, Gfp::GFP_KERNEL).ok_or("kmalloc failed")?;
        kfree(again.as_ptr());
        if SLAB_REPORTS.load(Ordering::Relaxed) != before + 4 {
            return Err("slub_debug missed the red zone overflow or the write after free");
        }
    }
    Ok(())
}
