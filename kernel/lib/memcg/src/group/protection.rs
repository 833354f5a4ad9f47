//! Effective `memory.min` / `memory.low`: Linux `mem_cgroup_calculate_protection` and
//! `effective_protection` (mm/memcontrol.c, cgroup-v2.rst "Memory Interface Files", "memory.low").
//!
//! Protection is relative to a reclaim root (the root group for global reclaim, the group at its
//! limit for limit reclaim). The root's children get their configured values. Below that, a child's
//! protected usage is `min(current, setting)`; when the children of a parent together use more
//! protection than the parent effectively has, the parent's effective protection is shared in
//! proportion to each child's protected usage. With [`Options::recursive_protection`]
//! (`memory_recursiveprot`), protection the children leave unclaimed is also shared, in proportion to
//! each child's unprotected usage.
//!
//! Deviation: Linux leaves a stale cached value for a group with no usage; here it is 0.

use super::{GroupId, Groups};
use crate::Error;

/// Effective protection of a group, pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Protection {
    /// Effective `memory.min` ("emin"): never reclaimed below this.
    pub min: u64,
    /// Effective `memory.low` ("elow"): reclaimed below this only when nothing else is left.
    pub low: u64,
}

impl Groups {
    /// Effective protection of `id` for reclaim started at `reclaim_root` (which must be `id` or an
    /// ancestor, else [`Error::Invalid`]). The reclaim root itself is unprotected (0).
    pub fn effective_protection(&self, reclaim_root: GroupId, id: GroupId) -> Result<Protection, Error> {
        self.get(reclaim_root)?;
        let chain = self.ancestors(id)?;
        let root_at = chain.iter().position(|&level| level == reclaim_root).ok_or(Error::Invalid)?;
        let mut parent = reclaim_root;
        let mut parent_effective = Protection::default();
        // Walk down from the reclaim root's child to `id`.
        for &level in chain[..root_at].iter().rev() {
            let group = self.get(level)?;
            let effective = if group.current == 0 {
                Protection::default()
            } else if parent == reclaim_root {
                Protection { min: group.min, low: group.low }
            } else {
                let parent_group = self.get(parent)?;
                let (mut siblings_min, mut siblings_low) = (0u64, 0u64);
                for &sibling in &parent_group.children {
                    let sibling = self.get(sibling)?;
                    siblings_min = siblings_min.saturating_add(sibling.current.min(sibling.min));
                    siblings_low = siblings_low.saturating_add(sibling.current.min(sibling.low));
                }
                let recursive = self.options.recursive_protection;
                let share = |setting, parent_effective, siblings_protected| {
                    Share {
                        usage: group.current,
                        parent_usage: parent_group.current,
                        setting,
                        parent_effective,
                        siblings_protected,
                    }
                    .effective(recursive)
                };
                Protection {
                    min: share(group.min, parent_effective.min, siblings_min),
                    low: share(group.low, parent_effective.low, siblings_low),
                }
            };
            parent = level;
            parent_effective = effective;
        }
        Ok(parent_effective)
    }

    /// Effective `memory.min` of `id` under global reclaim.
    pub fn effective_min(&self, id: GroupId) -> Result<u64, Error> {
        Ok(self.effective_protection(GroupId::ROOT, id)?.min)
    }

    /// Effective `memory.low` of `id` under global reclaim.
    pub fn effective_low(&self, id: GroupId) -> Result<u64, Error> {
        Ok(self.effective_protection(GroupId::ROOT, id)?.low)
    }

    /// Linux `mem_cgroup_below_min`: reclaim from `reclaim_root` must skip `id` entirely.
    pub fn below_min(&self, reclaim_root: GroupId, id: GroupId) -> Result<bool, Error> {
        if id == reclaim_root {
            return Ok(false);
        }
        Ok(self.effective_protection(reclaim_root, id)?.min >= self.get(id)?.current)
    }

    /// Linux `mem_cgroup_below_low`: reclaim skips `id` unless nothing else is reclaimable (and then
    /// raises [`Event::Low`](super::Event::Low) on it).
    pub fn below_low(&self, reclaim_root: GroupId, id: GroupId) -> Result<bool, Error> {
        if id == reclaim_root {
            return Ok(false);
        }
        Ok(self.effective_protection(reclaim_root, id)?.low >= self.get(id)?.current)
    }
}

/// The inputs of Linux's `effective_protection`.
struct Share {
    usage: u64,
    parent_usage: u64,
    setting: u64,
    parent_effective: u64,
    siblings_protected: u64,
}

impl Share {
    fn effective(&self, recursive: bool) -> u64 {
        let protected = self.usage.min(self.setting);
        // Overcommitted: the parent's protection is shared in proportion to protected usage.
        if self.siblings_protected > self.parent_effective {
            return ratio(protected, self.parent_effective, self.siblings_protected);
        }
        let mut effective = protected;
        if recursive
            && self.parent_effective > self.siblings_protected
            && self.parent_usage > self.siblings_protected
            && self.usage > protected
        {
            let unclaimed = self.parent_effective - self.siblings_protected;
            effective = effective.saturating_add(ratio(
                unclaimed,
                self.usage - protected,
                self.parent_usage - self.siblings_protected,
            ));
        }
        effective
    }
}

/// `a * b / c` without intermediate overflow (`c > 0`).
fn ratio(a: u64, b: u64, c: u64) -> u64 {
    (u128::from(a) * u128::from(b) / u128::from(c)) as u64
}
