//! `pthread.h`: create, join, exit, self, equal; attributes (stack size only); mutexes (normal, non-recursive,
//! over [`FutexLock`]). Functions return 0 or an error number, as POSIX says (errno is not used).
//!
//! `pthread_t` is the address of the thread's TLS block. `pthread_mutex_t` is 40 bytes as in glibc, its first
//! `int` being the futex word, so `PTHREAD_MUTEX_INITIALIZER` (all zeros) is an unlocked mutex.
//! `pthread_attr_t` is 56 bytes as in glibc; libc-rs keeps the stack size in its first 8 bytes.

use crate::errno::Errno;
use crate::mutex::FutexLock;
use crate::thread::{self, DEFAULT_STACK_BYTES};
use crate::tls::{self, StartRoutine, ThreadBlock};
use core::ffi::{c_int, c_void};
use ptmalloc_rs::RawLock;

/// `pthread_attr_t` (glibc's size).
#[repr(C, align(8))]
#[derive(Debug)]
pub struct PthreadAttr {
    /// Stack size in bytes; 0 means the default.
    stack_bytes: usize,
    reserved: [u8; 48],
}

/// `pthread_mutex_t` (glibc's size); `word` is the futex word.
#[repr(C, align(8))]
#[derive(Debug)]
pub struct PthreadMutex {
    word: u32,
    reserved: [u8; 36],
}

/// `pthread_mutexattr_t`.
#[repr(C, align(4))]
#[derive(Debug)]
pub struct PthreadMutexAttr {
    reserved: [u8; 4],
}

const _: () = assert!(core::mem::size_of::<PthreadAttr>() == 56);
const _: () = assert!(core::mem::size_of::<PthreadMutex>() == 40);

/// PTHREAD_STACK_MIN (glibc x86-64: 16 KiB).
pub const PTHREAD_STACK_MIN: usize = 16384;

/// `pthread_create(thread, attr, start, arg)`: 0, EAGAIN (no memory or no task), EINVAL.
///
/// # Safety
/// `thread` is writable; `attr` is null or initialized; `start(arg)` may run on another thread (C contract).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_create(
    thread: *mut usize,
    attr: *const PthreadAttr,
    start: Option<StartRoutine>,
    arg: *mut c_void,
) -> c_int {
    let Some(start) = start else { return Errno::EINVAL.0 };
    // SAFETY: null or initialized (contract).
    let stack_bytes = match unsafe { attr.as_ref() } {
        Some(attr) if attr.stack_bytes != 0 => attr.stack_bytes,
        _ => DEFAULT_STACK_BYTES,
    };
    // SAFETY: the C contract of pthread_create.
    match unsafe { thread::create(start, arg, stack_bytes) } {
        Ok(block) => {
            // SAFETY: writable (contract).
            unsafe { thread.write(block as usize) };
            0
        }
        Err(Errno::EINVAL) => Errno::EINVAL.0,
        Err(_) => Errno::EAGAIN.0,
    }
}

/// `pthread_join(thread, result)`: 0, or ESRCH, EDEADLK, ECHILD (not the creating thread).
///
/// # Safety
/// `thread` came from `pthread_create` and was not joined; `result` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_join(thread: usize, result: *mut *mut c_void) -> c_int {
    // SAFETY: the caller's contract.
    match unsafe { thread::join(thread as *mut ThreadBlock) } {
        Ok(value) => {
            if !result.is_null() {
                // SAFETY: writable (contract).
                unsafe { result.write(value) };
            }
            0
        }
        Err(errno) => errno.0,
    }
}

/// `pthread_exit(value)`: ends the calling thread; `pthread_join` returns `value`.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_exit(value: *mut c_void) -> ! {
    thread::exit(value)
}

/// `pthread_self()`.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_self() -> usize {
    tls::current() as usize
}

/// `pthread_equal(a, b)`.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_equal(a: usize, b: usize) -> c_int {
    c_int::from(a == b)
}

/// `pthread_attr_init(attr)`.
///
/// # Safety
/// `attr` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_attr_init(attr: *mut PthreadAttr) -> c_int {
    // SAFETY: writable (contract).
    unsafe { attr.write(PthreadAttr { stack_bytes: 0, reserved: [0; 48] }) };
    0
}

/// `pthread_attr_destroy(attr)`.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_attr_destroy(_attr: *mut PthreadAttr) -> c_int {
    0
}

/// `pthread_attr_setstacksize(attr, size)`: EINVAL below `PTHREAD_STACK_MIN`.
///
/// # Safety
/// `attr` is initialized and writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_attr_setstacksize(attr: *mut PthreadAttr, size: usize) -> c_int {
    if size < PTHREAD_STACK_MIN {
        return Errno::EINVAL.0;
    }
    // SAFETY: writable (contract).
    unsafe { (*attr).stack_bytes = size };
    0
}

/// `pthread_attr_getstacksize(attr, size)`.
///
/// # Safety
/// `attr` is initialized; `size` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_attr_getstacksize(attr: *const PthreadAttr, size: *mut usize) -> c_int {
    // SAFETY: the caller's contract.
    unsafe {
        let bytes = (*attr).stack_bytes;
        size.write(if bytes == 0 { DEFAULT_STACK_BYTES } else { bytes });
    }
    0
}

/// The lock inside a mutex.
///
/// # Safety
/// `mutex` is a valid, initialized `pthread_mutex_t` that outlives the use of the result.
unsafe fn lock_of<'a>(mutex: *mut PthreadMutex) -> &'a FutexLock {
    // SAFETY: the word is 4-byte aligned inside the mutex and only used atomically (contract).
    unsafe { FutexLock::from_word(&raw mut (*mutex).word) }
}

/// `pthread_mutex_init(mutex, attr)`: attributes are ignored (every mutex is a normal one).
///
/// # Safety
/// `mutex` is writable and not in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_mutex_init(
    mutex: *mut PthreadMutex,
    _attr: *const PthreadMutexAttr,
) -> c_int {
    // SAFETY: writable and unused (contract).
    unsafe { mutex.write(PthreadMutex { word: 0, reserved: [0; 36] }) };
    0
}

/// `pthread_mutex_destroy(mutex)`: EBUSY while locked.
///
/// # Safety
/// `mutex` is initialized.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_mutex_destroy(mutex: *mut PthreadMutex) -> c_int {
    // SAFETY: the caller's contract.
    if unsafe { lock_of(mutex) }.is_locked() { Errno::EBUSY.0 } else { 0 }
}

/// `pthread_mutex_lock(mutex)`.
///
/// # Safety
/// `mutex` is initialized.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_mutex_lock(mutex: *mut PthreadMutex) -> c_int {
    // SAFETY: the caller's contract.
    unsafe { lock_of(mutex) }.lock();
    0
}

/// `pthread_mutex_trylock(mutex)`: 0 or EBUSY.
///
/// # Safety
/// `mutex` is initialized.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_mutex_trylock(mutex: *mut PthreadMutex) -> c_int {
    // SAFETY: the caller's contract.
    if unsafe { lock_of(mutex) }.try_lock() { 0 } else { Errno::EBUSY.0 }
}

/// `pthread_mutex_unlock(mutex)`.
///
/// # Safety
/// `mutex` is initialized and locked by the caller.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_mutex_unlock(mutex: *mut PthreadMutex) -> c_int {
    // SAFETY: the caller holds the lock (contract).
    unsafe { lock_of(mutex).unlock() };
    0
}
