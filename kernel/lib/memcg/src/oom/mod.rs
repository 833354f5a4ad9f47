//! The OOM killer's choice, as Linux ≥ 5.9 makes it (mm/oom_kill.c `oom_badness`,
//! `oom_evaluate_task`, `select_bad_process`, `oom_kill_process`; mm/memcontrol.c
//! `mem_cgroup_get_oom_group`; fs/proc/base.c `proc_oom_score`).
//!
//! Badness = resident pages + swap entries + page-table pages, plus `oom_score_adj × (totalpages /
//! 1000)` (integer division first, as Linux). It may be negative; `oom_score_adj = -1000` makes a task
//! ineligible. The victim is the eligible candidate in scope with the highest badness; on a tie the
//! later candidate wins (Linux replaces the choice when `points >= chosen_points`, scanning in task
//! order). If the victim's group, or an ancestor up to the OOM scope, has `memory.oom.group` set, the
//! highest such group is killed whole.
//!
//! Skipped, as Linux skips them: tasks outside the scope, exempt tasks (`oom_unkillable_task`: init,
//! kernel threads — here also the servers the system needs, such as oomd), `-1000` tasks, and tasks
//! already exiting or already killed. Linux *aborts* instead of picking another victim while an
//! earlier victim is still exiting; [`pending_victim`] reports that case so the caller can wait.
//!
//! Deviation from the pre-5.9 rules some texts describe: badness is not clamped to ≥ 1 and
//! `/proc/PID/oom_score` is `(1000 + badness·1000/totalpages)·2/3` (range 0–2000), not
//! `badness·1000/totalpages`.

mod report;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;

use crate::PAGE_SIZE;
use crate::group::{GroupId, Groups};
pub use report::{
    Constraint, MSG_MEMCG_OUT_OF_MEMORY, MSG_OUT_OF_MEMORY, oom_report_header, write_dump_tasks,
    write_invoked, write_kill, write_no_killable, write_oom_group, write_summary, write_task_line,
};

/// `OOM_SCORE_ADJ_MIN`: never killed by the OOM killer.
pub const OOM_SCORE_ADJ_MIN: i16 = -1000;
/// `OOM_SCORE_ADJ_MAX`: killed first.
pub const OOM_SCORE_ADJ_MAX: i16 = 1000;

/// What the OOM killer knows of a task. Sizes are in pages unless the name says bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate<'a> {
    /// Thread-group id shown as `pid` (Linux prints the process).
    pub pid: u32,
    /// Thread-group id (`tgid`).
    pub tgid: u32,
    /// Owner.
    pub uid: u32,
    /// Command name (`comm`, at most 15 bytes are shown).
    pub name: &'a str,
    /// The task's memory group.
    pub group: GroupId,
    /// Mapped virtual memory (`total_vm`).
    pub total_vm: u64,
    /// Resident anonymous pages (`MM_ANONPAGES`).
    pub rss_anon: u64,
    /// Resident file pages (`MM_FILEPAGES`).
    pub rss_file: u64,
    /// Resident shared-memory pages (`MM_SHMEMPAGES`).
    pub rss_shmem: u64,
    /// Swap entries (`MM_SWAPENTS`).
    pub swap: u64,
    /// Page-table memory, bytes (`mm_pgtables_bytes`).
    pub pgtables_bytes: u64,
    /// `/proc/PID/oom_score_adj`, −1000..=1000.
    pub oom_score_adj: i16,
    /// Never killed and not listed: init, kernel threads, the servers the system needs.
    pub exempt: bool,
    /// Already exiting; it will free its memory without being killed.
    pub exiting: bool,
    /// Killed by an earlier OOM kill and not yet gone (Linux `tsk_is_oom_victim` without
    /// `MMF_OOM_SKIP`). Clear it once the task is reaped or has been given enough time.
    pub oom_victim: bool,
}

