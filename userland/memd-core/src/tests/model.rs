//! Property test: random sequences of brk/mmap/munmap/mprotect/mremap against a page-granular model.
//!
//! The model keeps one attribute set per mapped page and states each rule directly over pages. After
//! every call: (1) memd's invariants hold, (2) memd's VMAs are exactly the model's pages merged into
//! maximal runs, (3) the returned actions, run on the simulated kernel, give exactly the model's pages,
//! and a failed call changed nothing. Placement is not re-implemented: the model checks that the address
//! memd chose was free (with guard gaps), is the hint when the hint was usable, and is otherwise the
//! highest fit below `mmap_base`.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use abi::errno::{EBADF, EEXIST, EFAULT, EINVAL, ENODEV, ENOMEM, EPERM};
use abi::layout::{USER_END, USER_MIN};
use abi::mman::{
    MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_POPULATE, MAP_PRIVATE, MAP_SHARED,
    MREMAP_FIXED, MREMAP_MAYMOVE,
};
use abi::prot::{EXEC, READ, WRITE};
use proptest::prelude::*;

use super::kernel::{Page, SimKernel};
use super::{PAGE, RW, spawn_ranges};
use crate::gap::STACK_GUARD_GAP;
use crate::{Action, EACCES, Errno, Layout, Mm, PROT_SEM, Vma, VmaKind};

/// What a model page carries: a VMA without its bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Attr {
    prot: u64,
    shared: bool,
    growsdown: bool,
    kind: VmaKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Model {
    pages: BTreeMap<u64, Attr>,
    start_brk: u64,
    brk: u64,
    mmap_base: u64,
}

fn align(len: u64) -> Option<u64> {
    len.checked_next_multiple_of(PAGE)
}

fn page_range(start: u64, end: u64) -> impl Iterator<Item = u64> {
    (start..end).step_by(PAGE as usize)
}

/// mmap's and mprotect's prot rule.
fn prot_rule(prot: u64) -> Result<u64, Errno> {
    if prot & !(READ | WRITE | EXEC | PROT_SEM) != 0 {
        Err(EINVAL)
    } else if prot & WRITE != 0 && prot & EXEC != 0 {
        Err(EACCES)
    } else {
        Ok(prot & !PROT_SEM)
    }
}

/// Where the model expects an mmap to go.
#[derive(Debug)]
enum Placement {
    Fixed(u64),
    /// Anywhere free; at the hint if that is usable.
    Anywhere {
        hint: u64,
    },
}

impl Model {
    fn new(mm: &Mm) -> Model {
        let mut pages = BTreeMap::new();
        for vma in mm.vmas() {
            let attr = Attr { prot: vma.prot, shared: vma.shared, growsdown: vma.growsdown, kind: vma.kind };
            pages.extend(page_range(vma.start, vma.end).map(|p| (p, attr)));
        }
        Model { pages, start_brk: mm.start_brk(), brk: mm.brk(), mmap_base: mm.mmap_base() }
    }

    /// The pages merged into maximal runs of equal attributes.
    fn vmas(&self) -> Vec<Vma> {
        let mut vmas: Vec<Vma> = Vec::new();
        for (&page, attr) in &self.pages {
            match vmas.last_mut() {
                Some(last)
                    if last.end == page
                        && (last.prot, last.shared, last.growsdown, last.kind)
                            == (attr.prot, attr.shared, attr.growsdown, attr.kind) =>
                {
                    last.end += PAGE
                }
                _ => vmas.push(Vma {
                    start: page,
                    end: page + PAGE,
                    prot: attr.prot,
                    shared: attr.shared,
                    growsdown: attr.growsdown,
                    kind: attr.kind,
                }),
            }
        }
        vmas
    }

    fn kernel_pages(&self) -> BTreeMap<u64, Page> {
        self.pages
            .iter()
            .map(|(&p, a)| (p, Page { prot: a.prot, shared: a.shared, growsdown: a.growsdown }))
            .collect()
    }

    fn free(&self, start: u64, end: u64) -> bool {
        self.pages.range(start..end).next().is_none()
    }

