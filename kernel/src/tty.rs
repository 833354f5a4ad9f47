//! The console's input side: bytes typed on the serial line (COM1), polled on every timer tick, and the
//! PS/2 keyboard's (pushed from its interrupt by `drivers::keyboard`), into a buffer that `read(0, …)`
//! drains — raw, without echo or line editing (the shell does both).
//!
//! One reader at a time waits for input (`Wait::Input`); a tick that finds bytes wakes it. The tick also
//! brings the screen console up to date.

use alloc::collections::VecDeque;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::arch::x86_64::serial::{self, COM1};
use crate::sched;
use crate::sync::SpinLock;
use crate::task::{KERNEL, Kernel, State, Wait};

/// Bytes kept until a reader takes them.
const INPUT_BYTES: usize = 4096;

static INPUT: SpinLock<VecDeque<u8>> = SpinLock::new(VecDeque::new());
/// Set when the keyboard queued bytes since the last tick (its interrupt cannot wake tasks itself).
static PUSHED: AtomicBool = AtomicBool::new(false);

/// Queues bytes typed on the keyboard (from its interrupt handler); the next tick wakes the reader.
pub fn push_input(bytes: &[u8]) {
    let mut input = INPUT.lock();
    for &byte in bytes {
        if input.len() < INPUT_BYTES {
            input.push_back(byte);
        }
    }
    PUSHED.store(true, Ordering::Release);
}

/// Bytes typed and not yet read.
pub fn pending() -> usize {
    INPUT.lock().len()
}

/// Moves what the UART received into the input buffer; wakes a waiting reader (timer tick).
pub fn poll(k: &mut Kernel) {
    crate::drivers::fbcon::tick();
    let mut got = PUSHED.swap(false, Ordering::AcqRel);
    {
        let mut input = INPUT.lock();
        while let Some(byte) = serial::read_byte(COM1) {
            if input.len() < INPUT_BYTES {
                input.push_back(byte);
            }
            got = true;
        }
    }
    if got {
        let readers: alloc::vec::Vec<_> =
            k.tasks.values().filter(|t| t.state == State::Blocked(Wait::Input)).map(|t| t.pid).collect();
        for pid in readers {
            sched::wake(k, pid, 0);
        }
    }
}

/// Takes up to `out.len()` bytes, waiting until at least one is there.
pub fn read(out: &mut [u8]) -> usize {
    loop {
        {
            let mut input = INPUT.lock();
            if !input.is_empty() {
                let n = out.len().min(input.len());
                for slot in out.iter_mut().take(n) {
                    *slot = input.pop_front().unwrap_or(0);
                }
                return n;
            }
        }
        let k = KERNEL.lock();
        sched::block(k, Wait::Input);
    }
}
