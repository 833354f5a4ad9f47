//! The initial user stack: argc, argv, envp and the auxiliary vector below their strings, laid out as
//! `_start` expects them (System V ABI AMD64 supplement §3.4.1, figure 3.9 "Initial Process Stack").
//!
//! From `stack_top` (exclusive) downwards:
//! ```text
//!   stack_top
//!     argv strings, envp strings, platform string   NUL-terminated, argv[0] at the lowest address
//!     16 AT_RANDOM bytes
//!     0..15 zero bytes                              so that sp ends 16-byte aligned
//!     auxv: the caller's pairs, AT_RANDOM, AT_PLATFORM, AT_EXECFN, then AT_NULL (0, 0)
//!     envp[0], envp[1], ..., NULL
//!     argv[0], argv[1], ..., NULL
//!   sp -> argc                                      sp % 16 == 0
//! ```
//! Every value is a little-endian u64. `AT_PLATFORM` is present only if the platform string is not
//! empty, `AT_EXECFN` (pointing at argv[0]'s string) only if argv is not empty.

use core::fmt;

pub const AT_NULL: u64 = 0;
pub const AT_PHDR: u64 = 3;
pub const AT_PHENT: u64 = 4;
pub const AT_PHNUM: u64 = 5;
pub const AT_PAGESZ: u64 = 6;
pub const AT_ENTRY: u64 = 9;
pub const AT_UID: u64 = 11;
pub const AT_EUID: u64 = 12;
pub const AT_GID: u64 = 13;
pub const AT_EGID: u64 = 14;
pub const AT_PLATFORM: u64 = 15;
pub const AT_HWCAP: u64 = 16;
pub const AT_CLKTCK: u64 = 17;
pub const AT_SECURE: u64 = 23;
pub const AT_RANDOM: u64 = 25;
pub const AT_EXECFN: u64 = 31;

/// Auxiliary vector keys [`build_stack`] writes itself; the caller may not pass them.
const RESERVED_KEYS: [u64; 4] = [AT_NULL, AT_RANDOM, AT_PLATFORM, AT_EXECFN];

const WORD_BYTES: u64 = 8;
const RANDOM_BYTES: u64 = 16;
const STACK_ALIGN: u64 = 16;

/// A built stack: `buf[buf.len() - used..]` holds the memory `[sp, stack_top)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackImage {
    /// The user `rsp`: 16-byte aligned, pointing at argc.
    pub sp: u64,
    /// Bytes used at the end of buf (buf's last byte is at stack_top-1).
    pub used: usize,
    /// Address of argv[0]'s pointer (`sp + 8`).
    pub argv_ptr: u64,
    /// Address of envp[0]'s pointer (after argv's NULL).
    pub envp_ptr: u64,
}

/// Why a stack could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackError {
    /// The image needs `needed` bytes, the buffer has `available` (E2BIG). `needed` saturates.
    TooBig { needed: u64, available: u64 },
    /// The buffer would start below address 0.
    BadStackTop { stack_top: u64, buf_bytes: u64 },
    /// argv[index] contains a NUL byte.
    NulInArgument { index: usize },
    /// envp[index] contains a NUL byte.
    NulInEnvironment { index: usize },
    /// The platform string contains a NUL byte.
    NulInPlatform,
    /// The caller passed an auxiliary vector key that [`build_stack`] writes itself.
    ReservedAuxKey { key: u64 },
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooBig { needed, available } => write!(
                f,
                "argument list too long: the initial stack needs {needed:#x} bytes, {available:#x} available"
            ),
            Self::BadStackTop { stack_top, buf_bytes } => {
                write!(f, "a stack of {buf_bytes:#x} bytes does not fit below {stack_top:#x}")
            }
            Self::NulInArgument { index } => write!(f, "argument {index} contains a NUL byte"),
            Self::NulInEnvironment { index } => write!(f, "environment string {index} contains a NUL byte"),
            Self::NulInPlatform => f.write_str("platform string contains a NUL byte"),
            Self::ReservedAuxKey { key } => {
                write!(f, "auxiliary vector key {key} is written by the loader itself")
            }
        }
    }
}

impl core::error::Error for StackError {}

