//! The kernel ABI shared by the kernel, libc-rs and the servers: syscall numbers, IPC layouts, error codes.
//!
//! Calling convention (DESIGN §7): `syscall` with the number in RAX and arguments in RDI, RSI, RDX, R10,
//! R8, R9, as on Linux x86-64; RCX and R11 are clobbered by the instruction; the result comes back in RAX,
//! a negative errno on failure. The POSIX subset uses Linux's numbers so static musl programs run; native
//! microkernel calls start at [`nr::NATIVE_BASE`]. The IPC calls also return message words in RSI, RDX, R10
//! and R8 (see [`ipc`]).
#![no_std]
#![forbid(unsafe_code)]

/// Syscall numbers.
pub mod nr {
    // Linux x86-64 numbers (arch/x86/entry/syscalls/syscall_64.tbl).
    pub const READ: u64 = 0;
    pub const WRITE: u64 = 1;
    pub const MMAP: u64 = 9;
    pub const MPROTECT: u64 = 10;
    pub const MUNMAP: u64 = 11;
    pub const BRK: u64 = 12;
    pub const SCHED_YIELD: u64 = 24;
    pub const MREMAP: u64 = 25;
    pub const NANOSLEEP: u64 = 35;
    pub const GETPID: u64 = 39;
    pub const EXIT: u64 = 60;
    pub const WAIT4: u64 = 61;
    pub const KILL: u64 = 62;
    pub const GETPPID: u64 = 110;
    pub const ARCH_PRCTL: u64 = 158;
    pub const GETTID: u64 = 186;
    /// `futex(uaddr, op, val, timeout, …)`: FUTEX_WAIT (0) and FUTEX_WAKE (1), with or without
    /// FUTEX_PRIVATE_FLAG (128); the timeout must be 0 (none).
    pub const FUTEX: u64 = 202;
    pub const CLOCK_GETTIME: u64 = 228;
    pub const EXIT_GROUP: u64 = 231;

