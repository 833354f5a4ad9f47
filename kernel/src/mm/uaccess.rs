//! Copies between kernel and user memory (Linux's `copy_from_user`/`copy_to_user`): user addresses are
//! allegations, checked against the user half, touched only inside a STAC/CLAC window by one `rep movsb`
//! whose faults the exception table turns into -EFAULT.
//!
//! A fault inside the copy on a page that is merely not populated yet is resolved first (demand zero,
//! copy-on-write) by the page-fault handler, and the copy resumes; only a fault that handler refuses ends
//! the copy early. The kernel side of every copy passes the hardened-usercopy check (seed 000 §46, Linux's
//! `check_object_size`): it must lie inside one slab object or inside the current kernel stack, so a bad
//! length can never leak or overwrite neighbouring kernel objects.

use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};

use abi::errno::EFAULT;
use abi::layout::USER_END;

use crate::pr_emerg;

static SMAP: AtomicBool = AtomicBool::new(false);

/// Records whether CR4.SMAP is on (STAC/CLAC are invalid opcodes without the feature).
pub fn set_smap(on: bool) {
    SMAP.store(on, Ordering::Relaxed);
}

/// An untrusted user range `[addr, addr + len)`, checked to lie in the user half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserSlice {
    addr: u64,
    len: u64,
}

impl UserSlice {
    /// Checks the range lies below the end of the user half without wrapping (-EFAULT otherwise).
    pub fn new(addr: u64, len: u64) -> Result<Self, i64> {
        match addr.checked_add(len) {
            Some(end) if end <= USER_END => Ok(UserSlice { addr, len }),
            _ => Err(-EFAULT),
        }
    }

    pub fn addr_of(&self) -> u64 {
        self.addr
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Copies the user bytes into `dst` (whose length must equal the slice's).
    pub fn read(&self, dst: &mut [u8]) -> Result<(), i64> {
        debug_assert_eq!(dst.len() as u64, self.len);
        check_object_size(dst.as_ptr() as u64, dst.len());
        // SAFETY: `dst` is a live kernel buffer of that length; the source lies in the user half, and
        // a fault there is fixed up by the exception table.
        let left = unsafe { raw_copy(dst.as_mut_ptr(), self.addr as *const u8, dst.len()) };
        if left == 0 { Ok(()) } else { Err(-EFAULT) }
    }

    /// Copies the user bytes into the front of `buf` and returns them as text: EINVAL if `buf` is too
    /// short or they are not UTF-8.
    pub fn read_str<'a>(&self, buf: &'a mut [u8]) -> Result<&'a str, i64> {
        let dst =
            usize::try_from(self.len).ok().and_then(|len| buf.get_mut(..len)).ok_or(-abi::errno::EINVAL)?;
        self.read(dst)?;
        core::str::from_utf8(dst).map_err(|_| -abi::errno::EINVAL)
    }

    /// Copies `src` (whose length must equal the slice's) to the user bytes.
    pub fn write(&self, src: &[u8]) -> Result<(), i64> {
        debug_assert_eq!(src.len() as u64, self.len);
        check_object_size(src.as_ptr() as u64, src.len());
        // SAFETY: as `read`, the other way round.
        let left = unsafe { raw_copy(self.addr as *mut u8, src.as_ptr(), src.len()) };
        if left == 0 { Ok(()) } else { Err(-EFAULT) }
    }
}

/// Copies `text` from byte `offset` on into the user buffer `[buf, buf + len)` — a read of a generated
/// text file by position, as Linux's seq_file reads; returns the bytes copied (0 past the end).
pub fn copy_text_window(buf: u64, len: u64, offset: u64, text: &[u8]) -> Result<u64, i64> {
    UserSlice::new(buf, len)?;
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
    let n = (text.len() - start).min(usize::try_from(len).unwrap_or(usize::MAX));
    UserSlice::new(buf, n as u64)?.write(&text[start..start + n])?;
    Ok(n as u64)
}

/// Plain data that may be copied from and to user memory byte for byte (no pointers, no padding
/// invariants, every bit pattern valid).
///
/// # Safety
/// Implementors must be `repr(C)` or primitive, without references, and valid for any bytes.
pub unsafe trait Pod: Copy + Default {}

