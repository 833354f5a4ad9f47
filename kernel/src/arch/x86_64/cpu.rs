//! CPU identification and the few instructions the rest of the kernel needs (halt, interrupt flag, TSC).
//!
//! Feature bits are read with CPUID (Intel SDM vol. 2A, "CPUID"); the ones memory management cares about
//! are kept in [`CpuFeatures`] and printed at boot.

use core::arch::x86_64::{__cpuid, __cpuid_count};
use core::fmt;

/// The CPU's identity and the features the kernel uses or reports.
#[derive(Clone, Copy, Debug)]
pub struct CpuFeatures {
    pub vendor: [u8; 12],
    pub brand: [u8; 48],
    pub family: u32,
    pub model: u32,
    pub stepping: u32,
    pub nx: bool,
    pub pge: bool,
    pub pse: bool,
    pub pat: bool,
    pub gbpages: bool,
    pub smep: bool,
    pub smap: bool,
    pub umip: bool,
    pub rdrand: bool,
    pub rdseed: bool,
    pub x2apic: bool,
    pub invariant_tsc: bool,
    pub la57: bool,
    pub hypervisor: bool,
    pub phys_addr_bits: u8,
    pub virt_addr_bits: u8,
}

impl CpuFeatures {
    /// Reads all leaves this structure reports.
    pub fn detect() -> Self {
        let mut f = CpuFeatures {
            vendor: [0; 12],
            brand: [0; 48],
            family: 0,
            model: 0,
            stepping: 0,
            nx: false,
            pge: false,
            pse: false,
            pat: false,
            gbpages: false,
            smep: false,
            smap: false,
            umip: false,
            rdrand: false,
            rdseed: false,
            x2apic: false,
            invariant_tsc: false,
            la57: false,
            hypervisor: false,
            phys_addr_bits: 0,
            virt_addr_bits: 0,
        };
        let leaf0 = cpuid(0, 0);
        let max_leaf = leaf0.0;
        for (i, reg) in [leaf0.1, leaf0.3, leaf0.2].iter().enumerate() {
            f.vendor[i * 4..i * 4 + 4].copy_from_slice(&reg.to_le_bytes());
        }
        let (eax, _, ecx, edx) = cpuid(1, 0);
        let base_family = (eax >> 8) & 0xf;
        f.family = if base_family == 0xf { base_family + ((eax >> 20) & 0xff) } else { base_family };
        f.model = if base_family == 0x6 || base_family == 0xf {
            ((eax >> 4) & 0xf) | (((eax >> 16) & 0xf) << 4)
        } else {
            (eax >> 4) & 0xf
        };
        f.stepping = eax & 0xf;
        f.pse = edx & (1 << 3) != 0;
        f.pge = edx & (1 << 13) != 0;
        f.pat = edx & (1 << 16) != 0;
        f.x2apic = ecx & (1 << 21) != 0;
        f.rdrand = ecx & (1 << 30) != 0;
        f.hypervisor = ecx & (1 << 31) != 0;
        if max_leaf >= 7 {
            let (_, ebx, ecx, _) = cpuid(7, 0);
            f.smep = ebx & (1 << 7) != 0;
            f.rdseed = ebx & (1 << 18) != 0;
            f.smap = ebx & (1 << 20) != 0;
            f.umip = ecx & (1 << 2) != 0;
            f.la57 = ecx & (1 << 16) != 0;
        }
        let max_ext = cpuid(0x8000_0000, 0).0;
        if max_ext >= 0x8000_0001 {
            let (_, _, _, edx) = cpuid(0x8000_0001, 0);
            f.nx = edx & (1 << 20) != 0;
            f.gbpages = edx & (1 << 26) != 0;
        }
        if max_ext >= 0x8000_0004 {
            for (i, leaf) in (0x8000_0002..=0x8000_0004).enumerate() {
                let (a, b, c, d) = cpuid(leaf, 0);
                for (j, reg) in [a, b, c, d].iter().enumerate() {
                    let at = i * 16 + j * 4;
                    f.brand[at..at + 4].copy_from_slice(&reg.to_le_bytes());
                }
            }
        }
        if max_ext >= 0x8000_0007 {
            f.invariant_tsc = cpuid(0x8000_0007, 0).3 & (1 << 8) != 0;
        }
        (f.phys_addr_bits, f.virt_addr_bits) = if max_ext >= 0x8000_0008 {
            let eax = cpuid(0x8000_0008, 0).0;
            ((eax & 0xff) as u8, ((eax >> 8) & 0xff) as u8)
        } else {
            (36, 48)
        };
        f
    }

    pub fn vendor(&self) -> &str {
        core::str::from_utf8(&self.vendor).unwrap_or("unknown")
    }

    /// The brand string without its padding, or the vendor when the CPU has none.
    pub fn brand(&self) -> &str {
        let end = self.brand.iter().position(|&b| b == 0).unwrap_or(self.brand.len());
        match core::str::from_utf8(&self.brand[..end]) {
            Ok(s) if !s.trim().is_empty() => s.trim(),
            _ => self.vendor(),
        }
    }
}

/// The feature flags as a `/proc/cpuinfo`-style list.
impl fmt::Display for CpuFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = [
            (self.pse, "pse"),
            (self.pge, "pge"),
            (self.pat, "pat"),
            (self.nx, "nx"),
            (self.gbpages, "pdpe1gb"),
            (self.smep, "smep"),
            (self.smap, "smap"),
            (self.umip, "umip"),
            (self.la57, "la57"),
            (self.rdrand, "rdrand"),
            (self.rdseed, "rdseed"),
            (self.x2apic, "x2apic"),
            (self.invariant_tsc, "constant_tsc"),
            (self.hypervisor, "hypervisor"),
        ];
        let mut first = true;
        for (_, name) in flags.iter().filter(|(on, _)| *on) {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(name)?;
            first = false;
        }
        Ok(())
    }
}

