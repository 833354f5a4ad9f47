//! The one error type of the crate, with the errno Linux returns in the same situation.

use core::fmt;

/// Why a request was refused. Refused requests change nothing (decode, then invoke).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Malformed input: a bad group name or path, unparsable limit or trigger text (`EINVAL`).
    Invalid,
    /// A number that does not fit (`ERANGE`; Linux's `memparse` wraps silently instead).
    OutOfRange,
    /// No group with that id or path; the id may be stale (`ENOENT`).
    NotFound,
    /// A sibling already has that name (`EEXIST`).
    Exists,
    /// The group still has tasks, children or charged memory (`EBUSY`, as `rmdir` says).
    Busy,
    /// Creating the group would pass the depth or group-count limit (`EAGAIN`, as
    /// `cgroup.max.depth` / `cgroup.max.descendants` do).
    Limit,
    /// The operation does not exist on the root group: its limit files are absent (`EINVAL`).
    Root,
    /// More was uncharged (or more tasks removed) than was there; nothing changed (a caller bug;
    /// Linux warns "page_counter underflow" and clamps).
    Underflow,
    /// The `core::fmt::Write` sink refused the text.
    Write,
}

impl Error {
    /// The Linux errno (positive) for this error, for syscall and file-write returns.
    pub const fn errno(self) -> i32 {
        match self {
            Error::Invalid | Error::Root | Error::Underflow | Error::Write => 22, // EINVAL
            Error::OutOfRange => 34,                                              // ERANGE
            Error::NotFound => 2,                                                 // ENOENT
            Error::Exists => 17,                                                  // EEXIST
            Error::Busy => 16,                                                    // EBUSY
            Error::Limit => 11,                                                   // EAGAIN
        }
    }
}

impl From<fmt::Error> for Error {
    fn from(_: fmt::Error) -> Self {
        Error::Write
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Error::Invalid => "invalid argument",
            Error::OutOfRange => "value out of range",
            Error::NotFound => "no such group",
            Error::Exists => "group exists",
            Error::Busy => "group busy",
            Error::Limit => "group depth or count limit reached",
            Error::Root => "not available on the root group",
            Error::Underflow => "counter underflow",
            Error::Write => "output sink failed",
        };
        f.write_str(text)
    }
}
