//! `limitd`: the memory-group service — cgroup v2's memory controller as a server (DESIGN §6).
//!
//! The kernel keeps the groups' counters and enforces them on every charge (`memcg`); limitd owns the
//! file system view of them, `/sys/fs/cgroup/<group>/…`. Once it has registered
//! (`server_register(limitd::SERVER_KIND)`), every `group_ctl` call of another task — `cat` and `echo` of
//! group files, `mkdir`/`rmdir`, `ls`, moving a process — reaches limitd as an IPC call with the
//! caller's capabilities (`abi::limitd`). limitd decides what is allowed and what a file means, then
//! programs the kernel with its own `group_ctl` calls:
//! - names of new groups (no `/`, `.`, `..`, blanks, or the `memory.`/`cgroup.` prefixes of the files);
//! - which files exist for a group (the root has only `cgroup.procs`, `memory.current`,
//!   `memory.pressure` and `memory.stat`, as on Linux) and which are writable;
//! - values, checked before the kernel sees them (`max` or a byte count with K/M/G for the limits,
//!   0/1 for `memory.oom.group`, a pid for `cgroup.procs`: writing a pid there moves that process);
//! - who may change anything: a caller with `cap::GROUP` (reading is free);
//! - directory listings (`ls /sys/fs/cgroup/G`), from the kernel's group tree.
//!
//! If limitd ends, the kernel answers `group_ctl` itself again.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use abi::{GroupNode, GroupRequest, IPC_BULK_MAX, cap, errno, group_op};
use userland::arena::{Arena, Reserve};
use userland::sys::{self, ipc};
use userland::{Args, println};

userland::entry!(main);

/// The heap: 256 KiB in .bss, touched at start (limitd never calls brk/mmap).
const ARENA_BYTES: usize = 256 << 10;
static RESERVE: Reserve<ARENA_BYTES> = Reserve::new();

#[global_allocator]
static HEAP: Arena = Arena::new();

/// Handle 1: the notification init waits on; bit 0 = registered, bit 1 = could not start.
const READY_HANDLE: u64 = 1;
const FAILED: u64 = 2;
const MAX_GROUPS: usize = 64;

/// A group's files, in `ls` order, and whether they can be written.
const FILES: [(&str, bool); 12] = [
    ("cgroup.procs", true),
    ("memory.current", false),
    ("memory.events", false),
    ("memory.events.local", false),
    ("memory.high", true),
    ("memory.low", true),
    ("memory.max", true),
    ("memory.min", true),
    ("memory.oom.group", true),
    ("memory.peak", true),
    ("memory.pressure", false),
    ("memory.stat", false),
];
/// The root group's files (Linux has no limits, events or peak at the root).
const ROOT_FILES: [&str; 4] = ["cgroup.procs", "memory.current", "memory.pressure", "memory.stat"];

/// A request's string ("" if it is not UTF-8: no file or group has such a name).
fn text(bytes: &[u8]) -> &str {
    abi::padded_str(bytes).unwrap_or("")
}

fn fail(message: core::fmt::Arguments<'_>) -> i32 {
    println!("limitd: {message}");
    let _ = ipc::notify_signal(READY_HANDLE, FAILED);
    1
}

fn main(_args: &Args) -> i32 {
    // Every page touched now: serving never waits for a page fault of its own.
    HEAP.init_prefaulted(&RESERVE);
    let endpoint = match ipc::endpoint_create() {
        Ok(handle) => handle,
        Err(e) => return fail(format_args!("endpoint_create: {e}")),
    };
    if let Err(e) = sys::server_register(abi::limitd::SERVER_KIND, endpoint) {
        return fail(format_args!("cannot register as the memory-group service: {e}"));
    }
    let _ = ipc::notify_signal(READY_HANDLE, 1);
    let mut request = [0u8; GroupRequest::BYTES];
    let mut reply = Vec::with_capacity(IPC_BULK_MAX as usize);
    loop {
        let mut bulk = ipc::Bulk::recv_only(&mut request);
        let message = match ipc::ipc_recv(endpoint, Some(&mut bulk)) {
            Ok(message) => message,
            Err(e) => {
                println!("limitd: receive failed: {e}");
                continue;
            }
        };
        let received = bulk.received();
        reply.clear();
        let [_, caps, offset, len] = message.words;
        let status = match GroupRequest::from_bytes(&request[..received]) {
            Some(req) => serve(&req, caps as u32, offset, len.min(IPC_BULK_MAX), &mut reply),
            None => -errno::EINVAL,
        };
        let result = if status >= 0 && !reply.is_empty() {
            let mut bulk = ipc::Bulk::send_only(&reply);
            ipc::ipc_reply(status as u64, [0; 4], Some(&mut bulk))
        } else {
            ipc::ipc_reply(status as u64, [0; 4], None)
        };
        if let Err(e) = result
            && e != userland::Errno::ESRCH
        {
            println!("limitd: reply failed: {e}");
        }
    }
}

