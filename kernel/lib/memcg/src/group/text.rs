//! The group files as text, byte for byte as Linux 6.6 prints and parses them: `memory.stat`
//! (`memcg_stat_format`), `memory.events[.local]` (`__memory_events_show`), the limit files
//! (`seq_puts_memcg_tunable`), limit writes (`page_counter_memparse` over `lib/cmdline.c` `memparse`),
//! `memory.oom.group` writes, and the memcg block of an OOM report (`mem_cgroup_print_oom_meminfo`).
//!
//! `memory.stat` prints the keys of a Linux 6.6 kernel built without swap, zswap, THP and hugetlb,
//! in Linux's order. Keys this kernel does not track (LRU lists, file-page states, workingset,
//! reclaim scans unless counted through [`VmEvent`]) print 0.
//!
//! Deviations: an overflowing number is [`Error::OutOfRange`] (Linux's `memparse` wraps).

use core::fmt::Write;

use super::{Event, GroupId, Groups, MAX, StatKind, VmEvent};
use crate::{Error, PAGE_SIZE};

/// Linux's `PAGE_COUNTER_MAX` on 64-bit (`LONG_MAX / PAGE_SIZE`): limits at or above it read back as
/// `max`, and "no limit" shows as `K(PAGE_COUNTER_MAX)` = 9007199254740988 kB in OOM reports.
pub const PAGE_COUNTER_MAX: u64 = i64::MAX as u64 / PAGE_SIZE;

/// Parses what a user writes to `memory.max`/`high`/`min`/`low`, returning bytes (`max` →
/// `u64::MAX`). Surrounding whitespace is ignored (`strstrip`); numbers are C integers (decimal,
/// `0x` hex, leading-`0` octal) with an optional K/M/G/T/P/E suffix in either case, each a factor of
/// 1024 (`memparse`). As in Linux, an empty string (or a bare suffix) means 0.
pub fn parse_limit(text: &str) -> Result<u64, Error> {
    let text = strstrip(text);
    if text == "max" {
        return Ok(u64::MAX);
    }
    memparse(text)
}

/// Like [`parse_limit`], in pages: bytes round down to whole pages, and values at or above
/// [`PAGE_COUNTER_MAX`] become [`MAX`] (Linux stores `PAGE_COUNTER_MAX` and shows `max`).
pub fn parse_limit_pages(text: &str) -> Result<u64, Error> {
    let bytes = parse_limit(text)?;
    let pages = bytes / PAGE_SIZE;
    Ok(if bytes == u64::MAX || pages >= PAGE_COUNTER_MAX { MAX } else { pages })
}

/// Parses a `memory.oom.group` write: an integer (`kstrtoint`, base auto-detected) that must be 0 or 1.
pub fn parse_oom_group(text: &str) -> Result<bool, Error> {
    let text = strstrip(text);
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (value, rest) = parse_c_integer(digits)?;
    if digits.is_empty() || !rest.is_empty() || value > i32::MAX as u64 + u64::from(negative) {
        return Err(Error::Invalid);
    }
    match (negative, value) {
        (_, 0) => Ok(false),
        (false, 1) => Ok(true),
        _ => Err(Error::Invalid),
    }
}

/// `strstrip`: drop leading and trailing C `isspace` characters.
fn strstrip(text: &str) -> &str {
    text.trim_matches(crate::C_SPACE)
}

/// Linux `memparse` followed by the "must end here" check of `page_counter_memparse`.
fn memparse(text: &str) -> Result<u64, Error> {
    let (value, rest) = parse_c_integer(text)?;
    let shift = match rest.as_bytes().first().map(u8::to_ascii_uppercase) {
        None => 0,
        Some(b'K') => 10,
        Some(b'M') => 20,
        Some(b'G') => 30,
        Some(b'T') => 40,
        Some(b'P') => 50,
        Some(b'E') => 60,
        Some(_) => return Err(Error::Invalid),
    };
    let rest = if shift == 0 { rest } else { &rest[1..] };
    if !rest.is_empty() {
        return Err(Error::Invalid);
    }
    if shift != 0 && value.leading_zeros() < shift {
        return Err(Error::OutOfRange);
    }
    Ok(value << shift)
}

/// `simple_strtoull(text, &end, 0)`: the value of the leading digits and the unparsed rest. No digits
/// gives 0 and the whole text back.
fn parse_c_integer(text: &str) -> Result<(u64, &str), Error> {
    let bytes = text.as_bytes();
    let (radix, start) = match bytes {
        [b'0', x, digit, ..] if x.eq_ignore_ascii_case(&b'x') && digit.is_ascii_hexdigit() => (16, 2),
        [b'0', ..] => (8, 0),
        _ => (10, 0),
    };
    let mut value: u64 = 0;
    let mut end = start;
    while let Some(digit) = bytes.get(end).and_then(|&b| char::from(b).to_digit(radix)) {
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(digit)))
            .ok_or(Error::OutOfRange)?;
        end += 1;
    }
    if end == start {
        return Ok((0, text));
    }
    Ok((value, &text[end..]))
}

