//! Ending tasks: exit, kill, the segfault report, and wait (reaping zombies).
//!
//! On exit everything a task holds goes back: handles (objects whose last handle it was disappear and
//! their waiters are woken with -EPIPE), its address space (every user page and page-table page), its
//! kernel stack (after the switch away from it), and finally — when its parent collects the status — the
//! task itself. Orphans are adopted by init (pid 1); zombies nobody can collect are reaped at once. When
//! init itself ends, the kernel reports its status and stops the machine (a test run's verdict).

use alloc::sync::Arc;
use alloc::vec::Vec;

use abi::errno::{ECHILD, EPIPE};
use abi::wait;

use super::{KERNEL, Kernel, Pid, State, Wait};
use crate::arch::x86_64::qemu::{self, ExitCode};
use crate::arch::x86_64::traps::TrapFrame;
use crate::mm::aspace::AddressSpace;
use crate::mm::vmalloc::KernelStack;
use crate::sched;
use crate::sync::SpinLock;
use crate::{pr_info, pr_notice};

/// Resources taken out of a task under the lock, freed after it is dropped.
#[derive(Default)]
pub struct Remains {
    stacks: Vec<KernelStack>,
    spaces: Vec<Arc<SpinLock<AddressSpace>>>,
}

impl Remains {
    /// Takes the kernel stack and address space out of `task` (either may be gone already).
    pub fn take_from(&mut self, task: &mut super::Task) {
        self.stacks.extend(task.kstack.take());
        self.spaces.extend(task.aspace.take());
    }

    /// Adds what `other` holds.
    pub fn absorb(&mut self, other: Remains) {
        self.stacks.extend(other.stacks);
        self.spaces.extend(other.spaces);
    }

    /// Frees the stacks and drops the spaces (the last reference gives a space's pages back; it must no
    /// longer be in CR3).
    pub fn free(self) {
        for stack in self.stacks {
            crate::mm::vmalloc::free_kernel_stack(stack);
        }
        drop(self.spaces);
    }
}

/// Turns `pid` into a zombie with `status` and lets go of its handles, children and waiters. The task's
/// stack and address space stay for the caller to free (they may be in use right now).
fn do_exit(k: &mut Kernel, pid: Pid, status: i32) {
    let Some(task) = k.task_mut(pid) else { return };
    sched::set_psi(task, 0);
    task.state = State::Zombie(status);
    if task.user && task.kernel_stack_pages > 0 {
        crate::mm::memcontrol::uncharge(
            task.group,
            task.kernel_stack_pages,
            memcg::group::StatKind::KernelStack,
        );
    }
    // A thread's structure leaves its process's object charge (the process's own goes with its space).
    if task.pid != task.tgid
        && let Some(space) = &task.aspace
    {
        space.lock().account_task(false);
    }
    let handles: Vec<_> = task.handles.drain(..).flatten().collect();
    task.inbox = None;
    task.outbox = None;
    task.reply_to = None;
    k.rq.remove(pid);
    for handle in handles {
        for waiter in k.objects.put_ref(handle.object) {
            sched::wake(k, waiter, -EPIPE);
        }
    }
    crate::ipc::endpoint::server_gone(k, pid);
    // A server's last thread: unregister it, so callers get an error (memd) or the kernel's own answer
    // (limitd) instead of waiting forever.
    let tgid = k.task(pid).map_or(pid, |t| t.tgid);
    if !k.tasks.values().any(|t| t.tgid == tgid && t.is_alive()) {
        if server_ended(k, tgid, |k| &mut k.memd) {
            crate::pr_err!(
                "memd: the memory server (pid {tgid}) ended; brk/mmap fail with ENOMEM from now on"
            );
        }
        if server_ended(k, tgid, |k| &mut k.limitd) {
            crate::pr_err!(
                "limitd: the memory-group service (pid {tgid}) ended; the kernel answers group_ctl"
            );
        }
    }
    // The OOM service's last thread: the kernel's OOM killer takes over.
    crate::mm::oom::process_gone(k, tgid);
    if !k.tasks.values().any(|t| t.tgid == tgid && t.is_alive()) {
        for notify in crate::mm::psi::owner_gone(tgid) {
            for waiter in k.objects.put_ref(notify) {
                sched::wake(k, waiter, -EPIPE);
            }
        }
    }
    // Orphans go to init; zombie orphans nobody will collect are reaped right away.
    let children: Vec<Pid> =
        k.tasks.values().filter(|t| t.parent == pid && t.pid != pid).map(|t| t.pid).collect();
    let adopter = if pid != 1 && k.task(1).is_some_and(|t| t.is_alive()) { 1 } else { 0 };
    for child in children {
        if let Some(c) = k.task_mut(child) {
            c.parent = adopter;
        }
        if adopter == 1 {
            notify_parent(k, child);
        }
    }
    notify_parent(k, pid);
}

