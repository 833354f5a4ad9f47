//! Memory groups in the kernel (Linux's `memcontrol.c`): the counters `memcg::Groups` keeps, charged at the
//! moment a page is committed to a task — a user page on a fault or a load, a page-table page, a kernel
//! stack — and refused before the page is mapped when a group would pass its `memory.max` (DESIGN §6:
//! groups are kernel counters that limitd programs).
//!
//! A refused charge is a group OOM: the `oom` event is counted and the kernel's OOM killer picks a victim
//! inside the group with Linux's `oom_badness` (`memcg::oom`), reports it as Linux does and kills it. Each
//! charged frame remembers its group in its page descriptor (`private`), so the uncharge goes to the
//! group that was charged even after the task moved.

use alloc::string::String;
use alloc::vec::Vec;

use memcg::group::{Charge, Event, GroupId, Groups, StatKind};
use mm_core::page::PageMap;

use super::sparse::Vmemmap;
use crate::sync::SpinLock;

static GROUPS: SpinLock<Option<Groups>> = SpinLock::new(None);
static PANIC_ON_OOM: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
/// A charge went over some group's `memory.high` since the last look (see [`handle_over_high`]).
static OVER_HIGH: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// `panic_on_oom=1`.
pub fn set_panic_on_oom(on: bool) {
    PANIC_ON_OOM.store(on, core::sync::atomic::Ordering::Relaxed);
}

/// Sets up the root group over all managed memory.
pub fn init(total_pages: u64) {
    *GROUPS.lock() = Some(Groups::new(total_pages));
}

/// Runs `f` on the groups (None before `init`).
pub fn with<R>(f: impl FnOnce(&mut Groups) -> R) -> Option<R> {
    GROUPS.lock().as_mut().map(f)
}

/// Runs `f` on the groups, read-only.
pub fn with_ref<R>(f: impl FnOnce(&Groups) -> R) -> Option<R> {
    GROUPS.lock().as_ref().map(f)
}

/// Charges `pages` of `kind` to `group`; `Err(group at max)` when a level would pass its `memory.max`
/// (its `max` and `oom` events are counted).
pub fn try_charge(group: u32, pages: u64, kind: StatKind) -> Result<(), u32> {
    let mut guard = GROUPS.lock();
    let Some(groups) = guard.as_mut() else { return Ok(()) };
    match groups.try_charge(GroupId::from_u32(group), pages, kind) {
        Ok(Charge::Charged { over_high }) => {
            if let Some(high) = over_high {
                let _ = groups.raise_high_events(high);
                OVER_HIGH.store(true, core::sync::atomic::Ordering::Relaxed);
            }
            Ok(())
        }
        Ok(Charge::AtMax { group: at_max }) => {
            let _ = groups.raise_event(at_max, Event::Oom);
            Err(at_max.as_u32())
        }
        // An unknown group (removed meanwhile): charge the root instead of failing the allocation.
        Err(_) => {
            let _ = groups.force_charge(GroupId::ROOT, pages, kind);
            Ok(())
        }
    }
}

/// Gives back a charge made with [`try_charge`].
pub fn uncharge(group: u32, pages: u64, kind: StatKind) {
    if let Some(groups) = GROUPS.lock().as_mut() {
        let _ = groups.uncharge(GroupId::from_u32(group), pages, kind);
    }
}

/// Charges `bytes` of kernel objects made for `group`'s tasks (`memcg`'s object accounting: whole pages
/// as `slab_unreclaimable`, forced past `memory.max` like Linux's accounted allocations).
pub fn charge_objects(group: u32, bytes: u64) {
    if bytes == 0 {
        return;
    }
    if let Some(groups) = GROUPS.lock().as_mut()
        && groups.charge_objects(GroupId::from_u32(group), bytes).is_err()
    {
        let _ = groups.charge_objects(GroupId::ROOT, bytes);
    }
}

/// Gives back object bytes charged with [`charge_objects`].
pub fn uncharge_objects(group: u32, bytes: u64) {
    if bytes == 0 {
        return;
    }
    if let Some(groups) = GROUPS.lock().as_mut()
        && groups.uncharge_objects(GroupId::from_u32(group), bytes).is_err()
    {
        let _ = groups.uncharge_objects(GroupId::ROOT, bytes);
    }
}

