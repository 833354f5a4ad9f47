//! Checking an ELF-64 executable and turning its `PT_LOAD` program headers into a [`LoadPlan`].
//!
//! Follows the ELF-64 Object File Format, version 1.5: the file header (`e_ident`, `e_type`,
//! `e_machine`, `e_phoff`, ...) and the program header table (`p_type`, `p_flags`, `p_offset`, `p_vaddr`,
//! `p_filesz`, `p_memsz`). Segments are numbered by their index in the program header table, as
//! `readelf -l` numbers them.
//!
//! The header and program headers are read with `elf_rs`, which makes references into the buffer: the
//! image and the table must be 8-byte aligned (ELF-64 §"Data representation" asks for natural alignment
//! in the file; a misaligned table makes `elf_rs` abort in debug builds and is undefined behaviour
//! otherwise), so both are checked before `elf_rs` sees the bytes. Every sum of untrusted values is
//! checked: [`plan`] returns an error on any input and never panics.

use core::fmt;

use elf_rs::{
    Elf64, ElfClass, ElfEndian, ElfFile, ElfHeaderRaw, ElfMachine, ElfType, ProgramHeaderEntry,
    ProgramHeaderFlags, ProgramType,
};

use crate::{LoadPlan, MAX_SEGMENTS, PAGE_SIZE, Perms, Segment};

/// `e_phentsize` of an ELF-64 file: one program header is 56 bytes.
pub const PHENT_SIZE: u16 = 56;

/// More program headers than this are refused (lld emits fewer than ten).
pub const MAX_PROGRAM_HEADERS: u16 = 64;

const ELF_MAGIC: [u8; 4] = [0x7f, b'E', b'L', b'F'];
const ELF64_HEADER_BYTES: usize = 64;
const EM_X86_64: u16 = 62;

