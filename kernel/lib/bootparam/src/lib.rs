//! The kernel command line: splitting it into parameters, Linux's `memparse`, and the typed option set.
//!
//! Syntax follows Linux's `next_arg`: parameters are separated by spaces; a parameter is `key` or
//! `key=value`; double quotes group spaces (`init="/bin/sh -x"` or `"key=a b"`) and are removed from the
//! value; everything after a lone `--` belongs to init. Every option the kernel knows is listed in
//! [`BootParams::parse`]; anything else, and any known option with a value it cannot use, is reported back
//! as a [`Problem`] so the kernel can warn instead of ignoring it silently.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use core::fmt;

/// One parameter: `key` or `key=value`, with `text` the whole token as written (quotes included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Param<'a> {
    pub key: &'a str,
    pub value: Option<&'a str>,
    pub text: &'a str,
}

/// Splits a command line into parameters (stops at a lone `--`; see [`split_init_args`]).
pub fn params(cmdline: &str) -> Params<'_> {
    Params { rest: split_init_args(cmdline).0 }
}

/// Splits `cmdline` at the first lone `--` into the kernel's part and init's arguments.
pub fn split_init_args(cmdline: &str) -> (&str, &str) {
    let mut in_quotes = false;
    let bytes = cmdline.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'-' if !in_quotes
                && bytes.get(i + 1) == Some(&b'-')
                && (i == 0 || bytes[i - 1] == b' ')
                && bytes.get(i + 2).is_none_or(|&c| c == b' ') =>
            {
                return (&cmdline[..i], cmdline[i + 2..].trim_start());
            }
            _ => {}
        }
    }
    (cmdline, "")
}

/// Iterator over the parameters of a command line.
pub struct Params<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Params<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let s = self.rest.trim_start_matches(' ');
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let mut in_quotes = false;
        let mut end = s.len();
        for (i, b) in s.bytes().enumerate() {
            match b {
                b'"' => in_quotes = !in_quotes,
                b' ' if !in_quotes => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        let text = &s[..end];
        self.rest = &s[end..];
        let unquoted = text.strip_prefix('"').map_or(text, |t| t.strip_suffix('"').unwrap_or(t));
        Some(match unquoted.split_once('=') {
            Some((key, value)) => {
                let value = value.strip_prefix('"').map_or(value, |v| v.strip_suffix('"').unwrap_or(v));
                Param { key, value: Some(value), text }
            }
            None => Param { key: unquoted, value: None, text },
        })
    }
}

/// Parses a size as Linux's `memparse`: a decimal or `0x` hexadecimal number with an optional binary
/// suffix K, M, G, T, P or E (either case). Returns `None` on junk or overflow.
pub fn memparse(s: &str) -> Option<u64> {
    let (digits, shift) = match s.as_bytes().last()?.to_ascii_uppercase() {
        b'K' => (&s[..s.len() - 1], 10),
        b'M' => (&s[..s.len() - 1], 20),
        b'G' => (&s[..s.len() - 1], 30),
        b'T' => (&s[..s.len() - 1], 40),
        b'P' => (&s[..s.len() - 1], 50),
        b'E' if !s.starts_with("0x") && !s.starts_with("0X") => (&s[..s.len() - 1], 60),
        _ => (s, 0),
    };
    let value = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    };
    value.checked_mul(1u64 << shift)
}

/// A boolean as Linux's `kstrtobool`: 1/y/Y/on and 0/n/N/off.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "y" | "Y" | "yes" | "on" => Some(true),
        "0" | "n" | "N" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Most problems remembered; further ones are only counted.
pub const MAX_PROBLEMS: usize = 16;

/// What was wrong with a parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem<'a> {
    /// The kernel has no such option.
    Unknown(&'a str),
    /// A known option with a value it cannot use; the option is ignored.
    BadValue { text: &'a str, why: &'static str },
}

impl fmt::Display for Problem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown(text) => write!(f, "unknown parameter \"{text}\""),
            Self::BadValue { text, why } => write!(f, "bad parameter \"{text}\": {why}, ignored"),
        }
    }
}

/// Default console log level (Linux's `CONSOLE_LOGLEVEL_DEFAULT`): messages below it are printed.
pub const DEFAULT_LOGLEVEL: u8 = 7;

/// The options the kernel understands, typed. See README's "Kernel command line" for each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootParams<'a> {
    /// Console log level: messages with a level below it reach the console (`loglevel=`, `quiet`, `debug`).
    pub loglevel: u8,
    /// `mem=SIZE`: usable RAM at or above this physical address is ignored.
    pub mem_limit: Option<u64>,
    /// `memblock=debug`: trace every memblock call.
    pub memblock_debug: bool,
    /// `page_poison=1`: fill freed pages with 0xaa and check them when allocated.
    pub page_poison: bool,
    /// `init_on_alloc=1`: zero every page when it is allocated.
    pub init_on_alloc: bool,
    /// `init_on_free=1`: zero every page when it is freed.
    pub init_on_free: bool,
    /// `shuffle=1` (or `page_alloc.shuffle=1`): randomize the free lists at boot.
    pub shuffle: bool,
    /// `numa=off`: one node for all memory, whatever the firmware describes.
    pub numa_off: bool,
    /// `slub_debug[=FZP][,cache…]`: slab debugging ("" for everything on all caches).
    pub slub_debug: Option<&'a str>,
    /// `highmem=SIZE`: the top SIZE of RAM becomes ZONE_HIGHMEM, outside the direct map.
    pub highmem: Option<u64>,
    /// `nokaslr`: fixed virtual bases for the direct map, vmalloc and vmemmap.
    pub nokaslr: bool,
    /// `noapic`: ignore the I/O APIC; device interrupts come through the 8259 PIC (as Linux's `noapic`).
    pub noapic: bool,
    /// `vga=normal`: EGA text mode was asked of the boot loader (grub/mkiso.sh reads it, as GRUB's Linux
    /// loader reads Linux's `vga=`); the kernel only reports it.
    pub vga_text: bool,
    /// `randomize_va_space=0|1|2`: user address-space randomization (1: stack and mmap base; 2: also the
    /// heap). Default 2, as Linux.
    pub randomize_va_space: u8,
    /// `panic_on_oom=1`: panic instead of killing a task when memory runs out (seed 004 §2).
    pub panic_on_oom: bool,
    /// `oomd_timeout_ms=N`: how long a task out of memory waits for oomd before the kernel's OOM killer
    /// acts (default 1000; 1 ..= 60000).
    pub oomd_timeout_ms: u64,
    /// `test=NAME`: run the in-kernel test NAME and exit QEMU with its result.
    pub test: Option<&'a str>,
    /// `init=PROGRAM`: the first user program.
    pub init: Option<&'a str>,
    /// Everything after `--`: arguments for init.
    pub init_args: &'a str,
    /// Problems found, in order (at most [`MAX_PROBLEMS`]), and how many did not fit.
    pub problems: heapless::Vec<Problem<'a>, MAX_PROBLEMS>,
    pub problems_dropped: usize,
}

