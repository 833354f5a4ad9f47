//! `build_stack`: the image decodes back to what was put in, sp is aligned, and small buffers are refused.

use proptest::prelude::*;

use crate::{
    AT_ENTRY, AT_EXECFN, AT_NULL, AT_PAGESZ, AT_PHDR, AT_PLATFORM, AT_RANDOM, StackError, StackImage,
    build_stack,
};

const STACK_TOP: u64 = 0x7fff_ffff_f000;
const RANDOM: [u8; 16] = *b"0123456789abcdef";

/// What a `_start` would find on its stack.
#[derive(Debug, PartialEq)]
struct Decoded {
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    /// Without the AT_NULL terminator.
    auxv: Vec<(u64, u64)>,
}

/// Reads the image back the way libc's startup code does, checking every pointer stays inside it.
fn decode(buf: &[u8], stack_top: u64, image: &StackImage) -> Decoded {
    let base = stack_top - buf.len() as u64;
    let low = stack_top - image.used as u64;
    assert_eq!(low, image.sp);
    let word = |address: u64| {
        assert!(address >= low && address + 8 <= stack_top, "word at {address:#x} outside the image");
        let at = (address - base) as usize;
        u64::from_le_bytes(buf[at..at + 8].try_into().unwrap())
    };
    let string = |address: u64| {
        assert!(address >= low && address < stack_top, "string at {address:#x} outside the image");
        let at = (address - base) as usize;
        let len = buf[at..].iter().position(|&b| b == 0).expect("string without NUL");
        buf[at..at + len].to_vec()
    };
    let argc = word(image.sp);
    assert_eq!(image.argv_ptr, image.sp + 8);
    let argv: Vec<_> = (0..argc).map(|i| string(word(image.argv_ptr + 8 * i))).collect();
    assert_eq!(word(image.argv_ptr + 8 * argc), 0, "argv not NULL-terminated");
    assert_eq!(image.envp_ptr, image.argv_ptr + 8 * (argc + 1));
    let mut envp = Vec::new();
    let mut pointer = image.envp_ptr;
    while word(pointer) != 0 {
        envp.push(string(word(pointer)));
        pointer += 8;
    }
    let mut auxv = Vec::new();
    let mut entry = pointer + 8;
    while word(entry) != AT_NULL {
        auxv.push((word(entry), word(entry + 8)));
        entry += 16;
    }
    assert_eq!(word(entry + 8), 0, "AT_NULL's value");
    Decoded { argv, envp, auxv }
}

fn value(auxv: &[(u64, u64)], key: u64) -> Option<u64> {
    auxv.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
}

/// Builds a stack and checks it against its inputs; returns the image.
fn round_trip(
    stack_top: u64,
    buf: &mut [u8],
    argv: &[&[u8]],
    envp: &[&[u8]],
    auxv: &[(u64, u64)],
    platform: &[u8],
) -> Result<StackImage, StackError> {
    let image = build_stack(stack_top, buf, argv, envp, auxv, RANDOM, platform)?;
    assert_eq!(image.sp % 16, 0);
    assert!(image.used <= buf.len());
    let decoded = decode(buf, stack_top, &image);
    assert_eq!(decoded.argv, argv);
    assert_eq!(decoded.envp, envp);
    assert_eq!(&decoded.auxv[..auxv.len()], auxv, "the caller's pairs come first, in order");
    let base = stack_top - buf.len() as u64;
    let random = value(&decoded.auxv, AT_RANDOM).expect("AT_RANDOM") - base;
    assert_eq!(buf[random as usize..random as usize + 16], RANDOM);
    let ours = decoded.auxv.len() - auxv.len();
    assert_eq!(ours, 1 + usize::from(!platform.is_empty()) + usize::from(!argv.is_empty()));
    if let Some(address) = value(&decoded.auxv, AT_PLATFORM) {
        let at = (address - base) as usize;
        assert_eq!(&buf[at..at + platform.len() + 1], [platform, b"\0"].concat());
    }
    if let Some(address) = value(&decoded.auxv, AT_EXECFN) {
        assert_eq!(address, decoded_argv0_address(buf, stack_top, &image));
    }
    Ok(image)
}

fn decoded_argv0_address(buf: &[u8], stack_top: u64, image: &StackImage) -> u64 {
    let at = (image.argv_ptr - (stack_top - buf.len() as u64)) as usize;
    u64::from_le_bytes(buf[at..at + 8].try_into().unwrap())
}

#[test]
fn init_stack_decodes() {
    let mut buf = vec![0xaa; 4096];
    let auxv = [(AT_PHDR, 0x20_0040), (AT_PAGESZ, 4096), (AT_ENTRY, 0x20_11f0)];
    let image =
        round_trip(STACK_TOP, &mut buf, &[b"init", b"-v"], &[b"HOME=/", b"TERM=vt100"], &auxv, b"x86_64")
            .unwrap();
    // Strings at the top, argv[0] lowest: "init\0-v\0HOME=/\0TERM=vt100\0x86_64\0" is 33 bytes.
    assert_eq!(&buf[4096 - 33..], b"init\0-v\0HOME=/\0TERM=vt100\0x86_64\0");
    assert_eq!(&buf[4096 - 33 - 16..4096 - 33], RANDOM);
    // argc + 3 argv + 3 envp + 7 auxv pairs = 21 words = 168 bytes, below the random bytes, aligned down.
    assert_eq!(image.sp, (STACK_TOP - 33 - 16 - 168) & !15);
    assert_eq!(image.used as u64, STACK_TOP - image.sp);
    assert!(buf[..4096 - image.used].iter().all(|&b| b == 0xaa), "bytes below the image untouched");
}

