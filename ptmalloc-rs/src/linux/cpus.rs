//! CPU counts: the online CPU list (as glibc 2.36's `__get_nprocs` reads it) and the cgroup v2 quota.

use super::syscall::{SYS_SCHED_GETAFFINITY, read_small_file, syscall6};

/// Counts the CPUs of a list like `0-3,6,8-9` (the format of /sys/devices/system/cpu/online).
pub fn parse_cpu_list(text: &[u8]) -> Option<usize> {
    let text = core::str::from_utf8(text).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    let mut count = 0;
    for part in text.split(',') {
        match part.split_once('-') {
            Some((low, high)) => {
                let (low, high): (usize, usize) = (low.parse().ok()?, high.parse().ok()?);
                count += high.checked_sub(low)? + 1;
            }
            None => {
                part.parse::<usize>().ok()?;
                count += 1;
            }
        }
    }
    Some(count)
}

/// CPUs allowed by a cgroup v2 `cpu.max` line (`max 100000` → no limit; `150000 100000` → 2).
pub fn parse_cpu_max(text: &[u8]) -> Option<usize> {
    let text = core::str::from_utf8(text).ok()?.trim();
    let (quota, period) = text.split_once(' ')?;
    if quota == "max" {
        return None;
    }
    let (quota, period): (u64, u64) = (quota.parse().ok()?, period.trim().parse().ok()?);
    if quota == 0 || period == 0 {
        return None;
    }
    Some(quota.div_ceil(period) as usize)
}

/// Online CPUs (/sys/devices/system/cpu/online, else the affinity mask, else 2 as glibc assumes).
pub(crate) fn online_cpus() -> usize {
    let mut buffer = [0u8; 256];
    if let Some(len) = read_small_file(c"/sys/devices/system/cpu/online", &mut buffer)
        && let Some(count) = parse_cpu_list(&buffer[..len])
    {
        return count;
    }
    let mut mask = [0u64; 16];
    // SAFETY: the kernel writes at most `size_of_val(&mask)` bytes into `mask`.
    let written = unsafe {
        syscall6(
            SYS_SCHED_GETAFFINITY,
            [0, core::mem::size_of_val(&mask), mask.as_mut_ptr() as usize, 0, 0, 0],
        )
    };
    if written > 0 {
        return mask.iter().map(|word| word.count_ones() as usize).sum::<usize>().max(1);
    }
    2
}

/// The cgroup v2 CPU quota of this process's cgroup, in whole CPUs (rounded up).
pub(crate) fn cgroup_cpu_quota() -> Option<usize> {
    let mut buffer = [0u8; 64];
    let len = read_small_file(c"/sys/fs/cgroup/cpu.max", &mut buffer)?;
    parse_cpu_max(&buffer[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list(b"0-1\n"), Some(2));
        assert_eq!(parse_cpu_list(b"0-3,6,8-9"), Some(7));
        assert_eq!(parse_cpu_list(b"0"), Some(1));
        assert_eq!(parse_cpu_list(b""), None);
        assert_eq!(parse_cpu_list(b"3-1"), None);
    }

    #[test]
    fn cpu_quota() {
        assert_eq!(parse_cpu_max(b"max 100000\n"), None);
        assert_eq!(parse_cpu_max(b"150000 100000\n"), Some(2));
        assert_eq!(parse_cpu_max(b"100000 100000"), Some(1));
        assert_eq!(parse_cpu_max(b"garbage"), None);
    }

    #[test]
    fn online_cpus_is_positive() {
        assert!(online_cpus() >= 1);
    }
}
