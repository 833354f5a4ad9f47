//! The C ABI of the malloc family (`#[no_mangle]`), for programs that load this library with LD_PRELOAD.

use super::{MALLOC, this_thread, with_thread};
use crate::MallInfo2;
use crate::fast::FreeStep;
use core::ffi::{c_int, c_void};

/// `struct mallinfo` (the deprecated `int` version).
#[repr(C)]
pub struct MallInfo {
    arena: c_int,
    ordblks: c_int,
    smblks: c_int,
    hblks: c_int,
    hblkhd: c_int,
    usmblks: c_int,
    fsmblks: c_int,
    uordblks: c_int,
    fordblks: c_int,
    keepcost: c_int,
}

/// Writes text to a file descriptor or a stdio stream.
struct Sink {
    stream: *mut libc::FILE,
}

impl core::fmt::Write for Sink {
    #[unsafe(link_section = ".text.rare")]
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        // SAFETY: writing our own buffer; `stream` is the caller's open FILE or null for stderr.
        let written = unsafe {
            if self.stream.is_null() {
                // A raw syscall: unlike write(2) it is no cancellation point (glibc marks stderr
                // non-cancelling while malloc_stats prints).
                libc::syscall(libc::SYS_write, 2, text.as_ptr(), text.len()) as usize
            } else {
                libc::fwrite(text.as_ptr().cast(), 1, text.len(), self.stream)
            }
        };
        if written == text.len() { Ok(()) } else { Err(core::fmt::Error) }
    }
}

/// Marker that lets programs (and our tests) tell that ptmalloc-rs is the malloc in use.
#[unsafe(link_section = ".text.rare")]
#[unsafe(no_mangle)]
pub extern "C" fn ptmalloc_rs_active() -> c_int {
    1
}

/// `malloc`.
///
/// # Safety
/// The C contract of `malloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    // SAFETY: the block is this thread's own; nothing else borrows it during this call.
    let p = MALLOC.malloc_from_tcache(unsafe { &(*this_thread()).state }, size);
    if !p.is_null() {
        return p.cast();
    }
    malloc_slow(size)
}

/// `malloc` beyond the tcache hit (kept out of line so that the hit stays small).
#[inline(never)]
fn malloc_slow(size: usize) -> *mut c_void {
    // SAFETY: the thread state is this thread's.
    with_thread(|thread| unsafe { MALLOC.malloc_slow(thread, size) }).cast()
}

/// `free`. errno is preserved: free's system calls are raw syscalls, which never touch errno.
///
/// # Safety
/// The C contract of `free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(ptr: *mut c_void) {
    if ptr.is_null() {
        return;
    }
    // SAFETY: the block is this thread's own; `ptr` came from malloc (C contract).
    let step = unsafe { MALLOC.free_to_tcache(&(*this_thread()).state, ptr.cast()) };
    match step {
        FreeStep::Done => {}
        // SAFETY: C contract; the tcache step sent the chunk to its arena; the block is this thread's own and
        // nothing else borrows it.
        FreeStep::Arena => unsafe { MALLOC.free_to_arena(&mut (*this_thread()).state, ptr.cast()) },
        FreeStep::General => free_slow(ptr),
    }
}

/// `free` beyond the tcache put.
#[inline(never)]
fn free_slow(ptr: *mut c_void) {
    // SAFETY: `ptr` came from malloc (C contract) and is not null.
    with_thread(|thread| unsafe { MALLOC.free_slow(thread, ptr.cast()) });
}

/// `cfree` (obsolete alias of free).
///
/// # Safety
/// The C contract of `free`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn cfree(ptr: *mut c_void) {
    // SAFETY: same contract.
    unsafe { free(ptr) }
}

/// `calloc`.
///
/// # Safety
/// The C contract of `calloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    // SAFETY: the thread state is this thread's.
    with_thread(|thread| unsafe { MALLOC.calloc(thread, count, size) }).cast()
}

/// `realloc`.
///
/// # Safety
/// The C contract of `realloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(ptr: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: `ptr` is null or came from malloc (C contract).
    with_thread(|thread| unsafe { MALLOC.realloc(thread, ptr.cast(), size) }).cast()
}

/// `reallocarray`.
///
/// # Safety
/// The C contract of `reallocarray`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn reallocarray(ptr: *mut c_void, count: usize, size: usize) -> *mut c_void {
    // SAFETY: as for realloc.
    with_thread(|thread| unsafe { MALLOC.reallocarray(thread, ptr.cast(), count, size) }).cast()
}

