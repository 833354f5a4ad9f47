//! Integer conversions (`%d %u %o %x %X %p`): digits, sign, `0x`/octal prefix, precision zeros and padding,
//! in the order C11 §7.21.6.1 lays them out:
//! `[spaces][sign][prefix][zeros][digits][spaces]`.

use super::{Counter, Output, Spec};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Radix {
    Decimal,
    Octal,
    Hex,
    UpperHex,
}

impl Radix {
    fn base(self) -> u64 {
        match self {
            Radix::Decimal => 10,
            Radix::Octal => 8,
            Radix::Hex | Radix::UpperHex => 16,
        }
    }

    fn digit(self, value: u64) -> u8 {
        let lower = b"0123456789abcdef"[value as usize];
        if self == Radix::UpperHex { lower.to_ascii_uppercase() } else { lower }
    }
}

/// Writes `magnitude` (negated when `negative`) as `spec` and `radix` say; `signed` conversions honour `+`
/// and space.
pub(super) fn write_integer<O: Output>(
    out: &mut Counter<'_, O>,
    spec: &Spec,
    magnitude: u64,
    negative: bool,
    radix: Radix,
    signed: bool,
) {
    // 64 bits in octal take 22 digits.
    let mut buffer = [0u8; 22];
    let mut start = buffer.len();
    // "The result of converting a zero value with a precision of zero is no characters."
    if !(magnitude == 0 && spec.precision == Some(0)) {
        let mut value = magnitude;
        loop {
            start -= 1;
            buffer[start] = radix.digit(value % radix.base());
            value /= radix.base();
            if value == 0 {
                break;
            }
        }
    }
    let digits = &buffer[start..];

    let sign: &[u8] = match (signed, negative) {
        (true, true) => b"-",
        (true, false) if spec.plus => b"+",
        (true, false) if spec.space => b" ",
        _ => b"",
    };
    let prefix: &[u8] = match radix {
        Radix::Hex if spec.alternate && magnitude != 0 => b"0x",
        Radix::UpperHex if spec.alternate && magnitude != 0 => b"0X",
        _ => b"",
    };
    let mut zeros = spec.precision.map_or(0, |precision| precision.saturating_sub(digits.len()));
    // `#` with `o` "increases the precision, if and only if necessary, to force the first digit to be 0".
    if radix == Radix::Octal && spec.alternate && zeros == 0 && digits.first() != Some(&b'0') {
        zeros = 1;
    }

    let body = sign.len() + prefix.len() + zeros + digits.len();
    let pad = spec.width.saturating_sub(body);
    if spec.left {
        out.write(sign);
        out.write(prefix);
        out.fill(b'0', zeros);
        out.write(digits);
        out.fill(b' ', pad);
    } else if spec.zero && spec.precision.is_none() {
        out.write(sign);
        out.write(prefix);
        out.fill(b'0', zeros + pad);
        out.write(digits);
    } else {
        out.fill(b' ', pad);
        out.write(sign);
        out.write(prefix);
        out.fill(b'0', zeros);
        out.write(digits);
    }
}
