//! Property tests: random map, map_range, unmap, unmap_range, protect and split sequences, replayed against
//! a model that keeps the leaves in a sorted map (virtual address → mapping). After every step the walk,
//! translations, the invariants, the table-page count and the TLB record are checked against the model,
//! and an operation run with too little memory must fail with nothing changed.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;

/// 2 GiB windows where operations land: the bottom of the lower half, its top (ending at the hole), the
/// direct map, and the top of the upper half (ending at 2^64).
const WINDOWS: [u64; 4] = [0, 0x7fff_8000_0000, DIRECT, KERNEL];
const WINDOW_BYTES: u64 = 2 * G1;

#[derive(Clone, Copy, Debug)]
enum Op {
    Map {
        window: usize,
        offset: u64,
        size: PageSize,
        phys_delta: u64,
        flags: PteFlags,
    },
    MapRange {
        window: usize,
        offset: u64,
        len: u64,
        phys_delta: u64,
        flags: PteFlags,
        max: PageSize,
    },
    /// Unmaps the `pick`-th leaf, or 4 KiB past its start when `nudge`.
    Unmap {
        pick: usize,
        nudge: bool,
        empty: EmptyTables,
    },
    UnmapRange {
        window: usize,
        offset: u64,
        len: u64,
        empty: EmptyTables,
    },
    Protect {
        window: usize,
        offset: u64,
        len: u64,
        flags: PteFlags,
    },
    Split {
        pick: usize,
        nudge: bool,
    },
}

/// An operation, run with room for only `room` more table pages when set.
#[derive(Clone, Copy, Debug)]
struct Step {
    op: Op,
    room: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
enum ModelAction {
    Unmap,
    Protect(PteFlags),
}

/// What the model expects a range change to report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Expected {
    nr_pages: [u64; 3],
    nr_split: u64,
    mapped_bytes: u64,
}

#[derive(Clone, Debug, Default)]
struct Model {
    leaves: BTreeMap<u64, Mapping>,
}

impl Model {
    /// Leaves that intersect canonical `[first, last]`, in address order.
    fn overlapping(&self, first: u64, last: u64) -> Vec<Mapping> {
        let before = self.leaves.range(..first).next_back().map(|(_, leaf)| *leaf);
        let inside = self.leaves.range(first..=last).map(|(_, leaf)| *leaf);
        before.filter(|leaf| leaf.last() >= first).into_iter().chain(inside).collect()
    }

    fn leaf_at(&self, virt: u64) -> Option<Mapping> {
        self.overlapping(virt, virt).first().copied()
    }

    fn map_range(
        &mut self,
        virt: u64,
        phys: u64,
        len: u64,
        flags: PteFlags,
        max: PageSize,
    ) -> Result<[u64; 3], PgtableError> {
        if let Some(leaf) = self.overlapping(virt, virt + (len - 1)).first() {
            return Err(PgtableError::AlreadyMapped { virt: leaf.virt, size: leaf.size });
        }
        let mut counts = [0; 3];
        let mut offset = 0;
        while offset < len {
            let size = *PageSize::ALL
                .iter()
                .rev()
                .find(|s| {
                    **s <= max
                        && (virt + offset).is_multiple_of(s.bytes())
                        && (phys + offset).is_multiple_of(s.bytes())
                        && len - offset >= s.bytes()
                })
                .unwrap();
            let leaf =
                Mapping { virt: virt + offset, phys: phys + offset, size, flags: flags | PteFlags::PRESENT };
            self.leaves.insert(leaf.virt, leaf);
            counts[size.index()] += 1;
            offset += size.bytes();
        }
        Ok(counts)
    }

    /// Replaces a large leaf by its 512 pieces and returns them.
    fn split(&mut self, leaf: Mapping) -> Vec<Mapping> {
        self.leaves.remove(&leaf.virt);
        let size = if leaf.size == PageSize::Size1G { PageSize::Size2M } else { PageSize::Size4K };
        (0..512)
            .map(|i| {
                let piece = Mapping {
                    virt: leaf.virt + i * size.bytes(),
                    phys: leaf.phys + i * size.bytes(),
                    size,
                    flags: leaf.flags,
                };
                self.leaves.insert(piece.virt, piece);
                piece
            })
            .collect()
    }

