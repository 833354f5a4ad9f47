//! A Rust port of glibc 2.36 ptmalloc2 (filled by the ptmalloc-rs issue).
#![no_std]