/// If process `tgid` (whose last thread ended) is the server in `slot`, unregisters it and wakes its
/// waiting callers with EPIPE; returns whether it was.
fn server_ended(k: &mut Kernel, tgid: Pid, slot: super::ServerSlot) -> bool {
    let Some((endpoint, server)) = *slot(k) else { return false };
    if server != tgid {
        return false;
    }
    *slot(k) = None;
    for waiter in k.objects.put_ref(endpoint) {
        sched::wake(k, waiter, -EPIPE);
    }
    true
}

/// Wakes `pid`'s parent if it waits for this child and the child is a zombie.
fn notify_parent(k: &mut Kernel, pid: Pid) {
    let Some(task) = k.task(pid) else { return };
    if task.is_alive() {
        return;
    }
    let parent = task.parent;
    if let Some(State::Blocked(Wait::Child(filter))) = k.task(parent).map(|p| p.state)
        && filter.is_none_or(|f| f == pid)
    {
        sched::wake(k, parent, 0);
    }
}

/// Ends the running task with a wait status; never returns.
pub fn exit_current(status: i32) -> ! {
    let mut k = KERNEL.lock();
    let pid = k.current;
    let comm = k.cur().comm;
    do_exit(&mut k, pid, status);
    k.dead.push(pid);
    if pid == 1 {
        init_ended(comm.as_str(), status);
    }
    sched::schedule(k);
    unreachable!("a zombie was scheduled");
}

/// Ends `pid` (not the running task) with a wait status; returns what to free once unlocked.
pub fn kill_other(k: &mut Kernel, pid: Pid, status: i32) -> Remains {
    let comm = k.task(pid).map(|t| t.comm);
    do_exit(k, pid, status);
    let mut remains = Remains::default();
    if let Some(task) = k.task_mut(pid) {
        remains.take_from(task);
    }
    if pid == 1 {
        init_ended(comm.as_ref().map_or("init", |c| c.as_str()), status);
    }
    remains
}

/// Ends every live task of process `tgid` except `except` (exit_group, or a signal to a process);
/// returns what to free once unlocked.
pub fn kill_threads(k: &mut Kernel, tgid: Pid, except: Pid, status: i32) -> Remains {
    let victims: Vec<Pid> = k
        .tasks
        .values()
        .filter(|t| t.tgid == tgid && t.pid != except && t.is_alive())
        .map(|t| t.pid)
        .collect();
    let mut all = Remains::default();
    for pid in victims {
        let r = kill_other(k, pid, status);
        all.absorb(r);
    }
    all
}

/// Init ended: report, then stop the machine (the status is the verdict of a test run).
fn init_ended(name: &str, status: i32) -> ! {
    if wait::if_exited(status) {
        pr_notice!("init: {name} (pid 1) exited with code {}", wait::exit_status(status));
    } else {
        pr_notice!("init: {name} (pid 1) killed by signal {}", wait::term_sig(status));
    }
    let pass = wait::if_exited(status) && wait::exit_status(status) == 0;
    pr_notice!("reboot: Power down");
    qemu::exit(if pass { ExitCode::Pass } else { ExitCode::Fail })
}

