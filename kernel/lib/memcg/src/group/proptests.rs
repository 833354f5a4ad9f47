//! Property tests: random charge/uncharge/limit sequences against a plain model of the hierarchy
//! (each group's own charges, summed over subtrees), and bounds of effective protection.

use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;

/// Parents of groups 1..=6 (index into the list of ids; 0 is the root).
const PARENTS: [usize; 6] = [0, 1, 1, 2, 0, 5];

#[derive(Clone, Debug)]
enum Op {
    Charge { group: usize, pages: u64, kind: usize },
    Uncharge { group: usize, pages: u64, kind: usize },
    SetMax { group: usize, pages: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..7usize, 0..40u64, 0..StatKind::COUNT).prop_map(|(group, pages, kind)| Op::Charge { group, pages, kind }),
        3 => (0..7usize, 0..40u64, 0..StatKind::COUNT).prop_map(|(group, pages, kind)| Op::Uncharge { group, pages, kind }),
        1 => (1..7usize, 0..150u64).prop_map(|(group, pages)| Op::SetMax { group, pages }),
    ]
}

struct Model {
    ids: Vec<GroupId>,
    parent: Vec<Option<usize>>,
    own: Vec<[u64; StatKind::COUNT]>,
    max: Vec<u64>,
}

impl Model {
    fn is_descendant(&self, mut group: usize, ancestor: usize) -> bool {
        loop {
            if group == ancestor {
                return true;
            }
            match self.parent[group] {
                Some(parent) => group = parent,
                None => return false,
            }
        }
    }

    fn current(&self, group: usize) -> u64 {
        (0..self.ids.len())
            .filter(|&g| self.is_descendant(g, group))
            .map(|g| self.own[g].iter().sum::<u64>())
            .sum()
    }

    fn stat(&self, group: usize, kind: usize) -> u64 {
        (0..self.ids.len()).filter(|&g| self.is_descendant(g, group)).map(|g| self.own[g][kind]).sum()
    }

    /// The levels from `group` to the root.
    fn path(&self, group: usize) -> Vec<usize> {
        let mut path = alloc::vec![group];
        while let Some(parent) = self.parent[*path.last().unwrap()] {
            path.push(parent);
        }
        path
    }
}

fn build(maxes: &[u64]) -> (Groups, Model) {
    let mut groups = Groups::new(1 << 20);
    let mut ids = alloc::vec![GroupId::ROOT];
    let mut parent = alloc::vec![None];
    for (n, &p) in PARENTS.iter().enumerate() {
        ids.push(groups.create(ids[p], &alloc::format!("g{n}")).unwrap());
        parent.push(Some(p));
    }
    let mut max = alloc::vec![MAX];
    for (n, &limit) in maxes.iter().enumerate() {
        groups.set_max(ids[n + 1], limit).unwrap();
        max.push(limit);
    }
    let own = alloc::vec![[0; StatKind::COUNT]; ids.len()];
    (groups, Model { ids, parent, own, max })
}

fn check_invariants(groups: &Groups, model: &Model, limits_only_raised: bool) -> Result<(), TestCaseError> {
    for (g, &id) in model.ids.iter().enumerate() {
        let group = groups.get(id).unwrap();
        prop_assert_eq!(group.current(), model.current(g));
        for kind in 0..StatKind::COUNT {
            prop_assert_eq!(group.stat(StatKind::ALL[kind]), model.stat(g, kind));
        }
        prop_assert!(group.peak() >= group.current());
        let children: u64 = group.children().iter().map(|&c| groups.get(c).unwrap().current()).sum();
        prop_assert!(group.current() >= children, "a parent holds at least its children");
        if limits_only_raised {
            for level in model.path(g) {
                prop_assert!(group.current() <= model.max[level], "never above an ancestor's max");
            }
        }
    }
    Ok(())
}

