//! IPC calls: endpoints (send, receive, call, reply, reply-and-receive), notifications, handles.
//!
//! Register fast path: four words in RSI, RDX, R10, R8 each way. Bulk path: R9 points to an
//! `abi::IpcBulk` describing up to one page to send and a buffer to receive into; the payload is copied
//! in before the kernel state is touched, and copied out by the receiving task itself once it runs again.

use alloc::vec::Vec;

use abi::errno::{EBADF, EMFILE, EMSGSIZE};
use abi::{IPC_BULK_MAX, IpcBulk};

use super::{Args, Result};
use crate::arch::x86_64::traps::TrapFrame;
use crate::ipc::{self, Endpoint, Handle, Kind, Message, Notification, Object, ObjectId};
use crate::mm::uaccess::{UserPtr, UserSlice};
use crate::task::KERNEL;

/// The object a handle of `kind` names in the running task.
pub(super) fn object(number: u64, kind: Kind) -> core::result::Result<ObjectId, i64> {
    let k = KERNEL.lock();
    match k.cur().handle(number) {
        Some(Handle { object, kind: k2 }) if k2 == kind => Ok(object),
        _ => Err(-EBADF),
    }
}

fn install(object: Object) -> Result {
    let mut k = KERNEL.lock();
    let handle = k.objects.create(object);
    match k.cur_mut().install_handle(handle) {
        Some(number) => Ok(u64::from(number)),
        None => {
            k.objects.put_ref(handle.object);
            Err(-EMFILE)
        }
    }
}

pub fn endpoint_create() -> Result {
    install(Object::Endpoint(Endpoint {
        senders: Default::default(),
        receivers: Default::default(),
        server: None,
    }))
}

pub fn notify_create() -> Result {
    install(Object::Notification(Notification { word: 0, waiters: Default::default() }))
}

/// A bulk descriptor read from user memory, and where to write it back.
type BulkDesc = Option<(UserPtr<IpcBulk>, IpcBulk)>;

/// The bulk descriptor at `ptr` (0: none) and the payload it sends, copied in.
fn bulk_in(ptr: u64) -> core::result::Result<(BulkDesc, Option<Vec<u8>>), i64> {
    if ptr == 0 {
        return Ok((None, None));
    }
    let user = UserPtr::<IpcBulk>::new(ptr)?;
    let desc = user.read()?;
    if desc.send_len > IPC_BULK_MAX || desc.recv_cap > IPC_BULK_MAX {
        return Err(-EMSGSIZE);
    }
    UserSlice::new(desc.recv_ptr, desc.recv_cap)?;
    let payload = if desc.send_len > 0 {
        let mut data = alloc::vec![0u8; desc.send_len as usize];
        UserSlice::new(desc.send_ptr, desc.send_len)?.read(&mut data)?;
        Some(data)
    } else {
        None
    };
    Ok((Some((user, desc)), payload))
}

/// Delivers a received message into the frame (words) and the bulk buffer.
fn deliver(frame: &mut TrapFrame, msg: &Message, bulk: BulkDesc) -> core::result::Result<(), i64> {
    frame.rsi = msg.words[0];
    frame.rdx = msg.words[1];
    frame.r10 = msg.words[2];
    frame.r8 = msg.words[3];
    if let Some((user, mut desc)) = bulk {
        let data = msg.bulk.as_deref().unwrap_or(&[]);
        let n = (data.len() as u64).min(desc.recv_cap);
        if n > 0 {
            UserSlice::new(desc.recv_ptr, n)?.write(&data[..n as usize])?;
        }
        desc.recv_len = data.len() as u64;
        user.write(&desc)?;
    }
    Ok(())
}

fn words(frame: &TrapFrame) -> [u64; 4] {
    [frame.rsi, frame.rdx, frame.r10, frame.r8]
}

/// ipc_send / ipc_call.
pub fn send(frame: &mut TrapFrame, call: bool) -> Result {
    let ep = object(frame.rdi, Kind::Endpoint)?;
    let (bulk, payload) = bulk_in(frame.r9)?;
    let msg = Message { words: words(frame), bulk: payload, badge: 0, status: 0 };
    match ipc::endpoint::send(KERNEL.lock(), ep, msg, call)? {
        Some(reply) => {
            deliver(frame, &reply, bulk)?;
            Ok(reply.status as u64)
        }
        None => Ok(0),
    }
}

/// ipc_recv / ipc_reply_recv.
pub fn receive(frame: &mut TrapFrame, reply_first: bool) -> Result {
    let ep = object(frame.rdi, Kind::Endpoint)?;
    let (bulk, payload) = bulk_in(frame.r9)?;
    if reply_first {
        let msg = Message { words: words(frame), bulk: payload, badge: 0, status: 0 };
        let mut k = KERNEL.lock();
        // A caller that went away meanwhile is not this server's problem: receive anyway.
        let _ = ipc::endpoint::reply(&mut k, msg);
    }
    let msg = ipc::endpoint::receive(KERNEL.lock(), ep)?;
    deliver(frame, &msg, bulk)?;
    Ok(msg.badge)
}

/// ipc_reply(status, words…, bulk).
pub fn reply(frame: &mut TrapFrame) -> Result {
    let (_, payload) = bulk_in(frame.r9)?;
    let msg = Message { words: words(frame), bulk: payload, badge: 0, status: frame.rdi as i64 };
    let mut k = KERNEL.lock();
    ipc::endpoint::reply(&mut k, msg)?;
    Ok(0)
}

pub fn notify_signal(a: Args) -> Result {
    let id = object(a.0[0], Kind::Notification)?;
    ipc::notification::signal(&mut KERNEL.lock(), id, a.0[1])?;
    Ok(0)
}

pub fn notify_wait(a: Args, block: bool) -> Result {
    let id = object(a.0[0], Kind::Notification)?;
    if block {
        ipc::notification::wait(KERNEL.lock(), id)
    } else {
        ipc::notification::poll(&mut KERNEL.lock(), id)
    }
}

pub fn handle_close(a: Args) -> Result {
    let mut k = KERNEL.lock();
    let index = usize::try_from(a.0[0]).ok().and_then(|n| n.checked_sub(1)).ok_or(-EBADF)?;
    let handle = k.cur_mut().handles.get_mut(index).and_then(Option::take).ok_or(-EBADF)?;
    for waiter in k.objects.put_ref(handle.object) {
        crate::sched::wake(&mut k, waiter, -abi::errno::EPIPE);
    }
    Ok(0)
}
