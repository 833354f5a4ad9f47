//! Pressure stall information for memory (Linux's `kernel/sched/psi.c`): how much of the time tasks
//! wait for memory, system-wide (`/proc/pressure/memory`) and per memory group (`memory.pressure`).
//!
//! `memcg::psi::PsiGroup` does the arithmetic; this module feeds it. Every user task carries Linux's
//! PSI flags (`Task::psi`): `TSK_RUNNING` while it is ready or running (the scheduler's `make_ready`
//! and `block`), `TSK_MEMSTALL` while it waits for memory — throttled above `memory.high`, or waiting
//! for the OOM killer to free a page. A change is applied to the task's group and each ancestor up to
//! the root, whose figures are the system's. Triggers (`psi_trigger`) are polled from the timer tick
//! while tasks stall and signal their notification when they fire.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use memcg::group::GroupId;
use memcg::psi::{PsiGroup, Trigger, TriggerId};

use crate::arch::x86_64::tsc;
use crate::ipc::ObjectId;
use crate::sync::SpinLock;
use crate::task::{Kernel, Pid};

/// One CPU for now (the PSI arithmetic is per CPU and ready for more).
const NR_CPUS: usize = 1;

struct Subscriber {
    group: u32,
    id: TriggerId,
    notify: ObjectId,
    bits: u64,
    owner: Pid,
}

struct Psi {
    groups: BTreeMap<u32, PsiGroup>,
    subscribers: Vec<Subscriber>,
    /// When the tick should next poll the triggers (u64::MAX: no trigger).
    next_poll_ns: u64,
}

static PSI: SpinLock<Option<Psi>> = SpinLock::new(None);

/// Sets up the root group's (the system's) state.
pub fn init() {
    let mut groups = BTreeMap::new();
    groups.insert(GroupId::ROOT.as_u32(), PsiGroup::new(NR_CPUS, tsc::uptime_ns()));
    *PSI.lock() = Some(Psi { groups, subscribers: Vec::new(), next_poll_ns: u64::MAX });
}

/// A group was created: its pressure starts at zero.
pub fn group_created(group: u32) {
    if let Some(psi) = PSI.lock().as_mut() {
        psi.groups.insert(group, PsiGroup::new(NR_CPUS, tsc::uptime_ns()));
    }
}

/// A group was removed (it had no tasks): its state and triggers go.
pub fn group_removed(k: &mut Kernel, group: u32) {
    let mut guard = PSI.lock();
    let Some(psi) = guard.as_mut() else { return };
    psi.groups.remove(&group);
    let gone: Vec<ObjectId> = psi.subscribers.iter().filter(|s| s.group == group).map(|s| s.notify).collect();
    psi.subscribers.retain(|s| s.group != group);
    drop(guard);
    for object in gone {
        let _ = k.objects.put_ref(object);
    }
}

/// A task in `group` goes from PSI flags `old` to `new` (`memcg::psi::TSK_*`): every level from the
/// group up to the root sees the change.
pub fn change(group: u32, old: u8, new: u8) {
    if old == new {
        return;
    }
    let (clear, set) = (old & !new, new & !old);
    // The clock is read only if some level's state changes (and then once).
    let mut now = None;
    let mut clock = || *now.get_or_insert_with(tsc::uptime_ns);
    let mut guard = PSI.lock();
    let Some(psi) = guard.as_mut() else { return };
    if group == GroupId::ROOT.as_u32() {
        // Most tasks live in the root group: no walk, no group lock.
        if let Some(state) = psi.groups.get_mut(&group) {
            let _ = state.task_change_with(0, clear, set, &mut clock);
        }
    } else {
        walk_up(psi, group, clear, set, &mut clock);
    }
    if set & memcg::psi::TSK_MEMSTALL != 0 && !psi.subscribers.is_empty() {
        // A stall starts: look at the triggers on the next tick.
        psi.next_poll_ns = clock();
    }
}

/// Applies a change to `group` and each of its ancestors.
fn walk_up(psi: &mut Psi, group: u32, clear: u8, set: u8, clock: &mut dyn FnMut() -> u64) {
    let _ = super::memcontrol::with_ref(|groups| {
        let mut level = Some(GroupId::from_u32(group));
        while let Some(id) = level {
            // A group removed meanwhile (its tasks moved) is charged to the root instead.
            let entry = psi.groups.get_mut(&id.as_u32());
            if let Some(state) = entry {
                let _ = state.task_change_with(0, clear, set, clock);
            }
            level = groups.get(id).ok().and_then(|g| g.parent());
        }
    });
}

/// Writes the pressure file of `group` (the root's is `/proc/pressure/memory`).
pub fn show(out: &mut impl core::fmt::Write, group: u32) -> Result<(), memcg::Error> {
    let mut guard = PSI.lock();
    let psi = guard.as_mut().ok_or(memcg::Error::NotFound)?;
    let state = psi.groups.get_mut(&group).ok_or(memcg::Error::NotFound)?;
    state.show(out, tsc::uptime_ns())
}

/// Installs a trigger (`spec` as written to a pressure file) on `group`; it ORs `bits` into the
/// notification `notify` (the caller's reference is taken over) whenever it fires.
pub fn add_trigger(
    group: u32,
    spec: &str,
    notify: ObjectId,
    bits: u64,
    owner: Pid,
) -> Result<(), memcg::Error> {
    let trigger = Trigger::parse(spec.trim())?;
    let now = tsc::uptime_ns();
    let mut guard = PSI.lock();
    let psi = guard.as_mut().ok_or(memcg::Error::NotFound)?;
    let state = psi.groups.get_mut(&group).ok_or(memcg::Error::NotFound)?;
    let id = state.add_trigger(trigger, now)?;
    psi.subscribers.push(Subscriber { group, id, notify, bits, owner });
    psi.next_poll_ns = now;
    Ok(())
}

/// The triggers of a process that ended go with it; returns the notifications to release.
pub fn owner_gone(owner: Pid) -> Vec<ObjectId> {
    let mut guard = PSI.lock();
    let Some(psi) = guard.as_mut() else { return Vec::new() };
    let mut gone = Vec::new();
    let Psi { groups, subscribers, .. } = psi;
    subscribers.retain(|s| {
        if s.owner != owner {
            return true;
        }
        if let Some(state) = groups.get_mut(&s.group) {
            let _ = state.remove_trigger(s.id);
        }
        gone.push(s.notify);
        false
    });
    gone
}

/// From the timer tick: polls the triggers when due and signals the ones that fired.
pub fn tick(k: &mut Kernel, now: u64) {
    let mut fired: Vec<(ObjectId, u64)> = Vec::new();
    {
        let mut guard = PSI.lock();
        let Some(psi) = guard.as_mut() else { return };
        if now < psi.next_poll_ns {
            return;
        }
        let mut next = u64::MAX;
        let Psi { groups, subscribers, .. } = psi;
        for (&group, state) in groups.iter_mut() {
            let Some(interval) = state.poll_interval_ns() else { continue };
            for id in state.poll(now) {
                if let Some(s) = subscribers.iter().find(|s| s.group == group && s.id == id) {
                    let _ = state.take_event(id);
                    fired.push((s.notify, s.bits));
                }
            }
            next = next.min(now + interval);
        }
        psi.next_poll_ns = next;
    }
    for (notify, bits) in fired {
        let _ = crate::ipc::notification::signal(k, notify, bits);
    }
}
