//! Kernel symbol lookup (`kallsyms`-like) over the text `nm -n -S -C` prints for the kernel ELF.
//!
//! The build writes that text into the ISO as the multiboot2 module `ksyms`; backtraces and exception
//! reports use it to print `function+0xoff/0xsize` as Linux does. Lines look like
//! `ffffffff80001000 0000000000000123 T kernel::main` (with a size) or `ffffffff80000000 T _start64` (an
//! assembly label without one). Only text symbols (`t`, `T`, `w`, `W`) are used; malformed lines are
//! skipped, so a damaged module yields fewer names, never a fault.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use core::fmt;

/// A resolved address: `name+offset/size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbol<'a> {
    pub name: &'a str,
    pub offset: u64,
    /// Size from the symbol table, or the distance to the next symbol when the table has none.
    pub size: u64,
}

impl fmt::Display for Symbol<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{:#x}/{:#x}", self.name, self.offset, self.size)
    }
}

struct Entry<'a> {
    addr: u64,
    size: Option<u64>,
    name: &'a str,
}

fn parse_line(line: &str) -> Option<Entry<'_>> {
    let mut fields = line.splitn(4, ' ');
    let addr = u64::from_str_radix(fields.next()?, 16).ok()?;
    let second = fields.next()?;
    let (size, kind, name) = if second.len() == 1 {
        // "addr kind name..." — the name may contain spaces (demangled generics), so take the rest.
        let rest = line.get(line.find(' ')? + 3..)?;
        (None, second, rest)
    } else {
        let size = u64::from_str_radix(second, 16).ok()?;
        let kind = fields.next()?;
        (Some(size), kind, fields.next()?)
    };
    if !matches!(kind, "t" | "T" | "w" | "W") || name.is_empty() {
        return None;
    }
    Some(Entry { addr, size, name })
}

/// A symbol table borrowed from the module's text.
#[derive(Clone, Copy)]
pub struct SymbolTable<'a> {
    text: &'a str,
}

impl<'a> SymbolTable<'a> {
    pub fn new(text: &'a str) -> Self {
        Self { text }
    }

    /// Number of usable text symbols.
    pub fn len(&self) -> usize {
        self.entries().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entries(&self) -> impl Iterator<Item = Entry<'a>> + 'a {
        self.text.lines().filter_map(parse_line)
    }

    /// The symbol containing `addr`: the closest one at or below it, if `addr` lies within its size (or
    /// before the next symbol when the size is unknown). The input need not be sorted.
    pub fn lookup(&self, addr: u64) -> Option<Symbol<'a>> {
        let mut best: Option<Entry<'a>> = None;
        let mut next_above = u64::MAX;
        for e in self.entries() {
            if e.addr <= addr {
                if best.as_ref().is_none_or(|b| e.addr > b.addr || (e.addr == b.addr && b.size == Some(0))) {
                    best = Some(e);
                }
            } else {
                next_above = next_above.min(e.addr);
            }
        }
        let best = best?;
        let size = match best.size {
            Some(size) if size > 0 => size,
            // The last symbol without a size has no known end.
            _ if next_above == u64::MAX => return None,
            _ => next_above - best.addr,
        };
        let offset = addr - best.addr;
        (offset < size).then_some(Symbol { name: best.name, offset, size })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
ffffffff80100000 T _start64
ffffffff80100040 0000000000000020 T kernel::arch::trap_entry
ffffffff80100080 0000000000000100 t <kernel::Foo as core::fmt::Display>::fmt
ffffffff80100200 0000000000000010 D some_data
garbage line
ffffffff80100300 0000000000000000 T zero_sized
ffffffff80100300 0000000000000050 T real_at_same_address
";

    #[test]
    fn resolves_with_offset_and_size() {
        let t = SymbolTable::new(TABLE);
        assert_eq!(t.len(), 5);
        let s = t.lookup(0xffffffff80100085).unwrap();
        assert_eq!(s.to_string(), "<kernel::Foo as core::fmt::Display>::fmt+0x5/0x100");
        assert_eq!(t.lookup(0xffffffff80100040).unwrap().to_string(), "kernel::arch::trap_entry+0x0/0x20");
        // A label without size extends to the next symbol.
        assert_eq!(t.lookup(0xffffffff80100010).unwrap().to_string(), "_start64+0x10/0x40");
        assert_eq!(t.lookup(0xffffffff80100310).unwrap().name, "real_at_same_address");
    }

    #[test]
    fn outside_any_symbol_is_none() {
        let t = SymbolTable::new(TABLE);
        assert_eq!(t.lookup(0xffffffff80100070), None); // past trap_entry's 0x20 bytes
        assert_eq!(t.lookup(0x1000), None);
        assert_eq!(t.lookup(0xffffffff80100400), None);
        assert_eq!(SymbolTable::new("").lookup(5), None);
        assert_eq!(SymbolTable::new("zz T x\n1 T\n").len(), 0);
    }

    #[test]
    fn last_sizeless_symbol_is_unbounded_so_not_resolved() {
        let t = SymbolTable::new("1000 T a\n");
        assert_eq!(t.lookup(0x1005), None);
    }
}
