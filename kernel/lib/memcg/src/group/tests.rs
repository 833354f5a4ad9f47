//! Unit tests of the group hierarchy: one test per rule of mkdir/rmdir/lookup, charging, events,
//! protection and the file formats.

use alloc::string::String;

use super::*;

const MIB: u64 = 256; // pages

fn tree() -> (Groups, GroupId, GroupId, GroupId) {
    let mut groups = Groups::new(1 << 20);
    let a = groups.create(GroupId::ROOT, "a").unwrap();
    let b = groups.create(a, "b").unwrap();
    let c = groups.create(a, "c").unwrap();
    (groups, a, b, c)
}

#[test]
fn new_hierarchy_has_only_the_root() {
    let groups = Groups::new(1000);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups.lookup("/"), Ok(GroupId::ROOT));
    assert_eq!(groups.path(GroupId::ROOT).unwrap(), "/");
    let root = groups.get(GroupId::ROOT).unwrap();
    assert_eq!((root.parent(), root.depth(), root.max(), root.high()), (None, 0, MAX, MAX));
    assert_eq!(groups.total_pages(), 1000);
}

#[test]
fn names_follow_the_rules() {
    let mut groups = Groups::new(1000);
    for good in ["a", "web-1", "x_y.z", "A9", &"n".repeat(MAX_NAME_LEN)] {
        assert!(groups.create(GroupId::ROOT, good).is_ok(), "{good}");
    }
    let too_long = "n".repeat(MAX_NAME_LEN + 1);
    for bad in ["", ".", "..", "a/b", "a b", "é", "memory.max", "cgroup.procs", too_long.as_str()] {
        assert_eq!(groups.create(GroupId::ROOT, bad), Err(Error::Invalid), "{bad}");
    }
}

#[test]
fn names_are_unique_among_siblings_only() {
    let (mut groups, a, b, _) = tree();
    assert_eq!(groups.create(a, "b"), Err(Error::Exists));
    let other = groups.create(b, "b").unwrap();
    assert_eq!(groups.path(other).unwrap(), "/a/b/b");
}

#[test]
fn depth_is_limited_to_eight() {
    let mut groups = Groups::new(1000);
    let mut id = GroupId::ROOT;
    for level in 1..=MAX_DEPTH {
        id = groups.create(id, "d").unwrap();
        assert_eq!(groups.get(id).unwrap().depth(), level);
    }
    assert_eq!(groups.path(id).unwrap(), "/d/d/d/d/d/d/d/d");
    assert_eq!(groups.create(id, "d"), Err(Error::Limit));
}

#[test]
fn at_most_64_groups_and_slots_are_reused_with_new_ids() {
    let mut groups = Groups::new(1000);
    let mut ids = alloc::vec::Vec::new();
    for n in 1..MAX_GROUPS {
        ids.push(groups.create(GroupId::ROOT, &alloc::format!("g{n}")).unwrap());
    }
    assert_eq!(groups.len(), MAX_GROUPS);
    assert_eq!(groups.create(GroupId::ROOT, "one-more"), Err(Error::Limit));
    let old = ids[10];
    groups.remove(old).unwrap();
    let new = groups.create(GroupId::ROOT, "again").unwrap();
    assert_ne!(new, old, "a reused slot gets a new generation");
    assert_eq!(groups.get(old).err(), Some(Error::NotFound));
    assert_eq!(groups.try_charge(old, 1, StatKind::Anon), Err(Error::NotFound));
    assert_eq!(groups.get(GroupId::from_u32(new.as_u32())).unwrap().name(), "again");
}

