//! Kernel symbols for backtraces: the `ksyms` boot module (see the `ksyms` crate), installed once at boot.
//!
//! Lookups take no lock (the table is published once through atomics), so a panic or exception report
//! can symbolize addresses from any context.

use core::fmt;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use ksyms::{Symbol, SymbolTable};

static TEXT: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());
static TEXT_LEN: AtomicUsize = AtomicUsize::new(0);

/// Installs the symbol text; returns the number of symbols, or `None` if it is not UTF-8.
pub fn init(bytes: &'static [u8]) -> Option<usize> {
    let text = core::str::from_utf8(bytes).ok()?;
    TEXT_LEN.store(text.len(), Ordering::Relaxed);
    TEXT.store(text.as_ptr().cast_mut(), Ordering::Release);
    Some(SymbolTable::new(text).len())
}

fn table() -> Option<SymbolTable<'static>> {
    let ptr = TEXT.load(Ordering::Acquire);
    if ptr.is_null() {
        return None;
    }
    let len = TEXT_LEN.load(Ordering::Relaxed);
    // SAFETY: `init` published a pointer and length taken from a `&'static str` (so valid UTF-8 that
    // lives forever); the length was stored before the pointer was released.
    let text = unsafe { core::str::from_utf8_unchecked(core::slice::from_raw_parts(ptr, len)) };
    Some(SymbolTable::new(text))
}

/// The symbol containing `addr`, if the table is installed and covers it.
pub fn lookup(addr: u64) -> Option<Symbol<'static>> {
    table()?.lookup(addr)
}

/// Displays an address as `name+0xoff/0xsize`, or as a bare hexadecimal address.
pub struct Sym(pub u64);

impl fmt::Display for Sym {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match lookup(self.0) {
            Some(sym) => write!(f, "{sym}"),
            None => write!(f, "{:#018x}", self.0),
        }
    }
}
