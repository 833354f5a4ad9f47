//! Tests of the printf engine: hand-written cases, and a differential run against the host glibc's `snprintf`
//! over every combination of a set of flags, widths, precisions, lengths, conversions and values.

use super::*;
use core::ffi::{c_char, c_int, c_long};
use std::ffi::CString;
use std::string::String;
use std::vec::Vec;
use std::{format, vec};

unsafe extern "C" {
    /// The host C library's snprintf (glibc on our machines), the reference.
    fn snprintf(buffer: *mut c_char, size: usize, format: *const c_char, ...) -> c_int;
}

/// A test argument.
#[derive(Clone, Copy)]
enum Arg<'a> {
    Int(u64),
    Str(Option<&'a [u8]>),
}

/// Arguments from a list.
struct List<'a> {
    args: Vec<Arg<'a>>,
    next: usize,
}

impl Arguments for List<'_> {
    fn next_u64(&mut self) -> u64 {
        let arg = self.args[self.next];
        self.next += 1;
        match arg {
            Arg::Int(value) => value,
            Arg::Str(_) => panic!("a string where an integer was expected"),
        }
    }

    fn next_string(&mut self, max_len: Option<usize>) -> Option<&[u8]> {
        let arg = self.args[self.next];
        self.next += 1;
        match arg {
            Arg::Str(Some(bytes)) => {
                let len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                Some(&bytes[..max_len.map_or(len, |max| max.min(len))])
            }
            Arg::Str(None) => None,
            Arg::Int(_) => panic!("an integer where a string was expected"),
        }
    }
}

struct StringOutput(Vec<u8>);

impl Output for StringOutput {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

fn ours(format_text: &str, args: &[Arg<'_>]) -> String {
    let mut list = List { args: args.to_vec(), next: 0 };
    let mut out = StringOutput(Vec::new());
    let count = format(format_text.as_bytes(), &mut list, &mut out);
    assert_eq!(count, out.0.len());
    assert_eq!(list.next, args.len(), "{format_text}: not every argument was used");
    String::from_utf8(out.0).unwrap()
}

/// An `int` argument as a va_list slot holds it: low 32 bits, garbage above (the engine must narrow).
fn int(value: i32) -> Arg<'static> {
    Arg::Int(u64::from(value as u32) | 0xa5a5_a5a5_0000_0000)
}

fn long(value: i64) -> Arg<'static> {
    Arg::Int(value as u64)
}

fn glibc(format_text: &str, call: impl FnOnce(*mut c_char, *const c_char) -> c_int) -> String {
    let format_c = CString::new(format_text).unwrap();
    let mut buffer = vec![0u8; 512];
    let n = call(buffer.as_mut_ptr().cast(), format_c.as_ptr());
    assert!(n >= 0 && (n as usize) < buffer.len(), "{format_text}: glibc returned {n}");
    buffer.truncate(n as usize);
    String::from_utf8(buffer).unwrap()
}

#[test]
fn literals_and_percent() {
    assert_eq!(ours("hello", &[]), "hello");
    assert_eq!(ours("100%%", &[]), "100%");
    assert_eq!(ours("", &[]), "");
    assert_eq!(ours("a%", &[]), "a%");
    assert_eq!(ours("%-5", &[]), "%-5");
}

#[test]
fn unsupported_conversions_are_copied() {
    assert_eq!(ours("%y|%5.2f|%n", &[]), "%y|%5.2f|%n");
}

#[test]
fn strings_and_chars() {
    assert_eq!(ours("[%s]", &[Arg::Str(Some(b"hi\0"))]), "[hi]");
    assert_eq!(ours("[%5s]", &[Arg::Str(Some(b"hi\0"))]), "[   hi]");
    assert_eq!(ours("[%-5s]", &[Arg::Str(Some(b"hi\0"))]), "[hi   ]");
    assert_eq!(ours("[%.1s]", &[Arg::Str(Some(b"hi"))]), "[h]");
    assert_eq!(ours("[%s]", &[Arg::Str(None)]), "[(null)]");
    assert_eq!(ours("[%.3s]", &[Arg::Str(None)]), "[]");
    assert_eq!(ours("[%c%c]", &[int(i32::from(b'o')), int(i32::from(b'k'))]), "[ok]");
    assert_eq!(ours("[%3c]", &[int(i32::from(b'x'))]), "[  x]");
    assert_eq!(ours("[%-3c]", &[int(i32::from(b'x'))]), "[x  ]");
}

#[test]
fn pointers() {
    assert_eq!(ours("%p", &[long(0)]), "(nil)");
    assert_eq!(ours("%p", &[long(0x20_1000)]), "0x201000");
    assert_eq!(ours("[%12p]", &[long(0xabc)]), "[       0xabc]");
    assert_eq!(ours("[%-8p]", &[long(0)]), "[(nil)   ]");
}

