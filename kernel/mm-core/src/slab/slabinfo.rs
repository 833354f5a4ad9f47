//! `/proc/slabinfo` (seed 000 §35) in Linux's version 2.1 format.

use core::fmt::{self, Write};

/// One cache's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlabinfoRow<'a> {
    pub name: &'a str,
    pub active_objs: u64,
    pub num_objs: u64,
    /// Slot size.
    pub objsize: usize,
    pub objperslab: usize,
    pub pagesperslab: usize,
    pub num_slabs: u64,
}

/// The header lines.
pub fn header(w: &mut impl Write) -> fmt::Result {
    writeln!(w, "slabinfo - version: 2.1")?;
    writeln!(
        w,
        "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> \
         <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>"
    )
}

/// One line (SLUB has no tunables and reports every slab as active, as Linux).
pub fn row(w: &mut impl Write, r: &SlabinfoRow<'_>) -> fmt::Result {
    writeln!(
        w,
        "{:<17} {:>6} {:>6} {:>6} {:>4} {:>4} : tunables {:>4} {:>4} {:>4} : slabdata {:>6} {:>6} {:>6}",
        r.name,
        r.active_objs,
        r.num_objs,
        r.objsize,
        r.objperslab,
        r.pagesperslab,
        0,
        0,
        0,
        r.num_slabs,
        r.num_slabs,
        0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_linux_format() {
        let mut s = String::new();
        header(&mut s).unwrap();
        row(
            &mut s,
            &SlabinfoRow {
                name: "kmalloc-64",
                active_objs: 1792,
                num_objs: 1792,
                objsize: 64,
                objperslab: 64,
                pagesperslab: 1,
                num_slabs: 28,
            },
        )
        .unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "slabinfo - version: 2.1");
        assert!(lines[1].starts_with(
            "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables"
        ));
        assert_eq!(
            lines[2],
            "kmalloc-64          1792   1792     64   64    1 : tunables    0    0    0 : slabdata     28     28      0"
        );
    }
}
