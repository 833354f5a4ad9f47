//! A small ELF-64 writer for the tests, and images shaped like lld's output.

use crate::{MAX_SEGMENTS, PAGE_SIZE};

pub const PT_LOAD: u32 = 1;
pub const PT_INTERP: u32 = 3;
pub const PT_PHDR: u32 = 6;
pub const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
pub const PT_GNU_STACK: u32 = 0x6474_e551;
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;

/// User space in the tests: above the first 64 KiB, below the canonical hole.
pub const USER_MIN: u64 = 0x1_0000;
pub const USER_END: u64 = 0x7fff_ffff_f000;

/// The fields of an ELF-64 file header the tests vary.
#[derive(Clone, Debug)]
pub struct Header {
    pub class: u8,
    pub data: u8,
    pub ident_version: u8,
    pub elf_type: u16,
    pub machine: u16,
    pub version: u32,
    pub entry: u64,
    pub phoff: u64,
    pub phentsize: u16,
    /// `None`: the number of program headers given to [`build`].
    pub phnum: Option<u16>,
}

impl Header {
    pub fn exec(entry: u64) -> Self {
        Self {
            class: 2,
            data: 1,
            ident_version: 1,
            elf_type: 2,
            machine: 62,
            version: 1,
            entry,
            phoff: 64,
            phentsize: 56,
            phnum: None,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Phdr {
    pub p_type: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

impl Phdr {
    pub fn load(flags: u32, offset: u64, vaddr: u64, filesz: u64, memsz: u64) -> Self {
        Self { p_type: PT_LOAD, flags, offset, vaddr, filesz, memsz, align: PAGE_SIZE }
    }

    pub fn other(p_type: u32, flags: u32) -> Self {
        Self { p_type, flags, offset: 0, vaddr: 0, filesz: 0, memsz: 0, align: 0 }
    }

    /// The 56 bytes of this header, in file order.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(56);
        out.extend_from_slice(&self.p_type.to_le_bytes());
        out.extend_from_slice(&self.flags.to_le_bytes());
        for field in [self.offset, self.vaddr, self.vaddr, self.filesz, self.memsz, self.align] {
            out.extend_from_slice(&field.to_le_bytes());
        }
        out
    }
}

/// Offsets of the u64 fields inside a program header (`p_offset` .. `p_align`) and of `p_type`, `p_flags`.
pub const PHDR_FIELD_OFFSETS: [usize; 8] = [0, 4, 8, 16, 24, 32, 40, 48];

/// A file of `file_len` bytes: the header at 0, the program headers at `header.phoff` (if they fit), each
/// segment's file bytes filled with a pattern.
pub fn build(header: &Header, phdrs: &[Phdr], file_len: usize) -> Vec<u8> {
    let mut file = vec![0u8; file_len.max(64)];
    for phdr in phdrs.iter().filter(|p| p.p_type == PT_LOAD) {
        let start = usize::try_from(phdr.offset).unwrap_or(usize::MAX);
        let end = usize::try_from(phdr.offset.saturating_add(phdr.filesz)).unwrap_or(usize::MAX);
        for (i, byte) in file.iter_mut().enumerate().take(end).skip(start) {
            *byte = (i % 251) as u8 | 1;
        }
    }
    file[..4].copy_from_slice(b"\x7fELF");
    file[4] = header.class;
    file[5] = header.data;
    file[6] = header.ident_version;
    file[16..18].copy_from_slice(&header.elf_type.to_le_bytes());
    file[18..20].copy_from_slice(&header.machine.to_le_bytes());
    file[20..24].copy_from_slice(&header.version.to_le_bytes());
    file[24..32].copy_from_slice(&header.entry.to_le_bytes());
    file[32..40].copy_from_slice(&header.phoff.to_le_bytes());
    file[52..54].copy_from_slice(&64u16.to_le_bytes()); // e_ehsize
    file[54..56].copy_from_slice(&header.phentsize.to_le_bytes());
    let phnum = header.phnum.unwrap_or(phdrs.len() as u16);
    file[56..58].copy_from_slice(&phnum.to_le_bytes());
    for (i, phdr) in phdrs.iter().enumerate() {
        let at = usize::try_from(header.phoff).ok().and_then(|phoff| phoff.checked_add(i * 56));
        if let Some(slot) = at.and_then(|at| file.get_mut(at..at.checked_add(56)?)) {
            slot.copy_from_slice(&phdr.to_bytes());
        }
    }
    file.truncate(file_len);
    file
}

/// A copy of `bytes` that starts on an 8-byte boundary (plus `misalign` bytes), as `plan` requires.
pub struct Aligned {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned {
    pub fn new(bytes: &[u8]) -> Self {
        Self::with_misalignment(bytes, 0)
    }

    pub fn with_misalignment(bytes: &[u8], misalign: usize) -> Self {
        let mut storage = vec![0u8; bytes.len() + 16];
        let start = (8 - storage.as_ptr().addr() % 8) % 8 + misalign;
        storage[start..start + bytes.len()].copy_from_slice(bytes);
        Self { storage, start, len: bytes.len() }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }
}

/// What lld makes of a Rust program for x86_64-unknown-none with `-C relocation-model=static`: a read-only
/// segment at 0x200000 holding the ELF header, the program headers and rodata, the text on the next page
/// (same page offset as in the file), data with bss after it, and PHDR / GNU_EH_FRAME / GNU_STACK.
pub fn lld_image() -> (Header, Vec<Phdr>, usize) {
    let phdrs = vec![
        Phdr {
            p_type: PT_PHDR,
            flags: PF_R,
            offset: 0x40,
            vaddr: 0x20_0040,
            filesz: 0x150,
            memsz: 0x150,
            align: 8,
        },
        Phdr::load(PF_R, 0, 0x20_0000, 0x1f0, 0x1f0),
        Phdr::load(PF_R | PF_X, 0x1f0, 0x20_11f0, 0x800, 0x800),
        Phdr::load(PF_R | PF_W, 0x9f0, 0x20_29f0, 0x10, 0x2000),
        Phdr {
            p_type: PT_GNU_EH_FRAME,
            flags: PF_R,
            offset: 0x1c0,
            vaddr: 0x20_01c0,
            filesz: 0x20,
            memsz: 0x20,
            align: 4,
        },
        Phdr::other(PT_GNU_STACK, PF_R | PF_W),
    ];
    (Header::exec(0x20_11f0), phdrs, 0xa00)
}

/// The other common shape: text first at 0x200000 (holding the headers), then rodata, then data + bss.
pub fn text_first_image() -> (Header, Vec<Phdr>, usize) {
    let phdrs = vec![
        Phdr {
            p_type: PT_PHDR,
            flags: PF_R,
            offset: 0x40,
            vaddr: 0x20_0040,
            filesz: 0x118,
            memsz: 0x118,
            align: 8,
        },
        Phdr::load(PF_R | PF_X, 0, 0x20_0000, 0x1000, 0x1000),
        Phdr::load(PF_R, 0x1000, 0x20_1000, 0x100, 0x100),
        Phdr::load(PF_R | PF_W, 0x1100, 0x20_2100, 0x10, 0x1000),
        Phdr::other(PT_GNU_STACK, PF_R | PF_W),
    ];
    (Header::exec(0x20_0400), phdrs, 0x1110)
}

/// `count` one-page read-only segments at 0x400000, 0x401000, ..., plus one text segment first.
pub fn many_segments(count: usize) -> (Header, Vec<Phdr>, usize) {
    assert!((1..=4 * MAX_SEGMENTS).contains(&count));
    let mut phdrs = vec![Phdr::load(PF_R | PF_X, 0, 0x20_0000, 0x1000, 0x1000)];
    for i in 1..count as u64 {
        phdrs.push(Phdr::load(PF_R, 0x1000 * i, 0x40_0000 + 0x1000 * i, 0x1000, 0x1000));
    }
    (Header::exec(0x20_0100), phdrs, 0x1000 * count)
}

/// Builds an image and plans it within the test user space.
pub fn plan_of(header: &Header, phdrs: &[Phdr], file_len: usize) -> Result<crate::LoadPlan, crate::ElfError> {
    let file = Aligned::new(&build(header, phdrs, file_len));
    crate::plan(file.bytes(), USER_MIN, USER_END)
}
