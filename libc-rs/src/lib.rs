//! libc-rs: the userland C library of Pagoda, in Rust — crt0, syscalls and errno, stdio, string functions,
//! threads, and the malloc family over ptmalloc-rs, with both a Rust API and the C ABI.
//!
//! # Layers (one way)
//! ```text
//! pure, host-tested:  errno · format (printf engine) · va_list (psABI va_arg) · string · args · time
//!                     · tls (layout) · mman (brk/sbrk arithmetic) · thread::layout · mutex (state machine)
//!          ↓
//! target only:        syscall (the `syscall` instruction) → sys (typed wrappers, Result<_, Errno>)
//!                     → tls::current, malloc (ptmalloc-rs over brk/mmap), stdio, thread, process, crt0
//!                     → capi (the C functions: unistd, mman, pthread, stdlib)
//! ```
//! Everything that touches the kernel is behind `#[cfg(target_os = "none")]`; the rest is plain logic that
//! `cargo test -p libc-rs` runs on the host. C symbols (`malloc`, `printf`'s `vprintf`, `strcmp`, …) are
//! exported with `#[no_mangle]` only in target builds, so host test binaries never interpose the host libc.
//!
//! # Programs
//! A C program defines `int main(int argc, char **argv, char **envp)` and links `liblibc_rs.a`
//! (`userland/c/build.sh`). A Rust program says `libc_rs::entry!(main)` with `fn main(&libc_rs::Args) -> i32`:
//! the macro defines the C symbol `main` (C ABI, same signature), so crt0 has exactly one thing to call.
//! Either way `_start` sets up the main thread's TLS block, calls `main`, then `exit(code)`.
//! ```ignore
//! #![no_std]
//! #![no_main]
//! extern crate alloc; // Box, Vec, String: the `global-allocator` feature (default) routes them to malloc
//! libc_rs::entry!(main);
//! fn main(args: &libc_rs::Args) -> i32 {
//!     let worker = libc_rs::thread::spawn(|| alloc::vec![1u64, 2, 3].iter().sum::<u64>()).unwrap();
//!     libc_rs::println!("{} says {}", args.get(0).unwrap_or("?"), worker.join().unwrap());
//!     0
//! }
//! ```
//!
//! # What is written in C
//! Only the variadic entry points (`printf`, `fprintf`, `sprintf`, `snprintf`, `mremap`, in `c/variadic.c`):
//! stable Rust cannot define C-variadic functions. They pass their `va_list` to `vprintf`/`vfprintf`/…,
//! which are Rust and read the arguments following the x86-64 psABI ([`va_list`]). `build.rs` compiles
//! the C with gcc for target builds only and bundles it into the rlib and `liblibc_rs.a`.
//!
//! # Threads
//! [`thread::spawn`] (Rust) and `pthread_create` (C) make kernel threads (`THREAD_CREATE`), each with an
//! mmap'ed stack, a guard page and its own TLS block; only the creating thread can join (`wait4`).
//! `exit()` and returning from `main` end the whole process (`exit_group`); [`thread::exit`] ends one thread.
//!
//! # Not here (yet)
//! Floating-point conversions (`%f`, `%e`, `%g`: the kernel does not enable SSE for user tasks, so C is built
//! with `-mgeneral-regs-only`), `%n`, `stdin`, files, `atexit`, ELF TLS (`__thread`, PT_TLS), detached threads.
#![cfg_attr(not(test), no_std)]

// A host build that is not a test (the staticlib crate type of `cargo build`/`clippy` on the host) takes
// std's panic handler and unwinding personality; the host build is only for tests and lints.
#[cfg(all(not(test), not(target_os = "none")))]
extern crate std;

pub mod args;
pub mod errno;
pub mod format;
pub mod mman;
pub mod mutex;
pub mod procfs;
pub mod string;
pub mod thread;
pub mod time;
pub mod tls;
pub mod va_list;

#[cfg(target_os = "none")]
pub mod capi;
#[cfg(target_os = "none")]
pub mod crt0;
#[cfg(target_os = "none")]
pub mod malloc;
#[cfg(target_os = "none")]
pub mod process;
#[cfg(target_os = "none")]
pub mod stdio;
#[cfg(target_os = "none")]
pub mod sys;
#[cfg(target_os = "none")]
pub mod syscall;

pub use args::Args;
pub use errno::Errno;
