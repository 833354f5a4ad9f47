//! /proc paths (DESIGN §8): the texts have no file system behind them; libc-rs resolves each path to the
//! kernel call or the memd request that writes it, so `open("/proc/self/maps")` + `read` (and a shell's
//! `cat`) work. Kernel-owned: `/proc/{meminfo,buddyinfo,pagetypeinfo,zoneinfo,vmstat,slabinfo,
//! vmallocinfo}` (`proc_text`); memd-owned: `/proc/{self,PID}/{maps,smaps,status}` (`memd_text`).
//!
//! Reading is by offset: each `read` asks for the text from the file position on, so a text longer than
//! a buffer is read in pieces (it is regenerated each time, as Linux's seq_file does).

/// Where a /proc text comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `proc_text(which)`.
    Kernel(u64),
    /// `memd_text(op, pid)`; pid 0 is the calling process.
    Memd { op: u64, pid: u64 },
}

/// The source of `path`, if it is a /proc text this system has.
pub fn resolve(path: &str) -> Option<Source> {
    let rest = path.strip_prefix("/proc/")?;
    if let Some(which) = abi::proc_text::NAMES.iter().position(|&name| name == rest) {
        return Some(Source::Kernel(which as u64));
    }
    let (who, file) = rest.split_once('/')?;
    let pid = match who {
        "self" => 0,
        digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse().ok()?,
        _ => return None,
    };
    let op = match file {
        "maps" => abi::memd::OP_MAPS,
        "smaps" => abi::memd::OP_SMAPS,
        "status" => abi::memd::OP_STATUS,
        _ => return None,
    };
    Some(Source::Memd { op, pid })
}

/// Reads the text of `source` from byte `offset` into `buf`; returns the bytes read (0 at the end).
#[cfg(target_os = "none")]
pub fn read_at(source: Source, buf: &mut [u8], offset: u64) -> Result<usize, crate::Errno> {
    use crate::syscall::{syscall4, syscall5};
    let (ptr, len) = (buf.as_mut_ptr() as u64, buf.len() as u64);
    // SAFETY: the kernel writes at most `len` bytes into `buf`, which this call borrows exclusively.
    let raw = unsafe {
        match source {
            Source::Kernel(which) => syscall4(abi::nr::PROC_TEXT, which, ptr, len, offset),
            Source::Memd { op, pid } => syscall5(abi::nr::MEMD_TEXT, op, pid, ptr, len, offset),
        }
    };
    crate::Errno::result(raw).map(|n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_texts() {
        assert_eq!(resolve("/proc/meminfo"), Some(Source::Kernel(abi::proc_text::MEMINFO)));
        assert_eq!(resolve("/proc/vmallocinfo"), Some(Source::Kernel(abi::proc_text::VMALLOCINFO)));
        assert_eq!(resolve("/proc/cpuinfo"), None);
    }

    #[test]
    fn memd_texts() {
        assert_eq!(resolve("/proc/self/maps"), Some(Source::Memd { op: abi::memd::OP_MAPS, pid: 0 }));
        assert_eq!(resolve("/proc/42/status"), Some(Source::Memd { op: abi::memd::OP_STATUS, pid: 42 }));
        assert_eq!(resolve("/proc/7/smaps"), Some(Source::Memd { op: abi::memd::OP_SMAPS, pid: 7 }));
        assert_eq!(resolve("/proc/x7/maps"), None);
        assert_eq!(resolve("/proc//maps"), None);
        assert_eq!(resolve("/proc/self/environ"), None);
        assert_eq!(resolve("/etc/passwd"), None);
    }
}