#[test]
fn lookup_resolves_paths() {
    let (groups, a, b, c) = tree();
    assert_eq!(groups.lookup("/a"), Ok(a));
    assert_eq!(groups.lookup("/a/b"), Ok(b));
    assert_eq!(groups.lookup("/a/c"), Ok(c));
    assert_eq!(groups.lookup("/a/x"), Err(Error::NotFound));
    for bad in ["", "a", "/a/", "//a", "/a//b"] {
        assert_eq!(groups.lookup(bad), Err(Error::Invalid), "{bad:?}");
    }
    for id in [GroupId::ROOT, a, b, c] {
        assert_eq!(groups.lookup(&groups.path(id).unwrap()), Ok(id));
    }
}

#[test]
fn tree_walks() {
    let (mut groups, a, b, c) = tree();
    let d = groups.create(b, "d").unwrap();
    assert_eq!(groups.ancestors(d).unwrap(), [d, b, a, GroupId::ROOT]);
    assert_eq!(groups.subtree(GroupId::ROOT).unwrap(), [GroupId::ROOT, a, b, d, c]);
    assert_eq!(groups.subtree(b).unwrap(), [b, d]);
    assert!(groups.is_descendant(d, a) && groups.is_descendant(a, a));
    assert!(!groups.is_descendant(a, d) && !groups.is_descendant(c, b));
    assert_eq!(groups.get(a).unwrap().children(), [b, c]);
}

#[test]
fn remove_requires_an_empty_group() {
    let (mut groups, a, b, _) = tree();
    assert_eq!(groups.remove(GroupId::ROOT), Err(Error::Root));
    assert_eq!(groups.remove(a), Err(Error::Busy), "has children");
    groups.attach_task(b).unwrap();
    assert_eq!(groups.remove(b), Err(Error::Busy), "has a task");
    groups.detach_task(b).unwrap();
    let _ = groups.try_charge(b, 1, StatKind::Anon).unwrap();
    assert_eq!(groups.remove(b), Err(Error::Busy), "has charges");
    groups.uncharge(b, 1, StatKind::Anon).unwrap();
    assert_eq!(groups.remove(b), Ok(()));
    assert_eq!(groups.lookup("/a/b"), Err(Error::NotFound));
    assert_eq!(groups.get(a).unwrap().children().len(), 1);
    assert_eq!(groups.remove(b), Err(Error::NotFound));
}

#[test]
fn tasks_are_counted_per_group() {
    let (mut groups, a, b, _) = tree();
    groups.attach_task(a).unwrap();
    groups.move_task(a, b).unwrap();
    assert_eq!((groups.get(a).unwrap().nr_tasks(), groups.get(b).unwrap().nr_tasks()), (0, 1));
    assert_eq!(groups.move_task(a, b), Err(Error::Underflow));
    assert_eq!(groups.detach_task(a), Err(Error::Underflow));
}

#[test]
fn a_charge_reaches_every_level() {
    let (mut groups, a, b, _) = tree();
    assert_eq!(groups.try_charge(b, 10, StatKind::Anon), Ok(Charge::Charged { over_high: None }));
    assert_eq!(groups.try_charge(b, 3, StatKind::PageTables), Ok(Charge::Charged { over_high: None }));
    for id in [b, a, GroupId::ROOT] {
        let group = groups.get(id).unwrap();
        assert_eq!((group.current(), group.peak()), (13, 13));
        assert_eq!((group.stat(StatKind::Anon), group.stat(StatKind::PageTables)), (10, 3));
    }
    groups.uncharge(b, 10, StatKind::Anon).unwrap();
    assert_eq!((groups.get(a).unwrap().current(), groups.get(a).unwrap().peak()), (3, 13));
}

