//! printf's engine (C11 §7.21.6.1 "The fprintf function"): parses a format string and writes the conversions
//! `%d %i %u %o %x %X %c %s %p %%` with the flags `- + space # 0`, a width and a precision (numbers or `*`)
//! and the length modifiers `hh h l ll z j t` (and `L`, which glibc reads as `ll` for integers). Where C leaves the output open,
//! glibc's is followed: `%p` of NULL is `(nil)`, `%s` of NULL is `(null)` (or nothing when the precision is
//! below 6). `%n` and floating-point conversions are not supported: such a conversion, like any unknown one,
//! is copied to the output as written.
//!
//! Pure: arguments come from an [`Arguments`] source (a C `va_list` in target builds, a list in tests) and
//! the text goes to an [`Output`]; [`format`] returns the number of bytes produced, which is what printf
//! returns and what snprintf reports even when its buffer was too small ([`BufferOutput`]).

mod buffer;
mod integer;
#[cfg(test)]
mod tests;

pub use buffer::BufferOutput;

use integer::{Radix, write_integer};

/// Where formatted bytes go.
pub trait Output {
    fn write(&mut self, bytes: &[u8]);
}

/// The arguments of a format, consumed in order.
pub trait Arguments {
    /// The next INTEGER-class argument as a 64-bit slot (narrowed by the caller per the length modifier).
    fn next_u64(&mut self) -> u64;
    /// The bytes of the next `char *` argument, up to its NUL or `max_len` bytes, whichever comes first;
    /// `None` for a null pointer.
    fn next_string(&mut self, max_len: Option<usize>) -> Option<&[u8]>;
}

/// A conversion specification's flags, width and precision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spec {
    /// `-`: pad on the right.
    pub left: bool,
    /// `+`: always a sign for signed conversions.
    pub plus: bool,
    /// space: a space where a `+` would go.
    pub space: bool,
    /// `#`: `0x`/`0X` for non-zero hex, a leading 0 for octal.
    pub alternate: bool,
    /// `0`: pad numbers with zeros (ignored with `-` or a precision).
    pub zero: bool,
    pub width: usize,
    pub precision: Option<usize>,
}

/// A length modifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Length {
    Char,
    Short,
    Int,
    /// `l`, `ll`, `z`, `j`, `t`: 64 bits on x86-64.
    Long,
}

/// Writes to an [`Output`] and counts.
struct Counter<'a, O: Output> {
    out: &'a mut O,
    count: usize,
}

impl<O: Output> Counter<'_, O> {
    fn write(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.out.write(bytes);
            self.count += bytes.len();
        }
    }

    /// `count` copies of `byte`.
    fn fill(&mut self, byte: u8, mut count: usize) {
        let chunk = [byte; 32];
        while count > 0 {
            let n = count.min(chunk.len());
            self.write(&chunk[..n]);
            count -= n;
        }
    }
}

/// Formats `format` (without its NUL) with `args` into `out`; returns the bytes produced.
pub fn format(format: &[u8], args: &mut impl Arguments, out: &mut impl Output) -> usize {
    let mut out = Counter { out, count: 0 };
    let mut at = 0;
    while at < format.len() {
        let literal_end = format[at..].iter().position(|&byte| byte == b'%').map_or(format.len(), |n| at + n);
        out.write(&format[at..literal_end]);
        if literal_end == format.len() {
            break;
        }
        at = conversion(format, literal_end, args, &mut out);
    }
    out.count
}

