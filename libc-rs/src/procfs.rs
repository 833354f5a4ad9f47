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
    /// `/proc/PID/oom_score` (`adj` false) or `oom_score_adj` (true), from the kernel's task information;
    /// pid 0 is the calling process.
    OomScore { pid: u64, adj: bool },
    /// A memory group's file, `/sys/fs/cgroup/PATH/FILE` (`group_ctl` READ): the group's path and the
    /// file name, NUL-padded.
    Group { path: [u8; 64], file: [u8; 32] },
}

/// The mount point of the memory groups.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Splits `/sys/fs/cgroup/a/b/memory.max` into the group path (`/a/b`) and the file (`memory.max`).
pub fn split_group_file(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix(CGROUP_ROOT)?;
    let (group, file) = rest.rsplit_once('/')?;
    let group = if group.is_empty() { "/" } else { group };
    (file.starts_with("memory.") || file.starts_with("cgroup.")).then_some((group, file))
}

/// The group path of a `/sys/fs/cgroup/...` directory (`/sys/fs/cgroup/g` → `/g`).
pub fn group_dir(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(CGROUP_ROOT)?.trim_end_matches('/');
    Some(if rest.is_empty() { "/" } else { rest })
}

fn padded<const N: usize>(s: &str) -> Option<[u8; N]> {
    let mut out = [0u8; N];
    (s.len() < N).then(|| {
        out[..s.len()].copy_from_slice(s.as_bytes());
        out
    })
}

/// The source of `path`, if it is a /proc text this system has.
pub fn resolve(path: &str) -> Option<Source> {
    if let Some((group, file)) = split_group_file(path) {
        return Some(Source::Group { path: padded(group)?, file: padded(file)? });
    }
    let rest = path.strip_prefix("/proc/")?;
    if let Some(&(_, which)) = abi::proc_text::FILES.iter().find(|&&(name, _)| name == rest) {
        return Some(Source::Kernel(which));
    }
    let (who, file) = rest.split_once('/')?;
    let pid = match who {
        "self" => 0,
        digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse().ok()?,
        _ => return None,
    };
    let op = match file {
        "oom_score" => return Some(Source::OomScore { pid, adj: false }),
        "oom_score_adj" => return Some(Source::OomScore { pid, adj: true }),
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
    use crate::syscall::{syscall3, syscall4, syscall5};
    let (ptr, len) = (buf.as_mut_ptr() as u64, buf.len() as u64);
    // SAFETY: the kernel writes at most `len` bytes into `buf`, which this call borrows exclusively.
    let raw = unsafe {
        match source {
            Source::Kernel(which) => syscall4(abi::nr::PROC_TEXT, which, ptr, len, offset),
            Source::Memd { op, pid } => syscall5(abi::nr::MEMD_TEXT, op, pid, ptr, len, offset),
            Source::OomScore { pid, adj } => {
                let mut info = abi::TaskInfo::default();
                let size = core::mem::size_of::<abi::TaskInfo>() as u64;
                let raw = syscall3(abi::nr::TASK_INFO, pid, &raw mut info as u64, size);
                if (raw as i64) < 0 {
                    raw
                } else {
                    let value = if adj { info.oom_score_adj } else { info.oom_score as i64 };
                    let mut text = [0u8; 24];
                    let len = decimal_line(value, &mut text);
                    let bytes = &text[..len];
                    let start = (offset as usize).min(bytes.len());
                    let n = (bytes.len() - start).min(buf.len());
                    buf[..n].copy_from_slice(&bytes[start..start + n]);
                    n as u64
                }
            }
            Source::Group { path, file } => {
                let request =
                    abi::GroupRequest { op: abi::group_op::READ, pid: 0, path, file, value: [0; 32] };
                syscall4(abi::nr::GROUP_CTL, &request as *const abi::GroupRequest as u64, ptr, len, offset)
            }
        }
    };
    crate::Errno::result(raw).map(|n| n as usize)
}

/// Writes `value` and a newline into `out`; returns the length.
pub fn decimal_line(value: i64, out: &mut [u8; 24]) -> usize {
    let mut digits = [0u8; 20];
    let mut n = value.unsigned_abs();
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let mut at = 0;
    if value < 0 {
        out[0] = b'-';
        at = 1;
    }
    for i in (0..len).rev() {
        out[at] = digits[i];
        at += 1;
    }
    out[at] = b'\n';
    at + 1
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
    fn oom_score_files_and_numbers() {
        assert_eq!(resolve("/proc/self/oom_score_adj"), Some(Source::OomScore { pid: 0, adj: true }));
        assert_eq!(resolve("/proc/9/oom_score"), Some(Source::OomScore { pid: 9, adj: false }));
        let mut out = [0u8; 24];
        let n = decimal_line(-1000, &mut out);
        assert_eq!(&out[..n], b"-1000\n");
        let n = decimal_line(0, &mut out);
        assert_eq!(&out[..n], b"0\n");
    }

    #[test]
    fn group_files() {
        assert_eq!(split_group_file("/sys/fs/cgroup/g/memory.max"), Some(("/g", "memory.max")));
        assert_eq!(split_group_file("/sys/fs/cgroup/a/b/memory.events"), Some(("/a/b", "memory.events")));
        assert_eq!(split_group_file("/sys/fs/cgroup/memory.stat"), Some(("/", "memory.stat")));
        assert_eq!(split_group_file("/sys/fs/cgroup/g/notes"), None);
        assert_eq!(group_dir("/sys/fs/cgroup/g/"), Some("/g"));
        assert!(matches!(resolve("/sys/fs/cgroup/g/cgroup.procs"), Some(Source::Group { .. })));
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
