//! Host tests: a GRUB-like block passes, each kind of damage is named, and random damage never panics —
//! neither here nor in the multiboot2 crate once a block has passed.

use super::*;
use proptest::prelude::*;

fn tag(out: &mut Vec<u8>, typ: u32, body: &[u8]) {
    out.extend_from_slice(&typ.to_le_bytes());
    out.extend_from_slice(&(8 + body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
}

/// A block shaped like the one GRUB gives under SeaBIOS.
fn grub_like() -> Vec<u8> {
    let mut b = vec![0u8; 8];
    tag(&mut b, TAG_CMDLINE, b"test=boot\0");
    tag(&mut b, TAG_BOOT_LOADER_NAME, b"GRUB 2.06\0");
    let mut module = Vec::new();
    module.extend_from_slice(&0x20_0000u32.to_le_bytes());
    module.extend_from_slice(&0x20_1000u32.to_le_bytes());
    module.extend_from_slice(b"ksyms\0");
    tag(&mut b, TAG_MODULE, &module);
    tag(&mut b, TAG_BASIC_MEMINFO, &[0x7f, 2, 0, 0, 0, 0xfc, 0, 0]);
    let mut mmap = Vec::new();
    mmap.extend_from_slice(&24u32.to_le_bytes());
    mmap.extend_from_slice(&0u32.to_le_bytes());
    for (addr, len, typ) in [(0u64, 0x9fc00u64, 1u32), (0x100000, 0x3ee0000, 1), (0xfffc0000, 0x40000, 2)] {
        mmap.extend_from_slice(&addr.to_le_bytes());
        mmap.extend_from_slice(&len.to_le_bytes());
        mmap.extend_from_slice(&typ.to_le_bytes());
        mmap.extend_from_slice(&0u32.to_le_bytes());
    }
    tag(&mut b, TAG_MMAP, &mmap);
    let mut fb = Vec::new();
    fb.extend_from_slice(&0xb8000u64.to_le_bytes());
    fb.extend_from_slice(&160u32.to_le_bytes());
    fb.extend_from_slice(&80u32.to_le_bytes());
    fb.extend_from_slice(&25u32.to_le_bytes());
    fb.extend_from_slice(&[16, 2, 0, 0]);
    tag(&mut b, TAG_FRAMEBUFFER, &fb);
    let mut rsdp = b"RSD PTR ".to_vec();
    rsdp.push(0);
    rsdp.extend_from_slice(b"BOCHS ");
    rsdp.push(0);
    rsdp.extend_from_slice(&0x7fe1234u32.to_le_bytes());
    tag(&mut b, TAG_ACPI_OLD, &rsdp);
    tag(&mut b, TAG_END, &[]);
    let total = b.len() as u32;
    b[..4].copy_from_slice(&total.to_le_bytes());
    b
}

fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Offset of the first tag of type `typ`.
fn find(b: &[u8], typ: u32) -> usize {
    let mut off = 8;
    loop {
        let t = u32::from_le_bytes(b[off..off + 4].try_into().unwrap());
        let s = u32::from_le_bytes(b[off + 4..off + 8].try_into().unwrap());
        if t == typ {
            return off;
        }
        off += (s as usize).div_ceil(8) * 8;
    }
}

#[test]
fn fixed_tag_sizes_match_the_multiboot2_crate() {
    let size = |typ| FIXED_SIZE_TAGS.iter().find(|(t, _)| *t == typ).map(|&(_, s)| s);
    assert_eq!(size(TAG_BASIC_MEMINFO), Some(size_of::<multiboot2::BasicMemoryInfoTag>()));
    assert_eq!(size(TAG_EFI64), Some(size_of::<multiboot2::EFISdt64Tag>()));
    assert_eq!(size(TAG_ACPI_OLD), Some(size_of::<multiboot2::RsdpV1Tag>()));
    assert_eq!(size(TAG_ACPI_NEW), Some(size_of::<multiboot2::RsdpV2Tag>()));
    assert_eq!(size(TAG_EFI_BS_NOT_EXITED), Some(size_of::<multiboot2::EFIBootServicesNotExitedTag>()));
}

#[test]
fn a_grub_like_block_passes() {
    assert_eq!(validate(&grub_like()), Ok(7));
}

#[test]
fn finds_tags_and_the_command_line() {
    let b = grub_like();
    assert_eq!(cmdline(&b), "test=boot");
    assert_eq!(find_tag(&b, TAG_BOOT_LOADER_NAME).map(|t| &t[..9]), Some(&b"GRUB 2.06"[..]));
    assert_eq!(find_tag(&b, 99), None);
    let mut empty = vec![0u8; 16];
    empty[0] = 16;
    empty[12] = 8; // end tag
    assert_eq!(cmdline(&empty), "");
}

#[test]
fn each_kind_of_damage_is_named() {
    let good = grub_like();

    let mut b = good.clone();
    set_u32(&mut b, 0, 4);
    assert_eq!(validate(&b), Err(MbiError::BadTotalSize(4)));
    set_u32(&mut b, 0, good.len() as u32 + 8);
    assert_eq!(validate(&b), Err(MbiError::BadTotalSize(good.len() as u32 + 8)));

    let mut b = good.clone();
    set_u32(&mut b, 12, 4); // first tag's size
    assert_eq!(validate(&b), Err(MbiError::BadTag { offset: 8, typ: TAG_CMDLINE, size: 4 }));

    let mut b = good.clone();
    let end = find(&b, TAG_END);
    set_u32(&mut b, end, 99); // the end tag becomes an unknown tag of size 8...
    assert_eq!(validate(&b), Err(MbiError::NoEndTag)); // ...and nothing follows it

    let mut b = good.clone();
    let cmd = find(&b, TAG_CMDLINE);
    b[cmd + 8 + 9] = b'x'; // overwrite the NUL
    b[cmd + 8 + 10..cmd + 8 + 16].fill(b'y');
    assert_eq!(validate(&b), Err(MbiError::BadString { typ: TAG_CMDLINE }));

    let mut b = good.clone();
    let module = find(&b, TAG_MODULE);
    set_u32(&mut b, module + 12, 0x1000);
    assert!(matches!(validate(&b), Err(MbiError::BadLayout { typ: TAG_MODULE, .. })));

    let mut b = good.clone();
    let mmap = find(&b, TAG_MMAP);
    set_u32(&mut b, mmap + 8, 20);
    assert!(matches!(validate(&b), Err(MbiError::BadLayout { typ: TAG_MMAP, .. })));

    // A fixed-size tag with another size (found by the property test below: the crate asserts on it).
    let mut b = good.clone();
    let basic = find(&b, TAG_BASIC_MEMINFO);
    set_u32(&mut b, basic + 4, 24);
    assert!(matches!(validate(&b), Err(MbiError::BadLayout { typ: TAG_BASIC_MEMINFO, .. })));

    let mut b = good.clone();
    let fb = find(&b, TAG_FRAMEBUFFER);
    b[fb + 29] = 0; // indexed, with a palette size that does not fit
    b[fb + 32] = 0xff;
    assert!(matches!(validate(&b), Err(MbiError::BadLayout { typ: TAG_FRAMEBUFFER, .. })));
}

/// Loads a validated block with the multiboot2 crate and calls every accessor the kernel uses.
#[expect(unsafe_code, reason = "the multiboot2 crate loads from a raw pointer")]
fn exercise_crate(words: &[u64]) {
    let ptr = words.as_ptr().cast::<multiboot2::BootInformationHeader>();
    // SAFETY: `words` holds the whole block, is 8-aligned and is not modified while borrowed.
    let Ok(info) = (unsafe { multiboot2::BootInformation::load(ptr) }) else { return };
    let _ = info.command_line_tag().map(|t| t.cmdline());
    let _ = info.boot_loader_name_tag().map(|t| t.name());
    for m in info.module_tags() {
        let _ = (m.start_address(), m.end_address(), m.cmdline());
    }
    if let Some(mmap) = info.memory_map_tag() {
        for a in mmap.memory_areas() {
            let _ = (a.start_address(), a.size(), u32::from(a.typ()));
        }
    }
    if let Some(efi) = info.efi_memory_map_tag() {
        for d in efi.memory_areas() {
            let _ = (d.ty, d.phys_start, d.page_count);
        }
    }
    if let Some(Ok(fb)) = info.framebuffer_tag() {
        let _ = (fb.address(), fb.width(), fb.height(), fb.bpp(), fb.pitch(), fb.buffer_type());
    }
    let _ = info.basic_memory_info_tag().map(|t| (t.memory_lower(), t.memory_upper()));
    let _ = info.rsdp_v1_tag().map(|t| (t.oem_id(), t.revision(), t.rsdt_address(), t.checksum_is_valid()));
    let _ = info.rsdp_v2_tag().map(|t| (t.oem_id(), t.xsdt_address(), t.checksum_is_valid()));
    let _ = info.efi_sdt64_tag().map(|t| t.sdt_address());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn random_damage_never_panics(flips in prop::collection::vec((0usize..400, any::<u8>()), 1..8)) {
        let mut b = grub_like();
        for (at, v) in flips {
            if at < b.len() {
                b[at] = v;
            }
        }
        if validate(&b).is_ok() {
            let mut words = vec![0u64; b.len().div_ceil(8)];
            for (i, chunk) in b.chunks(8).enumerate() {
                let mut w = [0u8; 8];
                w[..chunk.len()].copy_from_slice(chunk);
                words[i] = u64::from_le_bytes(w);
            }
            exercise_crate(&words);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = validate(&bytes);
    }
}