    fn change(&mut self, first: u64, last: u64, action: ModelAction) -> Expected {
        let mut expected = Expected::default();
        let mut work = self.overlapping(first, last);
        while let Some(leaf) = work.pop() {
            let new = match action {
                ModelAction::Unmap => None,
                ModelAction::Protect(flags) => {
                    Some(flags | PteFlags::PRESENT | (leaf.flags & (PteFlags::ACCESSED | PteFlags::DIRTY)))
                }
            };
            if new == Some(leaf.flags) {
                expected.mapped_bytes += leaf.last().min(last) - leaf.virt.max(first) + 1;
            } else if first <= leaf.virt && leaf.last() <= last {
                match new {
                    None => self.leaves.remove(&leaf.virt),
                    Some(flags) => self.leaves.insert(leaf.virt, Mapping { flags, ..leaf }),
                };
                expected.nr_pages[leaf.size.index()] += 1;
                expected.mapped_bytes += leaf.size.bytes();
            } else {
                expected.nr_split += 1;
                work.extend(self.split(leaf).into_iter().filter(|p| p.virt <= last && p.last() >= first));
            }
        }
        expected
    }

    /// Table pages when no empty table is kept: the PML4 plus one PDPT, PD and PT per region in use.
    fn expected_tables(&self) -> u64 {
        let (mut pdpt, mut pd, mut pt) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        for leaf in self.leaves.values() {
            let v = leaf.virt & ((1 << 48) - 1);
            pdpt.insert(v >> 39);
            if leaf.size <= PageSize::Size2M {
                pd.insert(v >> 30);
            }
            if leaf.size == PageSize::Size4K {
                pt.insert(v >> 21);
            }
        }
        1 + (pdpt.len() + pd.len() + pt.len()) as u64
    }

    /// The address an Unmap/Split step aims at.
    fn picked(&self, pick: usize, nudge: bool) -> u64 {
        match self.leaves.values().nth(pick % self.leaves.len().max(1)) {
            Some(leaf) => leaf.virt.wrapping_add(if nudge { K4 } else { 0 }),
            None => DIRECT,
        }
    }
}

struct Harness {
    mem: EmulatedMemory,
    table: PageTable,
    model: Model,
    /// Every unmap frees empty tables, so the table count is exactly the model's.
    all_free: bool,
}

/// The operation's result in a comparable form.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Map([u64; 3]),
    Change(Expected),
    Unmapped(Mapping),
    Split,
}

impl Harness {
    fn run(&mut self, step: Step) -> Result<(), TestCaseError> {
        let before_model = self.model.clone();
        let before_table = state(&self.table);
        let live = self.mem.live();
        let mut model = self.model.clone();
        let (expected, needed) = self.expect(&mut model, step.op);
        if let Some(room) = step.room {
            self.mem.set_limit(live + room);
        }
        let (actual, flush) = self.invoke(step.op);
        self.mem.set_limit(usize::MAX);

        if actual == Err(PgtableError::OutOfMemory) {
            prop_assert!(step.room.is_some(), "out of memory without a limit");
            prop_assert!(expected.is_ok(), "out of memory instead of {:?}", expected);
            if let Some(needed) = needed {
                prop_assert!(
                    step.room.unwrap() < needed as usize,
                    "refused with room for the {} tables needed",
                    needed
                );
            }
            prop_assert_eq!(state(&self.table), before_table);
            prop_assert_eq!(self.mem.live(), live);
            prop_assert_eq!(
                leaves(&self.table, &self.mem),
                before_model.leaves.values().copied().collect::<Vec<_>>()
            );
            return Ok(());
        }
        prop_assert_eq!(&actual, &expected);
        if let (Some(room), Some(needed), Ok(_)) = (step.room, needed, &actual) {
            prop_assert!(
                room as u64 >= needed,
                "succeeded with room {} below the {} tables needed",
                room,
                needed
            );
        }
        if actual.is_ok() {
            self.model = model;
        } else {
            prop_assert_eq!(state(&self.table), before_table, "an error changed the table count");
            prop_assert_eq!(self.mem.live(), live);
        }
        self.verify(step.op, &before_model, &flush)
    }

