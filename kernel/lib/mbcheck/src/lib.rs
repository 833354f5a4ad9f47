//! Validation of a raw multiboot2 boot-information block (MBI) before anything reads it.
//!
//! The `multiboot2` crate asserts (panics) on some malformed tags — a memory map whose entry size is not
//! 24, an EFI memory map with an unexpected descriptor size, a module whose end lies below its start. A
//! boot loader's mistake must not take the kernel down, so [`validate`] walks the tags itself first
//! (multiboot2 spec §3.6: an 8-byte header `total_size, reserved`, then tags of `type, size` padded to 8
//! bytes, ending with a type-0 tag of size 8) and names the first problem it finds.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

use core::fmt;

/// Boot information larger than this is refused (GRUB's are a few KiB).
pub const MAX_MBI_BYTES: usize = 1 << 20;

pub const TAG_END: u32 = 0;
pub const TAG_CMDLINE: u32 = 1;
pub const TAG_BOOT_LOADER_NAME: u32 = 2;
pub const TAG_MODULE: u32 = 3;
pub const TAG_BASIC_MEMINFO: u32 = 4;
pub const TAG_MMAP: u32 = 6;
pub const TAG_FRAMEBUFFER: u32 = 8;
pub const TAG_EFI64: u32 = 12;
pub const TAG_ACPI_OLD: u32 = 14;
pub const TAG_ACPI_NEW: u32 = 15;
pub const TAG_EFI_MMAP: u32 = 17;

pub const TAG_EFI_BS_NOT_EXITED: u32 = 18;

/// Fixed-size tags the kernel reads, with their size padded to 8 bytes: the `multiboot2` crate asserts
/// that a tag's padded size equals its type's, so anything else is refused here first.
pub const FIXED_SIZE_TAGS: &[(u32, usize)] = &[
    (TAG_BASIC_MEMINFO, 16),
    (TAG_EFI64, 16),
    (TAG_ACPI_OLD, 32), // 8-byte header + 20-byte RSDP
    (TAG_ACPI_NEW, 48), // 8-byte header + 36-byte XSDP
    (TAG_EFI_BS_NOT_EXITED, 8),
];

/// The first problem found in a boot-information block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MbiError {
    /// Fewer bytes than the header, or `total_size` larger than the bytes available or the limit.
    BadTotalSize(u32),
    /// A tag header that does not fit, or a size below 8.
    BadTag { offset: usize, typ: u32, size: u32 },
    /// No end tag before `total_size`.
    NoEndTag,
    /// A string tag without a terminating NUL or not UTF-8.
    BadString { typ: u32 },
    /// A tag whose fixed part is too short or whose layout fields are inconsistent.
    BadLayout { typ: u32, what: &'static str },
}

impl fmt::Display for MbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadTotalSize(size) => write!(f, "total size {size} is not plausible"),
            Self::BadTag { offset, typ, size } => {
                write!(f, "tag type {typ} at offset {offset} has bad size {size}")
            }
            Self::NoEndTag => f.write_str("no end tag"),
            Self::BadString { typ } => write!(f, "string in tag type {typ} is not NUL-terminated UTF-8"),
            Self::BadLayout { typ, what } => write!(f, "tag type {typ}: {what}"),
        }
    }
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

/// Reads `total_size` from the first bytes of a block (to know how much to map before validating).
pub fn total_size(header: &[u8]) -> Option<u32> {
    u32_at(header, 0)
}

/// Checks a whole block (`bytes` holds at least `total_size` bytes). Returns the number of tags.
pub fn validate(bytes: &[u8]) -> Result<usize, MbiError> {
    let total = total_size(bytes).ok_or(MbiError::BadTotalSize(0))?;
    if (total as usize) < 16 || total as usize > bytes.len() || total as usize > MAX_MBI_BYTES {
        return Err(MbiError::BadTotalSize(total));
    }
    let bytes = &bytes[..total as usize];
    let mut offset = 8;
    let mut tags = 0;
    loop {
        let (Some(typ), Some(size)) = (u32_at(bytes, offset), u32_at(bytes, offset + 4)) else {
            return Err(MbiError::NoEndTag);
        };
        if size < 8 || offset + size as usize > bytes.len() {
            return Err(MbiError::BadTag { offset, typ, size });
        }
        let tag = &bytes[offset..offset + size as usize];
        if typ == TAG_END {
            return if size == 8 { Ok(tags) } else { Err(MbiError::BadTag { offset, typ, size }) };
        }
        check_tag(typ, tag)?;
        tags += 1;
        offset += (size as usize).div_ceil(8) * 8;
    }
}

