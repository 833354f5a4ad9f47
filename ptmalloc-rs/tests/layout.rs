//! The LD_PRELOAD library's memory layout (preload.ld): a program that only allocates, in one thread and in
//! several, never pages in the rarely run code or the constants and unwind tables, so the library adds to
//! its RSS only the pages of the code it runs.

mod common;
use common::native::{compile_c, preload_so};

#[test]
fn rarely_run_segments_stay_out_of_memory() {
    let program = compile_c("layout");
    let so = preload_so().canonicalize().expect("library path");
    // Without PTMALLOC_RS_SO (the Makefile's): the environment's ptmalloc-rs settings are parsed by rare code.
    let output = std::process::Command::new(&program)
        .arg(&so)
        .env_remove("PTMALLOC_RS_SO")
        .env("LD_PRELOAD", &so)
        .output()
        .expect("run layout");
    assert!(output.status.success(), "{output:?}");
    let text = String::from_utf8_lossy(&output.stdout);
    // Mappings in address order: headers and symbols (r--p), code (r-xp), RELRO (r--p), data (rw-p),
    // rarely run code (r-xp), constants and unwind tables (r--p).
    let mappings: Vec<(&str, u64)> = text
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(perms, rss)| (perms, rss.parse().expect("Rss in KiB")))
        .collect();
    eprintln!("mappings of {}: {mappings:?}", so.display());
    let code: Vec<usize> = (0..mappings.len()).filter(|&i| mappings[i].0 == "r-xp").collect();
    assert_eq!(code.len(), 2, "hot and rare code segments: {mappings:?}");
    let rare = &mappings[code[1]..];
    assert!(rare.len() >= 2 && rare[1].0 == "r--p", "constants after the rare code: {mappings:?}");
    assert!(rare.iter().all(|&(_, rss)| rss == 0), "rare segments were paged in: {mappings:?}");
    let resident: u64 = mappings.iter().map(|&(_, rss)| rss).sum();
    assert!(resident > 0, "the library's hot segments are resident: {mappings:?}");
}