    /// The model's result of `op`, and how many table pages it needs when the model knows.
    fn expect(&self, model: &mut Model, op: Op) -> (Result<Outcome, PgtableError>, Option<u64>) {
        let tables_now = self.table.nr_tables();
        match op {
            Op::Map { window, offset, size, phys_delta, flags } => {
                let virt = WINDOWS[window] + (offset & !(size.bytes() - 1));
                let phys = phys_of(window, offset + phys_delta) & !(size.bytes() - 1);
                let result = model.map_range(virt, phys, size.bytes(), flags, size).map(Outcome::Map);
                let needed = self.all_free.then(|| model.expected_tables() - tables_now);
                (result, needed)
            }
            Op::MapRange { window, offset, len, phys_delta, flags, max } => {
                let virt = WINDOWS[window] + offset;
                let result = model
                    .map_range(virt, phys_of(window, offset + phys_delta), len, flags, max)
                    .map(Outcome::Map);
                let needed = self.all_free.then(|| model.expected_tables() - tables_now);
                (result, needed)
            }
            Op::Unmap { pick, nudge, .. } => {
                let virt = model.picked(pick, nudge);
                let result = match model.leaf_at(virt) {
                    None if !entry::is_canonical(virt) => Err(PgtableError::NonCanonical(virt)),
                    None => Err(PgtableError::NotMapped(virt)),
                    Some(leaf) if leaf.virt != virt => {
                        Err(PgtableError::InsideLargePage { virt: leaf.virt, size: leaf.size })
                    }
                    Some(leaf) => {
                        model.leaves.remove(&virt);
                        Ok(Outcome::Unmapped(leaf))
                    }
                };
                (result, Some(0))
            }
            Op::UnmapRange { window, offset, len, .. } => {
                let first = WINDOWS[window] + offset;
                let expected = model.change(first, first + (len - 1), ModelAction::Unmap);
                (Ok(Outcome::Change(expected)), Some(expected.nr_split))
            }
            Op::Protect { window, offset, len, flags } => {
                let first = WINDOWS[window] + offset;
                let expected = model.change(first, first + (len - 1), ModelAction::Protect(flags));
                (Ok(Outcome::Change(expected)), Some(expected.nr_split))
            }
            Op::Split { pick, nudge } => {
                let virt = model.picked(pick, nudge);
                let result = match model.leaf_at(virt) {
                    None if !entry::is_canonical(virt) => Err(PgtableError::NonCanonical(virt)),
                    None => Err(PgtableError::NotMapped(virt)),
                    Some(leaf) if leaf.size == PageSize::Size4K => Err(PgtableError::NotLargePage(virt)),
                    Some(leaf) => {
                        model.split(leaf);
                        Ok(Outcome::Split)
                    }
                };
                (result, Some(1))
            }
        }
    }

    fn invoke(&mut self, op: Op) -> (Result<Outcome, PgtableError>, TlbFlush) {
        let (mem, table) = (&mut self.mem, &mut self.table);
        let change = |report: Result<ChangeReport, PgtableError>| match report {
            Ok(r) => {
                let flush = r.flush.clone();
                let expected =
                    Expected { nr_pages: r.nr_pages, nr_split: r.nr_split, mapped_bytes: r.mapped_bytes };
                (Ok(Outcome::Change(expected)), flush)
            }
            Err(e) => (Err(e), TlbFlush::new()),
        };
        match op {
            Op::Map { window, offset, size, phys_delta, flags } => {
                let virt = WINDOWS[window] + (offset & !(size.bytes() - 1));
                let phys = phys_of(window, offset + phys_delta) & !(size.bytes() - 1);
                let mut counts = [0; 3];
                counts[size.index()] = 1;
                match table.map(mem, virt, phys, size, flags) {
                    Ok(flush) => (Ok(Outcome::Map(counts)), flush),
                    Err(e) => (Err(e), TlbFlush::new()),
                }
            }
            Op::MapRange { window, offset, len, phys_delta, flags, max } => {
                let phys = phys_of(window, offset + phys_delta);
                match table.map_range(mem, WINDOWS[window] + offset, phys, len, flags, max) {
                    Ok(report) => (Ok(Outcome::Map(report.nr_pages)), report.flush),
                    Err(e) => (Err(e), TlbFlush::new()),
                }
            }
            Op::Unmap { pick, nudge, empty } => {
                let virt = self.model.picked(pick, nudge);
                match table.unmap(mem, virt, empty) {
                    Ok(gone) => (Ok(Outcome::Unmapped(gone.mapping)), gone.flush),
                    Err(e) => (Err(e), TlbFlush::new()),
                }
            }
            Op::UnmapRange { window, offset, len, empty } => {
                change(table.unmap_range(mem, WINDOWS[window] + offset, len, empty))
            }
            Op::Protect { window, offset, len, flags } => {
                change(table.protect(mem, WINDOWS[window] + offset, len, flags))
            }
            Op::Split { pick, nudge } => {
                let virt = self.model.picked(pick, nudge);
                match table.split(mem, virt) {
                    Ok(flush) => (Ok(Outcome::Split), flush),
                    Err(e) => (Err(e), TlbFlush::new()),
                }
            }
        }
    }

