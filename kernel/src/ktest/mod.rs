//! In-kernel tests, selected with `test=NAME` on the command line and run when boot reaches its end.
//!
//! Each test prints `TEST NAME: PASS` or `TEST NAME: FAIL <reason>` (whatever the log level) and exits
//! QEMU through isa-debug-exit with the pass or fail code (DESIGN §9). A panic or fatal exception while a
//! test is active also ends as `FAIL` (see `panic.rs`). The host harness in `tests/` runs each of these.

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::arch::x86_64::qemu;
use crate::{pr_err, pr_info, printk};

mod apic;
mod highmem;
mod memblock;
mod page_alloc;
mod slab;
mod uaccess;
mod vm;
mod vmalloc;

static ACTIVE: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static ACTIVE_LEN: AtomicUsize = AtomicUsize::new(0);

/// An address no early page table maps: 1 TiB, canonical, in the (still empty) user half.
pub const UNMAPPED_TEST_ADDRESS: u64 = 0x100_0000_0000;

/// Marks `name` as the running test, so that a panic reports it.
pub fn set_active(name: &'static str) {
    ACTIVE_LEN.store(name.len(), Ordering::Relaxed);
    ACTIVE.store(name.as_ptr().cast_mut(), Ordering::Release);
}

/// The running test, if any.
pub fn active() -> Option<&'static str> {
    let ptr = ACTIVE.load(Ordering::Acquire);
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `set_active` published the pointer and length of a `&'static str` (length first).
    Some(unsafe {
        core::str::from_utf8_unchecked(core::slice::from_raw_parts(ptr, ACTIVE_LEN.load(Ordering::Relaxed)))
    })
}

/// Free pages, kernel page-table pages and slab pages at one moment, taken after draining the per-CPU
/// lists and shrinking the slab caches: tests compare two of them to prove every page came back.
#[derive(Clone, Copy, Debug)]
pub struct MemCheckpoint {
    pub free: u64,
    pub tables: u64,
    pub slab: u64,
}

impl MemCheckpoint {
    pub fn take() -> Self {
        for cache in crate::mm::slab::caches() {
            cache.shrink();
        }
        crate::mm::page_alloc::drain_all_pages();
        MemCheckpoint {
            free: crate::mm::vmstat::Snapshot::take().meminfo().free,
            tables: crate::mm::pgtable::KERNEL_PGTABLE_PAGES.load(Ordering::Relaxed),
            slab: crate::mm::slab::SLAB_PAGES.load(Ordering::Relaxed),
        }
    }

    /// Pages missing since `earlier` that neither kept page tables (Linux keeps the vmalloc area's) nor
    /// grown slab caches explain: 0 when nothing leaked.
    pub fn missing_since(&self, earlier: &MemCheckpoint) -> i64 {
        let explained =
            (self.tables as i64 - earlier.tables as i64) + (self.slab as i64 - earlier.slab as i64);
        earlier.free as i64 - self.free as i64 - explained
    }
}

/// The physical address and leaf flags that map `virt` in the kernel page table.
pub fn translate(virt: u64) -> Option<(u64, mm_core::pgtable::PteFlags)> {
    crate::mm::pgtable::with_kernel_pgtable(|table, mem| table.translate(mem, virt).ok())
        .flatten()
        .map(|t| (t.phys, t.leaf.flags))
}

/// Whether reading `addr` faults on a not-present page at `addr` itself.
pub fn unmapped(addr: u64) -> bool {
    use crate::arch::x86_64::{extable::probe_read_u8, traps::pf};
    matches!(probe_read_u8(addr), Err(fault) if fault.error_code & pf::PROTECTION == 0 && fault.address == addr)
}

/// Prints the verdict line the harness looks for.
pub fn report(name: &str, result: Result<(), &str>) {
    match result {
        Ok(()) => printk::printk_always(format_args!("TEST {name}: PASS")),
        Err(reason) => printk::printk_always(format_args!("TEST {name}: FAIL {reason}")),
    }
}

/// Runs `name` if it is an early test — one that needs the boot state before the page allocator exists —
/// and exits QEMU with its verdict; returns otherwise.
pub fn run_early(name: &str) {
    let result = match name {
        "memblock" => memblock::alloc_free(),
        _ => return,
    };
    finish(name, result);
}

fn finish(name: &str, result: Result<(), &str>) -> ! {
    report(name, result);
    qemu::exit(if result.is_ok() { qemu::ExitCode::Pass } else { qemu::ExitCode::Fail })
}

/// Runs test `name` and exits QEMU with its verdict.
pub fn run(name: &str) -> ! {
    let result = match name {
        "boot" => Ok(()),
        "panic" => panic!("test=panic: a deliberate panic, which must end the test as a failure"),
        "pagefault" => pagefault(),
        "buddy" => page_alloc::buddy_exhaust(),
        "poison" => page_alloc::poison(),
        "gfp" => page_alloc::gfp(),
        "numa" => page_alloc::numa(),
        "slab" => slab::stress(),
        "slab_corruption" => slab::corruption(),
        "wx" => vm::wx(),
        "vmalloc" => vmalloc::vmalloc(),
        "stack_overflow" => vmalloc::stack_overflow(),
        "highmem" => highmem::highmem(),
        "apic_timer" => apic::timer(),
        "usercopy" => uaccess::usercopy(),
        "uaccess_bug" => uaccess::user_access_outside_uaccess(),
        "triplefault" => triple_fault(),
        "doublefault" => {
            pr_info!("test=doublefault: switching to an unmapped stack and raising #UD");
            crate::arch::x86_64::traps::provoke_double_fault(UNMAPPED_TEST_ADDRESS)
        }
        _ => Err(
            "no such test (known: boot, panic, pagefault, doublefault, triplefault, memblock, buddy, poison, gfp, numa, slab, slab_corruption, wx, vmalloc, stack_overflow, highmem, apic_timer, usercopy, uaccess_bug)",
        ),
    };
    finish(name, result)
}

/// Reads an unmapped kernel address: the page-fault report must appear and the test must fail.
fn pagefault() -> Result<(), &'static str> {
    pr_info!("test=pagefault: reading {UNMAPPED_TEST_ADDRESS:#x}, which is not mapped");
    // SAFETY: deliberately unsound: the address is not mapped, the read faults, and the fault handler
    // stops the kernel (reporting the test as failed). It never returns here.
    let value = unsafe { core::ptr::read_volatile(UNMAPPED_TEST_ADDRESS as *const u64) };
    pr_err!("test=pagefault: read {value:#x} without a fault");
    Err("the read of an unmapped address did not fault")
}

/// Loads an empty IDT and raises an exception: the CPU triple-faults and QEMU (`-no-reboot`) exits with
/// status 0, which the harness must count as a failure.
fn triple_fault() -> Result<(), &'static str> {
    pr_info!("test=triplefault: loading an empty IDT and raising #BP");
    crate::arch::x86_64::idt::load_empty_and_trap();
    Err("the CPU survived an exception without an IDT")
}
