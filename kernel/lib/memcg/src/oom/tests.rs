//! OOM rules one by one, and the report lines against lines copied from real Linux logs.

use alloc::string::String;

use super::*;
use crate::group::Groups;

fn task(pid: u32, group: GroupId, rss: u64) -> Candidate<'static> {
    Candidate {
        pid,
        tgid: pid,
        uid: 0,
        name: "task",
        group,
        total_vm: rss * 2,
        rss_anon: rss,
        rss_file: 0,
        rss_shmem: 0,
        swap: 0,
        pgtables_bytes: 0,
        oom_score_adj: 0,
        exempt: false,
        exiting: false,
        oom_victim: false,
    }
}

/// / → a (oom.group) → b (oom.group) → c; / → d.
fn groups() -> (Groups, [GroupId; 4]) {
    let mut groups = Groups::new(100_000);
    let a = groups.create(GroupId::ROOT, "a").unwrap();
    let b = groups.create(a, "b").unwrap();
    let c = groups.create(b, "c").unwrap();
    let d = groups.create(GroupId::ROOT, "d").unwrap();
    groups.set_oom_group(a, true).unwrap();
    groups.set_oom_group(b, true).unwrap();
    (groups, [a, b, c, d])
}

#[test]
fn badness_adds_rss_swap_and_page_tables() {
    assert_eq!(oom_badness(100, 20, 3 * 4096 + 100, 0, 10_000), Some(123));
    let mut candidate = task(1, GroupId::ROOT, 50);
    candidate.rss_file = 5;
    candidate.rss_shmem = 5;
    candidate.swap = 7;
    candidate.pgtables_bytes = 8192;
    assert_eq!(candidate.rss(), 60);
    assert_eq!(candidate.badness(1000), Some(69));
}

#[test]
fn oom_score_adj_is_scaled_by_total_pages_per_thousand() {
    // totalpages / 1000 is taken first: 1999 pages give a unit of 1.
    assert_eq!(oom_badness(10, 0, 0, 500, 1999), Some(510));
    assert_eq!(oom_badness(10, 0, 0, 500, 100_000), Some(10 + 500 * 100));
    assert_eq!(oom_badness(10, 0, 0, -500, 100_000), Some(10 - 500 * 100), "may be negative");
    assert_eq!(oom_badness(10, 0, 0, 1000, 999), Some(10));
    assert_eq!(oom_badness(u64::MAX, 0, 0, 0, 1000), Some(i64::MAX));
}

#[test]
fn minus_1000_is_never_eligible() {
    assert_eq!(oom_badness(1 << 30, 0, 0, OOM_SCORE_ADJ_MIN, 1000), None);
    let mut only = task(7, GroupId::ROOT, 1 << 20);
    only.oom_score_adj = OOM_SCORE_ADJ_MIN;
    let groups = Groups::new(1000);
    assert_eq!(select_victim(&[only], &Scope::system(1000), &groups), None);
}

#[test]
fn oom_score_is_scaled_to_0_to_2000() {
    let total = 3000;
    assert_eq!(oom_score(None, total), 0);
    assert_eq!(oom_score(Some(0), total), 666);
    assert_eq!(oom_score(Some(3000), total), 1333);
    assert_eq!(oom_score(Some(6000), total), 2000);
    assert_eq!(oom_score(Some(-1500), total), 333);
    assert_eq!(oom_score(Some(-3000), total), 0);
    assert_eq!(oom_score(Some(-1), total), 666, "C division truncates towards zero");
    assert_eq!(oom_score(Some(1), total), 666);
    assert_eq!(oom_score(Some(300), total), 733);
    // A task with adj 1000 using all memory: 2 · total badness.
    let badness = oom_badness(total, 0, 0, 1000, total);
    assert_eq!(oom_score(badness, total), 2000);
}

#[test]
fn the_biggest_task_is_chosen_and_ties_go_to_the_later_one() {
    let (groups, [a, b, c, d]) = groups();
    let candidates = [task(10, a, 100), task(11, d, 300), task(12, c, 300), task(13, b, 200)];
    let victim = select_victim(&candidates, &Scope::system(100_000), &groups).unwrap();
    assert_eq!((victim.index, victim.pid, victim.points), (2, 12, 300));
}

#[test]
fn exempt_exiting_and_killed_tasks_are_skipped() {
    let (groups, [_, _, _, d]) = groups();
    let mut candidates = [task(1, d, 900), task(2, d, 800), task(3, d, 700), task(4, d, 10)];
    candidates[0].exempt = true;
    candidates[1].exiting = true;
    candidates[2].oom_victim = true;
    let scope = Scope::system(100_000);
    let victim = select_victim(&candidates, &scope, &groups).unwrap();
    assert_eq!(victim.pid, 4);
    assert_eq!(pending_victim(&candidates, &scope, &groups), Some(2), "wait for pid 3 instead");
    candidates[3].exempt = true;
    assert_eq!(select_victim(&candidates, &scope, &groups), None);
}