/// Why an executable was refused. `index` is the segment's position in the program header table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The file does not start with `\x7fELF`.
    BadMagic,
    /// Too short for the 64-byte ELF header (or for its `e_ehsize`).
    HeaderTruncated { file_bytes: u64 },
    /// The image does not start on an 8-byte boundary in memory.
    MisalignedImage { address: u64 },
    /// `EI_CLASS` is not 2 (64-bit).
    NotElf64 { class: u8 },
    /// `EI_DATA` is not 1 (little-endian).
    NotLittleEndian { data: u8 },
    /// `EI_VERSION` or `e_version` is not 1.
    BadVersion { ident_version: u8, version: u32 },
    /// `e_machine` is not 62 (x86-64).
    NotX86_64 { machine: u16 },
    /// `e_type` is `ET_DYN`: position-independent executables are not supported.
    PositionIndependent,
    /// `e_type` is neither `ET_EXEC` nor `ET_DYN`.
    NotExecutable { elf_type: u16 },
    /// `e_phentsize` is not 56.
    BadPhentsize { phentsize: u16 },
    /// `e_phnum` is above [`MAX_PROGRAM_HEADERS`].
    TooManyProgramHeaders { phnum: u16 },
    /// `e_phoff` is not a multiple of 8.
    MisalignedProgramHeaders { offset: u64 },
    /// The program header table ends past the end of the file (`end` saturates on overflow).
    ProgramHeadersTruncated { end: u64, file_bytes: u64 },
    /// A `PT_INTERP` segment: the program wants a dynamic linker.
    DynamicLinking { index: usize },
    /// No `PT_LOAD` segment with a non-zero `p_memsz`.
    NoLoadableSegment,
    /// More than [`MAX_SEGMENTS`] non-empty `PT_LOAD` segments.
    TooManySegments { count: usize },
    /// `p_filesz > p_memsz`.
    FileBiggerThanMemory { index: usize, file_bytes: u64, mem_bytes: u64 },
    /// `p_offset + p_filesz` is past the end of the file (`end` saturates on overflow).
    SegmentTruncated { index: usize, end: u64, file_bytes: u64 },
    /// `p_vaddr` and `p_offset` differ modulo [`PAGE_SIZE`], so the file bytes cannot be paged in.
    MisalignedSegment { index: usize, vaddr: u64, offset: u64 },
    /// The segment's first page is below `user_min`.
    BelowUserSpace { index: usize, start: u64, user_min: u64 },
    /// The segment's page-rounded end is above `user_end` (`end` saturates on overflow).
    KernelSpace { index: usize, end: u64, user_end: u64 },
    /// Both `PF_W` and `PF_X` are set.
    WriteExecute { index: usize },
    /// The segment's pages `[start, end)` share a page with an earlier segment `other`.
    Overlap { index: usize, start: u64, end: u64, other: usize },
    /// `e_entry` is not inside a segment with `PF_X`.
    EntryNotExecutable { entry: u64 },
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NOT_OURS: &str = "not a 64-bit little-endian x86-64 executable";
        match *self {
            Self::BadMagic => f.write_str("not an ELF file (bad magic)"),
            Self::HeaderTruncated { file_bytes } => {
                write!(f, "file truncated: {file_bytes:#x} bytes do not hold the ELF header")
            }
            Self::MisalignedImage { address } => {
                write!(f, "ELF image at {address:#x} is not 8-byte aligned in memory")
            }
            Self::NotElf64 { class } => write!(f, "{NOT_OURS} (EI_CLASS {class}, 64-bit is 2)"),
            Self::NotLittleEndian { data } => write!(f, "{NOT_OURS} (EI_DATA {data}, little-endian is 1)"),
            Self::BadVersion { ident_version, version } => {
                write!(f, "unknown ELF version (EI_VERSION {ident_version}, e_version {version}, want 1)")
            }
            Self::NotX86_64 { machine } => write!(f, "{NOT_OURS} (e_machine {machine}, x86-64 is 62)"),
            Self::PositionIndependent => f.write_str(
                "position-independent executable (ET_DYN) not supported: link with -C relocation-model=static",
            ),
            Self::NotExecutable { elf_type } => {
                write!(f, "not an executable (e_type {elf_type}, ET_EXEC is 2)")
            }
            Self::BadPhentsize { phentsize } => {
                write!(f, "program header size is {phentsize} bytes, ELF-64 uses {PHENT_SIZE}")
            }
            Self::TooManyProgramHeaders { phnum } => {
                write!(f, "{phnum} program headers, at most {MAX_PROGRAM_HEADERS} supported")
            }
            Self::MisalignedProgramHeaders { offset } => {
                write!(f, "program header table offset {offset:#x} is not 8-byte aligned")
            }
            Self::ProgramHeadersTruncated { end, file_bytes } => write!(
                f,
                "file truncated: program header table needs bytes up to {end:#x}, file has {file_bytes:#x}"
            ),
            Self::DynamicLinking { index } => write!(
                f,
                "segment {index} is PT_INTERP: dynamically linked programs are not supported, link statically"
            ),
            Self::NoLoadableSegment => f.write_str("no loadable segment"),
            Self::TooManySegments { count } => {
                write!(f, "{count} loadable segments, at most {MAX_SEGMENTS} supported")
            }
            Self::FileBiggerThanMemory { index, file_bytes, mem_bytes } => write!(
                f,
                "segment {index} has p_filesz {file_bytes:#x} larger than p_memsz {mem_bytes:#x}"
            ),
            Self::SegmentTruncated { index, end, file_bytes } => write!(
                f,
                "file truncated: segment {index} needs bytes up to {end:#x}, file has {file_bytes:#x}"
            ),
            Self::MisalignedSegment { index, vaddr, offset } => write!(
                f,
                "segment {index}: p_vaddr {vaddr:#x} and p_offset {offset:#x} differ modulo the page size"
            ),
            Self::BelowUserSpace { index, start, user_min } => {
                write!(f, "segment {index} starts at {start:#x}, below user space (from {user_min:#x})")
            }
            Self::KernelSpace { index, end, user_end } => write!(
                f,
                "segment {index} reaches into kernel space (end {end:#x}, user space ends at {user_end:#x})"
            ),
            Self::WriteExecute { index } => write!(f, "segment {index} is writable and executable (W+X)"),
            Self::Overlap { index, start, end, other } => {
                write!(f, "segment {index} [{start:#x}-{end:#x}) overlaps segment {other}")
            }
            Self::EntryNotExecutable { entry } => {
                write!(f, "entry point {entry:#x} is not inside an executable segment")
            }
        }
    }
}

impl core::error::Error for ElfError {}