#[test]
fn a_charge_over_an_ancestors_max_charges_nothing() {
    let (mut groups, a, b, c) = tree();
    groups.set_max(a, 100).unwrap();
    let _ = groups.try_charge(c, 60, StatKind::Anon).unwrap();
    assert_eq!(groups.try_charge(b, 41, StatKind::Anon), Ok(Charge::AtMax { group: a }));
    assert_eq!(groups.get(b).unwrap().current(), 0);
    assert_eq!(groups.get(a).unwrap().current(), 60);
    assert_eq!(groups.get(GroupId::ROOT).unwrap().current(), 60);
    let a_group = groups.get(a).unwrap();
    assert_eq!((a_group.failcnt(), a_group.event(Event::Max), a_group.event_local(Event::Max)), (1, 1, 1));
    assert_eq!(groups.get(b).unwrap().event(Event::Max), 0);
    assert_eq!(groups.try_charge(b, 40, StatKind::Anon), Ok(Charge::Charged { over_high: None }));
    assert_eq!(groups.get(a).unwrap().current(), 100, "charging up to max exactly is allowed");
    assert_eq!(groups.margin(b), Ok(0));
}

#[test]
fn the_lowest_group_at_max_is_reported() {
    let (mut groups, a, b, _) = tree();
    groups.set_max(a, 10).unwrap();
    groups.set_max(b, 5).unwrap();
    assert_eq!(groups.try_charge(b, 20, StatKind::Anon), Ok(Charge::AtMax { group: b }));
    assert_eq!(groups.get(a).unwrap().failcnt(), 0);
    assert_eq!(groups.try_charge(b, 5, StatKind::Anon), Ok(Charge::Charged { over_high: None }));
    assert_eq!(groups.margin(a), Ok(5));
    assert_eq!(groups.margin(b), Ok(0));
}

#[test]
fn over_high_names_the_lowest_group_above_high() {
    let (mut groups, a, b, _) = tree();
    groups.set_high(a, 10).unwrap();
    assert_eq!(groups.try_charge(b, 10, StatKind::Anon), Ok(Charge::Charged { over_high: None }));
    assert_eq!(groups.try_charge(b, 1, StatKind::Anon), Ok(Charge::Charged { over_high: Some(a) }));
    groups.set_high(b, 5).unwrap();
    assert_eq!(groups.try_charge(b, 1, StatKind::Anon), Ok(Charge::Charged { over_high: Some(b) }));
    assert_eq!(groups.raise_high_events(b), Ok(2));
    assert_eq!(groups.get(b).unwrap().event_local(Event::High), 1);
    assert_eq!(groups.get(a).unwrap().event_local(Event::High), 1);
    assert_eq!(groups.get(a).unwrap().event(Event::High), 2, "a's own plus b's propagated");
    assert_eq!(groups.get(GroupId::ROOT).unwrap().event(Event::High), 0, "never propagated to the root");
}

#[test]
fn uncharging_more_than_charged_changes_nothing() {
    let (mut groups, a, b, c) = tree();
    let _ = groups.try_charge(b, 5, StatKind::Anon).unwrap();
    let _ = groups.try_charge(c, 5, StatKind::Anon).unwrap();
    assert_eq!(groups.uncharge(b, 6, StatKind::Anon), Err(Error::Underflow));
    assert_eq!(groups.uncharge(b, 1, StatKind::Kernel), Err(Error::Underflow), "per kind");
    assert_eq!(groups.get(a).unwrap().current(), 10);
}

#[test]
fn force_charge_may_pass_max_and_counts_the_event() {
    let (mut groups, a, b, _) = tree();
    groups.set_max(a, 4).unwrap();
    assert_eq!(groups.force_charge(b, 6, StatKind::KernelStack), Ok(Charge::Charged { over_high: None }));
    assert_eq!(groups.get(a).unwrap().current(), 6);
    assert_eq!(groups.get(a).unwrap().event_local(Event::Max), 1);
    assert_eq!(groups.margin(b), Ok(0));
}