    /// Free, and the first mapping above leaves its guard gap if it grows down.
    fn free_with_gap(&self, start: u64, end: u64) -> bool {
        match self.pages.range(start..).next() {
            None => true,
            Some((&p, a)) => p >= end && (!a.growsdown || p.saturating_sub(STACK_GUARD_GAP) >= end),
        }
    }

    fn remove(&mut self, start: u64, end: u64) {
        let gone: Vec<u64> = self.pages.range(start..end).map(|(&p, _)| p).collect();
        for p in gone {
            self.pages.remove(&p);
        }
    }

    fn fill(&mut self, start: u64, end: u64, attr: Attr) {
        self.pages.extend(page_range(start, end).map(|p| (p, attr)));
    }

    /// The maximal run holding `addr`.
    fn run_at(&self, addr: u64) -> Option<Vma> {
        self.vmas().into_iter().find(|v| v.start <= addr && addr < v.end)
    }

    fn brk(&mut self, addr: u64) -> u64 {
        if addr < self.start_brk || addr > USER_END {
            return self.brk;
        }
        let (new_end, old_end) = (align(addr).unwrap(), align(self.brk).unwrap());
        if new_end < old_end {
            self.remove(new_end, old_end);
        } else if new_end > old_end {
            if !self.free_with_gap(old_end, new_end + PAGE) {
                return self.brk;
            }
            let heap = Attr { prot: RW, shared: false, growsdown: false, kind: VmaKind::Heap };
            self.fill(old_end, new_end, heap);
        }
        self.brk = addr;
        addr
    }