    /// First native number.
    pub const NATIVE_BASE: u64 = 0x1000;
    /// `spawn(name_ptr, name_len, args_ptr, args_len, attr_ptr) -> pid`. `args` is the argument strings
    /// after argv[0], each terminated by NUL (argv[0] is the module name); `attr` points to a
    /// [`super::SpawnAttr`] or is 0 for defaults (caller's priority, no capabilities, no handles).
    pub const SPAWN: u64 = 0x1000;
    /// `set_priority(pid, priority) -> 0`; pid 0 is the caller. Raising a task above the caller's own
    /// priority, or changing a task that is not the caller or its child, needs [`super::cap::SCHED`].
    pub const SET_PRIORITY: u64 = 0x1001;
    /// `task_info(pid, buf, len) -> bytes written`: a [`super::TaskInfo`] for pid (0 = caller).
    pub const TASK_INFO: u64 = 0x1002;
    /// `kernel_info(what, buf, len) -> bytes written`: `what` is one of [`super::kinfo`].
    pub const KERNEL_INFO: u64 = 0x1003;
    /// `thread_create(entry, stack_top, arg, tls) -> tid`: a new task in the caller's address space (same
    /// process: getpid is the leader's pid), entered at `entry` with RDI = arg, RSP = stack_top and the
    /// FS base = tls. The creator is its parent (wait4 joins it). `exit` ends one thread, `exit_group`
    /// all threads of the process.
    pub const THREAD_CREATE: u64 = 0x1004;
    /// `server_register(kind, endpoint_handle) -> 0`: become the memory server (kind
    /// [`super::memd::SERVER_KIND`]; the kernel then forwards brk/mmap/munmap/mprotect/mremap to it; needs
    /// [`super::cap::VM_OTHER`]) or the memory-group service (kind [`super::limitd::SERVER_KIND`]; the
    /// kernel then forwards `group_ctl` to it; needs [`super::cap::GROUP`]).
    pub const SERVER_REGISTER: u64 = 0x1005;
    /// `proc_text(which, buf, len, offset) -> bytes`: a kernel-owned /proc text ([`super::proc_text`]),
    /// from byte `offset` on (0 at the end).
    pub const PROC_TEXT: u64 = 0x1006;
    /// `memd_text(op, pid, buf, len, offset) -> bytes`: a memd-owned text (op `memd::OP_MAPS`, `OP_SMAPS`,
    /// `OP_STATUS`; pid 0 = the caller's process), asked of memd by the kernel on the caller's behalf.
    pub const MEMD_TEXT: u64 = 0x1007;
    /// `task_list(buf, len) -> count`: a [`super::TaskInfo`] for every task (as many as fit; the return
    /// value is the total).
    pub const TASK_LIST: u64 = 0x1008;
    /// `poweroff() -> !`: switches the machine off (ACPI S5 on QEMU). Needs [`super::cap::KILL`].
    pub const POWEROFF: u64 = 0x1009;
    /// `group_ctl(request, buf, len, offset)`: memory-group control for limitd (create, remove, attach a
    /// process, write and read the `memory.*` files); `request` points to a [`super::GroupRequest`]. Changing
    /// anything needs [`super::cap::GROUP`]; reading does not.
    pub const GROUP_CTL: u64 = 0x1030;
    /// `oom_score_adj(pid, value) -> 0`: sets /proc/PID/oom_score_adj (−1000..=1000; −1000 = never killed
    /// by the OOM killer). Lowering it below the current value needs [`super::cap::KILL`], as Linux asks
    /// CAP_SYS_RESOURCE; raising it is allowed for the task itself and its descendants.
    pub const OOM_SCORE_ADJ: u64 = 0x1031;
    /// `oom_register(notify_handle) -> 0`: the caller's process becomes the OOM killer (oomd). From then on
    /// a task that cannot get a page (its group at `memory.max`, or no free page at all) waits while the
    /// kernel signals [`super::oom_event::BIT_OOM`] on the notification; oomd reads the events
    /// (`oom_events`), kills, and answers with `oom_done`. If oomd does not answer within the deadline
    /// (`oomd_timeout_ms=`, 1000 by default), declines, or ends, the kernel's own OOM killer acts. Free
    /// memory falling below the low watermark signals [`super::oom_event::BIT_LOW`]. Needs
    /// [`super::cap::KILL`].
    pub const OOM_REGISTER: u64 = 0x1032;
    /// `oom_events(buf, len) -> count`: the pending [`super::OomEvent`]s (as many as fit; the return value
    /// is the total). Only the registered oomd may ask.
    pub const OOM_EVENTS: u64 = 0x1033;
    /// `oom_done(seq, killed) -> 0`: oomd handled every event up to `seq`; `killed` is how many tasks it
    /// killed (0 = it declined: the waiting tasks fall back to the kernel's OOM killer).
    pub const OOM_DONE: u64 = 0x1034;
    /// `psi_trigger(path, path_len, spec, spec_len, notify_handle, bits) -> id`: a pressure trigger, as
    /// writing `some 150000 1000000` to a pressure file does on Linux: `path` is `/proc/pressure/memory`
    /// or `/sys/fs/cgroup/G/memory.pressure`; when the stall time in a window passes the threshold the
    /// kernel ORs `bits` into the notification (at most once per window). The trigger goes when the
    /// caller ends.
    pub const PSI_TRIGGER: u64 = 0x1035;
    /// `oom_kill(pid, signal, oom_group) -> 0`: oomd's kill — `kill(pid, signal)` that also counts
    /// `oom_kill` in the victim's group's `memory.events` (and `oom_group_kill` in group `oom_group` when
    /// it is not 0: the first kill of a `memory.oom.group` kill). Only the registered oomd may call it.
    pub const OOM_KILL: u64 = 0x1036;
    /// `console_ctl(op) -> value`: the screen console (op [`super::console_op::MEMMAP_SHOW`]: draw the
    /// picture of physical memory at the top of the screen and return how many typed bytes wait to be
    /// read, so a watching caller stops at a key press; `MEMMAP_HIDE`: give the screen back to the
    /// text). `-ENODEV` when there is no pixel framebuffer.
    pub const CONSOLE_CTL: u64 = 0x1040;

