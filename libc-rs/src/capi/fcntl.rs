//! `open`, `read` on /proc texts, `close`: a small table of open /proc files (fds from 3 up), each a
//! source and a position (see `procfs`). `open` itself is variadic in C (`c/variadic.c` forwards its two
//! fixed arguments to [`libc_rs_open`]).

use core::ffi::{CStr, c_char, c_int};

use crate::errno::{Errno, set_errno};
use ptmalloc_rs::RawLock;

use crate::mutex::FutexLock;
use crate::procfs::{self, Source};

const FIRST_FD: usize = 3;
const MAX_FILES: usize = 16;
const O_ACCMODE: c_int = 3;
const O_RDONLY: c_int = 0;

struct Files {
    lock: FutexLock,
    slots: core::cell::UnsafeCell<[Option<(Source, u64)>; MAX_FILES]>,
}

// SAFETY: the slots are only touched with `lock` held.
unsafe impl Sync for Files {}

static FILES: Files = Files { lock: FutexLock::new(), slots: core::cell::UnsafeCell::new([None; MAX_FILES]) };

fn with_files<R>(f: impl FnOnce(&mut [Option<(Source, u64)>; MAX_FILES]) -> R) -> R {
    FILES.lock.lock();
    // SAFETY: the lock is held for the closure's duration; no other reference exists.
    let result = f(unsafe { &mut *FILES.slots.get() });
    // SAFETY: taken just above by this thread.
    unsafe { FILES.lock.unlock() };
    result
}

/// `open(path, flags)` for /proc texts (read-only); other paths: ENOENT (there is no file system).
///
/// # Safety
/// `path` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libc_rs_open(path: *const c_char, flags: c_int) -> c_int {
    if path.is_null() {
        set_errno(Errno::EFAULT.0);
        return -1;
    }
    // SAFETY: NUL-terminated (contract).
    let path = unsafe { CStr::from_ptr(path) }.to_str().unwrap_or("");
    let Some(source) = procfs::resolve(path) else {
        set_errno(Errno::ENOENT.0);
        return -1;
    };
    if flags & O_ACCMODE != O_RDONLY {
        set_errno(abi::errno::EACCES as i32);
        return -1;
    }
    match with_files(|slots| {
        let free = slots.iter().position(Option::is_none)?;
        slots[free] = Some((source, 0));
        Some(free)
    }) {
        Some(slot) => (slot + FIRST_FD) as c_int,
        None => {
            set_errno(Errno::EMFILE.0);
            -1
        }
    }
}

/// Reads from an open /proc file at its position; `None` when `fd` is not one.
pub fn read_proc(fd: c_int, buf: &mut [u8]) -> Option<Result<usize, Errno>> {
    let slot = usize::try_from(fd).ok()?.checked_sub(FIRST_FD).filter(|&s| s < MAX_FILES)?;
    let (source, position) = with_files(|slots| slots[slot])?;
    let result = procfs::read_at(source, buf, position);
    if let Ok(n) = result {
        with_files(|slots| {
            if let Some((_, pos)) = slots[slot].as_mut() {
                *pos += n as u64;
            }
        });
    }
    Some(result)
}

/// `close(fd)`.
#[unsafe(no_mangle)]
pub extern "C" fn close(fd: c_int) -> c_int {
    let slot = usize::try_from(fd).ok().and_then(|f| f.checked_sub(FIRST_FD)).filter(|&s| s < MAX_FILES);
    let closed = slot.is_some_and(|slot| with_files(|slots| slots[slot].take().is_some()));
    if closed {
        0
    } else {
        set_errno(Errno::EBADF.0);
        -1
    }
}
