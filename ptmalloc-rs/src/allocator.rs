//! The allocator object (glibc's globals: `main_arena`, `mp_`, the arena lists) and per-thread state.
//!
//! glibc keeps these as C statics; here they are one [`Malloc`] value so that tests can run many independent
//! allocators over fake memory. The value must not move once used, because bin headers point into the main
//! arena: put it in a `static` or use [`Malloc::boxed`] (pinned box).
//!
//! Tunables (`mp_`) are atomics read with relaxed ordering: glibc reads them without locks too, and on x86-64
//! a relaxed load is a plain load.

use crate::arena::{Arena, Av};
use crate::chunk::Chunk;
use crate::constants::*;
use crate::heap::HeapInfo;
use crate::purge::PurgeState;
use crate::system::{RawLock, SystemMemory};
use crate::tcache::Tc;
use core::marker::PhantomPinned;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicIsize, AtomicU8, AtomicUsize};

/// Tunable parameters and global statistics (`struct malloc_par` plus a few globals).
#[derive(Debug)]
pub(crate) struct Params {
    pub(crate) trim_threshold: AtomicUsize,
    pub(crate) top_pad: AtomicUsize,
    pub(crate) mmap_threshold: AtomicUsize,
    pub(crate) arena_test: AtomicUsize,
    pub(crate) arena_max: AtomicUsize,
    pub(crate) n_mmaps: AtomicIsize,
    pub(crate) n_mmaps_max: AtomicIsize,
    pub(crate) max_n_mmaps: AtomicIsize,
    pub(crate) no_dyn_threshold: AtomicBool,
    pub(crate) mmapped_mem: AtomicUsize,
    pub(crate) max_mmapped_mem: AtomicUsize,
    pub(crate) sbrk_base: AtomicUsize,
    pub(crate) tcache_bins: AtomicUsize,
    pub(crate) tcache_count: AtomicUsize,
    pub(crate) tcache_unsorted_limit: AtomicUsize,
    /// `global_max_fast`.
    pub(crate) max_fast: AtomicUsize,
    /// `perturb_byte` (0: off).
    pub(crate) perturb_byte: AtomicI32,
}

impl Params {
    #[expect(clippy::declare_interior_mutable_const, reason = "an initializer, copied into each Malloc")]
    const DEFAULT: Params = Params {
        trim_threshold: AtomicUsize::new(DEFAULT_TRIM_THRESHOLD),
        top_pad: AtomicUsize::new(DEFAULT_TOP_PAD),
        mmap_threshold: AtomicUsize::new(DEFAULT_MMAP_THRESHOLD_MIN),
        arena_test: AtomicUsize::new(ARENAS_PER_CORE),
        arena_max: AtomicUsize::new(0),
        n_mmaps: AtomicIsize::new(0),
        n_mmaps_max: AtomicIsize::new(DEFAULT_MMAP_MAX as isize),
        max_n_mmaps: AtomicIsize::new(0),
        no_dyn_threshold: AtomicBool::new(false),
        mmapped_mem: AtomicUsize::new(0),
        max_mmapped_mem: AtomicUsize::new(0),
        sbrk_base: AtomicUsize::new(0),
        tcache_bins: AtomicUsize::new(TCACHE_MAX_BINS),
        tcache_count: AtomicUsize::new(TCACHE_FILL_COUNT),
        tcache_unsorted_limit: AtomicUsize::new(0),
        max_fast: AtomicUsize::new(0),
        perturb_byte: AtomicI32::new(0),
    };
}

/// What one thread keeps: its cache and its arena (glibc's `tcache` and `thread_arena` TLS variables).
/// Create one per thread with [`ThreadState::new`]; give it back with [`Malloc::thread_exit`].
#[derive(Debug)]
pub struct ThreadState {
    pub(crate) tcache: Tc,
    /// Address of the attached `Arena<L>` (0: none yet).
    pub(crate) arena: usize,
    pub(crate) tcache_shutting_down: bool,
    /// Slow-path calls left before this thread looks at the clock again (`purge.rs`).
    pub(crate) purge_countdown: u32,
}

impl ThreadState {
    /// A thread that has not allocated yet.
    pub const fn new() -> ThreadState {
        ThreadState { tcache: Tc::NULL, arena: 0, tcache_shutting_down: false, purge_countdown: 0 }
    }
}

impl Default for ThreadState {
    fn default() -> Self {
        Self::new()
    }
}

/// The allocator: system memory `S`, locks `L`, the main arena and the global parameters.
pub struct Malloc<S, L> {
    pub(crate) sys: S,
    pub(crate) main_arena: Arena<L>,
    pub(crate) mp: Params,
    /// Time-decay purging (off unless a decay is set).
    pub(crate) purge: PurgeState,
    /// Serializes arena creation (`next` links) and fork.
    pub(crate) list_lock: L,
    /// Guards `free_list`, `next_free` and `attached_threads`.
    pub(crate) free_list_lock: L,
    pub(crate) free_list: AtomicUsize,
    pub(crate) narenas: AtomicUsize,
    pub(crate) narenas_limit: AtomicUsize,
    pub(crate) next_to_use: AtomicUsize,
    pub(crate) aligned_heap_area: AtomicUsize,
    pub(crate) tcache_key: AtomicUsize,
    /// Set once a second thread attached to an arena (glibc's `!SINGLE_THREAD_P`: enables retries in
    /// other arenas when one is exhausted).
    pub(crate) multi_threaded: AtomicBool,
    /// Whether a thread already got the main arena as its first arena.
    main_claimed: AtomicBool,
    /// 0: not initialized, 1: initializing, 2: ready (`__malloc_initialized`).
    initialized: AtomicU8,
    _pinned: PhantomPinned,
}