/// Parses and performs the conversion whose `%` is at `start`; returns the index after it.
fn conversion<O: Output>(
    format: &[u8],
    start: usize,
    args: &mut impl Arguments,
    out: &mut Counter<'_, O>,
) -> usize {
    let mut at = start + 1;
    let mut spec = Spec::default();
    while let Some(&flag) = format.get(at) {
        match flag {
            b'-' => spec.left = true,
            b'+' => spec.plus = true,
            b' ' => spec.space = true,
            b'#' => spec.alternate = true,
            b'0' => spec.zero = true,
            _ => break,
        }
        at += 1;
    }
    if format.get(at) == Some(&b'*') {
        at += 1;
        let width = args.next_u64() as i32;
        // A negative width argument is a `-` flag and a positive width (§7.21.6.1p5).
        spec.left |= width < 0;
        spec.width = width.unsigned_abs() as usize;
    } else {
        spec.width = number(format, &mut at);
    }
    if format.get(at) == Some(&b'.') {
        at += 1;
        if format.get(at) == Some(&b'*') {
            at += 1;
            let precision = args.next_u64() as i32;
            // A negative precision argument is as if the precision were omitted.
            spec.precision = (precision >= 0).then_some(precision as usize);
        } else {
            spec.precision = Some(number(format, &mut at));
        }
    }
    let length = length(format, &mut at);
    let Some(&conversion) = format.get(at) else {
        // The format ends inside a conversion: copy what there is.
        out.write(&format[start..]);
        return format.len();
    };
    at += 1;
    match conversion {
        b'd' | b'i' => {
            let value = signed(args.next_u64(), length);
            write_integer(out, &spec, value.unsigned_abs(), value < 0, Radix::Decimal, true);
        }
        b'u' => write_integer(out, &spec, unsigned(args.next_u64(), length), false, Radix::Decimal, false),
        b'o' => write_integer(out, &spec, unsigned(args.next_u64(), length), false, Radix::Octal, false),
        b'x' => write_integer(out, &spec, unsigned(args.next_u64(), length), false, Radix::Hex, false),
        b'X' => write_integer(out, &spec, unsigned(args.next_u64(), length), false, Radix::UpperHex, false),
        b'p' => match args.next_u64() {
            0 => padded(out, &spec, b"(nil)"),
            address => {
                let spec = Spec { alternate: true, plus: false, space: false, ..spec };
                write_integer(out, &spec, address, false, Radix::Hex, false);
            }
        },
        b'c' => padded(out, &spec, &[args.next_u64() as u8]),
        b's' => match args.next_string(spec.precision) {
            Some(bytes) => padded(out, &spec, bytes),
            None if spec.precision.is_none_or(|precision| precision >= 6) => padded(out, &spec, b"(null)"),
            None => padded(out, &spec, b""),
        },
        b'%' => out.write(b"%"),
        _ => out.write(&format[start..at]),
    }
    at
}

/// A decimal number at `*at` (0 when there is none); saturates instead of overflowing.
fn number(format: &[u8], at: &mut usize) -> usize {
    let mut value: usize = 0;
    while let Some(&digit @ b'0'..=b'9') = format.get(*at) {
        value = value.saturating_mul(10).saturating_add(usize::from(digit - b'0'));
        *at += 1;
    }
    value
}

/// A length modifier at `*at` (none: `int`).
fn length(format: &[u8], at: &mut usize) -> Length {
    let (length, bytes) = match (format.get(*at), format.get(*at + 1)) {
        (Some(b'h'), Some(b'h')) => (Length::Char, 2),
        (Some(b'h'), _) => (Length::Short, 1),
        (Some(b'l'), Some(b'l')) => (Length::Long, 2),
        (Some(b'l' | b'z' | b'j' | b't' | b'L'), _) => (Length::Long, 1),
        _ => (Length::Int, 0),
    };
    *at += bytes;
    length
}

/// A slot read as the signed type of `length` (what `va_arg(ap, int)` etc. would give).
fn signed(slot: u64, length: Length) -> i64 {
    match length {
        Length::Char => i64::from(slot as i8),
        Length::Short => i64::from(slot as i16),
        Length::Int => i64::from(slot as i32),
        Length::Long => slot as i64,
    }
}

/// A slot read as the unsigned type of `length`.
fn unsigned(slot: u64, length: Length) -> u64 {
    match length {
        Length::Char => u64::from(slot as u8),
        Length::Short => u64::from(slot as u16),
        Length::Int => u64::from(slot as u32),
        Length::Long => slot,
    }
}

/// `bytes` padded with spaces to the width (on the right with `-`).
fn padded<O: Output>(out: &mut Counter<'_, O>, spec: &Spec, bytes: &[u8]) {
    let pad = spec.width.saturating_sub(bytes.len());
    if !spec.left {
        out.fill(b' ', pad);
    }
    out.write(bytes);
    if spec.left {
        out.fill(b' ', pad);
    }
}