/// Answers one request; a READ or LIST text goes into `out` (the window from `offset`, at most `len`
/// bytes). Returns the call's result.
fn serve(req: &GroupRequest, caps: u32, offset: u64, len: u64, out: &mut Vec<u8>) -> i64 {
    let path = text(&req.path);
    let file = text(&req.file);
    let value = text(&req.value).trim();
    if !path.starts_with('/') || path.contains("//") || path.len() > 1 && path.ends_with('/') {
        return -errno::ENOENT;
    }
    let root = path == "/";
    let changes = !matches!(req.op, group_op::READ | group_op::LIST);
    if changes && caps & cap::GROUP == 0 {
        return -errno::EPERM;
    }
    let mut none = [0u8; 0];
    let kernel = |op, pid, file: &str, value: &str, buf: &mut [u8], offset| {
        sys::group_ctl(op, path, pid, file, value, buf, offset).map(|n| n as i64).unwrap_or_else(|e| -e.0)
    };
    match req.op {
        group_op::READ => {
            if !known(file, root) {
                return -errno::ENOENT;
            }
            out.resize(len as usize, 0);
            let n = kernel(group_op::READ, 0, file, "", out, offset);
            out.truncate(n.max(0) as usize);
            n
        }
        group_op::LIST => list(path, offset, len, out),
        group_op::CREATE => match path.rsplit_once('/') {
            Some((_, name)) if valid_name(name) => kernel(group_op::CREATE, 0, "", "", &mut none, 0),
            _ => -errno::EINVAL,
        },
        group_op::REMOVE if root => -errno::EBUSY,
        group_op::REMOVE => kernel(group_op::REMOVE, 0, "", "", &mut none, 0),
        group_op::ATTACH => kernel(group_op::ATTACH, req.pid, "", "", &mut none, 0),
        group_op::WRITE => {
            if !FILES.iter().any(|&(name, writable)| name == file && writable) || !known(file, root) {
                return if known(file, root) { -errno::EACCES } else { -errno::ENOENT };
            }
            match file {
                "cgroup.procs" => match value.parse::<u64>() {
                    Ok(pid) => kernel(group_op::ATTACH, pid, "", "", &mut none, 0),
                    Err(_) => -errno::EINVAL,
                },
                "memory.oom.group" if memcg::group::parse_oom_group(value).is_err() => -errno::EINVAL,
                "memory.max" | "memory.high" | "memory.min" | "memory.low"
                    if memcg::group::parse_limit(value).is_err() =>
                {
                    -errno::EINVAL
                }
                _ => kernel(group_op::WRITE, 0, file, value, &mut none, 0),
            }
        }
        _ => -errno::EINVAL,
    }
}

/// Whether `file` exists in a group (the root has fewer).
fn known(file: &str, root: bool) -> bool {
    if root { ROOT_FILES.contains(&file) } else { FILES.iter().any(|&(name, _)| name == file) }
}

/// A name `mkdir` accepts for a new group.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 31
        && name != "."
        && name != ".."
        && !name.starts_with("memory.")
        && !name.starts_with("cgroup.")
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
}

/// `ls /sys/fs/cgroup/PATH`: child groups (with a trailing `/`), then the files.
fn list(path: &str, offset: u64, len: u64, out: &mut Vec<u8>) -> i64 {
    let mut nodes = alloc::vec![GroupNode::default(); MAX_GROUPS];
    let n = match sys::group_tree(&mut nodes) {
        Ok(n) => (n as usize).min(MAX_GROUPS),
        Err(e) => return -e.0,
    };
    let nodes = &nodes[..n];
    let Some(me) = nodes.iter().find(|node| node.path_str() == path) else { return -errno::ENOENT };
    let mut listing = String::new();
    let mut children: Vec<&str> = nodes
        .iter()
        .filter(|node| node.parent == me.id && node.id != me.id)
        .filter_map(|node| node.path_str().rsplit('/').next())
        .collect();
    children.sort_unstable();
    for child in children {
        let _ = writeln!(listing, "{child}/");
    }
    let root = path == "/";
    for (file, _) in FILES {
        if known(file, root) {
            let _ = writeln!(listing, "{file}");
        }
    }
    let bytes = listing.as_bytes();
    let start = (offset as usize).min(bytes.len());
    let end = (start + len as usize).min(bytes.len());
    out.extend_from_slice(&bytes[start..end]);
    (end - start) as i64
}
