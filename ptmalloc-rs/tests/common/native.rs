//! Helpers for tests that run real programs: the LD_PRELOAD library and C programs built on demand.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where on-demand builds go (never inside the source tree).
pub fn build_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/ptmalloc-tests");
    std::fs::create_dir_all(&dir).expect("create build dir");
    dir
}

/// The LD_PRELOAD library: `$PTMALLOC_RS_SO` if set (the Makefile builds it), else built here the way the
/// Makefile's `preload` target does (profile `preload` of preload.toml) in its own target directory.
pub fn preload_so() -> PathBuf {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    SO.get_or_init(|| {
        if let Ok(path) = std::env::var("PTMALLOC_RS_SO") {
            return PathBuf::from(path);
        }
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let target = manifest_dir.join("../target/ptmalloc-preload");
        let status = Command::new(env!("CARGO"))
            .current_dir(manifest_dir)
            .args([
                "rustc",
                "--lib",
                "--profile",
                "preload",
                "--config",
                "preload.toml",
                "--features",
                "preload",
            ])
            .args(["--crate-type", "cdylib", "--", "-C", "link-arg=-Wl,-z,separate-loadable-segments", "-C"])
            .arg(format!("link-arg=-Wl,-T,{}", manifest_dir.join("preload.ld").display()))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("run cargo");
        assert!(status.success(), "building the preload library failed");
        target.join("preload/libptmalloc_rs.so")
    })
    .clone()
}

/// Compiles `tests/c/<name>.c` with gcc into the build dir (once per test process).
pub fn compile_c(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let output = build_dir().join(name);
    if built.iter().any(|done| done == name) {
        return output;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c").join(format!("{name}.c"));
    let status = Command::new("cc")
        .args(["-O1", "-g", "-Wall", "-fno-builtin", "-pthread", "-o"])
        .arg(&output)
        .arg(&source)
        .status()
        .expect("run cc");
    assert!(status.success(), "compiling {name}.c failed");
    built.push(name.to_string());
    output
}

/// Output of a program run on the host glibc (`preload` false) or on ptmalloc-rs.
pub fn run(program: &Path, args: &[&str], preload: bool, env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(program);
    command.args(args).envs(env.iter().copied());
    if preload {
        command.env("LD_PRELOAD", preload_so());
    }
    command.output().expect("run program")
}
