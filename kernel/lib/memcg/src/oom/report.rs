//! The OOM report's lines, byte for byte as Linux 6.6 prints them (mm/oom_kill.c `dump_header`,
//! `dump_tasks`/`dump_task`, `dump_oom_summary`, `__oom_kill_process`; mm/memcontrol.c
//! `mem_cgroup_print_oom_group`), for a kernel without cpusets. A full report is: [`write_invoked`],
//! for a group OOM [`Groups::oom_meminfo`](crate::group::Groups::oom_meminfo), [`write_dump_tasks`],
//! [`write_summary`], then [`write_kill`] per killed task (after [`write_oom_group`] for a group
//! kill) — or [`write_no_killable`].

use core::fmt::Write;

use super::{Candidate, Hierarchy, Scope};
use crate::Error;

/// Kill-line prefix of a global OOM.
pub const MSG_OUT_OF_MEMORY: &str = "Out of memory";
/// Kill-line prefix of a group OOM.
pub const MSG_MEMCG_OUT_OF_MEMORY: &str = "Memory cgroup out of memory";

/// Longest command name shown (`TASK_COMM_LEN - 1`).
const COMM_LEN: usize = 15;

/// What limited the allocation (`enum oom_constraint`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    None,
    Cpuset,
    MemoryPolicy,
    Memcg,
}

impl Constraint {
    /// Linux's `oom_constraint_text`.
    pub const fn text(self) -> &'static str {
        match self {
            Constraint::None => "CONSTRAINT_NONE",
            Constraint::Cpuset => "CONSTRAINT_CPUSET",
            Constraint::MemoryPolicy => "CONSTRAINT_MEMORY_POLICY",
            Constraint::Memcg => "CONSTRAINT_MEMCG",
        }
    }
}

/// A command name as the kernel keeps it: at most 15 bytes.
fn comm(name: &str) -> &str {
    let mut end = name.len().min(COMM_LEN);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// `<comm> invoked oom-killer: gfp_mask=0x…(<flags>), order=N, oom_score_adj=N`.
pub fn write_invoked<W: Write>(
    w: &mut W,
    name: &str,
    gfp_mask: u32,
    gfp_flags: &str,
    order: u32,
    oom_score_adj: i16,
) -> Result<(), Error> {
    // C's "%#x" prints 0 without the 0x prefix.
    if gfp_mask == 0 {
        write!(w, "{} invoked oom-killer: gfp_mask=0", comm(name))?;
    } else {
        write!(w, "{} invoked oom-killer: gfp_mask={gfp_mask:#x}", comm(name))?;
    }
    writeln!(w, "({gfp_flags}), order={order}, oom_score_adj={oom_score_adj}")?;
    Ok(())
}

/// The two lines before the task table.
pub fn oom_report_header<W: Write>(w: &mut W) -> Result<(), Error> {
    w.write_str("Tasks state (memory values in pages):\n")?;
    w.write_str("[  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name\n")?;
    Ok(())
}

/// One row of the task table: `"[%7d] %5d %5d %8lu %8lu %8ld %8lu         %5hd %s\n"`.
pub fn write_task_line<W: Write>(w: &mut W, task: &Candidate<'_>) -> Result<(), Error> {
    writeln!(
        w,
        "[{:>7}] {:>5} {:>5} {:>8} {:>8} {:>8} {:>8}         {:>5} {}",
        task.pid,
        task.uid as i32,
        task.tgid,
        task.total_vm,
        task.rss(),
        task.pgtables_bytes,
        task.swap,
        task.oom_score_adj,
        comm(task.name)
    )?;
    Ok(())
}

/// The header and a row for every candidate in scope that is not exempt (`dump_tasks`).
pub fn write_dump_tasks<W: Write, H: Hierarchy + ?Sized>(
    w: &mut W,
    candidates: &[Candidate<'_>],
    scope: &Scope,
    hierarchy: &H,
) -> Result<(), Error> {
    oom_report_header(w)?;
    for task in candidates {
        if !task.exempt && scope.contains(hierarchy, task.group) {
            write_task_line(w, task)?;
        }
    }
    Ok(())
}

/// The one-line summary: `oom-kill:constraint=…,nodemask=(null),<global_oom|oom_memcg=PATH>,
/// task_memcg=PATH,task=NAME,pid=N,uid=N`. `oom_memcg` is the OOM group's path for a group OOM.
pub fn write_summary<W: Write>(
    w: &mut W,
    constraint: Constraint,
    oom_memcg: Option<&str>,
    task_memcg: &str,
    victim: &Candidate<'_>,
) -> Result<(), Error> {
    write!(w, "oom-kill:constraint={},nodemask=(null)", constraint.text())?;
    match oom_memcg {
        Some(path) => write!(w, ",oom_memcg={path}")?,
        None => w.write_str(",global_oom")?,
    }
    writeln!(
        w,
        ",task_memcg={task_memcg},task={},pid={},uid={}",
        comm(victim.name),
        victim.pid,
        victim.uid as i32
    )?;
    Ok(())
}

/// `Tasks in PATH are going to be killed due to memory.oom.group set`.
pub fn write_oom_group<W: Write>(w: &mut W, path: &str) -> Result<(), Error> {
    writeln!(w, "Tasks in {path} are going to be killed due to memory.oom.group set")?;
    Ok(())
}

/// The kill line: `<message>: Killed process N (name) total-vm:XkB, anon-rss:XkB, file-rss:XkB,
/// shmem-rss:XkB, UID:N pgtables:XkB oom_score_adj:N`; `message` is [`MSG_OUT_OF_MEMORY`] or
/// [`MSG_MEMCG_OUT_OF_MEMORY`].
pub fn write_kill<W: Write>(w: &mut W, message: &str, task: &Candidate<'_>) -> Result<(), Error> {
    let kib = |pages: u64| pages.saturating_mul(crate::PAGE_SIZE / 1024);
    writeln!(
        w,
        "{message}: Killed process {} ({}) total-vm:{}kB, anon-rss:{}kB, file-rss:{}kB, shmem-rss:{}kB, \
         UID:{} pgtables:{}kB oom_score_adj:{}",
        task.pid,
        comm(task.name),
        kib(task.total_vm),
        kib(task.rss_anon),
        kib(task.rss_file),
        kib(task.rss_shmem),
        task.uid,
        task.pgtables_bytes >> 10,
        task.oom_score_adj
    )?;
    Ok(())
}

/// What Linux prints when nothing can be killed (then it panics for a global OOM).
pub fn write_no_killable<W: Write>(w: &mut W) -> Result<(), Error> {
    w.write_str("Out of memory and no killable processes...\n")?;
    Ok(())
}
