//! Out of memory, handed to a service (DESIGN §6): when a task cannot get a page — its group is at
//! `memory.max`, or the buddy allocator has nothing left — and oomd has registered (`oom_register`), the
//! kernel queues an [`abi::OomEvent`], signals oomd's notification and puts the task to sleep (a memory
//! stall, counted by PSI). oomd reads the events, scores the tasks with Linux's `oom_badness`, kills,
//! and answers `oom_done(seq, killed)`; the waiting tasks then retry their page.
//!
//! The machine never hangs on oomd: if it is not registered, is the one out of memory, declines
//! (`killed` = 0), ends, or stays silent past the deadline (`oomd_timeout_ms=`, 1000 ms by default),
//! the waiting task falls back to the kernel's own OOM killer (`memcontrol::group_oom`/`system_oom`),
//! which says why in the log. `panic_on_oom=1` panics before any of this.
//!
//! Free memory falling below the low watermark — where user page allocations stop, keeping the rest for
//! the kernel — also wakes oomd ([`abi::oom_event::BIT_LOW`]), from the timer tick.

use alloc::collections::VecDeque;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use abi::OomEvent;
use abi::oom_event::{BIT_LOW, BIT_OOM, GROUP_OOM, SYSTEM_OOM};

use crate::arch::x86_64::tsc;
use crate::ipc::ObjectId;
use crate::task::{KERNEL, Kernel, Pid, State, Wait};

/// Events oomd may have pending at once; more waiters share the pending event of their kind.
const MAX_EVENTS: usize = 16;

static TIMEOUT_MS: AtomicU64 = AtomicU64::new(1000);
/// Set by the page allocator when free memory drops below the low watermark; the tick tells oomd.
static LOW_MEMORY: AtomicBool = AtomicBool::new(false);

/// The registered OOM service.
pub struct Oomd {
    pub pid: Pid,
    notify: ObjectId,
    events: VecDeque<OomEvent>,
    next_seq: u64,
}

/// `oomd_timeout_ms=`.
pub fn set_timeout_ms(ms: u64) {
    TIMEOUT_MS.store(ms.max(1), Ordering::Relaxed);
}

/// From the page allocator: free pages fell below the low watermark.
pub fn low_memory() {
    LOW_MEMORY.store(true, Ordering::Relaxed);
}

/// How an out-of-memory situation ended for the task that hit it.
pub enum Outcome {
    /// Memory was freed: retry the allocation.
    Retry,
    /// The running task itself was chosen (or nothing could be killed): it must die.
    KillMe,
}

/// The running task could not get a page: `group` at its max, or (None) no free page at all.
pub fn out_of_memory(group: Option<u32>) -> Outcome {
    if group.is_none() {
        super::memcontrol::check_panic_on_oom();
    }
    match wait_for_oomd(group) {
        Ok(()) => return Outcome::Retry,
        Err(Some(reason)) => {
            crate::pr_warn!("oom: {reason}; the kernel's OOM killer acts");
        }
        Err(None) => {}
    }
    let freed = match group {
        Some(group) => super::memcontrol::group_oom(group),
        None => super::memcontrol::system_oom(),
    };
    if freed { Outcome::Retry } else { Outcome::KillMe }
}

/// Hands the situation to oomd and waits. `Err(None)`: no oomd to ask; `Err(Some(why))`: it did not
/// help.
fn wait_for_oomd(group: Option<u32>) -> Result<(), Option<&'static str>> {
    let mut k = KERNEL.lock();
    let me = k.cur().tgid;
    let Some(oomd) = k.oomd.as_mut() else { return Err(None) };
    if oomd.pid == me {
        return Err(Some("oomd itself is out of memory"));
    }
    let kind = if group.is_some() { GROUP_OOM } else { SYSTEM_OOM };
    let group = group.unwrap_or(0);
    // One pending event per (kind, group): later tasks wait for the same answer.
    let seq = match oomd.events.iter().find(|e| e.kind == kind && e.group == group) {
        Some(event) => event.seq,
        None if oomd.events.len() >= MAX_EVENTS => return Err(Some("oomd has too many pending events")),
        None => {
            oomd.next_seq += 1;
            let seq = oomd.next_seq;
            let total_pages = if kind == GROUP_OOM {
                super::memcontrol::with_ref(|g| g.oom_total_pages(memcg::group::GroupId::from_u32(group)))
                    .and_then(Result::ok)
                    .unwrap_or(1)
            } else {
                super::page_alloc::nr_pages().0
            };
            let free_pages = super::page_alloc::nr_pages().1;
            oomd.events.push_back(OomEvent { seq, kind, group, pid: u64::from(me), total_pages, free_pages });
            seq
        }
    };
    let notify = oomd.notify;
    let _ = crate::ipc::notification::signal(&mut k, notify, BIT_OOM);
    let deadline = tsc::uptime_ns() + TIMEOUT_MS.load(Ordering::Relaxed) * 1_000_000;
    k.cur_mut().wake_at_ns = deadline;
    crate::sched::memstall(&mut k, true);
    let result = crate::sched::block(k, Wait::Oom { seq });
    crate::sched::memstall(&mut KERNEL.lock(), false);
    match result {
        0 => Ok(()),
        r if r == -abi::errno::ETIMEDOUT => {
            // Drop the unanswered event, so the next one is fresh.
            if let Some(oomd) = KERNEL.lock().oomd.as_mut() {
                oomd.events.retain(|e| e.seq != seq);
            }
            Err(Some("oomd did not answer in time"))
        }
        r if r == -abi::errno::EPIPE => Err(Some("oomd ended")),
        _ => Err(Some("oomd killed nothing")),
    }
}

