//! The scheduler, RTOS style: fixed priorities (64 levels), preemptive, round-robin time slices within a
//! level, O(1) pick through the run queue's priority bitmap, an idle task that halts, sleeping on the
//! clock, and priority inheritance across IPC calls.
//!
//! Rules. The running task is not in the run queue. A task that becomes ready goes to the back of its
//! level; a task preempted by a more urgent one goes to the front (it keeps its turn, as POSIX
//! SCHED_FIFO/RR say); one whose slice ran out goes to the back with a fresh slice. The kernel is not
//! preemptible: a switch happens when a task blocks, yields or exits, on the way back to user mode from
//! a syscall or interrupt (`need_resched`), or in the idle loop.
//!
//! Priority inheritance: a task's running priority is the highest of its own and those of every task
//! waiting on it — clients blocked in a call it has received (waiting for its reply) and senders queued
//! on endpoints it serves — recomputed along the chain whenever one of them blocks or is answered, so a
//! low-priority server working for a high-priority client cannot be starved by medium-priority tasks.

use alloc::vec::Vec;

use crate::arch::x86_64::traps::TrapFrame;
use crate::arch::x86_64::{gdt, percpu, switch, tsc};
use crate::sync::SpinLockGuard;
use crate::task::{KERNEL, Kernel, Pid, State, Wait};

/// Timer ticks per time slice (10 ms at 1000 Hz).
pub const SLICE_TICKS: u32 = 10;

/// Makes `pid` ready (back of its level) and asks for a switch if it is more urgent than the running
/// task.
pub fn make_ready(k: &mut Kernel, pid: Pid) {
    let idle = k.idle;
    let Some(task) = k.task_mut(pid) else { return };
    if pid == idle || task.state == State::Running || task.state == State::Ready {
        return;
    }
    task.state = State::Ready;
    set_psi(task, task.psi | memcg::psi::TSK_RUNNING);
    let priority = task.priority;
    k.rq.push_back(pid, priority);
    if k.task(k.current).is_none_or(|c| priority > c.priority || k.current == k.idle) {
        k.need_resched = true;
    }
}

/// Wakes a blocked task with a result for its blocking call.
pub fn wake(k: &mut Kernel, pid: Pid, result: i64) {
    if let Some(task) = k.task_mut(pid)
        && matches!(task.state, State::Blocked(_))
    {
        task.wake_result = result;
        make_ready(k, pid);
    }
}

/// The running priority `pid` should have now (see the module's inheritance rule).
fn inherited_priority(k: &Kernel, pid: Pid) -> Option<u8> {
    let own = k.task(pid)?.base_priority;
    let waiting = k.tasks.values().filter_map(|t| match t.state {
        State::Blocked(Wait::Reply(server)) if server == pid => Some(t.priority),
        State::Blocked(Wait::Send { endpoint, .. }) if k.objects.endpoint_server(endpoint) == Some(pid) => {
            Some(t.priority)
        }
        _ => None,
    });
    Some(waiting.fold(own, u8::max))
}

/// Recomputes the running priority of `pid` and of whoever it waits on in turn.
pub fn update_priority(k: &mut Kernel, mut pid: Pid) {
    for _ in 0..8 {
        let Some(priority) = inherited_priority(k, pid) else { return };
        let Some(task) = k.task_mut(pid) else { return };
        if task.priority == priority {
            return;
        }
        task.priority = priority;
        let next = match task.state {
            State::Ready => {
                k.rq.remove(pid);
                k.rq.push_back(pid, priority);
                None
            }
            State::Blocked(Wait::Reply(server)) => Some(server),
            State::Blocked(Wait::Send { endpoint, .. }) => k.objects.endpoint_server(endpoint),
            _ => None,
        };
        if k.task(k.current).is_some_and(|c| priority > c.priority)
            && k.task(pid).is_some_and(|t| t.state == State::Ready)
        {
            k.need_resched = true;
        }
        match next {
            Some(server) => pid = server,
            None => return,
        }
    }
}

