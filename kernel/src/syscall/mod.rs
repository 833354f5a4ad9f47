//! System calls: the table from numbers (DESIGN §7: Linux's for the POSIX subset, native ones from
//! 0x1000) to handlers, each written as decode-then-invoke (STYLE §8): every argument is checked and user
//! memory copied in before anything changes; errors are negative Linux errno values.
//!
//! Entered from `syscall_entry` with the user registers in a `TrapFrame` and interrupts off. The return
//! value goes to RAX; IPC calls also return message words in RSI, RDX, R10 and R8. On the way out the
//! task yields to a more urgent one that became ready meanwhile.

mod console;
mod futex;
mod group;
mod ipc;
mod misc;
mod oom;
mod task;
mod vm;

use abi::errno::ENOSYS;
use abi::nr;

use crate::arch::x86_64::traps::TrapFrame;

/// Syscall arguments, RDI, RSI, RDX, R10, R8, R9.
#[derive(Clone, Copy, Debug)]
pub struct Args([u64; 6]);

impl Args {
    fn from(frame: &TrapFrame) -> Self {
        Args([frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9])
    }
}

type Result = core::result::Result<u64, i64>;

/// Runs the system call the frame holds (from `trap_dispatch`, vector `SYSCALL_VECTOR`).
pub fn dispatch(frame: &mut TrapFrame) {
    let a = Args::from(frame);
    let result = match frame.rax {
        nr::READ => misc::read(a),
        nr::TASK_LIST => task::task_list(a),
        nr::POWEROFF => misc::poweroff(),
        nr::GROUP_CTL => group::group_ctl(a),
        nr::OOM_SCORE_ADJ => task::oom_score_adj(a),
        nr::OOM_REGISTER => oom::oom_register(a),
        nr::OOM_EVENTS => oom::oom_events(a),
        nr::OOM_DONE => oom::oom_done(a),
        nr::PSI_TRIGGER => oom::psi_trigger(a),
        nr::OOM_KILL => oom::oom_kill(a),
        nr::CONSOLE_CTL => console::console_ctl(a),
        nr::WRITE => misc::write(a),
        nr::GETPID => misc::getpid(),
        nr::GETTID => misc::gettid(),
        nr::GETPPID => misc::getppid(),
        nr::SCHED_YIELD => misc::sched_yield(),
        nr::NANOSLEEP => misc::nanosleep(a),
        nr::CLOCK_GETTIME => misc::clock_gettime(a),
        nr::ARCH_PRCTL => misc::arch_prctl(a),
        nr::EXIT => task::exit(a),
        nr::EXIT_GROUP => task::exit_group(a),
        nr::THREAD_CREATE => task::thread_create(a),
        nr::FUTEX => futex::futex(a),
        nr::SERVER_REGISTER => vm::server_register(a),
        nr::PROC_TEXT => misc::proc_text(a),
        nr::MEMD_TEXT => vm::memd_text(a),
        nr::VM_RANGES => vm::vm_ranges(a),
        nr::VM_MOVE => vm::vm_move(a),
        nr::WAIT4 => task::wait4(a),
        nr::KILL => task::kill(a),
        nr::MMAP | nr::MUNMAP | nr::MPROTECT | nr::BRK | nr::MREMAP => vm::forward_to_memd(frame.rax, a),
        nr::SPAWN => task::spawn(a),
        nr::SET_PRIORITY => task::set_priority(a),
        nr::TASK_INFO => task::task_info(a),
        nr::KERNEL_INFO => misc::kernel_info(a),
        nr::ENDPOINT_CREATE => ipc::endpoint_create(),
        nr::IPC_SEND => ipc::send(frame, false),
        nr::IPC_CALL => ipc::send(frame, true),
        nr::IPC_RECV => ipc::receive(frame, false),
        nr::IPC_REPLY => ipc::reply(frame),
        nr::IPC_REPLY_RECV => ipc::receive(frame, true),
        nr::NOTIFY_CREATE => ipc::notify_create(),
        nr::NOTIFY_SIGNAL => ipc::notify_signal(a),
        nr::NOTIFY_WAIT => ipc::notify_wait(a, true),
        nr::NOTIFY_POLL => ipc::notify_wait(a, false),
        nr::HANDLE_CLOSE => ipc::handle_close(a),
        nr::VM_MAP => vm::vm_map(a),
        nr::VM_UNMAP => vm::vm_unmap(a),
        nr::VM_PROTECT => vm::vm_protect(a),
        _ => Err(-ENOSYS),
    };
    frame.rax = match result {
        Ok(value) => value,
        Err(errno) => errno as u64,
    };
    crate::sched::resched_if_needed();
}