#[test]
fn lowering_max_below_usage_reports_the_excess() {
    let (mut groups, a, b, _) = tree();
    let _ = groups.try_charge(b, 50, StatKind::Anon).unwrap();
    assert_eq!(groups.set_max(a, 80), Ok(0));
    assert_eq!(groups.set_max(a, 30), Ok(20));
    assert_eq!(groups.get(a).unwrap().max(), 30);
    assert_eq!(groups.try_charge(b, 1, StatKind::Anon), Ok(Charge::AtMax { group: a }));
    assert_eq!(groups.set_high(b, 45), Ok(5));
    groups.set_min(b, 7).unwrap();
    groups.set_low(b, 9).unwrap();
    groups.set_oom_group(b, true).unwrap();
    let b_group = groups.get(b).unwrap();
    assert_eq!((b_group.min(), b_group.low(), b_group.high(), b_group.oom_group()), (7, 9, 45, true));
}

#[test]
fn the_root_has_no_limit_files() {
    let mut groups = Groups::new(1000);
    let root = GroupId::ROOT;
    assert_eq!(groups.set_max(root, 1), Err(Error::Root));
    assert_eq!(groups.set_high(root, 1), Err(Error::Root));
    assert_eq!(groups.set_min(root, 1), Err(Error::Root));
    assert_eq!(groups.set_low(root, 1), Err(Error::Root));
    assert_eq!(groups.set_oom_group(root, true), Err(Error::Root));
    assert_eq!(groups.reset_peak(root), Err(Error::Root));
}

#[test]
fn peak_resets_to_current() {
    let (mut groups, a, _, _) = tree();
    let _ = groups.try_charge(a, 9, StatKind::Anon).unwrap();
    groups.uncharge(a, 4, StatKind::Anon).unwrap();
    assert_eq!(groups.get(a).unwrap().peak(), 9);
    groups.reset_peak(a).unwrap();
    assert_eq!(groups.get(a).unwrap().peak(), 5);
}

#[test]
fn events_propagate_to_ancestors_below_the_root() {
    let (mut groups, a, b, _) = tree();
    groups.raise_event(b, Event::Oom).unwrap();
    groups.raise_event(b, Event::OomKill).unwrap();
    groups.raise_event(a, Event::Oom).unwrap();
    let (a_group, b_group) = (groups.get(a).unwrap(), groups.get(b).unwrap());
    assert_eq!((b_group.event(Event::Oom), b_group.event_local(Event::Oom)), (1, 1));
    assert_eq!((a_group.event(Event::Oom), a_group.event_local(Event::Oom)), (2, 1));
    assert_eq!((a_group.event(Event::OomKill), a_group.event_local(Event::OomKill)), (1, 0));
    assert_eq!(groups.get(GroupId::ROOT).unwrap().event(Event::Oom), 0);
    groups.raise_event(GroupId::ROOT, Event::Oom).unwrap();
    let root = groups.get(GroupId::ROOT).unwrap();
    assert_eq!((root.event(Event::Oom), root.event_local(Event::Oom)), (1, 1));
}

#[test]
fn local_events_option_stops_propagation() {
    let options = Options { local_events: true, ..Options::default() };
    let mut groups = Groups::with_options(1000, options);
    let a = groups.create(GroupId::ROOT, "a").unwrap();
    let b = groups.create(a, "b").unwrap();
    groups.raise_event(b, Event::Low).unwrap();
    assert_eq!(groups.get(b).unwrap().event(Event::Low), 1);
    assert_eq!(groups.get(a).unwrap().event(Event::Low), 0);
}

#[test]
fn high_penalty_matches_linux_table() {
    // mm/memcontrol.c: memory.high = 100M, one MEMCG_CHARGE_BATCH charge at each usage.
    let mut groups = Groups::new(1 << 20);
    let a = groups.create(GroupId::ROOT, "a").unwrap();
    groups.set_high(a, 100 * MIB).unwrap();
    let table = [
        (100, 0),
        (101, 6),
        (102, 25),
        (103, 57),
        (104, 102),
        (105, 159),
        (110, 639),
        (117, 1849),
        (118, 2000),
    ];
    let mut usage = 0;
    for (mib, expected_ms) in table {
        let _ = groups.force_charge(a, mib * MIB - usage, StatKind::Anon).unwrap();
        usage = mib * MIB;
        assert_eq!(groups.high_penalty_ms(a, MEMCG_CHARGE_BATCH), Ok(expected_ms), "{mib}M");
    }
    assert_eq!(groups.high_penalty_ms(a, 2 * MEMCG_CHARGE_BATCH), Ok(HIGH_DELAY_MAX_MS));
}

