//! The PS/2 keyboard: bytes from the i8042 on IRQ 1, decoded with a US layout (`pc-keyboard`: shift,
//! ctrl, caps lock) into what a terminal would send — characters as UTF-8, Ctrl+letter as control
//! bytes, the arrows, Home and End as the ANSI sequences the shell already reads from the serial line
//! (`ESC [ A` … `ESC [ H`, `ESC [ F`) — and handed to the tty's input, next to the serial port's.
//!
//! The scancode set follows the controller: set 1 when it translates (as firmware leaves it), else the
//! keyboard's set 2.

use pc_keyboard::layouts::Us104Key;
use pc_keyboard::{DecodedKey, HandleControl, KeyCode, PS2Keyboard, ScancodeSet1, ScancodeSet2};

use crate::arch::x86_64::{i8042, irq};
use crate::sync::SpinLock;
use crate::tty;

/// The ISA IRQ of the i8042's keyboard port.
const KEYBOARD_IRQ: u8 = 1;

enum Decoder {
    Set1(PS2Keyboard<Us104Key, ScancodeSet1>),
    Set2(PS2Keyboard<Us104Key, ScancodeSet2>),
}

static DECODER: SpinLock<Option<Decoder>> = SpinLock::new(None);

/// Finds the controller and routes its interrupt; returns how IRQ 1 arrives.
pub fn init() -> Result<irq::Route, &'static str> {
    let controller = i8042::init().ok_or("no i8042 controller")?;
    let decoder = if controller.translates {
        Decoder::Set1(PS2Keyboard::new(ScancodeSet1::new(), Us104Key, HandleControl::MapLettersToUnicode))
    } else {
        Decoder::Set2(PS2Keyboard::new(ScancodeSet2::new(), Us104Key, HandleControl::MapLettersToUnicode))
    };
    *DECODER.lock() = Some(decoder);
    irq::request_isa_irq(KEYBOARD_IRQ, interrupt)
}

/// IRQ 1: takes every waiting byte (mouse bytes are dropped) and queues what they type.
fn interrupt() {
    let mut decoder = DECODER.lock();
    let Some(decoder) = decoder.as_mut() else { return };
    // Bounded: the controller's buffer holds one byte; a stuck status bit cannot keep us here.
    for _ in 0..16 {
        let Some((byte, aux)) = i8042::read_byte() else { break };
        if aux {
            continue;
        }
        let key = match decoder {
            Decoder::Set1(k) => k.add_byte(byte).ok().flatten().and_then(|e| k.process_keyevent(e)),
            Decoder::Set2(k) => k.add_byte(byte).ok().flatten().and_then(|e| k.process_keyevent(e)),
        };
        if let Some(key) = key {
            let mut utf8 = [0u8; 4];
            let bytes: &[u8] = match key {
                DecodedKey::Unicode(c) => c.encode_utf8(&mut utf8).as_bytes(),
                DecodedKey::RawKey(code) => terminal_sequence(code),
            };
            tty::push_input(bytes);
        }
    }
}

/// What a VT100-style terminal sends for a key that has no character.
fn terminal_sequence(code: KeyCode) -> &'static [u8] {
    match code {
        KeyCode::ArrowUp => b"\x1b[A",
        KeyCode::ArrowDown => b"\x1b[B",
        KeyCode::ArrowRight => b"\x1b[C",
        KeyCode::ArrowLeft => b"\x1b[D",
        KeyCode::Home => b"\x1b[H",
        KeyCode::End => b"\x1b[F",
        _ => b"",
    }
}
