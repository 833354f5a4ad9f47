//! The userland C library in Rust (crt0, syscalls, stdio, malloc family); filled by the userland issue.
#![no_std]
#![forbid(unsafe_code)]