#[test]
fn small_high_penalties_are_not_slept() {
    let mut groups = Groups::new(1 << 20);
    let a = groups.create(GroupId::ROOT, "a").unwrap();
    let b = groups.create(a, "b").unwrap();
    groups.set_high(a, 100 * MIB).unwrap();
    let _ = groups.force_charge(b, 101 * MIB, StatKind::Anon).unwrap();
    assert_eq!(groups.high_penalty_ms(b, MEMCG_CHARGE_BATCH), Ok(6), "an ancestor's overage counts");
    assert_eq!(groups.high_delay_ms(b, MEMCG_CHARGE_BATCH), Ok(0));
    let _ = groups.force_charge(b, 9 * MIB, StatKind::Anon).unwrap();
    assert_eq!(groups.high_delay_ms(b, MEMCG_CHARGE_BATCH), Ok(639));
    groups.set_high(a, 0).unwrap();
    assert_eq!(groups.high_delay_ms(b, 1), Ok(HIGH_DELAY_MAX_MS), "high 0 counts as one page");
}

#[test]
fn vm_events_are_hierarchical() {
    let (mut groups, a, b, _) = tree();
    groups.count_vm_event(b, VmEvent::PgFault, 3).unwrap();
    groups.count_vm_event(a, VmEvent::PgMajFault, 1).unwrap();
    assert_eq!(groups.get(GroupId::ROOT).unwrap().vm_event(VmEvent::PgFault), 3);
    assert_eq!(groups.get(a).unwrap().vm_event(VmEvent::PgMajFault), 1);
    assert_eq!(groups.get(b).unwrap().vm_event(VmEvent::PgMajFault), 0);
}

#[test]
fn oom_total_pages_is_the_limit_or_the_machine() {
    let (mut groups, a, b, _) = tree();
    groups.set_max(a, 500).unwrap();
    assert_eq!(groups.oom_total_pages(a), Ok(500));
    assert_eq!(groups.oom_total_pages(b), Ok(1 << 20));
    groups.set_max(b, 0).unwrap();
    assert_eq!(groups.oom_total_pages(b), Ok(1), "never 0 (`?: 1`)");
}

/// The example in mm/memcontrol.c's comment on effective protection: A.low = 2G with B, C, D, E.
#[test]
fn overcommitted_protection_is_shared_by_protected_usage() {
    const G: u64 = 1 << 18;
    let mut groups = Groups::new(1 << 24);
    let a = groups.create(GroupId::ROOT, "A").unwrap();
    let settings = [("B", 3 * G, 2 * G), ("C", G, 2 * G), ("D", 0, 2 * G), ("E", 10 * G, 0)];
    let mut ids = alloc::vec::Vec::new();
    for (name, low, usage) in settings {
        let id = groups.create(a, name).unwrap();
        groups.set_low(id, low).unwrap();
        let _ = groups.try_charge(id, usage, StatKind::Anon).unwrap();
        ids.push(id);
    }
    groups.set_low(a, 2 * G).unwrap();
    assert_eq!(groups.effective_low(a), Ok(2 * G), "a child of the reclaim root keeps its setting");
    // Protected usage 2G + 1G + 0 + 0 = 3G > 2G: shares are 2/3 of each.
    let expected = [2 * G * 2 * G / (3 * G), G * 2 * G / (3 * G), 0, 0];
    for (id, expected) in ids.iter().zip(expected) {
        assert_eq!(groups.effective_low(*id), Ok(expected));
    }
    assert_eq!(groups.effective_min(ids[0]), Ok(0));
}

