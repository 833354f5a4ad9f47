//! futex(2), the two operations a mutex needs: FUTEX_WAIT (sleep while the word still holds the expected
//! value) and FUTEX_WAKE (wake up to N sleepers on the word). Waiters are keyed by (address space, user
//! address), so threads of one process meet on the same word. The check of the word and going to sleep
//! happen with the scheduler lock held and interrupts off, so no wake-up can slip in between.

use abi::errno::{EAGAIN, EINVAL, ENOSYS};

use super::{Args, Result};
use crate::arch::x86_64::tsc;
use crate::mm::uaccess::UserPtr;
use crate::sched;
use crate::task::{KERNEL, State, Wait};

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_PRIVATE_FLAG: u64 = 128;
const NSEC_PER_SEC: u64 = 1_000_000_000;

pub fn futex(a: Args) -> Result {
    let [addr, op, val, timeout, ..] = a.0;
    if !addr.is_multiple_of(4) {
        return Err(-EINVAL);
    }
    let word = UserPtr::<u32>::new(addr)?;
    let deadline = if op & !FUTEX_PRIVATE_FLAG == FUTEX_WAIT && timeout != 0 {
        let [sec, nsec] = UserPtr::<[u64; 2]>::new(timeout)?.read()?;
        if nsec >= NSEC_PER_SEC {
            return Err(-EINVAL);
        }
        tsc::uptime_ns().saturating_add(sec.saturating_mul(NSEC_PER_SEC)).saturating_add(nsec).max(1)
    } else {
        0
    };
    // Read the word before taking the lock: a fault on it is resolved (or refused) without the lock.
    let current = word.read()?;
    let mut k = KERNEL.lock();
    let space = k.cur().aspace.as_ref().map_or(0, |a| alloc::sync::Arc::as_ptr(a) as usize);
    match op & !FUTEX_PRIVATE_FLAG {
        FUTEX_WAIT => {
            if current != val as u32 {
                return Err(-EAGAIN);
            }
            k.cur_mut().wake_at_ns = deadline;
            let result = sched::block(k, Wait::Futex { space, addr });
            if result < 0 { Err(result) } else { Ok(0) }
        }
        FUTEX_WAKE => {
            let limit = val.min(i32::MAX as u64) as usize;
            let waiters: alloc::vec::Vec<_> = k
                .tasks
                .values()
                .filter(|t| t.state == State::Blocked(Wait::Futex { space, addr }))
                .map(|t| t.pid)
                .take(limit)
                .collect();
            for &pid in &waiters {
                sched::wake(&mut k, pid, 0);
            }
            Ok(waiters.len() as u64)
        }
        _ => Err(-ENOSYS),
    }
}