    /// `endpoint_create() -> handle`.
    pub const ENDPOINT_CREATE: u64 = 0x1010;
    /// `ipc_send(handle, w0, w1, w2, w3, bulk) -> 0`: blocks until a receiver takes the message.
    pub const IPC_SEND: u64 = 0x1011;
    /// `ipc_recv(handle, _, _, _, _, bulk) -> badge` with the message words in RSI, RDX, R10, R8.
    pub const IPC_RECV: u64 = 0x1012;
    /// `ipc_call(handle, w0, w1, w2, w3, bulk) -> reply status` with the reply words in RSI, RDX, R10, R8.
    pub const IPC_CALL: u64 = 0x1013;
    /// `ipc_reply(status, w0, w1, w2, w3, bulk) -> 0`: answers the caller this task last received from.
    pub const IPC_REPLY: u64 = 0x1014;
    /// `ipc_reply_recv(handle, w0, w1, w2, w3, bulk) -> badge`: reply (status 0) to the last caller, then
    /// receive on `handle` (a server's loop in one call). The bulk descriptor serves both directions.
    pub const IPC_REPLY_RECV: u64 = 0x1015;
    /// `notify_create() -> handle`.
    pub const NOTIFY_CREATE: u64 = 0x1018;
    /// `notify_signal(handle, bits) -> 0`: ORs bits into the notification word, wakes a waiter.
    pub const NOTIFY_SIGNAL: u64 = 0x1019;
    /// `notify_wait(handle) -> bits`: blocks until the word is non-zero, returns and clears it.
    pub const NOTIFY_WAIT: u64 = 0x101a;
    /// `notify_poll(handle) -> bits`: like wait, without blocking (0 when nothing is pending).
    pub const NOTIFY_POLL: u64 = 0x101b;
    /// `handle_close(handle) -> 0`.
    pub const HANDLE_CLOSE: u64 = 0x101c;

    /// `vm_map(pid, addr, len, prot, flags) -> addr`: creates an anonymous demand-zero range in pid's
    /// address space (0 = caller). Needs [`super::cap::VM`]; another task's space also needs
    /// [`super::cap::VM_OTHER`]. `flags` are [`super::vm`] bits.
    pub const VM_MAP: u64 = 0x1020;
    /// `vm_unmap(pid, addr, len) -> 0`.
    pub const VM_UNMAP: u64 = 0x1021;
    /// `vm_protect(pid, addr, len, prot) -> 0`.
    pub const VM_PROTECT: u64 = 0x1022;
    /// `vm_ranges(pid, buf, len) -> count`: the ranges of pid's address space as [`super::RangeInfo`]s, in
    /// address order (as many as fit in `len` bytes; the return value is the total count).
    pub const VM_RANGES: u64 = 0x1023;
    /// `vm_move(pid, old_addr, len, new_addr) -> new_addr`: moves `[old_addr, old_addr + len)` — range and
    /// pages — to `new_addr`, which must be free (mremap's mechanism).
    pub const VM_MOVE: u64 = 0x1024;
}

/// Negative errno values come back in RAX; these are the Linux numbers.
pub mod errno {
    pub const EPERM: i64 = 1;
    pub const ENOENT: i64 = 2;
    pub const ESRCH: i64 = 3;
    pub const EINTR: i64 = 4;
    pub const EIO: i64 = 5;
    pub const E2BIG: i64 = 7;
    pub const ENOEXEC: i64 = 8;
    pub const EBADF: i64 = 9;
    pub const ECHILD: i64 = 10;
    pub const EAGAIN: i64 = 11;
    pub const ENOMEM: i64 = 12;
    pub const EACCES: i64 = 13;
    pub const EFAULT: i64 = 14;
    pub const EBUSY: i64 = 16;
    pub const EEXIST: i64 = 17;
    pub const EINVAL: i64 = 22;
    pub const EPIPE: i64 = 32;
    pub const EMFILE: i64 = 24;
    pub const ENOSYS: i64 = 38;
    pub const EDEADLK: i64 = 35;
    pub const ENODEV: i64 = 19;
    pub const EMSGSIZE: i64 = 90;
    pub const ETIMEDOUT: i64 = 110;
}

