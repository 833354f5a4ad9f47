//! The programs GRUB loaded as multiboot2 modules (`module2 /boot/bin/NAME NAME`), by name: what
//! `spawn` and `init=` load from. Their frames stay reserved for the whole run, so read-only program
//! pages can map them directly.

use alloc::vec::Vec;

use crate::sync::SpinLock;

#[derive(Clone, Copy, Debug)]
pub struct Module {
    pub name: &'static str,
    pub phys: u64,
    pub bytes: &'static [u8],
}

static MODULES: SpinLock<Vec<Module>> = SpinLock::new(Vec::new());

/// Records every module that is mapped (through the direct map).
pub fn init(boot: &'static crate::boot::BootInfo) -> usize {
    let mut list = MODULES.lock();
    for m in boot.modules() {
        let Some(bytes) = crate::mm::early::phys_bytes(m.start, (m.end - m.start) as usize) else { continue };
        list.push(Module { name: m.name, phys: m.start, bytes });
    }
    list.len()
}

/// The module called `name`.
pub fn find(name: &str) -> Option<Module> {
    MODULES.lock().iter().find(|m| m.name == name).copied()
}