#[test]
fn undercommitted_protection_is_capped_by_setting_and_usage() {
    let (mut groups, a, b, c) = tree();
    groups.set_min(a, 100).unwrap();
    groups.set_min(b, 30).unwrap();
    groups.set_min(c, 80).unwrap();
    let _ = groups.try_charge(b, 50, StatKind::Anon).unwrap();
    let _ = groups.try_charge(c, 20, StatKind::Anon).unwrap();
    assert_eq!(groups.effective_min(b), Ok(30), "capped by its setting");
    assert_eq!(groups.effective_min(c), Ok(20), "capped by its usage");
    assert_eq!(groups.below_min(GroupId::ROOT, c), Ok(true));
    assert_eq!(groups.below_min(GroupId::ROOT, b), Ok(false));
    // Relative to reclaim rooted at a, b and c are top level: they get their settings.
    assert_eq!(groups.effective_protection(a, c).unwrap().min, 80);
    assert_eq!(groups.effective_protection(a, a).unwrap(), Protection::default());
    assert_eq!(groups.below_min(a, a), Ok(false));
    assert_eq!(groups.effective_protection(b, c), Err(Error::Invalid));
}

#[test]
fn recursive_protection_shares_unclaimed_protection_by_unprotected_usage() {
    const G: u64 = 1 << 18;
    let options = Options { recursive_protection: true, ..Options::default() };
    let mut groups = Groups::with_options(1 << 24, options);
    let a = groups.create(GroupId::ROOT, "A").unwrap();
    let b = groups.create(a, "B").unwrap();
    let c = groups.create(a, "C").unwrap();
    groups.set_low(a, 2 * G).unwrap();
    groups.set_low(b, G).unwrap();
    let _ = groups.try_charge(b, 2 * G, StatKind::Anon).unwrap();
    let _ = groups.try_charge(c, 2 * G, StatKind::Anon).unwrap();
    // Unclaimed 2G - 1G = 1G, shared by unprotected usage B 1G : C 2G out of 4G - 1G.
    assert_eq!(groups.effective_low(b), Ok(G + G / 3));
    assert_eq!(groups.effective_low(c), Ok(G * 2 * G / (3 * G)));
    assert_eq!(groups.below_low(GroupId::ROOT, c), Ok(false));
}

#[test]
fn parse_limit_follows_memparse() {
    let cases: [(&str, Result<u64, Error>); 19] = [
        ("max", Ok(u64::MAX)),
        ("max\n", Ok(u64::MAX)),
        ("123", Ok(123)),
        ("16M", Ok(16 << 20)),
        ("1G", Ok(1 << 30)),
        ("1g", Ok(1 << 30)),
        ("4k\n", Ok(4096)),
        ("2T", Ok(2 << 40)),
        ("0x10", Ok(16)),
        ("010", Ok(8)),
        ("  4096 ", Ok(4096)),
        ("", Ok(0)),
        ("1.5G", Err(Error::Invalid)),
        ("-1", Err(Error::Invalid)),
        ("1KB", Err(Error::Invalid)),
        ("08", Err(Error::Invalid)),
        ("MAX", Err(Error::Invalid)),
        ("16E", Err(Error::OutOfRange)),
        ("99999999999999999999", Err(Error::OutOfRange)),
    ];
    for (text, expected) in cases {
        assert_eq!(parse_limit(text), expected, "{text:?}");
    }
}

#[test]
fn parse_limit_pages_rounds_down_and_caps_at_max() {
    assert_eq!(parse_limit_pages("4095"), Ok(0));
    assert_eq!(parse_limit_pages("4097"), Ok(1));
    assert_eq!(parse_limit_pages("1G"), Ok(1 << 18));
    assert_eq!(parse_limit_pages("max"), Ok(MAX));
    assert_eq!(parse_limit_pages("8E"), Ok(MAX), "at PAGE_COUNTER_MAX it reads back as max");
    assert_eq!(parse_limit_pages("7E"), Ok(7 << 48));
    assert_eq!(PAGE_COUNTER_MAX, 2_251_799_813_685_247);
}