/// Writes a limit file's content: `max` or the limit in bytes, and a newline.
pub fn write_limit<W: Write>(w: &mut W, pages: u64) -> Result<(), Error> {
    if pages == MAX {
        w.write_str("max\n")?;
    } else {
        writeln!(w, "{}", pages.saturating_mul(PAGE_SIZE))?;
    }
    Ok(())
}

/// Writes a page count in bytes and a newline (`memory.current`, `memory.peak`).
pub fn write_bytes<W: Write>(w: &mut W, pages: u64) -> Result<(), Error> {
    writeln!(w, "{}", pages.saturating_mul(PAGE_SIZE))?;
    Ok(())
}

/// Keys after `slab` that this kernel does not count (page states, not events).
const WORKINGSET_KEYS: [&str; 7] = [
    "workingset_refault_anon",
    "workingset_refault_file",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
];

impl Groups {
    /// `memory.stat` of `id` (hierarchical, sizes in bytes, events as counts).
    pub fn memory_stat<W: Write>(&self, w: &mut W, id: GroupId) -> Result<(), Error> {
        let group = self.get(id)?;
        let pages = |kind: StatKind| group.stat(kind);
        let kernel: u64 = StatKind::ALL.iter().filter(|kind| kind.is_kernel()).map(|&kind| pages(kind)).sum();
        let slab_reclaimable = pages(StatKind::SlabReclaimable);
        let slab_unreclaimable = pages(StatKind::SlabUnreclaimable);
        let sizes: [(&str, u64); 21] = [
            ("anon", pages(StatKind::Anon)),
            ("file", pages(StatKind::File) + pages(StatKind::Shmem)),
            ("kernel", kernel),
            ("kernel_stack", pages(StatKind::KernelStack)),
            ("pagetables", pages(StatKind::PageTables)),
            ("sec_pagetables", 0),
            ("percpu", pages(StatKind::Percpu)),
            ("sock", pages(StatKind::Sock)),
            ("vmalloc", pages(StatKind::Vmalloc)),
            ("shmem", pages(StatKind::Shmem)),
            ("file_mapped", 0),
            ("file_dirty", 0),
            ("file_writeback", 0),
            ("inactive_anon", 0),
            ("active_anon", 0),
            ("inactive_file", 0),
            ("active_file", 0),
            ("unevictable", 0),
            ("slab_reclaimable", slab_reclaimable),
            ("slab_unreclaimable", slab_unreclaimable),
            ("slab", slab_reclaimable + slab_unreclaimable),
        ];
        for (key, pages) in sizes {
            writeln!(w, "{key} {}", pages.saturating_mul(PAGE_SIZE))?;
        }
        for key in WORKINGSET_KEYS {
            writeln!(w, "{key} 0")?;
        }
        let event = |event: VmEvent| group.vm_event(event);
        let pgscan =
            event(VmEvent::PgscanKswapd) + event(VmEvent::PgscanDirect) + event(VmEvent::PgscanKhugepaged);
        let pgsteal =
            event(VmEvent::PgstealKswapd) + event(VmEvent::PgstealDirect) + event(VmEvent::PgstealKhugepaged);
        writeln!(w, "pgscan {pgscan}")?;
        writeln!(w, "pgsteal {pgsteal}")?;
        for vm_event in VmEvent::ALL {
            writeln!(w, "{} {}", vm_event.name(), event(vm_event))?;
        }
        Ok(())
    }

    /// `memory.events` (`local == false`) or `memory.events.local` of `id`.
    pub fn memory_events<W: Write>(&self, w: &mut W, id: GroupId, local: bool) -> Result<(), Error> {
        let group = self.get(id)?;
        for event in Event::ALL {
            let count = if local { group.event_local(event) } else { group.event(event) };
            writeln!(w, "{} {count}", event.name())?;
        }
        Ok(())
    }

    /// The memory-group block of a group OOM report (Linux `mem_cgroup_print_oom_meminfo`):
    /// `memory:` and `swap:` usage lines, then `Memory cgroup stats for <path>:` and `memory.stat`.
    pub fn oom_meminfo<W: Write>(&self, w: &mut W, id: GroupId) -> Result<(), Error> {
        let group = self.get(id)?;
        let kib = |pages: u64| pages.min(PAGE_COUNTER_MAX) * (PAGE_SIZE / 1024);
        writeln!(
            w,
            "memory: usage {}kB, limit {}kB, failcnt {}",
            kib(group.current()),
            kib(group.max()),
            group.failcnt()
        )?;
        writeln!(w, "swap: usage 0kB, limit {}kB, failcnt 0", kib(MAX))?;
        writeln!(w, "Memory cgroup stats for {}:", self.path(id)?)?;
        self.memory_stat(w, id)
    }
}