impl Candidate<'_> {
    /// Resident pages (`get_mm_rss`).
    pub fn rss(&self) -> u64 {
        self.rss_anon.saturating_add(self.rss_file).saturating_add(self.rss_shmem)
    }

    /// This task's `oom_badness` for `total_pages`; `None` when it must not be chosen for its
    /// `oom_score_adj` (exempt, exiting and victim tasks are filtered by the selection, not here).
    pub fn badness(&self, total_pages: u64) -> Option<i64> {
        oom_badness(self.rss(), self.swap, self.pgtables_bytes, self.oom_score_adj, total_pages)
    }
}

/// Linux `oom_badness` for an eligible task: `None` for `oom_score_adj == -1000`, else
/// `rss + swap + pgtables_bytes / PAGE_SIZE + oom_score_adj * (total_pages / 1000)` (may be negative).
pub fn oom_badness(
    rss: u64,
    swap: u64,
    pgtables_bytes: u64,
    oom_score_adj: i16,
    total_pages: u64,
) -> Option<i64> {
    if oom_score_adj <= OOM_SCORE_ADJ_MIN {
        return None;
    }
    let pages = rss.saturating_add(swap).saturating_add(pgtables_bytes / PAGE_SIZE);
    let points = i64::try_from(pages).unwrap_or(i64::MAX);
    let unit = i64::try_from(total_pages / 1000).unwrap_or(i64::MAX);
    Some(points.saturating_add(i64::from(oom_score_adj).saturating_mul(unit)))
}

/// `/proc/PID/oom_score` (Linux `proc_oom_score`): 0 for an ineligible task, else
/// `(1000 + badness * 1000 / total_pages) * 2 / 3` with C's truncating division, so 0..=2000 for
/// tasks that fit in memory. `total_pages` is RAM + swap.
pub fn oom_score(badness: Option<i64>, total_pages: u64) -> u64 {
    let Some(badness) = badness else { return 0 };
    let total = i128::from(total_pages.max(1));
    let scaled = (1000 + i128::from(badness) * 1000 / total) * 2 / 3;
    scaled.clamp(0, i128::from(u64::MAX)) as u64
}

/// The group tree as the OOM killer needs it; [`Groups`] implements it, and oomd can implement it
/// over its own copy of the tree.
pub trait Hierarchy {
    /// The parent of `id`, `None` for the root or an unknown id.
    fn parent(&self, id: GroupId) -> Option<GroupId>;
    /// Whether `id` has `memory.oom.group` set.
    fn oom_group(&self, id: GroupId) -> bool;

    /// Whether `id` is `ancestor` or below it.
    fn is_descendant(&self, id: GroupId, ancestor: GroupId) -> bool {
        let mut next = Some(id);
        while let Some(current) = next {
            if current == ancestor {
                return true;
            }
            next = self.parent(current);
        }
        false
    }
}

impl Hierarchy for Groups {
    fn parent(&self, id: GroupId) -> Option<GroupId> {
        self.get(id).ok().and_then(|group| group.parent())
    }

    fn oom_group(&self, id: GroupId) -> bool {
        self.get(id).is_ok_and(|group| group.oom_group())
    }
}

/// Where memory ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    /// The whole machine (global OOM).
    System,
    /// A memory group at its `memory.max` (memcg OOM): only its subtree's tasks are considered.
    Group(GroupId),
}

/// The OOM context: the domain and the pages `oom_score_adj` is scaled to (RAM + swap for the
/// system, [`Groups::oom_total_pages`] for a group).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    pub domain: Domain,
    pub total_pages: u64,
}

impl Scope {
    /// A global OOM on a machine with `total_pages` of RAM + swap.
    pub fn system(total_pages: u64) -> Scope {
        Scope { domain: Domain::System, total_pages: total_pages.max(1) }
    }

    /// A group OOM in `group`, with its [`Groups::oom_total_pages`].
    pub fn group(groups: &Groups, group: GroupId) -> Result<Scope, crate::Error> {
        Ok(Scope { domain: Domain::Group(group), total_pages: groups.oom_total_pages(group)? })
    }