/// Signal numbers (Linux). A task has no handlers: every signal but 0 ends it.
pub mod signal {
    pub const SIGILL: u64 = 4;
    pub const SIGTRAP: u64 = 5;
    pub const SIGBUS: u64 = 7;
    pub const SIGFPE: u64 = 8;
    pub const SIGKILL: u64 = 9;
    pub const SIGSEGV: u64 = 11;
    pub const SIGTERM: u64 = 15;
}

/// Capability bits a task holds (`SpawnAttr::caps`); a child gets at most its parent's.
pub mod cap {
    /// Create, change and remove ranges in its own address space (the memory server's and tests' right).
    pub const VM: u32 = 1 << 0;
    /// Do so in another task's address space.
    pub const VM_OTHER: u32 = 1 << 1;
    /// Kill any task (without it: only itself and its descendants).
    pub const KILL: u32 = 1 << 2;
    /// Program memory groups (limitd).
    pub const GROUP: u32 = 1 << 3;
    /// Set any task's priority, and above its own.
    pub const SCHED: u32 = 1 << 4;
    /// Every capability (the first task gets these).
    pub const ALL: u32 = VM | VM_OTHER | KILL | GROUP | SCHED;
}

/// Protection bits for `vm_map`/`vm_protect` (Linux's PROT_*).
pub mod prot {
    pub const READ: u64 = 1;
    pub const WRITE: u64 = 2;
    pub const EXEC: u64 = 4;
}

/// Flags for `vm_map`.
pub mod vm {
    /// Place the range exactly at `addr` (it must be free).
    pub const FIXED: u64 = 1 << 0;
    /// Back the range now instead of on first touch.
    pub const POPULATE: u64 = 1 << 1;
    /// Shared (children do not get a copy-on-write copy).
    pub const SHARED: u64 = 1 << 2;
    /// A stack that grows down: a fault in the gap just below it extends it (MAP_GROWSDOWN).
    pub const GROWSDOWN: u64 = 1 << 3;
    /// The range is the heap (reported as `[heap]`).
    pub const HEAP: u64 = 1 << 4;
}

/// What a range holds (`RangeInfo::kind`).
pub mod range_kind {
    pub const ANONYMOUS: u64 = 0;
    /// The program image (its module's pages, copy-on-write when writable).
    pub const IMAGE: u64 = 1;
    /// The initial stack.
    pub const STACK: u64 = 2;
    pub const HEAP: u64 = 3;
}

/// One range of an address space, as `vm_ranges` reports it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RangeInfo {
    pub start: u64,
    pub end: u64,
    /// `prot` bits.
    pub prot: u64,
    /// `range_kind` value.
    pub kind: u64,
    /// `vm` flags it was created with (SHARED, GROWSDOWN, HEAP).
    pub flags: u64,
    /// Pages present: private (anonymous or copied) and still the module's own (shared, clean).
    pub resident_private: u64,
    pub resident_shared: u64,
    /// Private pages written since they were mapped (dirty).
    pub dirty: u64,
}

