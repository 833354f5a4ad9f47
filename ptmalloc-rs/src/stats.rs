//! Introspection and tuning: `mallinfo2`, `malloc_stats` (glibc's text), `malloc_info` (glibc's XML),
//! `malloc_trim` and `mallopt` with glibc's parameter numbers and return values.

use crate::allocator::Malloc;
use crate::arena::Av;
use crate::chunk::Chunk;
use crate::constants::*;
use crate::heap::HeapInfo;
use crate::system::{EINVAL, RawLock, SystemMemory};
use core::fmt::{self, Write};
use core::sync::atomic::Ordering::Relaxed;

/// `struct mallinfo2` (all fields `size_t`, glibc's order).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MallInfo2 {
    /// Non-mmapped space obtained from the system.
    pub arena: usize,
    /// Free chunks (top and bins).
    pub ordblks: usize,
    /// Free fastbin chunks.
    pub smblks: usize,
    /// mmapped regions.
    pub hblks: usize,
    /// Bytes in mmapped regions.
    pub hblkhd: usize,
    /// Always 0.
    pub usmblks: usize,
    /// Bytes in free fastbin chunks.
    pub fsmblks: usize,
    /// Bytes in use (non-mmapped).
    pub uordblks: usize,
    /// Bytes free (non-mmapped).
    pub fordblks: usize,
    /// Releasable top space of the main arena.
    pub keepcost: usize,
}

/// `mallopt` parameter numbers (malloc.h).
pub mod param {
    /// Largest fastbin request.
    pub const M_MXFAST: i32 = 1;
    /// Top size that triggers trimming.
    pub const M_TRIM_THRESHOLD: i32 = -1;
    /// Extra bytes requested from brk.
    pub const M_TOP_PAD: i32 = -2;
    /// Requests at least this big are mmapped.
    pub const M_MMAP_THRESHOLD: i32 = -3;
    /// Most simultaneous mmapped chunks.
    pub const M_MMAP_MAX: i32 = -4;
    /// Ignored (MALLOC_CHECK_).
    pub const M_CHECK_ACTION: i32 = -5;
    /// Fill byte for fresh and freed memory.
    pub const M_PERTURB: i32 = -6;
    /// Arenas created before the limit is computed.
    pub const M_ARENA_TEST: i32 = -7;
    /// Arena limit.
    pub const M_ARENA_MAX: i32 = -8;
    /// Tunable `glibc.malloc.tcache_max` (no mallopt number in glibc; ours).
    pub const TUNABLE_TCACHE_MAX: i32 = -1001;
    /// Tunable `glibc.malloc.tcache_count` (no mallopt number in glibc; ours).
    pub const TUNABLE_TCACHE_COUNT: i32 = -1002;
    /// Tunable `glibc.malloc.tcache_unsorted_limit` (no mallopt number in glibc; ours).
    pub const TUNABLE_TCACHE_UNSORTED_LIMIT: i32 = -1003;
    /// ptmalloc-rs's time-decay purging: free pages that stayed free this many milliseconds go back to the
    /// system (0: off, the default). Also `PTMALLOC_RS_DECAY_MS` in the environment.
    pub const PTMALLOC_RS_DECAY_MS: i32 = -1004;
}

/// Free-chunk figures of one bin for `malloc_info`.
#[derive(Clone, Copy, Default)]
struct SizeRow {
    from: usize,
    to: usize,
    total: usize,
    count: usize,
}

impl<S: SystemMemory, L: RawLock> Malloc<S, L> {
    fn fastbin_unaligned(&self, p: Chunk, message: &str) {
        if p.mem() & MALLOC_ALIGN_MASK != 0 {
            self.printerr(message);
        }
    }

    /// Follows a fastbin link.
    fn fastbin_next(p: Chunk) -> Chunk {
        // SAFETY: a safe-linked fastbin link written by `free`.
        unsafe { Chunk::at(crate::chunk::protect_ptr(p.fd_addr(), p.fd_word())) }
    }

    /// `int_mallinfo`: adds arena `av`'s figures (locked) to `m`.
    fn int_mallinfo(&self, av: Av, m: &mut MallInfo2) {
        let mut avail = av.top().size();
        let mut nblocks = 1;
        let mut nfastblocks = 0;
        let mut fastavail = 0;
        for index in 0..NFASTBINS {
            let mut p = av.fastbin(index);
            while !p.is_null() {
                self.fastbin_unaligned(p, "int_mallinfo(): unaligned fastbin chunk detected");
                nfastblocks += 1;
                fastavail += p.size();
                p = Self::fastbin_next(p);
            }
        }
        avail += fastavail;
        for index in 1..NBINS {
            let bin = av.bin_at(index);
            let mut p = bin.bk();
            while p != bin {
                nblocks += 1;
                avail += p.size();
                p = p.bk();
            }
        }
        m.smblks += nfastblocks;
        m.ordblks += nblocks;
        m.fordblks += avail;
        m.uordblks += av.system_mem() - avail;
        m.arena += av.system_mem();
        m.fsmblks += fastavail;
        if self.is_main(av) {
            m.hblks = self.mp.n_mmaps.load(Relaxed) as usize;
            m.hblkhd = self.mp.mmapped_mem.load(Relaxed);
            m.usmblks = 0;
            m.keepcost = av.top().size();
        }
    }

