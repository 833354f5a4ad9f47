//! Tasks (Linux's `task_struct`, seL4's TCB): one thread of control with its own address space, kernel
//! stack, capabilities, handles and IPC state, and the one table that holds them all.
//!
//! Locking: the whole table — tasks, run queue, IPC objects — sits behind one lock, [`KERNEL`], taken
//! with interrupts disabled (one CPU; syscalls and interrupts run with IF clear, so the kernel is not
//! preemptible and the lock is never contended, only nested by mistake). It is never held across a
//! context switch nor while user memory is touched (a fault there takes it to find the address space).
//!
//! Files: [`spawn`] (ELF loading, the first task), [`exit`] (exit, kill, wait, the segfault report),
//! [`modules`] (the boot modules programs are loaded from); the scheduler is `crate::sched`, IPC objects
//! `crate::ipc`.

pub mod exit;
pub mod modules;
pub mod spawn;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::Ordering;

use crate::ipc::{Handle, Message, ObjectId, Objects};
use crate::mm::aspace::AddressSpace;
use crate::mm::vmalloc::KernelStack;
use crate::sync::SpinLock;

pub type Pid = u32;

/// A task's name (the module it was loaded from), at most 15 bytes as Linux's `comm`.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Comm([u8; 16]);

/// The running task's name, readable without the scheduler lock (the page allocator's failure report
/// names the task, as Linux prints `current->comm`); all zero before the first task runs.
static CURRENT_COMM: [core::sync::atomic::AtomicU64; 2] =
    [core::sync::atomic::AtomicU64::new(0), core::sync::atomic::AtomicU64::new(0)];

/// The running task's name, or `swapper` (Linux's name for the boot and idle context) before any.
pub fn current_comm() -> Comm {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&CURRENT_COMM[0].load(Ordering::Relaxed).to_le_bytes());
    bytes[8..].copy_from_slice(&CURRENT_COMM[1].load(Ordering::Relaxed).to_le_bytes());
    if bytes[0] == 0 { Comm::new("swapper") } else { Comm(bytes) }
}

impl Comm {
    pub fn new(name: &str) -> Self {
        let mut comm = [0u8; 16];
        let len = name.len().min(15);
        comm[..len].copy_from_slice(&name.as_bytes()[..len]);
        Comm(comm)
    }

    pub fn as_str(&self) -> &str {
        let end = self.0.iter().position(|&b| b == 0).unwrap_or(16);
        core::str::from_utf8(&self.0[..end]).unwrap_or("?")
    }

    pub fn bytes(&self) -> [u8; 16] {
        self.0
    }
}

impl fmt::Display for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a blocked task waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// A sender on this endpoint.
    Receive(ObjectId),
    /// A receiver on this endpoint; `call` when a reply is expected afterwards.
    Send { endpoint: ObjectId, call: bool },
    /// The reply of this server.
    Reply(Pid),
    /// A signal on this notification.
    Notification(ObjectId),
    /// A child to end (`pid` or any when `None`).
    Child(Option<Pid>),
    /// The clock to reach `wake_at_ns`.
    Sleep,
    /// A futex wake-up on (address space, user address); also ends at `wake_at_ns` when it is not 0.
    Futex { space: usize, addr: u64 },
    /// Console input.
    Input,
    /// The OOM service's answer to event `seq` (also ends at `wake_at_ns`).
    Oom { seq: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Ready,
    Running,
    Blocked(Wait),
    /// Ended with a wait status; waits for its parent to collect it.
    Zombie(i32),
}