    fn verify(&self, op: Op, before: &Model, flush: &TlbFlush) -> Result<(), TestCaseError> {
        let (mem, table, model) = (&self.mem, &self.table, &self.model);
        table.check(mem).map_err(TestCaseError::fail)?;
        prop_assert_eq!(table.nr_tables() as usize, mem.live(), "a table page leaked or was lost");
        prop_assert_eq!(leaves(table, mem), model.leaves.values().copied().collect::<Vec<_>>());
        if self.all_free {
            prop_assert_eq!(table.nr_tables(), model.expected_tables(), "tables beyond what the leaves need");
        }
        // Translations at the edges of the operation and of every leaf it touched.
        let (start, len) = match op {
            Op::Map { window, offset, size, .. } => {
                (WINDOWS[window] + (offset & !(size.bytes() - 1)), size.bytes())
            }
            Op::MapRange { window, offset, len, .. }
            | Op::UnmapRange { window, offset, len, .. }
            | Op::Protect { window, offset, len, .. } => (WINDOWS[window] + offset, len),
            Op::Unmap { pick, nudge, .. } | Op::Split { pick, nudge } => (before.picked(pick, nudge), K4),
        };
        let mut probes =
            vec![start, start + (len - 1), start.wrapping_sub(1), (start + (len - 1)).wrapping_add(1)];
        probes.extend(before.overlapping(start, start + (len - 1)).iter().flat_map(|l| [l.virt, l.last()]));
        for probe in probes {
            let expected = match model.leaf_at(probe) {
                Some(leaf) => Ok(Translation { phys: leaf.phys + (probe - leaf.virt), leaf }),
                None if !entry::is_canonical(probe) => Err(PgtableError::NonCanonical(probe)),
                None => Err(PgtableError::NotMapped(probe)),
            };
            prop_assert_eq!(table.translate(mem, probe), expected, "translate({:#x})", probe);
        }
        // The TLB contract: every leaf that changed or went away is in the flush.
        for old in before.leaves.values() {
            if model.leaves.get(&old.virt) != Some(old) {
                let listed = old.size == PageSize::Size4K && flush.pages().contains(&old.virt);
                prop_assert!(flush.is_full() || listed, "stale TLB entry for {:?}", old);
            }
        }
        Ok(())
    }
}

fn phys_of(window: usize, offset: u64) -> u64 {
    (window as u64) * 16 * G1 + offset
}

fn flags() -> impl Strategy<Value = PteFlags> {
    prop_oneof![
        3 => prop::sample::select(vec![
            PteFlags::KERNEL, PteFlags::KERNEL_RO, PteFlags::KERNEL_RX, PteFlags::USER_RW, PteFlags::USER_RX,
        ]),
        1 => (0u64..1 << 9).prop_map(|bits| {
            let all = [
                PteFlags::PRESENT, PteFlags::WRITABLE, PteFlags::USER, PteFlags::WRITE_THROUGH, PteFlags::CACHE_DISABLE,
                PteFlags::ACCESSED, PteFlags::DIRTY, PteFlags::GLOBAL, PteFlags::NO_EXECUTE,
            ];
            all.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).fold(PteFlags::empty(), |f, (_, g)| f | *g)
        }),
    ]
}

/// Offsets near 4 KiB, 2 MiB and 1 GiB boundaries, so that sizes mix and ranges straddle tables.
fn offset() -> impl Strategy<Value = u64> {
    let near = || prop_oneof![0..4u64, 508..512u64];
    (0..2u64, near(), near()).prop_map(|(g, m, k)| g * G1 + m * M2 + k * K4)
}