/// `memalign`.
///
/// # Safety
/// The C contract of `memalign`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memalign(alignment: usize, size: usize) -> *mut c_void {
    // SAFETY: the thread state is this thread's.
    with_thread(|thread| unsafe { MALLOC.memalign(thread, alignment, size) }).cast()
}

/// `aligned_alloc` (glibc 2.36: memalign).
///
/// # Safety
/// The C contract of `aligned_alloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    // SAFETY: the thread state is this thread's.
    with_thread(|thread| unsafe { MALLOC.aligned_alloc(thread, alignment, size) }).cast()
}

/// `posix_memalign`.
///
/// # Safety
/// The C contract of `posix_memalign` (`out` is writable).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, alignment: usize, size: usize) -> c_int {
    let mut result = core::ptr::null_mut();
    // SAFETY: the thread state is this thread's.
    let code = with_thread(|thread| unsafe { MALLOC.posix_memalign(thread, &mut result, alignment, size) });
    if code == 0 {
        // SAFETY: `out` is writable (C contract).
        unsafe { *out = result.cast() };
    }
    code
}

/// `valloc`.
///
/// # Safety
/// The C contract of `valloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    // SAFETY: the thread state is this thread's.
    with_thread(|thread| unsafe { MALLOC.valloc(thread, size) }).cast()
}

/// `pvalloc`.
///
/// # Safety
/// The C contract of `pvalloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    // SAFETY: the thread state is this thread's.
    with_thread(|thread| unsafe { MALLOC.pvalloc(thread, size) }).cast()
}

/// `malloc_usable_size`.
///
/// # Safety
/// `ptr` is null or a live block.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc_usable_size(ptr: *mut c_void) -> usize {
    // SAFETY: C contract.
    unsafe { MALLOC.usable_size(ptr.cast()) }
}

/// `mallopt`.
#[unsafe(link_section = ".text.rare")]
#[unsafe(no_mangle)]
pub extern "C" fn mallopt(parameter: c_int, value: c_int) -> c_int {
    with_thread(|_| MALLOC.mallopt(parameter, value))
}

/// `mallinfo2`.
#[unsafe(link_section = ".text.rare")]
#[unsafe(no_mangle)]
pub extern "C" fn mallinfo2() -> MallInfo2 {
    with_thread(|_| MALLOC.mallinfo2())
}

/// `mallinfo` (fields truncated to `int`, as glibc does).
#[unsafe(link_section = ".text.rare")]
#[unsafe(no_mangle)]
pub extern "C" fn mallinfo() -> MallInfo {
    let m = mallinfo2();
    MallInfo {
        arena: m.arena as c_int,
        ordblks: m.ordblks as c_int,
        smblks: m.smblks as c_int,
        hblks: m.hblks as c_int,
        hblkhd: m.hblkhd as c_int,
        usmblks: m.usmblks as c_int,
        fsmblks: m.fsmblks as c_int,
        uordblks: m.uordblks as c_int,
        fordblks: m.fordblks as c_int,
        keepcost: m.keepcost as c_int,
    }
}

/// `malloc_stats` (to stderr).
#[unsafe(link_section = ".text.rare")]
#[unsafe(no_mangle)]
pub extern "C" fn malloc_stats() {
    with_thread(|_| {
        let _ = MALLOC.malloc_stats(&mut Sink { stream: core::ptr::null_mut() });
    });
}

/// `malloc_stats64` (ptmalloc-rs extension, to stderr): `malloc_stats` with 64-bit figures, plus the
/// time-decay purging figures.
#[unsafe(link_section = ".text.rare")]
#[unsafe(no_mangle)]
pub extern "C" fn malloc_stats64() {
    with_thread(|_| {
        let _ = MALLOC.malloc_stats64(&mut Sink { stream: core::ptr::null_mut() });
    });
}

/// `malloc_trim`.
#[unsafe(link_section = ".text.rare")]
#[unsafe(no_mangle)]
pub extern "C" fn malloc_trim(pad: usize) -> c_int {
    with_thread(|_| MALLOC.malloc_trim(pad))
}

/// `malloc_info` (XML to `stream`).
///
/// # Safety
/// `stream` is an open stdio stream.
#[unsafe(link_section = ".text.rare")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc_info(options: c_int, stream: *mut libc::FILE) -> c_int {
    with_thread(|_| match MALLOC.malloc_info(options, &mut Sink { stream }) {
        Ok(()) => 0,
        Err(errno) => errno,
    })
}
