//! Time values: Linux's `struct timespec` and the clock ids the kernel knows (`clock_gettime` accepts
//! CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_MONOTONIC_RAW and CLOCK_BOOTTIME, all counting from boot).

/// `CLOCK_REALTIME` (the kernel has no wall clock: it counts from boot like the others).
pub const CLOCK_REALTIME: i32 = 0;
/// `CLOCK_MONOTONIC`.
pub const CLOCK_MONOTONIC: i32 = 1;
/// `CLOCK_MONOTONIC_RAW`.
pub const CLOCK_MONOTONIC_RAW: i32 = 4;
/// `CLOCK_BOOTTIME`.
pub const CLOCK_BOOTTIME: i32 = 7;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Linux's `struct timespec` on x86-64 (two 64-bit fields).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}

impl Timespec {
    pub const fn from_nanos(nanos: u64) -> Timespec {
        Timespec { tv_sec: (nanos / NANOS_PER_SECOND) as i64, tv_nsec: (nanos % NANOS_PER_SECOND) as i64 }
    }

    /// `usleep`'s argument as a timespec.
    pub const fn from_micros(micros: u64) -> Timespec {
        Timespec { tv_sec: (micros / 1_000_000) as i64, tv_nsec: ((micros % 1_000_000) * 1000) as i64 }
    }

    /// Nanoseconds (saturating; negative fields count as 0).
    pub const fn as_nanos(&self) -> u64 {
        let seconds = if self.tv_sec < 0 { 0 } else { self.tv_sec as u64 };
        let nanos = if self.tv_nsec < 0 { 0 } else { self.tv_nsec as u64 };
        seconds.saturating_mul(NANOS_PER_SECOND).saturating_add(nanos)
    }

    pub const fn as_millis(&self) -> u64 {
        self.as_nanos() / 1_000_000
    }

    /// Whether `tv_nsec` is in `0..1_000_000_000` and `tv_sec` is not negative (what nanosleep accepts).
    pub const fn is_valid(&self) -> bool {
        self.tv_sec >= 0 && self.tv_nsec >= 0 && (self.tv_nsec as u64) < NANOS_PER_SECOND
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_trip() {
        let t = Timespec::from_nanos(3_000_000_007);
        assert_eq!(t, Timespec { tv_sec: 3, tv_nsec: 7 });
        assert_eq!(t.as_nanos(), 3_000_000_007);
        assert_eq!(Timespec::from_micros(1_500_001), Timespec { tv_sec: 1, tv_nsec: 500_001_000 });
        assert_eq!(Timespec { tv_sec: 2, tv_nsec: 999_999_999 }.as_millis(), 2999);
        assert_eq!(Timespec { tv_sec: i64::MAX, tv_nsec: 0 }.as_nanos(), u64::MAX);
    }

    #[test]
    fn validity() {
        assert!(Timespec { tv_sec: 0, tv_nsec: 999_999_999 }.is_valid());
        assert!(!Timespec { tv_sec: 0, tv_nsec: 1_000_000_000 }.is_valid());
        assert!(!Timespec { tv_sec: -1, tv_nsec: 0 }.is_valid());
        assert!(!Timespec { tv_sec: 0, tv_nsec: -1 }.is_valid());
    }
}
