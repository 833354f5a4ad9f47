//! Property tests: victim selection against a brute-force reading of the rules.

use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;
use crate::group::Groups;

/// Parents of groups 1..=6 (index into the id list; 0 is the root).
const PARENTS: [usize; 6] = [0, 1, 1, 2, 0, 5];

#[derive(Clone, Debug)]
struct Spec {
    group: usize,
    rss: u64,
    swap: u64,
    pgtables_pages: u64,
    adj: i16,
    exempt: bool,
    exiting: bool,
    victim: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..7usize,
        0..5000u64,
        0..100u64,
        0..10u64,
        prop_oneof![Just(0i16), Just(-1000i16), Just(1000i16), -1000..=1000i16],
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.05),
    )
        .prop_map(|(group, rss, swap, pgtables_pages, adj, exempt, exiting, victim)| Spec {
            group,
            rss,
            swap,
            pgtables_pages,
            adj,
            exempt,
            exiting,
            victim,
        })
}

fn build(flags: &[bool]) -> (Groups, Vec<GroupId>) {
    let mut groups = Groups::new(1 << 20);
    let mut ids = alloc::vec![GroupId::ROOT];
    for (n, &p) in PARENTS.iter().enumerate() {
        let id = groups.create(ids[p], &alloc::format!("g{n}")).unwrap();
        groups.set_oom_group(id, flags[n]).unwrap();
        ids.push(id);
    }
    (groups, ids)
}

proptest! {
    #[test]
    fn selection_matches_brute_force(
        specs in proptest::collection::vec(spec(), 0..24),
        flags in proptest::collection::vec(any::<bool>(), 6),
        domain in 0..7usize,
        total_pages in 1..3_000_000u64,
    ) {
        let (groups, ids) = build(&flags);
        let candidates: Vec<Candidate<'_>> = specs
            .iter()
            .enumerate()
            .map(|(n, s)| Candidate {
                pid: 100 + n as u32,
                tgid: 100 + n as u32,
                uid: 0,
                name: "t",
                group: ids[s.group],
                total_vm: s.rss,
                rss_anon: s.rss,
                rss_file: 0,
                rss_shmem: 0,
                swap: s.swap,
                pgtables_bytes: s.pgtables_pages * crate::PAGE_SIZE,
                oom_score_adj: s.adj,
                exempt: s.exempt,
                exiting: s.exiting,
                oom_victim: s.victim,
            })
            .collect();
        let scope = if domain == 0 {
            Scope::system(total_pages)
        } else {
            Scope { domain: Domain::Group(ids[domain]), total_pages }
        };

        // Brute force: score every eligible task with the formula, keep the last of the best.
        let in_scope = |group: GroupId| domain == 0 || groups.is_descendant(group, ids[domain]);
        let unit = (total_pages / 1000) as i64;
        let mut best: Option<(usize, i64)> = None;
        for (n, s) in specs.iter().enumerate() {
            if !in_scope(ids[s.group]) || s.exempt || s.exiting || s.victim || s.adj == -1000 {
                continue;
            }
            let points = (s.rss + s.swap + s.pgtables_pages) as i64 + i64::from(s.adj) * unit;
            if best.is_none_or(|(_, top)| points >= top) {
                best = Some((n, points));
            }
        }

        let chosen = select_victim(&candidates, &scope, &groups);
        prop_assert_eq!(chosen.as_ref().map(|v| (v.index, v.points)), best);
        let Some(victim) = chosen else { return Ok(()) };
        prop_assert_eq!(victim.pid, candidates[victim.index].pid);
        prop_assert_eq!(victim.kill.first(), Some(&victim.index));

        // The oom group: the highest marked group on the path from the victim to the domain.
        let root = scope.root();
        let mut expected_group = None;
        let mut level = candidates[victim.index].group;
        if level != GroupId::ROOT {
            loop {
                if level != GroupId::ROOT && groups.get(level).unwrap().oom_group() {
                    expected_group = Some(level);
                }
                if level == root {
                    break;
                }
                level = groups.get(level).unwrap().parent().unwrap();
            }
        }
        prop_assert_eq!(victim.oom_group, expected_group);

        // The kill list: the victim, then exactly the killable tasks of the oom group's subtree.
        let mut expected_kill = alloc::vec![victim.index];
        if let Some(group) = expected_group {
            for (n, s) in specs.iter().enumerate() {
                let member = n != victim.index
                    && groups.is_descendant(ids[s.group], group)
                    && !(s.exempt || s.exiting || s.victim || s.adj == -1000);
                if member {
                    expected_kill.push(n);
                }
            }
        }
        prop_assert_eq!(&victim.kill, &expected_kill);
    }

    #[test]
    fn oom_score_stays_in_range_for_tasks_that_fit(
        rss in 0..1_000_000u64,
        adj in -999..=1000i16,
        total in 1_000..1_000_000u64,
    ) {
        let rss = rss % total;
        let score = oom_score(oom_badness(rss, 0, 0, adj, total), total);
        prop_assert!(score <= 2000, "score {}", score);
    }
}
