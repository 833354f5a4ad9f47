//! Time-decay purging (a ptmalloc-rs addition, off unless a decay is set): whole pages inside big free chunks
//! that stayed free for at least the decay go back to the system with `MADV_DONTNEED`, without holding the
//! arena lock during the system calls — what people otherwise do by calling `malloc_trim` from a timer.
//!
//! * Every chunk of at least [`PURGE_MIN_CHUNK`] bytes that `_int_free` or `malloc_consolidate` puts in a bin
//!   gets a stamp in its body, right after the large-bin links: `[p + 48] = PURGE_MAGIC ^ p` (so a stale or
//!   random word is not taken for a stamp) and `[p + 56]` = when it became free (ms) or [`CLEAN`] once purged.
//!   A coalesced or split chunk gets a new stamp (or none, and is stamped when a pass first sees it), so a
//!   stamp always speaks for the whole chunk.
//! * A pass is due `decay` ms after the first stamp of a quiet period. Threads notice it at the end of their
//!   slow-path calls (every [`CHECK_EVERY`] calls, no lock held) and run it: per arena, in one walk of the
//!   bins under the arena lock, chunks stamped at least `decay` ago are *reserved* (unlinked, and the next
//!   chunk's PREV_INUSE set, so they look allocated to everybody else); the lock is dropped for the
//!   `madvise` calls; then, locked again, each chunk is freed back through `_int_free`'s binning, which
//!   coalesces it with neighbours that were freed meanwhile; a chunk that could not coalesce is stamped
//!   [`CLEAN`].
//! * The pass holds `list_lock` throughout, so arenas cannot be created and `fork` cannot happen while
//!   chunks are reserved (the child would inherit them as leaked). Lock order: `list_lock` → arena mutex.
//! * Nothing observable changes: usable sizes, heap layout and `mallinfo2` are glibc's (reserved chunks are
//!   counted as in use during the few microseconds a pass holds them); `MALLOC_PERTURB_` turns purging off
//!   (freeing back would refill the pages).

use crate::allocator::{Malloc, ThreadState};
use crate::arena::Av;
use crate::chunk::{Chunk, load, store};
use crate::constants::*;
use crate::system::{RawLock, SystemMemory};
use core::sync::atomic::Ordering::Relaxed;
use core::sync::atomic::{AtomicU64, AtomicUsize};

/// Smallest chunk that is stamped: a page plus the 64 bytes of header, links and stamp.
pub(crate) const PURGE_MIN_CHUNK: usize = 4096 + 64;
/// Marks a stamp as one (xor-ed with the chunk address).
const PURGE_MAGIC: usize = 0x7075_7267_655f_6d6b;
/// The stamp of a chunk whose pages were returned.
const CLEAN: u64 = u64::MAX;
/// Slow-path calls of a thread between two looks at the clock while a pass is pending.
pub(crate) const CHECK_EVERY: u32 = 64;
/// Most chunks one pass takes out of an arena at once (a bound on what other threads cannot use meanwhile);
/// when reached, the next pass is due at once.
const MAX_RESERVED: usize = 16384;
/// `due_ms` while a pass runs (no new pass is armed or started meanwhile).
const PASS_RUNNING: u64 = u64::MAX;
/// Offset of the stamp in a chunk (after prev_size, size, fd, bk, fd_nextsize, bk_nextsize).
const STAMP: usize = 6 * SIZE_SZ;

/// Purging state and statistics (process-wide).
#[derive(Debug)]
pub(crate) struct PurgeState {
    /// The decay in ms; 0: purging off.
    pub(crate) decay_ms: AtomicU64,
    /// When the next pass is due (ms; 0: nothing pending).
    due_ms: AtomicU64,
    /// The clock as last read: the time stamped on newly freed chunks.
    epoch_ms: AtomicU64,
    /// Bytes given back with `madvise` so far.
    pub(crate) purged_bytes: AtomicUsize,
    /// Passes run so far.
    pub(crate) passes: AtomicUsize,
}

