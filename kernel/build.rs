//! Links the kernel with its own linker script (bins only, so nothing else in the workspace is affected).

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-arg-bins=-T{dir}/linker.ld");
    // The 32-bit boot stub needs absolute relocations; this survives a RUSTFLAGS override of the
    // relocation model set in .cargo/config.toml (DESIGN §3).
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rerun-if-changed=linker.ld");
}