/// A task.
pub struct Task {
    pub pid: Pid,
    /// The process (thread group) it belongs to: the pid of the task that started it; threads made by
    /// `thread_create` share it and the address space.
    pub tgid: Pid,
    /// A number unique to the process (31 bits, counting up), so servers can tell apart two processes
    /// that got the same pid one after the other.
    pub serial: u32,
    pub parent: Pid,
    pub comm: Comm,
    pub state: State,
    /// Priority it was given, and the one it runs at (higher while it serves a more urgent client).
    pub base_priority: u8,
    pub priority: u8,
    /// Timer ticks left in its slice.
    pub slice_left: u32,
    pub caps: u32,
    /// `None` for kernel threads (idle) and after exit.
    pub kstack: Option<KernelStack>,
    pub saved_rsp: u64,
    pub aspace: Option<Arc<SpinLock<AddressSpace>>>,
    pub handles: Vec<Option<Handle>>,
    /// The message handed to this task by the party that woke it (a request, or a reply), and the
    /// result code of the blocking call.
    pub inbox: Option<Message>,
    pub wake_result: i64,
    /// The message this task is trying to send while it waits in an endpoint's queue.
    pub outbox: Option<Message>,
    /// The caller this task received from and owes a reply.
    pub reply_to: Option<Pid>,
    pub wake_at_ns: u64,
    pub fs_base: u64,
    /// The memory group the task's pages are charged to (`memcg::GroupId` as u32; 0 = root).
    pub group: u32,
    /// `/proc/PID/oom_score_adj` (−1000 = never chosen by the OOM killer).
    pub oom_score_adj: i16,
    /// A user task (has a user frame at the top of its kernel stack).
    pub user: bool,
    pub kernel_stack_pages: u64,
    /// Linux's PSI task flags (`memcg::psi::TSK_*`), as last reported to its group's pressure figures.
    pub psi: u8,
    /// Pages charged while its group was above `memory.high`, not yet paid for with a throttle.
    pub over_high_pages: u64,
}

impl Task {
    pub fn is_alive(&self) -> bool {
        !matches!(self.state, State::Zombie(_))
    }

    /// The first free handle slot (handles are 1-based).
    pub fn install_handle(&mut self, handle: Handle) -> Option<u32> {
        const MAX_HANDLES: usize = 64;
        if let Some(i) = self.handles.iter().position(Option::is_none) {
            self.handles[i] = Some(handle);
            return Some(i as u32 + 1);
        }
        if self.handles.len() >= MAX_HANDLES {
            return None;
        }
        self.handles.push(Some(handle));
        Some(self.handles.len() as u32)
    }

    /// The badge a receiver sees for this task: its process id, and the process serial above bit 32.
    pub fn badge(&self) -> u64 {
        u64::from(self.tgid) | u64::from(self.serial) << 32
    }

    pub fn handle(&self, number: u64) -> Option<Handle> {
        let index = usize::try_from(number).ok()?.checked_sub(1)?;
        self.handles.get(index).copied().flatten()
    }
}

/// Where the kernel keeps a registered server (its endpoint and process): `|k| &mut k.memd`, or limitd's.
pub type ServerSlot = fn(&mut Kernel) -> &mut Option<(crate::ipc::ObjectId, Pid)>;

/// Everything the scheduler lock protects.
pub struct Kernel {
    pub tasks: BTreeMap<Pid, Box<Task>>,
    pub rq: runqueue::RunQueue<Pid>,
    /// The running task; change it only with [`Kernel::set_current`].
    pub current: Pid,
    /// Address of the running task's boxed `Task` (0 before the first), so the hot paths find it without
    /// a table lookup. Boxes never move, and the running task stays in the table while it runs.
    current_task: usize,
    pub idle: Pid,
    pub next_pid: Pid,
    pub objects: Objects,
    /// Set when a more urgent task became ready: the syscall or interrupt return path switches.
    pub need_resched: bool,
    /// Resources of a task that ended on its own stack; freed after the next switch.
    pub dead: Vec<Pid>,
    /// Kernel page-table root (for kernel threads).
    pub kernel_root: u64,
    pub started: bool,
    /// The memory server's endpoint and process, once it registered (brk/mmap go to it).
    pub memd: Option<(crate::ipc::ObjectId, Pid)>,
    /// Whether a memory server ever registered (brk/mmap then fail with ENOMEM rather than ENOSYS).
    pub started_memd: bool,
    /// The memory-group service's endpoint and process, once it registered (`group_ctl` goes to it).
    pub limitd: Option<(crate::ipc::ObjectId, Pid)>,
    /// The OOM service, once it registered (DESIGN §6; `mm::oom`).
    pub oomd: Option<crate::mm::oom::Oomd>,
    pub next_serial: u32,
    /// `randomize_va_space`.
    pub randomize_va_space: u8,
}

