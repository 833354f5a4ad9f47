//! `memd`: the memory server. The kernel forwards every task's brk, mmap, munmap, mprotect and mremap to
//! it as an IPC call (the caller waits); memd keeps each process's VMA list and Linux's rules
//! (`memd-core`), turns a request into range operations on the caller's address space
//! (`vm_map`/`vm_unmap`/`vm_protect`/`vm_move`, which need `cap::VM_OTHER`), and replies with the
//! syscall's result. It also writes `/proc/PID/maps`, `smaps` and `status` for whoever asks (DESIGN §6, §8).
//!
//! memd never uses brk/mmap itself (the kernel would forward them to memd: EDEADLK): its heap is a
//! fixed arena in its own .bss, touched page by page at start so that no request ever waits for a page
//! fault of memd's, and what is left of it is the reserve. Page faults of other tasks never come here:
//! the kernel resolves them inside the ranges memd created.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use abi::memd::{OP_BRK, OP_MAPS, OP_MMAP, OP_MPROTECT, OP_MREMAP, OP_MUNMAP, OP_SMAPS, OP_STATUS};
use abi::{RangeInfo, badge, errno, kinfo};
use memd_core::{Action, Layout, Mm};
use userland::arena::{Arena, Reserve};
use userland::sys::{self, ipc};
use userland::{Args, println};

userland::entry!(main);

/// The heap: 8 MiB in .bss, pre-faulted at start.
const ARENA_BYTES: usize = 8 << 20;
static RESERVE: Reserve<ARENA_BYTES> = Reserve::new();

#[global_allocator]
static HEAP: Arena = Arena::new();

/// Handle 1: the notification init waits on; bit 0 = registered.
const READY_HANDLE: u64 = 1;
/// Ranges asked from the kernel per process at most.
const MAX_RANGES: usize = 256;
/// Drop state of processes that ended once this many are known.
const PRUNE_AT: usize = 64;

/// One process as memd knows it.
struct Process {
    serial: u64,
    mm: Mm,
}

struct Server {
    processes: BTreeMap<u64, Process>,
    randomize: u8,
}

fn main(_args: &Args) -> i32 {
    // Every page touched now: serving never waits for a page fault of its own.
    HEAP.init_prefaulted(&RESERVE);

    let endpoint = match ipc::endpoint_create() {
        Ok(handle) => handle,
        Err(e) => {
            println!("memd: endpoint_create: {e}");
            return 1;
        }
    };
    if let Err(e) = sys::server_register(abi::memd::SERVER_KIND, endpoint) {
        println!("memd: cannot register as the memory server: {e}");
        return 1;
    }
    let _ = ipc::notify_signal(READY_HANDLE, 1);
    let mut randomize = [0u8; 8];
    let _ = sys::kernel_info(kinfo::RANDOMIZE_VA_SPACE, &mut randomize);
    let mut server = Server { processes: BTreeMap::new(), randomize: u64::from_le_bytes(randomize) as u8 };

    let mut text = Vec::new();
    loop {
        let message = match ipc::ipc_recv(endpoint, None) {
            Ok(message) => message,
            Err(e) => {
                println!("memd: receive failed: {e}");
                continue;
            }
        };
        let status = server.handle(message.value, message.words, &mut text);
        let len = match message.words[0] & 0xff {
            OP_MAPS | OP_SMAPS | OP_STATUS if status >= 0 => status as usize,
            _ => 0,
        };
        // The status is the caller's syscall result; a /proc text travels in the bulk part.
        let result = if len > 0 {
            let mut bulk = ipc::Bulk::send_only(&text[..len]);
            ipc::ipc_reply(status as u64, [0; 4], Some(&mut bulk))
        } else {
            ipc::ipc_reply(status as u64, [0; 4], None)
        };
        if let Err(e) = result {
            // The caller was killed while memd worked for it: nothing to answer.
            if e != userland::Errno::ESRCH {
                println!("memd: reply failed: {e}");
            }
        }
    }
}

impl Server {
    /// Serves one request from process `caller` (its badge); returns the syscall's result.
    fn handle(&mut self, caller: u64, words: [u64; 4], text: &mut Vec<u8>) -> i64 {
        let op = words[0] & 0xff;
        let prot = (words[0] >> 8) & 0xff;
        let flags = words[0] >> 32;
        let pid = badge::pid(caller);
        match op {
            OP_MAPS | OP_SMAPS | OP_STATUS => self.proc_text(op, words[1], words[3], words[2], text),
            _ => {
                let Some(process) = self.process(pid, badge::serial(caller)) else {
                    return -errno::ESRCH;
                };
                // The kernel grows MAP_GROWSDOWN ranges on its own (on a fault): catch up first.
                if process.mm.has_growsdown()
                    && let Some(ranges) = ranges_of(pid)
                {
                    process.mm.sync_growsdown(&ranges);
                }
                let saved = process.mm.clone();
                let result = match op {
                    OP_BRK => Ok(process.mm.sys_brk(words[1])),
                    OP_MMAP => process.mm.sys_mmap(words[1], words[2], prot, flags, words[3] as i64, 0),
                    OP_MUNMAP => process.mm.sys_munmap(words[1], words[2]).map(|a| (0, a)),
                    OP_MPROTECT => process.mm.sys_mprotect(words[1], words[2], prot).map(|a| (0, a)),
                    OP_MREMAP => process.mm.sys_mremap(words[1], words[2], words[3], flags),
                    _ => Err(errno::ENOSYS),
                };
                match result {
                    Ok((value, actions)) => match apply(pid, &actions) {
                        Ok(()) => value as i64,
                        Err(e) => {
                            // The kernel refused (out of memory): new ranges were undone, but an unmap or
                            // a move cannot be; keep the old break and rebuild the VMAs from the kernel.
                            process.mm = saved;
                            if let Some(ranges) = ranges_of(pid) {
                                process.mm.resync(&ranges);
                            }
                            if op == OP_BRK { process.mm.brk() as i64 } else { -e }
                        }
                    },
                    Err(e) => -e,
                }
            }
        }
    }