    /// `mallinfo2`: figures summed over all arenas.
    pub fn mallinfo2(&self) -> MallInfo2 {
        self.ensure_init();
        let mut m = MallInfo2::default();
        self.for_each_arena(|arena| {
            let arena = self.arena_ref(arena);
            arena.mutex.lock();
            self.int_mallinfo(arena.av(), &mut m);
            // SAFETY: taken above.
            unsafe { arena.mutex.unlock() };
        });
        m
    }

    /// `malloc_stats`: glibc's report (32-bit figures, as glibc prints them), written to `out`.
    pub fn malloc_stats(&self, out: &mut dyn Write) -> fmt::Result {
        self.write_stats(out, false)
    }

    /// `malloc_stats64` (a ptmalloc-rs extension): the report of `malloc_stats` with full 64-bit figures
    /// (glibc's truncates them to 32 bits, so heaps past 4 GiB print wrong totals), followed by the figures
    /// of time-decay purging.
    pub fn malloc_stats64(&self, out: &mut dyn Write) -> fmt::Result {
        self.write_stats(out, true)?;
        writeln!(out, "purged bytes     = {:>10}", self.purge.purged_bytes.load(Relaxed))?;
        writeln!(out, "purge passes     = {:>10}", self.purge.passes.load(Relaxed))
    }

    /// The text of `malloc_stats`; `wide`: 64-bit figures instead of glibc's 32-bit ones.
    fn write_stats(&self, out: &mut dyn Write, wide: bool) -> fmt::Result {
        let figure = |value: usize| if wide { value as u64 } else { u64::from(value as u32) };
        self.ensure_init();
        let mut in_use_b = figure(self.mp.mmapped_mem.load(Relaxed));
        let mut system_b = in_use_b;
        let mut index = 0;
        let mut result = Ok(());
        self.for_each_arena(|arena| {
            let arena = self.arena_ref(arena);
            let mut mi = MallInfo2::default();
            arena.mutex.lock();
            self.int_mallinfo(arena.av(), &mut mi);
            // SAFETY: taken above.
            unsafe { arena.mutex.unlock() };
            result = result
                .and_then(|_| writeln!(out, "Arena {index}:"))
                .and_then(|_| writeln!(out, "system bytes     = {:>10}", figure(mi.arena)))
                .and_then(|_| writeln!(out, "in use bytes     = {:>10}", figure(mi.uordblks)));
            system_b = figure(system_b.wrapping_add(figure(mi.arena)) as usize);
            in_use_b = figure(in_use_b.wrapping_add(figure(mi.uordblks)) as usize);
            index += 1;
        });
        result?;
        writeln!(out, "Total (incl. mmap):")?;
        writeln!(out, "system bytes     = {system_b:>10}")?;
        writeln!(out, "in use bytes     = {in_use_b:>10}")?;
        writeln!(out, "max mmap regions = {:>10}", figure(self.mp.max_n_mmaps.load(Relaxed) as usize))?;
        writeln!(out, "max mmap bytes   = {:>10}", self.mp.max_mmapped_mem.load(Relaxed))
    }

    /// `mtrim`: consolidates, returns whole free pages inside free chunks with MADV_DONTNEED, and (main arena)
    /// trims the break down to `pad` spare bytes.
    fn mtrim(&self, av: Av, pad: usize) -> bool {
        self.malloc_consolidate(av);
        let ps = self.sys.page_size();
        let psindex = bin_index(ps);
        let psm1 = ps - 1;
        let header = 6 * SIZE_SZ;
        let mut result = false;
        for index in 1..NBINS {
            if index != 1 && index < psindex {
                continue;
            }
            let bin = av.bin_at(index);
            let mut p = bin.bk();
            while p != bin {
                let mut size = p.size();
                if size > psm1 + header {
                    let paligned = (p.addr() + header + psm1) & !psm1;
                    size -= paligned - p.addr();
                    if size > psm1 {
                        // SAFETY: whole pages inside a free chunk, past its header and links.
                        unsafe { self.sys.madvise_dontneed(paligned, size & !psm1) };
                        result = true;
                    }
                }
                p = p.bk();
            }
        }
        result | (self.is_main(av) && self.systrim(pad, av))
    }

