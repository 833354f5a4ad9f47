//! Charging and limits: Linux's `page_counter_try_charge` / `page_counter_charge` /
//! `page_counter_uncharge`, `memcg_memory_event`, `reclaim_high`'s events and
//! `calculate_high_delay`, and the limit writes of `memory.max`/`high`/`min`/`low`/`oom.group`.
//!
//! A charge walks from the group to the root. [`Groups::try_charge`] first finds the lowest level
//! that the charge would take past its `max`; if there is one, nothing is charged (Linux charges
//! speculatively and rolls back — the outcome is the same). Otherwise every level's `current`, the
//! kind's `stat` and `peak` grow.
//!
//! What the caller does with the outcome (Linux `try_charge_memcg`): on [`Charge::AtMax`], reclaim
//! in that group, retry, and when that cannot succeed raise [`Event::Oom`] on it and run the OOM
//! killer with the group as scope; on `over_high`, before returning to user mode call
//! [`Groups::raise_high_events`] and sleep [`Groups::high_delay_ms`].

use super::{Event, GroupId, Groups, MAX, StatKind, VmEvent};
use crate::Error;

/// Linux's `MEMCG_CHARGE_BATCH`: the charge size the high-limit penalty is scaled to.
pub const MEMCG_CHARGE_BATCH: u64 = 64;
/// Longest throttling sleep for one return to user mode (`MEMCG_MAX_HIGH_DELAY_JIFFIES`, 2 s).
pub const HIGH_DELAY_MAX_MS: u64 = 2000;
/// Penalties this short are not worth sleeping (`HZ / 100`).
const HIGH_DELAY_MIN_MS: u64 = 10;
const DELAY_PRECISION_SHIFT: u32 = 20;
const DELAY_SCALING_SHIFT: u32 = 14;
/// Delays are computed in milliseconds, i.e. with Linux's formula at HZ = 1000.
const MS_PER_SECOND: u128 = 1000;

/// The outcome of [`Groups::try_charge`].
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charge {
    /// Charged at every level. `over_high` is the lowest level (from the charged group up) now above
    /// its `memory.high`, if any: the caller throttles the task.
    Charged { over_high: Option<GroupId> },
    /// Nothing was charged: `group` — the charged group or the lowest ancestor — would pass its
    /// `memory.max`. Its [`Event::Max`] and `failcnt` were counted.
    AtMax { group: GroupId },
}

impl Groups {
    /// Charges `pages` of `kind` to `id` and its ancestors unless one of them would pass its `max`.
    pub fn try_charge(&mut self, id: GroupId, pages: u64, kind: StatKind) -> Result<Charge, Error> {
        let mut next = Some(id);
        while let Some(level) = next {
            let group = self.get(level)?;
            let fits = group.current.checked_add(pages).is_some_and(|new| new <= group.max);
            if !fits {
                let group = self.get_mut(level)?;
                group.failcnt = group.failcnt.saturating_add(1);
                self.raise_event(level, Event::Max)?;
                return Ok(Charge::AtMax { group: level });
            }
            next = group.parent;
        }
        self.commit_charge(id, pages, kind)
    }

    /// Charges regardless of limits (Linux's `force:` path for allocations that must not fail, and
    /// `page_counter_charge`). If a level ends above its `max`, the lowest such level gets an
    /// [`Event::Max`]. Fails only on arithmetic overflow.
    pub fn force_charge(&mut self, id: GroupId, pages: u64, kind: StatKind) -> Result<Charge, Error> {
        let mut next = Some(id);
        while let Some(level) = next {
            let group = self.get(level)?;
            group.current.checked_add(pages).ok_or(Error::OutOfRange)?;
            next = group.parent;
        }
        let charge = self.commit_charge(id, pages, kind)?;
        let mut next = Some(id);
        while let Some(level) = next {
            let group = self.get(level)?;
            if group.current > group.max {
                self.raise_event(level, Event::Max)?;
                break;
            }
            next = group.parent;
        }
        Ok(charge)
    }

    fn commit_charge(&mut self, id: GroupId, pages: u64, kind: StatKind) -> Result<Charge, Error> {
        let mut next = Some(id);
        while let Some(level) = next {
            let group = self.get_mut(level)?;
            group.current += pages;
            group.stat[kind.index()] += pages;
            group.peak = group.peak.max(group.current);
            next = group.parent;
        }
        let mut over_high = None;
        let mut next = Some(id);
        while let Some(level) = next {
            let group = self.get(level)?;
            if group.current > group.high {
                over_high = Some(level);
                break;
            }
            next = group.parent;
        }
        Ok(Charge::Charged { over_high })
    }

