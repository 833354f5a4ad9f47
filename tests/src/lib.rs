//! The QEMU test harness: builds the kernel once, makes an ISO per kernel command line, boots it under
//! SeaBIOS or OVMF with a hard timeout, and returns the serial log with the isa-debug-exit verdict.
//!
//! Verdicts follow DESIGN §9: the kernel writes 0x10 (pass) or 0x11 (fail) to port 0xf4 and QEMU exits
//! with 33 or 35. Anything else — 0 after a triple fault with `-no-reboot`, a QEMU error, a timeout — is
//! a failure. TCG is used unless `PAGODA_KVM=1` (KVM here is a slow software module, DESIGN §3).

pub mod log;
pub mod screen;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use log::{E820Line, MemorySummary, SerialLog};

/// QEMU exit status for a passing test (0x10 << 1 | 1).
pub const EXIT_PASS: i32 = 33;
/// QEMU exit status for a failing test (0x11 << 1 | 1).
pub const EXIT_FAIL: i32 = 35;

/// Root of the repository.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ lives in the repository").to_path_buf()
}

/// The userland programs the ISO carries as modules (built by `make kernel` next to the kernel).
pub fn program_elfs() -> Vec<PathBuf> {
    let kernel = kernel_elf();
    let dir = kernel.parent().expect("the kernel ELF is in a directory");
    // Rust programs (src/bin, demos) and C programs (userland/c, built by userland/c/build.sh).
    let mut names: Vec<String> =
        [("userland/src/bin", "rs"), ("userland/demos", "rs"), ("userland/demos", "c"), ("userland/c", "c")]
            .iter()
            .flat_map(|&(dir, ext)| {
                std::fs::read_dir(repo_root().join(dir)).expect("a userland program directory").filter_map(
                    move |e| {
                        let path = e.ok()?.path();
                        (path.extension()? == ext).then(|| path.file_stem()?.to_str().map(str::to_string))?
                    },
                )
            })
            .collect();
    // The shell is its own crate (on libc-rs): its binary is `sh`.
    names.push("sh".to_string());
    names.sort();
    names.into_iter().map(|n| dir.join(n)).collect()
}

/// Builds the kernel (release profile) once per test process and returns the ELF's path.
pub fn kernel_elf() -> &'static Path {
    static ELF: OnceLock<PathBuf> = OnceLock::new();
    ELF.get_or_init(|| {
        let root = repo_root();
        let status = Command::new("make")
            .args(["--no-print-directory", "-s", "kernel"])
            .current_dir(&root)
            .status()
            .expect("run make kernel");
        assert!(status.success(), "make kernel failed");
        let target_dir =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |dir| root.join(dir));
        target_dir.join("x86_64-unknown-none/release/kernel")
    })
}

/// Which firmware boots the ISO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    /// SeaBIOS on QEMU's `pc` machine.
    Bios,
    /// OVMF (UEFI) on `q35`, with a fresh copy of the variable store each run.
    Uefi,
}

/// One boot: a kernel command line, a RAM size and a firmware.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub args: String,
    pub mem: String,
    pub firmware: Firmware,
    pub timeout: Duration,
    /// More QEMU arguments (NUMA topology, CPUs).
    pub qemu_args: Vec<String>,
}

impl Scenario {
    /// A BIOS boot with `test=NAME` plus `extra` arguments.
    pub fn test(name: &str, mem: &str, extra: &str) -> Self {
        let args = if extra.is_empty() { format!("test={name}") } else { format!("test={name} {extra}") };
        Self {
            name: name.to_string(),
            args,
            mem: mem.to_string(),
            firmware: Firmware::Bios,
            timeout: Duration::from_secs(90),
            qemu_args: Vec::new(),
        }
    }

    /// Adds QEMU arguments.
    pub fn qemu(mut self, args: &[&str]) -> Self {
        self.qemu_args.extend(args.iter().map(|a| a.to_string()));
        self
    }

    pub fn uefi(mut self) -> Self {
        self.firmware = Firmware::Uefi;
        self.timeout = Duration::from_secs(180);
        self
    }
}

/// What one boot produced.
#[derive(Debug)]
pub struct Outcome {
    /// QEMU's exit status, `None` when it was killed at the timeout.
    pub status: Option<i32>,
    pub log: SerialLog,
    /// Wall time from spawning QEMU to its exit.
    pub elapsed: Duration,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.status == Some(EXIT_PASS)
    }

    /// Panics with the whole serial log unless QEMU exited with `status`.
    pub fn expect_status(&self, status: i32) -> &Self {
        assert_eq!(self.status, Some(status), "unexpected QEMU exit; serial log:\n{}", self.log.text());
        self
    }
}

/// Makes the ISO for a command line once per test process; each distinct command line gets its own file.
pub fn iso_for(args: &str) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, iso)) = built.iter().find(|(a, _)| a == args) {
        return iso.clone();
    }
    let iso = build_iso(args);
    built.push((args.to_string(), iso.clone()));
    iso
}

