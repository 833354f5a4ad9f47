//! The group hierarchy: an arena of at most [`MAX_GROUPS`] groups under a root, each a cgroup-v2
//! memory controller (Linux `struct mem_cgroup` with its `page_counter`).
//!
//! Invariants (checked by the property tests):
//! - the tree is well formed: every live group but the root has a live parent that lists it once
//!   among its children, depth ≤ [`MAX_DEPTH`], names are unique among siblings;
//! - `current` of a group = its own charges + the `current` of its children (charges are
//!   hierarchical, as `page_counter_charge` walks to the root), so a parent is never below the sum of
//!   its children; likewise for every `stat` kind and VM event;
//! - a charge through [`Groups::try_charge`] never takes any group above its `max`; only
//!   [`Groups::force_charge`] and lowering a limit ([`Groups::set_max`]) can leave a group above it;
//! - `peak ≥ current` at all times.
//!
//! Ids carry a generation, so an id kept after its group was removed is refused ([`Error::NotFound`])
//! instead of naming whatever group reuses the slot.
//!
//! Deviations from Linux: cgroup-v2's "no internal processes" rule is not enforced (tasks may live in
//! inner groups); `remove` refuses a group that still has charges (Linux reparents them on `rmdir`);
//! the group-count and depth limits are fixed ([`MAX_GROUPS`], [`MAX_DEPTH`]) instead of
//! `cgroup.max.descendants` / `cgroup.max.depth`.

mod counter;
mod kinds;
mod protection;
mod text;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;

use crate::Error;

pub use counter::{Charge, HIGH_DELAY_MAX_MS, MEMCG_CHARGE_BATCH};
pub use kinds::{Event, StatKind, VmEvent};
pub use protection::Protection;
pub use text::{PAGE_COUNTER_MAX, parse_limit, parse_limit_pages, parse_oom_group, write_bytes, write_limit};

/// Groups, the root included.
pub const MAX_GROUPS: usize = 64;
/// Deepest level below the root ("/a/b/c/d/e/f/g/h" is depth 8).
pub const MAX_DEPTH: u8 = 8;
/// Longest group name, in bytes.
pub const MAX_NAME_LEN: usize = 64;
/// The "no limit" value of `min`, `low`, `high` and `max` (written and shown as `max`).
pub const MAX: u64 = u64::MAX;

const SLOT_BITS: u32 = 8;
const SLOT_MASK: u32 = (1 << SLOT_BITS) - 1;
const GENERATION_MASK: u32 = u32::MAX >> SLOT_BITS;
const _: () = assert!(MAX_GROUPS <= 1 << SLOT_BITS);

/// A group's id: arena slot in the low 8 bits, the slot's generation above. The root is 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupId(u32);

impl GroupId {
    /// The root group, which always exists.
    pub const ROOT: GroupId = GroupId(0);

    /// The id as a number, for the ABI.
    pub const fn as_u32(self) -> u32 {
        self.0
    }

    /// An id received through the ABI; [`Groups`] checks it on use.
    pub const fn from_u32(raw: u32) -> GroupId {
        GroupId(raw)
    }

    const fn new(slot: usize, generation: u32) -> GroupId {
        GroupId((generation << SLOT_BITS) | slot as u32)
    }

    const fn slot(self) -> usize {
        (self.0 & SLOT_MASK) as usize
    }

    const fn generation(self) -> u32 {
        self.0 >> SLOT_BITS
    }
}

/// Mount-wide behaviour switches (Linux's cgroup2 mount options).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `memory_recursiveprot`: unclaimed protection of a parent is shared among its children in
    /// proportion to their unprotected usage.
    pub recursive_protection: bool,
    /// `memory_localevents`: `memory.events` counts only the group's own events (no propagation).
    pub local_events: bool,
}

/// One memory group: its limits and counters. All page counts are in pages.
#[derive(Clone, Debug)]
pub struct Group {
    name: String,
    parent: Option<GroupId>,
    children: Vec<GroupId>,
    depth: u8,
    current: u64,
    peak: u64,
    failcnt: u64,
    min: u64,
    low: u64,
    high: u64,
    max: u64,
    oom_group: bool,
    events: [u64; Event::COUNT],
    events_local: [u64; Event::COUNT],
    stat: [u64; StatKind::COUNT],
    vm_events: [u64; VmEvent::COUNT],
    nr_tasks: u32,
    /// Bytes of kernel objects charged to this group itself (`charge_objects`).
    object_bytes: u64,
}

impl Group {
    fn new(name: String, parent: Option<GroupId>, depth: u8) -> Group {
        Group {
            name,
            parent,
            children: Vec::new(),
            depth,
            current: 0,
            peak: 0,
            failcnt: 0,
            min: 0,
            low: 0,
            high: MAX,
            max: MAX,
            oom_group: false,
            events: [0; Event::COUNT],
            events_local: [0; Event::COUNT],
            stat: [0; StatKind::COUNT],
            vm_events: [0; VmEvent::COUNT],
            nr_tasks: 0,
            object_bytes: 0,
        }
    }

