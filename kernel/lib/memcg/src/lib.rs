//! Memory groups, pressure stall information and the OOM killer's arithmetic: the pure, host-tested
//! part of cgroup-v2 memory control, shared by the kernel (charging), `limitd` (the group files) and
//! `oomd` (the OOM killer as a service).
//!
//! Reference: Linux 6.6 — `mm/page_counter.c`, `mm/memcontrol.c`, `kernel/sched/psi.c`,
//! `kernel/sched/loadavg.c`, `mm/oom_kill.c`, `fs/proc/base.c` (`proc_oom_score`), `lib/cmdline.c`
//! (`memparse`) and `Documentation/admin-guide/cgroup-v2.rst` ("Memory", "PSI"). Each module names the
//! functions it follows and lists where it deviates.
//!
//! Layers, one way: [`group`] (page counters and the hierarchy) ← [`oom`] (victim selection over a
//! [`oom::Hierarchy`], which [`group::Groups`] implements); [`psi`] stands alone. Nothing here touches
//! hardware, takes locks or reads a clock: callers pass the time in and serialise access.
//!
//! Units: page counts are in 4 KiB pages ([`PAGE_SIZE`]); text files show bytes as Linux does; PSI
//! time is in nanoseconds in, microseconds out.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod error;
pub mod group;
pub mod oom;
pub mod psi;

pub use error::Error;

/// Bytes in a page (x86-64 base pages).
pub const PAGE_SIZE: u64 = 4096;

/// `PAGE_SHIFT`: log2 of [`PAGE_SIZE`].
pub const PAGE_SHIFT: u32 = 12;

const _: () = assert!(1 << PAGE_SHIFT == PAGE_SIZE);

/// The characters C's `isspace` accepts, which Linux's parsers skip.
pub(crate) const C_SPACE: [char; 6] = [' ', '\t', '\n', '\x0b', '\x0c', '\r'];