/// Checks `file` (a whole executable, 8-byte aligned in memory) and says where its segments go. Every
/// page of every segment must lie in `[user_min, user_end)`.
pub fn plan(file: &[u8], user_min: u64, user_end: u64) -> Result<LoadPlan, ElfError> {
    let elf = open(file)?;
    let file_bytes = file.len() as u64;
    let header = elf.elf_header();
    check_identity(&*header)?;

    let phentsize = header.program_header_entry_size();
    if phentsize != PHENT_SIZE {
        return Err(ElfError::BadPhentsize { phentsize });
    }
    let phnum = header.program_header_entry_num();
    if phnum > MAX_PROGRAM_HEADERS {
        return Err(ElfError::TooManyProgramHeaders { phnum });
    }
    let phoff = header.program_header_offset();
    if !phoff.is_multiple_of(8) {
        return Err(ElfError::MisalignedProgramHeaders { offset: phoff });
    }
    let table_bytes = u64::from(phnum) * u64::from(PHENT_SIZE);
    let table_end = match phoff.checked_add(table_bytes) {
        Some(end) if end <= file_bytes => end,
        _ => {
            return Err(ElfError::ProgramHeadersTruncated {
                end: phoff.saturating_add(table_bytes),
                file_bytes,
            });
        }
    };

    // First pass: what kind of program is this?
    let mut count = 0;
    for (index, phdr) in elf.program_header_iter().enumerate() {
        match phdr.ph_type() {
            ProgramType::INTERP => return Err(ElfError::DynamicLinking { index }),
            ProgramType::LOAD if phdr.memsz() > 0 => count += 1,
            _ => {}
        }
    }
    if count == 0 {
        return Err(ElfError::NoLoadableSegment);
    }
    if count > MAX_SEGMENTS {
        return Err(ElfError::TooManySegments { count });
    }

    // Second pass: check each segment, alone and against the ones before it.
    // Invariant: the page ranges of the segments in `checked` are pairwise disjoint.
    let mut checked: heapless::Vec<(usize, Segment), MAX_SEGMENTS> = heapless::Vec::new();
    for (index, phdr) in elf.program_header_iter().enumerate() {
        if phdr.ph_type() != ProgramType::LOAD {
            continue;
        }
        let Some(segment) = check_segment(index, &phdr, file_bytes, user_min, user_end)? else {
            continue;
        };
        if let Some(&(other, _)) = checked.iter().find(|(_, earlier)| pages_overlap(earlier, &segment)) {
            let (start, end) = (segment.page_start(), segment.page_end());
            return Err(ElfError::Overlap { index, start, end, other });
        }
        checked.push((index, segment)).map_err(|_| ElfError::TooManySegments { count })?;
    }

    let entry = header.entry_point();
    if !checked.iter().any(|(_, segment)| segment.perms.exec && contains(segment, entry)) {
        return Err(ElfError::EntryNotExecutable { entry });
    }
    // AT_PHDR: the table's address inside the segment whose file bytes hold it (as Linux computes it).
    let phdr_vaddr = checked
        .iter()
        .find(|(_, s)| s.file_offset <= phoff && table_end <= s.file_offset + s.file_bytes)
        .map_or(0, |(_, s)| s.vaddr + (phoff - s.file_offset));

    let segments: heapless::Vec<Segment, MAX_SEGMENTS> = checked.iter().map(|&(_, s)| s).collect();
    let image_end = segments.iter().map(Segment::page_end).max().unwrap_or(0);
    Ok(LoadPlan {
        entry,
        segments,
        image_end,
        phdr_vaddr,
        phent: u64::from(PHENT_SIZE),
        phnum: u64::from(phnum),
    })
}

/// Checks what `elf_rs` needs (magic, header length, alignment) and hands the bytes to it.
fn open(file: &[u8]) -> Result<Elf64<'_>, ElfError> {
    if !file.starts_with(&ELF_MAGIC) {
        return Err(ElfError::BadMagic);
    }
    let file_bytes = file.len() as u64;
    if file.len() < ELF64_HEADER_BYTES {
        return Err(ElfError::HeaderTruncated { file_bytes });
    }
    let address = file.as_ptr().addr() as u64;
    if !address.is_multiple_of(8) {
        return Err(ElfError::MisalignedImage { address });
    }
    // `elf_rs` checks `e_ehsize` before the class, so a 32-bit header can look truncated to it.
    let class = file.get(4).copied().unwrap_or(0);
    match Elf64::from_bytes(file) {
        Ok(elf) => Ok(elf),
        Err(elf_rs::Error::InvalidMagic) => Err(ElfError::BadMagic),
        Err(elf_rs::Error::InvalidClass) => Err(ElfError::NotElf64 { class }),
        Err(elf_rs::Error::BufferTooShort) if class != 2 => Err(ElfError::NotElf64 { class }),
        Err(elf_rs::Error::BufferTooShort) => Err(ElfError::HeaderTruncated { file_bytes }),
    }
}

