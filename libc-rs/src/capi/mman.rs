//! `sys/mman.h`: mmap, munmap, mprotect, and mremap's back end, with C's conventions (`MAP_FAILED` or -1, and
//! errno).

use crate::errno::{c_result, set_errno};
use crate::{mman, sys};
use core::ffi::{c_int, c_void};

/// `mmap(addr, length, prot, flags, fd, offset)`.
///
/// # Safety
/// With `MAP_FIXED`, the range may hold no live object (C's contract).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    length: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: i64,
) -> *mut c_void {
    // SAFETY: the caller's contract.
    match unsafe { sys::mmap(addr as usize, length, prot, flags, fd, offset) } {
        Ok(address) => address as *mut c_void,
        Err(errno) => {
            set_errno(errno.0);
            mman::MAP_FAILED as *mut c_void
        }
    }
}

/// `munmap(addr, length)`.
///
/// # Safety
/// The range holds no live object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn munmap(addr: *mut c_void, length: usize) -> c_int {
    // SAFETY: the caller's contract.
    c_result(unsafe { sys::munmap(addr as usize, length) }.map(|()| 0)) as c_int
}

/// `mprotect(addr, length, prot)`.
///
/// # Safety
/// The new protection does not break live users of the range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mprotect(addr: *mut c_void, length: usize, prot: c_int) -> c_int {
    // SAFETY: the caller's contract.
    c_result(unsafe { sys::mprotect(addr as usize, length, prot) }.map(|()| 0)) as c_int
}

/// `mremap(old, old_length, new_length, flags, new_address)`: what the variadic C `mremap` of
/// `c/variadic.c` calls (it reads `new_address` only with `MREMAP_FIXED`, which memd does not support,
/// and passes 0 otherwise).
///
/// # Safety
/// `[old, old + old_length)` is the caller's mapping; after a move only the result is valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libc_rs_mremap(
    old: *mut c_void,
    old_length: usize,
    new_length: usize,
    flags: c_int,
    new_address: *mut c_void,
) -> *mut c_void {
    // SAFETY: the caller's contract.
    match unsafe { sys::mremap(old as usize, old_length, new_length, flags, new_address as usize) } {
        Ok(address) => address as *mut c_void,
        Err(errno) => {
            set_errno(errno.0);
            mman::MAP_FAILED as *mut c_void
        }
    }
}
