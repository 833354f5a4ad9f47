//! Notifications: a word of event bits that tasks signal without blocking and one waiter collects
//! (seL4 notifications, Linux's eventfd in spirit) — how the kernel and servers announce OOM and pressure
//! events.

use abi::errno::EPIPE;

use super::ObjectId;
use crate::sched;
use crate::sync::SpinLockGuard;
use crate::task::{KERNEL, Kernel, State, Wait};

/// ORs `bits` into the word and hands the whole word to the first waiter, if any.
pub fn signal(k: &mut Kernel, id: ObjectId, bits: u64) -> Result<(), i64> {
    let n = k.objects.notification(id).ok_or(-EPIPE)?;
    n.word |= bits;
    if n.word == 0 {
        return Ok(());
    }
    loop {
        let Some(pid) = k.objects.notification(id).and_then(|n| n.waiters.pop_front()) else { return Ok(()) };
        if k.task(pid).is_some_and(|t| t.state == State::Blocked(Wait::Notification(id))) {
            let word = k.objects.notification(id).map_or(0, |n| core::mem::take(&mut n.word));
            if let Some(t) = k.task_mut(pid) {
                t.inbox = Some(super::Message { words: [word, 0, 0, 0], ..Default::default() });
            }
            sched::wake(k, pid, 0);
            return Ok(());
        }
    }
}

/// Takes the pending bits without blocking (0 when none).
pub fn poll(k: &mut Kernel, id: ObjectId) -> Result<u64, i64> {
    let n = k.objects.notification(id).ok_or(-EPIPE)?;
    Ok(core::mem::take(&mut n.word))
}

/// Takes the pending bits, waiting until some arrive.
pub fn wait(mut k: SpinLockGuard<'_, Kernel>, id: ObjectId) -> Result<u64, i64> {
    let me = k.current;
    let n = k.objects.notification(id).ok_or(-EPIPE)?;
    if n.word != 0 {
        return Ok(core::mem::take(&mut n.word));
    }
    n.waiters.push_back(me);
    let result = sched::block(k, Wait::Notification(id));
    if result < 0 {
        return Err(result);
    }
    Ok(KERNEL.lock().cur_mut().inbox.take().map_or(0, |m| m.words[0]))
}
