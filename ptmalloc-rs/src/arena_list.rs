//! Choosing an arena for a thread (arena.c): the thread's own arena, else one from the free list of arenas
//! whose threads exited, else a new one while under the limit (8 x CPUs, or `M_ARENA_MAX`; checked only once
//! more than `M_ARENA_TEST` arenas exist), else the next arena found unlocked (round robin). Plus thread exit
//! (tcache flush, arena detach) and the fork handlers.
//!
//! Lock order: `list_lock` → arena mutexes (in ring order) ; `free_list_lock` is a leaf lock.

use crate::allocator::{Malloc, ThreadState};
use crate::arena::Arena;
use crate::constants::*;
use crate::heap::HEAP_INFO_SIZE;
use crate::system::{RawLock, SystemMemory};
use crate::tcache::{Tc, TcacheGet};
use core::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// `arena_get`: locks and returns the thread's arena, choosing one first if needed (0: none usable).
    pub(crate) fn arena_get(&self, thread: &mut ThreadState, size: usize) -> usize {
        self.attach_first_thread(thread);
        let arena = thread.arena;
        if arena != 0 {
            self.arena_ref(arena).mutex.lock();
            arena
        } else {
            self.multi_threaded.store(true, Relaxed);
            self.arena_get2(thread, size, 0)
        }
    }

    /// `arena_get2`.
    pub(crate) fn arena_get2(&self, thread: &mut ThreadState, size: usize, avoid: usize) -> usize {
        let arena = self.get_free_list(thread);
        if arena != 0 {
            return arena;
        }
        if self.narenas_limit.load(Relaxed) == 0 {
            let arena_max = self.mp.arena_max.load(Relaxed);
            if arena_max != 0 {
                self.narenas_limit.store(arena_max, Relaxed);
            } else if self.narenas.load(Relaxed) > self.mp.arena_test.load(Relaxed) {
                let cpus = self.sys.nr_cpus();
                let cpus = if cpus >= 1 { cpus } else { 2 };
                self.narenas_limit.store(cpus * ARENAS_PER_CORE, Relaxed);
            }
        }
        loop {
            let n = self.narenas.load(Relaxed);
            if n <= self.narenas_limit.load(Relaxed).wrapping_sub(1) {
                if self.narenas.compare_exchange(n, n + 1, AcqRel, Relaxed).is_err() {
                    continue;
                }
                let arena = self.new_arena(thread, size);
                if arena == 0 {
                    self.narenas.fetch_sub(1, Relaxed);
                }
                return arena;
            }
            return self.reused_arena(thread, avoid);
        }
    }

    /// `_int_new_arena`: a heap holding a fresh arena, attached to `thread` and returned locked.
    fn new_arena(&self, thread: &mut ThreadState, size: usize) -> usize {
        let arena_size = core::mem::size_of::<Arena<L>>();
        let top_pad = self.mp.top_pad.load(Relaxed);
        let heap = match self.new_heap(size + (HEAP_INFO_SIZE + arena_size + MALLOC_ALIGNMENT), top_pad) {
            Some(heap) => heap,
            None => match self.new_heap(HEAP_INFO_SIZE + arena_size + MALLOC_ALIGNMENT, top_pad) {
                Some(heap) => heap,
                None => return 0,
            },
        };
        let arena_addr = heap.0 + HEAP_INFO_SIZE;
        // SAFETY: the heap's first pages are read-write and unused; `arena_addr` is 16-aligned.
        unsafe { core::ptr::with_exposed_provenance_mut::<Arena<L>>(arena_addr).write(Arena::ZEROED) };
        heap.set_ar_ptr(arena_addr);
        let arena = self.arena_ref(arena_addr);
        let av = arena.av();
        av.init_state(false);
        av.set_attached_threads(1);
        av.set_system_mem(heap.size());
        av.set_max_system_mem(heap.size());
        let mut ptr = arena_addr + arena_size;
        let misalign = (ptr + CHUNK_HDR_SZ) & MALLOC_ALIGN_MASK;
        if misalign > 0 {
            ptr += MALLOC_ALIGNMENT - misalign;
        }
        // SAFETY: inside the heap's read-write part, after the arena.
        let top = unsafe { crate::chunk::Chunk::at(ptr) };
        av.set_top(top);
        top.set_head((heap.0 + heap.size() - ptr) | PREV_INUSE);

        let replaced = thread.arena;
        thread.arena = arena_addr;
        self.list_lock.lock();
        let main = self.main_av();
        av.set_next(main.next());
        main.set_next(arena_addr);
        // SAFETY: taken above.
        unsafe { self.list_lock.unlock() };
        self.free_list_lock.lock();
        self.detach_arena(replaced);
        // SAFETY: taken above.
        unsafe { self.free_list_lock.unlock() };
        arena.mutex.lock();
        arena_addr
    }

    /// Drops one attachment of `arena` (if any). Caller holds `free_list_lock`.
    fn detach_arena(&self, arena: usize) {
        if arena != 0 {
            let av = self.arena_ref(arena).av();
            av.set_attached_threads(av.attached_threads() - 1);
        }
    }

    /// `get_free_list`: an arena whose threads all exited, attached and locked (0: none).
    fn get_free_list(&self, thread: &mut ThreadState) -> usize {
        if self.free_list.load(Acquire) == 0 {
            return 0;
        }
        let replaced = thread.arena;
        self.free_list_lock.lock();
        let result = self.free_list.load(Relaxed);
        if result != 0 {
            let av = self.arena_ref(result).av();
            self.free_list.store(av.next_free(), Release);
            av.set_attached_threads(1);
            self.detach_arena(replaced);
        }
        // SAFETY: taken above.
        unsafe { self.free_list_lock.unlock() };
        if result != 0 {
            self.arena_ref(result).mutex.lock();
            thread.arena = result;
        }
        result
    }

    /// Removes `arena` from the free list if it is there. Caller holds `free_list_lock`.
    fn remove_from_free_list(&self, arena: usize) {
        let mut previous: Option<usize> = None;
        let mut cursor = self.free_list.load(Relaxed);
        while cursor != 0 {
            let av = self.arena_ref(cursor).av();
            if cursor == arena {
                match previous {
                    None => self.free_list.store(av.next_free(), Release),
                    Some(prev) => self.arena_ref(prev).av().set_next_free(av.next_free()),
                }
                return;
            }
            previous = Some(cursor);
            cursor = av.next_free();
        }
    }

    /// `reused_arena`: the first arena found unlocked from the round-robin cursor, else wait on the next one
    /// (not `avoid`). Returned locked and attached to `thread`.
    fn reused_arena(&self, thread: &mut ThreadState, avoid: usize) -> usize {
        let mut start = self.next_to_use.load(Relaxed);
        if start == 0 {
            start = self.main_arena_addr();
        }
        let mut result = start;
        let mut locked = false;
        loop {
            if self.arena_ref(result).mutex.try_lock() {
                locked = true;
                break;
            }
            result = self.arena_ref(result).av().next();
            if result == start {
                break;
            }
        }
        if !locked {
            if result == avoid {
                result = self.arena_ref(result).av().next();
            }
            self.arena_ref(result).mutex.lock();
        }
        let replaced = thread.arena;
        self.free_list_lock.lock();
        self.detach_arena(replaced);
        self.remove_from_free_list(result);
        let av = self.arena_ref(result).av();
        av.set_attached_threads(av.attached_threads() + 1);
        // SAFETY: taken above.
        unsafe { self.free_list_lock.unlock() };
        thread.arena = result;
        self.next_to_use.store(av.next(), Relaxed);
        result
    }

    /// `arena_get_retry`: after a failure in `arena` (locked), try the main arena, or from the main arena
    /// another one. Returns the new locked arena.
    pub(crate) fn arena_get_retry(&self, thread: &mut ThreadState, arena: usize, bytes: usize) -> usize {
        let main = self.main_arena_addr();
        // SAFETY: the caller holds `arena`'s mutex.
        unsafe { self.arena_ref(arena).mutex.unlock() };
        if arena != main {
            self.arena_ref(main).mutex.lock();
            main
        } else {
            self.arena_get2(thread, bytes, arena)
        }
    }

    /// `tcache_thread_shutdown`: returns every cached chunk and the cache itself to their arenas.
    fn tcache_thread_shutdown(&self, thread: &mut ThreadState) {
        thread.tcache_shutting_down = true;
        let tc = thread.tcache;
        if tc.is_null() {
            return;
        }
        thread.tcache = Tc::NULL;
        for index in 0..TCACHE_MAX_BINS {
            while tc.head(index) != 0 {
                let entry = match tc.get(index) {
                    TcacheGet::Entry(entry) => entry,
                    TcacheGet::Unaligned => {
                        self.printerr("tcache_thread_shutdown(): unaligned tcache chunk detected")
                    }
                };
                // SAFETY: a chunk this allocator cached for this thread.
                unsafe { self.free(thread, core::ptr::with_exposed_provenance_mut(entry)) };
            }
        }
        // SAFETY: the cache is itself an allocation of this allocator.
        unsafe { self.free(thread, core::ptr::with_exposed_provenance_mut(tc.0)) };
    }

    /// Thread exit (`__malloc_arena_thread_freeres`): flush the tcache, then detach from the arena, putting
    /// it on the free list when no thread uses it any more.
    pub fn thread_exit(&self, thread: &mut ThreadState) {
        self.tcache_thread_shutdown(thread);
        let arena = thread.arena;
        thread.arena = 0;
        if arena != 0 {
            self.free_list_lock.lock();
            let av = self.arena_ref(arena).av();
            let attached = av.attached_threads() - 1;
            av.set_attached_threads(attached);
            if attached == 0 {
                av.set_next_free(self.free_list.load(Relaxed));
                self.free_list.store(arena, Release);
            }
            // SAFETY: taken above.
            unsafe { self.free_list_lock.unlock() };
        }
    }

    /// Calls `f` on every arena, main first.
    pub(crate) fn for_each_arena(&self, mut f: impl FnMut(usize)) {
        let main = self.main_arena_addr();
        let mut arena = main;
        loop {
            f(arena);
            arena = self.arena_ref(arena).av().next();
            if arena == main || arena == 0 {
                break;
            }
        }
    }

    /// Fork handler run in the parent before `fork`: takes every malloc lock.
    #[cfg_attr(feature = "preload", unsafe(link_section = ".text.rare"))]
    pub fn fork_lock_parent(&self) {
        if !self.is_initialized() {
            return;
        }
        self.list_lock.lock();
        self.for_each_arena(|arena| self.arena_ref(arena).mutex.lock());
    }

    /// Fork handler run in the parent after `fork`.
    #[cfg_attr(feature = "preload", unsafe(link_section = ".text.rare"))]
    pub fn fork_unlock_parent(&self) {
        if !self.is_initialized() {
            return;
        }
        // SAFETY: `fork_lock_parent` took every arena mutex and the list lock in this thread.
        self.for_each_arena(|arena| unsafe { self.arena_ref(arena).mutex.unlock() });
        // SAFETY: as above.
        unsafe { self.list_lock.unlock() };
    }

    /// Fork handler run in the child after `fork`: re-initializes the locks and puts every arena except the
    /// forking thread's on the free list.
    #[cfg_attr(feature = "preload", unsafe(link_section = ".text.rare"))]
    pub fn fork_unlock_child(&self, thread: &ThreadState) {
        if !self.is_initialized() {
            return;
        }
        // SAFETY: the child has a single thread; the locks' holders do not exist in it.
        unsafe { self.free_list_lock.reinit() };
        if thread.arena != 0 {
            self.arena_ref(thread.arena).av().set_attached_threads(1);
        }
        self.free_list.store(0, Relaxed);
        self.for_each_arena(|arena| {
            // SAFETY: as above.
            unsafe { self.arena_ref(arena).mutex.reinit() };
            if arena != thread.arena {
                let av = self.arena_ref(arena).av();
                av.set_attached_threads(0);
                av.set_next_free(self.free_list.load(Relaxed));
                self.free_list.store(arena, Relaxed);
            }
        });
        // SAFETY: as above.
        unsafe { self.list_lock.reinit() };
    }
}
