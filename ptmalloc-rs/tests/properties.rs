//! Property tests: random malloc/free/realloc/memalign/calloc traces over several simulated threads (and so
//! several arenas) are replayed against a model of the live blocks. After every step: blocks are aligned,
//! at least as big as asked, never overlap, keep their contents, calloc memory is zero, and the arena figures
//! add up.

mod common;
use common::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Malloc {
        thread: usize,
        size: usize,
    },
    Calloc {
        thread: usize,
        size: usize,
    },
    Memalign {
        thread: usize,
        shift: u32,
        size: usize,
    },
    Free {
        thread: usize,
        pick: usize,
    },
    Realloc {
        thread: usize,
        pick: usize,
        size: usize,
    },
    ThreadExit {
        thread: usize,
    },
    Trim,
    /// Time passes (and a purge pass runs, when purging is on).
    Clock {
        ms: u64,
    },
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        6 => 0usize..200,
        3 => 200usize..1100,
        2 => 1100usize..70_000,
        1 => 100_000usize..600_000,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let thread = 0usize..3;
    prop_oneof![
        8 => (thread.clone(), size()).prop_map(|(thread, size)| Op::Malloc { thread, size }),
        2 => (thread.clone(), size()).prop_map(|(thread, size)| Op::Calloc { thread, size }),
        2 => (thread.clone(), 5u32..14, size()).prop_map(|(thread, shift, size)| Op::Memalign { thread, shift, size }),
        8 => (thread.clone(), any::<usize>()).prop_map(|(thread, pick)| Op::Free { thread, pick }),
        4 => (thread.clone(), any::<usize>(), size()).prop_map(|(thread, pick, size)| Op::Realloc { thread, pick, size }),
        1 => thread.prop_map(|thread| Op::ThreadExit { thread }),
        1 => Just(Op::Trim),
        1 => (0u64..200).prop_map(|ms| Op::Clock { ms }),
    ]
}

struct Block {
    ptr: *mut u8,
    len: usize,
    seed: u8,
}

fn check_new(threads: &[Thread], live: &[Block], ptr: *mut u8, len: usize, alignment: usize) {
    assert!(!ptr.is_null(), "allocation of {len} failed");
    assert_eq!(ptr as usize % alignment, 0, "misaligned block");
    let usable = threads[0].usable(ptr);
    assert!(usable >= len, "usable {usable} < requested {len}");
    let (start, end) = (ptr as usize, ptr as usize + usable);
    for other in live {
        let (other_start, other_end) =
            (other.ptr as usize, other.ptr as usize + threads[0].usable(other.ptr));
        assert!(end <= other_start || other_end <= start, "blocks overlap");
    }
}

/// Replays `ops`; `decay_ms`: time-decay purging (0: off).
fn replay(ops: Vec<Op>, decay_ms: usize) {
    let malloc = fake_malloc();
    assert!(malloc.set_param(ptmalloc_rs::param::PTMALLOC_RS_DECAY_MS, decay_ms));
    let mut threads: Vec<Thread> = (0..3).map(|_| Thread::new(&malloc)).collect();
    let mut live: Vec<Block> = Vec::new();
    for (step, op) in ops.into_iter().enumerate() {
        let seed = step as u8;
        match op {
            Op::Malloc { thread, size } => {
                let ptr = threads[thread].malloc(size);
                check_new(&threads, &live, ptr, size, 16);
                fill(ptr, size, seed);
                live.push(Block { ptr, len: size, seed });
            }
            Op::Calloc { thread, size } => {
                let ptr = threads[thread].calloc(1, size);
                check_new(&threads, &live, ptr, size, 16);
                let usable = threads[thread].usable(ptr);
                // SAFETY: a live block of `usable` bytes.
                assert!((0..usable).all(|i| unsafe { ptr.add(i).read() } == 0), "calloc memory not zero");
                fill(ptr, size, seed);
                live.push(Block { ptr, len: size, seed });
            }
            Op::Memalign { thread, shift, size } => {
                let alignment = 1usize << shift;
                let ptr = threads[thread].memalign(alignment, size);
                check_new(&threads, &live, ptr, size, alignment);
                fill(ptr, size, seed);
                live.push(Block { ptr, len: size, seed });
            }
            Op::Free { thread, pick } if !live.is_empty() => {
                let block = live.swap_remove(pick % live.len());
                assert!(check(block.ptr, block.len, block.seed), "contents changed before free");
                threads[thread].free(block.ptr);
            }
            Op::Realloc { thread, pick, size } if !live.is_empty() => {
                let block = live.swap_remove(pick % live.len());
                assert!(check(block.ptr, block.len, block.seed), "contents changed before realloc");
                let ptr = threads[thread].realloc(block.ptr, size);
                if size == 0 {
                    assert!(ptr.is_null(), "realloc(p, 0) must free and return null");
                    continue;
                }
                check_new(&threads, &live, ptr, size, 16);
                let kept = block.len.min(size);
                assert!(check(ptr, kept, block.seed), "realloc lost contents");
                fill(ptr, size, seed);
                live.push(Block { ptr, len: size, seed });
            }
            Op::ThreadExit { thread } => threads[thread].exit(),
            Op::Trim => {
                malloc.malloc_trim(0);
            }
            Op::Clock { ms } => {
                malloc.system().advance_clock_ms(ms);
                malloc.purge_now();
            }
            _ => {}
        }
        let info = malloc.mallinfo2();
        assert_eq!(info.uordblks + info.fordblks, info.arena, "arena figures do not add up");
    }
    for block in &live {
        assert!(check(block.ptr, block.len, block.seed), "contents changed at the end");
    }
    for block in live {
        threads[0].free(block.ptr);
    }
    for thread in &mut threads {
        thread.exit();
    }
    let info = malloc.mallinfo2();
    assert_eq!(info.hblks, 0, "mmapped blocks leaked");
    assert_eq!(info.hblkhd, 0);
    assert_eq!(info.uordblks + info.fordblks, info.arena);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_traces_keep_blocks_intact(ops in proptest::collection::vec(op(), 1..400)) {
        replay(ops, 0);
    }

    #[test]
    fn random_traces_with_purging_keep_blocks_intact(ops in proptest::collection::vec(op(), 1..400)) {
        replay(ops, 50);
    }
}