/// The memory server protocol: the kernel forwards Linux's memory calls to memd as an IPC call on the
/// caller's behalf (DESIGN §6). The badge is the caller's (see [`badge`]); the reply status is the
/// syscall's result (an address, 0, or -errno).
///
/// Words: w0 = op | prot << 8 | flags << 32; w1, w2, w3 = the call's arguments as listed per op.
pub mod memd {
    /// `server_register` kind of the memory server.
    pub const SERVER_KIND: u64 = 1;
    /// brk(addr): w1 = addr.
    pub const OP_BRK: u64 = 1;
    /// mmap(addr, len, prot, flags, fd, off): w1 = addr, w2 = len, w3 = fd (off must be 0: no files).
    pub const OP_MMAP: u64 = 2;
    /// munmap(addr, len): w1, w2.
    pub const OP_MUNMAP: u64 = 3;
    /// mprotect(addr, len, prot): w1, w2.
    pub const OP_MPROTECT: u64 = 4;
    /// mremap(old, old_len, new_len, flags): w1, w2, w3 (MREMAP_FIXED is not supported).
    pub const OP_MREMAP: u64 = 5;
    /// Text of /proc/PID/maps, smaps or status into the reply's bulk buffer: w1 = pid, w2 = byte offset
    /// into the text (texts longer than a page are read in pieces), w3 = the process's serial (see
    /// [`super::badge`]). Reply status = bytes.
    pub const OP_MAPS: u64 = 16;
    pub const OP_SMAPS: u64 = 17;
    pub const OP_STATUS: u64 = 18;
    /// Packs the first word.
    pub const fn word0(op: u64, prot: u64, flags: u64) -> u64 {
        op | (prot & 0xff) << 8 | (flags & 0xffff_ffff) << 32
    }
}

/// Linux mmap/mremap flags (the subset memd implements).
pub mod mman {
    pub const MAP_SHARED: u64 = 0x01;
    pub const MAP_PRIVATE: u64 = 0x02;
    pub const MAP_FIXED: u64 = 0x10;
    pub const MAP_ANONYMOUS: u64 = 0x20;
    pub const MAP_GROWSDOWN: u64 = 0x100;
    pub const MAP_NORESERVE: u64 = 0x4000;
    pub const MAP_POPULATE: u64 = 0x8000;
    pub const MAP_STACK: u64 = 0x20000;
    pub const MAP_FIXED_NOREPLACE: u64 = 0x100000;
    pub const MREMAP_MAYMOVE: u64 = 1;
    pub const MREMAP_FIXED: u64 = 2;
    pub const MAP_FAILED: u64 = u64::MAX;
}

/// `proc_text` selectors: the kernel-owned texts of DESIGN §8, in Linux's formats.
pub mod proc_text {
    pub const MEMINFO: u64 = 0;
    pub const BUDDYINFO: u64 = 1;
    pub const PAGETYPEINFO: u64 = 2;
    pub const ZONEINFO: u64 = 3;
    pub const VMSTAT: u64 = 4;
    pub const SLABINFO: u64 = 5;
    pub const VMALLOCINFO: u64 = 6;
    /// The kernel log (dmesg).
    pub const DMESG: u64 = 7;
    /// The sanitized E820 table, as `BIOS-e820:` lines.
    pub const E820: u64 = 8;
    /// A text picture of physical memory: one character per block of frames, by owner, with a legend.
    pub const MEMMAP: u64 = 9;
    /// `/proc/pressure/memory`: pressure stall information, system-wide.
    pub const PRESSURE_MEMORY: u64 = 10;
    /// `/proc/PATH` names and their selectors (DMESG, E820 and MEMMAP are not /proc files: the shell's
    /// `dmesg`, `e820` and `memmap` commands read them).
    pub const FILES: [(&str, u64); 8] = [
        ("meminfo", MEMINFO),
        ("buddyinfo", BUDDYINFO),
        ("pagetypeinfo", PAGETYPEINFO),
        ("zoneinfo", ZONEINFO),
        ("vmstat", VMSTAT),
        ("slabinfo", SLABINFO),
        ("vmallocinfo", VMALLOCINFO),
        ("pressure/memory", PRESSURE_MEMORY),
    ];
}

/// `kernel_info` selectors.
pub mod kinfo {
    /// A [`super::MemInfo`].
    pub const MEMINFO: u64 = 0;
    /// The TSC frequency in kHz as a `u64`.
    pub const TSC_KHZ: u64 = 1;
    /// `randomize_va_space` (0, 1 or 2) as a `u64`.
    pub const RANDOMIZE_VA_SPACE: u64 = 2;
    /// 16 random bytes from the kernel's generator.
    pub const RANDOM: u64 = 3;
}

