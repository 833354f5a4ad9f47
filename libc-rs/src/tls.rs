//! The thread control block each thread's FS base points to: the x86-64 TLS ABI's self pointer at `%fs:0`,
//! the stack-protector canary at `%fs:0x28` (where gcc's `-fstack-protector` reads it), `errno`, the thread's
//! start routine and result, and its ptmalloc-rs [`ThreadState`].
//!
//! Follows "ELF Handling For Thread-Local Storage" (Drepper), §3.4.6 x86-64 (variant II: the thread pointer
//! points at the TCB, whose first word is the TCB's own address, so `mov %fs:0, %rax` yields a pointer usable
//! without a segment prefix) and glibc's `tcbhead_t` for the first 0x38 bytes. There is no static TLS below
//! the thread pointer: programs may not use `__thread`/`#[thread_local]` (no PT_TLS support).
//!
//! The main thread's block is a static ([`MAIN_THREAD`], set up by crt0); every other thread's block sits at
//! the top of its stack mapping (see [`crate::thread::layout`]).
//!
//! Invariant: a block is only ever written through raw pointers to single fields by threads other than its
//! owner (the creator fills it before the thread starts and writes `tid` once; the joiner reads `result`
//! after the thread has ended); the owner alone borrows `errno` and `malloc`.

use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, AtomicU32};
use ptmalloc_rs::ThreadState;

/// A thread's start routine (the C `pthread_create` signature).
pub type StartRoutine = unsafe extern "C" fn(*mut c_void) -> *mut c_void;

/// The thread control block (`%fs:0` points here).
#[repr(C, align(64))]
#[derive(Debug)]
pub struct ThreadBlock {
    /// `%fs:0x00`: the block's own address (TLS ABI).
    pub self_pointer: *mut ThreadBlock,
    /// `%fs:0x08`: glibc's dynamic thread vector; always 0 (no dynamic TLS).
    pub dtv: usize,
    /// `%fs:0x10`: glibc's `self`, the block's address again.
    pub self_again: *mut ThreadBlock,
    /// `%fs:0x18..0x28`: glibc's `multiple_threads`, `gscope_flag`, `sysinfo`; unused, 0.
    pub reserved: [u64; 2],
    /// `%fs:0x28`: the stack-protector canary (random, shared by all threads of the process).
    pub stack_guard: u64,
    /// `%fs:0x30`: glibc's pointer guard; unused, 0.
    pub pointer_guard: u64,
    /// The thread's `errno`.
    pub errno: i32,
    /// Kernel thread id (the task id `thread_create` returned; the pid for the main thread).
    pub tid: AtomicU32,
    /// What the thread runs (None for the main thread).
    pub start: Option<StartRoutine>,
    /// The argument of `start`.
    pub arg: *mut c_void,
    /// What `start` returned (or `pthread_exit`'s value), published before the thread ends.
    pub result: AtomicPtr<c_void>,
    /// The thread's stack mapping `[mapping_start, mapping_start + mapping_bytes)` (0, 0 for the main thread),
    /// which holds this block; the joiner unmaps it.
    pub mapping_start: usize,
    pub mapping_bytes: usize,
    /// The thread's malloc cache and arena.
    pub malloc: ThreadState,
}

/// Offset of `errno` in the block.
pub const ERRNO_OFFSET: usize = core::mem::offset_of!(ThreadBlock, errno);
/// Where gcc reads the stack-protector canary (`%fs:0x28`).
pub const STACK_GUARD_OFFSET: usize = 0x28;

const _: () = assert!(core::mem::offset_of!(ThreadBlock, self_pointer) == 0);
const _: () = assert!(core::mem::offset_of!(ThreadBlock, self_again) == 0x10);
const _: () = assert!(core::mem::offset_of!(ThreadBlock, stack_guard) == STACK_GUARD_OFFSET);
const _: () = assert!(ERRNO_OFFSET == 0x38);
const _: () = assert!(core::mem::size_of::<ThreadBlock>() <= 4096);

