//! An emulated physical memory for host tests: table pages in a vector indexed by page number, with a
//! limit for out-of-memory cases. Touching a page that is not a live table, or freeing one twice, panics
//! the test.

use crate::pgtable::{ENTRIES_PER_TABLE, PhysMemory};

/// Where the emulated table pages start (any 4 KiB-aligned address would do).
const FIRST_TABLE: u64 = 0x10_0000;

pub struct EmulatedMemory {
    /// Page `i` lives at physical `FIRST_TABLE + i * 4096`; None when not a live table.
    tables: Vec<Option<Box<[u64; ENTRIES_PER_TABLE]>>>,
    nr_live: usize,
    /// Freed pages, reused first (as a real allocator would).
    freed: Vec<usize>,
    /// Most live tables; `alloc_table` fails beyond.
    limit: usize,
    pub nr_allocs: u64,
    pub nr_frees: u64,
}

impl EmulatedMemory {
    pub fn new() -> Self {
        Self::with_limit(usize::MAX)
    }

    pub fn with_limit(limit: usize) -> Self {
        Self { tables: Vec::new(), nr_live: 0, freed: Vec::new(), limit, nr_allocs: 0, nr_frees: 0 }
    }

    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// Table pages allocated and not freed.
    pub fn live(&self) -> usize {
        self.nr_live
    }

    fn slot(table: u64) -> usize {
        assert!(table >= FIRST_TABLE && table.is_multiple_of(0x1000), "{table:#x} is not a table address");
        ((table - FIRST_TABLE) / 0x1000) as usize
    }

    fn table(&mut self, table: u64) -> &mut [u64; ENTRIES_PER_TABLE] {
        let slot = Self::slot(table);
        match self.tables.get_mut(slot) {
            Some(Some(page)) => page,
            _ => panic!("{table:#x} is not a live table page"),
        }
    }
}

impl PhysMemory for EmulatedMemory {
    fn read_entry(&self, table: u64, index: usize) -> u64 {
        match self.tables.get(Self::slot(table)) {
            Some(Some(page)) => page[index],
            _ => panic!("read of {table:#x}, not a live table page"),
        }
    }

    fn write_entry(&mut self, table: u64, index: usize, value: u64) {
        self.table(table)[index] = value;
    }

    fn alloc_table(&mut self) -> Option<u64> {
        if self.nr_live >= self.limit {
            return None;
        }
        let slot = self.freed.pop().unwrap_or_else(|| {
            self.tables.push(None);
            self.tables.len() - 1
        });
        self.tables[slot] = Some(Box::new([0; ENTRIES_PER_TABLE]));
        self.nr_live += 1;
        self.nr_allocs += 1;
        Some(FIRST_TABLE + slot as u64 * 0x1000)
    }

    fn free_table(&mut self, table: u64) {
        let slot = Self::slot(table);
        assert!(
            self.tables.get_mut(slot).and_then(Option::take).is_some(),
            "free of {table:#x}, not a live table"
        );
        self.freed.push(slot);
        self.nr_live -= 1;
        self.nr_frees += 1;
    }
}