#[test]
fn empty_argv_envp_and_platform() {
    let mut buf = vec![0; 256];
    let image = round_trip(STACK_TOP, &mut buf, &[], &[], &[], b"").unwrap();
    // argc, two NULLs, AT_RANDOM and AT_NULL pairs: 7 words, then 16 random bytes: 72 -> 80.
    assert_eq!(image.used, 80);
}

#[test]
fn sp_is_aligned_whatever_the_sizes_and_the_top() {
    for top in [STACK_TOP, STACK_TOP - 1, STACK_TOP - 8, STACK_TOP - 13] {
        for n in 0..20 {
            let arg = vec![b'a'; n];
            let argv: Vec<&[u8]> = vec![&arg; n % 4];
            let mut buf = vec![0; 1024];
            let image = round_trip(top, &mut buf, &argv, &[&arg], &[(AT_PAGESZ, 4096)], b"x86_64").unwrap();
            assert_eq!(image.sp % 16, 0);
        }
    }
}

#[test]
fn too_small_buffer_is_refused_with_the_size_needed() {
    let argv: [&[u8]; 2] = [b"shell", b"-c"];
    let mut small = vec![0; 64];
    let Err(StackError::TooBig { needed, available: 64 }) =
        build_stack(STACK_TOP, &mut small, &argv, &[], &[], RANDOM, b"x86_64")
    else {
        panic!("a 64-byte stack fits");
    };
    let mut exact = vec![0; needed as usize];
    let image = round_trip(STACK_TOP, &mut exact, &argv, &[], &[], b"x86_64").unwrap();
    assert_eq!(image.used as u64, needed);
    let mut one_less = vec![0; needed as usize - 1];
    assert!(matches!(
        build_stack(STACK_TOP, &mut one_less, &argv, &[], &[], RANDOM, b"x86_64"),
        Err(StackError::TooBig { .. })
    ));
}

#[test]
fn stack_near_address_zero() {
    let mut buf = vec![0; 64];
    assert_eq!(
        build_stack(32, &mut buf, &[], &[], &[], RANDOM, b""),
        Err(StackError::BadStackTop { stack_top: 32, buf_bytes: 64 })
    );
    assert_eq!(
        build_stack(64, &mut buf, &[b"a-long-argument"], &[], &[], RANDOM, b""),
        Err(StackError::TooBig { needed: 112, available: 64 })
    );
}

#[test]
fn nul_bytes_and_reserved_keys_are_refused() {
    let mut buf = vec![0; 1024];
    let mut build = |argv: &[&[u8]], envp: &[&[u8]], auxv: &[(u64, u64)], platform: &[u8]| {
        build_stack(STACK_TOP, &mut buf, argv, envp, auxv, RANDOM, platform)
    };
    assert_eq!(build(&[b"ok", b"b\0d"], &[], &[], b""), Err(StackError::NulInArgument { index: 1 }));
    assert_eq!(build(&[], &[b"A=\0"], &[], b""), Err(StackError::NulInEnvironment { index: 0 }));
    assert_eq!(build(&[], &[], &[], b"x86\0"), Err(StackError::NulInPlatform));
    for key in [AT_NULL, AT_RANDOM, AT_PLATFORM, AT_EXECFN] {
        assert_eq!(
            build(&[], &[], &[(AT_PAGESZ, 4096), (key, 1)], b""),
            Err(StackError::ReservedAuxKey { key })
        );
    }
}

#[test]
fn stack_error_messages() {
    let error = StackError::TooBig { needed: 0x2010, available: 0x2000 };
    assert_eq!(
        error.to_string(),
        "argument list too long: the initial stack needs 0x2010 bytes, 0x2000 available"
    );
}

fn strings(nul_free: bool) -> impl Strategy<Value = Vec<Vec<u8>>> {
    let byte = if nul_free { (1u8..=255).boxed() } else { any::<u8>().boxed() };
    proptest::collection::vec(proptest::collection::vec(byte, 0..24), 0..10)
}

fn auxv() -> impl Strategy<Value = Vec<(u64, u64)>> {
    let key = prop_oneof![1u64..15, 16u64..25, 26u64..31, 32u64..64];
    proptest::collection::vec((key, any::<u64>()), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_lists_round_trip(
        argv in strings(true),
        envp in strings(true),
        auxv in auxv(),
        platform in prop_oneof![Just(b"x86_64".to_vec()), Just(Vec::new()), proptest::collection::vec(1u8..=255, 1..8)],
        buf_bytes in 0usize..1200,
        top_offset in 0u64..32,
    ) {
        let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        let envp: Vec<&[u8]> = envp.iter().map(Vec::as_slice).collect();
        let mut buf = vec![0x55; buf_bytes];
        match round_trip(STACK_TOP - top_offset, &mut buf, &argv, &envp, &auxv, &platform) {
            Ok(image) => prop_assert!(image.used <= buf_bytes),
            Err(StackError::TooBig { needed, available }) => {
                prop_assert!(needed > available);
                prop_assert_eq!(available, buf_bytes as u64);
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn any_input_never_panics(
        argv in strings(false),
        envp in strings(false),
        auxv in proptest::collection::vec((0u64..40, any::<u64>()), 0..8),
        platform in proptest::collection::vec(any::<u8>(), 0..8),
        buf_bytes in 0usize..600,
        stack_top in prop_oneof![any::<u64>(), 0u64..1024],
    ) {
        let argv: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        let envp: Vec<&[u8]> = envp.iter().map(Vec::as_slice).collect();
        let mut buf = vec![0; buf_bytes];
        if let Ok(image) = build_stack(stack_top, &mut buf, &argv, &envp, &auxv, RANDOM, &platform) {
            prop_assert_eq!(image.sp % 16, 0);
            prop_assert!(image.used <= buf_bytes);
        }
    }
}
