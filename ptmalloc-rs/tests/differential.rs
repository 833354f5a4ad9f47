//! Differential test against the host glibc 2.36: the same single-threaded traces (malloc, free, realloc,
//! calloc, memalign, malloc_trim, mallopt) must give identical usable sizes, heap offsets, mmap decisions and
//! mallinfo2 figures under glibc and under ptmalloc-rs (LD_PRELOAD).

mod common;
use common::native::{compile_c, run};

fn compare(seed: u32, steps: u32, mode: u32) {
    let program = compile_c("difftrace");
    let args = [seed.to_string(), steps.to_string(), mode.to_string()];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let glibc = run(&program, &args, false, &[]);
    let ours = run(&program, &args, true, &[]);
    assert!(glibc.status.success(), "trace failed on glibc");
    assert!(ours.status.success(), "trace failed on ptmalloc-rs: {}", String::from_utf8_lossy(&ours.stderr));
    assert!(String::from_utf8_lossy(&glibc.stderr).contains("allocator=glibc"));
    assert!(
        String::from_utf8_lossy(&ours.stderr).contains("allocator=ptmalloc-rs"),
        "LD_PRELOAD not in effect"
    );
    let (glibc, ours) = (String::from_utf8_lossy(&glibc.stdout), String::from_utf8_lossy(&ours.stdout));
    assert!(glibc.lines().count() > steps as usize / 4, "trace printed too little");
    for (line, (expected, actual)) in glibc.lines().zip(ours.lines()).enumerate() {
        assert_eq!(actual, expected, "seed {seed} mode {mode}: first difference at line {}", line + 1);
    }
    assert_eq!(glibc.lines().count(), ours.lines().count());
}

#[test]
fn default_parameters_match_glibc() {
    for seed in 1..=4 {
        compare(seed, 20000, 0);
    }
}

#[test]
fn mallopt_fastbins_and_top_pad_match_glibc() {
    for seed in 11..=12 {
        compare(seed, 20000, 1);
    }
}

#[test]
fn fixed_thresholds_match_glibc() {
    for seed in 21..=22 {
        compare(seed, 20000, 2);
    }
}

#[test]
fn usable_sizes_match_glibc_documented_values() {
    let program = compile_c("usable");
    let glibc = run(&program, &[], false, &[]);
    let ours = run(&program, &[], true, &[]);
    assert!(glibc.status.success() && ours.status.success());
    assert!(
        String::from_utf8_lossy(&ours.stderr).contains("allocator=ptmalloc-rs"),
        "LD_PRELOAD not in effect"
    );
    let text = String::from_utf8_lossy(&glibc.stdout);
    assert!(text.contains("1033 1048\n"), "glibc's documented value missing: {text}");
    assert!(text.contains("0 24\n") && text.contains("24 24\n"));
    assert_eq!(String::from_utf8_lossy(&ours.stdout), text);
}

#[test]
fn environment_settings_match_glibc() {
    let program = compile_c("difftrace");
    let env = [
        ("MALLOC_TOP_PAD_", "0"),
        ("MALLOC_MMAP_THRESHOLD_", "65536"),
        ("MALLOC_TRIM_THRESHOLD_", "0x40000"),
    ];
    let glibc = run(&program, &["7", "8000"], false, &env);
    let ours = run(&program, &["7", "8000"], true, &env);
    assert!(glibc.status.success() && ours.status.success());
    assert!(
        String::from_utf8_lossy(&ours.stderr).contains("allocator=ptmalloc-rs"),
        "LD_PRELOAD not in effect"
    );
    assert_eq!(String::from_utf8_lossy(&ours.stdout), String::from_utf8_lossy(&glibc.stdout));
}