/// Puts the running task back in the run queue (front when it still has slice left, back otherwise) and
/// switches to the most urgent ready task.
pub fn preempt(mut k: SpinLockGuard<'_, Kernel>) {
    let pid = k.current;
    if pid != k.idle {
        let task = k.cur_mut();
        if task.state == State::Running {
            task.state = State::Ready;
            let priority = task.priority;
            if task.slice_left == 0 {
                task.slice_left = SLICE_TICKS;
                k.rq.push_back(pid, priority);
            } else {
                k.rq.push_front(pid, priority);
            }
        }
    }
    schedule(k);
}

/// Gives the processor to another ready task of the same or higher priority (sched_yield).
pub fn yield_now() {
    let mut k = KERNEL.lock();
    let pid = k.current;
    if pid != k.idle {
        let task = k.cur_mut();
        task.state = State::Ready;
        task.slice_left = SLICE_TICKS;
        let priority = task.priority;
        k.rq.push_back(pid, priority);
    }
    schedule(k);
}

/// Gives a user task new PSI flags (`memcg::psi::TSK_*`), telling its group's pressure figures.
pub fn set_psi(task: &mut crate::task::Task, flags: u8) {
    if task.user && task.psi != flags {
        crate::mm::psi::change(task.group, task.psi, flags);
        task.psi = flags;
    }
}

/// The running task starts (`true`) or ends a memory stall: throttled, or waiting for the OOM killer.
pub fn memstall(k: &mut Kernel, on: bool) {
    let task = k.cur_mut();
    let flags = if on { task.psi | memcg::psi::TSK_MEMSTALL } else { task.psi & !memcg::psi::TSK_MEMSTALL };
    set_psi(task, flags);
}

/// Blocks the running task on `wait` and runs something else; returns the wake-up result.
pub fn block(mut k: SpinLockGuard<'_, Kernel>, wait: Wait) -> i64 {
    let task = k.cur_mut();
    set_psi(task, task.psi & !memcg::psi::TSK_RUNNING);
    k.cur_mut().state = State::Blocked(wait);
    k.cur_mut().wake_result = 0;
    schedule(k);
    KERNEL.lock().cur().wake_result
}

/// Switches to the most urgent ready task (or idle). The running task must already be queued, blocked
/// or a zombie, unless nothing else is ready.
pub fn schedule(mut k: SpinLockGuard<'_, Kernel>) {
    k.need_resched = false;
    let prev = k.current;
    let next = match k.rq.pop() {
        Some((pid, _)) => pid,
        None if k.task(prev).is_some_and(|t| t.state == State::Running) => prev,
        None => k.idle,
    };
    let next_task = k.task_mut(next).expect("a queued task exists");
    next_task.state = State::Running;
    if next_task.slice_left == 0 {
        next_task.slice_left = SLICE_TICKS;
    }
    if next == prev {
        return;
    }
    let next_rsp = next_task.saved_rsp;
    let top = next_task.kstack.map_or(0, |s| s.top);
    let fs_base = next_task.fs_base;
    let next_user = next_task.user;
    let root = match &next_task.aspace {
        Some(aspace) => aspace.lock().root(),
        None => k.kernel_root,
    };
    let prev_task = k.task_mut(prev).expect("the previous task is in the table until reaped");
    if prev_task.user {
        prev_task.fs_base = percpu::fs_base();
    }
    let prev_rsp = &raw mut prev_task.saved_rsp;
    k.set_current(next);
    gdt::set_kernel_stack(top);
    percpu::set_kernel_rsp(top);
    if next_user {
        percpu::set_fs_base(fs_base);
    }
    // SAFETY: `root` is the PML4 of a live address space (or the kernel's), whose kernel half is the
    // kernel's own: the code and stack in use stay mapped across the write.
    unsafe {
        if x86::controlregs::cr3() != root {
            x86::controlregs::cr3_write(root);
        }
    }
    drop(k);
    // SAFETY: interrupts are off (syscalls, interrupts and the idle loop all call with IF clear); the
    // previous task's `saved_rsp` lives in its boxed `Task`, which stays in the table at least until
    // it is reaped by another task, i.e. after this switch; `next_rsp` was saved by a switch or built
    // by spawn.
    unsafe { switch::switch(prev_rsp, next_rsp) };
    finish_switch();
}