/// Writes the initial stack into `buf`, which stands for the memory `[stack_top - buf.len(), stack_top)`.
/// `auxv` holds the caller's pairs (`AT_PHDR`, `AT_ENTRY`, `AT_PAGESZ`, ...) without `AT_NULL`,
/// `AT_RANDOM`, `AT_PLATFORM` and `AT_EXECFN`, which are added here. Bytes of `buf` below the image are
/// left as they are.
pub fn build_stack(
    stack_top: u64,
    buf: &mut [u8],
    argv: &[&[u8]],
    envp: &[&[u8]],
    auxv: &[(u64, u64)],
    random: [u8; 16],
    platform: &[u8],
) -> Result<StackImage, StackError> {
    let available = buf.len() as u64;
    let base = stack_top
        .checked_sub(available)
        .ok_or(StackError::BadStackTop { stack_top, buf_bytes: available })?;
    check_strings(argv, envp, platform)?;
    if let Some(&(key, _)) = auxv.iter().find(|(key, _)| RESERVED_KEYS.contains(key)) {
        return Err(StackError::ReservedAuxKey { key });
    }

    // Sizes, all checked: a huge argv must give E2BIG, not an overflow.
    let too_big = |needed| StackError::TooBig { needed, available };
    let string_bytes =
        |list: &[&[u8]]| list.iter().try_fold(0u64, |sum, s| sum.checked_add(s.len() as u64 + 1));
    let platform_bytes = if platform.is_empty() { 0 } else { platform.len() as u64 + 1 };
    let strings = string_bytes(argv)
        .zip(string_bytes(envp))
        .and_then(|(a, e)| a.checked_add(e)?.checked_add(platform_bytes))
        .ok_or(too_big(u64::MAX))?;
    // argc, argv + NULL, envp + NULL, the caller's pairs, AT_RANDOM, AT_PLATFORM?, AT_EXECFN?, AT_NULL.
    let aux_pairs = auxv.len() as u64 + 2 + u64::from(!platform.is_empty()) + u64::from(!argv.is_empty());
    let words = aux_pairs
        .checked_mul(2)
        .and_then(|aux_words| aux_words.checked_add(argv.len() as u64)?.checked_add(envp.len() as u64 + 3))
        .ok_or(too_big(u64::MAX))?;
    let unaligned = words
        .checked_mul(WORD_BYTES)
        .and_then(|word_bytes| word_bytes.checked_add(strings)?.checked_add(RANDOM_BYTES))
        .ok_or(too_big(u64::MAX))?;
    let sp = stack_top.checked_sub(unaligned).ok_or(too_big(unaligned))? & !(STACK_ALIGN - 1);
    let used = stack_top - sp;
    if sp < base {
        return Err(too_big(used));
    }

    // Addresses; all lie in [sp, stack_top) now, so plain arithmetic cannot overflow.
    let strings_start = stack_top - strings;
    let random_ptr = strings_start - RANDOM_BYTES;
    let argv_ptr = sp + WORD_BYTES;
    let envp_ptr = argv_ptr + (argv.len() as u64 + 1) * WORD_BYTES;
    let auxv_ptr = envp_ptr + (envp.len() as u64 + 1) * WORD_BYTES;

    let mut stack = Writer { buf, base };
    stack.slice(sp, stack_top - sp)?.fill(0);
    stack.word(sp, argv.len() as u64)?;
    let mut string = strings_start;
    for (list, table) in [(argv, argv_ptr), (envp, envp_ptr)] {
        for (i, s) in list.iter().enumerate() {
            stack.word(table + i as u64 * WORD_BYTES, string)?;
            string = stack.c_string(string, s)?;
        }
        stack.word(table + list.len() as u64 * WORD_BYTES, 0)?;
    }
    let platform_ptr = string;
    if !platform.is_empty() {
        stack.c_string(platform_ptr, platform)?;
    }
    stack.bytes(random_ptr, &random)?;

    let ours = [
        Some((AT_RANDOM, random_ptr)),
        (!platform.is_empty()).then_some((AT_PLATFORM, platform_ptr)),
        (!argv.is_empty()).then_some((AT_EXECFN, strings_start)),
        Some((AT_NULL, 0)),
    ];
    let mut entry = auxv_ptr;
    for (key, value) in auxv.iter().copied().chain(ours.into_iter().flatten()) {
        stack.word(entry, key)?;
        stack.word(entry + WORD_BYTES, value)?;
        entry += 2 * WORD_BYTES;
    }
    let used = usize::try_from(used).map_err(|_| too_big(used))?;
    Ok(StackImage { sp, used, argv_ptr, envp_ptr })
}

fn check_strings(argv: &[&[u8]], envp: &[&[u8]], platform: &[u8]) -> Result<(), StackError> {
    if let Some(index) = argv.iter().position(|s| s.contains(&0)) {
        return Err(StackError::NulInArgument { index });
    }
    if let Some(index) = envp.iter().position(|s| s.contains(&0)) {
        return Err(StackError::NulInEnvironment { index });
    }
    if platform.contains(&0) {
        return Err(StackError::NulInPlatform);
    }
    Ok(())
}

/// Writes at user addresses into the buffer standing for `[base, base + buf.len())`.
struct Writer<'a> {
    buf: &'a mut [u8],
    base: u64,
}

impl Writer<'_> {
    /// The part of the buffer for `[address, address + len)`. The sizes were checked before writing
    /// starts, so a miss is a bug here; it is reported as E2BIG rather than a panic.
    fn slice(&mut self, address: u64, len: u64) -> Result<&mut [u8], StackError> {
        let available = self.buf.len() as u64;
        let start = address.checked_sub(self.base).and_then(|offset| usize::try_from(offset).ok());
        let len = usize::try_from(len).ok();
        start
            .zip(len)
            .and_then(|(start, len)| self.buf.get_mut(start..start.checked_add(len)?))
            .ok_or(StackError::TooBig { needed: u64::MAX, available })
    }

    fn bytes(&mut self, address: u64, bytes: &[u8]) -> Result<(), StackError> {
        self.slice(address, bytes.len() as u64)?.copy_from_slice(bytes);
        Ok(())
    }

    fn word(&mut self, address: u64, value: u64) -> Result<(), StackError> {
        self.bytes(address, &value.to_le_bytes())
    }

    /// Writes `s` and its NUL at `address`; returns the address after the NUL.
    fn c_string(&mut self, address: u64, s: &[u8]) -> Result<u64, StackError> {
        self.bytes(address, s)?;
        let nul = address + s.len() as u64;
        self.bytes(nul, &[0])?;
        Ok(nul + 1)
    }
}
