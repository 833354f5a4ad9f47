//! Userland servers and programs (init, memd, limitd, oomd, shell, demos); filled by the userland issues.
#![no_std]
#![forbid(unsafe_code)]
