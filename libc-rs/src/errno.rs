//! `Errno`: a Linux error number (the kernel returns it negated in RAX, DESIGN §7), and the C `errno`.
//!
//! Rust wrappers return `Result<_, Errno>`; the C functions return -1 (or NULL, `MAP_FAILED`) and store the
//! number in the calling thread's `errno`, which lives in its TLS block ([`crate::tls::ThreadBlock`]) and
//! which C reaches through `int *__errno_location(void)` (the `errno` macro of `errno.h`).

use abi::errno as e;
use core::fmt;

/// A positive Linux error number (`Errno::ENOMEM.0 == 12`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    pub const EPERM: Errno = Errno(e::EPERM as i32);
    pub const ENOENT: Errno = Errno(e::ENOENT as i32);
    pub const ESRCH: Errno = Errno(e::ESRCH as i32);
    pub const EINTR: Errno = Errno(e::EINTR as i32);
    pub const EIO: Errno = Errno(e::EIO as i32);
    pub const E2BIG: Errno = Errno(e::E2BIG as i32);
    pub const ENOEXEC: Errno = Errno(e::ENOEXEC as i32);
    pub const EBADF: Errno = Errno(e::EBADF as i32);
    pub const ECHILD: Errno = Errno(e::ECHILD as i32);
    pub const EAGAIN: Errno = Errno(e::EAGAIN as i32);
    pub const ENOMEM: Errno = Errno(e::ENOMEM as i32);
    pub const EFAULT: Errno = Errno(e::EFAULT as i32);
    pub const EBUSY: Errno = Errno(e::EBUSY as i32);
    pub const EEXIST: Errno = Errno(e::EEXIST as i32);
    pub const ENODEV: Errno = Errno(e::ENODEV as i32);
    pub const EINVAL: Errno = Errno(e::EINVAL as i32);
    pub const EMFILE: Errno = Errno(e::EMFILE as i32);
    pub const EPIPE: Errno = Errno(e::EPIPE as i32);
    pub const EDEADLK: Errno = Errno(e::EDEADLK as i32);
    pub const ENOSYS: Errno = Errno(e::ENOSYS as i32);
    pub const EMSGSIZE: Errno = Errno(e::EMSGSIZE as i32);

    /// Linux's largest error number: RAX values in `-MAX_ERRNO..=-1` are errors, everything else a result.
    pub const MAX_ERRNO: u64 = 4095;

    /// Splits a raw RAX value into a result or an error (the Linux convention).
    pub const fn result(rax: u64) -> Result<u64, Errno> {
        if rax >= Self::MAX_ERRNO.wrapping_neg() { Err(Errno(rax.wrapping_neg() as i32)) } else { Ok(rax) }
    }

    /// The symbolic name (`"ENOMEM"`), or `None` for a code this crate does not name.
    pub fn name(self) -> Option<&'static str> {
        const NAMES: [(Errno, &str); 21] = [
            (Errno::EPERM, "EPERM"),
            (Errno::ENOENT, "ENOENT"),
            (Errno::ESRCH, "ESRCH"),
            (Errno::EINTR, "EINTR"),
            (Errno::EIO, "EIO"),
            (Errno::E2BIG, "E2BIG"),
            (Errno::ENOEXEC, "ENOEXEC"),
            (Errno::EBADF, "EBADF"),
            (Errno::ECHILD, "ECHILD"),
            (Errno::EAGAIN, "EAGAIN"),
            (Errno::ENOMEM, "ENOMEM"),
            (Errno::EFAULT, "EFAULT"),
            (Errno::EBUSY, "EBUSY"),
            (Errno::EEXIST, "EEXIST"),
            (Errno::ENODEV, "ENODEV"),
            (Errno::EINVAL, "EINVAL"),
            (Errno::EMFILE, "EMFILE"),
            (Errno::EPIPE, "EPIPE"),
            (Errno::EDEADLK, "EDEADLK"),
            (Errno::ENOSYS, "ENOSYS"),
            (Errno::EMSGSIZE, "EMSGSIZE"),
        ];
        NAMES.iter().find(|(errno, _)| *errno == self).map(|&(_, name)| name)
    }
}

/// Prints `ENOMEM`, or `errno 42` for an unnamed code.
impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "errno {}", self.0),
        }
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The calling thread's `errno`.
#[cfg(target_os = "none")]
pub fn errno() -> i32 {
    // SAFETY: the slot is the calling thread's own; no reference to it outlives this read.
    unsafe { crate::tls::errno_slot().read() }
}

/// Sets the calling thread's `errno`.
#[cfg(target_os = "none")]
pub fn set_errno(value: i32) {
    // SAFETY: the slot is the calling thread's own; no reference to it outlives this write.
    unsafe { crate::tls::errno_slot().write(value) }
}

/// The C convention for a syscall result: the value, or -1 with `errno` set.
#[cfg(target_os = "none")]
pub fn c_result(result: Result<u64, Errno>) -> i64 {
    match result {
        Ok(value) => value as i64,
        Err(errno) => {
            set_errno(errno.0);
            -1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn result_splits_errors_from_values() {
        assert_eq!(Errno::result(0), Ok(0));
        assert_eq!(Errno::result(0x20_0000), Ok(0x20_0000));
        assert_eq!(Errno::result((-12i64) as u64), Err(Errno::ENOMEM));
        assert_eq!(Errno::result((-4095i64) as u64), Err(Errno(4095)));
        // An address in the top of the address space is not an error (-4096 and below).
        assert_eq!(Errno::result((-4096i64) as u64), Ok((-4096i64) as u64));
    }

    #[test]
    fn display_names_known_codes() {
        assert_eq!(Errno::ENOMEM.to_string(), "ENOMEM");
        assert_eq!(Errno(12), Errno::ENOMEM);
        assert_eq!(Errno(99).to_string(), "errno 99");
        assert_eq!(Errno::EDEADLK.0, 35);
    }
}
