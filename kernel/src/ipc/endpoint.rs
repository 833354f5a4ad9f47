//! Synchronous endpoints: send, receive, call and reply (seL4-style rendezvous).
//!
//! A message moves only when both sides are there: a sender finding a waiting receiver hands the
//! message over and (for a call) blocks for the reply; otherwise it queues with its message in its
//! `outbox`. A receiver takes the first queued sender or waits. Register words travel in the `Message`;
//! a bulk payload (≤ one page) was already copied in from the sender's memory before the lock was taken,
//! and the receiver copies it out into its own memory after it resumes, so no address space but the
//! running one is ever touched. Priority inheritance is kept current at every step (`sched`).

use abi::errno::{EINVAL, EPIPE, ESRCH};

use super::{Message, ObjectId};
use crate::sched;
use crate::sync::SpinLockGuard;
use crate::task::{KERNEL, Kernel, Pid, State, Wait};

/// First receiver still waiting on `ep`.
fn pop_receiver(k: &mut Kernel, ep: ObjectId) -> Option<Pid> {
    loop {
        let pid = k.objects.endpoint(ep)?.receivers.pop_front()?;
        if k.task(pid).is_some_and(|t| t.state == State::Blocked(Wait::Receive(ep))) {
            return Some(pid);
        }
    }
}

/// First sender still waiting on `ep`, and whether it is calling.
fn pop_sender(k: &mut Kernel, ep: ObjectId) -> Option<(Pid, bool)> {
    loop {
        let pid = k.objects.endpoint(ep)?.senders.pop_front()?;
        if let Some(State::Blocked(Wait::Send { endpoint, call })) = k.task(pid).map(|t| t.state)
            && endpoint == ep
        {
            return Some((pid, call));
        }
    }
}

/// Blocks the running task in `state` after updating the priority of the task it now waits on, then
/// returns its wake-up result.
fn wait_on(mut k: SpinLockGuard<'_, Kernel>, wait: Wait, server: Option<Pid>) -> i64 {
    let task = k.cur_mut();
    sched::set_psi(task, task.psi & !memcg::psi::TSK_RUNNING);
    k.cur_mut().state = State::Blocked(wait);
    k.cur_mut().wake_result = 0;
    if let Some(server) = server {
        sched::update_priority(&mut k, server);
    }
    sched::schedule(k);
    KERNEL.lock().cur().wake_result
}

/// Sends `msg` on `ep`; for a call, waits for and returns the reply.
pub fn send(
    mut k: SpinLockGuard<'_, Kernel>,
    ep: ObjectId,
    mut msg: Message,
    call: bool,
) -> Result<Option<Message>, i64> {
    let me = k.current;
    // The badge a receiver sees is the sender's process id (and serial, `Task::badge`).
    msg.badge = k.cur().badge();
    if k.objects.endpoint(ep).is_none() {
        return Err(-EPIPE);
    }
    match pop_receiver(&mut k, ep) {
        Some(receiver) => {
            if let Some(r) = k.task_mut(receiver) {
                r.inbox = Some(msg);
                if call {
                    r.reply_to = Some(me);
                }
            }
            if let Some(e) = k.objects.endpoint(ep) {
                e.server = Some(receiver);
            }
            sched::wake(&mut k, receiver, i64::from(me));
            if !call {
                return Ok(None);
            }
            let result = wait_on(k, Wait::Reply(receiver), Some(receiver));
            finish_call(result)
        }
        None => {
            k.cur_mut().outbox = Some(msg);
            let server = {
                let e = k.objects.endpoint(ep).ok_or(-EPIPE)?;
                e.senders.push_back(me);
                e.server
            };
            let result = wait_on(k, Wait::Send { endpoint: ep, call }, server);
            if call { finish_call(result) } else { if result < 0 { Err(result) } else { Ok(None) } }
        }
    }
}

fn finish_call(result: i64) -> Result<Option<Message>, i64> {
    let mut k = KERNEL.lock();
    let task = k.cur_mut();
    task.outbox = None;
    if result < 0 {
        return Err(result);
    }
    Ok(Some(task.inbox.take().unwrap_or_default()))
}

/// Receives a message on `ep`, waiting for a sender if none is queued.
pub fn receive(mut k: SpinLockGuard<'_, Kernel>, ep: ObjectId) -> Result<Message, i64> {
    let me = k.current;
    match k.objects.endpoint(ep) {
        Some(e) => e.server = Some(me),
        None => return Err(-EPIPE),
    }
    if let Some((sender, call)) = pop_sender(&mut k, ep) {
        let msg = k.task_mut(sender).and_then(|s| s.outbox.take()).unwrap_or_default();
        if call {
            if let Some(s) = k.task_mut(sender) {
                s.state = State::Blocked(Wait::Reply(me));
            }
            k.cur_mut().reply_to = Some(sender);
        } else {
            sched::wake(&mut k, sender, 0);
        }
        sched::update_priority(&mut k, me);
        return Ok(msg);
    }
    if let Some(e) = k.objects.endpoint(ep) {
        e.receivers.push_back(me);
    }
    // Waiting senders elsewhere may now count on this task as the server: drop any stale boost.
    sched::update_priority(&mut k, me);
    let result = wait_on(k, Wait::Receive(ep), None);
    if result < 0 {
        return Err(result);
    }
    Ok(KERNEL.lock().cur_mut().inbox.take().unwrap_or_default())
}

/// Answers the caller the running task last received from.
pub fn reply(k: &mut Kernel, mut msg: Message) -> Result<(), i64> {
    let me = k.current;
    let caller = k.cur_mut().reply_to.take().ok_or(-EINVAL)?;
    msg.badge = k.cur().badge();
    let waiting = k.task(caller).is_some_and(|t| t.state == State::Blocked(Wait::Reply(me)));
    if !waiting {
        sched::update_priority(k, me);
        return Err(-ESRCH);
    }
    if let Some(c) = k.task_mut(caller) {
        c.inbox = Some(msg);
    }
    sched::wake(k, caller, 0);
    sched::update_priority(k, me);
    Ok(())
}

/// Wakes with -EPIPE every task waiting on a reply from `server` (it ended).
pub fn server_gone(k: &mut Kernel, server: Pid) {
    let waiting: alloc::vec::Vec<Pid> =
        k.tasks.values().filter(|t| t.state == State::Blocked(Wait::Reply(server))).map(|t| t.pid).collect();
    for pid in waiting {
        sched::wake(k, pid, -EPIPE);
    }
}
