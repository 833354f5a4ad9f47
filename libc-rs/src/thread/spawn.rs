//! Rust threads: `spawn(closure) -> JoinHandle<T>`, `handle.join() -> T`.
//!
//! The closure and, later, its result travel in a `Packet` allocated with malloc; the new thread runs a
//! trampoline monomorphized for the closure's type. A `JoinHandle` is not `Send`: only the creating thread
//! can join (the kernel makes it the parent). Dropping a handle without joining leaks the thread's packet
//! and stack mapping (no detached threads).

use super::create::{DEFAULT_STACK_BYTES, create, join};
use crate::errno::Errno;
use crate::malloc;
use crate::tls::ThreadBlock;
use core::alloc::Layout;
use core::ffi::c_void;
use core::marker::PhantomData;

/// The closure going in, its value coming out.
struct Packet<F, T> {
    function: Option<F>,
    result: Option<T>,
}

/// A thread that can be joined for its value.
#[derive(Debug)]
pub struct JoinHandle<T> {
    block: *mut ThreadBlock,
    /// The packet's memory (to free) and its result field.
    packet: *mut u8,
    result: *mut Option<T>,
    _value: PhantomData<T>,
}

impl<T> JoinHandle<T> {
    /// The thread's kernel task id.
    pub fn tid(&self) -> u32 {
        // SAFETY: the block lives until `join` consumes the handle.
        unsafe { (*self.block).tid.load(core::sync::atomic::Ordering::Acquire) }
    }

    /// Waits for the thread and returns what its closure returned. ESRCH if the thread ended without a
    /// value (it was killed).
    pub fn join(self) -> Result<T, Errno> {
        // SAFETY: `block` came from `create` and is joined only here (the handle is consumed).
        unsafe { join(self.block) }?;
        // SAFETY: the thread has ended: the packet is ours alone again; its closure was taken by the thread.
        let value = unsafe { (*self.result).take() };
        // SAFETY: allocated in `spawn_with_stack`; nothing in it needs dropping any more.
        unsafe { malloc::deallocate(self.packet) };
        value.ok_or(Errno::ESRCH)
    }
}

/// Starts a thread running `function` on a stack of [`DEFAULT_STACK_BYTES`].
pub fn spawn<F, T>(function: F) -> Result<JoinHandle<T>, Errno>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_with_stack(DEFAULT_STACK_BYTES, function)
}

/// Starts a thread running `function` on a stack of `stack_bytes` (rounded up to pages).
pub fn spawn_with_stack<F, T>(stack_bytes: usize, function: F) -> Result<JoinHandle<T>, Errno>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let packet = malloc::allocate(Layout::new::<Packet<F, T>>()).cast::<Packet<F, T>>();
    if packet.is_null() {
        return Err(Errno::ENOMEM);
    }
    // SAFETY: fresh memory with the packet's layout.
    unsafe { packet.write(Packet { function: Some(function), result: None }) };
    // SAFETY: the trampoline takes the closure (Send + 'static) out of the packet on the new thread and
    // writes only the packet's result, which the creator reads after `join`.
    match unsafe { create(trampoline::<F, T>, packet.cast(), stack_bytes) } {
        Ok(block) => Ok(JoinHandle {
            block,
            packet: packet.cast(),
            // SAFETY: a field of the live packet.
            result: unsafe { &raw mut (*packet).result },
            _value: PhantomData,
        }),
        Err(errno) => {
            // SAFETY: no thread saw the packet: drop the closure and free the memory.
            unsafe {
                packet.drop_in_place();
                malloc::deallocate(packet.cast());
            }
            Err(errno)
        }
    }
}

/// The start routine of a spawned thread.
///
/// # Safety
/// `packet` is a live `Packet<F, T>` whose closure has not been taken, used by no one else until the thread
/// has ended.
unsafe extern "C" fn trampoline<F: FnOnce() -> T, T>(packet: *mut c_void) -> *mut c_void {
    let packet = packet.cast::<Packet<F, T>>();
    // SAFETY: contract: the packet is this thread's until it ends.
    let function = unsafe { (*packet).function.take() };
    if let Some(function) = function {
        let value = function();
        // SAFETY: as above.
        unsafe { (*packet).result = Some(value) };
    }
    core::ptr::null_mut()
}