/// Runs on the new task's stack right after every switch: frees what dead tasks left behind (their
/// kernel stacks could not be freed while in use).
#[unsafe(no_mangle)]
extern "C" fn sched_finish_switch() {
    finish_switch();
}

fn finish_switch() {
    let mut k = KERNEL.lock();
    if k.dead.is_empty() {
        return;
    }
    // The boot context's placeholder is never needed again once something else runs.
    if k.current != u32::MAX {
        k.tasks.remove(&u32::MAX);
    }
    let dead: Vec<Pid> = core::mem::take(&mut k.dead);
    let mut remains = crate::task::exit::Remains::default();
    for pid in dead {
        if let Some(task) = k.task_mut(pid) {
            remains.take_from(task);
        }
    }
    remains.absorb(crate::task::exit::reap_orphans(&mut k));
    drop(k);
    remains.free();
}

/// The timer interrupt's part: wakes sleepers whose time came, charges the running task's slice, and
/// preempts it on the way back to user mode (or out of the idle loop) when something more urgent — or,
/// at the end of a slice, equally urgent — is ready.
pub fn tick(frame: &mut TrapFrame) {
    let mut k = KERNEL.lock();
    if !k.started {
        return;
    }
    crate::tty::poll(&mut k);
    let now = tsc::uptime_ns();
    crate::mm::oom::tick(&mut k);
    crate::mm::psi::tick(&mut k, now);
    let sleepers: Vec<(Pid, bool)> = k
        .tasks
        .values()
        .filter_map(|t| match t.state {
            State::Blocked(Wait::Sleep) if t.wake_at_ns <= now => Some((t.pid, false)),
            State::Blocked(Wait::Futex { .. } | Wait::Oom { .. })
                if t.wake_at_ns != 0 && t.wake_at_ns <= now =>
            {
                Some((t.pid, true))
            }
            _ => None,
        })
        .collect();
    for (pid, timed_out) in sleepers {
        wake(&mut k, pid, if timed_out { -abi::errno::ETIMEDOUT } else { 0 });
    }
    let idle = k.current == k.idle;
    if !idle {
        let task = k.cur_mut();
        task.slice_left = task.slice_left.saturating_sub(1);
        let (left, priority) = (task.slice_left, task.priority);
        if left == 0 && k.rq.has_at_least(priority) {
            k.need_resched = true;
        } else if left == 0 {
            k.cur_mut().slice_left = SLICE_TICKS;
        }
        if k.rq.highest().is_some_and(|p| p > priority) {
            k.need_resched = true;
        }
    } else if !k.rq.is_empty() {
        k.need_resched = true;
    }
    if k.need_resched && (frame.is_from_user() || idle) {
        preempt(k);
    }
}

/// Called on the way out of a syscall: switch if something more urgent became ready.
pub fn resched_if_needed() {
    let k = KERNEL.lock();
    if k.need_resched {
        preempt(k);
    }
}

/// The idle task: halts until an interrupt, then lets the scheduler run whatever became ready.
pub extern "C" fn idle_loop(_: u64) -> ! {
    loop {
        // SAFETY: STI;HLT is the idle idiom (STI's one-instruction shadow makes the pair atomic, so a
        // wake-up interrupt cannot slip in between); the IDT and timer are set up before the scheduler
        // starts. CLI afterwards restores the kernel's interrupts-off rule.
        unsafe { core::arch::asm!("sti", "hlt", "cli", options(nomem, nostack)) };
        let k = KERNEL.lock();
        if !k.rq.is_empty() {
            schedule(k);
        }
    }
}