/// Turns on the supervisor protections the CPU has (Intel SDM vol. 3A §2.5, CR4): SMEP (the kernel may not
/// execute user pages), SMAP (nor touch them outside explicit user-copy windows) and UMIP (user code may
/// not read descriptor-table registers). Returns which are on.
pub fn enable_protections(f: &CpuFeatures) -> (bool, bool, bool) {
    use x86::controlregs::{Cr4, cr4, cr4_write};
    // SAFETY: the bits are set only when CPUID reports the features; the kernel touches no user memory
    // yet (later user copies bracket their accesses with STAC/CLAC), so nothing it does violates them.
    unsafe {
        let mut value = cr4();
        value.set(Cr4::CR4_ENABLE_SMEP, f.smep);
        value.set(Cr4::CR4_ENABLE_SMAP, f.smap);
        value.set(Cr4::CR4_ENABLE_UMIP, f.umip);
        cr4_write(value);
    }
    (f.smep, f.smap, f.umip)
}

/// Executes CPUID for `leaf`/`subleaf` and returns (EAX, EBX, ECX, EDX).
pub fn cpuid(leaf: u32, subleaf: u32) -> (u32, u32, u32, u32) {
    let r = if subleaf == 0 { __cpuid(leaf) } else { __cpuid_count(leaf, subleaf) };
    (r.eax, r.ebx, r.ecx, r.edx)
}

/// A hardware random number from RDRAND (Intel SDM vol. 2B, "RDRAND"), retried as Intel recommends.
pub fn rdrand() -> Option<u64> {
    for _ in 0..10 {
        let (value, ok): (u64, u8);
        // SAFETY: RDRAND writes a register and CF only; callers check CPUID first.
        unsafe {
            core::arch::asm!("rdrand {}", "setc {}", out(reg) value, out(reg_byte) ok, options(nomem, nostack))
        };
        if ok != 0 {
            return Some(value);
        }
    }
    None
}

/// A seed from RDSEED (the conditioned entropy source itself), retried a few times.
pub fn rdseed() -> Option<u64> {
    for _ in 0..100 {
        let (value, ok): (u64, u8);
        // SAFETY: RDSEED writes a register and CF only; callers check CPUID first.
        unsafe {
            core::arch::asm!("rdseed {}", "setc {}", out(reg) value, out(reg_byte) ok, options(nomem, nostack))
        };
        if ok != 0 {
            return Some(value);
        }
        core::hint::spin_loop();
    }
    None
}

/// Reads the time-stamp counter.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads the time-stamp counter; CR4.TSD is clear, so it is allowed at CPL 0.
    unsafe { x86::time::rdtsc() }
}

/// Whether maskable interrupts are enabled (RFLAGS.IF).
#[inline]
pub fn interrupts_enabled() -> bool {
    x86::bits64::rflags::read().contains(x86::bits64::rflags::RFlags::FLAGS_IF)
}

/// Disables maskable interrupts and returns whether they were enabled (Linux's `local_irq_save`).
#[inline]
pub fn local_irq_save() -> bool {
    let was_enabled = interrupts_enabled();
    // SAFETY: CLI only changes RFLAGS.IF; the caller restores it with `local_irq_restore`.
    unsafe { x86::irq::disable() };
    was_enabled
}

/// Re-enables interrupts if `was_enabled` (the value `local_irq_save` returned).
#[inline]
pub fn local_irq_restore(was_enabled: bool) {
    if was_enabled {
        // SAFETY: interrupts were enabled before the matching `local_irq_save`, so the IDT is loaded
        // and handlers are ready.
        unsafe { x86::irq::enable() };
    }
}

/// Enables maskable interrupts (Linux's `local_irq_enable`).
#[inline]
pub fn local_irq_enable() {
    // SAFETY: STI only changes RFLAGS.IF; the IDT is loaded (`init_cpu`) before any caller runs.
    unsafe { x86::irq::enable() };
}

/// Disables maskable interrupts (Linux's `local_irq_disable`).
#[inline]
pub fn local_irq_disable() {
    // SAFETY: CLI only changes RFLAGS.IF.
    unsafe { x86::irq::disable() };
}

/// Enables interrupts and halts until one arrives, with no window for it to slip in between: STI holds
/// interrupts off until after the next instruction (Intel SDM vol. 2B, "STI"). Returns, with interrupts
/// enabled, after the handler ran (Linux's `native_safe_halt`).
#[inline]
pub fn safe_halt() {
    // SAFETY: STI; HLT changes RFLAGS.IF and waits; the handler that wakes the CPU may write memory,
    // which is why the asm is not `nomem`.
    unsafe { core::arch::asm!("sti", "hlt", options(nostack)) };
}

/// Stops this CPU for good: interrupts off, then HLT forever (an NMI may wake it; it halts again).
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: disabling interrupts and halting has no memory effects.
        unsafe {
            x86::irq::disable();
            x86::halt();
        }
    }
}

/// Reads the frame pointer of the caller's frame.
#[inline(always)]
pub fn frame_pointer() -> u64 {
    let rbp: u64;
    // SAFETY: copying RBP into a register has no side effects.
    unsafe { core::arch::asm!("mov {}, rbp", out(reg) rbp, options(nomem, nostack, preserves_flags)) };
    rbp
}
