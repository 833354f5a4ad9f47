//! Small POSIX calls (write to the console, ids, clocks, sleeping, yielding, the FS base) and the
//! kernel-information call.

use abi::errno::{EBADF, EINVAL};
use abi::{MemInfo, kinfo};

use super::{Args, Result};
use crate::arch::x86_64::{percpu, tsc};
use crate::mm::uaccess::{UserPtr, UserSlice};
use crate::sched;
use crate::task::{KERNEL, Wait};

/// read(fd, buf, len): fd 0 is the console's input (raw bytes; waits for at least one).
pub fn read(a: Args) -> Result {
    let [fd, buf, len, ..] = a.0;
    if fd != 0 {
        return Err(-EBADF);
    }
    let user = UserSlice::new(buf, len)?;
    if len == 0 {
        return Ok(0);
    }
    let mut chunk = [0u8; 256];
    let want = (len as usize).min(chunk.len());
    let n = crate::tty::read(&mut chunk[..want]);
    UserSlice::new(user.addr_of(), n as u64)?.write(&chunk[..n])?;
    Ok(n as u64)
}

/// poweroff(): ACPI S5 through QEMU's PM1a control port, else the debug-exit device, else halt.
pub fn poweroff() -> Result {
    if KERNEL.lock().cur().caps & abi::cap::KILL == 0 {
        return Err(-abi::errno::EPERM);
    }
    crate::pr_notice!("reboot: Power down");
    crate::arch::x86_64::qemu::power_off()
}

/// write(fd, buf, len): fds 1 and 2 are the console.
pub fn write(a: Args) -> Result {
    let [fd, buf, len, ..] = a.0;
    if fd != 1 && fd != 2 {
        return Err(-EBADF);
    }
    let user = UserSlice::new(buf, len)?;
    let mut chunk = [0u8; 256];
    let mut done = 0u64;
    while done < user.len() {
        let n = (user.len() - done).min(chunk.len() as u64);
        let part = UserSlice::new(buf + done, n)?;
        if let Err(e) = part.read(&mut chunk[..n as usize]) {
            // Linux returns what was written before the fault, or -EFAULT when nothing was.
            return if done > 0 { Ok(done) } else { Err(e) };
        }
        crate::printk::console_write(&chunk[..n as usize]);
        done += n;
    }
    Ok(done)
}

/// getpid: the process id (the thread group's leader).
pub fn getpid() -> Result {
    Ok(u64::from(KERNEL.lock().cur().tgid))
}

/// gettid: the calling thread's own id.
pub fn gettid() -> Result {
    Ok(u64::from(KERNEL.lock().current))
}

/// getppid: the parent of the process (of its leader; a thread's creator is in the same process).
pub fn getppid() -> Result {
    let k = KERNEL.lock();
    let me = k.cur();
    Ok(u64::from(k.task(me.tgid).map_or(me.parent, |leader| leader.parent)))
}

pub fn sched_yield() -> Result {
    sched::yield_now();
    Ok(0)
}

const NSEC_PER_SEC: u64 = 1_000_000_000;

/// nanosleep(req, rem): sleeps on the timer tick; `rem` is left alone (nothing interrupts a sleep).
pub fn nanosleep(a: Args) -> Result {
    let [req, ..] = a.0;
    let [sec, nsec] = UserPtr::<[u64; 2]>::new(req)?.read()?;
    if nsec >= NSEC_PER_SEC || sec > i64::MAX as u64 {
        return Err(-EINVAL);
    }
    let ns = sec.saturating_mul(NSEC_PER_SEC).saturating_add(nsec);
    let mut k = KERNEL.lock();
    k.cur_mut().wake_at_ns = tsc::uptime_ns().saturating_add(ns);
    sched::block(k, Wait::Sleep);
    Ok(0)
}

/// clock_gettime(clock, ts): REALTIME (no RTC yet: time since boot), MONOTONIC, BOOTTIME.
pub fn clock_gettime(a: Args) -> Result {
    let [clock, ts, ..] = a.0;
    if !matches!(clock, 0 | 1 | 4 | 7) {
        return Err(-EINVAL);
    }
    let out = UserPtr::<[u64; 2]>::new(ts)?;
    let ns = tsc::uptime_ns();
    out.write(&[ns / NSEC_PER_SEC, ns % NSEC_PER_SEC])?;
    Ok(0)
}

