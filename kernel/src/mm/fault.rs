//! The page-fault handler for user addresses (Linux's `do_user_addr_fault`): finds the running task's
//! address space and lets it resolve the fault (demand-zero, copy-on-write) or refuse it.

use super::aspace::FaultError;
use super::pgtable;

/// Resolves a fault at a user address in the running task's space; flushes what changed.
pub fn handle_user_fault(address: u64, write: bool, exec: bool) -> Result<(), FaultError> {
    let Some(space) = crate::task::current_aspace() else {
        return Err(FaultError::NotMapped);
    };
    let Some(mut space) = space.try_lock() else {
        // The space's own code faulted while holding its lock: a kernel bug, not the task's fault.
        panic!("page fault at {address:#x} while the faulting address space is locked");
    };
    let flush = space.handle_fault(address, write, exec)?;
    pgtable::flush(&flush);
    Ok(())
}
