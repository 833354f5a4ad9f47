//! Pagoda: a Rust microkernel for x86-64 whose heart is memory management.
//!
//! `kernel_main` is entered from the 32-bit multiboot2 stub (`arch/x86_64/boot.rs`) in long mode on the
//! boot stack, and brings the system up in the order of DESIGN §4 (seed 000 §1–§7 so far): console and
//! log, CPU tables, command line, boot information, E820, memblock. Later issues continue the sequence
//! (page tables, zones, buddy, slab, tasks).
//!
//! Layers, one way: `arch/x86_64` (hardware) ← `sync`, `printk`, `boot`, `mm` (mechanisms) ← pure crates
//! (`mm-core`, `lib/*`), which know nothing of hardware.
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

mod arch;
mod boot;
mod drivers;
mod ipc;
mod ksyms;
mod ktest;
mod mm;
mod panic;
mod printk;
mod random;
mod sched;
mod sync;
mod syscall;
mod task;
mod tty;

use arch::x86_64::{self as cpu_arch, cpu::CpuFeatures, tsc};

#[global_allocator]
static GLOBAL_ALLOCATOR: mm::kmalloc::KernelAllocator = mm::kmalloc::KernelAllocator;
use bootparam::BootParams;

/// Timer interrupts per second (Linux's `HZ`); interrupts stay off until the scheduler starts.
const TICK_HZ: u32 = 1000;

/// NX support as reported by CPUID 0x80000001 EDX bit 20 (the stub enabled EFER.NXE when set).
const CPUID_EXT_NX: u32 = 1 << 20;

#[unsafe(no_mangle)]
extern "C" fn kernel_main(magic: u32, mbi_phys: u64, cpuid_ext_edx: u32) -> ! {
    tsc::mark_boot();
    printk::init_console();
    pr_notice!(
        "Pagoda version {} (rustc, x86_64-unknown-none) — a memory-management microkernel",
        env!("CARGO_PKG_VERSION")
    );
    cpu_arch::init_cpu();

    let features = CpuFeatures::detect();
    pr_info!(
        "CPU: {} (family {:#x}, model {:#x}, stepping {:#x}), {} bits physical, {} bits virtual",
        features.brand(),
        features.family,
        features.model,
        features.stepping,
        features.phys_addr_bits,
        features.virt_addr_bits
    );
    pr_info!("CPU features: {features}");
    let nx = cpuid_ext_edx & CPUID_EXT_NX != 0;
    if nx {
        pr_info!("NX (Execute Disable) protection: active");
    } else {
        pr_warn!("NX (Execute Disable) protection: not available on this CPU");
    }
    let on_off = |on: bool| if on { "enabled" } else { "not available" };
    let (smep, smap, umip) = cpu_arch::cpu::enable_protections(&features);
    pr_info!("x86/cpu: SMEP {}, SMAP {}, UMIP {}", on_off(smep), on_off(smap), on_off(umip));
    match tsc::calibrate() {
        Some(khz) => pr_info!("tsc: Detected {}.{:03} MHz processor", khz / 1000, khz % 1000),
        None => pr_warn!("tsc: PIT calibration failed, log timestamps stay at 0"),
    }

    let source = random::init(&features);
    pr_info!("random: boot entropy from {source}");
    // KASLR needs `nokaslr` before the boot information is opened for good (it is read again, through the
    // new direct map, right after the switch).
    let nokaslr = boot::peek_cmdline(magic, mbi_phys).is_some_and(|c| BootParams::parse(c).nokaslr);
    let direct_base = mm::layout::choose_bases(nokaslr, features.phys_addr_bits);
    if let Err(why) =
        cpu_arch::paging::switch_to_kernel_tables(direct_base, nx, &mm::layout::kernel_sections())
    {
        panic!("paging: cannot build the kernel page tables: {why}");
    }
    let boot = match boot::BootInfo::load(magic, mbi_phys) {
        Ok(boot) => boot,
        Err(err) => {
            pr_emerg!("boot: {err}; cannot continue without a memory map");
            cpu_arch::cpu::halt_forever();
        }
    };
    let cmdline = boot.cmdline();
    let params = BootParams::parse(cmdline);
    printk::set_console_loglevel(params.loglevel);
    if let Some(screen) = drivers::fbcon::init(boot) {
        printk::replay_early_to_screen();
        pr_info!("Console: colour {} {}x{} on the screen", screen.kind, screen.columns, screen.rows);
    } else if params.vga_text {
        pr_info!("Console: vga=normal, but the boot loader left no text screen; serial only");
    }
    pr_notice!("Command line: {cmdline}");
    for problem in &params.problems {
        pr_warn!("Kernel command line: {problem}");
    }
    if params.problems_dropped > 0 {
        pr_warn!("Kernel command line: {} more problems not shown", params.problems_dropped);
    }
    if let Some(test) = params.test {
        ktest::set_active(test);
    }
    boot.print();
    pr_info!(
        "paging: kernel page tables loaded ({} pool pages), identity map removed, direct map {}",
        cpu_arch::paging::pool_pages_used(),
        if mm::layout::randomized() { "randomized" } else { "at its fixed base (nokaslr)" }
    );
    mm::layout::print_layout();
    match boot.module_bytes("ksyms").map(ksyms::init) {
        Some(Some(count)) => pr_info!("ksyms: {count} kernel symbols for backtraces"),
        Some(None) => pr_warn!("ksyms: the ksyms module is not text; backtraces show bare addresses"),
        None => pr_notice!("ksyms: no ksyms module; backtraces show bare addresses"),
    }

    let e820 = mm::e820::setup(boot, params.mem_limit);
    let image = mm::layout::kernel_image();
    mm::memblock::set_debug(params.memblock_debug);
    mm::memblock::setup(&e820, boot, &image);
    // Interrupt routing from the MADT, read now: the ACPI tables leave the direct map with mm_init.
    if params.noapic {
        pr_info!("noapic: the I/O APIC is left alone; device interrupts come through the 8259 PIC");
    } else if let Some(madt) = mm::numa::with_madt(boot, nx, mm_core::madt::parse_madt) {
        cpu_arch::ioapic::set_madt(madt);
    }
    // The final direct map covers RAM only: the screen waits for its own mapping (after vmalloc).
    drivers::fbcon::suspend();
    if let Some(test) = params.test {
        ktest::run_early(test);
    }
    let options = mm::mm_init::MmOptions {
        page_poison: params.page_poison,
        init_on_alloc: params.init_on_alloc,
        init_on_free: params.init_on_free,
        shuffle: params.shuffle,
        numa_off: params.numa_off,
        nx,
        gbpages: features.gbpages,
        highmem: params.highmem,
    };
    let report = match mm::mm_init::mm_init(boot, options) {
        Ok(report) => report,
        Err(why) => panic!("mm_init: {why}"),
    };
    mm::memblock::print_memory_summary(&image, report.free_pages, report.total_pages);
    if let Some(option) = params.slub_debug {
        mm::slab::set_debug(option);
    }
    mm::pgtable::init_kernel_pgtable();
    mm::slab::kmem_cache_init();
    mm::vmalloc::vmalloc_init();
    if let Err(why) = drivers::fbcon::resume() {
        pr_warn!("Console: {why}; the screen stays as it is");
    }
    if let Err(why) = cpu_arch::apic::init(TICK_HZ) {
        pr_warn!("APIC: {why}; the kernel has no timer tick");
    }
    match drivers::keyboard::init() {
        Ok(cpu_arch::irq::Route::IoApic { gsi, vector }) => {
            pr_info!(
                "keyboard: PS/2 (i8042), US layout, IRQ 1 through the I/O APIC (GSI {gsi}, vector {vector:#x})"
            )
        }
        Ok(cpu_arch::irq::Route::Pic { vector }) => {
            pr_info!("keyboard: PS/2 (i8042), US layout, IRQ 1 through the 8259 PIC (vector {vector:#x})")
        }
        Err(why) => pr_info!("keyboard: none ({why})"),
    }
    mm::vmalloc::print_info();
    mm::vmstat::print_all(printk::Level::Debug);

    mm::mm_init::free_initmem();
    mm::pgtable::check_wx();
    if let Some(test) = params.test {
        ktest::run(test);
    }
    start_userland(boot, &params, smap)
}