/// Records the group a frame was charged to.
pub fn set_page_group(pfn: u64, group: u32) {
    Vmemmap.page_mut(pfn).private = u64::from(group);
}

/// The group a frame was charged to.
pub fn page_group(pfn: u64) -> u32 {
    Vmemmap.page(pfn).private as u32
}

/// Counts a page fault in the group's `memory.stat`.
pub fn count_fault(group: u32) {
    if let Some(groups) = GROUPS.lock().as_mut() {
        let _ = groups.count_vm_event(GroupId::from_u32(group), memcg::group::VmEvent::PgFault, 1);
    }
}

/// Counts an OOM kill in `memory.events` (`oom_kill` in the victim's group and its ancestors; with
/// `oom_group`, `oom_group_kill` there).
pub fn count_oom_kill(victim_group: u32, oom_group: Option<u32>) {
    with_locked(|groups| {
        let _ = groups.raise_event(GroupId::from_u32(victim_group), Event::OomKill);
        if let Some(group) = oom_group {
            let _ = groups.raise_event(GroupId::from_u32(group), Event::OomGroupKill);
        }
    });
}

/// The group OOM killer: picks the task of `group`'s subtree with the highest badness and kills it
/// (every task of the chosen `memory.oom.group`, if set), printing Linux's report. Returns true when
/// other tasks were killed and the caller may retry; false when the running task was chosen or nothing
/// could be killed (the caller then ends the running task).
pub fn group_oom(group: u32) -> bool {
    oom_kill(Some(group))
}

/// The system OOM killer (the buddy allocator could not back a user page): as [`group_oom`] over every
/// task, with Linux's "Out of memory" report; with `panic_on_oom=1` the kernel panics instead.
pub fn system_oom() -> bool {
    check_panic_on_oom();
    oom_kill(None)
}

/// With `panic_on_oom=1`, a system-wide out-of-memory panics (before oomd or the OOM killer act).
pub fn check_panic_on_oom() {
    if PANIC_ON_OOM.load(core::sync::atomic::Ordering::Relaxed) {
        panic!("Out of memory and panic_on_oom is set");
    }
}

/// `memory.high` throttling (Linux `mem_cgroup_handle_over_high`), on the way back to user mode after a
/// page fault: while the running task's group (or an ancestor) is above `memory.high`, every
/// [`memcg::group::MEMCG_CHARGE_BATCH`] pages it charges cost a sleep that grows with the square of the
/// overage (Linux's `calculate_high_delay`, at most 2 s). The sleep is a memory stall: the group's
/// pressure figures show it. Never kills.
pub fn handle_over_high() {
    use core::sync::atomic::Ordering;
    if !OVER_HIGH.swap(false, Ordering::Relaxed) {
        return;
    }
    let mut k = crate::task::KERNEL.lock();
    let group = GroupId::from_u32(k.cur().group);
    let over = with_ref(|g| g.high_penalty_ms(group, memcg::group::MEMCG_CHARGE_BATCH).unwrap_or(0) > 0);
    if over != Some(true) {
        return;
    }
    let task = k.cur_mut();
    task.over_high_pages += 1;
    if task.over_high_pages < memcg::group::MEMCG_CHARGE_BATCH {
        return;
    }
    let pages = core::mem::take(&mut task.over_high_pages);
    let delay_ms = with_ref(|g| g.high_delay_ms(group, pages).unwrap_or(0)).unwrap_or(0);
    if delay_ms == 0 {
        return;
    }
    crate::sched::memstall(&mut k, true);
    k.cur_mut().wake_at_ns = crate::arch::x86_64::tsc::uptime_ns() + delay_ms * 1_000_000;
    crate::sched::block(k, crate::task::Wait::Sleep);
    crate::sched::memstall(&mut crate::task::KERNEL.lock(), false);
}