#[test]
fn star_width_and_precision() {
    assert_eq!(ours("[%*d]", &[int(5), int(42)]), "[   42]");
    assert_eq!(ours("[%*d]", &[int(-5), int(42)]), "[42   ]");
    assert_eq!(ours("[%.*d]", &[int(4), int(7)]), "[0007]");
    assert_eq!(ours("[%.*d]", &[int(-1), int(7)]), "[7]");
    assert_eq!(ours("[%*.*s]", &[int(6), int(2), Arg::Str(Some(b"abcdef"))]), "[    ab]");
}

#[test]
fn lengths_narrow_like_va_arg() {
    assert_eq!(ours("%hhd %hhu", &[int(0x1ff), int(-1)]), "-1 255");
    assert_eq!(ours("%hd %hu", &[int(0x18000), int(-1)]), "-32768 65535");
    assert_eq!(ours("%d %u", &[int(-1), int(-1)]), "-1 4294967295");
    assert_eq!(ours("%ld %lu %zu", &[long(-1), long(-1), long(12)]), "-1 18446744073709551615 12");
    assert_eq!(ours("%lld %llx %jd %td", &[long(i64::MIN), long(-1), long(3), long(-4)]), {
        "-9223372036854775808 ffffffffffffffff 3 -4"
    });
}

#[test]
fn buffer_output_truncates_and_terminates() {
    let mut buffer = [0xffu8; 6];
    let mut out = BufferOutput::new(&mut buffer);
    let mut list = List { args: vec![int(123_456)], next: 0 };
    let count = format(b"n=%d", &mut list, &mut out);
    assert_eq!(count, 8);
    assert_eq!(out.finish(), 5);
    assert_eq!(&buffer, b"n=123\0");

    let mut empty: [u8; 0] = [];
    let mut out = BufferOutput::new(&mut empty);
    out.write(b"abc");
    assert_eq!(out.finish(), 0);

    let mut one = [0xffu8; 1];
    let mut out = BufferOutput::new(&mut one);
    out.write(b"abc");
    assert_eq!(out.finish(), 0);
    assert_eq!(one, [0]);
}

const FLAGS: [&str; 9] = ["", "-", "+", " ", "#", "0", "-#", "+0", "# 0"];
const WIDTHS: [&str; 3] = ["", "1", "12"];
const PRECISIONS: [&str; 5] = ["", ".", ".0", ".1", ".5"];

/// Every flag/width/precision combination for `conversion` with `length`.
fn specs(length: &str, conversion: char) -> Vec<String> {
    let mut specs = Vec::new();
    for flags in FLAGS {
        for width in WIDTHS {
            for precision in PRECISIONS {
                specs.push(format!("[%{flags}{width}{precision}{length}{conversion}]"));
            }
        }
    }
    specs
}

#[test]
fn int_conversions_match_glibc() {
    let values = [0, 1, -1, 7, 42, -42, 255, 256, 4096, 65535, -65536, i32::MAX, i32::MIN];
    for conversion in ['d', 'i', 'u', 'o', 'x', 'X'] {
        for length in ["", "h", "hh"] {
            for spec in specs(length, conversion) {
                for value in values {
                    // SAFETY: the format has one int conversion and gets one int.
                    let expected =
                        glibc(&spec, |buffer, format| unsafe { snprintf(buffer, 512, format, value) });
                    assert_eq!(ours(&spec, &[int(value)]), expected, "format {spec:?} value {value}");
                }
            }
        }
    }
}

#[test]
fn long_conversions_match_glibc() {
    let values = [0, 1, -1, 0x7fff_ffff_ffff, i64::MAX, i64::MIN, 1 << 32, -(1 << 40)];
    for conversion in ['d', 'u', 'o', 'x', 'X'] {
        for length in ["l", "ll", "z", "j", "t"] {
            for spec in specs(length, conversion) {
                for value in values {
                    // SAFETY: the format has one 64-bit conversion and gets one long.
                    let expected = glibc(&spec, |buffer, format| unsafe {
                        snprintf(buffer, 512, format, value as c_long)
                    });
                    assert_eq!(ours(&spec, &[long(value)]), expected, "format {spec:?} value {value}");
                }
            }
        }
    }
}

#[test]
fn strings_match_glibc() {
    let texts: [&[u8]; 3] = [b"\0", b"pagoda\0", b"a longer string than the width\0"];
    for flags in ["", "-"] {
        for width in WIDTHS {
            for precision in PRECISIONS {
                let spec = format!("[%{flags}{width}{precision}s]");
                for text in texts {
                    // SAFETY: one string conversion, one NUL-terminated string.
                    let expected = glibc(&spec, |buffer, format| unsafe {
                        snprintf(buffer, 512, format, text.as_ptr())
                    });
                    assert_eq!(ours(&spec, &[Arg::Str(Some(text))]), expected, "format {spec:?}");
                }
            }
        }
    }
}

#[test]
fn pointers_match_glibc() {
    for spec in ["%p", "[%20p]", "[%-20p]"] {
        for value in [0usize, 1, 0x20_0000, usize::MAX] {
            // SAFETY: one pointer conversion, one pointer-sized argument.
            let expected =
                glibc(spec, |buffer, format| unsafe { snprintf(buffer, 512, format, value as *const u8) });
            assert_eq!(ours(spec, &[long(value as i64)]), expected, "format {spec:?}");
        }
    }
}
