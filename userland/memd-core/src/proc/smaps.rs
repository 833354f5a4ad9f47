//! `/proc/PID/smaps` (Linux's `show_smap`): each VMA's maps line, then its sizes in kB and its flags.
//!
//! Resident counts come from the kernel's ranges (`RangeInfo`) inside each VMA: `resident_private`
//! (anonymous or copied pages), `resident_shared` (still the module's own frames: clean, shared with
//! the module) and `dirty` (private pages written). With no map counts, Pss counts every page whole.
//! Counters Linux has and we do not (KSM, huge pages, swap, locked memory) print 0.

use core::fmt::{Result, Write};

use abi::RangeInfo;
use abi::prot::{EXEC, READ, WRITE};
use alloc::vec::Vec;

use super::maps::map_line;
use super::{kb_line, pages_kb};
use crate::{Mm, Vma, VmaKind};

/// Resident pages of one VMA.
#[derive(Clone, Copy, Debug, Default)]
struct Resident {
    private: u64,
    shared: u64,
    dirty: u64,
}

/// Adds each kernel range's counts to the VMA holding its first page (or, for a range starting in a
/// hole of memd's view — a stack the kernel grew — its last page).
fn resident_per_vma(mm: &Mm, ranges: &[RangeInfo]) -> Vec<Resident> {
    let mut resident = alloc::vec![Resident::default(); mm.vmas.len()];
    for range in ranges.iter().filter(|r| r.start < r.end) {
        if let Some(i) = mm.vma_at(range.start).or_else(|| mm.vma_at(range.end - 1)) {
            resident[i].private += range.resident_private;
            resident[i].shared += range.resident_shared;
            resident[i].dirty += range.dirty;
        }
    }
    resident
}

/// The `VmFlags` mnemonics of a VMA, in Linux's bit order.
fn vm_flags(vma: &Vma) -> impl Iterator<Item = &'static str> {
    let accounted =
        (!vma.shared && vma.prot & WRITE != 0) || matches!(vma.kind, VmaKind::Heap | VmaKind::Stack);
    [
        (vma.prot & READ != 0, "rd"),
        (vma.prot & WRITE != 0, "wr"),
        (vma.prot & EXEC != 0, "ex"),
        (vma.shared, "sh"),
        (true, "mr"),
        (true, "mw"),
        (true, "me"),
        (vma.shared, "ms"),
        (vma.growsdown, "gd"),
        (accounted, "ac"),
    ]
    .into_iter()
    .filter_map(|(set, name)| set.then_some(name))
}

/// Writes one VMA's smaps entry.
fn smap<W: Write + ?Sized>(w: &mut W, vma: &Vma, program: &str, resident: Resident) -> Result {
    map_line(w, vma, program)?;
    let rss = pages_kb(resident.private + resident.shared);
    let dirty = pages_kb(resident.dirty.min(resident.private));
    let anonymous = if vma.shared { 0 } else { pages_kb(resident.private) };
    let lines = [
        ("Size:", vma.len() / 1024),
        ("KernelPageSize:", 4),
        ("MMUPageSize:", 4),
        ("Rss:", rss),
        ("Pss:", rss),
        ("Pss_Dirty:", dirty),
        ("Shared_Clean:", pages_kb(resident.shared)),
        ("Shared_Dirty:", 0),
        ("Private_Clean:", pages_kb(resident.private) - dirty),
        ("Private_Dirty:", dirty),
        ("Referenced:", rss),
        ("Anonymous:", anonymous),
        ("KSM:", 0),
        ("LazyFree:", 0),
        ("AnonHugePages:", 0),
        ("ShmemPmdMapped:", 0),
        ("FilePmdMapped:", 0),
        ("Shared_Hugetlb:", 0),
        ("Private_Hugetlb:", 0),
        ("Swap:", 0),
        ("SwapPss:", 0),
        ("Locked:", 0),
    ];
    for (label, kb) in lines {
        kb_line(w, label, kb)?;
    }
    writeln!(w, "THPeligible:    0")?;
    w.write_str("VmFlags: ")?;
    for flag in vm_flags(vma) {
        write!(w, "{flag} ")?;
    }
    w.write_char('\n')
}

/// Writes `/proc/PID/smaps` of a task whose program is `name`, with the kernel's `ranges` of it.
pub fn smaps<W: Write + ?Sized>(w: &mut W, mm: &Mm, name: &str, ranges: &[RangeInfo]) -> Result {
    let resident = resident_per_vma(mm, ranges);
    mm.vmas().zip(resident).try_for_each(|(vma, resident)| smap(w, vma, name, resident))
}