// SAFETY: all shared mutable state is behind the arena mutexes, the list locks or atomics, exactly as glibc
// protects it.
unsafe impl<S: Sync, L: Sync> Sync for Malloc<S, L> {}
// SAFETY: as above; moving a `Malloc` between threads before first use is fine (it is not moved after use).
unsafe impl<S: Send, L: Send> Send for Malloc<S, L> {}

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// A fresh allocator over `sys` (usable in a `static`).
    ///
    /// # Safety
    /// The value must not be moved after its first use (bins point into it): keep it in a `static` or a
    /// pinned box.
    pub const unsafe fn new(sys: S) -> Self {
        Malloc {
            sys,
            main_arena: Arena::ZEROED,
            mp: Params::DEFAULT,
            purge: PurgeState::OFF,
            list_lock: L::INIT,
            free_list_lock: L::INIT,
            free_list: AtomicUsize::new(0),
            narenas: AtomicUsize::new(1),
            narenas_limit: AtomicUsize::new(0),
            next_to_use: AtomicUsize::new(0),
            aligned_heap_area: AtomicUsize::new(0),
            tcache_key: AtomicUsize::new(0),
            multi_threaded: AtomicBool::new(false),
            main_claimed: AtomicBool::new(false),
            initialized: AtomicU8::new(0),
            _pinned: PhantomPinned,
        }
    }

    /// The system this allocator runs on.
    pub fn system(&self) -> &S {
        &self.sys
    }

    pub(crate) fn main_av(&self) -> Av {
        self.main_arena.av()
    }

    pub(crate) fn main_arena_addr(&self) -> usize {
        (&self.main_arena as *const Arena<L>).expose_provenance()
    }

    /// The arena at `addr` (an `Arena<L>` this allocator created).
    pub(crate) fn arena_ref(&self, addr: usize) -> &Arena<L> {
        // SAFETY: arena addresses come from `main_arena_addr` or `new_arena`; arenas are never freed.
        unsafe { &*core::ptr::with_exposed_provenance::<Arena<L>>(addr) }
    }

    pub(crate) fn is_main(&self, av: Av) -> bool {
        av == self.main_av()
    }

    /// The NON_MAIN_ARENA bit for chunks of `av`.
    pub(crate) fn arena_bit(&self, av: Av) -> usize {
        if self.is_main(av) { 0 } else { NON_MAIN_ARENA }
    }

    /// `arena_for_chunk`: the main arena, or the owner recorded in the chunk's 64 MiB-aligned heap.
    pub(crate) fn arena_for_chunk(&self, chunk: Chunk) -> usize {
        if chunk.is_main_arena() { self.main_arena_addr() } else { HeapInfo::for_ptr(chunk.addr()).ar_ptr() }
    }

    /// `malloc_printerr`.
    pub(crate) fn printerr(&self, message: &str) -> ! {
        self.sys.fatal(message)
    }

    pub(crate) fn set_errno(&self, errno: i32) {
        self.sys.set_errno(errno)
    }

    /// `ptmalloc_init`, run once before the first use of any entry point.
    #[inline(always)]
    pub(crate) fn ensure_init(&self) {
        if self.initialized.load(Acquire) != 2 {
            self.init_slow();
        }
    }

    /// Whether the allocator has been used (initialized) yet.
    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Acquire) == 2
    }

    #[cold]
    fn init_slow(&self) {
        if self.initialized.compare_exchange(0, 1, Acquire, Relaxed).is_err() {
            while self.initialized.load(Acquire) != 2 {
                core::hint::spin_loop();
            }
            return;
        }
        self.tcache_key.store(self.sys.random_u64() as usize, Relaxed);
        let av = self.main_av();
        av.init_state(true);
        av.set_next(self.main_arena_addr());
        av.set_attached_threads(1);
        self.mp.max_fast.store(max_fast_for(DEFAULT_MXFAST), Relaxed);
        self.initialized.store(2, Release);
    }

    /// Attaches the main arena to the first thread (glibc sets `thread_arena = &main_arena` in init).
    pub(crate) fn attach_first_thread(&self, thread: &mut ThreadState) {
        if thread.arena == 0 && self.first_thread_claimed() {
            thread.arena = self.main_arena_addr();
        }
    }

    fn first_thread_claimed(&self) -> bool {
        !self.main_claimed.swap(true, Relaxed)
    }

    pub(crate) fn alloc_perturb(&self, mem: usize, len: usize) {
        let byte = self.mp.perturb_byte.load(Relaxed);
        if byte != 0 {
            // SAFETY: `mem` is a fresh allocation of at least `len` usable bytes.
            unsafe { crate::chunk::fill_bytes(mem, (byte ^ 0xff) as u8, len) }
        }
    }

    pub(crate) fn free_perturb(&self, mem: usize, len: usize) {
        let byte = self.mp.perturb_byte.load(Relaxed);
        if byte != 0 {
            // SAFETY: `mem` is the user memory of a chunk being freed, `len` bytes of it.
            unsafe { crate::chunk::fill_bytes(mem, byte as u8, len) }
        }
    }
}