    fn mmap_rule(&self, addr: u64, len: u64, prot: u64, flags: u64, fd: i64) -> Result<Placement, Errno> {
        let anonymous = flags & MAP_ANONYMOUS != 0;
        if !anonymous && fd < 0 {
            return Err(EBADF);
        }
        if len == 0 {
            return Err(EINVAL);
        }
        prot_rule(prot)?;
        let len = align(len).filter(|&l| l <= USER_END - USER_MIN).ok_or(ENOMEM)?;
        let shared = flags & 0x0f;
        if shared != MAP_SHARED && shared != MAP_PRIVATE {
            return Err(EINVAL);
        }
        if !anonymous {
            return Err(ENODEV);
        }
        if shared == MAP_SHARED && flags & MAP_GROWSDOWN != 0 {
            return Err(EINVAL);
        }
        if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) == 0 {
            let hint = addr & !(PAGE - 1);
            return Ok(Placement::Anywhere {
                hint: if hint != 0 && hint < USER_MIN { USER_MIN } else { hint },
            });
        }
        if addr.checked_add(len).is_none_or(|end| end > USER_END) {
            return Err(ENOMEM);
        }
        if !addr.is_multiple_of(PAGE) {
            return Err(EINVAL);
        }
        if addr < USER_MIN {
            return Err(EPERM);
        }
        if flags & MAP_FIXED_NOREPLACE != 0 && !self.free(addr, addr + len) {
            return Err(EEXIST);
        }
        Ok(Placement::Fixed(addr))
    }

    /// Checks memd's mmap result against the rules and applies it to the model.
    fn mmap(&mut self, op: (u64, u64, u64, u64, i64), result: &Result<(u64, Vec<Action>), Errno>) {
        let (addr, len, prot, flags, fd) = op;
        let expected = self.mmap_rule(addr, len, prot, flags, fd);
        let got = match (&expected, result) {
            (Err(e), _) => {
                assert_eq!(result.as_ref().map(|r| r.0), Err(e), "mmap error");
                return;
            }
            (Ok(_), Err(e)) => panic!("mmap refused with {e}, expected {expected:x?}"),
            (Ok(_), Ok((got, _))) => *got,
        };
        let len = align(len).unwrap();
        match expected.unwrap() {
            Placement::Fixed(at) => {
                assert_eq!(got, at, "MAP_FIXED address");
                self.remove(at, at + len);
            }
            Placement::Anywhere { hint } => {
                assert!(got.is_multiple_of(PAGE) && got >= USER_MIN && got + len <= USER_END);
                assert!(self.free_with_gap(got, got + len), "placed on used space at {got:#x}");
                let hint_usable = hint != 0 && hint + len <= USER_END && self.free_with_gap(hint, hint + len);
                if hint_usable {
                    assert_eq!(got, hint, "a usable hint is taken");
                } else {
                    assert!(got + len <= self.mmap_base, "top-down below mmap_base");
                    assert!(
                        got + len == self.mmap_base || !self.free_with_gap(got + PAGE, got + len + PAGE),
                        "not the highest fit: {got:#x}"
                    );
                }
            }
        }
        let attr = Attr {
            prot: prot & !PROT_SEM,
            shared: flags & MAP_SHARED != 0,
            growsdown: flags & MAP_GROWSDOWN != 0,
            kind: VmaKind::Anonymous,
        };
        self.fill(got, got + len, attr);
    }

    fn munmap(&mut self, addr: u64, len: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE) || addr > USER_END || len > USER_END - addr {
            return Err(EINVAL);
        }
        let len = align(len).unwrap();
        if len == 0 {
            return Err(EINVAL);
        }
        self.remove(addr, addr + len);
        Ok(())
    }

    fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> Result<(), Errno> {
        if !addr.is_multiple_of(PAGE) {
            return Err(EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let end = align(len).and_then(|l| addr.checked_add(l)).ok_or(ENOMEM)?;
        let prot = prot_rule(prot)?;
        if page_range(addr, end).any(|p| !self.pages.contains_key(&p)) {
            return Err(ENOMEM);
        }
        for (_, attr) in self.pages.range_mut(addr..end) {
            attr.prot = prot;
        }
        Ok(())
    }

    /// Checks memd's mremap result and applies it.
    fn mremap(&mut self, op: (u64, u64, u64, u64), result: &Result<(u64, Vec<Action>), Errno>) {
        let got = result.as_ref().map(|r| r.0).map_err(|e| *e);
        let (old, old_len, new_len, flags) = op;
        if flags & !MREMAP_MAYMOVE != 0 || !old.is_multiple_of(PAGE) {
            return assert_eq!(got, Err(EINVAL));
        }
        let (Some(new_len), Some(old_len)) =
            (align(new_len).filter(|&l| l > 0), align(old_len).filter(|&l| l > 0))
        else {
            return assert_eq!(got, Err(EINVAL));
        };
        let run = self.run_at(old);
        let Some(run) = run.filter(|r| old.checked_add(old_len).is_some_and(|end| end <= r.end)) else {
            return assert_eq!(got, Err(EFAULT));
        };
        let old_end = old + old_len;
        let attr = Attr { prot: run.prot, shared: run.shared, growsdown: run.growsdown, kind: run.kind };
        if new_len <= old_len {
            assert_eq!(got, Ok(old));
            return self.remove(old + new_len, old_end);
        }
        if old_end == run.end && old + new_len <= USER_END && self.free(old_end, old + new_len) {
            assert_eq!(got, Ok(old), "grows in place");
            return self.fill(old_end, old + new_len, attr);
        }
        if flags & MREMAP_MAYMOVE == 0 {
            return assert_eq!(got, Err(ENOMEM));
        }
        let new = match got {
            Ok(new) => new,
            Err(e) => {
                assert_eq!(e, ENOMEM, "mremap may move");
                return assert!(new_len > 1 << 40, "ENOMEM though {new_len:#x} bytes should fit");
            }
        };
        assert!(new.is_multiple_of(PAGE) && new >= USER_MIN && new + new_len <= USER_END);
        assert!(self.free_with_gap(new, new + new_len), "moved onto used space");
        let kind =
            if matches!(run.kind, VmaKind::Heap | VmaKind::Stack) { VmaKind::Anonymous } else { run.kind };
        let moved: Vec<(u64, Attr)> = self.pages.range(old..old_end).map(|(&p, &a)| (p, a)).collect();
        self.remove(old, old_end);
        for (p, a) in moved {
            self.pages.insert(p - old + new, Attr { kind, ..a });
        }
        self.fill(new + old_len, new + new_len, Attr { kind, ..attr });
    }
}

/// An address in one of the interesting areas.
#[derive(Clone, Copy, Debug)]
struct Addr {
    /// 0: around the image and heap, 1: below mmap_base, 2: at the top of user space, 3: the null trap,
    /// 4: inside an existing VMA (number `page / 4`, `page % 4` pages in).
    area: u8,
    page: u64,
    skew: u64,
}

#[derive(Clone, Debug)]
enum Op {
    Brk { page: u64, skew: u64 },
    Mmap { at: Addr, len: u64, prot: u64, flags: u64, fd: i64 },
    Munmap { at: Addr, len: u64 },
    Mprotect { at: Addr, len: u64, prot: u64 },
    Mremap { at: Addr, old_len: u64, new_len: u64, flags: u64 },
}

fn skew() -> impl Strategy<Value = u64> {
    prop_oneof![6 => Just(0u64), 1 => 1..PAGE]
}

fn addr() -> impl Strategy<Value = Addr> {
    (
        prop_oneof![4 => Just(0u8), 4 => Just(1u8), 1 => Just(2u8), 1 => Just(3u8), 6 => Just(4u8)],
        0..48u64,
        skew(),
    )
        .prop_map(|(area, page, skew)| Addr { area, page, skew })
}

fn len() -> impl Strategy<Value = u64> {
    prop_oneof![
        20 => (0..12u64, skew()).prop_map(|(pages, skew)| pages * PAGE + skew),
        1 => Just(u64::MAX),
        1 => Just(USER_END),
    ]
}

fn prot() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => Just(READ | WRITE),
        3 => Just(READ),
        2 => Just(READ | EXEC),
        1 => Just(0),
        1 => Just(READ | PROT_SEM),
        1 => Just(READ | WRITE | EXEC),
        1 => Just(0x40),
    ]
}

