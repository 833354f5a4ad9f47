//! In-kernel tests, selected with `test=NAME` on the command line and run when boot reaches its end.
//!
//! Each test prints `TEST NAME: PASS` or `TEST NAME: FAIL <reason>` (whatever the log level) and exits
//! QEMU through isa-debug-exit with the pass or fail code (DESIGN §9). A panic or fatal exception while a
//! test is active also ends as `FAIL` (see `panic.rs`). The host harness in `tests/` runs each of these.

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use mm_core::e820::E820Type;

use crate::arch::x86_64::qemu;
use crate::mm::{PAGE_SIZE, e820, early, layout, memblock};
use crate::{pr_err, pr_info, printk};

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

/// Prints the verdict line the harness looks for.
pub fn report(name: &str, result: Result<(), &str>) {
    match result {
        Ok(()) => printk::printk_always(format_args!("TEST {name}: PASS")),
        Err(reason) => printk::printk_always(format_args!("TEST {name}: FAIL {reason}")),
    }
}

/// Runs test `name` and exits QEMU with its verdict.
pub fn run(name: &str) -> ! {
    let result = match name {
        "boot" => Ok(()),
        "panic" => panic!("test=panic: a deliberate panic, which must end the test as a failure"),
        "pagefault" => pagefault(),
        "memblock" => memblock_alloc_free(),
        "triplefault" => triple_fault(),
        "doublefault" => {
            pr_info!("test=doublefault: switching to an unmapped stack and raising #UD");
            crate::arch::x86_64::traps::provoke_double_fault(UNMAPPED_TEST_ADDRESS)
        }
        _ => Err("no such test (known: boot, panic, pagefault, doublefault, memblock, triplefault)"),
    };
    report(name, result);
    qemu::exit(if result.is_ok() { qemu::ExitCode::Pass } else { qemu::ExitCode::Fail })
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

/// Allocates from memblock, checks each block against the E820 map, the reservations and the limit,
/// writes and reads it through the direct map, frees it and checks the free size returns to baseline.
fn memblock_alloc_free() -> Result<(), &'static str> {
    let baseline = memblock::with(|m| m.free_size());
    let highest_free_page = memblock::with(|m| {
        m.free_ranges().filter(|&(_, end)| end <= m.current_limit()).map(|(_, end)| end - PAGE_SIZE).max()
    });
    let image = layout::kernel_image();
    let requests: [(u64, u64); 3] = [(PAGE_SIZE, PAGE_SIZE), (64 << 10, 2 << 20), (1 << 20, PAGE_SIZE)];
    let mut blocks = [(0u64, 0u64); 3];
    for (slot, &(size, align)) in blocks.iter_mut().zip(&requests) {
        let base = memblock::memblock_phys_alloc(size, align).map_err(|_| "allocation failed")?;
        pr_info!("test=memblock: {size:#x} bytes aligned {align:#x} at {base:#x}");
        let in_ram = e820::with_table(|t| {
            t.entries().iter().any(|e| e.typ == E820Type::USABLE && e.addr <= base && base + size <= e.end())
        });
        if !in_ram {
            return Err("block is not inside a usable E820 range");
        }
        if base % align != 0 {
            return Err("block is misaligned");
        }
        if base < 1 << 20 || (base < image.phys_end && image.phys_start < base + size) {
            return Err("block overlaps the low 1 MiB or the kernel image");
        }
        let bytes = early::phys_to_virt(base).ok_or("block is above the allocation limit")?;
        // SAFETY: memblock reserved [base, base + size) for this test alone, inside the early direct map.
        let block = unsafe { core::slice::from_raw_parts_mut(bytes as *mut u8, size as usize) };
        for (i, b) in block.iter_mut().enumerate() {
            *b = (i as u8) ^ 0x5a;
        }
        if block.iter().enumerate().any(|(i, &b)| b != (i as u8) ^ 0x5a) {
            return Err("block does not hold what was written");
        }
        *slot = (base, size);
    }
    if Some(blocks[0].0) != highest_free_page {
        return Err("the first page did not come from the top of free memory");
    }
    for (i, a) in blocks.iter().enumerate() {
        if blocks[i + 1..].iter().any(|b| a.0 < b.0 + b.1 && b.0 < a.0 + a.1) {
            return Err("two blocks overlap");
        }
    }
    for &(base, size) in &blocks {
        memblock::memblock_phys_free(base, size).map_err(|_| "free failed")?;
    }
    if memblock::with(|m| m.free_size()) != baseline {
        return Err("free memory did not return to its baseline");
    }
    // memblock_alloc hands out zeroed memory even where something was written before.
    let dirty = memblock::memblock_phys_alloc(PAGE_SIZE, PAGE_SIZE).map_err(|_| "allocation failed")?;
    let virt = early::phys_to_virt(dirty).ok_or("block is above the allocation limit")?;
    // SAFETY: the page was just reserved for this test, inside the early direct map.
    unsafe { core::ptr::write_bytes(virt as *mut u8, 0xa5, PAGE_SIZE as usize) };
    memblock::memblock_phys_free(dirty, PAGE_SIZE).map_err(|_| "free failed")?;
    let zeroed = memblock::memblock_alloc(PAGE_SIZE, PAGE_SIZE).map_err(|_| "allocation failed")?;
    if zeroed.as_ptr() as u64 != virt || zeroed.iter().any(|&b| b != 0) {
        return Err("memblock_alloc did not return the same page zeroed");
    }
    memblock::memblock_phys_free(dirty, PAGE_SIZE).map_err(|_| "free failed")?;
    if memblock::with(|m| m.free_size()) != baseline {
        return Err("free memory did not return to its baseline");
    }
    Ok(())
}