/// The file header says: 64-bit, little-endian, version 1, x86-64, a non-PIE executable.
fn check_identity(header: &dyn ElfHeaderRaw) -> Result<(), ElfError> {
    match header.class() {
        ElfClass::Elf64 => {}
        ElfClass::Elf32 => return Err(ElfError::NotElf64 { class: 1 }),
        ElfClass::Unknown(class) => return Err(ElfError::NotElf64 { class }),
    }
    match header.endianness() {
        ElfEndian::LittleEndian => {}
        ElfEndian::BigEndian => return Err(ElfError::NotLittleEndian { data: 2 }),
        ElfEndian::Unknown(data) => return Err(ElfError::NotLittleEndian { data }),
    }
    let (ident_version, version) = (header.header_version(), header.elf_version());
    if ident_version != 1 || version != 1 {
        return Err(ElfError::BadVersion { ident_version, version });
    }
    let machine = machine_number(header.machine());
    if machine != EM_X86_64 {
        return Err(ElfError::NotX86_64 { machine });
    }
    match header.elftype() {
        ElfType::ET_EXEC => Ok(()),
        ElfType::ET_DYN => Err(ElfError::PositionIndependent),
        other => Err(ElfError::NotExecutable { elf_type: type_number(other) }),
    }
}

/// Checks one `PT_LOAD` header; `None` for an empty one (`p_memsz == 0`), which is skipped.
fn check_segment(
    index: usize,
    phdr: &ProgramHeaderEntry<'_>,
    file_bytes: u64,
    user_min: u64,
    user_end: u64,
) -> Result<Option<Segment>, ElfError> {
    let (vaddr, offset) = (phdr.vaddr(), phdr.offset());
    let (file_size, mem_bytes) = (phdr.filesz(), phdr.memsz());
    if file_size > mem_bytes {
        return Err(ElfError::FileBiggerThanMemory { index, file_bytes: file_size, mem_bytes });
    }
    if mem_bytes == 0 {
        return Ok(None);
    }
    match offset.checked_add(file_size) {
        Some(end) if end <= file_bytes => {}
        _ => {
            return Err(ElfError::SegmentTruncated {
                index,
                end: offset.saturating_add(file_size),
                file_bytes,
            });
        }
    }
    if vaddr % PAGE_SIZE != offset % PAGE_SIZE {
        return Err(ElfError::MisalignedSegment { index, vaddr, offset });
    }
    let flags = phdr.flags();
    let perms = Perms {
        read: flags.contains(ProgramHeaderFlags::READ),
        write: flags.contains(ProgramHeaderFlags::WRITE),
        exec: flags.contains(ProgramHeaderFlags::EXECUTE),
    };
    let segment = Segment { vaddr, mem_bytes, file_offset: offset, file_bytes: file_size, perms };

    let start = segment.page_start();
    if start < user_min {
        return Err(ElfError::BelowUserSpace { index, start, user_min });
    }
    match vaddr.checked_add(mem_bytes).and_then(|end| end.checked_next_multiple_of(PAGE_SIZE)) {
        Some(end) if end <= user_end => {}
        end => return Err(ElfError::KernelSpace { index, end: end.unwrap_or(u64::MAX), user_end }),
    }
    if perms.write && perms.exec {
        return Err(ElfError::WriteExecute { index });
    }
    Ok(Some(segment))
}

fn pages_overlap(a: &Segment, b: &Segment) -> bool {
    a.page_start() < b.page_end() && b.page_start() < a.page_end()
}

/// `address` is in `[vaddr, vaddr + mem_bytes)`.
fn contains(segment: &Segment, address: u64) -> bool {
    address.checked_sub(segment.vaddr).is_some_and(|delta| delta < segment.mem_bytes)
}

/// `e_machine` back as a number (`elf_rs` names the common ones).
fn machine_number(machine: ElfMachine) -> u16 {
    match machine {
        ElfMachine::Unknown => 0,
        ElfMachine::SPARC => 2,
        ElfMachine::x86 => 3,
        ElfMachine::MIPS => 8,
        ElfMachine::PowerPC => 0x14,
        ElfMachine::S390 => 0x16,
        ElfMachine::ARM => 0x28,
        ElfMachine::SuperH => 0x2a,
        ElfMachine::IA_64 => 0x32,
        ElfMachine::x86_64 => EM_X86_64,
        ElfMachine::AArch64 => 0xb7,
        ElfMachine::RISC_V => 0xf3,
        ElfMachine::MachineUnknown(number) => number,
    }
}

/// `e_type` back as a number.
fn type_number(elf_type: ElfType) -> u16 {
    match elf_type {
        ElfType::ET_NONE => 0,
        ElfType::ET_REL => 1,
        ElfType::ET_EXEC => 2,
        ElfType::ET_DYN => 3,
        ElfType::ET_CORE => 4,
        ElfType::OsSpecific(number) | ElfType::ProcessorSpecific(number) | ElfType::Unknown(number) => number,
    }
}