impl PurgeState {
    #[expect(clippy::declare_interior_mutable_const, reason = "an initializer, copied into each Malloc")]
    pub(crate) const OFF: PurgeState = PurgeState {
        decay_ms: AtomicU64::new(0),
        due_ms: AtomicU64::new(0),
        epoch_ms: AtomicU64::new(0),
        purged_bytes: AtomicUsize::new(0),
        passes: AtomicUsize::new(0),
    };
}

/// The pages of chunk `p` (`size` bytes) that can go: whole pages after its first 64 bytes.
fn purgeable(p: Chunk, size: usize, page: usize) -> (usize, usize) {
    let start = align_up(p.addr() + STAMP + 2 * SIZE_SZ, page);
    let end = align_down(p.addr() + size, page);
    (start, end.max(start))
}

fn stamp_of(p: Chunk) -> Option<u64> {
    // SAFETY: `p` is a free chunk of at least PURGE_MIN_CHUNK bytes; its stamp words are inside it.
    unsafe {
        (load(p.addr() + STAMP) == PURGE_MAGIC ^ p.addr()).then(|| load(p.addr() + STAMP + SIZE_SZ) as u64)
    }
}

fn set_stamp(p: Chunk, value: u64) {
    // SAFETY: as in `stamp_of`; the words belong to the free chunk, not to a user.
    unsafe {
        store(p.addr() + STAMP, PURGE_MAGIC ^ p.addr());
        store(p.addr() + STAMP + SIZE_SZ, value as usize);
    }
}

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// `_int_free`/`malloc_consolidate` just binned free chunk `p` of `size` bytes: stamp it.
    #[inline(always)]
    pub(crate) fn purge_note_free(&self, p: Chunk, size: usize) {
        let decay = self.purge.decay_ms.load(Relaxed);
        if decay != 0 && size >= PURGE_MIN_CHUNK {
            self.purge_stamp_new(p, decay);
        }
    }

    #[inline(never)]
    fn purge_stamp_new(&self, p: Chunk, decay: u64) {
        let mut epoch = self.purge.epoch_ms.load(Relaxed);
        if self.purge.due_ms.load(Relaxed) == 0 {
            epoch = self.sys.now_ms();
            self.purge.epoch_ms.store(epoch, Relaxed);
            let _ = self.purge.due_ms.compare_exchange(0, epoch + decay, Relaxed, Relaxed);
        }
        set_stamp(p, epoch);
    }

    /// The end of a slow-path call (no lock held): now and then, look at the clock and run a due pass.
    #[inline(always)]
    pub(crate) fn purge_tick(&self, thread: &mut ThreadState) {
        if self.purge.due_ms.load(Relaxed) == 0 {
            return;
        }
        if thread.purge_countdown > 1 {
            thread.purge_countdown -= 1;
            return;
        }
        thread.purge_countdown = CHECK_EVERY;
        self.purge_check();
    }

    #[inline(never)]
    fn purge_check(&self) {
        let now = self.sys.now_ms();
        self.purge.epoch_ms.store(now, Relaxed);
        let due = self.purge.due_ms.load(Relaxed);
        if due != 0 && due != PASS_RUNNING && now >= due {
            self.purge_pass(now);
        }
    }

    /// One pass over all arenas (see the module docs). Returns the bytes given back.
    pub(crate) fn purge_pass(&self, now: u64) -> usize {
        let decay = self.purge.decay_ms.load(Relaxed);
        if decay == 0 || self.mp.perturb_byte.load(Relaxed) != 0 || !self.list_lock.try_lock() {
            return 0;
        }
        self.purge.due_ms.store(PASS_RUNNING, Relaxed);
        let mut next_due = PASS_RUNNING;
        let mut purged = 0;
        self.for_each_arena(|arena| purged += self.purge_arena(arena, now, decay, &mut next_due));
        self.purge.due_ms.store(if next_due == PASS_RUNNING { 0 } else { next_due }, Relaxed);
        // SAFETY: taken above.
        unsafe { self.list_lock.unlock() };
        self.purge.purged_bytes.fetch_add(purged, Relaxed);
        self.purge.passes.fetch_add(1, Relaxed);
        purged
    }

    fn purge_arena(&self, arena_addr: usize, now: u64, decay: u64, next_due: &mut u64) -> usize {
        let arena = self.arena_ref(arena_addr);
        let page = self.sys.page_size();
        arena.mutex.lock();
        let (reserved, full) = self.reserve_old_chunks(arena.av(), now, decay, next_due);
        // SAFETY: taken above.
        unsafe { arena.mutex.unlock() };
        if full {
            *next_due = now;
        }
        let mut purged = 0;
        let mut p = reserved;
        while !p.is_null() {
            let (start, end) = purgeable(p, p.size(), page);
            // SAFETY: whole pages of a free chunk reserved by this pass: nobody else can use them.
            unsafe { self.sys.madvise_dontneed(start, end - start) };
            purged += end - start;
            p = p.fd();
        }
        if reserved.is_null() {
            return 0;
        }
        arena.mutex.lock();
        let mut p = reserved;
        while !p.is_null() {
            let next = p.fd();
            self.unreserve(arena.av(), p, p.size());
            p = next;
        }
        // SAFETY: taken above.
        unsafe { arena.mutex.unlock() };
        purged
    }

    /// Takes out of the bins the chunks stamped at least `decay` ago that have pages to give (at most
    /// [`MAX_RESERVED`]), chained through their `fd` words; stamps unstamped chunks; lowers `next_due` to
    /// the due time of younger ones. Returns the chain and whether the limit was reached. Caller holds the
    /// arena lock.
    fn reserve_old_chunks(&self, av: Av, now: u64, decay: u64, next_due: &mut u64) -> (Chunk, bool) {
        let page = self.sys.page_size();
        let mut reserved = Chunk::NULL;
        let mut count = 0;
        let first_big_bin = bin_index(PURGE_MIN_CHUNK);
        for index in core::iter::once(1).chain(first_big_bin..NBINS) {
            let bin = av.bin_at(index);
            let mut p = bin.bk();
            while p != bin {
                if count == MAX_RESERVED {
                    return (reserved, true);
                }
                let older = p.bk();
                let size = p.size();
                let (start, end) = purgeable(p, size, page);
                if size >= PURGE_MIN_CHUNK && end > start {
                    match stamp_of(p) {
                        Some(CLEAN) => {}
                        Some(freed) if freed.saturating_add(decay) <= now => {
                            self.unlink_chunk(av, p);
                            p.set_inuse_bit_at_offset(size);
                            p.set_fd(reserved);
                            reserved = p;
                            count += 1;
                        }
                        Some(freed) => *next_due = (*next_due).min(freed + decay),
                        None => {
                            set_stamp(p, now);
                            *next_due = (*next_due).min(now + decay);
                        }
                    }
                }
                p = older;
            }
        }
        (reserved, false)
    }

    /// Frees a reserved chunk back into its arena (locked); stamps it clean if it stayed on its own.
    fn unreserve(&self, av: Av, p: Chunk, size: usize) {
        let next = p.plus(size);
        let alone = p.prev_inuse() && next != av.top() && next.inuse();
        self.int_free_locked(av, p, size);
        if alone {
            set_stamp(p, CLEAN);
        }
    }
}

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    /// Runs a purge pass now (as the allocator does by itself once one is due): gives back the pages of free
    /// chunks stamped at least the decay ago. Returns the bytes given back (0 when purging is off).
    pub fn purge_now(&self) -> usize {
        self.ensure_init();
        self.purge_pass(self.sys.now_ms())
    }
}
