//! The LD_PRELOAD build: one process-wide allocator over Linux, per-thread state in TLS, thread-exit and
//! fork handlers, and the `MALLOC_*` environment settings; `exports.rs` holds the C functions.
//!
//! Setup happens on the first call (any thread): initialize the allocator and apply the environment (read
//! from /proc/self/environ, which works before libc has set `environ`). The pthread key whose destructor
//! flushes a thread's cache at exit and the atfork handlers are registered only once the process has a second
//! thread (glibc's `__libc_single_threaded` is clear), from the first allocation that finds it so: before
//! that no other thread can hold a malloc lock at fork, and the main thread's cache needs no flushing at
//! process exit (glibc does not flush it either). A single-threaded program thus never runs that code, whose
//! libc pages would count in its RSS. Neither registration allocates for the first keys/handlers; if one
//! did, it would re-enter malloc, which is usable by then.
//!
//! Fork: glibc takes its malloc locks after every atfork prepare handler; ours is a registered handler, and
//! prepare handlers run last-registered first, so handlers registered before ours run while we hold the
//! locks. The locks therefore let the forking thread through until the parent/child handler releases them
//! (`set_fork_owner`): such a handler may still call malloc.

mod exports;
mod tls;

use crate::linux::{FutexLock, LinuxSystem, for_each_initial_env, parse_entry, parse_tunables};
use crate::{Malloc, ThreadState};
use core::sync::atomic::{AtomicU8, Ordering};

fn set_errno(errno: i32) {
    // SAFETY: `__errno_location` returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = errno };
}

#[cold]
#[unsafe(link_section = ".text.rare")]
fn fatal(message: &str) -> ! {
    // SAFETY: writing our own buffers to stderr, then abort (glibc's malloc_printerr does the same).
    unsafe {
        libc::write(2, message.as_ptr().cast(), message.len());
        libc::write(2, c"\n".as_ptr().cast(), 1);
        libc::abort()
    }
}

/// A panic is a bug in this library (the allocator itself never panics on user input: corruption goes through
/// `fatal` with glibc's message); the library has no std, so report it and abort like any malloc failure.
#[cfg(not(any(test, feature = "fake")))]
#[panic_handler]
#[unsafe(link_section = ".text.rare")]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    fatal("ptmalloc-rs: internal error (panic)")
}

/// The process's allocator.
// SAFETY: a static never moves.
static MALLOC: Malloc<LinuxSystem, FutexLock> = unsafe { Malloc::new(LinuxSystem::new(set_errno, fatal)) };

/// 0: nothing set up, 1: in progress, 2: done (for both [`SETUP`] and [`HOOKS`]).
const NOT_DONE: u8 = 0;
const IN_PROGRESS: u8 = 1;
const DONE: u8 = 2;
/// The allocator is initialized and the environment applied.
static SETUP: AtomicU8 = AtomicU8::new(NOT_DONE);
/// The thread key and the fork handlers are registered.
static HOOKS: AtomicU8 = AtomicU8::new(NOT_DONE);
static mut THREAD_KEY: libc::pthread_key_t = 0;

/// What the library keeps per thread (one TLS block, so one TLS lookup per call).
struct PreloadThread {
    state: ThreadState,
    /// [`UNSEEN`], [`SEEN_SINGLE`] or [`REGISTERED`].
    registration: u8,
}

/// The thread has not called the library yet.
const UNSEEN: u8 = 0;
/// The thread called while the process was single-threaded: nothing registered for it yet.
const SEEN_SINGLE: u8 = 1;
/// The thread-exit destructor is registered for this thread.
const REGISTERED: u8 = 2;

const _: () = assert!(core::mem::size_of::<PreloadThread>() <= tls::BLOCK_SIZE);
const _: () = assert!(core::mem::align_of::<PreloadThread>() <= 16);

/// The calling thread's `PreloadThread`: its TLS block, whose all-zero initial value is
/// `PreloadThread { state: ThreadState::new(), registration: UNSEEN }`.
#[inline(always)]
fn this_thread() -> *mut PreloadThread {
    tls::thread_block().cast()
}

#[cold]
fn setup() {
    if SETUP.compare_exchange(NOT_DONE, IN_PROGRESS, Ordering::Acquire, Ordering::Relaxed).is_err() {
        return;
    }
    // Only entries that may carry a setting go to the (rarely run) parser. The scan compares at most 8
    // bytes per entry, which compile to immediate operands: longer literals would be read from `.rodata`,
    // which preload.ld keeps out of memory until something rare needs it.
    let mut in_tunables = false;
    for_each_initial_env(|entry| {
        let candidate = entry.starts_with(b"MALLOC_")
            || entry.starts_with(b"GLIBC_TU")
            || entry.starts_with(b"PTMALLOC")
            || (in_tunables && entry.starts_with(b"glibc."));
        in_tunables = candidate && apply_env_entry(entry, in_tunables);
    });
    // SAFETY: a byte of glibc's that lives as long as the process; from now on the locks are skipped while
    // the process has a single thread, as glibc's malloc does.
    unsafe { crate::linux::use_single_threaded_flag(&raw const __libc_single_threaded) };
    SETUP.store(DONE, Ordering::Release);
}

