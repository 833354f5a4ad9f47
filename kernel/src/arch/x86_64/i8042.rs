//! The i8042 PS/2 controller: its data port (0x60) and status/command port (0x64), enough to take the
//! keyboard's bytes on IRQ 1.
//!
//! Status register bits (IBM PC/AT technical reference): 0 output buffer full (a byte waits at 0x60),
//! 1 input buffer full (the controller has not taken our last write), 5 the waiting byte came from the
//! auxiliary device (a mouse). Command 0x20 reads the configuration byte, 0x60 writes it: bit 0 enables
//! the keyboard's interrupt, bit 6 translates the keyboard's scancode set 2 to set 1.

use x86::io::{inb, outb};

const DATA: u16 = 0x60;
const STATUS_COMMAND: u16 = 0x64;
const STATUS_OUTPUT_FULL: u8 = 1 << 0;
const STATUS_INPUT_FULL: u8 = 1 << 1;
const STATUS_AUX_DATA: u8 = 1 << 5;
const COMMAND_READ_CONFIG: u8 = 0x20;
const COMMAND_WRITE_CONFIG: u8 = 0x60;
const CONFIG_KEYBOARD_INTERRUPT: u8 = 1 << 0;
const CONFIG_TRANSLATE: u8 = 1 << 6;
/// Status polls before giving up on the controller (it answers within microseconds when present).
const SPINS: u32 = 100_000;

fn status() -> u8 {
    // SAFETY: reading the i8042 status port has no side effects.
    unsafe { inb(STATUS_COMMAND) }
}

fn wait_input_empty() -> bool {
    (0..SPINS).any(|_| status() & STATUS_INPUT_FULL == 0)
}

fn wait_output_full() -> bool {
    (0..SPINS).any(|_| status() & STATUS_OUTPUT_FULL != 0)
}

/// What [`init`] found.
#[derive(Clone, Copy, Debug)]
pub struct Controller {
    /// The controller translates to scancode set 1 (else the keyboard's set 2 arrives as is).
    pub translates: bool,
}

/// Drains stale bytes and turns on the keyboard's interrupt; `None` when no controller answers.
pub fn init() -> Option<Controller> {
    if status() == 0xff {
        // A floating bus: no controller (many UEFI-only PCs and QEMU's microvm).
        return None;
    }
    for _ in 0..64 {
        if read_byte().is_none() {
            break;
        }
    }
    if !wait_input_empty() {
        return None;
    }
    // SAFETY: command 0x20 asks the controller for its configuration byte, which it puts at 0x60.
    unsafe { outb(STATUS_COMMAND, COMMAND_READ_CONFIG) };
    if !wait_output_full() {
        return None;
    }
    // SAFETY: reading the data port takes the byte the controller just produced.
    let config = unsafe { inb(DATA) };
    let new_config = config | CONFIG_KEYBOARD_INTERRUPT;
    if new_config != config && wait_input_empty() {
        // SAFETY: command 0x60 followed by the byte writes the configuration; only the keyboard
        // interrupt bit changes.
        unsafe { outb(STATUS_COMMAND, COMMAND_WRITE_CONFIG) };
        if wait_input_empty() {
            // SAFETY: as above, the configuration byte itself.
            unsafe { outb(DATA, new_config) };
        }
    }
    Some(Controller { translates: config & CONFIG_TRANSLATE != 0 })
}

/// A byte waiting at the data port: `(byte, from_auxiliary_device)`.
pub fn read_byte() -> Option<(u8, bool)> {
    let status = status();
    if status & STATUS_OUTPUT_FULL == 0 {
        return None;
    }
    // SAFETY: the output buffer is full, so reading 0x60 takes that byte (and only that).
    let byte = unsafe { inb(DATA) };
    Some((byte, status & STATUS_AUX_DATA != 0))
}