impl Kernel {
    pub const fn new() -> Self {
        Kernel {
            tasks: BTreeMap::new(),
            rq: runqueue::RunQueue::new(),
            current: 0,
            current_task: 0,
            idle: 0,
            next_pid: 1,
            objects: Objects::new(),
            need_resched: false,
            dead: Vec::new(),
            kernel_root: 0,
            started: false,
            memd: None,
            started_memd: false,
            oomd: None,
            limitd: None,
            next_serial: 1,
            randomize_va_space: 2,
        }
    }

    pub fn task(&self, pid: Pid) -> Option<&Task> {
        self.tasks.get(&pid).map(|t| &**t)
    }

    pub fn task_mut(&mut self, pid: Pid) -> Option<&mut Task> {
        self.tasks.get_mut(&pid).map(|t| &mut **t)
    }

    /// Makes `pid` the running task.
    pub fn set_current(&mut self, pid: Pid) {
        let task = self.tasks.get_mut(&pid).expect("the new current task is in the table");
        self.current_task = &raw mut **task as usize;
        self.current = pid;
        let [low, high] = [&task.comm.0[..8], &task.comm.0[8..]]
            .map(|half| u64::from_le_bytes(half.try_into().unwrap_or([0; 8])));
        CURRENT_COMM[0].store(low, Ordering::Relaxed);
        CURRENT_COMM[1].store(high, Ordering::Relaxed);
    }

    pub fn cur(&self) -> &Task {
        debug_assert!(self.current_task != 0);
        // SAFETY: `current_task` points into the `Box<Task>` of `current` (set by `set_current`); the box
        // stays in `tasks` while the task runs (it is removed only when reaped, never while running), and
        // `&self` keeps the table borrowed.
        unsafe { &*(self.current_task as *const Task) }
    }

    pub fn cur_mut(&mut self) -> &mut Task {
        debug_assert!(self.current_task != 0);
        // SAFETY: as `cur`, with `&mut self` giving exclusive access to the table and so to the box.
        unsafe { &mut *(self.current_task as *mut Task) }
    }

    /// Whether process `tgid` is one of the services the system needs to recover from an out-of-memory
    /// situation — init, memd, limitd, oomd — which the OOM killers never pick.
    pub fn is_service(&self, tgid: Pid) -> bool {
        tgid == 1
            || self.memd.is_some_and(|(_, pid)| pid == tgid)
            || self.limitd.is_some_and(|(_, pid)| pid == tgid)
            || crate::mm::oom::is_oomd(self, tgid)
    }

    pub fn alloc_pid(&mut self) -> Pid {
        loop {
            let pid = self.next_pid;
            self.next_pid = if self.next_pid >= 32767 { 2 } else { self.next_pid + 1 };
            if !self.tasks.contains_key(&pid) {
                return pid;
            }
        }
    }

    /// Whether `pid` is `ancestor` or one of its descendants.
    pub fn is_descendant(&self, mut pid: Pid, ancestor: Pid) -> bool {
        for _ in 0..64 {
            if pid == ancestor {
                return true;
            }
            match self.task(pid) {
                Some(t) if t.parent != pid => pid = t.parent,
                _ => return false,
            }
        }
        false
    }
}

impl Default for Kernel {
    fn default() -> Self {
        Self::new()
    }
}

/// The scheduler lock and everything under it.
pub static KERNEL: SpinLock<Kernel> = SpinLock::new(Kernel::new());

/// The running task's address space (for the page-fault handler). Never waits: a fault while the lock is
/// held is a kernel bug, reported by the caller.
pub fn current_aspace() -> Option<Arc<SpinLock<AddressSpace>>> {
    let k = KERNEL.try_lock()?;
    if !k.started {
        return None;
    }
    k.task(k.current)?.aspace.clone()
}

/// `[bottom, top)` of the running task's kernel stack, for the hardened-usercopy check.
pub fn current_stack_bounds() -> Option<(u64, u64)> {
    // The per-CPU copy the scheduler keeps for the syscall entry: no lock needed.
    let top = crate::arch::x86_64::percpu::kernel_rsp();
    (top != 0).then(|| (top - crate::mm::vmalloc::KERNEL_STACK_SIZE, top))
}
