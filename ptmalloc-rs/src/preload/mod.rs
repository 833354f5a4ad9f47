//! The LD_PRELOAD build: one process-wide allocator over Linux, per-thread state in TLS, thread-exit and
//! fork handlers, and the `MALLOC_*` environment settings; `exports.rs` holds the C functions.
//!
//! Setup happens on the first call (any thread): initialize the allocator, apply the environment (read
//! from /proc/self/environ, which works before libc has set `environ`), then register the pthread key whose
//! destructor flushes a thread's cache at exit and the atfork handlers. Neither registration allocates for
//! the first keys/handlers; if one did, it would re-enter malloc after the allocator is already usable.

mod exports;
mod tls;

use crate::linux::{FutexLock, LinuxSystem, for_each_initial_env, parse_entry, parse_tunables};
use crate::{Malloc, ThreadState};
use core::sync::atomic::{AtomicU8, Ordering};

fn set_errno(errno: i32) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = errno };
}

fn fatal(message: &str) -> ! {
    // SAFETY: writing our own buffers to stderr, then abort (glibc's malloc_printerr does the same).
    unsafe {
        libc::write(2, message.as_ptr().cast(), message.len());
        libc::write(2, c"\n".as_ptr().cast(), 1);
        libc::abort()
    }
}

/// The process's allocator.
// SAFETY: a static never moves.
static MALLOC: Malloc<LinuxSystem, FutexLock> = unsafe { Malloc::new(LinuxSystem::new(set_errno, fatal)) };

/// 0: nothing set up, 1: in progress, 2: done.
static SETUP: AtomicU8 = AtomicU8::new(0);
static mut THREAD_KEY: libc::pthread_key_t = 0;

/// What the library keeps per thread (one TLS block, so one TLS lookup per call).
struct PreloadThread {
    state: ThreadState,
    /// The thread-exit destructor is registered for this thread.
    registered: bool,
}

const _: () = assert!(core::mem::size_of::<PreloadThread>() <= tls::BLOCK_SIZE);
const _: () = assert!(core::mem::align_of::<PreloadThread>() <= 16);

/// The calling thread's `PreloadThread`: its TLS block, whose all-zero initial value is
/// `PreloadThread { state: ThreadState::new(), registered: false }`.
#[inline(always)]
fn this_thread() -> *mut PreloadThread {
    tls::thread_block().cast()
}

#[cold]
fn setup() {
    if SETUP.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
        return;
    }
    // glibc's ld.so parses GLIBC_TUNABLES in place and leaves a NUL after each `name=value`, so in the
    // initial environment the later tunables of the list follow as fragments starting with "glibc.".
    let mut in_tunables = false;
    for_each_initial_env(|entry| {
        if entry.starts_with(b"GLIBC_TUNABLES=") {
            in_tunables = true;
        } else if in_tunables && entry.starts_with(b"glibc.") {
            let mut rebuilt = [0u8; 272];
            let prefix = b"GLIBC_TUNABLES=";
            let len = (prefix.len() + entry.len()).min(rebuilt.len());
            rebuilt[..prefix.len()].copy_from_slice(prefix);
            rebuilt[prefix.len()..len].copy_from_slice(&entry[..len - prefix.len()]);
            parse_tunables(&rebuilt[..len], |setting| {
                MALLOC.set_param(setting.parameter, setting.value);
            });
            return;
        } else {
            in_tunables = false;
        }
        if let Some(setting) = parse_entry(entry) {
            MALLOC.set_param(setting.parameter, setting.value);
        }
        parse_tunables(entry, |setting| {
            MALLOC.set_param(setting.parameter, setting.value);
        });
        if entry == b"PTMALLOC_RS_CPU_QUOTA=1" {
            MALLOC.system().set_cpu_quota_limit(true);
        }
    });
    // SAFETY: a byte of glibc's that lives as long as the process; from now on the locks are skipped while
    // the process has a single thread, as glibc's malloc does.
    unsafe { crate::linux::use_single_threaded_flag(&raw const __libc_single_threaded) };
    // SAFETY: registering our handlers once; THREAD_KEY is written only here, before SETUP becomes 2.
    unsafe {
        libc::pthread_key_create(&raw mut THREAD_KEY, Some(thread_destructor));
        libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child));
    }
    SETUP.store(2, Ordering::Release);
}

/// First call of a thread: the one-time setup, then the thread-exit registration.
#[cold]
fn register_thread(thread: &mut PreloadThread) {
    if SETUP.load(Ordering::Acquire) != 2 {
        setup();
    }
    if SETUP.load(Ordering::Acquire) == 2 {
        thread.registered = true;
        // SAFETY: THREAD_KEY was created in `setup`; the value only needs to be non-null.
        unsafe { libc::pthread_setspecific(THREAD_KEY, core::ptr::dangling::<u8>().cast()) };
    }
}

/// Runs `f` with the calling thread's state.
#[inline(always)]
fn with_thread<R>(f: impl FnOnce(&mut ThreadState) -> R) -> R {
    // SAFETY: the block is this thread's own and starts zeroed, a valid `PreloadThread`; the allocator never
    // calls back into user code, so the mutable borrow is not re-entered (a re-entrant call from a signal
    // handler is undefined, as in C).
    let thread = unsafe { &mut *this_thread() };
    if !thread.registered {
        register_thread(thread);
    }
    f(&mut thread.state)
}

extern "C" fn thread_destructor(_value: *mut libc::c_void) {
    // SAFETY: runs on the exiting thread, which owns its state.
    MALLOC.thread_exit(unsafe { &mut (*this_thread()).state });
}

unsafe extern "C" {
    /// glibc's flag (2.32+): non-zero while the process has never had a second thread.
    static __libc_single_threaded: core::ffi::c_char;
    /// glibc's (recursive) lock of the list of stdio streams.
    fn _IO_list_lock();
    fn _IO_list_unlock();
}

/// Whether `fork_prepare` took the locks (glibc skips them in single-threaded processes, which makes fork
/// from a signal handler that interrupted malloc work there).
static FORK_LOCKED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

extern "C" fn fork_prepare() {
    // SAFETY: a byte glibc keeps for exactly this question.
    let single = unsafe { core::ptr::read_volatile(&raw const __libc_single_threaded) } != 0;
    FORK_LOCKED.store(!single, Ordering::Relaxed);
    if !single {
        // glibc's fork takes the stdio list lock before the malloc locks (bug 19431: a thread holding the
        // list lock may be waiting for malloc). Our handler runs before fork takes it, so take it first
        // ourselves; fork's own acquisition then nests (the lock is recursive).
        // SAFETY: glibc's exported stdio list lock, released in `fork_parent` (the child's is reset by fork).
        unsafe { _IO_list_lock() };
        MALLOC.fork_lock_parent();
    }
}

extern "C" fn fork_parent() {
    if FORK_LOCKED.load(Ordering::Relaxed) {
        MALLOC.fork_unlock_parent();
        // SAFETY: taken in `fork_prepare`.
        unsafe { _IO_list_unlock() };
    }
}

extern "C" fn fork_child() {
    // SAFETY: the child's only thread reads its own state.
    MALLOC.fork_unlock_child(unsafe { &(*this_thread()).state });
}
