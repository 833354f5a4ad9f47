//! The malloc family's documented behaviour over the fake system: sizes, argument rules, in-place realloc,
//! brk growth and trimming, the dynamic mmap threshold, mmap fallback, mallopt, arenas, statistics output.

mod common;
use common::*;
use ptmalloc_rs::fake::FakeConfig;
use ptmalloc_rs::param::*;
use ptmalloc_rs::system::{EINVAL, ENOMEM};

/// The size word in front of a block.
fn head(ptr: *mut u8) -> usize {
    // SAFETY: every block has its size word right before it.
    unsafe { ptr.cast::<usize>().sub(1).read() }
}

#[test]
fn usable_sizes_are_glibc_values() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    for request in 0..=24 {
        let p = t.malloc(request);
        assert_eq!(t.usable(p), 24, "request {request}");
    }
    let p = t.malloc(1033);
    assert_eq!(t.usable(p), 1048);
    let p = t.malloc(200_000);
    assert_eq!(head(p) & 2, 2, "above the mmap threshold the block is mmapped");
    // One page-rounded mapping holding the chunk and its size word; the usable part excludes the header.
    assert_eq!(t.usable(p), (ptmalloc_rs::constants::request2size(200_000) + 8).next_multiple_of(4096) - 16);
    assert_eq!(t.usable(std::ptr::null_mut()), 0);
}

#[test]
fn overflows_fail_with_enomem() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    assert!(t.calloc(usize::MAX / 2, 3).is_null());
    assert_eq!(malloc.system().last_errno(), ENOMEM);
    malloc.system().clear_errno();
    assert!(t.malloc(usize::MAX - 8).is_null());
    assert_eq!(malloc.system().last_errno(), ENOMEM);
    malloc.system().clear_errno();
    assert!(t.malloc(1 << 40).is_null(), "the fake has no terabyte");
    assert_eq!(malloc.system().last_errno(), ENOMEM);
}

#[test]
fn alignment_rules() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    let mut out = std::ptr::null_mut();
    for bad in [0usize, 4, 12, 24, 40] {
        // SAFETY: the thread state belongs to this allocator.
        let code = unsafe { malloc.posix_memalign(&mut t.state, &mut out, bad, 10) };
        assert_eq!(code, EINVAL, "alignment {bad}");
    }
    // SAFETY: as above.
    assert_eq!(unsafe { malloc.posix_memalign(&mut t.state, &mut out, 256, 10) }, 0);
    assert_eq!(out as usize % 256, 0);
    let p = t.memalign(48, 10);
    assert_eq!(p as usize % 64, 0, "non-power-of-two alignments round up");
    assert!(t.memalign(usize::MAX / 2 + 2, 10).is_null());
    assert_eq!(malloc.system().last_errno(), EINVAL);
    // SAFETY: as above.
    let v = unsafe { malloc.valloc(&mut t.state, 100) };
    assert_eq!(v as usize % 4096, 0);
    // SAFETY: as above.
    let pv = unsafe { malloc.pvalloc(&mut t.state, 5000) };
    assert_eq!(pv as usize % 4096, 0);
    assert!(t.usable(pv) >= 8192);
}

#[test]
fn realloc_in_place_and_by_copy() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    let p = t.malloc(4000);
    fill(p, 4000, 7);
    let shrunk = t.realloc(p, 1500);
    assert_eq!(shrunk, p, "shrinking stays in place (the 2.5 KB tail goes back to top)");
    let grown = t.realloc(p, 5000);
    assert_eq!(grown, p, "the last chunk grows into top");
    assert!(check(grown, 1500, 7));
    let guard = t.malloc(3000);
    let blocker = t.malloc(100);
    t.free(guard);
    let grown = t.realloc(p, 7000);
    assert_eq!(grown, p, "grows into the free chunk that follows");
    let _ = blocker;
    assert!(t.realloc(p, 0).is_null(), "realloc(p, 0) frees");

    let big = t.malloc(300_000);
    fill(big, 300_000, 3);
    let before = malloc.system().counters().mremap_calls;
    let bigger = t.realloc(big, 900_000);
    assert_eq!(malloc.system().counters().mremap_calls, before + 1, "mmapped blocks grow with mremap");
    assert!(check(bigger, 300_000, 3));
}

#[test]
fn first_brk_is_request_plus_top_pad_page_aligned() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    let start = malloc.system().current_brk();
    let p = t.malloc(1);
    assert!(!p.is_null());
    let grown = malloc.system().current_brk() - start;
    // tcache struct (0x290) first: nb + top_pad + MINSIZE, page aligned.
    assert_eq!(grown, (0x290 + 128 * 1024 + 32usize).next_multiple_of(4096));
    assert_eq!(malloc.mallinfo2().arena, grown);
}

#[test]
fn free_at_the_top_trims_the_break() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    let keep = t.malloc(100);
    let big: Vec<_> = (0..8).map(|_| t.malloc(100_000)).collect();
    let high = malloc.system().current_brk();
    for p in big {
        t.free(p);
    }
    let low = malloc.system().current_brk();
    assert!(low < high, "the break went down");
    let info = malloc.mallinfo2();
    assert!(info.keepcost <= 128 * 1024 + 4096 + 32, "keeps about top_pad: {}", info.keepcost);
    t.free(keep);
}

