//! In-kernel tests of kernel virtual memory: W^X, the exception table, and (with the vmalloc and kmap
//! work) stacks, vmalloc and high memory.

use crate::arch::x86_64::extable::{Fault, probe_read_u8, probe_write_u8};
use crate::arch::x86_64::traps::pf;
use crate::mm::pgtable;
use crate::pr_info;

/// A read-only value in .rodata for the write test.
static RODATA_TARGET: u64 = 0x5eed_0f4a_117a_1100;

fn report_fault(what: &str, result: Result<(), Fault>) -> Result<Fault, &'static str> {
    match result {
        Ok(()) => Err("a write that W^X forbids went through"),
        Err(fault) => {
            pr_info!(
                "test=wx: {what} at {:#x}: #PF error_code({:#06x}) - {}, fixed up by the exception table",
                fault.address,
                fault.error_code,
                if fault.error_code & pf::PROTECTION != 0 {
                    "permissions violation"
                } else {
                    "not-present page"
                }
            );
            Ok(fault)
        }
    }
}

/// `test=wx`: no W+X page anywhere; writes to rodata and text fault as permission violations; the NULL
/// page and the freed boot page tables are not mapped.
pub fn wx() -> Result<(), &'static str> {
    if pgtable::check_wx() != 0 {
        return Err("check_wx found W+X pages");
    }
    let rodata = &raw const RODATA_TARGET as u64;
    let fault = report_fault("writing to .rodata", probe_write_u8(rodata, 0))?;
    if fault.address != rodata
        || fault.error_code & (pf::PROTECTION | pf::WRITE) != pf::PROTECTION | pf::WRITE
    {
        return Err("the rodata write fault has the wrong address or error code");
    }
    // SAFETY: only reads the value to show it survived.
    if unsafe { core::ptr::read_volatile(&raw const RODATA_TARGET) } != 0x5eed_0f4a_117a_1100 {
        return Err("rodata changed");
    }
    let text = wx as fn() -> Result<(), &'static str> as usize as u64;
    let fault = report_fault("writing to .text", probe_write_u8(text, 0xcc))?;
    if fault.error_code & pf::PROTECTION == 0 {
        return Err("the text write fault is not a permissions violation");
    }
    let null = probe_read_u8(0).map(|_| ());
    let fault = report_fault("reading NULL", null)?;
    if fault.error_code & pf::PROTECTION != 0 {
        return Err("page 0 is mapped");
    }
    let [_, tables] = crate::mm::layout::init_ranges();
    let freed = tables.0 + crate::arch::x86_64::boot::KERNEL_VMA;
    report_fault("reading freed boot page tables", probe_read_u8(freed).map(|_| ()))?;
    Ok(())
}