#[test]
fn oom_score_adj_changes_the_order() {
    let groups = Groups::new(100_000);
    let mut candidates = [task(1, GroupId::ROOT, 5000), task(2, GroupId::ROOT, 100)];
    candidates[1].oom_score_adj = 100; // +100 · 100 pages
    let victim = select_victim(&candidates, &Scope::system(100_000), &groups).unwrap();
    assert_eq!((victim.pid, victim.points), (2, 10_100));
    candidates[1].oom_score_adj = -999;
    candidates[0].oom_score_adj = -999;
    let victim = select_victim(&candidates, &Scope::system(100_000), &groups).unwrap();
    assert_eq!((victim.pid, victim.points), (1, 5000 - 99_900), "negative badness can still be chosen");
}

#[test]
fn a_group_oom_considers_only_its_subtree() {
    let (mut groups, [a, b, c, d]) = groups();
    groups.set_max(b, 1000).unwrap();
    let candidates = [task(1, d, 900), task(2, a, 800), task(3, c, 50), task(4, b, 40)];
    let scope = Scope::group(&groups, b).unwrap();
    assert_eq!(scope.total_pages, 1000);
    let victim = select_victim(&candidates, &scope, &groups).unwrap();
    assert_eq!(victim.pid, 3);
    let scope_d = Scope::group(&groups, d).unwrap();
    assert_eq!(scope_d.total_pages, 100_000, "no limit: the machine's memory");
    assert_eq!(select_victim(&candidates, &scope_d, &groups).unwrap().pid, 1);
}

#[test]
fn oom_group_kills_the_highest_marked_group_within_the_scope() {
    let (groups, [a, b, c, d]) = groups();
    let mut candidates = [
        task(1, c, 500),
        task(2, b, 10),
        task(3, a, 20),
        task(4, d, 30),
        task(5, c, 5),
        task(6, a, 5),
        task(7, b, 5),
    ];
    candidates[4].oom_score_adj = OOM_SCORE_ADJ_MIN; // protected even in a group kill
    candidates[5].exempt = true;
    candidates[6].exiting = true;
    // System OOM: the walk goes up to the root; a is the highest group with oom.group.
    let victim = select_victim(&candidates, &Scope::system(100_000), &groups).unwrap();
    assert_eq!((victim.pid, victim.oom_group), (1, Some(a)));
    assert_eq!(victim.kill, [0, 1, 2]);
    // A group OOM in b stops the walk at b.
    let scope = Scope::group(&groups, b).unwrap();
    let victim = select_victim(&candidates, &scope, &groups).unwrap();
    assert_eq!((victim.pid, victim.oom_group), (1, Some(b)));
    assert_eq!(victim.kill, [0, 1]);
    // A victim in a group without oom.group dies alone.
    let victim = select_victim(&candidates[3..4], &Scope::system(100_000), &groups).unwrap();
    assert_eq!((victim.oom_group, victim.kill.as_slice()), (None, &[0usize][..]));
}

#[test]
fn no_group_kill_for_root_tasks_or_outside_the_scope() {
    let (groups, [a, b, c, _]) = groups();
    let system = Scope::system(1000);
    assert_eq!(oom_group_of(GroupId::ROOT, &system, &groups), None);
    assert_eq!(oom_group_of(c, &system, &groups), Some(a));
    let in_c = Scope { domain: Domain::Group(c), total_pages: 1000 };
    assert_eq!(oom_group_of(c, &in_c, &groups), None, "c itself has no oom.group");
    assert_eq!(oom_group_of(a, &in_c, &groups), None, "outside the scope");
    assert_eq!(oom_group_of(b, &Scope { domain: Domain::Group(b), total_pages: 1 }, &groups), Some(b));
}

#[test]
fn hierarchy_trait_over_groups() {
    let (groups, [a, b, c, d]) = groups();
    assert_eq!(Hierarchy::parent(&groups, c), Some(b));
    assert_eq!(Hierarchy::parent(&groups, GroupId::ROOT), None);
    assert!(Hierarchy::oom_group(&groups, a) && !Hierarchy::oom_group(&groups, d));
    assert!(Hierarchy::is_descendant(&groups, c, a));
    assert!(!Hierarchy::is_descendant(&groups, d, a));
}

/// A task from an LTP memcg OOM log (Linux 5.x):
/// `[  19289]     0 19289      669      389    40960        0             0 memcg_process` and
/// `Memory cgroup out of memory: Killed process 19289 (memcg_process) total-vm:2676kB,
/// anon-rss:84kB, file-rss:1468kB, shmem-rss:4kB, UID:0 pgtables:40kB oom_score_adj:0`.
fn ltp_task(group: GroupId) -> Candidate<'static> {
    Candidate {
        pid: 19289,
        tgid: 19289,
        uid: 0,
        name: "memcg_process",
        group,
        total_vm: 669,
        rss_anon: 21,
        rss_file: 367,
        rss_shmem: 1,
        swap: 0,
        pgtables_bytes: 40960,
        oom_score_adj: 0,
        exempt: false,
        exiting: false,
        oom_victim: false,
    }
}