    /// The name (empty for the root).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The parent, `None` for the root.
    pub fn parent(&self) -> Option<GroupId> {
        self.parent
    }
    /// Children in creation order.
    pub fn children(&self) -> &[GroupId] {
        &self.children
    }
    /// Levels below the root (root = 0).
    pub fn depth(&self) -> u8 {
        self.depth
    }
    /// `memory.current`, pages, this group and its descendants.
    pub fn current(&self) -> u64 {
        self.current
    }
    /// `memory.peak`, pages: the highest `current` since creation or the last reset.
    pub fn peak(&self) -> u64 {
        self.peak
    }
    /// Charges refused at this group's `max` (the page counter's `failcnt`).
    pub fn failcnt(&self) -> u64 {
        self.failcnt
    }
    /// `memory.min`, pages.
    pub fn min(&self) -> u64 {
        self.min
    }
    /// `memory.low`, pages.
    pub fn low(&self) -> u64 {
        self.low
    }
    /// `memory.high`, pages ([`MAX`] = none).
    pub fn high(&self) -> u64 {
        self.high
    }
    /// `memory.max`, pages ([`MAX`] = none).
    pub fn max(&self) -> u64 {
        self.max
    }
    /// `memory.oom.group`.
    pub fn oom_group(&self) -> bool {
        self.oom_group
    }
    /// A `memory.events` counter (includes descendants' events unless [`Options::local_events`]).
    pub fn event(&self, event: Event) -> u64 {
        self.events[event.index()]
    }
    /// A `memory.events.local` counter (this group's own events).
    pub fn event_local(&self, event: Event) -> u64 {
        self.events_local[event.index()]
    }
    /// Pages of one kind, this group and its descendants.
    pub fn stat(&self, kind: StatKind) -> u64 {
        self.stat[kind.index()]
    }
    /// A VM event count, this group and its descendants.
    pub fn vm_event(&self, event: VmEvent) -> u64 {
        self.vm_events[event.index()]
    }
    /// Tasks attached to this group itself.
    /// Bytes of kernel objects charged to this group itself.
    pub fn object_bytes(&self) -> u64 {
        self.object_bytes
    }

    pub fn nr_tasks(&self) -> u32 {
        self.nr_tasks
    }
}

#[derive(Clone, Debug)]
struct Slot {
    generation: u32,
    group: Option<Group>,
}

/// The hierarchy of memory groups.
#[derive(Clone, Debug)]
pub struct Groups {
    slots: Vec<Slot>,
    total_pages: u64,
    options: Options,
}

impl Groups {
    /// A hierarchy holding only the root, for a machine with `total_pages` of memory (used to scale
    /// the OOM score of a system-wide OOM).
    pub fn new(total_pages: u64) -> Groups {
        Groups::with_options(total_pages, Options::default())
    }

    /// Like [`Groups::new`] with mount options.
    pub fn with_options(total_pages: u64, options: Options) -> Groups {
        let root = Group::new(String::new(), None, 0);
        let mut slots = Vec::with_capacity(MAX_GROUPS);
        slots.push(Slot { generation: 0, group: Some(root) });
        Groups { slots, total_pages, options }
    }

    /// Memory of the machine, pages.
    pub fn total_pages(&self) -> u64 {
        self.total_pages
    }

    /// The mount options.
    pub fn options(&self) -> Options {
        self.options
    }