/// Scheduler priorities: 0 is the idle task, [`PRIORITY_MAX`] the most urgent.
pub const PRIORITY_LEVELS: u32 = 64;
pub const PRIORITY_MAX: u32 = PRIORITY_LEVELS - 1;
/// Priority of a task started without one.
pub const PRIORITY_DEFAULT: u32 = 16;

/// The badge a receiver gets (RAX of ipc_recv): the sender's process id in the low 32 bits and a serial
/// number of that process above them, which tells apart two processes that reused a pid.
pub mod badge {
    pub const fn pid(badge: u64) -> u64 {
        badge & 0xffff_ffff
    }
    pub const fn serial(badge: u64) -> u64 {
        badge >> 32
    }
}

/// Maximum bytes a bulk IPC transfer carries.
pub const IPC_BULK_MAX: u64 = 4096;
/// Maximum bytes of a spawn's argument strings.
pub const SPAWN_ARGS_MAX: u64 = 4096;
/// Handles a spawn can pass.
pub const SPAWN_HANDLES_MAX: usize = 4;

/// Spawn attributes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpawnAttr {
    /// 0 means the caller's priority.
    pub priority: u32,
    /// Capability bits for the child (must be a subset of the caller's).
    pub caps: u32,
    /// How many of `handles` are passed; the child sees them as handles 1, 2, … in this order.
    pub nr_handles: u32,
    pub handles: [u32; SPAWN_HANDLES_MAX],
}

/// The bulk part of an IPC message: what to send, and where to receive.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpcBulk {
    pub send_ptr: u64,
    pub send_len: u64,
    pub recv_ptr: u64,
    pub recv_cap: u64,
    /// Written by the kernel: bytes received into `recv_ptr`.
    pub recv_len: u64,
}

/// `kernel_info(MEMINFO)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemInfo {
    pub total_pages: u64,
    pub free_pages: u64,
    pub nr_tasks: u64,
    /// Pages held by slab caches (after shrinking their empty slabs).
    pub slab_pages: u64,
}

/// `task_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskInfo {
    pub pid: u64,
    pub parent: u64,
    pub priority: u64,
    /// Resident user pages.
    pub rss_pages: u64,
    /// Page-table pages of the user half.
    pub pgtable_pages: u64,
    /// Kernel stack pages (guard excluded).
    pub kernel_stack_pages: u64,
    pub minor_faults: u64,
    pub name: [u8; 16],
    /// The highest `rss_pages` seen (VmHWM).
    pub rss_peak_pages: u64,
    /// `b'R'` running or ready, `b'S'` sleeping (blocked), `b'Z'` zombie.
    pub state: u64,
    /// Its memory group (`group_ctl` id; 0 = the root).
    pub group: u64,
    /// Its process (thread-group leader) id.
    pub tgid: u64,
    /// [`task_flag`] bits.
    pub flags: u64,
    /// Mapped pages (total-vm) and resident pages split as Linux's OOM report does: anonymous (incl.
    /// copied image pages) and file-backed (the program image's own pages).
    pub total_vm_pages: u64,
    pub rss_anon_pages: u64,
    pub rss_file_pages: u64,
    /// /proc/PID/oom_score_adj (as i64).
    pub oom_score_adj: i64,
    /// /proc/PID/oom_score: Linux's 0..2000 reading of its OOM badness.
    pub oom_score: u64,
}

/// The text of a NUL-padded field (`TaskInfo::name`, `GroupNode::path`, the `GroupRequest` strings): the
/// bytes before the first NUL (all of them without one), if they are UTF-8.
pub fn padded_str(bytes: &[u8]) -> Option<&str> {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    core::str::from_utf8(&bytes[..end]).ok()
}

impl TaskInfo {
    /// The command name (`?` if it is not UTF-8).
    pub fn comm(&self) -> &str {
        padded_str(&self.name).unwrap_or("?")
    }
}