#[test]
fn parse_oom_group_accepts_zero_or_one() {
    for (text, expected) in [
        ("0", Ok(false)),
        ("1", Ok(true)),
        ("1\n", Ok(true)),
        ("0x1", Ok(true)),
        ("+1", Ok(true)),
        ("-0", Ok(false)),
    ] {
        assert_eq!(parse_oom_group(text), expected, "{text:?}");
    }
    for text in ["", "2", "-1", "yes", "1 1", "0x"] {
        assert_eq!(parse_oom_group(text), Err(Error::Invalid), "{text:?}");
    }
}

#[test]
fn limit_files_print_max_or_bytes() {
    let mut text = String::new();
    write_limit(&mut text, MAX).unwrap();
    write_limit(&mut text, 3).unwrap();
    write_bytes(&mut text, 0).unwrap();
    assert_eq!(text, "max\n12288\n0\n");
}

#[test]
fn memory_events_format() {
    let (mut groups, a, b, _) = tree();
    groups.raise_event(b, Event::Oom).unwrap();
    groups.raise_event(b, Event::OomKill).unwrap();
    let mut text = String::new();
    groups.memory_events(&mut text, a, false).unwrap();
    assert_eq!(text, "low 0\nhigh 0\nmax 0\noom 1\noom_kill 1\noom_group_kill 0\n");
    text.clear();
    groups.memory_events(&mut text, a, true).unwrap();
    assert_eq!(text, "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n");
}

const EXPECTED_STAT: &str = "anon 40960\nfile 12288\nkernel 28672\nkernel_stack 8192\npagetables 4096\n\
sec_pagetables 0\npercpu 0\nsock 4096\nvmalloc 0\nshmem 4096\nfile_mapped 0\nfile_dirty 0\n\
file_writeback 0\ninactive_anon 0\nactive_anon 0\ninactive_file 0\nactive_file 0\nunevictable 0\n\
slab_reclaimable 4096\nslab_unreclaimable 8192\nslab 12288\nworkingset_refault_anon 0\n\
workingset_refault_file 0\nworkingset_activate_anon 0\nworkingset_activate_file 0\n\
workingset_restore_anon 0\nworkingset_restore_file 0\nworkingset_nodereclaim 0\npgscan 0\n\
pgsteal 0\npgscan_kswapd 0\npgscan_direct 0\npgscan_khugepaged 0\npgsteal_kswapd 0\n\
pgsteal_direct 0\npgsteal_khugepaged 0\npgfault 12\npgmajfault 1\npgrefill 0\npgactivate 0\n\
pgdeactivate 0\npglazyfree 0\npglazyfreed 0\n";

fn charged_for_stat() -> (Groups, GroupId, GroupId) {
    let (mut groups, a, b, _) = tree();
    let charges = [
        (StatKind::Anon, 10),
        (StatKind::File, 2),
        (StatKind::Shmem, 1),
        (StatKind::Kernel, 1),
        (StatKind::KernelStack, 2),
        (StatKind::PageTables, 1),
        (StatKind::Sock, 1),
        (StatKind::SlabReclaimable, 1),
        (StatKind::SlabUnreclaimable, 2),
    ];
    for (kind, pages) in charges {
        let _ = groups.try_charge(b, pages, kind).unwrap();
    }
    groups.count_vm_event(b, VmEvent::PgFault, 12).unwrap();
    groups.count_vm_event(b, VmEvent::PgMajFault, 1).unwrap();
    (groups, a, b)
}

