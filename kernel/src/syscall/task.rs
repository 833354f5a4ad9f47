//! Task calls: exit, wait4, kill, spawn, priorities and task information.

use alloc::vec::Vec;

use abi::errno::{EBADF, EINVAL, EPERM, ESRCH};
use abi::{SpawnAttr, TaskInfo, cap, wait};

use super::{Args, Result};
use crate::mm::uaccess::{UserPtr, UserSlice};
use crate::task::{self, KERNEL, Pid};

/// exit(code): ends the calling thread.
pub fn exit(a: Args) -> Result {
    task::exit::exit_current(wait::exited(a.0[0] as u8))
}

/// exit_group(code): ends every thread of the calling process, then the caller.
pub fn exit_group(a: Args) -> Result {
    let status = wait::exited(a.0[0] as u8);
    let mut k = KERNEL.lock();
    let (me, tgid) = (k.current, k.cur().tgid);
    let remains = task::exit::kill_threads(&mut k, tgid, me, status);
    drop(k);
    remains.free();
    task::exit::exit_current(status)
}

/// thread_create(entry, stack_top, arg, tls).
pub fn thread_create(a: Args) -> Result {
    let [entry, stack_top, arg, tls, ..] = a.0;
    let user = abi::layout::USER_MIN..abi::layout::USER_END;
    if !user.contains(&entry) || !user.contains(&stack_top) || (tls != 0 && !user.contains(&tls)) {
        return Err(-EINVAL);
    }
    task::spawn::thread_create(entry, stack_top & !0xf, arg, tls).map(u64::from)
}

/// wait4(pid, status, options, rusage): pid > 0 one child, -1 (or 0, no process groups) any child.
pub fn wait4(a: Args) -> Result {
    let [pid, status, options, ..] = a.0;
    let filter = match pid as i64 {
        p if p > 0 && p <= i64::from(u32::MAX) => Some(p as Pid),
        -1 | 0 => None,
        _ => return Err(-ESRCH),
    };
    if options & !wait::WNOHANG != 0 {
        return Err(-EINVAL);
    }
    let out = if status != 0 { Some(UserPtr::<i32>::new(status)?) } else { None };
    match task::exit::wait_child(filter, options & wait::WNOHANG != 0)? {
        None => Ok(0),
        Some((pid, code)) => {
            if let Some(out) = out {
                out.write(&code)?;
            }
            Ok(u64::from(pid))
        }
    }
}

/// kill(pid, signal): every signal but 0 ends the task (no handlers). Allowed on itself and its
/// descendants, on any task with `cap::KILL`.
pub fn kill(a: Args) -> Result {
    let [pid, signal, ..] = a.0;
    if signal > 64 {
        return Err(-EINVAL);
    }
    let pid = match pid as i64 {
        p if p > 0 && p < i64::from(u32::MAX) => p as Pid,
        _ => return Err(-EINVAL),
    };
    let mut k = KERNEL.lock();
    let me = k.current;
    match k.task(pid) {
        Some(t) if t.is_alive() => {}
        _ => return Err(-ESRCH),
    }
    if k.cur().caps & cap::KILL == 0 && !k.is_descendant(pid, me) {
        return Err(-EPERM);
    }
    if signal == 0 {
        return Ok(0);
    }
    let status = wait::signaled(signal as u8);
    // A signal to a process (its leader's pid) ends all its threads; to a thread, that thread.
    let whole_process = k.task(pid).is_some_and(|t| t.tgid == pid);
    let my_tgid = k.cur().tgid;
    let remains = if whole_process {
        task::exit::kill_threads(&mut k, pid, me, status)
    } else if pid != me {
        task::exit::kill_other(&mut k, pid, status)
    } else {
        task::exit::Remains::default()
    };
    drop(k);
    remains.free();
    if pid == me || (whole_process && my_tgid == pid) {
        task::exit::exit_current(status);
    }
    Ok(0)
}

/// spawn(name, name_len, args, args_len, attr).
pub fn spawn(a: Args) -> Result {
    let [name_ptr, name_len, args_ptr, args_len, attr_ptr, _] = a.0;
    // Decode: copy everything in and check it.
    if name_len == 0 || name_len > 64 || args_len > abi::SPAWN_ARGS_MAX {
        return Err(-EINVAL);
    }
    let mut name = [0u8; 64];
    let name = UserSlice::new(name_ptr, name_len)?.read_str(&mut name)?;
    let mut args_buf = alloc::vec![0u8; args_len as usize];
    UserSlice::new(args_ptr, args_len)?.read(&mut args_buf)?;
    let args: Vec<&[u8]> = if args_buf.is_empty() {
        Vec::new()
    } else {
        if args_buf.last() != Some(&0) {
            return Err(-EINVAL);
        }
        args_buf[..args_buf.len() - 1].split(|&b| b == 0).collect()
    };
    let attr =
        if attr_ptr != 0 { UserPtr::<SpawnAttr>::new(attr_ptr)?.read()? } else { SpawnAttr::default() };
    let (parent, handles, priority, caps) = {
        let k = KERNEL.lock();
        let me = k.cur();
        if attr.caps & !me.caps != 0 {
            return Err(-EPERM);
        }
        let priority = match attr.priority {
            0 => u32::from(me.base_priority).max(1),
            p if p > abi::PRIORITY_MAX => return Err(-EINVAL),
            p if p > u32::from(me.base_priority) && me.caps & cap::SCHED == 0 => return Err(-EPERM),
            p => p,
        };
        if attr.nr_handles as usize > abi::SPAWN_HANDLES_MAX {
            return Err(-EINVAL);
        }
        let mut handles = Vec::new();
        for &h in &attr.handles[..attr.nr_handles as usize] {
            handles.push(me.handle(u64::from(h)).ok_or(-EBADF)?);
        }
        (me.pid, handles, priority as u8, attr.caps)
    };
    // Invoke.
    let request = task::spawn::SpawnRequest { name, args: &args, priority, caps, handles, parent };
    task::spawn::spawn(request).map(u64::from)
}