fn length(offset: u64) -> impl Strategy<Value = u64> {
    (prop_oneof![9 => Just(0u64), 1 => Just(1u64)], 0..3u64, 0..5u64)
        .prop_map(move |(g, m, k)| (g * G1 + m * M2 + k * K4).clamp(K4, WINDOW_BYTES - offset))
}

fn size() -> impl Strategy<Value = PageSize> {
    prop::sample::select(PageSize::ALL.to_vec())
}

fn phys_delta() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        (0..4u64).prop_map(|k| k * G1),
        (0..512u64).prop_map(|k| k * M2),
        (0..512u64).prop_map(|k| k * K4)
    ]
}

fn empty_tables(all_free: bool) -> BoxedStrategy<EmptyTables> {
    if all_free {
        Just(EmptyTables::Free).boxed()
    } else {
        prop::sample::select(vec![EmptyTables::Free, EmptyTables::Keep]).boxed()
    }
}

fn op(all_free: bool) -> impl Strategy<Value = Op> {
    let window = 0..WINDOWS.len();
    prop_oneof![
        3 => (window.clone(), offset(), size(), phys_delta(), flags())
            .prop_map(|(window, offset, size, phys_delta, flags)| Op::Map { window, offset, size, phys_delta, flags }),
        3 => (window.clone(), offset(), phys_delta(), flags(), size())
            .prop_flat_map(|(window, offset, phys_delta, flags, max)| (Just((window, offset, phys_delta, flags, max)), length(offset)))
            .prop_map(|((window, offset, phys_delta, flags, max), len)| {
                // Keep 1 GiB ranges to large pages: a quarter-million 4 KiB leaves would only be slow.
                let (phys_delta, max) = if len > 64 * M2 { (phys_delta & !(M2 - 1), max.max(PageSize::Size2M)) } else { (phys_delta, max) };
                Op::MapRange { window, offset, len, phys_delta, flags, max }
            }),
        2 => (any::<usize>(), any::<bool>(), empty_tables(all_free)).prop_map(|(pick, nudge, empty)| Op::Unmap { pick, nudge, empty }),
        2 => (window.clone(), offset(), empty_tables(all_free))
            .prop_flat_map(|(window, offset, empty)| (Just((window, offset, empty)), length(offset)))
            .prop_map(|((window, offset, empty), len)| Op::UnmapRange { window, offset, len, empty }),
        3 => (window, offset(), flags())
            .prop_flat_map(|(window, offset, flags)| (Just((window, offset, flags)), length(offset)))
            .prop_map(|((window, offset, flags), len)| Op::Protect { window, offset, len, flags }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, nudge)| Op::Split { pick, nudge }),
    ]
}

fn steps(all_free: bool) -> impl Strategy<Value = Vec<Step>> {
    let room = prop_oneof![4 => Just(None), 1 => (0..4usize).prop_map(Some)];
    prop::collection::vec((op(all_free), room).prop_map(|(op, room)| Step { op, room }), 1..40)
}

fn replay(steps: Vec<Step>, all_free: bool) -> Result<(), TestCaseError> {
    let mut mem = EmulatedMemory::new();
    let table = PageTable::new(&mut mem).unwrap();
    let mut harness = Harness { mem, table, model: Model::default(), all_free };
    for step in steps {
        harness.run(step)?;
    }
    // Unmapping everything gives every table but the PML4 back.
    for window in WINDOWS {
        harness.table.unmap_range(&mut harness.mem, window, WINDOW_BYTES, EmptyTables::Free).unwrap();
    }
    prop_assert!(leaves(&harness.table, &harness.mem).is_empty());
    prop_assert_eq!((harness.table.nr_tables(), harness.mem.live()), (1, 1));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// Every unmap frees empty tables: the table count must equal what the model's leaves need, and
    /// an operation fails for lack of memory exactly when it had less room than it needs.
    #[test]
    fn page_table_matches_a_model_freeing_tables(steps in steps(true)) {
        replay(steps, true)?;
    }

    /// Unmaps keep or free tables at random: large pages then land on kept empty tables.
    #[test]
    fn page_table_matches_a_model_keeping_tables(steps in steps(false)) {
        replay(steps, false)?;
    }
}
