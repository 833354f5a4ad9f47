//! `/proc/PID/status` (Linux's `proc_pid_status` and `task_mem`): identity, then the memory fields as
//! `Name:\t<value right-aligned in 8> kB`.
//!
//! From memd's VMAs: VmPeak, VmSize, VmData (private writable, not stack), VmStk (the stack and
//! grows-down VMAs), VmExe (executable image), VmLib (other executable memory: 0 without shared
//! libraries). From the kernel: VmHWM and VmRSS (`task_info`), RssAnon/RssShmem/RssFile (private pages of
//! private and shared ranges, and the module's own pages, from `vm_ranges`), VmPTE (page-table pages).
//! State is always `R (running)`: memd does not know the scheduler's view.

use core::fmt::{Result, Write};

use abi::RangeInfo;
use abi::prot::{EXEC, WRITE};

use super::pages_kb;
use crate::{Mm, Vma, VmaKind};

/// Writes `Label:\t<kB right-aligned in 8> kB` (Linux's `SEQ_PUT_DEC`).
fn kb_line<W: Write + ?Sized>(w: &mut W, label: &str, kb: u64) -> Result {
    writeln!(w, "{label}:\t{kb:>8} kB")
}

/// Linux's `VM_STACK` test.
fn is_stack(vma: &Vma) -> bool {
    vma.growsdown || vma.kind == VmaKind::Stack
}

/// Kibibytes of the VMAs that pass `test`.
fn kb_where(mm: &Mm, test: impl Fn(&Vma) -> bool) -> u64 {
    mm.vmas().filter(|v| test(v)).map(Vma::len).sum::<u64>() / 1024
}

/// Writes `/proc/PID/status`. `rss_pages`, `rss_peak_pages` and `pgtable_pages` come from the kernel's
/// `task_info` (the peak as memd has tracked it), `ranges` from `vm_ranges`.
#[expect(clippy::too_many_arguments, reason = "the text combines memd's, the kernel's and the caller's data")]
pub fn status<W: Write + ?Sized>(
    w: &mut W,
    mm: &Mm,
    name: &str,
    pid: u64,
    ppid: u64,
    rss_pages: u64,
    rss_peak_pages: u64,
    pgtable_pages: u64,
    ranges: &[RangeInfo],
) -> Result {
    let shared_range = |r: &&RangeInfo| r.flags & abi::vm::SHARED != 0;
    let anon: u64 = ranges.iter().filter(|r| !shared_range(r)).map(|r| r.resident_private).sum();
    let shmem: u64 = ranges.iter().filter(shared_range).map(|r| r.resident_private).sum();
    let file: u64 = ranges.iter().map(|r| r.resident_shared).sum();
    let executable = |v: &Vma| v.prot & EXEC != 0 && v.prot & WRITE == 0 && !is_stack(v);

    writeln!(w, "Name:\t{name}")?;
    writeln!(w, "State:\tR (running)")?;
    writeln!(w, "Tgid:\t{pid}")?;
    writeln!(w, "Pid:\t{pid}")?;
    writeln!(w, "PPid:\t{ppid}")?;
    let lines = [
        ("VmPeak", mm.peak_bytes() / 1024),
        ("VmSize", mm.total_bytes() / 1024),
        ("VmLck", 0),
        ("VmPin", 0),
        ("VmHWM", pages_kb(rss_peak_pages.max(rss_pages))),
        ("VmRSS", pages_kb(rss_pages)),
        ("RssAnon", pages_kb(anon)),
        ("RssFile", pages_kb(file)),
        ("RssShmem", pages_kb(shmem)),
        ("VmData", kb_where(mm, |v| v.prot & WRITE != 0 && !v.shared && !is_stack(v))),
        ("VmStk", kb_where(mm, is_stack)),
        ("VmExe", kb_where(mm, |v| executable(v) && v.kind == VmaKind::Image)),
        ("VmLib", kb_where(mm, |v| executable(v) && v.kind != VmaKind::Image)),
        ("VmPTE", pages_kb(pgtable_pages)),
        ("VmSwap", 0),
    ];
    for (label, kb) in lines {
        kb_line(w, label, kb)?;
    }
    writeln!(w, "Threads:\t1")
}
