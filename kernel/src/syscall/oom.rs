//! The OOM service's calls (`mm::oom`): register as oomd, read the pending events, answer them; and
//! pressure triggers (`mm::psi`) for whoever wants to be woken by memory pressure.

use abi::errno::{EINVAL, ENOENT, EPERM};
use abi::{OomEvent, cap};

use super::{Args, Result};
use crate::ipc::Kind;
use crate::mm::uaccess::{UserPtr, UserSlice};
use crate::task::KERNEL;

/// oom_register(notify_handle).
pub fn oom_register(a: Args) -> Result {
    let notify = super::ipc::object(a.0[0], Kind::Notification)?;
    let mut k = KERNEL.lock();
    if k.cur().caps & cap::KILL == 0 {
        return Err(-EPERM);
    }
    crate::mm::oom::register(&mut k, notify)?;
    Ok(0)
}

/// oom_events(buf, len) -> total.
pub fn oom_events(a: Args) -> Result {
    let [buf, len, ..] = a.0;
    let events = crate::mm::oom::events(&KERNEL.lock())?;
    let fit = (len / size_of::<OomEvent>() as u64).min(events.len() as u64) as usize;
    for (i, event) in events.iter().take(fit).enumerate() {
        UserPtr::<OomEvent>::new(buf + (i * size_of::<OomEvent>()) as u64)?.write(event)?;
    }
    Ok(events.len() as u64)
}

/// oom_done(seq, killed).
pub fn oom_done(a: Args) -> Result {
    let [seq, killed, ..] = a.0;
    crate::mm::oom::done(&mut KERNEL.lock(), seq, killed)?;
    Ok(0)
}

/// oom_kill(pid, signal, oom_group): a kill counted in `memory.events`.
pub fn oom_kill(a: Args) -> Result {
    let [pid, signal, oom_group, ..] = a.0;
    if signal == 0 {
        return Err(-EINVAL);
    }
    let group = {
        let k = KERNEL.lock();
        if !crate::mm::oom::is_oomd(&k, k.cur().tgid) {
            return Err(-EPERM);
        }
        let pid = u32::try_from(pid).map_err(|_| -abi::errno::ESRCH)?;
        k.task(pid).filter(|t| t.is_alive() && t.tgid == pid).map(|t| t.group).ok_or(-abi::errno::ESRCH)?
    };
    super::task::kill(Args([pid, signal, 0, 0, 0, 0]))?;
    crate::mm::memcontrol::count_oom_kill(group, u32::try_from(oom_group).ok().filter(|&g| g != 0));
    Ok(0)
}

/// psi_trigger(path, path_len, spec, spec_len, notify_handle, bits).
pub fn psi_trigger(a: Args) -> Result {
    let [path, path_len, spec, spec_len, handle, bits] = a.0;
    if path_len > 128 || spec_len > 64 || bits == 0 {
        return Err(-EINVAL);
    }
    let (mut path_buf, mut spec_buf) = ([0u8; 128], [0u8; 64]);
    let path = UserSlice::new(path, path_len)?.read_str(&mut path_buf)?;
    let spec = UserSlice::new(spec, spec_len)?.read_str(&mut spec_buf)?;
    let notify = super::ipc::object(handle, Kind::Notification)?;
    let group = if path == "/proc/pressure/memory" {
        0
    } else {
        let group_path = path
            .strip_prefix("/sys/fs/cgroup")
            .and_then(|rest| rest.strip_suffix("/memory.pressure"))
            .ok_or(-ENOENT)?;
        let group_path = if group_path.is_empty() { "/" } else { group_path };
        crate::mm::memcontrol::with_ref(|g| g.lookup(group_path))
            .and_then(core::result::Result::ok)
            .ok_or(-ENOENT)?
            .as_u32()
    };
    let mut k = KERNEL.lock();
    let owner = k.cur().tgid;
    k.objects.get_ref(notify);
    if let Err(e) = crate::mm::psi::add_trigger(group, spec, notify, bits, owner) {
        let _ = k.objects.put_ref(notify);
        return Err(-i64::from(e.errno()));
    }
    Ok(0)
}
