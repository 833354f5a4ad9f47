//! Host tests of memd-core: one file per syscall, the texts, and a property test against a page model.
//!
//! Every unit test that gets actions also runs them on [`kernel::SimKernel`] and checks the result is
//! exactly memd's view, so the actions and the VMA list cannot drift apart.

mod brk;
mod kernel;
mod layout;
mod mmap;
mod model;
mod mprotect;
mod mremap;
mod munmap;
mod proc;

use abi::layout::{STACK_BYTES, STACK_TOP};
use abi::mman::{MAP_ANONYMOUS, MAP_PRIVATE};
use abi::prot::{EXEC, READ, WRITE};
use abi::{RangeInfo, range_kind};

use crate::{Action, Errno, Layout, Mm, PAGE_SIZE, Vma};
use kernel::SimKernel;

pub(crate) const PAGE: u64 = PAGE_SIZE;
pub(crate) const RW: u64 = READ | WRITE;
pub(crate) const RX: u64 = READ | EXEC;
pub(crate) const ANON: u64 = MAP_ANONYMOUS | MAP_PRIVATE;
/// The test program: text `[0x200000, 0x202000)` r-x, data and bss `[0x202000, 0x205000)` rw-.
pub(crate) const TEXT: (u64, u64) = (0x20_0000, 0x20_2000);
pub(crate) const DATA: (u64, u64) = (0x20_2000, 0x20_5000);
pub(crate) const STACK_START: u64 = STACK_TOP - STACK_BYTES;

/// A kernel range.
pub(crate) fn range(start: u64, end: u64, prot: u64, kind: u64) -> RangeInfo {
    RangeInfo { start, end, prot, kind, ..Default::default() }
}

/// What the kernel reports for a freshly spawned test program.
pub(crate) fn spawn_ranges() -> [RangeInfo; 3] {
    [
        range(TEXT.0, TEXT.1, RX, range_kind::IMAGE),
        range(DATA.0, DATA.1, RW, range_kind::IMAGE),
        range(STACK_START, STACK_TOP, RW, range_kind::STACK),
    ]
}

/// A test harness: memd's state and the simulated kernel it drives.
pub(crate) struct Task {
    pub mm: Mm,
    pub kernel: SimKernel,
}

impl Task {
    pub fn new() -> Task {
        Task::with_layout(Layout::default())
    }

    pub fn with_layout(layout: Layout) -> Task {
        let ranges = spawn_ranges();
        Task { mm: Mm::new(&ranges, layout), kernel: SimKernel::from_ranges(&ranges) }
    }

    /// Runs the actions on the kernel, then checks the kernel and memd agree page for page.
    fn apply(&mut self, actions: &[Action]) {
        self.kernel.apply_all(actions).unwrap_or_else(|e| panic!("kernel refused {actions:x?}: {e}"));
        assert_eq!(self.kernel.pages, SimKernel::pages_of(&self.mm), "kernel and memd disagree");
        assert_eq!(self.mm.check_invariants(), Ok(()));
    }

    /// Runs a call that returns a value and actions; on error checks nothing changed.
    fn run<T>(
        &mut self,
        call: impl FnOnce(&mut Mm) -> Result<(T, alloc::vec::Vec<Action>), Errno>,
    ) -> Result<(T, alloc::vec::Vec<Action>), Errno> {
        let before = self.mm.clone();
        let result = call(&mut self.mm);
        match &result {
            Ok((_, actions)) => self.apply(actions),
            Err(_) => assert_eq!(self.mm, before, "a failed call changed the state"),
        }
        result
    }

    pub fn mmap(
        &mut self,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
    ) -> Result<(u64, alloc::vec::Vec<Action>), Errno> {
        self.run(|mm| mm.sys_mmap(addr, len, prot, flags, -1, 0))
    }

    pub fn munmap(&mut self, addr: u64, len: u64) -> Result<alloc::vec::Vec<Action>, Errno> {
        self.run(|mm| mm.sys_munmap(addr, len).map(|a| ((), a))).map(|(_, a)| a)
    }

    pub fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> Result<alloc::vec::Vec<Action>, Errno> {
        self.run(|mm| mm.sys_mprotect(addr, len, prot).map(|a| ((), a))).map(|(_, a)| a)
    }

    pub fn mremap(
        &mut self,
        old: u64,
        old_len: u64,
        new_len: u64,
        flags: u64,
    ) -> Result<(u64, alloc::vec::Vec<Action>), Errno> {
        self.run(|mm| mm.sys_mremap(old, old_len, new_len, flags))
    }

    pub fn brk(&mut self, addr: u64) -> (u64, alloc::vec::Vec<Action>) {
        let (brk, actions) = self.mm.sys_brk(addr);
        self.apply(&actions);
        (brk, actions)
    }

    pub fn vmas(&self) -> alloc::vec::Vec<Vma> {
        self.mm.vmas().copied().collect()
    }

    /// The VMA containing `addr`.
    pub fn vma(&self, addr: u64) -> Option<Vma> {
        self.mm.vmas().find(|v| v.start <= addr && addr < v.end).copied()
    }
}
