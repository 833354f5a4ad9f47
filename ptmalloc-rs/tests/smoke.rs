//! First-contact tests of the allocator over the fake system: malloc/free round trips and sizes.

mod common;
use common::*;

#[test]
fn malloc_free_round_trip() {
    let malloc = fake_malloc();
    let mut thread = Thread::new(&malloc);
    let mut blocks = Vec::new();
    for size in [0usize, 1, 24, 25, 100, 1000, 1033, 5000, 70000, 200000, 2 << 20] {
        let p = thread.malloc(size);
        assert!(!p.is_null(), "malloc({size})");
        assert_eq!(p as usize % 16, 0);
        assert!(thread.usable(p) >= size);
        fill(p, size, size as u8);
        blocks.push((p, size));
    }
    for &(p, size) in &blocks {
        assert!(check(p, size, size as u8), "block of {size} bytes was overwritten");
    }
    for (p, _) in blocks {
        thread.free(p);
    }
}
