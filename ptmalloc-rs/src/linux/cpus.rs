//! CPU counts: the online CPU list (as glibc 2.36's `__get_nprocs` reads it), and what the process may
//! really use: its affinity mask and the CPU quota of its cgroup (v2 `cpu.max`, v1 `cpu.cfs_quota_us` over
//! `cpu.cfs_period_us`), the smallest along the cgroup's ancestors.

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
    affinity_cpus().unwrap_or(2)
}

/// CPUs in the calling thread's affinity mask (`sched_getaffinity`, up to 1024 CPUs).
pub(crate) fn affinity_cpus() -> Option<usize> {
    let mut mask = [0u64; 16];
    // SAFETY: the kernel writes at most `size_of_val(&mask)` bytes into `mask`.
    let written = unsafe {
        syscall6(
            SYS_SCHED_GETAFFINITY,
            [0, core::mem::size_of_val(&mask), mask.as_mut_ptr() as usize, 0, 0, 0],
        )
    };
    (written > 0).then(|| mask.iter().map(|word| word.count_ones() as usize).sum::<usize>().max(1))
}

/// The process's cgroup paths from /proc/self/cgroup: the v2 one (`0::/path`) and the v1 one of the `cpu`
/// controller (`N:cpu,cpuacct:/path`).
pub fn parse_cgroup_paths(text: &[u8]) -> (Option<&[u8]>, Option<&[u8]>) {
    let (mut v2, mut v1) = (None, None);
    for line in text.split(|&byte| byte == b'\n') {
        let mut fields = line.splitn(3, |&byte| byte == b':');
        let (Some(_), Some(controllers), Some(path)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if controllers.is_empty() {
            v2 = Some(path);
        } else if controllers.split(|&byte| byte == b',').any(|name| name == b"cpu") {
            v1 = Some(path);
        }
    }
    (v2, v1)
}

/// Reads `root` + `path` + `/` + `file` (a small number file) into `out`; returns its length.
fn read_cgroup_file(root: &[u8], path: &[u8], file: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut name = [0u8; 512];
    let len = root.len() + path.len() + 1 + file.len();
    if len >= name.len() {
        return None;
    }
    name[..root.len()].copy_from_slice(root);
    name[root.len()..root.len() + path.len()].copy_from_slice(path);
    name[root.len() + path.len()] = b'/';
    name[root.len() + path.len() + 1..len].copy_from_slice(file);
    let name = core::ffi::CStr::from_bytes_until_nul(&name).ok()?;
    read_small_file(name, out)
}

/// CPUs allowed by cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` (a quota of -1: no limit).
pub fn parse_cfs_quota(quota: &[u8], period: &[u8]) -> Option<usize> {
    let quota: i64 = core::str::from_utf8(quota).ok()?.trim().parse().ok()?;
    let period: u64 = core::str::from_utf8(period).ok()?.trim().parse().ok()?;
    if quota <= 0 || period == 0 {
        return None;
    }
    Some((quota as u64).div_ceil(period) as usize)
}

/// The quota of the cgroup at `path` under a v2 (`v1 == false`) or v1 `cpu` hierarchy mounted at `root`.
fn quota_at(root: &[u8], path: &[u8], v1: bool) -> Option<usize> {
    let mut first = [0u8; 64];
    if !v1 {
        let len = read_cgroup_file(root, path, b"cpu.max", &mut first)?;
        return parse_cpu_max(&first[..len]);
    }
    let mut second = [0u8; 64];
    let quota_len = read_cgroup_file(root, path, b"cpu.cfs_quota_us", &mut first)?;
    let period_len = read_cgroup_file(root, path, b"cpu.cfs_period_us", &mut second)?;
    parse_cfs_quota(&first[..quota_len], &second[..period_len])
}

/// The smallest quota along `path` and its ancestors.
fn smallest_quota(root: &[u8], path: &[u8], v1: bool) -> Option<usize> {
    let mut path = path.strip_suffix(b"/").unwrap_or(path);
    let mut smallest: Option<usize> = None;
    loop {
        if let Some(quota) = quota_at(root, path, v1) {
            smallest = Some(smallest.map_or(quota, |value| value.min(quota)));
        }
        match path.iter().rposition(|&byte| byte == b'/') {
            Some(slash) => path = &path[..slash],
            None => return smallest,
        }
    }
}

/// The CPU quota of this process's cgroup (and its ancestors), in whole CPUs rounded up.
pub(crate) fn cgroup_cpu_quota() -> Option<usize> {
    let mut buffer = [0u8; 1024];
    let len = read_small_file(c"/proc/self/cgroup", &mut buffer)?;
    let (v2, v1) = parse_cgroup_paths(&buffer[..len]);
    let from_v2 = v2.and_then(|path| smallest_quota(b"/sys/fs/cgroup", path, false));
    let from_v1 = v1.and_then(|path| {
        smallest_quota(b"/sys/fs/cgroup/cpu", path, true)
            .or_else(|| smallest_quota(b"/sys/fs/cgroup/cpu,cpuacct", path, true))
    });
    match (from_v2, from_v1) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
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
        assert!(affinity_cpus().is_some_and(|count| count >= 1));
    }

    #[test]
    fn cgroup_paths() {
        let hybrid = b"4:memory:/user/x\n3:cpu,cpuacct:/batch/job\n0::/user.slice/a.scope\n";
        assert_eq!(parse_cgroup_paths(hybrid), (Some(&b"/user.slice/a.scope"[..]), Some(&b"/batch/job"[..])));
        assert_eq!(parse_cgroup_paths(b"0::/\n"), (Some(&b"/"[..]), None));
        assert_eq!(parse_cgroup_paths(b"2:cpuacct:/a\n"), (None, None));
    }

    #[test]
    fn cfs_quota() {
        assert_eq!(parse_cfs_quota(b"-1\n", b"100000\n"), None);
        assert_eq!(parse_cfs_quota(b"250000\n", b"100000\n"), Some(3));
        assert_eq!(parse_cfs_quota(b"50000", b"100000"), Some(1));
    }
}