impl ThreadBlock {
    /// A fresh block that will live at `at` (the self pointers point there).
    pub const fn new(at: *mut ThreadBlock, stack_guard: u64) -> ThreadBlock {
        ThreadBlock {
            self_pointer: at,
            dtv: 0,
            self_again: at,
            reserved: [0; 2],
            stack_guard,
            pointer_guard: 0,
            errno: 0,
            tid: AtomicU32::new(0),
            start: None,
            arg: core::ptr::null_mut(),
            result: AtomicPtr::new(core::ptr::null_mut()),
            mapping_start: 0,
            mapping_bytes: 0,
            malloc: ThreadState::new(),
        }
    }
}

#[cfg(target_os = "none")]
pub use target::*;

#[cfg(target_os = "none")]
mod target {
    use super::ThreadBlock;
    use crate::errno::Errno;
    use core::cell::UnsafeCell;

    /// The main thread's block (a static: crt0 installs it before anything else runs).
    pub struct MainThreadBlock(UnsafeCell<ThreadBlock>);

    // SAFETY: the block is the main thread's; other threads only touch single fields through raw pointers
    // as the module invariant says.
    unsafe impl Sync for MainThreadBlock {}

    pub static MAIN_THREAD: MainThreadBlock =
        MainThreadBlock(UnsafeCell::new(ThreadBlock::new(core::ptr::null_mut(), 0)));

    impl MainThreadBlock {
        pub fn get(&self) -> *mut ThreadBlock {
            self.0.get()
        }
    }

    /// Makes `block` the calling thread's TCB: `arch_prctl(ARCH_SET_FS, block)`.
    ///
    /// # Safety
    /// `block` is a valid, initialized [`ThreadBlock`] (its self pointers point at it) that outlives the thread,
    /// and no code of this thread still uses the previous one.
    pub unsafe fn install(block: *mut ThreadBlock) -> Result<(), Errno> {
        // SAFETY: the caller's contract is arch_prctl's for SET_FS.
        unsafe { crate::sys::arch_prctl(abi::arch_prctl::SET_FS, block as u64) }.map(drop)
    }

    /// The calling thread's block (`%fs:0`).
    #[inline(always)]
    pub fn current() -> *mut ThreadBlock {
        let block: *mut ThreadBlock;
        // SAFETY: reads the self pointer at %fs:0, which crt0 (main thread) or thread creation set before
        // any code of the thread ran; no memory is written.
        unsafe {
            core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) block, options(nostack, readonly, preserves_flags));
        }
        block
    }

    /// The calling thread's `errno` slot.
    #[inline(always)]
    pub fn errno_slot() -> *mut i32 {
        // SAFETY: `current()` is the thread's live block; the field pointer stays inside it.
        unsafe { &raw mut (*current()).errno }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn layout_matches_the_tls_abi_and_glibc() {
        assert_eq!(offset_of!(ThreadBlock, self_pointer), 0);
        assert_eq!(offset_of!(ThreadBlock, dtv), 8);
        assert_eq!(offset_of!(ThreadBlock, self_again), 16);
        assert_eq!(offset_of!(ThreadBlock, stack_guard), 0x28);
        assert_eq!(offset_of!(ThreadBlock, pointer_guard), 0x30);
        assert_eq!(ERRNO_OFFSET, 0x38);
        assert_eq!(align_of::<ThreadBlock>(), 64);
        assert!(size_of::<ThreadBlock>() <= 4096);
        assert_eq!(size_of::<ThreadBlock>() % 64, 0);
    }

    #[test]
    fn new_block_points_at_itself() {
        let mut storage = core::mem::MaybeUninit::<ThreadBlock>::uninit();
        let at = storage.as_mut_ptr();
        storage.write(ThreadBlock::new(at, 0xdead_beef));
        // SAFETY: just initialized.
        let block = unsafe { storage.assume_init_ref() };
        assert_eq!(block.self_pointer, at);
        assert_eq!(block.self_again, at);
        assert_eq!(block.stack_guard, 0xdead_beef);
        assert_eq!(block.errno, 0);
        assert!(block.start.is_none());
        // SAFETY: `at` is the initialized block; reading the first word as %fs:0 would.
        assert_eq!(unsafe { *(at as *const usize) }, at as usize);
    }
}
