//! Host tests of command-line parsing.

use super::*;
use proptest::prelude::*;

#[test]
fn splits_params_with_quotes_like_linux() {
    let got: Vec<_> = params(r#"  loglevel=8 nokaslr init="/bin/sh -x"  "foo=a b" x="" "#).collect();
    assert_eq!(got[0], Param { key: "loglevel", value: Some("8"), text: "loglevel=8" });
    assert_eq!(got[1], Param { key: "nokaslr", value: None, text: "nokaslr" });
    assert_eq!(got[2], Param { key: "init", value: Some("/bin/sh -x"), text: r#"init="/bin/sh -x""# });
    assert_eq!(got[3], Param { key: "foo", value: Some("a b"), text: r#""foo=a b""# });
    assert_eq!(got[4], Param { key: "x", value: Some(""), text: r#"x="""# });
    assert_eq!(got.len(), 5);
}

#[test]
fn double_dash_separates_init_arguments() {
    assert_eq!(split_init_args("a=1 -- -v x"), ("a=1 ", "-v x"));
    assert_eq!(split_init_args("a=--b c"), ("a=--b c", ""));
    assert_eq!(split_init_args("x=\"-- y\" z"), ("x=\"-- y\" z", ""));
    assert_eq!(split_init_args("--"), ("", ""));
    let p = BootParams::parse("test=boot -- -q pagoda=1");
    assert_eq!(p.init_args, "-q pagoda=1");
    assert!(p.problems.is_empty(), "{:?}", p.problems);
}

#[test]
fn memparse_accepts_linux_sizes() {
    assert_eq!(memparse("512M"), Some(512 << 20));
    assert_eq!(memparse("4g"), Some(4 << 30));
    assert_eq!(memparse("64k"), Some(64 << 10));
    assert_eq!(memparse("0x1000"), Some(0x1000));
    assert_eq!(memparse("0x1e"), Some(0x1e));
    assert_eq!(memparse("0x10M"), Some(16 << 20));
    assert_eq!(memparse("1E"), Some(1 << 60));
    assert_eq!(memparse("123"), Some(123));
    for junk in ["", "M", "12Q", "0x", "-1", "99999999999999999999", "16E"] {
        assert_eq!(memparse(junk), None, "{junk}");
    }
}

#[test]
fn known_options_are_typed_and_others_reported() {
    let p = BootParams::parse(
        "loglevel=8 mem=64M memblock=debug test=boot init=/bin/sh bogus=1 nokaslr noapic vga=normal",
    );
    assert!(!p.page_poison && !p.shuffle);
    assert_eq!(p.loglevel, 8);
    assert_eq!(p.mem_limit, Some(64 << 20));
    assert!(p.memblock_debug);
    assert_eq!(p.test, Some("boot"));
    assert_eq!(p.init, Some("/bin/sh"));
    assert_eq!(p.problems.as_slice(), [Problem::Unknown("bogus=1")]);
    assert!(p.nokaslr);
    assert!(p.noapic && p.vga_text);
    assert_eq!(BootParams::parse("vga=791").problems.len(), 1, "only vga=normal exists");
}

#[test]
fn page_allocator_options() {
    let p = BootParams::parse("page_poison=1 init_on_alloc=on init_on_free=0 page_alloc.shuffle=y numa=off");
    assert!(p.page_poison && p.init_on_alloc && !p.init_on_free && p.shuffle && p.numa_off);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(BootParams::parse("slub_debug").slub_debug, Some(""));
    assert_eq!(BootParams::parse("slub_debug=FZ,kmalloc-64").slub_debug, Some("FZ,kmalloc-64"));
    assert_eq!(BootParams::parse("").slub_debug, None);
    assert_eq!(BootParams::parse("highmem=512M").highmem, Some(512 << 20));
    assert_eq!(BootParams::parse("").highmem, None);
    let p = BootParams::parse("highmem=1M highmem=x highmem");
    assert_eq!(p.highmem, None);
    assert_eq!(p.problems.len(), 3, "{:?}", p.problems);
    let p = BootParams::parse("shuffle=1 page_poison=maybe numa=fake");
    assert!(p.shuffle && !p.page_poison);
    assert_eq!(p.problems.len(), 2);
}

#[test]
fn bad_values_are_reported_and_ignored() {
    let p = BootParams::parse("loglevel=99 mem=lots mem=1M memblock=on test= quiet");
    assert_eq!(p.loglevel, 4);
    assert_eq!(p.mem_limit, None);
    assert!(!p.memblock_debug);
    assert_eq!(p.test, None);
    let texts: Vec<String> = p.problems.iter().map(|x| x.to_string()).collect();
    assert_eq!(
        texts,
        [
            "bad parameter \"loglevel=99\": expected 0..15, ignored",
            "bad parameter \"mem=lots\": expected a size such as 512M, ignored",
            "bad parameter \"mem=1M\": below the 16M minimum, ignored",
            "bad parameter \"memblock=on\": only memblock=debug exists, ignored",
            "bad parameter \"test=\": needs a value, ignored",
        ]
    );
}

#[test]
fn later_parameters_override_and_problems_overflow_is_counted() {
    let p = BootParams::parse("loglevel=3 debug loglevel=5");
    assert_eq!(p.loglevel, 5);
    let many: String = (0..20).map(|i| format!("x{i} ")).collect();
    let p = BootParams::parse(&many);
    assert_eq!(p.problems.len(), MAX_PROBLEMS);
    assert_eq!(p.problems_dropped, 20 - MAX_PROBLEMS);
}

proptest! {
    /// Any input, however malformed, parses without panicking, and every parameter's text is a piece of
    /// the input.
    #[test]
    fn never_panics(s in "[ a-z=\"0-9xKMG-]{0,64}") {
        let p = BootParams::parse(&s);
        for param in params(&s) {
            prop_assert!(s.contains(param.text));
            prop_assert!(!param.text.is_empty());
        }
        prop_assert!(p.loglevel <= 15);
    }
}

#[test]
fn randomize_va_space_takes_0_1_2_and_defaults_to_2() {
    assert_eq!(BootParams::parse("").randomize_va_space, 2);
    assert_eq!(BootParams::parse("randomize_va_space=0").randomize_va_space, 0);
    assert_eq!(BootParams::parse("randomize_va_space=1").randomize_va_space, 1);
    let p = BootParams::parse("randomize_va_space=3");
    assert_eq!(p.randomize_va_space, 2);
    assert_eq!(p.problems.len(), 1);
}

#[test]
fn oom_options() {
    let p = BootParams::parse("panic_on_oom=1 oomd_timeout_ms=250");
    assert!(p.panic_on_oom);
    assert_eq!(p.oomd_timeout_ms, 250);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(BootParams::parse("").oomd_timeout_ms, 1000);
    let p = BootParams::parse("oomd_timeout_ms=0 oomd_timeout_ms=60001 oomd_timeout_ms=x oomd_timeout_ms");
    assert_eq!(p.oomd_timeout_ms, 1000, "bad values leave the default");
    assert_eq!(p.problems.len(), 4, "{:?}", p.problems);
}
