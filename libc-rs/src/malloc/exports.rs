//! The C malloc family (`stdlib.h`, `malloc.h`), exported with `#[no_mangle]`: each call runs ptmalloc-rs with
//! the calling thread's state. Semantics, errno values and `mallopt` numbers are glibc 2.36's.

use super::{MALLOC, with_thread};
use core::ffi::{c_int, c_void};
use ptmalloc_rs::MallInfo2;

/// `malloc`.
///
/// # Safety
/// The C contract of `malloc` (none beyond being called on a thread libc-rs set up).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc(size: usize) -> *mut c_void {
    // SAFETY: the calling thread's state.
    with_thread(|state| unsafe { MALLOC.malloc(state, size) }).cast()
}

/// `free`.
///
/// # Safety
/// `pointer` is null or a live block from this allocator, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(pointer: *mut c_void) {
    // SAFETY: the C contract; the calling thread's state.
    with_thread(|state| unsafe { MALLOC.free(state, pointer.cast()) })
}

/// `calloc`.
///
/// # Safety
/// The C contract of `calloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn calloc(count: usize, size: usize) -> *mut c_void {
    // SAFETY: the calling thread's state.
    with_thread(|state| unsafe { MALLOC.calloc(state, count, size) }).cast()
}

/// `realloc`.
///
/// # Safety
/// `pointer` is null or a live block from this allocator.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(pointer: *mut c_void, size: usize) -> *mut c_void {
    // SAFETY: the C contract; the calling thread's state.
    with_thread(|state| unsafe { MALLOC.realloc(state, pointer.cast(), size) }).cast()
}

/// `reallocarray`.
///
/// # Safety
/// As for `realloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn reallocarray(pointer: *mut c_void, count: usize, size: usize) -> *mut c_void {
    // SAFETY: the C contract; the calling thread's state.
    with_thread(|state| unsafe { MALLOC.reallocarray(state, pointer.cast(), count, size) }).cast()
}

/// `memalign`.
///
/// # Safety
/// The C contract of `memalign`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memalign(alignment: usize, size: usize) -> *mut c_void {
    // SAFETY: the calling thread's state.
    with_thread(|state| unsafe { MALLOC.memalign(state, alignment, size) }).cast()
}

/// `aligned_alloc` (glibc 2.36: memalign).
///
/// # Safety
/// The C contract of `aligned_alloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn aligned_alloc(alignment: usize, size: usize) -> *mut c_void {
    // SAFETY: the calling thread's state.
    with_thread(|state| unsafe { MALLOC.aligned_alloc(state, alignment, size) }).cast()
}

/// `posix_memalign`: 0, EINVAL or ENOMEM (errno itself is not set, as POSIX says).
///
/// # Safety
/// `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, alignment: usize, size: usize) -> c_int {
    let mut block = core::ptr::null_mut();
    // SAFETY: the calling thread's state.
    let code = with_thread(|state| unsafe { MALLOC.posix_memalign(state, &mut block, alignment, size) });
    if code == 0 {
        // SAFETY: `out` is writable (C contract).
        unsafe { *out = block.cast() };
    }
    code
}

/// `valloc`.
///
/// # Safety
/// The C contract of `valloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn valloc(size: usize) -> *mut c_void {
    // SAFETY: the calling thread's state.
    with_thread(|state| unsafe { MALLOC.valloc(state, size) }).cast()
}

/// `pvalloc`.
///
/// # Safety
/// The C contract of `pvalloc`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pvalloc(size: usize) -> *mut c_void {
    // SAFETY: the calling thread's state.
    with_thread(|state| unsafe { MALLOC.pvalloc(state, size) }).cast()
}

/// `malloc_usable_size`.
///
/// # Safety
/// `pointer` is null or a live block from this allocator.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc_usable_size(pointer: *mut c_void) -> usize {
    // SAFETY: the C contract.
    unsafe { MALLOC.usable_size(pointer.cast()) }
}

/// `mallopt` (glibc's parameter numbers, `malloc.h`'s `M_*`).
#[unsafe(no_mangle)]
pub extern "C" fn mallopt(parameter: c_int, value: c_int) -> c_int {
    MALLOC.mallopt(parameter, value)
}

/// `mallinfo2`.
#[unsafe(no_mangle)]
pub extern "C" fn mallinfo2() -> MallInfo2 {
    MALLOC.mallinfo2()
}

/// `malloc_stats`: glibc's report to stderr.
#[unsafe(no_mangle)]
pub extern "C" fn malloc_stats() {
    let mut out = crate::stdio::StagedWriter::new(&crate::stdio::STDERR);
    let _ = MALLOC.malloc_stats(&mut out);
}

/// `malloc_trim`: 1 if memory went back to the system, else 0.
#[unsafe(no_mangle)]
pub extern "C" fn malloc_trim(pad: usize) -> c_int {
    MALLOC.malloc_trim(pad)
}