    /// Returns `pages` of `kind` charged earlier to `id` itself (the group that was charged, which
    /// the caller remembers per page as Linux does). [`Error::Underflow`] and no change if `id`'s own
    /// charges of that kind (its counters minus its children's) are smaller.
    pub fn uncharge(&mut self, id: GroupId, pages: u64, kind: StatKind) -> Result<(), Error> {
        let group = self.get(id)?;
        let (mut own_current, mut own_stat) = (group.current, group.stat[kind.index()]);
        for &child in &group.children {
            let child = self.get(child)?;
            own_current = own_current.saturating_sub(child.current);
            own_stat = own_stat.saturating_sub(child.stat[kind.index()]);
        }
        if own_current < pages || own_stat < pages {
            return Err(Error::Underflow);
        }
        let mut next = Some(id);
        while let Some(level) = next {
            let group = self.get_mut(level)?;
            group.current -= pages;
            group.stat[kind.index()] -= pages;
            next = group.parent;
        }
        Ok(())
    }

    /// Charges `bytes` of kernel objects made for `id`'s tasks (Linux's `obj_cgroup_charge`): objects
    /// are counted by the byte and the pages they add up to — `ceil(bytes / page)` for the group's own
    /// objects — are charged as `slab_unreclaimable` whenever that count grows. Like Linux's accounted
    /// kernel allocations that must not fail, the charge is forced past `memory.max` (the next user page
    /// then meets the limit).
    pub fn charge_objects(&mut self, id: GroupId, bytes: u64) -> Result<Charge, Error> {
        let old = self.get(id)?.object_bytes;
        let new = old.checked_add(bytes).ok_or(Error::OutOfRange)?;
        let pages = pages_of(new) - pages_of(old);
        let charge = if pages > 0 {
            self.force_charge(id, pages, StatKind::SlabUnreclaimable)?
        } else {
            Charge::Charged { over_high: None }
        };
        self.get_mut(id)?.object_bytes = new;
        Ok(charge)
    }

    /// Gives back `bytes` of objects charged to `id` with [`charge_objects`](Groups::charge_objects);
    /// [`Error::Underflow`] and no change if `id` holds fewer.
    pub fn uncharge_objects(&mut self, id: GroupId, bytes: u64) -> Result<(), Error> {
        let old = self.get(id)?.object_bytes;
        let new = old.checked_sub(bytes).ok_or(Error::Underflow)?;
        let pages = pages_of(old) - pages_of(new);
        if pages > 0 {
            self.uncharge(id, pages, StatKind::SlabUnreclaimable)?;
        }
        self.get_mut(id)?.object_bytes = new;
        Ok(())
    }

    /// Pages `id` can still be charged before some level reaches its `max`.
    pub fn margin(&self, id: GroupId) -> Result<u64, Error> {
        let mut margin = u64::MAX;
        for level in self.ancestors(id)? {
            let group = self.get(level)?;
            margin = margin.min(group.max.saturating_sub(group.current));
        }
        Ok(margin)
    }

    /// Counts `event` (Linux `memcg_memory_event`): once in the group's `memory.events.local`, and
    /// in `memory.events` of the group and of each ancestor below the root (only the group's with
    /// [`Options::local_events`](super::Options)).
    pub fn raise_event(&mut self, id: GroupId, event: Event) -> Result<(), Error> {
        let local_only = self.options.local_events;
        let group = self.get_mut(id)?;
        group.events_local[event.index()] = group.events_local[event.index()].saturating_add(1);
        let mut level = id;
        loop {
            let group = self.get_mut(level)?;
            group.events[event.index()] = group.events[event.index()].saturating_add(1);
            match group.parent {
                Some(parent) if parent != GroupId::ROOT && !local_only => level = parent,
                _ => return Ok(()),
            }
        }
    }

    /// Adds `count` to a VM event counter of `id` and its ancestors (e.g. `pgfault` per fault).
    pub fn count_vm_event(&mut self, id: GroupId, event: VmEvent, count: u64) -> Result<(), Error> {
        self.get(id)?;
        let mut next = Some(id);
        while let Some(level) = next {
            let group = self.get_mut(level)?;
            group.vm_events[event.index()] = group.vm_events[event.index()].saturating_add(count);
            next = group.parent;
        }
        Ok(())
    }

    /// Linux `reclaim_high`'s bookkeeping: raises [`Event::High`] on `id` and on each ancestor below
    /// the root whose `current` is above its `high`. Returns how many levels were over.
    pub fn raise_high_events(&mut self, id: GroupId) -> Result<u32, Error> {
        let mut over = 0;
        let mut level = id;
        loop {
            let group = self.get(level)?;
            let parent = group.parent;
            if group.current > group.high {
                self.raise_event(level, Event::High)?;
                over += 1;
            }
            match parent {
                Some(parent) if parent != GroupId::ROOT => level = parent,
                _ => return Ok(over),
            }
        }
    }