    /// The state of process `pid`, created from the kernel's view on first contact, replaced when the
    /// pid now belongs to another process (a different serial).
    fn process(&mut self, pid: u64, serial: u64) -> Option<&mut Process> {
        if self.processes.get(&pid).is_none_or(|p| p.serial != serial) {
            if self.processes.len() >= PRUNE_AT {
                self.prune();
            }
            let ranges = ranges_of(pid)?;
            let mut random = [0u8; 16];
            let _ = sys::kernel_info(kinfo::RANDOM, &mut random);
            let layout = Layout {
                randomize: self.randomize,
                random: u64::from_le_bytes(random[..8].try_into().ok()?),
            };
            self.processes.insert(pid, Process { serial, mm: Mm::new(&ranges, layout) });
        }
        self.processes.get_mut(&pid)
    }

    /// Forgets processes that ended.
    fn prune(&mut self) {
        self.processes.retain(|&pid, _| sys::task_info(pid).is_ok());
    }

    /// Writes the requested /proc text into `text`; returns the bytes from `offset` on (at most a page)
    /// after moving them to the front, or -errno.
    fn proc_text(&mut self, op: u64, pid: u64, serial: u64, offset: u64, text: &mut Vec<u8>) -> i64 {
        let Ok(info) = sys::task_info(pid) else { return -errno::ESRCH };
        let name = info.comm();
        let Some(ranges) = ranges_of(pid) else { return -errno::ESRCH };
        // A process memd never served gets its state built from the kernel's ranges now.
        let Some(process) = self.process(pid, serial) else { return -errno::ESRCH };
        let mut out = String::new();
        let result = match op {
            OP_MAPS => memd_core::proc::maps(&mut out, &process.mm, name),
            OP_SMAPS => memd_core::proc::smaps(&mut out, &process.mm, name, &ranges),
            _ => memd_core::proc::status(
                &mut out,
                &process.mm,
                name,
                pid,
                info.parent,
                info.rss_pages,
                info.rss_peak_pages,
                info.pgtable_pages,
                &ranges,
            ),
        };
        if result.is_err() {
            return -errno::ENOMEM;
        }
        let bytes = out.as_bytes();
        let start = (offset as usize).min(bytes.len());
        let end = (start + abi::IPC_BULK_MAX as usize).min(bytes.len());
        text.clear();
        text.extend_from_slice(&bytes[start..end]);
        (end - start) as i64
    }
}

/// The kernel's ranges of `pid`.
fn ranges_of(pid: u64) -> Option<Vec<RangeInfo>> {
    let mut ranges = alloc::vec![RangeInfo::default(); MAX_RANGES];
    let count = sys::vm_ranges(pid, &mut ranges).ok()? as usize;
    ranges.truncate(count.min(MAX_RANGES));
    Some(ranges)
}

/// Carries out the actions on `pid`'s address space; on a refusal, undoes the ones done and returns the
/// errno.
fn apply(pid: u64, actions: &[Action]) -> Result<(), i64> {
    for (done, action) in actions.iter().enumerate() {
        let result = match *action {
            Action::Map { start, len, prot, flags } => sys::vm_map(pid, start, len, prot, flags).map(|_| ()),
            // SAFETY: another process's memory: memd only changes what the caller asked for, and the
            // caller is blocked in its syscall while memd works.
            Action::Unmap { start, len } => unsafe { sys::vm_unmap(pid, start, len) }.map(|_| ()),
            Action::Protect { start, len, prot } => {
                // SAFETY: as above.
                unsafe { sys::vm_protect(pid, start, len, prot) }.map(|_| ())
            }
            // SAFETY: as above.
            Action::Move { old, len, new } => unsafe { sys::vm_move(pid, old, len, new) }.map(|_| ()),
        };
        if let Err(e) = result {
            undo(pid, &actions[..done]);
            return Err(e.0);
        }
    }
    Ok(())
}

/// Best-effort reversal of a partly applied request: new ranges are removed (an unmapping or a protection
/// change that already happened cannot bring pages back, but the caller sees the error and the VMA state
/// is restored; the kernel refuses only on out-of-memory, before a Map).
fn undo(pid: u64, done: &[Action]) {
    for action in done.iter().rev() {
        if let Action::Map { start, len, .. } = *action {
            // SAFETY: removes only the range this request just created in the caller's space.
            let _ = unsafe { sys::vm_unmap(pid, start, len) };
        }
    }
}