    /// `malloc_trim`: returns 1 if any memory went back to the system.
    pub fn malloc_trim(&self, pad: usize) -> i32 {
        self.ensure_init();
        let mut result = false;
        self.for_each_arena(|arena| {
            let arena = self.arena_ref(arena);
            arena.mutex.lock();
            result |= self.mtrim(arena.av(), pad);
            // SAFETY: taken above.
            unsafe { arena.mutex.unlock() };
        });
        result as i32
    }

    /// `mallopt`: glibc's return values (1 success; 0 for an out-of-range `M_MXFAST`); consolidates the main
    /// arena first. Setting a threshold or `M_TOP_PAD`/`M_MMAP_MAX` turns the dynamic mmap threshold off.
    pub fn mallopt(&self, parameter: i32, value: i32) -> i32 {
        self.ensure_init();
        let main = &self.main_arena;
        main.mutex.lock();
        self.malloc_consolidate(main.av());
        let result = match parameter {
            param::M_ARENA_TEST | param::M_ARENA_MAX if value <= 0 => 1,
            param::TUNABLE_TCACHE_MAX
            | param::TUNABLE_TCACHE_COUNT
            | param::TUNABLE_TCACHE_UNSORTED_LIMIT => 1,
            _ => self.set_param(parameter, value as isize as usize) as i32,
        };
        // SAFETY: taken above.
        unsafe { main.mutex.unlock() };
        result
    }

    /// Sets one parameter the way glibc's `do_set_*` helpers do (shared by `mallopt` and the environment
    /// settings); returns false only for an out-of-range `M_MXFAST`.
    pub fn set_param(&self, parameter: i32, value: usize) -> bool {
        self.ensure_init();
        match parameter {
            param::M_MXFAST => {
                if value > MAX_FAST_SIZE {
                    return false;
                }
                self.mp.max_fast.store(max_fast_for(value), Relaxed);
            }
            param::M_TRIM_THRESHOLD => self.set_dyn_off(&self.mp.trim_threshold, value),
            param::M_TOP_PAD => self.set_dyn_off(&self.mp.top_pad, value),
            param::M_MMAP_THRESHOLD => self.set_dyn_off(&self.mp.mmap_threshold, value),
            param::M_MMAP_MAX => {
                self.mp.n_mmaps_max.store(value as i32 as isize, Relaxed);
                self.mp.no_dyn_threshold.store(true, Relaxed);
            }
            param::M_PERTURB => self.mp.perturb_byte.store(value as i32, Relaxed),
            param::M_ARENA_TEST => self.mp.arena_test.store(value, Relaxed),
            param::M_ARENA_MAX => self.mp.arena_max.store(value, Relaxed),
            param::TUNABLE_TCACHE_MAX => {
                if value > MAX_TCACHE_SIZE {
                    return false;
                }
                self.mp.tcache_bins.store(csize2tidx(request2size(value)) + 1, Relaxed);
            }
            param::TUNABLE_TCACHE_COUNT => {
                if value > u16::MAX as usize {
                    return false;
                }
                self.mp.tcache_count.store(value, Relaxed);
            }
            param::TUNABLE_TCACHE_UNSORTED_LIMIT => self.mp.tcache_unsorted_limit.store(value, Relaxed),
            param::PTMALLOC_RS_DECAY_MS => self.purge.decay_ms.store(value as u64, Relaxed),
            _ => {}
        }
        true
    }

    fn set_dyn_off(&self, field: &core::sync::atomic::AtomicUsize, value: usize) {
        field.store(value, Relaxed);
        self.mp.no_dyn_threshold.store(true, Relaxed);
    }

    /// `malloc_info`: glibc's XML description of every arena (`options` must be 0, else EINVAL).
    pub fn malloc_info(&self, options: i32, out: &mut dyn Write) -> Result<(), i32> {
        if options != 0 {
            return Err(EINVAL);
        }
        self.ensure_init();
        let mut totals = [0usize; 8];
        let mut heap_nr = 0;
        let mut result = out.write_str("<malloc version=\"1\">\n");
        self.for_each_arena(|arena| {
            if result.is_ok() {
                result = self.malloc_info_arena(arena, heap_nr, &mut totals, out);
            }
            heap_nr += 1;
        });
        let [nfast, fastavail, nblocks, avail, system, max_system, aspace, aspace_mprotect] = totals;
        result
            .and_then(|_| {
                write!(
                    out,
                    "<total type=\"fast\" count=\"{nfast}\" size=\"{fastavail}\"/>\n\
                     <total type=\"rest\" count=\"{nblocks}\" size=\"{avail}\"/>\n\
                     <total type=\"mmap\" count=\"{}\" size=\"{}\"/>\n\
                     <system type=\"current\" size=\"{system}\"/>\n\
                     <system type=\"max\" size=\"{max_system}\"/>\n\
                     <aspace type=\"total\" size=\"{aspace}\"/>\n\
                     <aspace type=\"mprotect\" size=\"{aspace_mprotect}\"/>\n\
                     </malloc>\n",
                    self.mp.n_mmaps.load(Relaxed),
                    self.mp.mmapped_mem.load(Relaxed)
                )
            })
            .map_err(|_| EINVAL)
    }

