//! The C ABI over the Rust layers, with C's conventions (-1, NULL or `MAP_FAILED` and `errno`): `unistd.h`
//! and `time.h` ([`unistd`]), `sys/mman.h` ([`mman`]), `stdlib.h`/`errno.h` ([`stdlib`]), `pthread.h`
//! ([`pthread`]). stdio's and malloc's C functions live with their Rust parts (`stdio::c_functions`,
//! `malloc::exports`), the string functions in [`crate::string`]. Declarations: `libc-rs/include/`.

pub mod fcntl;
pub mod mman;
pub mod pthread;
pub mod stdlib;
pub mod unistd;