/// Sets up system calls and per-task address spaces, then starts init (DESIGN §4 step 12).
fn start_userland(boot: &'static boot::BootInfo, params: &BootParams<'_>, smap: bool) -> ! {
    cpu_arch::percpu::init();
    cpu_arch::syscall::init();
    let (total_pages, _) = mm::page_alloc::nr_pages();
    mm::memcontrol::init(total_pages);
    mm::memcontrol::set_panic_on_oom(params.panic_on_oom);
    mm::oom::set_timeout_ms(params.oomd_timeout_ms);
    mm::psi::init();
    mm::uaccess::set_smap(smap);
    let tables = mm::aspace::preallocate_kernel_pml4();
    pr_info!(
        "mm: {tables} kernel PML4 tables preallocated; the kernel half is shared by every address space"
    );
    let programs = task::modules::init(boot);
    pr_info!("exec: {programs} boot modules available as programs");
    // `init="prog a b"` or `init=prog -- a b`. The `init` program (when the ISO has it) runs as pid 1,
    // starts the servers and then the requested program; a program named directly runs alone.
    let mut words = params.init.unwrap_or("").split_whitespace();
    let program = words.next();
    let mut args: alloc::vec::Vec<&[u8]> =
        words.chain(params.init_args.split_whitespace()).map(str::as_bytes).collect();
    let name = match program {
        Some(program) if program != "init" && task::modules::find("init").is_some() => {
            args.insert(0, program.as_bytes());
            "init"
        }
        Some(program) => program,
        None if task::modules::find("init").is_some() => "init",
        None => {
            pr_notice!("No init= given and no init program: nothing to run. System halted.");
            cpu_arch::cpu::halt_forever()
        }
    };
    task::spawn::start(name, &args, params.randomize_va_space)
}
