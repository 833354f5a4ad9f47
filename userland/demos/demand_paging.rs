//! `demand_paging` (seed 000 §52–§53): mapping memory costs no RAM until it is touched. Maps 64 MiB and
//! prints VmRSS from /proc/self/status before and after touching every page: the resident set grows by
//! the 16384 pages only when they are written.
#![no_std]
#![no_main]

use abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
use abi::{memd, prot};
use userland::sys;
use userland::{Args, fail, println};

userland::entry!(main);

const SIZE: u64 = 64 << 20;

/// VmRSS in kB from the status text memd writes.
fn vm_rss_kb() -> u64 {
    let mut page = [0u8; 4096];
    let n = sys::memd_text(memd::OP_STATUS, 0, &mut page, 0).unwrap_or_else(|e| fail!("status: {e}"));
    let text = core::str::from_utf8(&page[..n as usize]).unwrap_or("");
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| fail!("demand_paging: no VmRSS line in /proc/self/status"))
}

fn main(_args: &Args) -> i32 {
    let before = vm_rss_kb();
    let addr = sys::mmap(0, SIZE, prot::READ | prot::WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        .unwrap_or_else(|e| fail!("demand_paging: mmap: {e}"));
    let mapped = vm_rss_kb();
    println!("demand_paging: VmRSS {before} kB before, {mapped} kB after mapping 65536 kB at {addr:#x}");
    for page in (0..SIZE).step_by(4096) {
        // SAFETY: the mapping is this program's; each write lands inside it.
        unsafe { ((addr + page) as *mut u8).write_volatile(1) };
    }
    let touched = vm_rss_kb();
    println!("demand_paging: VmRSS {touched} kB after touching every page (+{} kB)", touched - mapped);
    if mapped - before > 64 || touched - mapped < SIZE / 1024 {
        fail!("demand_paging: RSS did not follow the touches");
    }
    // SAFETY: as above; nothing refers to the mapping any more.
    let _ = unsafe { sys::munmap(addr, SIZE) };
    println!("demand_paging: VmRSS {} kB after munmap", vm_rss_kb());
    0
}