#[test]
fn dynamic_mmap_threshold_rises_on_free() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    let p = t.malloc(1 << 20);
    assert_eq!(head(p) & 2, 2);
    t.free(p);
    let q = t.malloc(1 << 20);
    assert_eq!(head(q) & 2, 0, "after freeing a 1 MiB mapping, 1 MiB comes from the heap");
    let huge = t.malloc(40 << 20);
    assert_eq!(head(huge) & 2, 2);
    t.free(huge);
    let again = t.malloc(40 << 20);
    assert_eq!(head(again) & 2, 2, "the threshold never exceeds 32 MiB");
}

#[test]
fn mallopt_values_and_fixed_threshold() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    assert_eq!(malloc.mallopt(M_MXFAST, 161), 0);
    assert_eq!(malloc.mallopt(M_MXFAST, 160), 1);
    assert_eq!(malloc.mallopt(M_MXFAST, -1), 0);
    assert_eq!(malloc.mallopt(M_ARENA_MAX, 0), 1);
    assert_eq!(malloc.mallopt(12345, 1), 1);
    assert_eq!(malloc.mallopt(M_MMAP_THRESHOLD, 1 << 20), 1);
    let p = t.malloc(300_000);
    assert_eq!(head(p) & 2, 0, "300 KB is below the new threshold: brk");
    let q = t.malloc(2 << 20);
    assert_eq!(head(q) & 2, 2);
    t.free(q);
    let r = t.malloc(2 << 20);
    assert_eq!(head(r) & 2, 2, "a threshold set by mallopt is no longer dynamic");
    assert_eq!(malloc.mallopt(M_MMAP_MAX, 0), 1);
    let s = t.malloc(3 << 20);
    assert_eq!(head(s) & 2, 0, "M_MMAP_MAX 0 disables mmap");
}

#[test]
fn perturb_fills_fresh_and_freed_memory() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    assert_eq!(malloc.mallopt(M_PERTURB, 0xaa), 1);
    let p = t.malloc(2000);
    // SAFETY: a live block of 2000 bytes.
    assert!((0..2000).all(|i| unsafe { p.add(i).read() } == 0x55));
    let z = t.calloc(1, 2000);
    // SAFETY: a live block of 2000 bytes.
    assert!((0..2000).all(|i| unsafe { z.add(i).read() } == 0));
}

#[test]
fn large_free_consolidates_fastbins() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    let small: Vec<_> = (0..20).map(|_| t.malloc(40)).collect();
    let big = t.malloc(70_000);
    let _guard = t.malloc(16);
    for p in small {
        t.free(p);
    }
    assert!(malloc.mallinfo2().smblks > 0, "7 go to the tcache, the rest to a fastbin");
    t.free(big);
    assert_eq!(malloc.mallinfo2().smblks, 0, "freeing >= 64 KiB consolidates the fastbins");
    assert_eq!(malloc.mallopt(M_MXFAST, 0), 1);
    let more: Vec<_> = (0..20).map(|_| t.malloc(40)).collect();
    for p in more {
        t.free(p);
    }
    assert_eq!(malloc.mallinfo2().smblks, 0, "M_MXFAST 0 disables fastbins");
}

#[test]
fn brk_failure_falls_back_to_mmap() {
    let malloc = fake_malloc();
    malloc.system().set_brk_fails(true);
    let mut t = Thread::new(&malloc);
    let p = t.malloc(100);
    assert!(!p.is_null());
    assert_eq!(head(p) & 2, 0, "a heap chunk, not a direct mapping");
    assert!(malloc.system().mapped_bytes() >= 1 << 20, "the substitute heap is at least 1 MiB");
    let many: Vec<_> = (0..50).map(|_| t.malloc(30_000)).collect();
    assert!(many.iter().all(|p| !p.is_null()));
}

#[test]
fn threads_get_their_own_arenas_and_free_returns_to_the_owner() {
    let malloc = fake_malloc();
    let mut main = Thread::new(&malloc);
    let mut other = Thread::new(&malloc);
    let a = main.malloc(2000);
    let b = other.malloc(2000);
    assert_eq!(head(a) & 4, 0, "the first thread uses the main arena");
    assert_eq!(head(b) & 4, 4, "a second thread gets a non-main arena");
    let heap = b as usize & !((64 << 20) - 1);
    // SAFETY: the heap header's first word is the owning arena, its arena follows the 48-byte header.
    assert_eq!(unsafe { (heap as *const usize).read() }, heap + 48);
    main.free(b);
    let again = other.malloc(2000);
    assert_eq!(again, b, "the block went back to its own arena");
    let info = malloc.mallinfo2();
    assert!(info.arena > 64 * 1024 * 2, "two arenas' memory is counted");
}

