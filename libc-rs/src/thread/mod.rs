//! Threads: a raw, C-shaped layer ([`create`], [`join`], [`exit`]; `pthread_*` is built on it) and Rust's
//! [`spawn`] → [`JoinHandle`].
//!
//! A thread is a kernel task in the same address space made by `thread_create(entry, stack_top, arg, tls)`.
//! Its stack, guard page and TLS block share one anonymous mapping ([`layout`]); it starts in a small
//! assembly trampoline that aligns the stack and calls the start routine, and ends with the `exit` syscall
//! (nr 60, which ends one thread) after giving its malloc cache back (`Malloc::thread_exit`). Joining is
//! `wait4(tid)`: the kernel makes the creating *thread* the new thread's parent, so only the creator can join
//! it (others get ECHILD), and a `wait4(-1)` of the creator may reap its threads too. The joiner then reads
//! the result from the TLS block and unmaps the thread's mapping. Threads that are never joined keep their
//! mapping (no detached threads).

pub mod layout;

#[cfg(target_os = "none")]
mod create;
#[cfg(target_os = "none")]
mod spawn;

#[cfg(target_os = "none")]
pub use create::{DEFAULT_STACK_BYTES, create, exit, join};
#[cfg(target_os = "none")]
pub use spawn::{JoinHandle, spawn, spawn_with_stack};