impl GroupNode {
    /// The path below /sys/fs/cgroup (`?` if it is not UTF-8).
    pub fn path_str(&self) -> &str {
        padded_str(&self.path).unwrap_or("?")
    }
}

/// `TaskInfo::flags`.
pub mod task_flag {
    /// A user task (not the idle task or a kernel thread).
    pub const USER: u64 = 1 << 0;
    /// A system service the OOM killer never picks: init, memd, limitd, oomd.
    pub const SERVICE: u64 = 1 << 1;
}

/// `group_ctl` operations.
pub mod group_op {
    pub const CREATE: u64 = 0;
    pub const REMOVE: u64 = 1;
    /// Moves process `pid` (all its threads) into the group; later charges go there.
    pub const ATTACH: u64 = 2;
    /// Writes `value` into `file` (memory.max, memory.high, memory.min, memory.low, memory.oom.group,
    /// memory.peak to reset it).
    pub const WRITE: u64 = 3;
    /// Reads `file` (memory.current, .max, .high, .min, .low, .peak, .events, .events.local, .stat,
    /// .oom.group, .pressure, cgroup.procs) into the buffer from `offset` on.
    pub const READ: u64 = 4;
    /// Lists every group as [`super::GroupNode`]s into the buffer (as many as fit; returns the total).
    /// Answered by the kernel itself, for anyone (oomd needs it when memory is gone).
    pub const TREE: u64 = 5;
    /// Lists the directory `/sys/fs/cgroup/PATH` (limitd): one name per line, child groups with a
    /// trailing `/`, then the group's files.
    pub const LIST: u64 = 6;
}

/// The memory-group service protocol. Once limitd registered (`server_register(SERVER_KIND, …)`, needs
/// [`cap::GROUP`]), the kernel forwards every `group_ctl` call but TREE from other tasks to it as an IPC
/// call on the caller's behalf: w0 = op, w1 = the caller's capabilities, w2 = offset, w3 = the caller's
/// buffer length; the bulk part carries the [`GroupRequest`]. The reply status is the call's result and
/// a READ or LIST text comes back in the bulk part. limitd itself programs the kernel's groups with
/// `group_ctl` (its calls are not forwarded).
pub mod limitd {
    /// `server_register` kind of the memory-group service.
    pub const SERVER_KIND: u64 = 2;
}

/// One memory group as `group_op::TREE` lists it (what oomd needs to decide inside a group).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupNode {
    pub id: u32,
    /// The parent's id (the root is its own parent).
    pub parent: u32,
    /// `memory.oom.group`.
    pub oom_group: u32,
    pub nr_tasks: u32,
    /// `memory.current` and `memory.max` in pages (max = u64::MAX when unlimited).
    pub current_pages: u64,
    pub max_pages: u64,
    /// The `total_pages` Linux's oom_badness scales `oom_score_adj` by for an OOM in this group.
    pub oom_total_pages: u64,
    /// The path below /sys/fs/cgroup, NUL-padded (`/` for the root).
    pub path: [u8; 64],
}

impl Default for GroupNode {
    fn default() -> Self {
        GroupNode {
            id: 0,
            parent: 0,
            oom_group: 0,
            nr_tasks: 0,
            current_pages: 0,
            max_pages: 0,
            oom_total_pages: 0,
            path: [0; 64],
        }
    }
}

/// What oomd is told (`oom_event` kinds and notification bits).
pub mod oom_event {
    /// A task's group is at `memory.max` (`OomEvent::group`); the task waits.
    pub const GROUP_OOM: u32 = 1;
    /// No free page at all; the task waits.
    pub const SYSTEM_OOM: u32 = 2;
    /// Notification bit: there are OOM events to read.
    pub const BIT_OOM: u64 = 1;
    /// Notification bit: free memory fell below the low watermark (where user allocations stop).
    pub const BIT_LOW: u64 = 2;
}