/// set_priority(pid, priority).
pub fn set_priority(a: Args) -> Result {
    let [pid, priority, ..] = a.0;
    if priority == 0 || priority > u64::from(abi::PRIORITY_MAX) {
        return Err(-EINVAL);
    }
    let mut k = KERNEL.lock();
    let me = k.current;
    let pid = if pid == 0 { me } else { u32::try_from(pid).map_err(|_| -ESRCH)? };
    let privileged = k.cur().caps & cap::SCHED != 0;
    let own_priority = u64::from(k.cur().base_priority);
    let target = k.task(pid).filter(|t| t.is_alive()).ok_or(-ESRCH)?;
    let related = pid == me || target.parent == me;
    if !privileged && (!related || priority > own_priority) {
        return Err(-EPERM);
    }
    k.task_mut(pid).expect("checked").base_priority = priority as u8;
    crate::sched::update_priority(&mut k, pid);
    // Lowering itself below a ready task, or raising a ready one above it, switches on the way out.
    let current_priority = k.cur().priority;
    if k.rq.highest().is_some_and(|p| p > current_priority) {
        k.need_resched = true;
    }
    Ok(0)
}

fn info_of(k: &crate::task::Kernel, t: &crate::task::Task) -> TaskInfo {
    let service = k.is_service(t.tgid);
    let (rss, peak, tables, faults, total_vm, anon, file) = match &t.aspace {
        Some(a) => {
            let a = a.lock();
            (a.rss(), a.rss_peak, a.nr_tables(), a.minor_faults, a.total_pages(), a.rss_anon, a.rss_image)
        }
        None => (0, 0, 0, 0, 0, 0, 0),
    };
    TaskInfo {
        pid: u64::from(t.pid),
        parent: u64::from(t.parent),
        priority: u64::from(t.priority),
        rss_pages: rss,
        pgtable_pages: tables,
        kernel_stack_pages: t.kernel_stack_pages,
        minor_faults: faults,
        name: t.comm.bytes(),
        rss_peak_pages: peak,
        group: u64::from(t.group),
        tgid: u64::from(t.tgid),
        flags: if t.user { abi::task_flag::USER } else { 0 }
            | if service { abi::task_flag::SERVICE } else { 0 },
        total_vm_pages: total_vm,
        rss_anon_pages: anon,
        rss_file_pages: file,
        oom_score_adj: i64::from(t.oom_score_adj),
        oom_score: {
            let total = crate::mm::page_alloc::nr_pages().0.max(1);
            let points = memcg::oom::oom_badness(rss, 0, tables * 4096, t.oom_score_adj, total);
            memcg::oom::oom_score(points, total)
        },
        state: u64::from(match t.state {
            crate::task::State::Running | crate::task::State::Ready => b'R',
            crate::task::State::Blocked(_) => b'S',
            crate::task::State::Zombie(_) => b'Z',
        }),
    }
}

/// task_list(buf, len): every task (but the boot placeholder) as a TaskInfo.
pub fn task_list(a: Args) -> Result {
    let [buf, len, ..] = a.0;
    let infos: Vec<TaskInfo> = {
        let k = KERNEL.lock();
        k.tasks.values().filter(|t| t.pid != u32::MAX).map(|t| info_of(&k, t)).collect()
    };
    let fit = (len / size_of::<TaskInfo>() as u64).min(infos.len() as u64) as usize;
    for (i, info) in infos.iter().take(fit).enumerate() {
        UserPtr::<TaskInfo>::new(buf + (i * size_of::<TaskInfo>()) as u64)?.write(info)?;
    }
    Ok(infos.len() as u64)
}

/// oom_score_adj(pid, value).
pub fn oom_score_adj(a: Args) -> Result {
    let [pid, value, ..] = a.0;
    let value = value as i64;
    if !(-1000..=1000).contains(&value) {
        return Err(-EINVAL);
    }
    let mut k = KERNEL.lock();
    let me = k.current;
    let privileged = k.cur().caps & cap::KILL != 0;
    let pid = if pid == 0 { k.cur().tgid } else { u32::try_from(pid).map_err(|_| -ESRCH)? };
    let current = k.task(pid).filter(|t| t.is_alive()).map(|t| t.oom_score_adj).ok_or(-ESRCH)?;
    if !privileged && (value < i64::from(current) || !k.is_descendant(pid, k.cur().tgid) && pid != me) {
        return Err(-EPERM);
    }
    let tgid = k.task(pid).map_or(pid, |t| t.tgid);
    let threads: Vec<Pid> = k.tasks.values().filter(|t| t.tgid == tgid).map(|t| t.pid).collect();
    for t in threads {
        if let Some(task) = k.task_mut(t) {
            task.oom_score_adj = value as i16;
        }
    }
    Ok(0)
}

/// task_info(pid, buf, len).
pub fn task_info(a: Args) -> Result {
    let [pid, buf, len, ..] = a.0;
    if len < size_of::<TaskInfo>() as u64 {
        return Err(-EINVAL);
    }
    let out = UserPtr::<TaskInfo>::new(buf)?;
    let info = {
        let k = KERNEL.lock();
        let pid = if pid == 0 { k.current } else { u32::try_from(pid).map_err(|_| -ESRCH)? };
        info_of(&k, k.task(pid).ok_or(-ESRCH)?)
    };
    out.write(&info)?;
    Ok(size_of::<TaskInfo>() as u64)
}
