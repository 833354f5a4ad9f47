//! `hello [--quiet] [--exit N] [ARGS…]`: the first user program. Prints its pid, argc and arguments, then
//! exits with code 0, or N with `--exit N` (faults uses that to check exit statuses); `--quiet` prints
//! nothing (spawnloop spawns it a thousand times).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use userland::{Args, println, sys};

userland::entry!(main);

fn main(args: &Args) -> i32 {
    let quiet = args.iter().any(|arg| arg == "--quiet");
    let mut code = 0;
    if let Some(position) = args.iter().position(|arg| arg == "--exit") {
        match args.get(position + 1).and_then(|text| text.parse::<u8>().ok()) {
            Some(value) => code = i32::from(value),
            None => userland::fail!("hello: --exit needs a number 0..=255"),
        }
    }
    if !quiet {
        let pid = sys::getpid().unwrap_or(0);
        println!("Hello from userland: pid {pid}, argc {}", args.len());
        for (index, arg) in args.iter().enumerate() {
            println!("  argv[{index}] = {arg}");
        }
    }
    code
}
