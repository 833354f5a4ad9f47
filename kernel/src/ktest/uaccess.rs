//! In-kernel tests of the user-copy rules: the hardened-usercopy classification, and a kernel access to a
//! user address outside the copy routines, which must be reported as a kernel bug.

use mm_core::gfp::Gfp;

use crate::mm::{kmalloc, uaccess, vmalloc};
use crate::pr_info;

/// `test=usercopy`: slab objects bound a copy; another stack is refused; plain kernel memory passes.
pub fn usercopy() -> Result<(), &'static str> {
    let object = kmalloc::kmalloc(64, Gfp::GFP_KERNEL).ok_or("kmalloc(64) failed")?;
    let addr = object.as_ptr() as u64;
    let checks = [
        (addr, 64, None),
        (addr + 8, 56, None),
        (addr, 65, Some("overruns its SLUB object")),
        (addr + 60, 8, Some("overruns its SLUB object")),
    ];
    for (at, len, expected) in checks {
        let got = uaccess::usercopy_violation(at, len);
        pr_info!("test=usercopy: {len} bytes at object+{}: {}", at - addr, got.unwrap_or("allowed"));
        if got != expected {
            kmalloc::kfree(object.as_ptr());
            return Err("slab object bounds not enforced as expected");
        }
    }
    kmalloc::kfree(object.as_ptr());
    let stack = vmalloc::alloc_kernel_stack("usercopy-test").ok_or("no kernel stack")?;
    let other = uaccess::usercopy_violation(stack.bottom + 64, 16);
    vmalloc::free_kernel_stack(stack);
    pr_info!("test=usercopy: 16 bytes on another task's stack: {}", other.unwrap_or("allowed"));
    if other != Some("lies on another task's kernel stack") {
        return Err("a copy from another task's stack was allowed");
    }
    static IMAGE_BUFFER: [u8; 32] = [0; 32];
    if uaccess::usercopy_violation(IMAGE_BUFFER.as_ptr() as u64, 32).is_some() {
        return Err("a static kernel buffer was refused");
    }
    Ok(())
}

/// `test=uaccess_bug`: reads a user address with a plain load (no exception-table entry). The kernel must
/// call it a bug and stop: the test fails by design, and the harness checks the report.
pub fn user_access_outside_uaccess() -> Result<(), &'static str> {
    let address = abi::layout::USER_MIN as *const u64;
    pr_info!("test=uaccess_bug: reading user address {address:p} outside the user-copy routines");
    // SAFETY: deliberately wrong: the fault report must name the bug and end the kernel.
    let value = unsafe { address.read_volatile() };
    pr_info!("test=uaccess_bug: read {value:#x}, which must not happen");
    Err("a kernel access to a user address went unnoticed")
}