/// arch_prctl(ARCH_SET_FS / ARCH_GET_FS, value).
pub fn arch_prctl(a: Args) -> Result {
    let [code, value, ..] = a.0;
    match code {
        abi::arch_prctl::SET_FS => {
            if value >= abi::layout::USER_END {
                return Err(-abi::errno::EPERM);
            }
            percpu::set_fs_base(value);
            KERNEL.lock().cur_mut().fs_base = value;
            Ok(0)
        }
        abi::arch_prctl::GET_FS => {
            UserPtr::<u64>::new(value)?.write(&percpu::fs_base())?;
            Ok(0)
        }
        _ => Err(-EINVAL),
    }
}

/// kernel_info(what, buf, len).
pub fn kernel_info(a: Args) -> Result {
    let [what, buf, len, ..] = a.0;
    match what {
        kinfo::MEMINFO => {
            if len < size_of::<MemInfo>() as u64 {
                return Err(-EINVAL);
            }
            let out = UserPtr::<MemInfo>::new(buf)?;
            for cache in crate::mm::slab::caches() {
                cache.shrink();
            }
            crate::mm::page_alloc::drain_all_pages();
            let (total, free) = crate::mm::page_alloc::nr_pages();
            let info = MemInfo {
                total_pages: total,
                free_pages: free,
                nr_tasks: KERNEL.lock().tasks.len() as u64,
                slab_pages: crate::mm::slab::SLAB_PAGES.load(core::sync::atomic::Ordering::Relaxed),
            };
            out.write(&info)?;
            Ok(size_of::<MemInfo>() as u64)
        }
        kinfo::RANDOMIZE_VA_SPACE => {
            if len < 8 {
                return Err(-EINVAL);
            }
            let value = u64::from(KERNEL.lock().randomize_va_space);
            UserPtr::<u64>::new(buf)?.write(&value)?;
            Ok(8)
        }
        kinfo::RANDOM => {
            if len < 16 {
                return Err(-EINVAL);
            }
            let bytes = [crate::random::next_u64(), crate::random::next_u64()];
            UserPtr::<[u64; 2]>::new(buf)?.write(&bytes)?;
            Ok(16)
        }
        kinfo::TSC_KHZ => {
            if len < 8 {
                return Err(-EINVAL);
            }
            UserPtr::<u64>::new(buf)?.write(&tsc::tsc_khz().unwrap_or(0))?;
            Ok(8)
        }
        _ => Err(-EINVAL),
    }
}

/// proc_text(which, buf, len, offset): a kernel-owned /proc text, from `offset` on.
pub fn proc_text(a: Args) -> Result {
    use abi::proc_text as t;
    let [which, buf, len, offset, ..] = a.0;
    UserSlice::new(buf, len)?;
    let mut text = alloc::string::String::new();
    let snap = || crate::mm::vmstat::Snapshot::take();
    let written = match which {
        t::MEMINFO => mm_core::proc::meminfo(&mut text, &snap().meminfo()),
        t::BUDDYINFO => snap().buddyinfo(&mut text),
        t::PAGETYPEINFO => snap().pagetypeinfo(&mut text),
        t::ZONEINFO => snap().zoneinfo(&mut text),
        t::VMSTAT => snap().vmstat(&mut text),
        t::SLABINFO => crate::mm::slab::slabinfo(&mut text),
        t::VMALLOCINFO => crate::mm::vmalloc::vmallocinfo(&mut text),
        t::E820 => crate::mm::e820::with_table(|table| {
            use core::fmt::Write as _;
            table.entries().iter().try_for_each(|e| writeln!(text, "BIOS-e820: {e}"))
        }),
        t::MEMMAP => crate::mm::memmap::picture(&mut text),
        t::PRESSURE_MEMORY => crate::mm::psi::show(&mut text, 0).map_err(|_| core::fmt::Error),
        t::DMESG => {
            let mut out = alloc::vec![0u8; len.min(4096) as usize];
            let n = crate::printk::read_log(usize::try_from(offset).unwrap_or(usize::MAX), &mut out);
            UserSlice::new(buf, n as u64)?.write(&out[..n])?;
            return Ok(n as u64);
        }
        _ => return Err(-EINVAL),
    };
    if written.is_err() {
        return Err(-abi::errno::ENOMEM);
    }
    crate::mm::uaccess::copy_text_window(buf, len, offset, text.as_bytes())
}