    /// Linux `calculate_high_delay(mem_find_max_overage)` in milliseconds (HZ = 1000): the penalty for
    /// a task that charged `nr_pages` into `id` while `id` or an ancestor below the root is above
    /// `high`, growing with the square of the largest relative overage and capped at
    /// [`HIGH_DELAY_MAX_MS`]. Linux's table: high 100M, usage 101M → 6 ms, 110M → 639 ms.
    pub fn high_penalty_ms(&self, id: GroupId, nr_pages: u64) -> Result<u64, Error> {
        let mut max_overage: u128 = 0;
        let mut level = id;
        loop {
            let group = self.get(level)?;
            max_overage = max_overage.max(overage(group.current, group.high));
            match group.parent {
                Some(parent) if parent != GroupId::ROOT => level = parent,
                _ => break,
            }
        }
        if max_overage == 0 {
            return Ok(0);
        }
        let penalty = max_overage.saturating_mul(max_overage).saturating_mul(MS_PER_SECOND)
            >> (DELAY_PRECISION_SHIFT + DELAY_SCALING_SHIFT);
        let penalty = penalty.saturating_mul(u128::from(nr_pages)) / u128::from(MEMCG_CHARGE_BATCH);
        Ok(penalty.min(u128::from(HIGH_DELAY_MAX_MS)) as u64)
    }

    /// How long to throttle on the way back to user mode (Linux `mem_cgroup_handle_over_high`):
    /// [`high_penalty_ms`](Groups::high_penalty_ms), or 0 when it is 10 ms or less.
    pub fn high_delay_ms(&self, id: GroupId, nr_pages: u64) -> Result<u64, Error> {
        let penalty = self.high_penalty_ms(id, nr_pages)?;
        Ok(if penalty <= HIGH_DELAY_MIN_MS { 0 } else { penalty })
    }

    /// Writes `memory.max`. Lowering it below `current` is allowed; the return value is how many
    /// pages `current` exceeds the new limit by — the caller reclaims, and if that fails raises
    /// [`Event::Oom`] and runs the OOM killer in the group (Linux `memory_max_write`).
    pub fn set_max(&mut self, id: GroupId, pages: u64) -> Result<u64, Error> {
        let group = self.limits_mut(id)?;
        group.max = pages;
        Ok(group.current.saturating_sub(pages))
    }

    /// Writes `memory.high`; returns how many pages `current` is above it (the caller reclaims, it
    /// never OOM-kills for `high`).
    pub fn set_high(&mut self, id: GroupId, pages: u64) -> Result<u64, Error> {
        let group = self.limits_mut(id)?;
        group.high = pages;
        Ok(group.current.saturating_sub(pages))
    }

    /// Writes `memory.min` (stored as given; Linux does not require min ≤ low ≤ high ≤ max).
    pub fn set_min(&mut self, id: GroupId, pages: u64) -> Result<(), Error> {
        self.limits_mut(id)?.min = pages;
        Ok(())
    }

    /// Writes `memory.low`.
    pub fn set_low(&mut self, id: GroupId, pages: u64) -> Result<(), Error> {
        self.limits_mut(id)?.low = pages;
        Ok(())
    }

    /// Writes `memory.oom.group`.
    pub fn set_oom_group(&mut self, id: GroupId, oom_group: bool) -> Result<(), Error> {
        self.limits_mut(id)?.oom_group = oom_group;
        Ok(())
    }

    /// Resets `memory.peak` to the current usage.
    pub fn reset_peak(&mut self, id: GroupId) -> Result<(), Error> {
        let group = self.limits_mut(id)?;
        group.peak = group.current;
        Ok(())
    }

    /// The limit files do not exist on the root.
    fn limits_mut(&mut self, id: GroupId) -> Result<&mut super::Group, Error> {
        let group = self.get_mut(id)?;
        if group.parent.is_none() {
            return Err(Error::Root);
        }
        Ok(group)
    }

    /// Pages the OOM killer scales `oom_score_adj` by when `id` is out of memory (Linux
    /// `mem_cgroup_get_max(memcg) ?: 1`, without swap): the group's `max`, or the machine's memory
    /// when the group has no limit.
    pub fn oom_total_pages(&self, id: GroupId) -> Result<u64, Error> {
        let group = self.get(id)?;
        let total = if group.max == MAX { self.total_pages } else { group.max };
        Ok(total.max(1))
    }
}

/// Linux `calculate_overage`: how far `usage` is above `high`, as a fraction of `high` in
/// 2^-20 units (a `high` of 0 counts as 1 page).
fn overage(usage: u64, high: u64) -> u128 {
    if usage <= high {
        return 0;
    }
    let high = high.max(1);
    (u128::from(usage - high) << DELAY_PRECISION_SHIFT) / u128::from(high)
}

/// Whole pages `bytes` of objects occupy.
fn pages_of(bytes: u64) -> u64 {
    bytes.div_ceil(crate::PAGE_SIZE)
}
