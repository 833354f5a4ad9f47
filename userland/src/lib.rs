//! The userland runtime: program entry, raw and typed syscalls, printing; every program in `src/bin` uses it.
//!
//! It is deliberately small (libc-rs replaces it later) and holds the `unsafe` plumbing; programs use
//! `unsafe` only where the test itself is raw (provoked faults, bad pointers handed to the kernel, touching
//! freshly mapped memory) and otherwise say `#![deny(unsafe_code)]`.
//!
//! Layers, one way: [`syscall`] (the `syscall` instruction) → [`sys`] (typed wrappers returning
//! `Result<_, Errno>`) → [`print`] and [`rt`] (entry, arguments, panic).
//!
//! A program is:
//! ```ignore
//! #![no_std]
//! #![no_main]
//! userland::entry!(main);
//! fn main(args: &userland::Args) -> i32 { userland::println!("hi"); 0 }
//! ```
#![no_std]

pub mod arena;
pub mod errno;
pub mod print;
pub mod rt;
pub mod sys;
pub mod syscall;

pub use errno::Errno;
pub use rt::{Args, Decimal};
