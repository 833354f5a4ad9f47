//! IPC wrappers: endpoints (synchronous messages of four words plus an optional bulk transfer of at most
//! `abi::IPC_BULK_MAX` bytes), notifications (a word of bits) and handles (`abi::nr` 0x1010..0x101c).

use crate::errno::Errno;
use crate::syscall::{RawIpc, syscall_ipc, syscall0, syscall1, syscall2};
use abi::{IpcBulk, nr};
use core::marker::PhantomData;

/// A kernel handle (the child of a spawn sees the passed handles as 1, 2, …).
pub type Handle = u64;

/// An `abi::IpcBulk` whose buffers are borrowed for `'a`, so the kernel can only read and write memory the
/// caller lent it. After a receive, [`Bulk::received`] says how many bytes arrived in the receive buffer.
#[derive(Debug)]
pub struct Bulk<'a> {
    raw: IpcBulk,
    _buffers: PhantomData<(&'a [u8], &'a mut [u8])>,
}

impl<'a> Bulk<'a> {
    /// Sends `send` and receives into `recv` (a call, or a server's reply-and-receive).
    pub fn new(send: &'a [u8], recv: &'a mut [u8]) -> Bulk<'a> {
        let raw = IpcBulk {
            send_ptr: send.as_ptr() as u64,
            send_len: send.len() as u64,
            recv_ptr: recv.as_mut_ptr() as u64,
            recv_cap: recv.len() as u64,
            recv_len: 0,
        };
        Bulk { raw, _buffers: PhantomData }
    }

    /// Sends `send` and receives nothing.
    pub fn send_only(send: &'a [u8]) -> Bulk<'a> {
        Bulk::new(send, &mut [])
    }

    /// Receives into `recv` and sends nothing.
    pub fn recv_only(recv: &'a mut [u8]) -> Bulk<'a> {
        Bulk::new(&[], recv)
    }

    /// Bytes the kernel reported in the receive buffer (clamped to its size).
    pub fn received(&self) -> usize {
        self.raw.recv_len.min(self.raw.recv_cap) as usize
    }

    /// The descriptor as the kernel sees it.
    pub fn raw(&self) -> &IpcBulk {
        &self.raw
    }
}

/// A received message or a reply: `value` is the badge (receive) or the reply status (call), `words` the
/// four message words.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IpcMessage {
    pub value: u64,
    pub words: [u64; 4],
}

/// Runs one IPC syscall with an optional bulk descriptor.
fn ipc(nr: u64, a0: u64, words: [u64; 4], bulk: Option<&mut Bulk<'_>>) -> Result<IpcMessage, Errno> {
    let bulk_ptr = match bulk {
        Some(bulk) => {
            bulk.raw.recv_len = 0;
            &mut bulk.raw as *mut IpcBulk as u64
        }
        None => 0,
    };
    // SAFETY: `bulk_ptr` is 0 or a live IpcBulk whose buffers are borrowed (read-only for send, exclusively
    // for receive) for as long as the Bulk lives, which outlasts this call.
    let RawIpc { rax, words } = unsafe { syscall_ipc(nr, a0, words, bulk_ptr) };
    Ok(IpcMessage { value: Errno::result(rax)?, words })
}

/// `endpoint_create()`.
pub fn endpoint_create() -> Result<Handle, Errno> {
    // SAFETY: no arguments, no user memory touched.
    Errno::result(unsafe { syscall0(nr::ENDPOINT_CREATE) })
}

/// `ipc_send(handle, words, bulk)`: blocks until a receiver takes the message.
pub fn ipc_send(handle: Handle, words: [u64; 4], bulk: Option<&mut Bulk<'_>>) -> Result<u64, Errno> {
    ipc(nr::IPC_SEND, handle, words, bulk).map(|message| message.value)
}

/// `ipc_recv(handle, bulk)`: blocks for a message; `value` is the sender's badge.
pub fn ipc_recv(handle: Handle, bulk: Option<&mut Bulk<'_>>) -> Result<IpcMessage, Errno> {
    ipc(nr::IPC_RECV, handle, [0; 4], bulk)
}

/// `ipc_call(handle, words, bulk)`: sends and waits for the reply; `value` is the reply status.
pub fn ipc_call(handle: Handle, words: [u64; 4], bulk: Option<&mut Bulk<'_>>) -> Result<IpcMessage, Errno> {
    ipc(nr::IPC_CALL, handle, words, bulk)
}

/// `ipc_reply(status, words, bulk)`: answers the caller this task last received from.
pub fn ipc_reply(status: u64, words: [u64; 4], bulk: Option<&mut Bulk<'_>>) -> Result<u64, Errno> {
    ipc(nr::IPC_REPLY, status, words, bulk).map(|message| message.value)
}

/// `ipc_reply_recv(handle, words, bulk)`: replies (status 0) to the last caller, then receives on
/// `handle`; the bulk's send part is the reply, its receive part the next message.
pub fn ipc_reply_recv(
    handle: Handle,
    words: [u64; 4],
    bulk: Option<&mut Bulk<'_>>,
) -> Result<IpcMessage, Errno> {
    ipc(nr::IPC_REPLY_RECV, handle, words, bulk)
}

/// `notify_create()`.
pub fn notify_create() -> Result<Handle, Errno> {
    // SAFETY: no arguments, no user memory touched.
    Errno::result(unsafe { syscall0(nr::NOTIFY_CREATE) })
}

/// `notify_signal(handle, bits)`: ORs `bits` into the word and wakes a waiter.
pub fn notify_signal(handle: Handle, bits: u64) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    Errno::result(unsafe { syscall2(nr::NOTIFY_SIGNAL, handle, bits) })
}

/// `notify_wait(handle)`: blocks until the word is non-zero, returns and clears it.
pub fn notify_wait(handle: Handle) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    Errno::result(unsafe { syscall1(nr::NOTIFY_WAIT, handle) })
}

/// `notify_poll(handle)`: like `notify_wait` without blocking (0 when nothing is pending).
pub fn notify_poll(handle: Handle) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    Errno::result(unsafe { syscall1(nr::NOTIFY_POLL, handle) })
}

/// `handle_close(handle)`.
pub fn handle_close(handle: Handle) -> Result<u64, Errno> {
    // SAFETY: no pointers.
    Errno::result(unsafe { syscall1(nr::HANDLE_CLOSE, handle) })
}
