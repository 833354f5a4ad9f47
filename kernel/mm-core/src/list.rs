//! Intrusive doubly linked lists of pages, threaded through `Page::next`/`Page::prev` by frame number.
//!
//! A list head stores the first and last frame and the length; a page belongs to at most one list at a
//! time (a buddy free list or a per-CPU list), which its owner guarantees.

use crate::page::{NO_PFN, PageMap};

/// A list of pages (their frame numbers), with O(1) insertion at either end and removal anywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageList {
    head: u32,
    tail: u32,
    len: u64,
}

impl Default for PageList {
    fn default() -> Self {
        Self::new()
    }
}

impl PageList {
    pub const fn new() -> Self {
        Self { head: NO_PFN, tail: NO_PFN, len: 0 }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn first(&self) -> Option<u64> {
        (self.head != NO_PFN).then_some(u64::from(self.head))
    }

    pub fn push_front(&mut self, map: &mut impl PageMap, pfn: u64) {
        let old_head = self.head;
        let page = map.page_mut(pfn);
        page.prev = NO_PFN;
        page.next = old_head;
        if old_head == NO_PFN {
            self.tail = pfn as u32;
        } else {
            map.page_mut(u64::from(old_head)).prev = pfn as u32;
        }
        self.head = pfn as u32;
        self.len += 1;
    }

    pub fn push_back(&mut self, map: &mut impl PageMap, pfn: u64) {
        let old_tail = self.tail;
        let page = map.page_mut(pfn);
        page.next = NO_PFN;
        page.prev = old_tail;
        if old_tail == NO_PFN {
            self.head = pfn as u32;
        } else {
            map.page_mut(u64::from(old_tail)).next = pfn as u32;
        }
        self.tail = pfn as u32;
        self.len += 1;
    }

    /// Unlinks `pfn`, which must be on this list.
    pub fn remove(&mut self, map: &mut impl PageMap, pfn: u64) {
        let (prev, next) = {
            let page = map.page_mut(pfn);
            let links = (page.prev, page.next);
            page.prev = NO_PFN;
            page.next = NO_PFN;
            links
        };
        if prev == NO_PFN {
            self.head = next;
        } else {
            map.page_mut(u64::from(prev)).next = next;
        }
        if next == NO_PFN {
            self.tail = prev;
        } else {
            map.page_mut(u64::from(next)).prev = prev;
        }
        self.len -= 1;
    }

    pub fn pop_front(&mut self, map: &mut impl PageMap) -> Option<u64> {
        let pfn = self.first()?;
        self.remove(map, pfn);
        Some(pfn)
    }

    /// Frame numbers from head to tail.
    pub fn iter<'a, M: PageMap>(&self, map: &'a M) -> PageListIter<'a, M> {
        PageListIter { map, next: self.head }
    }
}

/// Iterator over a [`PageList`].
pub struct PageListIter<'a, M: PageMap> {
    map: &'a M,
    next: u32,
}

impl<M: PageMap> Iterator for PageListIter<'_, M> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.next == NO_PFN {
            return None;
        }
        let pfn = u64::from(self.next);
        self.next = self.map.page(pfn).next;
        Some(pfn)
    }
}