/// Removes a zombie from the table; returns its status and what to free.
fn reap(k: &mut Kernel, pid: Pid) -> Option<(i32, Remains)> {
    let State::Zombie(status) = k.task(pid)?.state else { return None };
    if k.dead.contains(&pid) {
        return None;
    }
    let mut task = k.tasks.remove(&pid)?;
    let mut remains = Remains::default();
    remains.take_from(&mut task);
    Some((status, remains))
}

/// Reaps zombies whose parent is gone (after their stacks were freed by the switch away from them).
pub fn reap_orphans(k: &mut Kernel) -> Remains {
    let orphans: Vec<Pid> = k
        .tasks
        .values()
        .filter(|t| {
            !t.is_alive()
                && t.pid != u32::MAX
                && (t.parent == 0 || k.task(t.parent).is_none_or(|p| !p.is_alive()))
        })
        .map(|t| t.pid)
        .collect();
    let mut all = Remains::default();
    for pid in orphans {
        if let Some((_, r)) = reap(k, pid) {
            all.absorb(r);
        }
    }
    all
}

/// wait4: the pid and status of an ended child (`filter` None = any), blocking unless `nohang`.
/// Ok(None) when `nohang` and no child has ended yet.
pub fn wait_child(filter: Option<Pid>, nohang: bool) -> Result<Option<(Pid, i32)>, i64> {
    loop {
        let mut k = KERNEL.lock();
        let me = k.current;
        let children: Vec<(Pid, bool)> = k
            .tasks
            .values()
            .filter(|t| t.parent == me && t.pid != me && filter.is_none_or(|f| f == t.pid))
            .map(|t| (t.pid, t.is_alive()))
            .collect();
        if children.is_empty() {
            return Err(-ECHILD);
        }
        if let Some(&(pid, _)) = children.iter().find(|(pid, alive)| !alive && !k.dead.contains(pid)) {
            let (status, remains) = reap(&mut k, pid).expect("a zombie child");
            drop(k);
            remains.free();
            return Ok(Some((pid, status)));
        }
        if nohang {
            return Ok(None);
        }
        let result = sched::block(k, Wait::Child(filter));
        if result < 0 {
            return Err(result);
        }
    }
}

/// Kills the running task after a fatal user exception, with Linux's report line, e.g.
/// `demo[7]: segfault at 0 ip 0000000000401234 sp 00007ffc12345678 error 6 in demo[401000+2000]`.
pub fn force_fatal_signal(frame: &TrapFrame, signal: u64, what: &str, address: Option<u64>) -> ! {
    let (pid, comm, image) = {
        let k = KERNEL.lock();
        let t = k.cur();
        let image = t.aspace.as_ref().and_then(|a| {
            let a = a.lock();
            a.find(frame.rip).map(|r| (r.start, r.end - r.start))
        });
        (t.pid, t.comm, image)
    };
    let location = match image {
        Some((start, len)) => alloc::format!("in {comm}[{start:x}+{len:x}]"),
        None => alloc::format!("in {comm}"),
    };
    match address {
        Some(addr) => pr_info!(
            "{comm}[{pid}]: {what} at {addr:x} ip {:016x} sp {:016x} error {:x} {location}",
            frame.rip,
            frame.rsp,
            frame.error_code
        ),
        None => pr_info!(
            "traps: {comm}[{pid}] {what} ip:{:x} sp:{:x} error:{:x} {location}",
            frame.rip,
            frame.rsp,
            frame.error_code
        ),
    }
    // A fatal signal ends the whole process, every thread of it (as on Linux).
    let status = wait::signaled(signal as u8);
    let remains = {
        let mut k = KERNEL.lock();
        let tgid = k.cur().tgid;
        kill_threads(&mut k, tgid, pid, status)
    };
    remains.free();
    exit_current(status)
}