fn apply(groups: &mut Groups, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    match *op {
        Op::Charge { group, pages, kind } => {
            let failing =
                model.path(group).into_iter().find(|&level| model.current(level) + pages > model.max[level]);
            let result = groups.try_charge(model.ids[group], pages, StatKind::ALL[kind]).unwrap();
            match (result, failing) {
                (Charge::AtMax { group: at }, Some(level)) => prop_assert_eq!(at, model.ids[level]),
                (Charge::Charged { .. }, None) => model.own[group][kind] += pages,
                (result, failing) => prop_assert!(false, "got {:?}, model says {:?}", result, failing),
            }
        }
        Op::Uncharge { group, pages, kind } => {
            let possible = model.own[group][kind] >= pages;
            let result = groups.uncharge(model.ids[group], pages, StatKind::ALL[kind]);
            prop_assert_eq!(result.is_ok(), possible, "uncharge only what the group itself holds");
            if possible {
                model.own[group][kind] -= pages;
            }
        }
        Op::SetMax { group, pages } => {
            let excess = groups.set_max(model.ids[group], pages).unwrap();
            prop_assert_eq!(excess, model.current(group).saturating_sub(pages));
            model.max[group] = pages;
        }
    }
    Ok(())
}

proptest! {
    /// With limits fixed up front, charges never take a group above any ancestor's max, and all
    /// counters equal the model's subtree sums.
    #[test]
    fn charges_match_the_model(
        maxes in proptest::collection::vec(prop_oneof![Just(MAX), 0..200u64], 6),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let (mut groups, mut model) = build(&maxes);
        for op in ops.iter().filter(|op| !matches!(op, Op::SetMax { .. })) {
            apply(&mut groups, &mut model, op)?;
            check_invariants(&groups, &model, true)?;
        }
    }

    /// Lowering limits below usage is allowed; counters still match and charges fail exactly when
    /// the model says.
    #[test]
    fn limit_changes_match_the_model(
        maxes in proptest::collection::vec(prop_oneof![Just(MAX), 0..200u64], 6),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let (mut groups, mut model) = build(&maxes);
        for op in &ops {
            apply(&mut groups, &mut model, op)?;
            check_invariants(&groups, &model, false)?;
        }
    }

    /// Effective protection of a group never exceeds its usage-capped setting below the top level,
    /// and children's effective protections never add up to more than their parent's.
    #[test]
    fn effective_protection_is_bounded(
        usages in proptest::collection::vec(0..100u64, 7),
        mins in proptest::collection::vec(0..120u64, 6),
        lows in proptest::collection::vec(0..120u64, 6),
        recursive in any::<bool>(),
    ) {
        let mut groups = Groups::with_options(1 << 20, Options { recursive_protection: recursive, ..Options::default() });
        let mut ids = alloc::vec![GroupId::ROOT];
        for (n, &p) in PARENTS.iter().enumerate() {
            ids.push(groups.create(ids[p], &alloc::format!("g{n}")).unwrap());
        }
        for n in 1..ids.len() {
            groups.set_min(ids[n], mins[n - 1]).unwrap();
            groups.set_low(ids[n], lows[n - 1]).unwrap();
            let _ = groups.try_charge(ids[n], usages[n], StatKind::Anon).unwrap();
        }
        for &id in &ids[1..] {
            let group = groups.get(id).unwrap();
            let effective = groups.effective_protection(GroupId::ROOT, id).unwrap();
            if group.parent() != Some(GroupId::ROOT) && !recursive {
                prop_assert!(effective.min <= group.min().min(group.current()));
                prop_assert!(effective.low <= group.low().min(group.current()));
            }
            let children = group.children().iter().map(|&c| groups.effective_protection(GroupId::ROOT, c).unwrap());
            let (sum_min, sum_low) = children.fold((0, 0), |(m, l), e| (m + e.min, l + e.low));
            prop_assert!(sum_min <= effective.min, "children's emin {} > parent's {}", sum_min, effective.min);
            prop_assert!(sum_low <= effective.low, "children's elow {} > parent's {}", sum_low, effective.low);
        }
    }
}