#[test]
fn task_table_matches_linux() {
    let mut text = String::new();
    oom_report_header(&mut text).unwrap();
    write_task_line(&mut text, &ltp_task(GroupId::ROOT)).unwrap();
    let mut rsync = ltp_task(GroupId::ROOT);
    (rsync.pid, rsync.tgid, rsync.uid, rsync.name) = (128_825, 128_825, 1000, "rsync");
    (rsync.total_vm, rsync.rss_anon, rsync.rss_file, rsync.rss_shmem) = (3449, 864, 0, 0);
    (rsync.pgtables_bytes, rsync.swap, rsync.oom_score_adj) = (65536, 192, 200);
    write_task_line(&mut text, &rsync).unwrap();
    let mut udevd = rsync;
    (udevd.pid, udevd.tgid, udevd.uid, udevd.name) = (195, 195, 0, "systemd-udevd");
    (udevd.total_vm, udevd.rss_anon, udevd.pgtables_bytes, udevd.swap) = (3153, 197, 45056, 0);
    udevd.oom_score_adj = -1000;
    write_task_line(&mut text, &udevd).unwrap();
    assert_eq!(
        text,
        "Tasks state (memory values in pages):\n\
         [  pid  ]   uid  tgid total_vm      rss pgtables_bytes swapents oom_score_adj name\n\
         [  19289]     0 19289      669      389    40960        0             0 memcg_process\n\
         [ 128825]  1000 128825     3449      864    65536      192           200 rsync\n\
         [    195]     0   195     3153      197    45056        0         -1000 systemd-udevd\n"
    );
}

#[test]
fn kill_and_summary_lines_match_linux() {
    let (groups, [_, _, c, _]) = groups();
    let victim = ltp_task(c);
    let mut text = String::new();
    write_summary(&mut text, Constraint::Memcg, Some("/ltp_19257"), "/ltp_19257", &victim).unwrap();
    write_kill(&mut text, MSG_MEMCG_OUT_OF_MEMORY, &victim).unwrap();
    assert_eq!(
        text,
        "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),oom_memcg=/ltp_19257,task_memcg=/ltp_19257,\
         task=memcg_process,pid=19289,uid=0\n\
         Memory cgroup out of memory: Killed process 19289 (memcg_process) total-vm:2676kB, anon-rss:84kB, \
         file-rss:1468kB, shmem-rss:4kB, UID:0 pgtables:40kB oom_score_adj:0\n"
    );
    text.clear();
    let path = groups.path(c).unwrap();
    write_summary(&mut text, Constraint::None, None, &path, &victim).unwrap();
    write_oom_group(&mut text, "/a").unwrap();
    write_kill(&mut text, MSG_OUT_OF_MEMORY, &victim).unwrap();
    write_no_killable(&mut text).unwrap();
    assert_eq!(
        text,
        "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),global_oom,task_memcg=/a/b/c,task=memcg_process,\
         pid=19289,uid=0\n\
         Tasks in /a are going to be killed due to memory.oom.group set\n\
         Out of memory: Killed process 19289 (memcg_process) total-vm:2676kB, anon-rss:84kB, file-rss:1468kB, \
         shmem-rss:4kB, UID:0 pgtables:40kB oom_score_adj:0\n\
         Out of memory and no killable processes...\n"
    );
}

#[test]
fn invoked_line_matches_linux() {
    let mut text = String::new();
    write_invoked(&mut text, "stress", 0x140cca, "GFP_HIGHUSER_MOVABLE|__GFP_COMP", 0, 0).unwrap();
    write_invoked(&mut text, "kswapd0", 0, "", 3, -1000).unwrap();
    assert_eq!(
        text,
        "stress invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0\n\
         kswapd0 invoked oom-killer: gfp_mask=0(), order=3, oom_score_adj=-1000\n"
    );
}

#[test]
fn dump_lists_non_exempt_tasks_in_scope_and_names_are_cut_to_15_bytes() {
    let (groups, [a, b, _, d]) = groups();
    let mut in_b = ltp_task(b);
    in_b.name = "a-very-long-command-name";
    let mut exempt = ltp_task(b);
    exempt.exempt = true;
    let outside = ltp_task(d);
    let mut text = String::new();
    let scope = Scope { domain: Domain::Group(a), total_pages: 1 };
    write_dump_tasks(&mut text, &[in_b, exempt, outside], &scope, &groups).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.ends_with(" a-very-long-com\n"), "{text}");
}