// SAFETY: integers and arrays of them accept every bit pattern.
unsafe impl Pod for u64 {}
// SAFETY: as above.
unsafe impl Pod for i64 {}
// SAFETY: as above.
unsafe impl Pod for i32 {}
// SAFETY: as above.
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for [u64; 2] {}
// SAFETY: repr(C) structs of u32/u64 fields without padding.
unsafe impl Pod for abi::SpawnAttr {}
// SAFETY: as above.
unsafe impl Pod for abi::IpcBulk {}
// SAFETY: as above.
unsafe impl Pod for abi::MemInfo {}
// SAFETY: as above.
unsafe impl Pod for abi::TaskInfo {}
// SAFETY: as above.
unsafe impl Pod for abi::RangeInfo {}
// SAFETY: repr(C) of u64s and byte arrays, no padding.
unsafe impl Pod for abi::GroupRequest {}
// SAFETY: repr(C), u64 and u32 fields in pairs, no padding.
unsafe impl Pod for abi::OomEvent {}
// SAFETY: repr(C), four u32s, three u64s and a byte array, no padding.
unsafe impl Pod for abi::GroupNode {}

/// An untrusted user pointer to one `T`.
#[derive(Clone, Copy, Debug)]
pub struct UserPtr<T> {
    slice: UserSlice,
    _type: core::marker::PhantomData<T>,
}

impl<T: Pod> UserPtr<T> {
    pub fn new(addr: u64) -> Result<Self, i64> {
        Ok(UserPtr { slice: UserSlice::new(addr, size_of::<T>() as u64)?, _type: core::marker::PhantomData })
    }

    pub fn read(&self) -> Result<T, i64> {
        let mut value = T::default();
        // SAFETY: `T: Pod` — any bytes form a valid `T`, and the slice covers exactly its size.
        let bytes = unsafe { core::slice::from_raw_parts_mut(&raw mut value as *mut u8, size_of::<T>()) };
        self.slice.read(bytes)?;
        Ok(value)
    }

    pub fn write(&self, value: &T) -> Result<(), i64> {
        // SAFETY: `T: Pod` has no padding that could leak uninitialized kernel bytes.
        let bytes = unsafe { core::slice::from_raw_parts(value as *const T as *const u8, size_of::<T>()) };
        self.slice.write(bytes)
    }
}

/// Copies `len` bytes and returns how many were left when a fault stopped it (0: all copied).
///
/// # Safety
/// Exactly one side is user memory (faults there are recovered); the kernel side is valid for `len`.
#[inline(never)]
unsafe fn raw_copy(dst: *mut u8, src: *const u8, len: usize) -> usize {
    let left: usize;
    let smap = u64::from(SMAP.load(Ordering::Relaxed));
    // SAFETY: the caller vouches for the kernel side. STAC opens the SMAP window only around the copy;
    // the exception-table entry makes a fault inside `rep movsb` resume at label 4 with RCX holding the
    // bytes not copied (string instructions update RCX/RSI/RDI as they go, SDM vol. 2B "REP").
    unsafe {
        asm!(
            "test {smap}, {smap}",
            "jz 2f",
            "stac",
            "2:",
            "3: rep movsb",
            "4:",
            "test {smap}, {smap}",
            "jz 5f",
            "clac",
            "5:",
            ".pushsection __ex_table, \"a\"",
            ".balign 8",
            ".quad 3b, 4b",
            ".popsection",
            smap = in(reg) smap,
            inout("rcx") len => left,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack),
        );
    }
    left
}

/// Why a kernel buffer may not take part in a user copy (seed 000 §46, Linux's `check_object_size`):
/// it overruns the slab object it starts in, or lies on a kernel stack that is not the running task's
/// (or runs off the running one). Other kernel memory — the image's static buffers, pages of large
/// kmalloc allocations — is allowed, as Linux allows it.
pub fn usercopy_violation(addr: u64, len: usize) -> Option<&'static str> {
    if len == 0 {
        return None;
    }
    let end = addr.checked_add(len as u64)?;
    if let Some((bottom, top)) = crate::task::current_stack_bounds()
        && addr >= bottom
        && addr < top
    {
        return (end > top).then_some("runs off the current kernel stack");
    }
    if let Some((start, size)) = crate::mm::slab::slab_object_bounds(addr as usize) {
        return (end > (start + size) as u64).then_some("overruns its SLUB object");
    }
    if crate::mm::vmalloc::stack_bounds(addr).is_some() {
        return Some("lies on another task's kernel stack");
    }
    None
}

/// The hardened-usercopy check; a violation is a kernel bug, reported as Linux's `usercopy_abort` does.
fn check_object_size(addr: u64, len: usize) {
    if let Some(why) = usercopy_violation(addr, len) {
        pr_emerg!("usercopy: Kernel memory exposure attempt detected: {len} bytes at {addr:#x} {why}!");
        panic!("usercopy: {why}");
    }
}
