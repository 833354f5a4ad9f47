//! `group_ctl`: memory-group control, the mechanism limitd (and the shell) drive: create and remove
//! groups, move a process into one, write the `memory.*` limits, read the `memory.*` files in cgroup v2's
//! formats. Changing anything needs `cap::GROUP`; reading does not.

use alloc::string::String;
use core::fmt::Write;

use abi::errno::{EINVAL, ENOENT, EPERM, ESRCH};
use abi::{GroupRequest, cap, group_op};
use memcg::group::{GroupId, parse_limit_pages, parse_oom_group, write_bytes, write_limit};

use super::{Args, Result};
use crate::mm::memcontrol;
use crate::mm::uaccess::{UserPtr, UserSlice};
use crate::task::KERNEL;

fn text(bytes: &[u8]) -> core::result::Result<&str, i64> {
    abi::padded_str(bytes).ok_or(-EINVAL)
}

fn errno(e: memcg::Error) -> i64 {
    -i64::from(e.errno())
}

/// Asks limitd on the caller's behalf (see `abi::limitd`); `None` when the kernel answers itself (no
/// limitd, or the caller is limitd).
fn forward(req: &GroupRequest, buf: u64, len: u64, offset: u64) -> Option<Result> {
    let k = KERNEL.lock();
    let (endpoint, server) = k.limitd?;
    if k.cur().tgid == server {
        return None;
    }
    let caps = u64::from(k.cur().caps);
    let msg = crate::ipc::Message {
        words: [req.op, caps, offset, len],
        bulk: Some(alloc::vec::Vec::from(req.to_bytes())),
        ..Default::default()
    };
    let reply = match crate::ipc::endpoint::send(k, endpoint, msg, true) {
        Ok(Some(reply)) => reply,
        // limitd ended while the call waited.
        Ok(None) | Err(_) => return Some(Err(-abi::errno::EIO)),
    };
    if reply.status < 0 {
        return Some(Err(reply.status));
    }
    let Some(data) = reply.bulk.as_deref() else { return Some(Ok(reply.status as u64)) };
    let n = (data.len() as u64).min(len);
    Some(UserSlice::new(buf, n).and_then(|out| out.write(&data[..n as usize])).map(|()| n))
}

