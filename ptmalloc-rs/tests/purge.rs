//! Time-decay purging over the fake system: off by default; when on, the whole pages of a big free chunk go
//! back (MADV_DONTNEED) only after the chunk stayed free for the decay, through the allocator's own
//! slow-path calls, without changing what users and mallinfo2 see.

mod common;
use common::*;
use ptmalloc_rs::param::PTMALLOC_RS_DECAY_MS;

const BIG: usize = 40_000;

/// Slow-path calls that never touch the free chunk under test: a block bigger than it, from top, freed
/// back into top.
fn slow_calls(thread: &mut Thread, count: usize) {
    for _ in 0..count {
        let p = thread.malloc(50_000);
        thread.free(p);
    }
}

/// `[small, big, guard]` in use, then `big` freed: returns (big, guard).
fn free_big_between_neighbours(thread: &mut Thread) -> (*mut u8, *mut u8) {
    let _small = thread.malloc(2000);
    let big = thread.malloc(BIG);
    let guard = thread.malloc(2000);
    fill(big, BIG, 9);
    thread.free(big);
    (big, guard)
}

#[test]
fn purging_is_off_by_default() {
    let malloc = fake_malloc();
    let mut thread = Thread::new(&malloc);
    free_big_between_neighbours(&mut thread);
    malloc.system().advance_clock_ms(60_000);
    slow_calls(&mut thread, 300);
    assert_eq!(malloc.purge_now(), 0);
    assert_eq!(malloc.system().counters().madvise_calls, 0);
}

#[test]
fn free_pages_go_back_after_the_decay_only() {
    let malloc = fake_malloc();
    assert!(malloc.set_param(PTMALLOC_RS_DECAY_MS, 100));
    let mut thread = Thread::new(&malloc);
    let (big, guard) = free_big_between_neighbours(&mut thread);
    let before = malloc.mallinfo2();

    malloc.system().advance_clock_ms(60);
    slow_calls(&mut thread, 300);
    assert_eq!(malloc.system().counters().madvise_calls, 0, "purged before the decay");

    malloc.system().advance_clock_ms(60);
    slow_calls(&mut thread, 300);
    let counters = malloc.system().counters();
    assert_eq!(counters.madvise_calls, 1, "the chunk's pages in one call");
    assert!(counters.madvise_bytes >= BIG - 3 * 4096, "only {} bytes", counters.madvise_bytes);
    assert_eq!(malloc.mallinfo2(), before, "purging changed mallinfo2");

    // Clean now: later passes leave it alone.
    malloc.system().advance_clock_ms(1000);
    slow_calls(&mut thread, 300);
    assert_eq!(malloc.system().counters().madvise_calls, 1, "a clean chunk was purged again");

    // The chunk is still a normal free chunk: it coalesces with a freed neighbour and is reused.
    thread.free(guard);
    let again = thread.malloc(BIG + 2000);
    assert_eq!(again, big, "the purged chunk was not reused");
    // SAFETY: a live block of BIG + 2000 bytes; the middle of the old chunk was given back, so reads zero.
    let middle = unsafe { again.add(BIG / 2).read() };
    assert_eq!(middle, 0, "the pages were not returned");
    fill(again, BIG + 2000, 3);
    assert!(check(again, BIG + 2000, 3));
}

#[test]
fn a_reused_chunk_is_not_purged() {
    let malloc = fake_malloc();
    assert!(malloc.set_param(PTMALLOC_RS_DECAY_MS, 100));
    let mut thread = Thread::new(&malloc);
    let (big, _guard) = free_big_between_neighbours(&mut thread);
    let reused = thread.malloc(BIG);
    assert_eq!(reused, big);
    fill(reused, BIG, 5);
    malloc.system().advance_clock_ms(1000);
    slow_calls(&mut thread, 300);
    assert_eq!(malloc.purge_now(), 0);
    assert_eq!(malloc.system().counters().madvise_calls, 0);
    assert!(check(reused, BIG, 5), "a block in use was purged");
}

#[test]
fn malloc_stats64_prints_full_figures_and_purging() {
    let malloc = fake_malloc();
    assert!(malloc.set_param(PTMALLOC_RS_DECAY_MS, 10));
    let mut thread = Thread::new(&malloc);
    free_big_between_neighbours(&mut thread);
    malloc.system().advance_clock_ms(20);
    let purged = malloc.purge_now();
    assert!(purged >= BIG - 3 * 4096);
    let mut glibc_text = String::new();
    malloc.malloc_stats(&mut glibc_text).unwrap();
    let mut wide_text = String::new();
    malloc.malloc_stats64(&mut wide_text).unwrap();
    assert!(wide_text.starts_with(&glibc_text), "the 64-bit report must extend glibc's text:\n{wide_text}");
    assert!(wide_text.contains(&format!("purged bytes     = {purged:>10}\n")), "{wide_text}");
    assert!(wide_text.ends_with("purge passes     =          1\n"), "{wide_text}");
}
