//! `plan` on good images (lld's layouts) and one test per rule it enforces.

use super::builder::*;
use crate::{ElfError, LoadPlan, MAX_SEGMENTS, Perms, Segment, plan};

const R: Perms = Perms { read: true, write: false, exec: false };
const RX: Perms = Perms { read: true, write: false, exec: true };
const RW: Perms = Perms { read: true, write: true, exec: false };

fn lld_plan() -> Result<LoadPlan, ElfError> {
    let (header, phdrs, len) = lld_image();
    plan_of(&header, &phdrs, len)
}

/// `lld_image` with one change to its header.
fn lld_with(change: impl FnOnce(&mut Header)) -> Result<LoadPlan, ElfError> {
    let (mut header, phdrs, len) = lld_image();
    change(&mut header);
    plan_of(&header, &phdrs, len)
}

/// `lld_image` with one change to its program headers.
fn lld_with_phdrs(change: impl FnOnce(&mut Vec<Phdr>)) -> Result<LoadPlan, ElfError> {
    let (header, mut phdrs, len) = lld_image();
    change(&mut phdrs);
    plan_of(&header, &phdrs, len)
}

#[test]
fn lld_layout_rodata_first() {
    let plan = lld_plan().unwrap();
    let segment = |vaddr, mem_bytes, file_offset, file_bytes, perms| Segment {
        vaddr,
        mem_bytes,
        file_offset,
        file_bytes,
        perms,
    };
    assert_eq!(
        plan.segments.as_slice(),
        [
            segment(0x20_0000, 0x1f0, 0, 0x1f0, R),
            segment(0x20_11f0, 0x800, 0x1f0, 0x800, RX),
            segment(0x20_29f0, 0x2000, 0x9f0, 0x10, RW),
        ]
    );
    assert_eq!(plan.entry, 0x20_11f0);
    assert_eq!(plan.image_end, 0x20_5000);
    assert_eq!((plan.phdr_vaddr, plan.phent, plan.phnum), (0x20_0040, 56, 6));
    let pages: Vec<_> = plan.segments.iter().map(|s| (s.page_start(), s.page_end())).collect();
    assert_eq!(pages, [(0x20_0000, 0x20_1000), (0x20_1000, 0x20_2000), (0x20_2000, 0x20_5000)]);
}

#[test]
fn lld_layout_text_first() {
    let (header, phdrs, len) = text_first_image();
    let plan = plan_of(&header, &phdrs, len).unwrap();
    let perms: Vec<_> = plan.segments.iter().map(|s| s.perms).collect();
    assert_eq!(perms, [RX, R, RW]);
    assert_eq!(plan.segments[2].mem_bytes - plan.segments[2].file_bytes, 0x1000 - 0x10);
    assert_eq!(
        (plan.entry, plan.image_end, plan.phdr_vaddr, plan.phnum),
        (0x20_0400, 0x20_4000, 0x20_0040, 5)
    );
}

#[test]
fn program_headers_outside_every_segment_give_no_phdr_address() {
    // The table at the end of the file, after the last segment's file bytes.
    let (mut header, phdrs, _) = lld_image();
    header.phoff = 0xa00;
    let plan = plan_of(&header, &phdrs, 0xa00 + 6 * 56).unwrap();
    assert_eq!(plan.phdr_vaddr, 0);
}

#[test]
fn empty_load_segments_are_skipped() {
    let plan = lld_with_phdrs(|p| p.push(Phdr::load(PF_R | PF_W | PF_X, 0, 0x20_0000, 0, 0))).unwrap();
    assert_eq!(plan.segments.len(), 3);
}

#[test]
fn exactly_max_segments_are_accepted() {
    let (header, phdrs, len) = many_segments(MAX_SEGMENTS);
    assert_eq!(plan_of(&header, &phdrs, len).unwrap().segments.len(), MAX_SEGMENTS);
}