    /// Live groups, the root included.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|slot| slot.group.is_some()).count()
    }

    /// Never true: the root always exists.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The group `id`, or [`Error::NotFound`] for an unknown or stale id.
    pub fn get(&self, id: GroupId) -> Result<&Group, Error> {
        match self.slots.get(id.slot()) {
            Some(Slot { generation, group: Some(group) }) if *generation == id.generation() => Ok(group),
            _ => Err(Error::NotFound),
        }
    }

    fn get_mut(&mut self, id: GroupId) -> Result<&mut Group, Error> {
        match self.slots.get_mut(id.slot()) {
            Some(Slot { generation, group: Some(group) }) if *generation == id.generation() => Ok(group),
            _ => Err(Error::NotFound),
        }
    }

    /// Whether `id` names a live group.
    pub fn contains(&self, id: GroupId) -> bool {
        self.get(id).is_ok()
    }

    /// Creates `name` under `parent` (`mkdir`). Names are 1–[`MAX_NAME_LEN`] bytes of
    /// `[A-Za-z0-9_.-]`, not `.`/`..`, and do not start with `cgroup.` or `memory.` (they would hide
    /// the interface files limitd shows beside them).
    pub fn create(&mut self, parent: GroupId, name: &str) -> Result<GroupId, Error> {
        check_name(name)?;
        let parent_group = self.get(parent)?;
        if parent_group.children.iter().any(|&child| self.get(child).is_ok_and(|c| c.name == name)) {
            return Err(Error::Exists);
        }
        let depth = parent_group.depth + 1;
        if depth > MAX_DEPTH {
            return Err(Error::Limit);
        }
        let slot = match self.slots.iter().position(|slot| slot.group.is_none()) {
            Some(free) => free,
            None if self.slots.len() < MAX_GROUPS => {
                self.slots.push(Slot { generation: 0, group: None });
                self.slots.len() - 1
            }
            None => return Err(Error::Limit),
        };
        let generation = self.slots[slot].generation;
        let id = GroupId::new(slot, generation);
        self.slots[slot].group = Some(Group::new(String::from(name), Some(parent), depth));
        self.get_mut(parent)?.children.push(id);
        Ok(id)
    }

    /// Removes an empty group (`rmdir`): no tasks, no children and nothing charged, else
    /// [`Error::Busy`]. The root cannot be removed ([`Error::Root`]).
    pub fn remove(&mut self, id: GroupId) -> Result<(), Error> {
        if id == GroupId::ROOT {
            return Err(Error::Root);
        }
        let group = self.get(id)?;
        if group.nr_tasks != 0 || !group.children.is_empty() || group.current != 0 {
            return Err(Error::Busy);
        }
        let parent = group.parent.ok_or(Error::Root)?;
        self.get_mut(parent)?.children.retain(|&child| child != id);
        let slot = &mut self.slots[id.slot()];
        slot.group = None;
        slot.generation = (slot.generation + 1) & GENERATION_MASK;
        Ok(())
    }

    /// The group at `path`: `/` is the root, `/a/b` a grandchild. Components must be non-empty.
    pub fn lookup(&self, path: &str) -> Result<GroupId, Error> {
        let rest = path.strip_prefix('/').ok_or(Error::Invalid)?;
        let mut id = GroupId::ROOT;
        if rest.is_empty() {
            return Ok(id);
        }
        for component in rest.split('/') {
            if component.is_empty() {
                return Err(Error::Invalid);
            }
            let group = self.get(id)?;
            id = group
                .children
                .iter()
                .copied()
                .find(|&child| self.get(child).is_ok_and(|c| c.name == component))
                .ok_or(Error::NotFound)?;
        }
        Ok(id)
    }

    /// The path of `id` (`/` for the root, `/a/b` below it), as cgroup paths are printed.
    pub fn path(&self, id: GroupId) -> Result<String, Error> {
        let mut names = Vec::new();
        for ancestor in self.ancestors(id)? {
            let group = self.get(ancestor)?;
            if group.parent.is_some() {
                names.push(group.name.as_str());
            }
        }
        if names.is_empty() {
            return Ok(String::from("/"));
        }
        let mut path = String::new();
        for name in names.iter().rev() {
            path.push('/');
            path.push_str(name);
        }
        Ok(path)
    }

    /// `id`, its parent, … up to and including the root.
    pub fn ancestors(&self, id: GroupId) -> Result<Vec<GroupId>, Error> {
        let mut chain = Vec::with_capacity(usize::from(MAX_DEPTH) + 1);
        let mut next = Some(id);
        while let Some(current) = next {
            chain.push(current);
            next = self.get(current)?.parent;
        }
        Ok(chain)
    }

    /// `id` and all its descendants in pre-order, children in creation order (the order in which
    /// Linux's `css_next_descendant_pre` visits a subtree).
    pub fn subtree(&self, id: GroupId) -> Result<Vec<GroupId>, Error> {
        self.get(id)?;
        let mut order = Vec::new();
        let mut stack = alloc::vec![id];
        while let Some(current) = stack.pop() {
            order.push(current);
            stack.extend(self.get(current)?.children.iter().rev());
        }
        Ok(order)
    }

    /// Whether `id` is `ancestor` or below it (Linux `mem_cgroup_is_descendant`). False for unknown ids.
    pub fn is_descendant(&self, id: GroupId, ancestor: GroupId) -> bool {
        let mut next = Some(id);
        while let Some(current) = next {
            if current == ancestor {
                return true;
            }
            next = match self.get(current) {
                Ok(group) => group.parent,
                Err(_) => return false,
            };
        }
        false
    }

    /// A task joins `id`.
    pub fn attach_task(&mut self, id: GroupId) -> Result<(), Error> {
        let group = self.get_mut(id)?;
        group.nr_tasks = group.nr_tasks.checked_add(1).ok_or(Error::OutOfRange)?;
        Ok(())
    }

    /// A task leaves `id` (exit, or the first half of a move).
    pub fn detach_task(&mut self, id: GroupId) -> Result<(), Error> {
        let group = self.get_mut(id)?;
        group.nr_tasks = group.nr_tasks.checked_sub(1).ok_or(Error::Underflow)?;
        Ok(())
    }

    /// A task moves from `from` to `to` (writing its pid to `cgroup.procs`). As in cgroup v2, the
    /// memory it already charged stays charged to `from`.
    pub fn move_task(&mut self, from: GroupId, to: GroupId) -> Result<(), Error> {
        if self.get(from)?.nr_tasks == 0 {
            return Err(Error::Underflow);
        }
        self.get(to)?;
        self.detach_task(from)?;
        self.attach_task(to)
    }
}

fn check_name(name: &str) -> Result<(), Error> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    if name.is_empty()
        || name.len() > MAX_NAME_LEN
        || name == "."
        || name == ".."
        || name.starts_with("cgroup.")
        || name.starts_with("memory.")
        || !name.bytes().all(allowed)
    {
        return Err(Error::Invalid);
    }
    Ok(())
}