    fn malloc_info_arena(
        &self,
        arena: usize,
        heap_nr: usize,
        totals: &mut [usize; 8],
        out: &mut dyn Write,
    ) -> fmt::Result {
        let arena_ref = self.arena_ref(arena);
        let av = arena_ref.av();
        let mut sizes = [SizeRow::default(); NFASTBINS + NBINS - 1];
        arena_ref.mutex.lock();
        let mut avail = av.top().size();
        let mut nblocks = 1;
        let mut nfastblocks = 0;
        let mut fastavail = 0;
        for (index, row) in sizes.iter_mut().enumerate().take(NFASTBINS) {
            let mut p = av.fastbin(index);
            if !p.is_null() {
                let thissize = p.size();
                let mut count = 0;
                while !p.is_null() {
                    self.fastbin_unaligned(p, "__malloc_info(): unaligned fastbin chunk detected");
                    count += 1;
                    p = Self::fastbin_next(p);
                }
                fastavail += count * thissize;
                nfastblocks += count;
                *row = SizeRow { from: thissize - (MALLOC_ALIGNMENT - 1), to: thissize, total: 0, count };
            }
            row.total = row.count * row.to;
        }
        for index in 1..NBINS {
            let bin = av.bin_at(index);
            let row = &mut sizes[NFASTBINS - 1 + index];
            *row = SizeRow { from: usize::MAX, to: 0, total: 0, count: 0 };
            let mut r = bin.fd();
            while r != bin {
                let size = r.size_nomask();
                row.count += 1;
                row.total += size;
                row.from = row.from.min(size);
                row.to = row.to.max(size);
                r = r.fd();
            }
            if row.count == 0 {
                row.from = 0;
            }
            nblocks += row.count;
            avail += row.total;
        }
        let (mut heap_size, mut heap_mprotect_size, mut heap_count) = (0, 0, 0);
        if !self.is_main(av) {
            let mut heap = HeapInfo::for_ptr(av.top().addr());
            loop {
                heap_size += heap.size();
                heap_mprotect_size += heap.mprotect_size();
                heap_count += 1;
                if heap.prev() == 0 {
                    break;
                }
                heap = HeapInfo(heap.prev());
            }
        }
        let (system_mem, max_system_mem) = (av.system_mem(), av.max_system_mem());
        // SAFETY: taken above.
        unsafe { arena_ref.mutex.unlock() };

        totals[0] += nfastblocks;
        totals[1] += fastavail;
        totals[2] += nblocks;
        totals[3] += avail;
        write!(out, "<heap nr=\"{heap_nr}\">\n<sizes>\n")?;
        for (index, row) in sizes.iter().enumerate() {
            if row.count != 0 && index != NFASTBINS {
                writeln!(
                    out,
                    "  <size from=\"{}\" to=\"{}\" total=\"{}\" count=\"{}\"/>",
                    row.from, row.to, row.total, row.count
                )?;
            }
        }
        let unsorted = sizes[NFASTBINS];
        if unsorted.count != 0 {
            writeln!(
                out,
                "  <unsorted from=\"{}\" to=\"{}\" total=\"{}\" count=\"{}\"/>",
                unsorted.from, unsorted.to, unsorted.total, unsorted.count
            )?;
        }
        totals[4] += system_mem;
        totals[5] += max_system_mem;
        write!(
            out,
            "</sizes>\n<total type=\"fast\" count=\"{nfastblocks}\" size=\"{fastavail}\"/>\n\
             <total type=\"rest\" count=\"{nblocks}\" size=\"{avail}\"/>\n\
             <system type=\"current\" size=\"{system_mem}\"/>\n\
             <system type=\"max\" size=\"{max_system_mem}\"/>\n"
        )?;
        if self.is_main(av) {
            write!(
                out,
                "<aspace type=\"total\" size=\"{system_mem}\"/>\n<aspace type=\"mprotect\" size=\"{system_mem}\"/>\n"
            )?;
            totals[6] += system_mem;
            totals[7] += system_mem;
        } else {
            write!(
                out,
                "<aspace type=\"total\" size=\"{heap_size}\"/>\n\
                 <aspace type=\"mprotect\" size=\"{heap_mprotect_size}\"/>\n\
                 <aspace type=\"subheaps\" size=\"{heap_count}\"/>\n"
            )?;
            totals[6] += heap_size;
            totals[7] += heap_mprotect_size;
        }
        out.write_str("</heap>\n")
    }
}