fn build_iso(args: &str) -> PathBuf {
    let kernel = kernel_elf();
    let root = repo_root();
    let dir = root.join("build/test-isos");
    std::fs::create_dir_all(&dir).expect("create build/test-isos");
    let key: String =
        args.chars().map(|c| if c.is_ascii_alphanumeric() || c == '=' { c } else { '_' }).take(80).collect();
    let hash =
        args.bytes().fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
    let iso = dir.join(format!("{key}-{hash:016x}.iso"));
    let status = Command::new(root.join("grub/mkiso.sh"))
        .arg(kernel)
        .arg(&iso)
        .arg(args)
        .arg("0")
        .args(program_elfs())
        .status()
        .expect("run grub/mkiso.sh");
    assert!(status.success(), "grub/mkiso.sh failed for {args:?}");
    iso
}

pub(crate) fn qemu_command(s: &Scenario, iso: &Path, vars: Option<&Path>) -> Command {
    let mut cmd = Command::new("qemu-system-x86_64");
    if std::env::var("PAGODA_KVM").as_deref() == Ok("1") {
        cmd.args(["-accel", "kvm", "-cpu", "host"]);
    } else {
        cmd.args(["-accel", "tcg"]);
    }
    cmd.args(["-m", &s.mem, "-display", "none", "-no-reboot", "-serial", "stdio"]);
    // A scenario that drives the screen brings its own monitor (screen::Session).
    if !s.qemu_args.iter().any(|a| a == "-monitor") {
        cmd.args(["-monitor", "none"]);
    }
    cmd.args(["-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-cdrom"]).arg(iso);
    if let Some(vars) = vars {
        cmd.args([
            "-machine",
            "q35",
            "-drive",
            "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
        ]);
        cmd.arg("-drive").arg(format!("if=pflash,format=raw,file={}", vars.display()));
    }
    cmd.args(&s.qemu_args);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

/// Boots `scenario` and collects its serial output (each line with the time it arrived).
pub fn run(scenario: &Scenario) -> Outcome {
    run_inner(scenario, None)
}

/// Boots `scenario` and, once a serial line contains `ready`, types `input` on the serial console (each
/// command ends with a carriage return, as a terminal's Enter key sends).
pub fn run_with_input(scenario: &Scenario, ready: &str, commands: &[&str]) -> Outcome {
    let text: String = commands.iter().map(|c| format!("{c}\r")).collect();
    run_inner(scenario, Some((ready.to_string(), text)))
}

fn run_inner(scenario: &Scenario, input: Option<(String, String)>) -> Outcome {
    let iso = iso_for(&scenario.args);
    let vars = (scenario.firmware == Firmware::Uefi).then(|| {
        let path =
            std::env::temp_dir().join(format!("pagoda-vars-{}-{}.fd", std::process::id(), scenario.name));
        std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &path).expect("copy OVMF_VARS_4M.fd (make deps)");
        path
    });
    let start = Instant::now();
    let mut command = qemu_command(scenario, &iso, vars.as_deref());
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().expect("start qemu-system-x86_64");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stdin = child.stdin.take();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        let mut input = input;
        while reader.read_until(b'\n', &mut buf).map(|n| n > 0).unwrap_or(false) {
            let line = String::from_utf8_lossy(&buf).trim_end_matches(['\r', '\n']).to_string();
            // Type the input only once the program reading it is up (GRUB reads the serial line too).
            if let Some((_, text)) = input.take_if(|(ready, _)| line.contains(ready.as_str()))
                && let Some(stdin) = stdin.as_mut()
            {
                let _ = std::io::Write::write_all(stdin, text.as_bytes());
                let _ = std::io::Write::flush(stdin);
            }
            let _ = tx.send((start.elapsed(), line));
            buf.clear();
        }
        drop(stdin);
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for qemu") {
            break status.code();
        }
        if start.elapsed() > scenario.timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = start.elapsed();
    let _ = reader.join();
    let mut stderr = String::new();
    if let Some(mut err) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut err, &mut stderr);
    }
    if let Some(vars) = vars {
        let _ = std::fs::remove_file(vars);
    }
    let mut lines: Vec<(Duration, String)> = rx.try_iter().collect();
    if status.is_none() {
        lines.push((elapsed, format!("<harness: killed after the {:?} timeout>", scenario.timeout)));
    }
    if !stderr.trim().is_empty() {
        lines.push((elapsed, format!("<qemu stderr: {}>", stderr.trim())));
    }
    Outcome { status, log: SerialLog::new(lines), elapsed }
}

/// Section sizes of the kernel ELF, to check the `Memory:` line's kernel figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImageSizes {
    pub text: u64,
    pub rodata: u64,
    pub data: u64,
    pub bss: u64,
    pub boot: u64,
}

/// Section sizes of the kernel ELF; `boot` is the init memory the kernel frees at the end of boot: the
/// .boot section and the boot stub's page tables (between two symbols in .bss).
pub fn kernel_image_sizes() -> ImageSizes {
    use object::{Object, ObjectSection, ObjectSymbol};
    let bytes = std::fs::read(kernel_elf()).expect("read kernel ELF");
    let elf = object::File::parse(&*bytes).expect("parse kernel ELF");
    let size = |name: &str| elf.section_by_name(name).map_or(0, |s| s.size());
    let symbol = |name: &str| elf.symbols().find(|s| s.name() == Ok(name)).map(|s| s.address()).expect(name);
    let boot_tables = symbol("boot_pgtables_end") - symbol("boot_pgtables_start");
    ImageSizes {
        text: size(".text"),
        rodata: size(".rodata"),
        data: size(".data"),
        bss: size(".bss"),
        boot: size(".boot") + boot_tables,
    }
}