#[test]
fn memory_stat_format_is_linux_order_in_bytes() {
    let (groups, a, _) = charged_for_stat();
    let mut text = String::new();
    groups.memory_stat(&mut text, a).unwrap();
    assert_eq!(text, EXPECTED_STAT);
    assert_eq!(groups.get(a).unwrap().current() * crate::PAGE_SIZE, 21 * 4096);
}

#[test]
fn oom_meminfo_format() {
    let (mut groups, a, b) = charged_for_stat();
    groups.set_max(b, 21).unwrap();
    let _ = groups.try_charge(b, 1, StatKind::Anon).unwrap();
    let mut text = String::new();
    groups.oom_meminfo(&mut text, b).unwrap();
    let expected = alloc::format!(
        "memory: usage 84kB, limit 84kB, failcnt 1\nswap: usage 0kB, limit 9007199254740988kB, failcnt 0\n\
         Memory cgroup stats for /a/b:\n{EXPECTED_STAT}"
    );
    assert_eq!(text, expected);
    text.clear();
    groups.oom_meminfo(&mut text, a).unwrap();
    assert!(text.starts_with("memory: usage 84kB, limit 9007199254740988kB, failcnt 0\n"), "{text}");
}

#[test]
fn errors_map_to_linux_errno() {
    assert_eq!(Error::Invalid.errno(), 22);
    assert_eq!(Error::Busy.errno(), 16);
    assert_eq!(Error::Exists.errno(), 17);
    assert_eq!(Error::NotFound.errno(), 2);
    assert_eq!(Error::Limit.errno(), 11);
    assert_eq!(Error::OutOfRange.errno(), 34);
}

#[test]
fn a_parent_cannot_uncharge_its_childrens_pages() {
    let (mut groups, a, b, _) = tree();
    let _ = groups.try_charge(b, 5, StatKind::Anon).unwrap();
    let _ = groups.try_charge(a, 2, StatKind::Anon).unwrap();
    assert_eq!(groups.uncharge(a, 3, StatKind::Anon), Err(Error::Underflow));
    assert_eq!(groups.uncharge(GroupId::ROOT, 1, StatKind::Anon), Err(Error::Underflow));
    assert_eq!(groups.uncharge(a, 2, StatKind::Anon), Ok(()));
    assert_eq!(groups.get(a).unwrap().current(), 5);
}

#[test]
fn objects_are_charged_by_the_byte_in_whole_pages() {
    let (mut groups, a, b, _) = tree();
    groups.set_max(b, 1).unwrap();
    // 100 bytes take a page; 4000 more still fit in it; one more byte takes a second page.
    assert_eq!(groups.charge_objects(b, 100), Ok(Charge::Charged { over_high: None }));
    assert_eq!(groups.get(b).unwrap().current(), 1);
    let _ = groups.charge_objects(b, 3996).unwrap();
    assert_eq!((groups.get(b).unwrap().current(), groups.get(b).unwrap().object_bytes()), (1, 4096));
    // Kernel objects must not fail: the charge passes max, which counts a `max` event.
    let _ = groups.charge_objects(b, 1).unwrap();
    let group = groups.get(b).unwrap();
    assert_eq!((group.current(), group.stat(StatKind::SlabUnreclaimable)), (2, 2));
    assert_eq!(group.event(Event::Max), 1);
    assert_eq!(groups.get(a).unwrap().current(), 2, "the parent sees its child's objects");
    // Giving back returns whole pages only when the bytes no longer need them.
    groups.uncharge_objects(b, 1).unwrap();
    assert_eq!(groups.get(b).unwrap().current(), 1);
    assert_eq!(groups.uncharge_objects(b, 4097), Err(Error::Underflow));
    groups.uncharge_objects(b, 4096).unwrap();
    assert_eq!((groups.get(b).unwrap().current(), groups.get(a).unwrap().current()), (0, 0));
    assert_eq!(groups.remove(b), Ok(()), "nothing charged any more");
}