#[test]
fn exited_threads_arenas_are_reused() {
    let malloc = fake_malloc();
    let mut first = Thread::new(&malloc);
    first.malloc(10);
    let mut second = Thread::new(&malloc);
    let b = second.malloc(2000);
    second.free(b);
    second.exit();
    let mut third = Thread::new(&malloc);
    let c = third.malloc(2000);
    assert_eq!(c as usize & !((64 << 20) - 1), b as usize & !((64 << 20) - 1), "same heap, same arena");
}

#[test]
fn arena_count_is_limited() {
    // glibc computes the limit (8 per CPU) only once more than M_ARENA_TEST (8) arenas exist, so one CPU
    // still gets 9 arenas; M_ARENA_MAX applies at once.
    for (cpus, arena_max, limit) in [(1usize, 0i32, 9usize), (2, 0, 16), (2, 3, 3)] {
        let malloc =
            fake_malloc_with(FakeConfig { nr_cpus: cpus, mmap_size: 3 << 30, ..FakeConfig::default() });
        if arena_max > 0 {
            assert_eq!(malloc.mallopt(M_ARENA_MAX, arena_max), 1);
        }
        let mut threads: Vec<Thread> = (0..24).map(|_| Thread::new(&malloc)).collect();
        let mut heaps = std::collections::BTreeSet::new();
        for thread in &mut threads {
            let p = thread.malloc(5000);
            let owner = if head(p) & 4 == 0 { 0 } else { p as usize & !((64 << 20) - 1) };
            heaps.insert(owner);
        }
        assert_eq!(heaps.len(), limit, "{cpus} CPUs, arena_max {arena_max}");
    }
}

#[test]
fn non_main_heaps_shrink_when_freed() {
    let malloc = fake_malloc();
    let mut main = Thread::new(&malloc);
    main.malloc(1);
    let mut other = Thread::new(&malloc);
    let blocks: Vec<_> = (0..60).map(|_| other.malloc(60_000)).collect();
    let high = malloc.mallinfo2().arena;
    for p in blocks {
        other.free(p);
    }
    assert!(malloc.mallinfo2().arena < high, "heap_trim gave memory back");
}

#[test]
fn malloc_trim_releases_free_pages() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    let blocks: Vec<_> = (0..10).map(|_| t.malloc(50_000)).collect();
    let _tail = t.malloc(100);
    for p in &blocks[..9] {
        t.free(*p);
    }
    let before = malloc.system().counters().madvise_calls;
    assert_eq!(malloc.malloc_trim(0), 1);
    assert!(malloc.system().counters().madvise_calls > before);
}

#[test]
fn stats_and_info_have_glibc_format() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    let p = t.malloc(1000);
    let mut text = String::new();
    malloc.malloc_stats(&mut text).unwrap();
    let arena = malloc.mallinfo2().arena;
    assert!(
        text.starts_with(&format!("Arena 0:\nsystem bytes     = {arena:>10}\nin use bytes     = ")),
        "{text}"
    );
    assert!(
        text.contains("Total (incl. mmap):\n") && text.ends_with(&format!("max mmap bytes   = {:>10}\n", 0))
    );
    t.free(p);
    let mut xml = String::new();
    malloc.malloc_info(0, &mut xml).unwrap();
    assert!(xml.starts_with("<malloc version=\"1\">\n<heap nr=\"0\">\n<sizes>\n"), "{xml}");
    assert!(xml.contains(&format!("<system type=\"current\" size=\"{arena}\"/>")));
    assert!(xml.ends_with("</malloc>\n"));
    assert_eq!(malloc.malloc_info(1, &mut xml), Err(EINVAL));
}

#[test]
fn fork_handlers_lock_and_release() {
    let malloc = fake_malloc();
    let mut t = Thread::new(&malloc);
    let p = t.malloc(5000);
    malloc.fork_lock_parent();
    malloc.fork_unlock_parent();
    t.free(p);
    malloc.fork_lock_parent();
    malloc.fork_unlock_child(&t.state);
    let q = t.malloc(5000);
    assert!(!q.is_null(), "the child can allocate after its handler ran");
}

fn expect_abort(message: &str, corrupt: impl FnOnce(&mut Thread) + std::panic::UnwindSafe) {
    let result = std::panic::catch_unwind(move || {
        let malloc = fake_malloc();
        let mut t = Thread::new(&malloc);
        corrupt(&mut t);
    });
    let payload = result.expect_err("the corruption was not detected");
    let text = payload.downcast_ref::<String>().cloned().unwrap_or_default();
    assert_eq!(text, message);
}

#[test]
fn corruption_is_reported_with_glibc_messages() {
    expect_abort("free(): double free detected in tcache 2", |t| {
        let p = t.malloc(30);
        t.free(p);
        t.free(p);
    });
    expect_abort("double free or corruption (!prev)", |t| {
        let p = t.malloc(3000);
        t.malloc(10);
        t.free(p);
        t.free(p);
    });
    expect_abort("free(): invalid pointer", |t| {
        let p = t.malloc(30);
        // SAFETY: a misaligned pointer is exactly what is being tested; free rejects it before using it.
        t.free(unsafe { p.add(4) });
    });
}
