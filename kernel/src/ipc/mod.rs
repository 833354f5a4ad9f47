//! IPC objects: synchronous endpoints and asynchronous notifications, reached through per-task handles
//! (capabilities: a task can only name an object it holds a handle to).
//!
//! Objects live in one table under the scheduler lock; a handle is (object id, kind). An object is
//! reference-counted by the handles naming it and goes away with the last one; tasks still blocked on it
//! are then woken with -EPIPE. Queues hold pids; a pid whose task no longer waits there (it was killed)
//! is skipped when dequeued, so killing a task never has to search the queues.
//! The message transfer itself is in [`endpoint`]; the waking in [`notification`].

pub mod endpoint;
pub mod notification;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

use crate::task::Pid;

pub type ObjectId = u64;

/// What a handle names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Endpoint,
    Notification,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle {
    pub object: ObjectId,
    pub kind: Kind,
}

/// One IPC message: four words, an optional bulk payload (≤ one page), who sent it, and a status (the
/// reply's, or the result code of a request).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub words: [u64; 4],
    pub bulk: Option<Vec<u8>>,
    pub badge: u64,
    pub status: i64,
}

pub struct Endpoint {
    /// Senders and callers waiting for a receiver, in arrival order.
    pub senders: VecDeque<Pid>,
    /// Receivers waiting for a sender.
    pub receivers: VecDeque<Pid>,
    /// The task that last received here: the one that inherits waiting senders' priority.
    pub server: Option<Pid>,
}

pub struct Notification {
    pub word: u64,
    pub waiters: VecDeque<Pid>,
}

pub enum Object {
    Endpoint(Endpoint),
    Notification(Notification),
}

struct Entry {
    object: Object,
    refs: u32,
}

/// The object table.
pub struct Objects {
    map: BTreeMap<ObjectId, Entry>,
    next_id: ObjectId,
}

impl Objects {
    pub const fn new() -> Self {
        Objects { map: BTreeMap::new(), next_id: 1 }
    }

    /// Creates an object with one reference.
    pub fn create(&mut self, object: Object) -> Handle {
        let id = self.next_id;
        self.next_id += 1;
        let kind = match object {
            Object::Endpoint(_) => Kind::Endpoint,
            Object::Notification(_) => Kind::Notification,
        };
        self.map.insert(id, Entry { object, refs: 1 });
        Handle { object: id, kind }
    }

    /// One more handle names `id`.
    pub fn get_ref(&mut self, id: ObjectId) {
        if let Some(e) = self.map.get_mut(&id) {
            e.refs += 1;
        }
    }

    /// One handle fewer; returns the tasks to wake with -EPIPE when the object went away.
    pub fn put_ref(&mut self, id: ObjectId) -> Vec<Pid> {
        let Some(e) = self.map.get_mut(&id) else { return Vec::new() };
        e.refs -= 1;
        if e.refs > 0 {
            return Vec::new();
        }
        match self.map.remove(&id).map(|e| e.object) {
            Some(Object::Endpoint(ep)) => ep.senders.into_iter().chain(ep.receivers).collect(),
            Some(Object::Notification(n)) => n.waiters.into_iter().collect(),
            None => Vec::new(),
        }
    }

    pub fn endpoint(&mut self, id: ObjectId) -> Option<&mut Endpoint> {
        match self.map.get_mut(&id).map(|e| &mut e.object) {
            Some(Object::Endpoint(ep)) => Some(ep),
            _ => None,
        }
    }

    pub fn notification(&mut self, id: ObjectId) -> Option<&mut Notification> {
        match self.map.get_mut(&id).map(|e| &mut e.object) {
            Some(Object::Notification(n)) => Some(n),
            _ => None,
        }
    }

    pub fn endpoint_server(&self, id: ObjectId) -> Option<Pid> {
        match self.map.get(&id).map(|e| &e.object) {
            Some(Object::Endpoint(ep)) => ep.server,
            _ => None,
        }
    }
}

impl Default for Objects {
    fn default() -> Self {
        Self::new()
    }
}
