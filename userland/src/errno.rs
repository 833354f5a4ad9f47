//! `Errno`: a Linux error number as returned (negated) in RAX, with the names of the codes in `abi::errno`.

use abi::errno as e;
use core::fmt;

/// A positive Linux error number (`Errno::EFAULT.0 == 14`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i64);

impl Errno {
    pub const EPERM: Errno = Errno(e::EPERM);
    pub const ENOENT: Errno = Errno(e::ENOENT);
    pub const ESRCH: Errno = Errno(e::ESRCH);
    pub const EINTR: Errno = Errno(e::EINTR);
    pub const EIO: Errno = Errno(e::EIO);
    pub const E2BIG: Errno = Errno(e::E2BIG);
    pub const ENOEXEC: Errno = Errno(e::ENOEXEC);
    pub const EBADF: Errno = Errno(e::EBADF);
    pub const ECHILD: Errno = Errno(e::ECHILD);
    pub const EAGAIN: Errno = Errno(e::EAGAIN);
    pub const ENOMEM: Errno = Errno(e::ENOMEM);
    pub const EFAULT: Errno = Errno(e::EFAULT);
    pub const EBUSY: Errno = Errno(e::EBUSY);
    pub const EEXIST: Errno = Errno(e::EEXIST);
    pub const EINVAL: Errno = Errno(e::EINVAL);
    pub const EMFILE: Errno = Errno(e::EMFILE);
    pub const ENOSYS: Errno = Errno(e::ENOSYS);
    pub const EMSGSIZE: Errno = Errno(e::EMSGSIZE);

    /// Linux's largest error number: RAX values in `-MAX_ERRNO..=-1` are errors, everything else a result.
    pub const MAX_ERRNO: u64 = 4095;

    /// Splits a raw RAX value into a result or an error (the Linux convention).
    pub fn result(rax: u64) -> Result<u64, Errno> {
        if rax >= Self::MAX_ERRNO.wrapping_neg() { Err(Errno(rax.wrapping_neg() as i64)) } else { Ok(rax) }
    }

    /// The symbolic name (`"EFAULT"`), or `None` for a code `abi::errno` does not name.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            e::EPERM => "EPERM",
            e::ENOENT => "ENOENT",
            e::ESRCH => "ESRCH",
            e::EINTR => "EINTR",
            e::EIO => "EIO",
            e::E2BIG => "E2BIG",
            e::ENOEXEC => "ENOEXEC",
            e::EBADF => "EBADF",
            e::ECHILD => "ECHILD",
            e::EAGAIN => "EAGAIN",
            e::ENOMEM => "ENOMEM",
            e::EFAULT => "EFAULT",
            e::EBUSY => "EBUSY",
            e::EEXIST => "EEXIST",
            e::EINVAL => "EINVAL",
            e::EMFILE => "EMFILE",
            e::ENOSYS => "ENOSYS",
            e::EMSGSIZE => "EMSGSIZE",
            _ => return None,
        })
    }
}

/// Prints `EFAULT`, or `errno 42` for an unnamed code.
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
