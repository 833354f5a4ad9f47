//! The C string functions libc-rs defines: `strcmp`, `strncmp`, `strcpy`, `strchr` (C11 §7.24).
//!
//! `memcpy`, `memmove`, `memset`, `memcmp`, `bcmp` and `strlen` are *not* defined here: Rust's
//! `compiler_builtins` already exports them for x86_64-unknown-none (weak, hidden symbols that end up in
//! `liblibc_rs.a` and resolve C programs' references in a static link); defining them again would give
//! duplicate definitions, and a Rust `memcpy` loop risks being compiled into a call to itself.
//!
//! Characters compare as `unsigned char` (§7.24.4). The symbols are exported only in target builds, so the
//! host tests call these Rust functions without interposing the host libc.

use core::ffi::{c_char, c_int};

/// `strcmp(a, b)`: negative, zero or positive as `a` sorts before, equal to or after `b`.
///
/// # Safety
/// Both are NUL-terminated strings.
#[cfg_attr(target_os = "none", unsafe(no_mangle))]
pub unsafe extern "C" fn strcmp(a: *const c_char, b: *const c_char) -> c_int {
    // SAFETY: both strings are NUL-terminated: the comparison stops at the first NUL of either.
    unsafe { strncmp(a, b, usize::MAX) }
}

/// `strncmp(a, b, n)`: `strcmp` over at most `n` characters.
///
/// # Safety
/// Both are NUL-terminated strings or arrays of at least `n` characters.
#[cfg_attr(target_os = "none", unsafe(no_mangle))]
pub unsafe extern "C" fn strncmp(a: *const c_char, b: *const c_char, n: usize) -> c_int {
    for index in 0..n {
        // SAFETY: index < n and no NUL came before it in either string, so both bytes are in bounds.
        let (x, y) = unsafe { (*a.add(index) as u8, *b.add(index) as u8) };
        if x != y || x == 0 {
            return c_int::from(x) - c_int::from(y);
        }
    }
    0
}

/// `strcpy(destination, source)`: copies `source` with its NUL; returns `destination`.
///
/// # Safety
/// `source` is NUL-terminated; `destination` has room for it, NUL included; they do not overlap.
#[cfg_attr(target_os = "none", unsafe(no_mangle))]
pub unsafe extern "C" fn strcpy(destination: *mut c_char, source: *const c_char) -> *mut c_char {
    let mut index = 0;
    loop {
        // SAFETY: bytes up to and including the source's NUL are readable; the destination has room.
        let byte = unsafe { *source.add(index) };
        // SAFETY: as above.
        unsafe { *destination.add(index) = byte };
        if byte == 0 {
            return destination;
        }
        index += 1;
    }
}

/// `strchr(s, c)`: the first `(char)c` in `s` (its NUL when `c` is 0), or NULL.
///
/// # Safety
/// `s` is NUL-terminated.
#[cfg_attr(target_os = "none", unsafe(no_mangle))]
pub unsafe extern "C" fn strchr(s: *const c_char, c: c_int) -> *mut c_char {
    let wanted = c as u8;
    let mut at = s;
    loop {
        // SAFETY: `at` has not passed the NUL.
        let byte = unsafe { *at } as u8;
        if byte == wanted {
            return at.cast_mut();
        }
        if byte == 0 {
            return core::ptr::null_mut();
        }
        // SAFETY: the byte was not the NUL, so the next one is still in the string.
        at = unsafe { at.add(1) };
    }
}

/// The length of a NUL-terminated string, reading at most `max` bytes (`strnlen`, for Rust callers).
///
/// # Safety
/// `s` is NUL-terminated or has at least `max` readable bytes.
pub unsafe fn c_string_len(s: *const c_char, max: usize) -> usize {
    let mut len = 0;
    // SAFETY: stops at the NUL or at `max`, both in bounds by the contract.
    while len < max && unsafe { *s.add(len) } != 0 {
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &core::ffi::CStr, b: &core::ffi::CStr) -> c_int {
        // SAFETY: CStrs are NUL-terminated.
        unsafe { strcmp(a.as_ptr(), b.as_ptr()) }.signum()
    }

    #[test]
    fn strcmp_orders_as_unsigned_char() {
        assert_eq!(cmp(c"abc", c"abc"), 0);
        assert_eq!(cmp(c"abc", c"abd"), -1);
        assert_eq!(cmp(c"abd", c"abc"), 1);
        assert_eq!(cmp(c"ab", c"abc"), -1);
        assert_eq!(cmp(c"", c""), 0);
        assert_eq!(cmp(c"\x80", c"a"), 1); // 0x80 > 'a' as unsigned char
    }

    #[test]
    fn strncmp_stops_at_n() {
        // SAFETY: NUL-terminated literals.
        unsafe {
            assert_eq!(strncmp(c"abcdef".as_ptr(), c"abcxyz".as_ptr(), 3), 0);
            assert!(strncmp(c"abcdef".as_ptr(), c"abcxyz".as_ptr(), 4) < 0);
            assert_eq!(strncmp(c"x".as_ptr(), c"y".as_ptr(), 0), 0);
            // Arrays without NUL are fine within n.
            assert_eq!(strncmp(b"ab".as_ptr().cast(), b"ab".as_ptr().cast(), 2), 0);
        }
    }

    #[test]
    fn strcpy_copies_the_nul() {
        let mut destination = [0x55 as c_char; 8];
        // SAFETY: 8 bytes of room for 6.
        let returned = unsafe { strcpy(destination.as_mut_ptr(), c"hello".as_ptr()) };
        assert_eq!(returned, destination.as_mut_ptr());
        assert_eq!(&destination[..7], &[104, 101, 108, 108, 111, 0, 0x55].map(|b| b as c_char));
    }

    #[test]
    fn strchr_finds_bytes_and_the_nul() {
        let s = c"pagoda";
        let base = s.as_ptr();
        // SAFETY: NUL-terminated.
        unsafe {
            assert_eq!(strchr(base, c_int::from(b'g')), base.add(2).cast_mut());
            assert_eq!(strchr(base, c_int::from(b'a')), base.add(1).cast_mut());
            assert_eq!(strchr(base, 0), base.add(6).cast_mut());
            assert!(strchr(base, c_int::from(b'z')).is_null());
            // c is converted to char: 0x100 + 'p' finds 'p'.
            assert_eq!(strchr(base, 0x100 + c_int::from(b'p')), base.cast_mut());
        }
    }

    #[test]
    fn c_string_len_respects_max() {
        // SAFETY: NUL-terminated, and 3 readable bytes.
        unsafe {
            assert_eq!(c_string_len(c"hello".as_ptr(), usize::MAX), 5);
            assert_eq!(c_string_len(c"hello".as_ptr(), 3), 3);
            assert_eq!(c_string_len(b"abc".as_ptr().cast(), 3), 3);
        }
    }
}