impl<'a> BootParams<'a> {
    /// Parses a whole command line. Never fails: problems are collected, later parameters override earlier
    /// ones, as in Linux.
    pub fn parse(cmdline: &'a str) -> Self {
        let mut p = BootParams {
            loglevel: DEFAULT_LOGLEVEL,
            mem_limit: None,
            memblock_debug: false,
            page_poison: false,
            init_on_alloc: false,
            init_on_free: false,
            shuffle: false,
            numa_off: false,
            slub_debug: None,
            highmem: None,
            nokaslr: false,
            noapic: false,
            vga_text: false,
            randomize_va_space: 2,
            panic_on_oom: false,
            oomd_timeout_ms: 1000,
            test: None,
            init: None,
            init_args: split_init_args(cmdline).1,
            problems: heapless::Vec::new(),
            problems_dropped: 0,
        };
        for param in params(cmdline) {
            if let Err(problem) = p.apply(param)
                && p.problems.push(problem).is_err()
            {
                p.problems_dropped += 1;
            }
        }
        p
    }

    fn apply(&mut self, param: Param<'a>) -> Result<(), Problem<'a>> {
        let bad = |why| Problem::BadValue { text: param.text, why };
        match (param.key, param.value) {
            ("loglevel", Some(v)) => {
                self.loglevel = v.parse::<u8>().ok().filter(|&l| l <= 15).ok_or(bad("expected 0..15"))?;
            }
            ("quiet", None) => self.loglevel = 4,
            ("debug", None) => self.loglevel = 10,
            ("mem", Some(v)) => {
                let limit = memparse(v).ok_or(bad("expected a size such as 512M"))?;
                if limit < (16 << 20) {
                    return Err(bad("below the 16M minimum"));
                }
                self.mem_limit = Some(limit);
            }
            ("highmem", Some(v)) => {
                let size = memparse(v).ok_or(bad("expected a size such as 512M"))?;
                if size < (2 << 20) {
                    return Err(bad("below the 2M minimum"));
                }
                self.highmem = Some(size);
            }
            ("memblock", Some("debug")) => self.memblock_debug = true,
            ("page_poison", Some(v)) => self.page_poison = parse_bool(v).ok_or(bad("expected 0 or 1"))?,
            ("init_on_alloc", Some(v)) => self.init_on_alloc = parse_bool(v).ok_or(bad("expected 0 or 1"))?,
            ("init_on_free", Some(v)) => self.init_on_free = parse_bool(v).ok_or(bad("expected 0 or 1"))?,
            ("shuffle" | "page_alloc.shuffle", Some(v)) => {
                self.shuffle = parse_bool(v).ok_or(bad("expected 0 or 1"))?;
            }
            ("numa", Some("off")) => self.numa_off = true,
            ("nokaslr", None) => self.nokaslr = true,
            ("noapic", None) => self.noapic = true,
            ("vga", Some("normal")) => self.vga_text = true,
            ("vga", _) => return Err(bad("only vga=normal (EGA text mode) exists")),
            ("panic_on_oom", Some(v)) => self.panic_on_oom = parse_bool(v).ok_or(bad("expected 0 or 1"))?,
            ("oomd_timeout_ms", Some(v)) => {
                self.oomd_timeout_ms = v
                    .parse()
                    .ok()
                    .filter(|ms| (1..=60_000).contains(ms))
                    .ok_or(bad("expected milliseconds, 1 to 60000"))?;
            }
            ("randomize_va_space", Some(v)) => {
                self.randomize_va_space = match v {
                    "0" => 0,
                    "1" => 1,
                    "2" => 2,
                    _ => return Err(bad("expected 0, 1 or 2")),
                }
            }
            ("slub_debug", value) => self.slub_debug = Some(value.unwrap_or("")),
            ("numa", _) => return Err(bad("only numa=off exists")),
            ("memblock", _) => return Err(bad("only memblock=debug exists")),
            ("test", Some(v)) if !v.is_empty() => self.test = Some(v),
            ("init", Some(v)) if !v.is_empty() => self.init = Some(v),
            (
                "test" | "init" | "loglevel" | "mem" | "highmem" | "page_poison" | "init_on_alloc"
                | "init_on_free" | "shuffle" | "page_alloc.shuffle" | "randomize_va_space" | "panic_on_oom"
                | "oomd_timeout_ms",
                _,
            ) => return Err(bad("needs a value")),
            _ => return Err(Problem::Unknown(param.text)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
