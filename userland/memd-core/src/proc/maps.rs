//! `/proc/PID/maps` (Linux's `show_map_vma`): one line per VMA,
//! `start-end perms offset dev inode` then, for named VMAs, padding so the name starts at column 73.
//!
//! There are no files: offset, device and inode are 0; the image is named after the program, the heap
//! `[heap]`, the initial stack `[stack]`, and anonymous memory (shared or not) has no name. As on Linux,
//! the header ends with a space even when no name follows.

use core::fmt::{Result, Write};

use abi::prot::{EXEC, READ, WRITE};

use crate::{Mm, Vma, VmaKind};

/// Linux pads the header to `25 + 6 * sizeof(void *) - 1` characters, then writes a space and the name.
const HEADER_WIDTH: usize = 25 + 6 * 8 - 1;

/// Hex digits `{:08x}` prints for `value`.
fn hex_width(value: u64) -> usize {
    let digits = (64 - value.leading_zeros() as usize).div_ceil(4);
    digits.max(8)
}

/// The name a VMA is shown with.
pub(super) fn label<'a>(vma: &Vma, program: &'a str) -> Option<&'a str> {
    match vma.kind {
        VmaKind::Image if !program.is_empty() => Some(program),
        VmaKind::Heap => Some("[heap]"),
        VmaKind::Stack => Some("[stack]"),
        _ => None,
    }
}

/// Writes the maps line of one VMA, newline included.
pub(super) fn map_line<W: Write + ?Sized>(w: &mut W, vma: &Vma, program: &str) -> Result {
    let flag = |bit: u64, c: char| if vma.prot & bit != 0 { c } else { '-' };
    let share = if vma.shared { 's' } else { 'p' };
    write!(
        w,
        "{:08x}-{:08x} {}{}{}{share} 00000000 00:00 0 ",
        vma.start,
        vma.end,
        flag(READ, 'r'),
        flag(WRITE, 'w'),
        flag(EXEC, 'x'),
    )?;
    if let Some(name) = label(vma, program) {
        // "start-end rwxp 00000000 00:00 0 " is the two addresses plus 24 characters.
        let used = hex_width(vma.start) + hex_width(vma.end) + 24;
        write!(w, "{:pad$} {name}", "", pad = HEADER_WIDTH.saturating_sub(used))?;
    }
    w.write_char('\n')
}

/// Writes `/proc/PID/maps` of a task whose program is `name`.
pub fn maps<W: Write + ?Sized>(w: &mut W, mm: &Mm, name: &str) -> Result {
    mm.vmas().try_for_each(|vma| map_line(w, vma, name))
}
