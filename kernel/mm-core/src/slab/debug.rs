//! `slub_debug`: red zones and poisoning of slab objects (seed 000 §33, Linux's `mm/slub.c` debug code).
//!
//! A free object is filled with `POISON_FREE` (0x6b) and ends with `POISON_END` (0xa5); its red zone
//! holds `RED_INACTIVE` (0xbb). An allocated object's red zone holds `RED_ACTIVE` (0xcc) and, until the
//! caller writes it, the object holds `POISON_INUSE` (0x5a). Allocation checks the poison (a changed byte
//! means a write after free); freeing checks the red zone (a changed byte means an overflow; an inactive
//! red zone means the object is already free).

use super::SlabBackend;
use super::layout::Layout;

pub const POISON_INUSE: u8 = 0x5a;
pub const POISON_FREE: u8 = 0x6b;
pub const POISON_END: u8 = 0xa5;
pub const RED_INACTIVE: u8 = 0xbb;
pub const RED_ACTIVE: u8 = 0xcc;

/// What a debug check found: the first changed byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Damage {
    pub offset: usize,
    pub found: u8,
    pub expected: u8,
}

/// The red zone of `object`, if the layout has one.
fn red_zone(layout: &Layout) -> Option<(usize, usize)> {
    (layout.red_zone_end > layout.object_size).then_some((layout.object_size, layout.red_zone_end))
}

pub fn set_red_zone(backend: &mut impl SlabBackend, layout: &Layout, object: usize, value: u8) {
    if let Some((start, end)) = red_zone(layout) {
        backend.fill(object + start, end - start, value);
    }
}

/// Checks the red zone holds `value`.
pub fn check_red_zone(
    backend: &impl SlabBackend,
    layout: &Layout,
    object: usize,
    value: u8,
) -> Result<(), Damage> {
    let Some((start, end)) = red_zone(layout) else { return Ok(()) };
    match backend.find_not(object + start, end - start, value) {
        None => Ok(()),
        Some(at) => {
            Err(Damage { offset: start + at, found: backend.read_byte(object + start + at), expected: value })
        }
    }
}

/// Fills a free object with poison.
pub fn poison_free(backend: &mut impl SlabBackend, layout: &Layout, object: usize) {
    backend.fill(object, layout.object_size - 1, POISON_FREE);
    backend.fill(object + layout.object_size - 1, 1, POISON_END);
}

/// Checks a free object still holds its poison.
pub fn check_poison(backend: &impl SlabBackend, layout: &Layout, object: usize) -> Result<(), Damage> {
    if let Some(at) = backend.find_not(object, layout.object_size - 1, POISON_FREE) {
        return Err(Damage { offset: at, found: backend.read_byte(object + at), expected: POISON_FREE });
    }
    let last = layout.object_size - 1;
    match backend.read_byte(object + last) {
        POISON_END => Ok(()),
        found => Err(Damage { offset: last, found, expected: POISON_END }),
    }
}