fn mmap_flags() -> impl Strategy<Value = u64> {
    let kind = prop_oneof![
        8 => Just(MAP_ANONYMOUS | MAP_PRIVATE),
        2 => Just(MAP_ANONYMOUS | MAP_SHARED),
        1 => Just(MAP_ANONYMOUS),
        1 => Just(MAP_ANONYMOUS | MAP_SHARED | MAP_PRIVATE),
        1 => Just(MAP_PRIVATE),
    ];
    let extra = prop_oneof![
        4 => Just(0),
        4 => Just(MAP_FIXED),
        2 => Just(MAP_FIXED_NOREPLACE),
        1 => Just(MAP_GROWSDOWN),
        1 => Just(MAP_POPULATE),
        1 => Just(MAP_FIXED | MAP_GROWSDOWN),
    ];
    (kind, extra).prop_map(|(kind, extra)| kind | extra)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..40u64, skew()).prop_map(|(page, skew)| Op::Brk { page, skew }),
        5 => (addr(), len(), prot(), mmap_flags(), prop_oneof![5 => Just(-1i64), 1 => Just(3i64)])
            .prop_map(|(at, len, prot, flags, fd)| Op::Mmap { at, len, prot, flags, fd }),
        3 => (addr(), len()).prop_map(|(at, len)| Op::Munmap { at, len }),
        3 => (addr(), len(), prot()).prop_map(|(at, len, prot)| Op::Mprotect { at, len, prot }),
        3 => (
            addr(),
            len(),
            len(),
            prop_oneof![3 => Just(MREMAP_MAYMOVE), 2 => Just(0), 1 => Just(MREMAP_FIXED)],
        )
            .prop_map(|(at, old_len, new_len, flags)| Op::Mremap { at, old_len, new_len, flags }),
    ]
}

fn layout() -> impl Strategy<Value = Layout> {
    (0..=2u8, any::<u64>()).prop_map(|(randomize, random)| Layout { randomize, random })
}