#[test]
fn rejects_bad_magic() {
    let mut file = build(&lld_image().0, &lld_image().1, lld_image().2);
    file[1] = b'e';
    assert_eq!(plan(Aligned::new(&file).bytes(), USER_MIN, USER_END), Err(ElfError::BadMagic));
    assert_eq!(plan(b"#!/bin/sh\n", USER_MIN, USER_END), Err(ElfError::BadMagic));
    assert_eq!(plan(b"", USER_MIN, USER_END), Err(ElfError::BadMagic));
}

#[test]
fn rejects_short_header() {
    let file = Aligned::new(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\0");
    assert_eq!(plan(file.bytes(), USER_MIN, USER_END), Err(ElfError::HeaderTruncated { file_bytes: 18 }));
}

#[test]
fn rejects_misaligned_image() {
    let (header, phdrs, len) = lld_image();
    let file = Aligned::with_misalignment(&build(&header, &phdrs, len), 4);
    assert!(matches!(plan(file.bytes(), USER_MIN, USER_END), Err(ElfError::MisalignedImage { .. })));
}

#[test]
fn rejects_32_bit_and_unknown_class() {
    assert_eq!(lld_with(|h| h.class = 1), Err(ElfError::NotElf64 { class: 1 }));
    assert_eq!(lld_with(|h| h.class = 7), Err(ElfError::NotElf64 { class: 7 }));
}

#[test]
fn rejects_big_endian() {
    assert_eq!(lld_with(|h| h.data = 2), Err(ElfError::NotLittleEndian { data: 2 }));
    assert_eq!(lld_with(|h| h.data = 0), Err(ElfError::NotLittleEndian { data: 0 }));
}

#[test]
fn rejects_unknown_version() {
    assert_eq!(lld_with(|h| h.ident_version = 2), Err(ElfError::BadVersion { ident_version: 2, version: 1 }));
    assert_eq!(lld_with(|h| h.version = 0), Err(ElfError::BadVersion { ident_version: 1, version: 0 }));
}

#[test]
fn rejects_other_machines() {
    assert_eq!(lld_with(|h| h.machine = 3), Err(ElfError::NotX86_64 { machine: 3 }));
    assert_eq!(lld_with(|h| h.machine = 0xb7), Err(ElfError::NotX86_64 { machine: 0xb7 }));
    assert_eq!(lld_with(|h| h.machine = 0x1234), Err(ElfError::NotX86_64 { machine: 0x1234 }));
}

#[test]
fn rejects_position_independent_executables() {
    assert_eq!(lld_with(|h| h.elf_type = 3), Err(ElfError::PositionIndependent));
}

#[test]
fn rejects_relocatable_and_core_files() {
    assert_eq!(lld_with(|h| h.elf_type = 1), Err(ElfError::NotExecutable { elf_type: 1 }));
    assert_eq!(lld_with(|h| h.elf_type = 4), Err(ElfError::NotExecutable { elf_type: 4 }));
    assert_eq!(lld_with(|h| h.elf_type = 0xfe01), Err(ElfError::NotExecutable { elf_type: 0xfe01 }));
}

#[test]
fn rejects_wrong_program_header_size() {
    assert_eq!(lld_with(|h| h.phentsize = 32), Err(ElfError::BadPhentsize { phentsize: 32 }));
}

#[test]
fn rejects_too_many_program_headers() {
    let (header, mut phdrs, _) = lld_image();
    phdrs.resize(65, Phdr::other(0, 0));
    let len = 64 + 65 * 56;
    assert_eq!(plan_of(&header, &phdrs, len), Err(ElfError::TooManyProgramHeaders { phnum: 65 }));
    assert_eq!(lld_with(|h| h.phnum = Some(0xffff)), Err(ElfError::TooManyProgramHeaders { phnum: 0xffff }));
}

#[test]
fn rejects_misaligned_program_header_table() {
    assert_eq!(lld_with(|h| h.phoff = 0x44), Err(ElfError::MisalignedProgramHeaders { offset: 0x44 }));
}

#[test]
fn rejects_program_header_table_past_the_end() {
    let end = 0x9f8 + 6 * 56;
    assert_eq!(
        lld_with(|h| h.phoff = 0x9f8),
        Err(ElfError::ProgramHeadersTruncated { end, file_bytes: 0xa00 })
    );
    assert_eq!(
        lld_with(|h| h.phoff = u64::MAX - 7),
        Err(ElfError::ProgramHeadersTruncated { end: u64::MAX, file_bytes: 0xa00 })
    );
}

#[test]
fn rejects_dynamically_linked_programs() {
    let interp = Phdr {
        p_type: PT_INTERP,
        flags: PF_R,
        offset: 0x1d0,
        vaddr: 0x20_01d0,
        filesz: 0x1c,
        memsz: 0x1c,
        align: 1,
    };
    assert_eq!(lld_with_phdrs(|p| p.insert(1, interp)), Err(ElfError::DynamicLinking { index: 1 }));
}

#[test]
fn rejects_images_without_loadable_segments() {
    assert_eq!(lld_with_phdrs(|p| p.retain(|p| p.p_type != PT_LOAD)), Err(ElfError::NoLoadableSegment));
    assert_eq!(lld_with(|h| h.phnum = Some(0)), Err(ElfError::NoLoadableSegment));
    let empty = Phdr::load(PF_R | PF_X, 0, 0x20_0000, 0, 0);
    assert_eq!(lld_with_phdrs(|p| *p = vec![empty]), Err(ElfError::NoLoadableSegment));
}

#[test]
fn rejects_too_many_segments() {
    let (header, phdrs, len) = many_segments(MAX_SEGMENTS + 1);
    assert_eq!(plan_of(&header, &phdrs, len), Err(ElfError::TooManySegments { count: MAX_SEGMENTS + 1 }));
}

#[test]
fn rejects_file_size_above_memory_size() {
    let error = ElfError::FileBiggerThanMemory { index: 3, file_bytes: 0x10, mem_bytes: 0x8 };
    assert_eq!(lld_with_phdrs(|p| p[3].memsz = 8), Err(error));
    // Even on an otherwise empty segment.
    let error = ElfError::FileBiggerThanMemory { index: 3, file_bytes: 0x10, mem_bytes: 0 };
    assert_eq!(lld_with_phdrs(|p| p[3].memsz = 0), Err(error));
}

#[test]
fn rejects_segments_past_the_end_of_the_file() {
    let (header, phdrs, _) = lld_image();
    let error = ElfError::SegmentTruncated { index: 3, end: 0xa00, file_bytes: 0x9ff };
    assert_eq!(plan_of(&header, &phdrs, 0x9ff), Err(error));
    let huge = |p: &mut Vec<Phdr>| p[3].offset = u64::MAX - 8;
    let error = ElfError::SegmentTruncated { index: 3, end: u64::MAX, file_bytes: 0xa00 };
    assert_eq!(lld_with_phdrs(huge), Err(error));
}

#[test]
fn rejects_vaddr_and_offset_in_different_page_positions() {
    let error = ElfError::MisalignedSegment { index: 2, vaddr: 0x20_1000, offset: 0x1f0 };
    assert_eq!(lld_with_phdrs(|p| p[2].vaddr = 0x20_1000), Err(error));
}

#[test]
fn rejects_segments_below_user_space() {
    let move_down = |p: &mut Vec<Phdr>| p[1].vaddr = 0x1000;
    let error = ElfError::BelowUserSpace { index: 1, start: 0x1000, user_min: USER_MIN };
    assert_eq!(lld_with_phdrs(move_down), Err(error));
    let null_page = |p: &mut Vec<Phdr>| p[1].vaddr = 0;
    assert!(matches!(lld_with_phdrs(null_page), Err(ElfError::BelowUserSpace { index: 1, start: 0, .. })));
}

#[test]
fn rejects_segments_reaching_into_kernel_space() {
    let high = |p: &mut Vec<Phdr>| p[3].vaddr = USER_END - 0x1000 + 0x9f0;
    let error = ElfError::KernelSpace { index: 3, end: USER_END + 0x2000, user_end: USER_END };
    assert_eq!(lld_with_phdrs(high), Err(error));
    let kernel = |p: &mut Vec<Phdr>| p[3].vaddr = 0xffff_8000_0000_09f0;
    assert!(matches!(lld_with_phdrs(kernel), Err(ElfError::KernelSpace { index: 3, .. })));
}

#[test]
fn rejects_address_overflow() {
    let wrap = |p: &mut Vec<Phdr>| p[3].vaddr = u64::MAX - 0xfff + 0x9f0;
    let error = ElfError::KernelSpace { index: 3, end: u64::MAX, user_end: USER_END };
    assert_eq!(lld_with_phdrs(wrap), Err(error));
    // The end fits in u64 but rounding it up to a page does not.
    let round = |p: &mut Vec<Phdr>| {
        p[3].vaddr = u64::MAX - 0xfff + 0x9f0;
        p[3].memsz = 0x10;
    };
    assert_eq!(lld_with_phdrs(round), Err(error));
}

#[test]
fn rejects_writable_and_executable_segments() {
    assert_eq!(lld_with_phdrs(|p| p[3].flags = PF_R | PF_W | PF_X), Err(ElfError::WriteExecute { index: 3 }));
}

#[test]
fn rejects_segments_sharing_a_page() {
    // Data starting right after the text, in the text's last page: disjoint bytes, shared page.
    let share = |p: &mut Vec<Phdr>| p[3].vaddr = 0x20_19f0;
    let error = ElfError::Overlap { index: 3, start: 0x20_1000, end: 0x20_4000, other: 2 };
    assert_eq!(lld_with_phdrs(share), Err(error));
    let same = |p: &mut Vec<Phdr>| p[3] = p[1];
    assert!(matches!(lld_with_phdrs(same), Err(ElfError::Overlap { index: 3, other: 1, .. })));
}

#[test]
fn rejects_entry_outside_executable_segments() {
    // In the read-only segment, in bss, and nowhere.
    for entry in [0x20_0100, 0x20_3000, 0x20_11f0 + 0x800, 0x10] {
        assert_eq!(lld_with(|h| h.entry = entry), Err(ElfError::EntryNotExecutable { entry }));
    }
}

#[test]
fn error_messages_read_well() {
    let cases: [(ElfError, &str); 8] = [
        (ElfError::BadMagic, "not an ELF file (bad magic)"),
        (ElfError::WriteExecute { index: 2 }, "segment 2 is writable and executable (W+X)"),
        (
            ElfError::Overlap { index: 1, start: 0x1000, end: 0x3000, other: 0 },
            "segment 1 [0x1000-0x3000) overlaps segment 0",
        ),
        (
            ElfError::KernelSpace { index: 0, end: 0xffff_8000_0000_1000, user_end: 0x7fff_ffff_f000 },
            "segment 0 reaches into kernel space (end 0xffff800000001000, user space ends at 0x7ffffffff000)",
        ),
        (
            ElfError::SegmentTruncated { index: 1, end: 0x2400, file_bytes: 0x2000 },
            "file truncated: segment 1 needs bytes up to 0x2400, file has 0x2000",
        ),
        (
            ElfError::NotX86_64 { machine: 3 },
            "not a 64-bit little-endian x86-64 executable (e_machine 3, x86-64 is 62)",
        ),
        (
            ElfError::EntryNotExecutable { entry: 0x20_0100 },
            "entry point 0x200100 is not inside an executable segment",
        ),
        (ElfError::NoLoadableSegment, "no loadable segment"),
    ];
    for (error, message) in cases {
        assert_eq!(error.to_string(), message);
    }
}