fn oom_kill(group: Option<u32>) -> bool {
    use crate::task::KERNEL;
    let mut k = KERNEL.lock();
    let me = k.current;
    struct Row {
        pid: u32,
        tgid: u32,
        name: String,
        group: u32,
        total_vm: u64,
        rss_anon: u64,
        rss_file: u64,
        tables: u64,
        exempt: bool,
        adj: i16,
    }
    let rows: Vec<Row> = k
        .tasks
        .values()
        .filter(|t| t.is_alive() && t.user && t.pid == t.tgid)
        .map(|t| {
            let (total_vm, anon, file, tables) = t.aspace.as_ref().map_or((0, 0, 0, 0), |a| {
                let a = a.lock();
                (a.total_pages(), a.rss_anon, a.rss_image, a.nr_tables())
            });
            Row {
                pid: t.pid,
                tgid: t.tgid,
                name: String::from(t.comm.as_str()),
                group: t.group,
                total_vm,
                rss_anon: anon,
                rss_file: file,
                tables,
                // init and the memory services are what the system needs to recover.
                exempt: k.is_service(t.tgid) || t.oom_score_adj == -1000,
                adj: t.oom_score_adj,
            }
        })
        .collect();
    let guard = GROUPS.lock();
    let Some(groups) = guard.as_ref() else { return false };
    let candidates: Vec<memcg::oom::Candidate<'_>> = rows
        .iter()
        .map(|r| memcg::oom::Candidate {
            pid: r.pid,
            tgid: r.tgid,
            uid: 0,
            name: &r.name,
            group: GroupId::from_u32(r.group),
            total_vm: r.total_vm,
            rss_anon: r.rss_anon,
            rss_file: r.rss_file,
            rss_shmem: 0,
            swap: 0,
            pgtables_bytes: r.tables * 4096,
            oom_score_adj: r.adj,
            exempt: r.exempt,
            exiting: false,
            oom_victim: false,
        })
        .collect();
    let scope = match group {
        Some(group) => match memcg::oom::Scope::group(groups, GroupId::from_u32(group)) {
            Ok(scope) => scope,
            Err(_) => return false,
        },
        None => memcg::oom::Scope::system(crate::mm::page_alloc::nr_pages().0),
    };
    let message =
        if group.is_some() { memcg::oom::MSG_MEMCG_OUT_OF_MEMORY } else { memcg::oom::MSG_OUT_OF_MEMORY };
    let Some(victim) = memcg::oom::select_victim(&candidates, &scope, groups) else {
        let path = group.and_then(|g| groups.path(GroupId::from_u32(g)).ok()).unwrap_or_default();
        crate::pr_err!("{message}: no killable task {path}");
        return false;
    };
    let mut report = String::new();
    let _ = memcg::oom::write_dump_tasks(&mut report, &candidates, &scope, groups);
    for line in report.lines() {
        crate::pr_info!("{line}");
    }
    let mut kills = Vec::new();
    if let Some(group) = victim.oom_group {
        let mut line = String::new();
        let _ = memcg::oom::write_oom_group(&mut line, &groups.path(group).unwrap_or_default());
        crate::pr_err!("{}", line.trim_end());
    }
    let oom_group = victim.oom_group;
    for &index in &victim.kill {
        let mut line = String::new();
        let _ = memcg::oom::write_kill(&mut line, message, &candidates[index]);
        crate::pr_err!("{}", line.trim_end());
        kills.push((candidates[index].pid, GroupId::from_u32(rows[index].group)));
    }
    drop(guard);
    if let Some(group) = oom_group {
        with_locked(|groups| {
            let _ = groups.raise_event(group, Event::OomGroupKill);
        });
    }
    let mut killed_me = false;
    let mut remains = Vec::new();
    for (pid, victim_group) in kills {
        with_locked(|groups| {
            let _ = groups.raise_event(victim_group, Event::OomKill);
        });
        if pid == k.cur().tgid {
            killed_me = true;
            continue;
        }
        remains.push(crate::task::exit::kill_threads(
            &mut k,
            pid,
            me,
            abi::wait::signaled(abi::signal::SIGKILL as u8),
        ));
    }
    drop(k);
    let killed_others = !remains.is_empty();
    for r in remains {
        r.free();
    }
    !killed_me && killed_others
}

fn with_locked(f: impl FnOnce(&mut Groups)) {
    if let Some(groups) = GROUPS.lock().as_mut() {
        f(groups);
    }
}