/// Applies one environment entry that may hold a malloc setting; returns whether the entries that follow
/// may be fragments of a `GLIBC_TUNABLES` list (`in_tunables`: whether this one may be).
///
/// glibc's ld.so parses GLIBC_TUNABLES in place and leaves a NUL after each `name=value`, so in the
/// initial environment the later tunables of the list follow as fragments starting with "glibc.".
#[inline(never)]
#[unsafe(link_section = ".text.rare")]
fn apply_env_entry(entry: &[u8], in_tunables: bool) -> bool {
    if in_tunables && entry.starts_with(b"glibc.") {
        let mut rebuilt = [0u8; 272];
        let prefix = b"GLIBC_TUNABLES=";
        let len = (prefix.len() + entry.len()).min(rebuilt.len());
        rebuilt[..prefix.len()].copy_from_slice(prefix);
        rebuilt[prefix.len()..len].copy_from_slice(&entry[..len - prefix.len()]);
        parse_tunables(&rebuilt[..len], |setting| {
            MALLOC.set_param(setting.parameter, setting.value);
        });
        return true;
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
    entry.starts_with(b"GLIBC_TUNABLES=")
}

/// Registers the thread key and the fork handlers, once.
#[cold]
fn register_hooks() {
    if HOOKS.compare_exchange(NOT_DONE, IN_PROGRESS, Ordering::Acquire, Ordering::Relaxed).is_err() {
        return;
    }
    // SAFETY: registering our handlers once; THREAD_KEY is written only here, before HOOKS becomes DONE.
    unsafe {
        libc::pthread_key_create(&raw mut THREAD_KEY, Some(thread_destructor));
        libc::pthread_atfork(Some(fork_prepare), Some(fork_parent), Some(fork_child));
    }
    HOOKS.store(DONE, Ordering::Release);
}

/// Whether the process has only ever had one thread (glibc's flag; false before `setup`).
#[inline(always)]
fn process_single_threaded() -> bool {
    // SAFETY: a byte glibc keeps for exactly this question.
    unsafe { core::ptr::read_volatile(&raw const __libc_single_threaded) != 0 }
}

/// A call of a thread that is not registered yet: the one-time setup, then, once the process is
/// multi-threaded, the hooks and this thread's exit destructor.
#[cold]
#[inline(never)]
fn register_thread(thread: &mut PreloadThread) {
    if SETUP.load(Ordering::Acquire) != DONE {
        setup();
        if SETUP.load(Ordering::Acquire) != DONE {
            return;
        }
    }
    if process_single_threaded() {
        thread.registration = SEEN_SINGLE;
        return;
    }
    if HOOKS.load(Ordering::Acquire) != DONE {
        register_hooks();
        if HOOKS.load(Ordering::Acquire) != DONE {
            return;
        }
    }
    thread.registration = REGISTERED;
    // SAFETY: THREAD_KEY was created in `register_hooks`; the value only needs to be non-null.
    unsafe { libc::pthread_setspecific(THREAD_KEY, core::ptr::dangling::<u8>().cast()) };
}

/// Runs `f` with the calling thread's state.
#[inline(always)]
fn with_thread<R>(f: impl FnOnce(&mut ThreadState) -> R) -> R {
    // SAFETY: the block is this thread's own and starts zeroed, a valid `PreloadThread`; the allocator never
    // calls back into user code, so the mutable borrow is not re-entered (a re-entrant call from a signal
    // handler is undefined, as in C).
    let thread = unsafe { &mut *this_thread() };
    if thread.registration != REGISTERED && (thread.registration == UNSEEN || !process_single_threaded()) {
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

#[unsafe(link_section = ".text.rare")]
extern "C" fn fork_prepare() {
    let single = process_single_threaded();
    FORK_LOCKED.store(!single, Ordering::Relaxed);
    if !single {
        // glibc's fork takes the stdio list lock before the malloc locks (bug 19431: a thread holding the
        // list lock may be waiting for malloc). Our handler runs before fork takes it, so take it first
        // ourselves; fork's own acquisition then nests (the lock is recursive).
        // SAFETY: glibc's exported stdio list lock, released in `fork_parent` (the child's is reset by fork).
        unsafe { _IO_list_lock() };
        MALLOC.fork_lock_parent();
        crate::linux::set_fork_owner(true);
    }
}

#[unsafe(link_section = ".text.rare")]
extern "C" fn fork_parent() {
    if FORK_LOCKED.load(Ordering::Relaxed) {
        crate::linux::set_fork_owner(false);
        MALLOC.fork_unlock_parent();
        // SAFETY: taken in `fork_prepare`.
        unsafe { _IO_list_unlock() };
    }
}

#[unsafe(link_section = ".text.rare")]
extern "C" fn fork_child() {
    crate::linux::set_fork_owner(false);
    // SAFETY: the child's only thread reads its own state.
    MALLOC.fork_unlock_child(unsafe { &(*this_thread()).state });
}
