//! A simulated kernel: a page-granular address space that performs memd's actions with the checks of
//! the real `vm_map`/`vm_unmap`/`vm_protect`/`vm_move` (kernel/src/mm/aspace.rs), and stricter ones
//! (Map never on a mapped page, Protect only on mapped pages, Move between a mapped and a free range).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;

use abi::layout::{USER_END, USER_MIN};
use abi::prot::{EXEC, READ, WRITE};
use abi::{RangeInfo, vm};

use crate::{Action, Mm, PAGE_SIZE};

/// What a present page carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub prot: u64,
    pub shared: bool,
    pub growsdown: bool,
}

#[derive(Clone, Debug, Default)]
pub struct SimKernel {
    pub pages: BTreeMap<u64, Page>,
}

/// The checks of `AddressSpace::check_user_range`; returns the end.
fn user_range(start: u64, len: u64) -> Result<u64, String> {
    let end = start.checked_add(len).ok_or("range wraps")?;
    if len == 0 || !start.is_multiple_of(PAGE_SIZE) || !len.is_multiple_of(PAGE_SIZE) {
        return Err(format!("bad range {start:#x}+{len:#x}"));
    }
    if start < USER_MIN || end > USER_END {
        return Err(format!("range {start:#x}+{len:#x} outside user space"));
    }
    Ok(end)
}

fn valid_prot(prot: u64) -> Result<(), String> {
    if prot & !(READ | WRITE | EXEC) != 0 || prot & (WRITE | EXEC) == WRITE | EXEC {
        return Err(format!("bad prot {prot:#x}"));
    }
    Ok(())
}

fn pages(start: u64, end: u64) -> impl Iterator<Item = u64> {
    (start..end).step_by(PAGE_SIZE as usize)
}

impl SimKernel {
    pub fn from_ranges(ranges: &[RangeInfo]) -> SimKernel {
        let mut kernel = SimKernel::default();
        for r in ranges {
            let page = Page {
                prot: r.prot,
                shared: r.flags & vm::SHARED != 0,
                growsdown: r.flags & vm::GROWSDOWN != 0,
            };
            kernel.pages.extend(pages(r.start, r.end).map(|p| (p, page)));
        }
        kernel
    }

    /// memd's view as pages.
    pub fn pages_of(mm: &Mm) -> BTreeMap<u64, Page> {
        mm.vmas()
            .flat_map(|v| {
                let page = Page { prot: v.prot, shared: v.shared, growsdown: v.growsdown };
                pages(v.start, v.end).map(move |p| (p, page))
            })
            .collect()
    }

    fn all_present(&self, start: u64, end: u64) -> bool {
        pages(start, end).all(|p| self.pages.contains_key(&p))
    }

    fn none_present(&self, start: u64, end: u64) -> bool {
        self.pages.range(start..end).next().is_none()
    }

    pub fn apply(&mut self, action: &Action) -> Result<(), String> {
        match *action {
            Action::Map { start, len, prot, flags } => {
                let end = user_range(start, len)?;
                valid_prot(prot)?;
                if flags & vm::FIXED == 0
                    || flags & !(vm::FIXED | vm::POPULATE | vm::SHARED | vm::GROWSDOWN | vm::HEAP) != 0
                {
                    return Err(format!("bad map flags {flags:#x}"));
                }
                if !self.none_present(start, end) {
                    return Err(format!("map over a mapping at {start:#x}"));
                }
                let page =
                    Page { prot, shared: flags & vm::SHARED != 0, growsdown: flags & vm::GROWSDOWN != 0 };
                self.pages.extend(pages(start, end).map(|p| (p, page)));
            }
            Action::Unmap { start, len } => {
                let end = user_range(start, len)?;
                let gone: alloc::vec::Vec<u64> = self.pages.range(start..end).map(|(&p, _)| p).collect();
                for p in gone {
                    self.pages.remove(&p);
                }
            }
            Action::Protect { start, len, prot } => {
                let end = user_range(start, len)?;
                valid_prot(prot)?;
                if !self.all_present(start, end) {
                    return Err(format!("protect of a hole in {start:#x}+{len:#x}"));
                }
                for (_, page) in self.pages.range_mut(start..end) {
                    page.prot = prot;
                }
            }
            Action::Move { old, len, new } => {
                let old_end = user_range(old, len)?;
                let new_end = user_range(new, len)?;
                if old < new_end && new < old_end {
                    return Err("move onto itself".into());
                }
                if !self.all_present(old, old_end) || !self.none_present(new, new_end) {
                    return Err(format!("move {old:#x}+{len:#x} -> {new:#x}: source hole or target used"));
                }
                let moved: alloc::vec::Vec<(u64, Page)> =
                    self.pages.range(old..old_end).map(|(&p, &page)| (p, page)).collect();
                for (p, page) in moved {
                    self.pages.remove(&p);
                    self.pages.insert(p - old + new, page);
                }
            }
        }
        Ok(())
    }

    pub fn apply_all(&mut self, actions: &[Action]) -> Result<(), String> {
        actions.iter().try_for_each(|a| self.apply(a))
    }
}
