//! Hardening: each kind of heap corruption aborts with glibc 2.36's message. Every scenario runs on the host
//! glibc and on ptmalloc-rs (LD_PRELOAD); both must die of SIGABRT after printing the same message.

mod common;
use common::native::{compile_c, run};
use std::os::unix::process::ExitStatusExt;

const CASES: &[(u32, &str)] = &[
    (1, "free(): double free detected in tcache 2"),
    (2, "double free or corruption (fasttop)"),
    (3, "free(): invalid pointer"),
    (4, "free(): invalid size"),
    (5, "malloc(): corrupted top size"),
    (6, "corrupted size vs. prev_size"),
    (7, "double free or corruption (!prev)"),
    (8, "double free or corruption (top)"),
    (9, "munmap_chunk(): invalid pointer"),
    (10, "realloc(): invalid pointer"),
    (11, "free(): invalid next size (fast)"),
    (12, "malloc(): unsorted double linked list corrupted"),
    (13, "malloc(): unaligned tcache chunk detected"),
    (14, "corrupted size vs. prev_size while consolidating"),
];

fn check(kind: u32, message: &str, preload: bool) {
    let program = compile_c("corrupt");
    let output = run(&program, &[&kind.to_string()], preload, &[]);
    let who = if preload { "ptmalloc-rs" } else { "glibc" };
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.signal(),
        Some(6),
        "{who}, case {kind}: not aborted ({:?}), stderr {stderr}",
        output.status
    );
    assert_eq!(stderr.lines().next(), Some(message), "{who}, case {kind}");
}

#[test]
fn glibc_aborts_with_these_messages() {
    for &(kind, message) in CASES {
        check(kind, message, false);
    }
}

#[test]
fn ptmalloc_rs_aborts_with_glibc_messages() {
    for &(kind, message) in CASES {
        check(kind, message, true);
    }
}
