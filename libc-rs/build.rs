//! Compiles libc-rs's C part (`c/*.c`: the variadic entry points, which stable Rust cannot define) with gcc
//! into `libc_rs_c.a` and links it into the crate (`rustc-link-lib=static`, so it is bundled into the rlib and
//! into `liblibc_rs.a`). Only for target builds (`target_os = "none"`); host builds (tests, lints) have no C.
//!
//! The compiler is `$CC` if set, else `gcc`, else `cc`; the archiver `$AR` if set, else `ar`. Flags:
//! freestanding, our own headers only (`-nostdinc -I include`), static code (`-fno-pic -fno-pie`, the kernel
//! loads ET_EXEC programs at fixed addresses), no stack protector, no red zone, and `-mgeneral-regs-only`:
//! the kernel does not enable SSE for user tasks (no CR4.OSFXSR, no FPU state on context switches), so no
//! SSE/x87 instruction may appear in user code (Rust's x86_64-unknown-none is soft-float for the same reason).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const C_FLAGS: &[&str] = &[
    "-m64",
    "-std=c11",
    "-ffreestanding",
    "-fno-builtin",
    "-nostdinc",
    "-fno-pic",
    "-fno-pie",
    "-fno-stack-protector",
    "-mno-red-zone",
    "-mgeneral-regs-only",
    "-fno-asynchronous-unwind-tables",
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let c_dir = manifest_dir.join("c");
    let include_dir = manifest_dir.join("include");
    println!("cargo:rerun-if-changed={}", c_dir.display());
    println!("cargo:rerun-if-changed={}", include_dir.display());
    println!("cargo:rerun-if-env-changed=CC");
    println!("cargo:rerun-if-env-changed=AR");

    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }

    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let compiler = find_tool("CC", &["gcc", "cc"]).unwrap_or_else(|| {
        fail("no C compiler found (tried $CC, gcc, cc). libc-rs needs gcc for c/*.c: run `make deps` (it installs gcc) or set CC.")
    });
    let archiver = find_tool("AR", &["ar"])
        .unwrap_or_else(|| fail("no archiver found (tried $AR, ar). Install binutils (`make deps` installs gcc, which brings it) or set AR."));

    let mut sources: Vec<PathBuf> = std::fs::read_dir(&c_dir)
        .unwrap_or_else(|error| fail(&format!("cannot read {}: {error}", c_dir.display())))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "c"))
        .collect();
    sources.sort();

    let mut objects = Vec::new();
    for source in &sources {
        let object = out_dir.join(source.file_stem().expect("a .c file has a stem")).with_extension("o");
        run(Command::new(&compiler)
            .args(C_FLAGS)
            .arg("-I")
            .arg(&include_dir)
            .arg("-c")
            .arg(source)
            .arg("-o")
            .arg(&object));
        objects.push(object);
    }

    let archive = out_dir.join("liblibc_rs_c.a");
    let _ = std::fs::remove_file(&archive);
    run(Command::new(&archiver).arg("crs").arg(&archive).args(&objects));
    println!("cargo:rustc-link-search=native={}", out_dir.display());
    println!("cargo:rustc-link-lib=static=libc_rs_c");
}

/// `$variable` if set, else the first of `candidates` found on PATH.
fn find_tool(variable: &str, candidates: &[&str]) -> Option<String> {
    if let Ok(tool) = env::var(variable)
        && !tool.is_empty()
    {
        return Some(tool);
    }
    candidates.iter().find(|name| on_path(name)).map(|name| name.to_string())
}

fn on_path(name: &str) -> bool {
    env::var_os("PATH")
        .is_some_and(|path| env::split_paths(&path).any(|directory| is_executable(&directory.join(name))))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|error| fail(&format!("cannot run {command:?}: {error}")));
    if !output.status.success() {
        fail(&format!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("libc-rs build: {message}");
    std::process::exit(1)
}