/// The payload (after the 8-byte tag header) of the first tag of type `typ` in a validated block.
pub fn find_tag(bytes: &[u8], typ: u32) -> Option<&[u8]> {
    let total = (total_size(bytes)? as usize).min(bytes.len());
    let mut offset = 8;
    while offset + 8 <= total {
        let (t, size) = (u32_at(bytes, offset)?, u32_at(bytes, offset + 4)? as usize);
        if t == TAG_END || size < 8 || offset + size > total {
            return None;
        }
        if t == typ {
            return Some(&bytes[offset + 8..offset + size]);
        }
        offset += size.div_ceil(8) * 8;
    }
    None
}

/// The kernel command line of a validated block, without its NUL ("" if there is none).
pub fn cmdline(bytes: &[u8]) -> &str {
    find_tag(bytes, TAG_CMDLINE)
        .and_then(|s| core::str::from_utf8(&s[..s.iter().position(|&b| b == 0)?]).ok())
        .unwrap_or("")
}

fn check_string(typ: u32, s: &[u8]) -> Result<(), MbiError> {
    let nul = s.iter().position(|&b| b == 0).ok_or(MbiError::BadString { typ })?;
    core::str::from_utf8(&s[..nul]).map(|_| ()).map_err(|_| MbiError::BadString { typ })
}

fn check_tag(typ: u32, tag: &[u8]) -> Result<(), MbiError> {
    let layout = |what| MbiError::BadLayout { typ, what };
    if let Some(&(_, padded)) = FIXED_SIZE_TAGS.iter().find(|(t, _)| *t == typ)
        && tag.len().next_multiple_of(8) != padded
    {
        return Err(layout("size differs from the tag's fixed layout"));
    }
    match typ {
        TAG_CMDLINE | TAG_BOOT_LOADER_NAME => check_string(typ, &tag[8..]),
        TAG_MODULE => {
            let (start, end) = (u32_at(tag, 8), u32_at(tag, 12));
            match (start, end) {
                (Some(start), Some(end)) if end >= start => check_string(typ, &tag[16..]),
                (Some(_), Some(_)) => Err(layout("module ends below its start")),
                _ => Err(layout("module tag too short")),
            }
        }
        TAG_MMAP => {
            let entry_size = u32_at(tag, 8).ok_or(layout("memory map too short"))?;
            if tag.len() < 16 || entry_size != 24 || !(tag.len() - 16).is_multiple_of(24) {
                return Err(layout("memory map entries are not 24 bytes"));
            }
            Ok(())
        }
        TAG_EFI_MMAP => {
            let desc_size = u32_at(tag, 8).ok_or(layout("EFI memory map too short"))?;
            let version = u32_at(tag, 12).ok_or(layout("EFI memory map too short"))?;
            if version != 1 || desc_size < 40 || !desc_size.is_multiple_of(8) {
                return Err(layout("EFI memory descriptors have an unknown version or size"));
            }
            Ok(())
        }
        TAG_FRAMEBUFFER => {
            // The fixed part is 32 bytes (GRUB's layout, with a 16-bit reserved field), colour info follows.
            if tag.len() < 32 {
                return Err(layout("framebuffer tag too short"));
            }
            match tag[29] {
                0 => {
                    let colors = u16_at(tag, 32).ok_or(layout("palette size missing"))?;
                    if 34 + usize::from(colors) * 3 > tag.len() {
                        return Err(layout("palette does not fit in the tag"));
                    }
                    Ok(())
                }
                1 if tag.len() < 38 => Err(layout("RGB field description missing")),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
