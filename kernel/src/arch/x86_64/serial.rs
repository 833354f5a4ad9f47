//! The 16550 UART serial console on COM1 (0x3f8), 115200 baud, 8N1, FIFO on, polled.
//!
//! Registers as in the PC16550D data sheet: THR/RBR (+0), IER (+1), FCR (+2), LCR (+3), MCR (+4), LSR (+5).
//! `init` checks the chip in loopback mode first, so a PC without a serial port gets no console here
//! instead of a hang.

use core::fmt;
use x86::io::{inb, outb};

/// I/O base of the first serial port.
pub const COM1: u16 = 0x3f8;

const DATA: u16 = 0;
const INTERRUPT_ENABLE: u16 = 1;
const FIFO_CONTROL: u16 = 2;
const LINE_CONTROL: u16 = 3;
const MODEM_CONTROL: u16 = 4;
const LINE_STATUS: u16 = 5;
const LINE_STATUS_THR_EMPTY: u8 = 0x20;
const LINE_STATUS_DATA_READY: u8 = 0x01;

/// A byte the UART at `base` has received, if any (polled: LSR bit 0 says the receive buffer holds one).
pub fn read_byte(base: u16) -> Option<u8> {
    (read_reg(base, LINE_STATUS) & LINE_STATUS_DATA_READY != 0).then(|| read_reg(base, DATA))
}

/// A working 16550 at `base`.
#[derive(Debug)]
pub struct SerialPort {
    base: u16,
}

fn write_reg(base: u16, reg: u16, value: u8) {
    // SAFETY: the port range base..base+8 belongs to the UART; writing its registers has no effect on
    // memory.
    unsafe { outb(base + reg, value) }
}

fn read_reg(base: u16, reg: u16) -> u8 {
    // SAFETY: as in `write_reg`; reading UART registers has no effect on memory.
    unsafe { inb(base + reg) }
}

impl SerialPort {
    /// Programs the UART at `base`; `None` when no working UART answers there.
    pub fn init(base: u16) -> Option<Self> {
        write_reg(base, INTERRUPT_ENABLE, 0x00); // polled: no UART interrupts
        write_reg(base, LINE_CONTROL, 0x80); // DLAB on: the next two registers are the divisor
        write_reg(base, DATA, 0x01); // divisor 1 = 115200 baud
        write_reg(base, INTERRUPT_ENABLE, 0x00);
        write_reg(base, LINE_CONTROL, 0x03); // DLAB off, 8 data bits, no parity, 1 stop bit
        write_reg(base, FIFO_CONTROL, 0xc7); // FIFO on, both cleared, 14-byte trigger
        write_reg(base, MODEM_CONTROL, 0x1e); // loopback test
        write_reg(base, DATA, 0xae);
        if read_reg(base, DATA) != 0xae {
            return None;
        }
        write_reg(base, MODEM_CONTROL, 0x0f); // normal operation: DTR, RTS, OUT1, OUT2
        Some(Self { base })
    }

    /// Sends one byte, waiting (boundedly) for room in the transmitter.
    pub fn write_byte(&mut self, byte: u8) {
        for _ in 0..100_000 {
            if read_reg(self.base, LINE_STATUS) & LINE_STATUS_THR_EMPTY != 0 {
                break;
            }
            core::hint::spin_loop();
        }
        write_reg(self.base, DATA, byte);
    }
}

impl fmt::Write for SerialPort {
    /// Writes text, turning `\n` into `\r\n` for terminals.
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(byte);
        }
        Ok(())
    }
}
