//! Frame-pointer stack walking for panic and oops reports.
//!
//! The kernel is built with `-C force-frame-pointers=yes`, so every frame starts with the caller's RBP
//! followed by the return address. The walker reads a frame only when it lies wholly inside one of the
//! kernel's known stacks and the chain moves strictly upwards, so a corrupt RBP ends the trace instead of
//! faulting inside the fault report.

use super::boot::{boot_stack_bottom, boot_stack_top};
use super::gdt::IST_STACKS;

/// Most frames printed.
pub const MAX_FRAMES: usize = 48;

/// `[bottom, top)` of each stack in the kernel image: the boot stack and the IST stacks.
pub fn static_stacks() -> impl Iterator<Item = (u64, u64)> {
    let boot = (&raw const boot_stack_bottom as u64, &raw const boot_stack_top as u64);
    core::iter::once(boot).chain(IST_STACKS.iter().map(|s| s.bounds()))
}

/// `[bottom, top)` of the known kernel stack containing `addr`: a static one or a vmalloc'd one.
fn stack_containing(addr: u64) -> Option<(u64, u64)> {
    static_stacks()
        .find(|&(bottom, top)| bottom <= addr && addr < top)
        .or_else(|| crate::mm::vmalloc::stack_bounds(addr))
}

/// Calls `visit` with the return address of each frame, starting from the frame at `rbp`.
pub fn walk(mut rbp: u64, mut visit: impl FnMut(u64)) {
    let Some((bottom, top)) = stack_containing(rbp) else { return };
    for _ in 0..MAX_FRAMES {
        if !rbp.is_multiple_of(8) || rbp < bottom || rbp.saturating_add(16) > top {
            return;
        }
        // SAFETY: [rbp, rbp + 16) lies inside a mapped kernel stack (checked above) and is 8-aligned.
        let (saved_rbp, return_address) =
            unsafe { (core::ptr::read(rbp as *const u64), core::ptr::read((rbp + 8) as *const u64)) };
        if return_address == 0 {
            return;
        }
        visit(return_address);
        if saved_rbp <= rbp {
            return;
        }
        rbp = saved_rbp;
    }
}
