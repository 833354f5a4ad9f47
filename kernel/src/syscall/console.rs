//! `console_ctl`: the screen console's picture of physical memory (the shell's `memmap` on a screen).
//!
//! Decode: the operation must be one of `abi::console_op`; invoke: draw or hide. Anyone may call it:
//! the picture shows what `memmap` prints as text to every user already.

use abi::console_op::{MEMMAP_HIDE, MEMMAP_SHOW};
use abi::errno::{EINVAL, ENODEV};

use super::{Args, Result};
use crate::drivers::fbcon::memmap_view;

pub fn console_ctl(a: Args) -> Result {
    match a.0[0] {
        MEMMAP_SHOW => match memmap_view::show() {
            Ok(()) => Ok(crate::tty::pending() as u64),
            Err(memmap_view::ViewError::NoFramebuffer) => Err(-ENODEV),
        },
        MEMMAP_HIDE => {
            memmap_view::hide();
            Ok(0)
        }
        _ => Err(-EINVAL),
    }
}
