//! The kernel ABI shared by the kernel, libc-rs and the servers: syscall numbers, IPC layouts, error codes.
#![no_std]
#![forbid(unsafe_code)]
