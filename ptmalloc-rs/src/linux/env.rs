//! The `MALLOC_*` environment settings glibc 2.36 honours (the tunables' `env_alias` names), parsed from
//! `KEY=VALUE` entries; numbers as the tunables parser reads them (decimal, `0x` hex, leading-0 octal).

use crate::stats::param;

/// A setting found in the environment: the `mallopt`-style parameter and its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvSetting {
    /// One of [`crate::param`]'s constants.
    pub parameter: i32,
    /// The value (already range-checked like glibc's tunables).
    pub value: usize,
}

/// Parses an unsigned number the way glibc's tunables do.
pub fn parse_number(text: &[u8]) -> Option<usize> {
    let text = core::str::from_utf8(text).ok()?;
    let (digits, radix) = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        (hex, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        (&text[1..], 8)
    } else {
        (text, 10)
    };
    usize::from_str_radix(digits, radix).ok()
}

/// The setting an environment entry `KEY=VALUE` makes, if it is one of glibc's malloc variables
/// (`MALLOC_ARENA_MAX_` is accepted as a spelling of `MALLOC_ARENA_MAX`) or ptmalloc-rs's
/// `PTMALLOC_RS_DECAY_MS`.
pub fn parse_entry(entry: &[u8]) -> Option<EnvSetting> {
    let equals = entry.iter().position(|&byte| byte == b'=')?;
    let (key, value) = (&entry[..equals], &entry[equals + 1..]);
    let (parameter, min, max) = match key {
        b"MALLOC_TOP_PAD_" => (param::M_TOP_PAD, 0, usize::MAX),
        b"MALLOC_PERTURB_" => (param::M_PERTURB, 0, 0xff),
        b"MALLOC_MMAP_THRESHOLD_" => (param::M_MMAP_THRESHOLD, 0, usize::MAX),
        b"MALLOC_TRIM_THRESHOLD_" => (param::M_TRIM_THRESHOLD, 0, usize::MAX),
        b"MALLOC_MMAP_MAX_" => (param::M_MMAP_MAX, 0, i32::MAX as usize),
        b"MALLOC_ARENA_MAX" | b"MALLOC_ARENA_MAX_" => (param::M_ARENA_MAX, 1, usize::MAX),
        b"MALLOC_ARENA_TEST" => (param::M_ARENA_TEST, 1, usize::MAX),
        b"PTMALLOC_RS_DECAY_MS" => (param::PTMALLOC_RS_DECAY_MS, 0, u32::MAX as usize),
        _ => return None,
    };
    let value = parse_number(value)?;
    (min..=max).contains(&value).then_some(EnvSetting { parameter, value })
}

/// Calls `f` with each `glibc.malloc.*` setting of a `GLIBC_TUNABLES=name=value:name=value` entry.
pub fn parse_tunables(entry: &[u8], mut f: impl FnMut(EnvSetting)) {
    let Some(list) = entry.strip_prefix(b"GLIBC_TUNABLES=") else { return };
    for item in list.split(|&byte| byte == b':') {
        let Some(equals) = item.iter().position(|&byte| byte == b'=') else { continue };
        let (name, value) = (&item[..equals], &item[equals + 1..]);
        let (parameter, min, max) = match name {
            b"glibc.malloc.top_pad" => (param::M_TOP_PAD, 0, usize::MAX),
            b"glibc.malloc.perturb" => (param::M_PERTURB, 0, 0xff),
            b"glibc.malloc.mmap_threshold" => (param::M_MMAP_THRESHOLD, 0, usize::MAX),
            b"glibc.malloc.trim_threshold" => (param::M_TRIM_THRESHOLD, 0, usize::MAX),
            b"glibc.malloc.mmap_max" => (param::M_MMAP_MAX, 0, i32::MAX as usize),
            b"glibc.malloc.arena_max" => (param::M_ARENA_MAX, 1, usize::MAX),
            b"glibc.malloc.arena_test" => (param::M_ARENA_TEST, 1, usize::MAX),
            b"glibc.malloc.tcache_max" => (param::TUNABLE_TCACHE_MAX, 0, usize::MAX),
            b"glibc.malloc.tcache_count" => (param::TUNABLE_TCACHE_COUNT, 0, usize::MAX),
            b"glibc.malloc.tcache_unsorted_limit" => (param::TUNABLE_TCACHE_UNSORTED_LIMIT, 0, usize::MAX),
            b"glibc.malloc.mxfast" => (param::M_MXFAST, 0, usize::MAX),
            _ => continue,
        };
        if let Some(value) = parse_number(value).filter(|value| (min..=max).contains(value)) {
            f(EnvSetting { parameter, value });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(parse_number(b"131072"), Some(131072));
        assert_eq!(parse_number(b"0x20000"), Some(131072));
        assert_eq!(parse_number(b"010"), Some(8));
        assert_eq!(parse_number(b"0"), Some(0));
        assert_eq!(parse_number(b"12k"), None);
    }

    #[test]
    fn tunables() {
        let mut found = std::vec::Vec::new();
        parse_tunables(
            b"GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.malloc.mxfast=0:glibc.rtld.x=1",
            |s| found.push(s),
        );
        assert_eq!(
            found,
            [
                EnvSetting { parameter: param::TUNABLE_TCACHE_COUNT, value: 0 },
                EnvSetting { parameter: param::M_MXFAST, value: 0 }
            ]
        );
    }

    #[test]
    fn entries() {
        assert_eq!(
            parse_entry(b"MALLOC_ARENA_MAX=2"),
            Some(EnvSetting { parameter: param::M_ARENA_MAX, value: 2 })
        );
        assert_eq!(
            parse_entry(b"MALLOC_ARENA_MAX_=3"),
            Some(EnvSetting { parameter: param::M_ARENA_MAX, value: 3 })
        );
        assert_eq!(parse_entry(b"MALLOC_ARENA_MAX=0"), None);
        assert_eq!(parse_entry(b"MALLOC_PERTURB_=300"), None);
        assert_eq!(
            parse_entry(b"MALLOC_TOP_PAD_=0x1000"),
            Some(EnvSetting { parameter: param::M_TOP_PAD, value: 4096 })
        );
        assert_eq!(parse_entry(b"PATH=/bin"), None);
        assert_eq!(parse_entry(b"MALLOC_TOP_PAD_"), None);
    }
}
