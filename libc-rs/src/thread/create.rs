//! Creating, ending and joining threads (the layer under `pthread_*` and [`super::spawn`]).

use super::layout::ThreadLayout;
use crate::errno::Errno;
use crate::mman::{MAP_ANONYMOUS, MAP_PRIVATE, MAP_STACK, PAGE_SIZE, PROT_NONE, PROT_READ, PROT_WRITE};
use crate::sys;
use crate::tls::{self, StartRoutine, ThreadBlock};
use core::ffi::c_void;
use core::sync::atomic::Ordering::{Acquire, Release};

/// Stack size of a thread unless asked otherwise (demand-zero: only touched pages cost memory).
pub const DEFAULT_STACK_BYTES: usize = 256 * 1024;

// The first code a new thread runs: the kernel enters it with RDI = its TLS block and RSP = the stack top.
// It ends the frame-pointer chain, aligns the stack as a call expects and calls `thread_main`.
core::arch::global_asm!(
    ".pushsection .text.libc_rs_thread_entry, \"ax\", @progbits",
    ".p2align 4",
    ".globl libc_rs_thread_entry",
    ".hidden libc_rs_thread_entry",
    ".type libc_rs_thread_entry, @function",
    "libc_rs_thread_entry:",
    "    xor ebp, ebp",
    "    and rsp, -16",
    "    call {main}",
    "    ud2",
    ".size libc_rs_thread_entry, . - libc_rs_thread_entry",
    ".popsection",
    main = sym thread_main,
);

unsafe extern "C" {
    /// The trampoline above (only its address is used).
    fn libc_rs_thread_entry() -> !;
}

/// Runs the thread's start routine, then ends the thread with its result.
///
/// # Safety
/// Called once, by the trampoline of a thread whose FS base is `block`, a block [`create`] filled.
unsafe extern "C" fn thread_main(block: *mut ThreadBlock) -> ! {
    // SAFETY: `create` wrote the whole block before the thread existed; these fields do not change after.
    let (start, arg) = unsafe { ((*block).start, (*block).arg) };
    let result = match start {
        // SAFETY: the routine and its argument were given together to `create` (the C contract of
        // pthread_create, or `spawn`'s trampoline and packet).
        Some(start) => unsafe { start(arg) },
        None => core::ptr::null_mut(),
    };
    exit(result)
}

/// Creates a thread running `start(arg)` on a stack of `stack_bytes` (rounded up to pages); its TLS block
/// (which is also the `pthread_t`).
///
/// # Safety
/// `start(arg)` must be sound to run on another thread (what `arg` points to is shared as the routine
/// expects and outlives the thread's use of it).
pub unsafe fn create(
    start: StartRoutine,
    arg: *mut c_void,
    stack_bytes: usize,
) -> Result<*mut ThreadBlock, Errno> {
    let layout = ThreadLayout::new(stack_bytes, core::mem::size_of::<ThreadBlock>(), PAGE_SIZE)
        .ok_or(Errno::EINVAL)?;
    let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK;
    // SAFETY: a new anonymous mapping (no MAP_FIXED) disturbs nothing.
    let mapping = unsafe { sys::mmap(0, layout.total_bytes, PROT_READ | PROT_WRITE, flags, -1, 0)? };
    // SAFETY: the mapping is ours and unused.
    let guarded = unsafe { sys::mprotect(mapping, layout.guard_bytes, PROT_NONE) };
    if let Err(errno) = guarded {
        // SAFETY: as above; nothing uses the mapping.
        let _ = unsafe { sys::munmap(mapping, layout.total_bytes) };
        return Err(errno);
    }
    let block = (mapping + layout.stack_top) as *mut ThreadBlock;
    // SAFETY: the calling thread's own block; the canary never changes after crt0 set it.
    let stack_guard = unsafe { (*tls::current()).stack_guard };
    let fresh = ThreadBlock {
        start: Some(start),
        arg,
        mapping_start: mapping,
        mapping_bytes: layout.total_bytes,
        ..ThreadBlock::new(block, stack_guard)
    };
    // SAFETY: `block` is page-aligned (so 64-byte aligned), writable and inside the fresh mapping, with room
    // for a whole block (the layout reserves it).
    unsafe { block.write(fresh) };
    // SAFETY: the trampoline never returns and runs `thread_main` on the fresh stack below `block`; the
    // stack and block are the new thread's from now on (the creator only writes `tid` below).
    let created = unsafe {
        sys::thread_create(libc_rs_thread_entry as *const () as u64, block as u64, block as u64, block as u64)
    };
    match created {
        Ok(tid) => {
            // SAFETY: a single field of the block, which the new thread does not touch.
            unsafe { (*block).tid.store(tid, Release) };
            Ok(block)
        }
        Err(errno) => {
            // SAFETY: no thread was created, so nothing uses the mapping.
            let _ = unsafe { sys::munmap(mapping, layout.total_bytes) };
            Err(errno)
        }
    }
}

/// Ends the calling thread with `result` (what `join` returns): gives its malloc cache back, publishes the
/// result, then `exit` (nr 60). On the main thread this ends only the main thread.
pub fn exit(result: *mut c_void) -> ! {
    let block = tls::current();
    // SAFETY: the thread's own malloc state, borrowed once here; no allocation happens after this.
    crate::malloc::thread_exit(unsafe { &mut (*block).malloc });
    // SAFETY: a single atomic field of the thread's own block.
    unsafe { (*block).result.store(result, Release) };
    sys::exit(0)
}

/// Waits for the thread of `block` to end (`wait4(tid)`), frees its stack and TLS block and returns its
/// result. Only the thread that created it may join it (ECHILD otherwise); EDEADLK for the calling thread
/// itself, ESRCH for a block that is not a created thread.
///
/// # Safety
/// `block` was returned by [`create`] and has not been joined yet.
pub unsafe fn join(block: *mut ThreadBlock) -> Result<*mut c_void, Errno> {
    if block == tls::current() {
        return Err(Errno::EDEADLK);
    }
    // SAFETY: the block is live until this join unmaps it (contract).
    let (tid, mapping_start, mapping_bytes) =
        unsafe { ((*block).tid.load(Acquire), (*block).mapping_start, (*block).mapping_bytes) };
    if tid == 0 || mapping_bytes == 0 {
        return Err(Errno::ESRCH);
    }
    loop {
        match sys::wait4(tid as i32, 0) {
            Ok(_) => break,
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno),
        }
    }
    // SAFETY: the thread has ended; its block is still mapped until the munmap below.
    let result = unsafe { (*block).result.load(Acquire) };
    // SAFETY: the thread has ended, so nothing uses its stack or block any more.
    let _ = unsafe { sys::munmap(mapping_start, mapping_bytes) };
    Ok(result)
}