pub fn group_ctl(a: Args) -> Result {
    let [request, buf, len, offset, ..] = a.0;
    let req = UserPtr::<GroupRequest>::new(request)?.read()?;
    if req.op != group_op::TREE
        && let Some(result) = forward(&req, buf, len, offset)
    {
        return result;
    }
    let path = text(&req.path)?;
    let file = text(&req.file)?;
    let value = text(&req.value)?;
    let privileged = KERNEL.lock().cur().caps & cap::GROUP != 0;
    if req.op != group_op::READ && req.op != group_op::TREE && !privileged {
        return Err(-EPERM);
    }
    let lookup = |path: &str| memcontrol::with_ref(|g| g.lookup(path)).unwrap_or(Err(memcg::Error::Root));
    match req.op {
        group_op::CREATE => {
            let (parent, name) = path.rsplit_once('/').ok_or(-EINVAL)?;
            let parent = if parent.is_empty() { "/" } else { parent };
            let parent = lookup(parent).map_err(|_| -ENOENT)?;
            let id = memcontrol::with(|g| g.create(parent, name)).ok_or(-EINVAL)?.map_err(errno)?;
            crate::mm::psi::group_created(id.as_u32());
            crate::pr_info!("memcg: created {path} (group {})", id.as_u32());
            Ok(u64::from(id.as_u32()))
        }
        group_op::REMOVE => {
            let id = lookup(path).map_err(|_| -ENOENT)?;
            memcontrol::with(|g| g.remove(id)).ok_or(-EINVAL)?.map_err(errno)?;
            crate::mm::psi::group_removed(&mut KERNEL.lock(), id.as_u32());
            Ok(0)
        }
        group_op::ATTACH => {
            let id = lookup(path).map_err(|_| -ENOENT)?;
            let pid = u32::try_from(req.pid).map_err(|_| -ESRCH)?;
            let mut k = KERNEL.lock();
            let tgid = k.task(pid).filter(|t| t.is_alive()).map(|t| t.tgid).ok_or(-ESRCH)?;
            let threads: alloc::vec::Vec<u32> =
                k.tasks.values().filter(|t| t.tgid == tgid && t.is_alive()).map(|t| t.pid).collect();
            for pid in threads {
                let Some(task) = k.task_mut(pid) else { continue };
                let from = GroupId::from_u32(task.group);
                // Its pressure state leaves the old group's figures and joins the new one's.
                let flags = task.psi;
                crate::sched::set_psi(task, 0);
                task.group = id.as_u32();
                crate::sched::set_psi(task, flags);
                if let Some(space) = &task.aspace {
                    space.lock().set_group(id.as_u32());
                }
                let _ = memcontrol::with(|g| g.move_task(from, id));
            }
            Ok(0)
        }
        group_op::WRITE => {
            let id = lookup(path).map_err(|_| -ENOENT)?;
            memcontrol::with(|g| -> core::result::Result<(), memcg::Error> {
                match file {
                    "memory.max" => g.set_max(id, parse_limit_pages(value)?).map(|_| ()),
                    "memory.high" => g.set_high(id, parse_limit_pages(value)?).map(|_| ()),
                    "memory.min" => g.set_min(id, parse_limit_pages(value)?),
                    "memory.low" => g.set_low(id, parse_limit_pages(value)?),
                    "memory.oom.group" => g.set_oom_group(id, parse_oom_group(value)?),
                    "memory.peak" => g.reset_peak(id),
                    _ => Err(memcg::Error::Root),
                }
            })
            .ok_or(-EINVAL)?
            .map_err(|e| if matches!(e, memcg::Error::Root) { -EINVAL } else { errno(e) })?;
            Ok(0)
        }
        group_op::READ => {
            let id = lookup(path).map_err(|_| -ENOENT)?;
            let out = UserSlice::new(buf, len)?;
            let mut body = String::new();
            let written = memcontrol::with_ref(|g| -> core::result::Result<(), memcg::Error> {
                let group = g.get(id)?;
                match file {
                    "memory.current" => write_bytes(&mut body, group.current()),
                    "memory.peak" => write_bytes(&mut body, group.peak()),
                    "memory.max" => write_limit(&mut body, group.max()),
                    "memory.high" => write_limit(&mut body, group.high()),
                    "memory.min" => write_bytes(&mut body, group.min()),
                    "memory.low" => write_bytes(&mut body, group.low()),
                    "memory.events" => g.memory_events(&mut body, id, false),
                    "memory.events.local" => g.memory_events(&mut body, id, true),
                    "memory.stat" => g.memory_stat(&mut body, id),
                    "memory.oom.group" => {
                        writeln!(body, "{}", u8::from(group.oom_group())).map_err(|_| memcg::Error::Root)
                    }
                    "cgroup.procs" | "memory.pressure" => Ok(()),
                    _ => Err(memcg::Error::Root),
                }
            });
            match written {
                Some(Ok(())) => {}
                Some(Err(_)) | None => return Err(-ENOENT),
            }
            if file == "memory.pressure" {
                crate::mm::psi::show(&mut body, id.as_u32()).map_err(|_| -ENOENT)?;
            }
            if file == "cgroup.procs" {
                let k = KERNEL.lock();
                for t in k
                    .tasks
                    .values()
                    .filter(|t| t.is_alive() && t.user && t.pid == t.tgid && t.group == id.as_u32())
                {
                    let _ = writeln!(body, "{}", t.pid);
                }
            }
            crate::mm::uaccess::copy_text_window(buf, out.len(), offset, body.as_bytes())
        }
        group_op::TREE => tree(buf, len),
        _ => Err(-EINVAL),
    }
}

/// group_op::TREE: every group as an `abi::GroupNode`.
fn tree(buf: u64, len: u64) -> Result {
    let nodes: alloc::vec::Vec<abi::GroupNode> = memcontrol::with_ref(|g| {
        let all = g.subtree(GroupId::ROOT).unwrap_or_default();
        all.iter()
            .filter_map(|&id| {
                let group = g.get(id).ok()?;
                let mut path = [0u8; 64];
                let text = g.path(id).ok()?;
                let n = text.len().min(63);
                path[..n].copy_from_slice(&text.as_bytes()[..n]);
                Some(abi::GroupNode {
                    id: id.as_u32(),
                    parent: group.parent().unwrap_or(GroupId::ROOT).as_u32(),
                    oom_group: u32::from(group.oom_group()),
                    nr_tasks: group.nr_tasks(),
                    current_pages: group.current(),
                    max_pages: group.max(),
                    oom_total_pages: g.oom_total_pages(id).unwrap_or(1),
                    path,
                })
            })
            .collect()
    })
    .unwrap_or_default();
    let fit = (len / size_of::<abi::GroupNode>() as u64).min(nodes.len() as u64) as usize;
    for (i, node) in nodes.iter().take(fit).enumerate() {
        UserPtr::<abi::GroupNode>::new(buf + (i * size_of::<abi::GroupNode>()) as u64)?.write(node)?;
    }
    Ok(nodes.len() as u64)
}