/// Runs one sequence, checking everything after each call.
fn run(layout: Layout, ops: &[Op]) {
    let ranges = spawn_ranges();
    let mut mm = Mm::new(&ranges, layout);
    let mut kernel = SimKernel::from_ranges(&ranges);
    let mut model = Model::new(&mm);
    let resolve = |at: Addr, mm: &Mm| {
        let nr_vmas = mm.vmas().count() as u64;
        let base = match at.area {
            0 => mm.start_brk() - 8 * PAGE,
            1 => mm.mmap_base() - 40 * PAGE,
            2 => USER_END - 40 * PAGE,
            3 => 0,
            _ if nr_vmas > 0 => {
                let vma = mm.vmas().nth(((at.page / 4) % nr_vmas) as usize).unwrap();
                return vma.start + (at.page % 4) * PAGE + at.skew;
            }
            _ => 0,
        };
        base + at.page * PAGE + at.skew
    };
    for op in ops {
        let before = mm.clone();
        let model_before = model.clone();
        let (failed, actions) = match *op {
            Op::Brk { page, skew } => {
                let addr = (mm.start_brk() + page * PAGE + skew).saturating_sub(4 * PAGE);
                let (got, actions) = mm.sys_brk(addr);
                assert_eq!(got, model.brk(addr), "brk({addr:#x})");
                (got != addr, actions)
            }
            Op::Mmap { at, len, prot, flags, fd } => {
                let addr = resolve(at, &mm);
                let result = mm.sys_mmap(addr, len, prot, flags, fd, 0);
                model.mmap((addr, len, prot, flags, fd), &result);
                (result.is_err(), result.map(|r| r.1).unwrap_or_default())
            }
            Op::Munmap { at, len } => {
                let addr = resolve(at, &mm);
                let result = mm.sys_munmap(addr, len);
                assert_eq!(result.as_ref().map(|_| ()).map_err(|e| *e), model.munmap(addr, len), "munmap");
                (result.is_err(), result.unwrap_or_default())
            }
            Op::Mprotect { at, len, prot } => {
                let addr = resolve(at, &mm);
                let result = mm.sys_mprotect(addr, len, prot);
                assert_eq!(
                    result.as_ref().map(|_| ()).map_err(|e| *e),
                    model.mprotect(addr, len, prot),
                    "mprotect"
                );
                (result.is_err(), result.unwrap_or_default())
            }
            Op::Mremap { at, old_len, new_len, flags } => {
                let addr = resolve(at, &mm);
                let result = mm.sys_mremap(addr, old_len, new_len, flags);
                model.mremap((addr, old_len, new_len, flags), &result);
                (result.is_err(), result.map(|r| r.1).unwrap_or_default())
            }
        };
        assert_eq!(mm.check_invariants(), Ok(()), "after {op:x?}");
        if failed {
            assert!(actions.is_empty(), "a refused call has no actions");
            assert_eq!(mm, before, "a refused call changed memd's state: {op:x?}");
            assert_eq!(model, model_before, "the model changed on a refused call: {op:x?}");
        }
        assert_eq!(mm.vmas().copied().collect::<Vec<_>>(), model.vmas(), "VMAs after {op:x?}");
        assert_eq!(mm.brk(), model.brk);
        kernel.apply_all(&actions).unwrap_or_else(|e| panic!("kernel refused {actions:x?} of {op:x?}: {e}"));
        assert_eq!(kernel.pages, model.kernel_pages(), "kernel pages after {op:x?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, ..ProptestConfig::default() })]

    #[test]
    fn calls_match_the_page_model(layout in layout(), ops in proptest::collection::vec(op(), 1..48)) {
        run(layout, &ops);
    }
}

#[test]
fn the_model_catches_a_wrong_vma_list() {
    // The harness itself: a model that disagrees is noticed.
    let mm = Mm::new(&spawn_ranges(), Layout::default());
    let mut model = Model::new(&mm);
    assert_eq!(mm.vmas().copied().collect::<Vec<_>>(), model.vmas());
    model.pages.remove(&super::TEXT.0);
    assert_ne!(mm.vmas().copied().collect::<Vec<_>>(), model.vmas());
}