/// An out-of-memory event for oomd (`oom_events`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OomEvent {
    /// Increasing number; answer with `oom_done(seq, …)`.
    pub seq: u64,
    /// [`oom_event`] kind.
    pub kind: u32,
    /// The group at its limit (GROUP_OOM), 0 otherwise.
    pub group: u32,
    /// The process whose allocation failed.
    pub pid: u64,
    /// The scale of `oom_score_adj` for this event (group: its limit; system: all RAM pages).
    pub total_pages: u64,
    /// Free pages when the event was raised.
    pub free_pages: u64,
}

/// A `group_ctl` request: strings are NUL-padded.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GroupRequest {
    pub op: u64,
    pub pid: u64,
    /// The group's path, `/` for the root (`/sys/fs/cgroup/` stripped).
    pub path: [u8; 64],
    pub file: [u8; 32],
    pub value: [u8; 32],
}

impl Default for GroupRequest {
    fn default() -> Self {
        GroupRequest { op: 0, pid: 0, path: [0; 64], file: [0; 32], value: [0; 32] }
    }
}

impl GroupRequest {
    /// Its size in bytes (as the IPC bulk part of a forwarded `group_ctl`).
    pub const BYTES: usize = 16 + 64 + 32 + 32;

    /// The request as bytes (x86-64 field order and byte order).
    pub fn to_bytes(&self) -> [u8; Self::BYTES] {
        let mut out = [0u8; Self::BYTES];
        out[..8].copy_from_slice(&self.op.to_le_bytes());
        out[8..16].copy_from_slice(&self.pid.to_le_bytes());
        out[16..80].copy_from_slice(&self.path);
        out[80..112].copy_from_slice(&self.file);
        out[112..].copy_from_slice(&self.value);
        out
    }

    /// The request `to_bytes` made; `None` when `bytes` is too short.
    pub fn from_bytes(bytes: &[u8]) -> Option<GroupRequest> {
        let bytes: &[u8; Self::BYTES] = bytes.get(..Self::BYTES)?.try_into().ok()?;
        let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or([0; 8]));
        let mut request = GroupRequest { op: word(0), pid: word(8), ..Default::default() };
        request.path.copy_from_slice(&bytes[16..80]);
        request.file.copy_from_slice(&bytes[80..112]);
        request.value.copy_from_slice(&bytes[112..]);
        Some(request)
    }
}

/// Wait status encoding (Linux): exited with code c → `c << 8`; killed by signal s → `s`.
pub mod wait {
    pub const fn exited(code: u8) -> i32 {
        (code as i32) << 8
    }
    pub const fn signaled(signal: u8) -> i32 {
        signal as i32 & 0x7f
    }
    pub const fn if_exited(status: i32) -> bool {
        status & 0x7f == 0
    }
    pub const fn exit_status(status: i32) -> u8 {
        ((status >> 8) & 0xff) as u8
    }
    pub const fn term_sig(status: i32) -> u8 {
        (status & 0x7f) as u8
    }
    /// `wait4` option: return 0 instead of blocking when no child has ended.
    pub const WNOHANG: u64 = 1;
}

/// `arch_prctl` codes.
pub mod arch_prctl {
    pub const SET_FS: u64 = 0x1002;
    pub const GET_FS: u64 = 0x1003;
}

/// The user half of the address space (DESIGN §5).
pub mod layout {
    /// Nothing is ever mapped below this (the null trap).
    pub const USER_MIN: u64 = 0x10000;
    /// One past the highest user address (the last page below the canonical hole stays unmapped).
    pub const USER_END: u64 = 0x7fff_ffff_f000;
    /// Top of the initial user stack.
    pub const STACK_TOP: u64 = 0x7fff_ffff_e000;
    /// The initial stack's size; a guard gap of the same size lies below it.
    pub const STACK_BYTES: u64 = 128 * 1024;
}

/// Operations of [`nr::CONSOLE_CTL`].
pub mod console_op {
    pub const MEMMAP_SHOW: u64 = 1;
    pub const MEMMAP_HIDE: u64 = 2;
}