/// `oom_register(notify_handle)`.
pub fn register(k: &mut Kernel, notify: ObjectId) -> Result<(), i64> {
    let me = k.cur().tgid;
    if let Some(oomd) = &k.oomd
        && k.task(oomd.pid).is_some_and(|t| t.is_alive())
    {
        return Err(-abi::errno::EBUSY);
    }
    k.objects.get_ref(notify);
    let mut events = VecDeque::new();
    events.reserve(MAX_EVENTS);
    if let Some(old) = k.oomd.replace(Oomd { pid: me, notify, events, next_seq: 0 }) {
        let _ = k.objects.put_ref(old.notify);
    }
    crate::pr_info!(
        "oom: oomd (pid {me}) registered; the kernel's OOM killer acts only if it is silent for {} ms",
        TIMEOUT_MS.load(Ordering::Relaxed)
    );
    Ok(())
}

/// The pending events, for oomd.
pub fn events(k: &Kernel) -> Result<alloc::vec::Vec<OomEvent>, i64> {
    match &k.oomd {
        Some(oomd) if oomd.pid == k.cur().tgid => Ok(oomd.events.iter().copied().collect()),
        _ => Err(-abi::errno::EPERM),
    }
}

/// `oom_done(seq, killed)`: wakes every task waiting on an event up to `seq`.
pub fn done(k: &mut Kernel, seq: u64, killed: u64) -> Result<(), i64> {
    let me = k.cur().tgid;
    match k.oomd.as_mut() {
        Some(oomd) if oomd.pid == me => oomd.events.retain(|e| e.seq > seq),
        _ => return Err(-abi::errno::EPERM),
    }
    let result = if killed > 0 { 0 } else { -abi::errno::ENOMEM };
    wake_waiters(k, |waiting| waiting <= seq, result);
    Ok(())
}

fn wake_waiters(k: &mut Kernel, which: impl Fn(u64) -> bool, result: i64) {
    let waiters: alloc::vec::Vec<Pid> = k
        .tasks
        .values()
        .filter(|t| matches!(t.state, State::Blocked(Wait::Oom { seq }) if which(seq)))
        .map(|t| t.pid)
        .collect();
    for pid in waiters {
        crate::sched::wake(k, pid, result);
    }
}

/// A process ended: if it was oomd, the kernel takes over and wakes whoever waited for it.
pub fn process_gone(k: &mut Kernel, tgid: Pid) {
    let Some(oomd) = &k.oomd else { return };
    if oomd.pid != tgid || k.tasks.values().any(|t| t.tgid == tgid && t.is_alive()) {
        return;
    }
    let oomd = k.oomd.take().expect("checked above");
    let _ = k.objects.put_ref(oomd.notify);
    crate::pr_err!("oom: oomd (pid {tgid}) ended; the kernel's OOM killer takes over");
    wake_waiters(k, |_| true, -abi::errno::EPIPE);
}

/// From the timer tick: tells oomd that free memory fell below the low watermark. (Waiters whose
/// deadline passed are woken by the scheduler's tick with ETIMEDOUT, like sleepers.)
pub fn tick(k: &mut Kernel) {
    let low = LOW_MEMORY.swap(false, Ordering::Relaxed);
    if let Some(oomd) = &k.oomd
        && low
    {
        let notify = oomd.notify;
        let _ = crate::ipc::notification::signal(k, notify, BIT_LOW);
    }
}

/// Whether `tgid` is oomd (exempt from the kernel's OOM killer, as init and memd are).
pub fn is_oomd(k: &Kernel, tgid: Pid) -> bool {
    k.oomd.as_ref().is_some_and(|o| o.pid == tgid)
}
