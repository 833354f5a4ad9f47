//! Kernel locks: a spinlock that also disables local interrupts while held (Linux's `spin_lock_irqsave`).
//!
//! One CPU runs today, but the lock is a real test-and-set lock so code written against it stays correct
//! when more CPUs come up. Disabling interrupts while holding it keeps an interrupt handler on the same
//! CPU from deadlocking on a lock its own CPU holds.

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::x86_64::cpu::{local_irq_restore, local_irq_save};

/// A spinlock protecting a `T`.
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialized by `locked`; `T: Send` lets the value move between contexts.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub const fn new(value: T) -> Self {
        Self { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// Takes the lock, spinning until it is free; local interrupts stay off until the guard drops.
    pub fn lock(&self) -> SpinLockGuard<'_, T> {
        let irq_was_enabled = local_irq_save();
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            while self.locked.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        }
        SpinLockGuard { lock: self, irq_was_enabled }
    }

    /// Takes the lock if it is free, without waiting (for paths that must not wait on a holder that may
    /// be the interrupted code itself, such as the double-fault handler).
    pub fn try_lock(&self) -> Option<SpinLockGuard<'_, T>> {
        let irq_was_enabled = local_irq_save();
        if self.locked.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
            Some(SpinLockGuard { lock: self, irq_was_enabled })
        } else {
            local_irq_restore(irq_was_enabled);
            None
        }
    }

    /// Releases the lock whoever holds it.
    ///
    /// # Safety
    /// Only for the path that stops the kernel (panic, fatal exception): the holder will never run again,
    /// so its guard will never touch the value, and the caller is the only context left running.
    pub unsafe fn force_unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

/// Access to the locked value; unlocks (and restores the interrupt flag) when dropped.
pub struct SpinLockGuard<'a, T> {
    lock: &'a SpinLock<T>,
    irq_was_enabled: bool,
}

impl<T> Deref for SpinLockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held, so no other reference to the value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinLockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves the lock is held, and `&mut self` makes this the only access.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinLockGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
        local_irq_restore(self.irq_was_enabled);
    }
}

/// A value set once and then shared for the rest of the run (a minimal `std::sync::OnceLock`).
pub struct OnceLock<T> {
    state: core::sync::atomic::AtomicU8,
    value: UnsafeCell<core::mem::MaybeUninit<T>>,
}

const ONCE_EMPTY: u8 = 0;
const ONCE_WRITING: u8 = 1;
const ONCE_READY: u8 = 2;

// SAFETY: the value is written once, by the one context that won the EMPTY → WRITING transition, and
// only read after READY is published with Release; readers use Acquire.
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}

impl<T> OnceLock<T> {
    pub const fn new() -> Self {
        Self {
            state: core::sync::atomic::AtomicU8::new(ONCE_EMPTY),
            value: UnsafeCell::new(core::mem::MaybeUninit::uninit()),
        }
    }

    /// Stores `value` if nothing was stored yet; otherwise gives it back.
    pub fn set(&self, value: T) -> Result<&T, T> {
        if self
            .state
            .compare_exchange(ONCE_EMPTY, ONCE_WRITING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(value);
        }
        // SAFETY: this context won the EMPTY → WRITING transition, so it is the only writer and no reader
        // looks at the value before READY.
        unsafe { (*self.value.get()).write(value) };
        self.state.store(ONCE_READY, Ordering::Release);
        Ok(self.get().expect("just set"))
    }

    /// The stored value, once set.
    pub fn get(&self) -> Option<&T> {
        (self.state.load(Ordering::Acquire) == ONCE_READY).then(|| {
            // SAFETY: READY is published only after the value was fully written, and it is never
            // written again.
            unsafe { (*self.value.get()).assume_init_ref() }
        })
    }
}

/// One `T` per CPU, touched only by its own CPU with interrupts off: no lock needed (Linux's per-CPU
/// variables with `local_irq_save`).
pub struct PerCpu<T> {
    slots: [UnsafeCell<T>; crate::mm::mmzone::NR_CPUS],
}

// SAFETY: each slot is accessed only by its CPU (`with`) with interrupts disabled, so no two contexts
// ever hold references to one slot at once; `T: Send` lets the value be used from whichever CPU owns it.
unsafe impl<T: Send> Sync for PerCpu<T> {}

impl<T> PerCpu<T> {
    pub const fn new(slots: [UnsafeCell<T>; crate::mm::mmzone::NR_CPUS]) -> Self {
        Self { slots }
    }

    /// Runs `f` on this CPU's slot with interrupts disabled. `f` must not re-enter `with` on the same
    /// `PerCpu` (nothing it calls may use this per-CPU variable).
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let irq = crate::arch::x86_64::cpu::local_irq_save();
        let slot = &self.slots[crate::mm::mmzone::current_cpu()];
        // SAFETY: only this CPU uses its slot, interrupts are off, and `f` does not re-enter (documented
        // above), so this is the only reference to the slot.
        let result = f(unsafe { &mut *slot.get() });
        crate::arch::x86_64::cpu::local_irq_restore(irq);
        result
    }
}

/// One `T` per CPU for task context only (SLUB's per-CPU sheaves are used the same way): the owner's
/// fast path is one load of the CPU's trap depth and a branch — no lock, no locked instruction, no
/// CLI/STI, no store. A context that is not task context — a trap handler that interrupted kernel code,
/// which might be in the middle of using the value — is refused and must take another path.
///
/// Why that is enough: only the owning CPU touches its slot; in task context the code running is a task's
/// own kernel code, and the kernel is not preemptible (see `sched`), so another task can only run on this
/// CPU once this one blocks, yields or returns to user mode — never inside `f`, which must do none of
/// these; every trap that interrupts kernel code raises the depth before its handler runs
/// (`traps::trap_dispatch`), so it is refused. `f` must not use the same `PerCpuTask` again (as with
/// `PerCpu`).
pub struct PerCpuTask<T> {
    slots: [UnsafeCell<T>; crate::mm::mmzone::NR_CPUS],
}

// SAFETY: a slot is reached only through `try_with`, on its own CPU, in task context, and `f` does not
// re-enter (see the type's documentation), so no two references to it exist at once; `T: Send` lets
// the value be used from whichever CPU owns it.
unsafe impl<T: Send> Sync for PerCpuTask<T> {}

impl<T: Copy> PerCpuTask<T> {
    /// Every CPU's slot holds a copy of `value`.
    pub fn new(value: T) -> Self {
        Self { slots: core::array::from_fn(|_| UnsafeCell::new(value)) }
    }
}

impl<T> PerCpuTask<T> {
    /// Runs `f` on this CPU's slot in task context; `None` in a trap handler that interrupted kernel
    /// code. Interrupts stay as they are.
    #[inline]
    pub fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if !crate::arch::x86_64::traps::in_task() {
            return None;
        }
        let slot = &self.slots[crate::mm::mmzone::current_cpu()];
        // SAFETY: task context on this CPU, which is the only CPU using the slot; no trap handler below
        // us is using it (they are refused above) and `f` does not re-enter, so this is the only
        // reference to the value while `f` runs.
        Some(f(unsafe { &mut *slot.get() }))
    }
}
