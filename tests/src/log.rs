//! Reading the kernel's serial log: dmesg-style lines, the E820 table and the `Memory:` summary.

use std::time::Duration;

/// The serial output of one boot, line by line with arrival times.
#[derive(Debug)]
pub struct SerialLog {
    lines: Vec<(Duration, String)>,
}

/// One `BIOS-e820:`/`user:` line: `[start, end]` inclusive, as printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct E820Line {
    pub start: u64,
    pub end_inclusive: u64,
    pub typ: String,
}

impl E820Line {
    pub fn size(&self) -> u64 {
        self.end_inclusive - self.start + 1
    }
}

/// The figures of Linux's `Memory: …K/…K available (…)` line, in KiB.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemorySummary {
    pub available: u64,
    pub total: u64,
    pub code: u64,
    pub rwdata: u64,
    pub rodata: u64,
    pub init: u64,
    pub bss: u64,
    pub reserved: u64,
}

/// Strips the `[    0.123456] ` prefix of a kernel line.
fn kernel_message(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('[')?;
    let close = rest.find("] ")?;
    let stamp = rest[..close].trim();
    let (secs, micros) = stamp.split_once('.')?;
    (secs.chars().all(|c| c.is_ascii_digit())
        && micros.len() == 6
        && micros.chars().all(|c| c.is_ascii_digit()))
    .then(|| &rest[close + 2..])
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

impl SerialLog {
    pub fn new(lines: Vec<(Duration, String)>) -> Self {
        Self { lines }
    }

    /// The whole log as text.
    pub fn text(&self) -> String {
        self.lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n")
    }

    /// Kernel messages (timestamp prefix removed), in order.
    pub fn messages(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().filter_map(|(_, l)| kernel_message(l))
    }

    /// Whether some kernel message contains `needle`.
    pub fn has(&self, needle: &str) -> bool {
        self.messages().any(|m| m.contains(needle))
    }

    /// Whether any line — kernel message or user program output — contains `needle`.
    pub fn has_output(&self, needle: &str) -> bool {
        self.find_output(needle).is_some()
    }

    /// Every line: kernel messages without their timestamps, and user program output.
    pub fn outputs(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|(_, l)| kernel_message(l).unwrap_or(l.as_str()))
    }

    /// The first line (kernel message without its timestamp, or user output) containing `needle`.
    pub fn find_output(&self, needle: &str) -> Option<&str> {
        self.outputs().find(|l| l.contains(needle))
    }

    /// The first kernel message containing `needle`.
    pub fn find(&self, needle: &str) -> Option<&str> {
        self.messages().find(|m| m.contains(needle))
    }

    /// The value in kB of the `/proc/meminfo` line `label` (such as `"MemFree:"`) the kernel printed.
    pub fn meminfo_kb(&self, label: &str) -> Option<u64> {
        let line = self.messages().find(|m| m.starts_with(label))?;
        line[label.len()..].split_whitespace().next()?.parse().ok()
    }

    /// Arrival time of the first kernel message containing `needle`.
    pub fn arrival(&self, needle: &str) -> Option<Duration> {
        self.lines
            .iter()
            .find(|(_, l)| kernel_message(l).is_some_and(|m| m.contains(needle)))
            .map(|(t, _)| *t)
    }

    /// Arrival time of the first kernel line of all.
    pub fn first_kernel_line(&self) -> Option<Duration> {
        self.lines.iter().find(|(_, l)| kernel_message(l).is_some()).map(|(t, _)| *t)
    }

    /// The kernel's own timestamp (seconds since its entry) of the first message containing `needle`.
    pub fn kernel_time(&self, needle: &str) -> Option<f64> {
        let line = self
            .lines
            .iter()
            .map(|(_, l)| l)
            .find(|l| kernel_message(l).is_some_and(|m| m.contains(needle)))?;
        line[1..line.find(']')?].trim().parse().ok()
    }

    /// The E820 lines printed with `prefix` (`"BIOS-e820: "` or `"user: "`).
    pub fn e820(&self, prefix: &str) -> Vec<E820Line> {
        self.messages()
            .filter_map(|m| {
                let rest = m.strip_prefix(prefix)?.strip_prefix("[mem ")?;
                let (range, typ) = rest.split_once("] ")?;
                let (start, end) = range.split_once('-')?;
                Some(E820Line { start: hex(start)?, end_inclusive: hex(end)?, typ: typ.to_string() })
            })
            .collect()
    }

    /// KiB of page descriptors from the `Memory model:` line.
    /// The boot modules' memory: (start, inclusive end) of each `module: [mem 0xSTART-0xEND] name` line.
    pub fn modules(&self) -> Vec<(u64, u64)> {
        self.messages()
            .filter_map(|m| {
                let range = m.strip_prefix("module: [mem 0x")?.split(']').next()?;
                let (start, end) = range.split_once("-0x")?;
                Some((u64::from_str_radix(start, 16).ok()?, u64::from_str_radix(end, 16).ok()?))
            })
            .collect()
    }

    pub fn memmap_kib(&self) -> Option<u64> {
        let m = self.find("Memory model: ")?;
        let at = m.find("K of descriptors")?;
        m[..at].rsplit(' ').next()?.parse().ok()
    }

    /// The `Memory:` summary line, parsed.
    pub fn memory_summary(&self) -> Option<MemorySummary> {
        let m = self.find("Memory: ")?;
        let numbers: Vec<u64> = m
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().expect("digits"))
            .collect();
        let [available, total, code, rwdata, rodata, init, bss, reserved] = numbers[..] else { return None };
        Some(MemorySummary { available, total, code, rwdata, rodata, init, bss, reserved })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(lines: &[&str]) -> SerialLog {
        SerialLog::new(lines.iter().map(|l| (Duration::ZERO, l.to_string())).collect())
    }

    #[test]
    fn parses_kernel_lines_e820_and_summary() {
        let l = log(&[
            "\x1b[H  Booting `Pagoda'",
            "[    0.018782] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
            "[    0.018897] BIOS-e820: [mem 0x00000000fffc0000-0x00000000ffffffff] reserved",
            "[    0.019883] Memory: 129656K/130556K available (60K kernel code, 8K rwdata, 20K rodata, 4K init, 152K bss, 900K reserved)",
            "[ junk",
        ]);
        assert_eq!(l.messages().count(), 3);
        let e = l.e820("BIOS-e820: ");
        assert_eq!(e.len(), 2);
        assert_eq!(e[0], E820Line { start: 0, end_inclusive: 0x9fbff, typ: "usable".into() });
        assert_eq!(e[1].size(), 0x40000);
        let s = l.memory_summary().unwrap();
        assert_eq!((s.available, s.total, s.code, s.reserved), (129656, 130556, 60, 900));
        assert_eq!(l.kernel_time("Memory:"), Some(0.019883));
        assert!(l.has("reserved"));
        assert!(!l.has("Booting"));
    }
}
