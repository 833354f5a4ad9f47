//! Page poisoning and automatic initialization (seed 000 §29, §31; Linux's `mm/page_poison.c` and the
//! `init_on_alloc`/`init_on_free` options).
//!
//! With `page_poison=1` every freed page is filled with 0xaa; when it is allocated again all 4096 bytes
//! are checked, and any other byte means something wrote to the page while it was free — a
//! use-after-free. The report names the page, the offset and the bytes found, as Linux's
//! "pagealloc: memory corruption". `init_on_free=1` zeroes freed pages instead (poisoning takes
//! precedence, as in Linux) and `init_on_alloc=1` zeroes every allocated page.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::{PAGE_SIZE, highmem};
use crate::{pr_err, pr_info};

/// The byte freed pages are filled with (Linux's `PAGE_POISON`).
pub const PAGE_POISON: u8 = 0xaa;

static PAGE_POISON_ON: AtomicBool = AtomicBool::new(false);
static INIT_ON_ALLOC: AtomicBool = AtomicBool::new(false);
static INIT_ON_FREE: AtomicBool = AtomicBool::new(false);
/// Corrupted pages found so far.
pub static CORRUPTIONS: AtomicU64 = AtomicU64::new(0);

pub fn page_poison() -> bool {
    PAGE_POISON_ON.load(Ordering::Relaxed)
}

pub fn init_on_alloc() -> bool {
    INIT_ON_ALLOC.load(Ordering::Relaxed)
}

pub fn init_on_free() -> bool {
    INIT_ON_FREE.load(Ordering::Relaxed)
}

/// Applies the command-line options and prints Linux's `mem auto-init` line.
pub fn configure(page_poison: bool, init_on_alloc: bool, init_on_free: bool) {
    PAGE_POISON_ON.store(page_poison, Ordering::Relaxed);
    INIT_ON_ALLOC.store(init_on_alloc, Ordering::Relaxed);
    let init_on_free = if page_poison && init_on_free {
        pr_info!("mem auto-init: page_poison is on, will take precedence over init_on_free");
        false
    } else {
        init_on_free
    };
    INIT_ON_FREE.store(init_on_free, Ordering::Relaxed);
    let on_off = |b: bool| if b { "on" } else { "off" };
    pr_info!(
        "mem auto-init: stack:off, heap alloc:{}, heap free:{}",
        on_off(init_on_alloc),
        on_off(init_on_free)
    );
    if page_poison {
        pr_info!("page_poison: freed pages are filled with {PAGE_POISON:#04x} and checked when allocated");
    }
}

/// Runs `f` on the bytes of a page the caller holds exclusively (being freed by its owner, or just taken
/// off a free list for an allocation); high memory is mapped with `kmap_atomic`.
fn with_page(pfn: u64, f: impl FnOnce(&mut [u8])) {
    // SAFETY: as above, the caller holds the page exclusively.
    unsafe { highmem::with_page_bytes(pfn, f) }
}

/// Fills a page with the poison byte.
pub fn poison_page(pfn: u64) {
    with_page(pfn, |bytes| bytes.fill(PAGE_POISON));
}

/// Checks that a poisoned page is still all poison; reports the first corrupted run otherwise.
pub fn check_page(pfn: u64) {
    with_page(pfn, |bytes| check_bytes(pfn, bytes));
}

fn check_bytes(pfn: u64, bytes: &mut [u8]) {
    let Some(first) = bytes.iter().position(|&b| b != PAGE_POISON) else { return };
    let last = bytes.iter().rposition(|&b| b != PAGE_POISON).unwrap_or(first);
    let changed = bytes.iter().filter(|&&b| b != PAGE_POISON).count();
    CORRUPTIONS.fetch_add(1, Ordering::Relaxed);
    let shown = &bytes[first..=last.min(first + 15)];
    let mut hex: heapless::String<64> = heapless::String::new();
    for b in shown {
        let _ = core::fmt::Write::write_fmt(&mut hex, format_args!(" {b:02x}"));
    }
    pr_err!("pagealloc: memory corruption");
    pr_err!(
        "pagealloc: pfn {pfn:#x} (phys {:#x}), offset {first:#x}: {changed} byte(s) changed while the page was free, found:{hex}{}",
        pfn * PAGE_SIZE,
        if last > first + 15 { " ..." } else { "" }
    );
    pr_err!("pagealloc: use-after-free: something wrote to a freed page (expected {PAGE_POISON:#04x})");
    // Hand out a clean page anyway: re-poisoned contents would only hide the next report.
    bytes.fill(PAGE_POISON);
}
