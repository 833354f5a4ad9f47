//! `sh`: the shell on the serial console. Line editing (cursor keys, backspace, Ctrl-C, Ctrl-U), a history
//! of earlier lines (up/down arrows), and commands to look at the system the way a Linux user would:
//! `ps`, `free`, `cat` of the /proc texts, `dmesg`, `e820`, `memmap`, `uptime`, `kill`, `run PROGRAM` (or
//! just its name), `poweroff`. Errors are messages; nothing a user types can end the shell but `exit`.
//!
//! It runs on libc-rs (heap, printing, /proc path resolution); input is raw bytes from `read(0)`, which
//! the kernel fills from the serial line.
#![no_std]
#![no_main]

extern crate alloc;

mod commands;
mod editor;
mod screen;

use libc_rs::{Args, print, sys};

libc_rs::entry!(main);

fn main(_args: &Args) -> i32 {
    libc_rs::println!("Pagoda shell. Type `help` for the commands.");
    let mut editor = editor::Editor::new();
    loop {
        print!("pagoda$ ");
        libc_rs::stdio::flush_all();
        let Some(line) = editor.read_line() else {
            // End of input: nothing more will come.
            return 0;
        };
        match commands::run(line.trim()) {
            commands::Flow::Continue => {}
            commands::Flow::Exit(code) => return code,
        }
        libc_rs::stdio::flush_all();
    }
}

/// Writes raw bytes to the terminal (echo, cursor movement).
fn out(bytes: &[u8]) {
    libc_rs::stdio::flush_all();
    let _ = sys::write(1, bytes);
}