    /// The domain's root group (the root for a global OOM).
    pub fn root(&self) -> GroupId {
        match self.domain {
            Domain::System => GroupId::ROOT,
            Domain::Group(group) => group,
        }
    }

    /// Whether a task of `group` is inside the scope.
    pub fn contains<H: Hierarchy + ?Sized>(&self, hierarchy: &H, group: GroupId) -> bool {
        match self.domain {
            Domain::System => true,
            Domain::Group(root) => hierarchy.is_descendant(group, root),
        }
    }
}

/// The OOM killer's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Victim {
    /// Index of the chosen task in the candidate slice.
    pub index: usize,
    /// Its pid.
    pub pid: u32,
    /// Its badness.
    pub points: i64,
    /// The group killed whole because of `memory.oom.group`, if any.
    pub oom_group: Option<GroupId>,
    /// Candidates to kill, as indices: the victim first, then (for a group kill) every other task
    /// of the `oom_group` subtree in candidate order that is not exempt, `-1000`, exiting or already
    /// killed.
    pub kill: Vec<usize>,
}

/// Whether a candidate may be chosen at all (before comparing badness).
fn selectable<H: Hierarchy + ?Sized>(candidate: &Candidate<'_>, scope: &Scope, hierarchy: &H) -> bool {
    scope.contains(hierarchy, candidate.group)
        && !candidate.exempt
        && !candidate.exiting
        && !candidate.oom_victim
}

/// Linux's abort rule: the first task in scope that an earlier OOM kill already hit and that has not
/// gone yet. While there is one, do not kill another task — wait for it.
pub fn pending_victim<H: Hierarchy + ?Sized>(
    candidates: &[Candidate<'_>],
    scope: &Scope,
    hierarchy: &H,
) -> Option<usize> {
    candidates.iter().position(|candidate| {
        candidate.oom_victim && !candidate.exempt && scope.contains(hierarchy, candidate.group)
    })
}

/// Chooses the task to kill (Linux `select_bad_process` + `mem_cgroup_get_oom_group`). `None` when
/// nothing in scope is eligible ("Out of memory and no killable processes").
pub fn select_victim<H: Hierarchy + ?Sized>(
    candidates: &[Candidate<'_>],
    scope: &Scope,
    hierarchy: &H,
) -> Option<Victim> {
    let mut chosen: Option<(usize, i64)> = None;
    for (index, candidate) in candidates.iter().enumerate() {
        if !selectable(candidate, scope, hierarchy) {
            continue;
        }
        let Some(points) = candidate.badness(scope.total_pages) else { continue };
        if chosen.is_some_and(|(_, best)| points < best) {
            continue;
        }
        chosen = Some((index, points));
    }
    let (index, points) = chosen?;
    let victim = &candidates[index];
    let oom_group = oom_group_of(victim.group, scope, hierarchy);
    let mut kill = alloc::vec![index];
    if let Some(group) = oom_group {
        kill.extend(candidates.iter().enumerate().filter_map(|(other, candidate)| {
            let member = other != index
                && hierarchy.is_descendant(candidate.group, group)
                && selectable(candidate, scope, hierarchy)
                && candidate.oom_score_adj != OOM_SCORE_ADJ_MIN;
            member.then_some(other)
        }));
    }
    Some(Victim { index, pid: victim.pid, points, oom_group, kill })
}

/// Linux `mem_cgroup_get_oom_group`: walking from `group` up to the scope's root, the highest group
/// with `memory.oom.group` set; `None` for tasks of the root group or outside the scope.
pub fn oom_group_of<H: Hierarchy + ?Sized>(group: GroupId, scope: &Scope, hierarchy: &H) -> Option<GroupId> {
    let domain = scope.root();
    if group == GroupId::ROOT || !hierarchy.is_descendant(group, domain) {
        return None;
    }
    let mut found = None;
    let mut next = Some(group);
    while let Some(current) = next {
        if current != GroupId::ROOT && hierarchy.oom_group(current) {
            found = Some(current);
        }
        if current == domain {
            break;
        }
        next = hierarchy.parent(current);
    }
    found
}
